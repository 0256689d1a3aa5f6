"""A generator / discriminator pair: its latent size and shapes, checked symbolically.

`_infer_latent_dim` and `_check_networks` use `keras.KerasTensor`s, so nothing
is computed. (Checks of plain arguments live in `kgan_nas.validate`.)
"""

import keras
import numpy as np


def _infer_latent_dim(generator, latent_dim):
    if not isinstance(generator, keras.layers.Layer):
        raise TypeError(
            f"generator must be a Keras model (or layer), got {type(generator).__name__}."
        )
    try:
        input_shape = generator.input_shape
    except (AttributeError, ValueError):
        input_shape = None
    if latent_dim is None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 2 or input_shape[1] is None:
            raise ValueError(
                "Cannot infer latent_dim: the generator's input shape is "
                f"{input_shape!r}, not (batch, latent_dim). Pass "
                "`latent_dim=` or give the generator a `keras.Input((k,))`."
            )
        latent_dim = input_shape[1]
    if not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    return int(latent_dim)


def _check_networks(generator, discriminator, latent_dim):
    """Checks the shapes symbolically; returns the image shape (no batch)."""
    if not isinstance(discriminator, keras.layers.Layer):
        raise TypeError(
            f"discriminator must be a Keras model (or layer), got {type(discriminator).__name__}."
        )
    latent_shape = (None, latent_dim)
    try:
        images = generator(keras.KerasTensor(latent_shape))
    except Exception as error:  # any build failure names the shape below
        raise ValueError(
            f"The generator cannot take latents of shape {latent_shape}: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(images, keras.KerasTensor) or len(images.shape) != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(
            f"The generator must map {latent_shape} to images "
            f"(batch, height, width, channels); it outputs {shape}. End it "
            "with a layer emitting a rank-4 tensor (e.g. Conv2D)."
        )
    image_shape = tuple(images.shape[1:])
    if any(dim is None for dim in image_shape):
        raise ValueError(
            f"The generator's image shape {image_shape} must be fully "
            "known; give every layer a fixed output size."
        )
    try:
        logits = discriminator(keras.KerasTensor((None,) + image_shape))
    except Exception as error:
        raise ValueError(
            "The discriminator cannot take the generator's images of shape "
            f"{(None,) + image_shape}: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(logits, keras.KerasTensor) or tuple(logits.shape[1:]) != (1,):
        shape = getattr(logits, "shape", type(logits).__name__)
        raise ValueError(
            "The discriminator must output one logit per image, shape "
            f"(batch, 1); it outputs {shape} for images of shape "
            f"{(None,) + image_shape}. End it with Dense(1)."
        )
    return image_shape
