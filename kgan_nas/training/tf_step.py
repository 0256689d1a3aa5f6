"""The TensorFlow train step: `tf.GradientTape` updates of both networks.

Keras' TensorFlow trainer calls `GAN.train_step(data)`, which delegates to
`train_step(gan, data)` here, and compiles it with
`tf.function(jit_compile=True)`. The latents and interpolation weights come
from `noise.tf_latents` / `noise.tf_uniform`, so XLA and non-XLA runs draw
the same numbers. TensorFlow is imported only inside the functions, so this
module imports without it.
"""

from keras import ops

from kgan_nas.training.losses import discriminator_loss
from kgan_nas.training.losses import generator_loss
from kgan_nas.training.losses import gradient_penalty
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
        The logs dict: `d_loss`, `g_loss` (and `gp` for `"wasserstein_gp"`),
        the running means of the GAN's loss trackers.
    """
    import tensorflow as tf

    real, labels = gan._real_batch(data)
    batch = ops.shape(real)[0]
    generator, discriminator = gan.generator, gan.discriminator
    g_in, d_in = gan._g_inputs, gan._d_inputs
    gp = 0.0
    for _ in range(gan.d_steps):
        z = tf_latents(gan, batch)
        fake = generator(g_in(z, labels), training=True)
        with tf.GradientTape() as tape:
            real_logits = discriminator(d_in(real, labels), training=True)
            fake_logits = discriminator(d_in(fake, labels), training=True)
            d_loss = discriminator_loss(gan.loss_name, real_logits, fake_logits)
            if gan.loss_name == "wasserstein_gp":
                gp = _gradient_penalty(gan, real, fake, labels)
                d_loss = d_loss + gan.gp_weight * gp
        grads = tape.gradient(d_loss, discriminator.trainable_variables)
        gan.d_optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))

    z = tf_latents(gan, batch)
    with tf.GradientTape() as tape:
        fake = generator(g_in(z, labels), training=True)
        fake_logits = discriminator(d_in(fake, labels), training=True)
        g_loss = generator_loss(gan.loss_name, fake_logits)
    grads = tape.gradient(g_loss, generator.trainable_variables)
    gan.g_optimizer.apply_gradients(zip(grads, generator.trainable_variables))
    if gan.ema is not None:
        gan.ema.update([v.value for v in generator.trainable_variables])

    gan.d_loss_tracker.update_state(d_loss)
    gan.g_loss_tracker.update_state(g_loss)
    if gan.loss_name == "wasserstein_gp":
        gan.gp_tracker.update_state(gp)
    return {m.name: m.result() for m in gan.metrics}


def _gradient_penalty(gan, real, fake, labels=None):
    """WGAN-GP's penalty at random interpolates of `real` and `fake` (same labels)."""
    import tensorflow as tf

    alpha = tf_uniform(gan, (ops.shape(real)[0], 1, 1, 1))
    mixed = real + ops.cast(alpha, real.dtype) * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        critic = gan.discriminator(gan._d_inputs(mixed, labels), training=True)
    return gradient_penalty(tape.gradient(critic, mixed))
