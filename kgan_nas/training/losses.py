"""The adversarial losses, backend-neutral and shared by both train steps.

`discriminator_loss` and `generator_loss` implement the `LOSSES` a genome can
carry; `gradient_penalty` is WGAN-GP's penalty term. Everything is written
with `keras.ops`, so it runs on any Keras backend.
"""

from keras import ops

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


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"Unknown GAN loss {loss!r}. Use one of: {', '.join(LOSSES)}.")
