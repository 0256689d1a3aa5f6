"""The JAX train step: a pure function of the trainer's state.

Keras' JAX trainer calls `GAN.train_step(state, data)`, which delegates to
`train_step(gan, state, data) -> (logs, new_state)` here, built on
`stateless_call` and `jax.value_and_grad` and compiled by `jax.jit`.
`_JaxLayout` finds each network's values in the trainer's flat state lists.
JAX is imported only inside the functions, so this module imports without
it.
"""

import functools

import keras
from keras import ops

from kgan_nas.training.augment import UNIFORMS_PER_IMAGE
from kgan_nas.training.ema import ema_update
from kgan_nas.training.losses import discriminator_loss
from kgan_nas.training.losses import generator_loss
from kgan_nas.training.losses import gradient_penalty
from kgan_nas.training.losses import r1_penalty
from kgan_nas.training.noise import jax_latents


def train_step(gan, state, data, hyper=None):
    """One discriminator / generator update of `gan` on JAX (a pure function).

    `GAN.train_step` delegates here; Keras' JAX trainer compiles it with
    `jax.jit` (when `jit_compile=True`) and carries `state` between steps.

    Args:
        gan: A compiled `GAN`.
        state: `(trainable_variables, non_trainable_variables,
            optimizer_variables, metrics_variables)`, flat lists ordered like
            the GAN's own variable lists.
        data: A batch of real images, or a tuple whose first item is one
            (`(images, labels)` for a conditional GAN, whose fakes are then
            generated for the same labels).
        hyper: Optional numbers that replace the GAN's own `r1_weight` and
            `ema_decay` in the arithmetic (traced values, so that packed
            training can give each member its own; `kgan_nas.training.packed`).
            Which terms exist still follows the GAN's own settings. Defaults
            to None.

    Returns:
        `(logs, new_state)`: the logs dict (`d_loss`, `g_loss`, and `gp` for
        `"wasserstein_gp"`, `r1` when `r1_weight > 0`) and the state after
        the update.
    """
    import jax

    trainable, non_trainable, optimizer_vars, metric_vars = state
    layout = _JaxLayout(gan)
    real, labels = gan._real_batch(data)
    batch = real.shape[0]
    g_vars = layout.take(trainable, layout.g_trainable)
    d_vars = layout.take(trainable, layout.d_trainable)
    g_state = layout.take(non_trainable, layout.g_state)
    d_state = layout.take(non_trainable, layout.d_state)
    g_opt_vars = list(optimizer_vars[: layout.g_optimizer_size])
    d_opt_vars = list(optimizer_vars[layout.g_optimizer_size :])
    # The noise keys come from the SeedGenerator's state, which is part
    # of the carried state, so each step differs and runs reproduce.
    seed = non_trainable[layout.seed]

    hyper = dict(hyper or {})
    r1_weight = hyper.get("r1_weight", gan.r1_weight)
    d_grad_fn = jax.value_and_grad(
        functools.partial(_d_loss, gan, r1_weight=r1_weight), has_aux=True
    )
    for _ in range(gan.d_steps):
        seed, z_key, gp_key = jax.random.split(seed, 3)
        seed, real_key, fake_key = _augment_keys(gan, seed)
        z = jax_latents(gan, batch, z_key)
        g_in = gan._g_inputs(z, labels)
        fake, g_state = gan.generator.stateless_call(g_vars, g_state, g_in, training=True)
        real_seen = _augmented(gan, real, real_key)
        fake_seen = _augmented(gan, fake, fake_key)
        (d_loss, (d_state, gp, r1)), grads = d_grad_fn(
            d_vars, d_state, real_seen, fake_seen, labels, gp_key
        )
        d_vars, d_opt_vars = gan.d_optimizer.stateless_apply(d_opt_vars, grads, d_vars)

    seed, z_key = jax.random.split(seed, 2)
    seed, fake_key, _ = _augment_keys(gan, seed)
    g_grad_fn = jax.value_and_grad(functools.partial(_g_loss, gan), has_aux=True)
    (g_loss, (g_state, d_state)), grads = g_grad_fn(
        g_vars, g_state, d_vars, d_state, jax_latents(gan, batch, z_key), labels, fake_key
    )
    g_vars, g_opt_vars = gan.g_optimizer.stateless_apply(g_opt_vars, grads, g_vars)

    values = {"d_loss": d_loss, "g_loss": g_loss, "gp": gp, "r1": r1}
    metric_vars, logs = _update_metrics(gan, layout, metric_vars, values)

    trainable = layout.put(trainable, layout.g_trainable, g_vars)
    trainable = layout.put(trainable, layout.d_trainable, d_vars)
    non_trainable = layout.put(non_trainable, layout.g_state, g_state)
    non_trainable = layout.put(non_trainable, layout.d_state, d_state)
    non_trainable[layout.seed] = seed
    if gan.ema is not None:
        averages, count = ema_update(
            layout.take(non_trainable, layout.ema),
            non_trainable[layout.ema_count],
            g_vars,
            hyper.get("ema_decay", gan.ema_decay),
        )
        non_trainable = layout.put(non_trainable, layout.ema, averages)
        non_trainable[layout.ema_count] = count
    new_state = (trainable, non_trainable, g_opt_vars + d_opt_vars, metric_vars)
    return logs, new_state


def _update_metrics(gan, layout, metric_vars, values):
    """Updates the loss trackers statelessly; returns `(metric_vars, logs)`."""
    metric_vars = list(metric_vars)
    logs = {}
    for tracker in gan.metrics:
        where = layout.metric_slices[tracker.name]
        updated = tracker.stateless_update_state(metric_vars[where], values[tracker.name])
        metric_vars[where] = updated
        logs[tracker.name] = tracker.stateless_result(updated)
    return metric_vars, logs


def _augment_keys(gan, seed):
    """`(seed, key, key)`: two augmentation keys split off `seed`, or Nones without a policy.

    Without augmentation the seed is left alone, so such runs draw the same
    latents as before augmentation existed.
    """
    import jax

    if not gan.augment_ops:
        return seed, None, None
    seed, first, second = jax.random.split(seed, 3)
    return seed, first, second


def _augmented(gan, images, key):
    """`images` through the GAN's augmentation policy with noise from `key`."""
    if not gan.augment_ops:
        return images
    uniform = keras.random.uniform((images.shape[0], UNIFORMS_PER_IMAGE), seed=key)
    return gan._augment(images, uniform)


def _d_loss(gan, d_vars, d_state, real, fake, labels, gp_key, *, r1_weight):
    """The discriminator's loss on (already augmented) `real` and `fake` images.

    `r1_weight` weighs the R1 term, which exists when the GAN's own
    `r1_weight` is positive. Returns `(loss, (d_state, gp, r1))`, a penalty
    not used being 0.0.
    """
    import jax

    discriminator = gan.discriminator
    d_in = gan._d_inputs

    def logits_of(images, state):
        return discriminator.stateless_call(d_vars, state, d_in(images, labels), training=True)

    r1 = 0.0
    if gan.r1_weight > 0:
        # One forward pass gives the logits and, by its VJP, d(sum logits)/d real.
        real_fn = functools.partial(logits_of, state=d_state)
        real_logits, vjp, d_state = jax.vjp(real_fn, real, has_aux=True)
        (real_grads,) = vjp(ops.ones_like(real_logits))
        r1 = r1_penalty(real_grads)
    else:
        real_logits, d_state = logits_of(real, d_state)
    fake_logits, d_state = logits_of(fake, d_state)
    loss = discriminator_loss(gan.loss_name, real_logits, fake_logits)
    gp = 0.0
    if gan.loss_name == "wasserstein_gp":
        alpha = keras.random.uniform((real.shape[0], 1, 1, 1), seed=gp_key, dtype=real.dtype)
        mixed = real + alpha * (fake - real)

        def critic_sum(images, state):
            critic, state = logits_of(images, state)
            return ops.sum(critic), state

        grads, d_state = jax.grad(critic_sum, has_aux=True)(mixed, d_state)
        gp = gradient_penalty(grads)
        loss = loss + gan.gp_weight * gp
    if gan.r1_weight > 0:
        loss = loss + 0.5 * r1_weight * r1
    return loss, (d_state, gp, r1)


def _g_loss(gan, g_vars, g_state, d_vars, d_state, z, labels=None, augment_key=None):
    g_in = gan._g_inputs(z, labels)
    fake, g_state = gan.generator.stateless_call(g_vars, g_state, g_in, training=True)
    d_in = gan._d_inputs(_augmented(gan, fake, augment_key), labels)
    fake_logits, d_state = gan.discriminator.stateless_call(d_vars, d_state, d_in, training=True)
    return generator_loss(gan.loss_name, fake_logits), (g_state, d_state)


class _JaxLayout:
    """Where each network's values sit in the JAX trainer's state lists.

    The trainer passes flat lists ordered like `model.trainable_variables`,
    `model.non_trainable_variables` and `model.metrics_variables`; this maps
    each network's variables to their positions by object identity. It is
    recomputed at each trace (cheap) so it follows any change of `trainable`.
    """

    def __init__(self, gan):
        trainable = _positions(gan.trainable_variables)
        non_trainable = _positions(gan.non_trainable_variables)
        self.g_trainable = [trainable[id(v)] for v in gan.generator.trainable_variables]
        self.d_trainable = [trainable[id(v)] for v in gan.discriminator.trainable_variables]
        self.g_state = [non_trainable[id(v)] for v in gan.generator.non_trainable_variables]
        self.d_state = [non_trainable[id(v)] for v in gan.discriminator.non_trainable_variables]
        self.seed = non_trainable[id(gan.seed_generator.state)]
        ema = gan.ema
        self.ema = [] if ema is None else [non_trainable[id(v)] for v in ema.averages]
        self.ema_count = None if ema is None else non_trainable[id(ema.count)]
        self.g_optimizer_size = len(gan.g_optimizer.variables)
        self.metric_slices = {}
        start = 0
        for metric in gan.metrics:
            size = len(metric.variables)
            self.metric_slices[metric.name] = slice(start, start + size)
            start += size

    @staticmethod
    def take(values, positions):
        return [values[i] for i in positions]

    @staticmethod
    def put(values, positions, new_values):
        values = list(values)
        for i, value in zip(positions, new_values):
            values[i] = value
        return values


def _positions(variables):
    return {id(v): i for i, v in enumerate(variables)}
