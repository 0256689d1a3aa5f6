"""The adversarial losses, backend-neutral and shared by both train steps.

`discriminator_loss` and `generator_loss` implement the `LOSSES` a genome can
carry; `gradient_penalty` is WGAN-GP's penalty term and `r1_penalty` the R1
term (Mescheder et al. 2018) of the other losses. Everything is written
with `keras.ops`, so it runs on any Keras backend.
"""

from keras import ops

from kgan_nas import validate

LOSSES = ("non_saturating", "hinge", "wasserstein_gp")


def discriminator_loss(loss, real_logits, fake_logits):
    """The discriminator's adversarial loss, without any gradient penalty.

    Args:
        loss: One of `LOSSES`.
        real_logits: Discriminator outputs on real images, `(batch, 1)`.
        fake_logits: Discriminator outputs on generated images, `(batch, 1)`.

    Returns:
        A scalar tensor: `softplus(-real) + softplus(fake)` for
        `"non_saturating"`, `relu(1 - real) + relu(1 + fake)` for `"hinge"`,
        `fake - real` for `"wasserstein_gp"` (each averaged over the batch).

    Raises:
        ValueError: if `loss` is not one of `LOSSES`.
    """
    _check_loss(loss)
    real = ops.cast(real_logits, "float32")
    fake = ops.cast(fake_logits, "float32")
    if loss == "non_saturating":
        return ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake))
    if loss == "hinge":
        return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))
    return ops.mean(fake) - ops.mean(real)


def generator_loss(loss, fake_logits):
    """The generator's adversarial loss.

    Args:
        loss: One of `LOSSES`.
        fake_logits: Discriminator outputs on generated images, `(batch, 1)`.

    Returns:
        A scalar tensor: `softplus(-fake)` for `"non_saturating"` (the
        non-saturating heuristic of Goodfellow et al.), `-fake` for `"hinge"`
        and `"wasserstein_gp"` (averaged over the batch).

    Raises:
        ValueError: if `loss` is not one of `LOSSES`.
    """
    _check_loss(loss)
    fake = ops.cast(fake_logits, "float32")
    if loss == "non_saturating":
        return ops.mean(ops.softplus(-fake))
    return -ops.mean(fake)


def gradient_penalty(gradients):
    """WGAN-GP's penalty from the critic's gradients at the interpolates.

    Args:
        gradients: d critic / d input, shape `(batch, ...)`.

    Returns:
        A scalar tensor, the batch mean of `(||gradient||_2 - 1) ** 2`.
    """
    gradients = ops.cast(gradients, "float32")
    axes = tuple(range(1, len(gradients.shape)))
    # The epsilon keeps the norm differentiable where a gradient is zero.
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=axes) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(gradients):
    """The R1 penalty's expectation from the discriminator's gradients on real images.

    Args:
        gradients: d (sum of real logits) / d real images, shape `(batch, ...)`.

    Returns:
        A scalar tensor, the batch mean of `||gradient||_2 ** 2`. The
        discriminator's loss adds `r1_weight / 2` times it.
    """
    gradients = ops.cast(gradients, "float32")
    axes = tuple(range(1, len(gradients.shape)))
    return ops.mean(ops.sum(ops.square(gradients), axis=axes))


def check_r1_weight(r1_weight, loss=None):
    """Checks the R1 weight, and that `loss` may carry it.

    Args:
        r1_weight: A number >= 0 (0 turns R1 off).
        loss: One of `LOSSES`, or None (not checked).

    Returns:
        The weight as a Python float.

    Raises:
        ValueError: if `r1_weight` is not a finite number >= 0, or is above 0
            with `"wasserstein_gp"` (which has its own penalty, `gp_weight`).
    """
    if not validate.is_finite_number(r1_weight) or r1_weight < 0:
        raise ValueError(f"r1_weight must be a number >= 0 (0 turns R1 off), got {r1_weight!r}.")
    if loss == "wasserstein_gp" and r1_weight > 0:
        raise ValueError(
            f"r1_weight={r1_weight!r} does not go with loss 'wasserstein_gp', which has "
            "its own gradient penalty: set r1_weight=0 and use gp_weight, or use "
            "'non_saturating' or 'hinge'."
        )
    return float(r1_weight)


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"Unknown GAN loss {loss!r}. Use one of: {', '.join(LOSSES)}.")
