"""The TensorFlow train step: `tf.GradientTape` updates of both networks.

Keras' TensorFlow trainer calls `GAN.train_step(data)`, which delegates to
`train_step(gan, data)` here, and compiles it with
`tf.function(jit_compile=True)`. The latents, interpolation weights and
augmentation numbers come from `noise.tf_latents` / `noise.tf_uniform`, so
XLA and non-XLA runs draw the same numbers. TensorFlow is imported only
inside the functions, so this module imports without it.
"""

from keras import ops

from kgan_nas.training.augment import UNIFORMS_PER_IMAGE
from kgan_nas.training.losses import discriminator_loss
from kgan_nas.training.losses import generator_loss
from kgan_nas.training.losses import gradient_penalty
from kgan_nas.training.losses import r1_penalty
from kgan_nas.training.noise import tf_latents
from kgan_nas.training.noise import tf_uniform


def train_step(gan, data):
    """One discriminator / generator update of `gan` on TensorFlow.

    `GAN.train_step` delegates here; Keras' TensorFlow trainer compiles it
    with `tf.function` (`jit_compile=True` for XLA).

    Args:
        gan: A compiled `GAN`.
        data: A batch of real images, or a tuple whose first item is one
            (`(images, labels)` for a conditional GAN, whose fakes are then
            generated for the same labels).

    Returns:
        The logs dict: `d_loss`, `g_loss` (and `gp` for `"wasserstein_gp"`,
        `r1` when `r1_weight > 0`), the running means of the GAN's loss
        trackers.
    """
    import tensorflow as tf

    real, labels = gan._real_batch(data)
    batch = ops.shape(real)[0]
    generator = gan.generator
    for _ in range(gan.d_steps):
        d_loss, gp, r1 = _discriminator_update(gan, real, labels)

    z = tf_latents(gan, batch)
    with tf.GradientTape() as tape:
        fake = generator(gan._g_inputs(z, labels), training=True)
        fake_logits = _logits(gan, _augmented(gan, fake), labels)
        g_loss = generator_loss(gan.loss_name, fake_logits)
    grads = tape.gradient(g_loss, generator.trainable_variables)
    gan.g_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    if gan.ema is not None:
        gan.ema.update([v.value for v in generator.trainable_variables])

    gan.d_loss_tracker.update_state(d_loss)
    gan.g_loss_tracker.update_state(g_loss)
    if gan.loss_name == "wasserstein_gp":
        gan.gp_tracker.update_state(gp)
    if gan.r1_weight > 0:
        gan.r1_tracker.update_state(r1)
    return {m.name: m.result() for m in gan.metrics}


def _discriminator_update(gan, real, labels):
    """One discriminator update; returns `(d_loss, gp, r1)` (0.0 for a penalty not used)."""
    import tensorflow as tf

    discriminator = gan.discriminator
    z = tf_latents(gan, ops.shape(real)[0])
    fake = gan.generator(gan._g_inputs(z, labels), training=True)
    real = _augmented(gan, real)
    fake = _augmented(gan, fake)
    gp = r1 = 0.0
    with tf.GradientTape() as tape:
        if gan.r1_weight > 0:
            real_logits, r1 = _logits_and_r1(gan, real, labels)
        else:
            real_logits = _logits(gan, real, labels)
        fake_logits = _logits(gan, fake, labels)
        d_loss = discriminator_loss(gan.loss_name, real_logits, fake_logits)
        if gan.loss_name == "wasserstein_gp":
            gp = _gradient_penalty(gan, real, fake, labels)
            d_loss = d_loss + gan.gp_weight * gp
        if gan.r1_weight > 0:
            d_loss = d_loss + 0.5 * gan.r1_weight * r1
    grads = tape.gradient(d_loss, discriminator.trainable_variables)
    gan.d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
    return d_loss, gp, r1


def _augmented(gan, images):
    """`images` through the GAN's augmentation policy (unchanged without one)."""
    if not gan.augment_ops:
        return images
    return gan._augment(images, tf_uniform(gan, (ops.shape(images)[0], UNIFORMS_PER_IMAGE)))


def _logits(gan, images, labels):
    """The discriminator's logits on (already augmented) `images` in training mode."""
    return gan.discriminator(gan._d_inputs(images, labels), training=True)


def _logits_and_r1(gan, real, labels):
    """Logits on `real` and R1's expectation, differentiable by the caller's tape."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(real)
        logits = _logits(gan, real, labels)
    return logits, r1_penalty(tape.gradient(logits, real))


def _gradient_penalty(gan, real, fake, labels=None):
    """WGAN-GP's penalty at random interpolates of `real` and `fake` (same labels).

    With augmentation, `real` and `fake` are the augmented images the
    discriminator saw, so the interpolates mix those.
    """
    import tensorflow as tf

    alpha = tf_uniform(gan, (ops.shape(real)[0], 1, 1, 1))
    mixed = real + ops.cast(alpha, real.dtype) * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        critic = _logits(gan, mixed, labels)
    return gradient_penalty(tape.gradient(critic, mixed))
