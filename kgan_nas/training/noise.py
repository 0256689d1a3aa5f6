"""Noise: the latents and interpolation weights the GAN draws, and sampling.

`generate_images` samples images from a generator in inference mode. The
train steps draw their noise here: `tf_uniform` / `tf_latents` on
TensorFlow (built from raw random bits so XLA and non-XLA runs agree, see
`_bits_to_open_uniform`) and `jax_latents` on JAX. TensorFlow is imported
only inside the TensorFlow helpers.
"""

import math

import keras
import numpy as np
from keras import ops

from kgan_nas.training.networks import _infer_latent_dim


def generate_images(generator, n, *, latent_dim=None, seed=None, batch_size=256):
    """Generates `n` images from a generator in inference mode.

    Latents are drawn from N(0, 1) with `keras.random.normal`, all at once,
    so a fixed `seed` gives the same images whatever `batch_size` is.

    Args:
        generator: A Keras model from latents `(batch, latent_dim)` to
            images.
        n: Number of images (>= 0).
        latent_dim: Size of the latent vector. Defaults to None: the last
            axis of `generator.input_shape`.
        seed: Integer seed of the latents. Defaults to None (fresh random
            latents).
        batch_size: Images per generator call. Defaults to 256.

    Returns:
        A float32 `np.ndarray` of shape `(n, height, width, channels)`.

    Raises:
        ValueError: if `n` is negative, `batch_size` is not positive, or the
            latent size cannot be inferred.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    latent_dim = _infer_latent_dim(generator, latent_dim)
    if n == 0:
        shape = tuple(generator.compute_output_shape((1, latent_dim))[1:])
        return np.zeros((0,) + shape, dtype="float32")
    # Draw all latents at once so the images do not depend on batch_size.
    z = keras.random.normal((int(n), latent_dim), seed=seed)
    chunks = []
    for start in range(0, int(n), int(batch_size)):
        batch = z[start : start + int(batch_size)]
        images = generator(batch, training=False)
        chunks.append(ops.convert_to_numpy(images).astype("float32"))
    return np.concatenate(chunks, axis=0)


def _bits_to_open_uniform(bits):
    """uint32 random bits -> float32 uniform strictly inside (0, 1) (TensorFlow).

    Uses the top 23 bits: `(k + 0.5) * 2**-23` is exact in float32, so the
    largest value is `1 - 2**-24` and never rounds up to 1.0 (24 bits would:
    `erfinv(2 * 1.0 - 1)` is infinite and the step turns NaN about once in
    every few million draws).
    """
    import tensorflow as tf

    top_23_bits = tf.cast(tf.bitwise.right_shift(bits, 9), tf.float32)
    return (top_23_bits + 0.5) * (2.0**-23)


def tf_uniform(gan, shape):
    """Uniform noise in (0, 1) that is the same with and without XLA.

    TensorFlow's XLA kernels turn random bits into floats differently
    from its regular kernels, so `keras.random.uniform/normal` give other
    numbers under `jit_compile=True`. The raw 32-bit draws agree, so the
    floats are made from those here.

    Args:
        gan: The `GAN` whose `seed_generator` supplies the seed.
        shape: Shape of the noise.

    Returns:
        A float32 tensor of `shape`, strictly inside (0, 1).
    """
    import tensorflow as tf

    seed = gan.seed_generator.next()
    seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
    bits = tf.random.stateless_uniform(shape, seed=seed, minval=None, maxval=None, dtype=tf.uint32)
    return _bits_to_open_uniform(bits)


def tf_latents(gan, batch):
    """N(0, 1) latents for a TensorFlow step, the same with and without XLA.

    Args:
        gan: The `GAN` to draw for (its seed, `latent_dim` and generator
            dtype).
        batch: Number of latent vectors.

    Returns:
        A tensor `(batch, latent_dim)` in the generator's compute dtype.
    """
    import tensorflow as tf

    uniform = tf_uniform(gan, (batch, gan.latent_dim))
    # Inverse-CDF transform of U(0, 1) to N(0, 1).
    normal = math.sqrt(2.0) * tf.math.erfinv(2.0 * uniform - 1.0)
    return ops.cast(normal, gan.generator.compute_dtype)


def jax_latents(gan, batch, key):
    """N(0, 1) latents for a JAX train step.

    Args:
        gan: The `GAN` to draw for (its `latent_dim` and generator dtype).
        batch: Number of latent vectors.
        key: The JAX random key to draw with.

    Returns:
        A tensor `(batch, latent_dim)` in the generator's compute dtype.
    """
    return keras.random.normal(
        (batch, gan.latent_dim),
        seed=key,
        dtype=gan.generator.compute_dtype,
    )
