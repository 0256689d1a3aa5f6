"""Class-conditional networks: checks, label handling and sampling.

A conditional generator is a Keras model with two inputs, `[latents,
labels]`, and a conditional discriminator takes `[images, labels]`; labels
are int32 class ids shaped `(batch, 1)`. `GAN` recognises such a pair
(`is_conditional`) and trains it on `(images, labels)` batches: the fake
images of each step are generated for the batch's own labels, so the classes
the generator practises follow the data's class frequencies.
"""

import keras
import numpy as np
from keras import ops

from kgan_nas.core.class_labels import check_labels as check_labels


def is_conditional(model):
    """Whether a Keras model takes two inputs (data and class labels)."""
    inputs = getattr(model, "inputs", None)
    return isinstance(inputs, (list, tuple)) and len(inputs) == 2


def check_networks(generator, discriminator, latent_dim=None, num_classes=None):
    """Checks a conditional pair symbolically.

    Args:
        generator: A model `[(batch, latent_dim), (batch, 1) int]` -> images.
        discriminator: A model `[images, (batch, 1) int]` -> `(batch, 1)`.
        latent_dim: Latent size, or None to read it from the generator.
        num_classes: Number of classes, or None to read it from the
            generator's first `Embedding` layer.

    Returns:
        `(latent_dim, image_shape, num_classes)`.

    Raises:
        ValueError: if the discriminator is not conditional too, the shapes
            do not fit, or the number of classes cannot be found.
    """
    if not is_conditional(discriminator):
        raise ValueError(
            "The generator takes [latents, labels], so the discriminator must take "
            "[images, labels] too; build both networks from a conditional genome."
        )
    latent_dim, image_shape, num_classes = check_generator(generator, latent_dim, num_classes)
    labels = keras.KerasTensor((None, 1), dtype="int32")
    logits = discriminator([keras.KerasTensor((None,) + image_shape), labels])
    if tuple(logits.shape[1:]) != (1,):
        raise ValueError(
            f"The conditional discriminator must output (batch, 1) logits; it outputs "
            f"{logits.shape}."
        )
    return latent_dim, image_shape, num_classes


def check_generator(generator, latent_dim=None, num_classes=None):
    """Checks a conditional generator symbolically.

    Args:
        generator: A model `[(batch, latent_dim), (batch, 1) int]` -> images.
        latent_dim: Latent size, or None to read it from the generator.
        num_classes: Number of classes, or None to read it from the
            generator's first `Embedding` layer.

    Returns:
        `(latent_dim, image_shape, num_classes)`.

    Raises:
        ValueError: if the generator does not take latents and labels to
            images, or the latent size or number of classes cannot be found.
    """
    if latent_dim is None:
        latent_dim = generator.inputs[0].shape[-1]
        if len(generator.inputs[0].shape) != 2 or latent_dim is None:
            raise ValueError(
                f"Cannot infer latent_dim: the generator's first input has shape "
                f"{generator.inputs[0].shape}, not (batch, latent_dim). Pass latent_dim=."
            )
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)):
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    labels = keras.KerasTensor((None, 1), dtype="int32")
    try:
        images = generator([keras.KerasTensor((None, latent_dim)), labels])
    except Exception as error:
        raise ValueError(
            f"The conditional generator cannot take latents (None, {latent_dim}) and "
            f"labels (None, 1): {type(error).__name__}: {error}"
        ) from error
    if len(images.shape) != 4 or any(dim is None for dim in images.shape[1:]):
        raise ValueError(
            f"The conditional generator must output images (batch, H, W, C); it outputs "
            f"{images.shape}."
        )
    image_shape = tuple(images.shape[1:])
    return int(latent_dim), image_shape, _num_classes(generator, num_classes)


def _num_classes(generator, num_classes):
    if num_classes is None:
        embeddings = [
            layer for layer in generator.layers if isinstance(layer, keras.layers.Embedding)
        ]
        if not embeddings:
            raise ValueError(
                "Cannot tell the number of classes of this conditional generator (it has "
                "no Embedding layer); pass num_classes= to the GAN."
            )
        num_classes = embeddings[0].input_dim
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
    return int(num_classes)


def check_counts(n, batch_size):
    """Raises `ValueError` unless `n >= 0` and `batch_size >= 1` are integers."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")


def batch_labels(labels):
    """Labels of a training batch as int32 `(batch, 1)` (any integer shape `(batch,)`)."""
    return ops.reshape(ops.cast(labels, "int32"), (-1, 1))


def generate_conditional(generator, labels, *, latent_dim, seed=None, batch_size=256):
    """Generates one image per label with a conditional generator (inference mode).

    Latents are drawn all at once (as `generate_images` does), so a fixed
    `seed` gives the same images whatever `batch_size` is.

    Args:
        generator: A conditional generator.
        labels: int32 `(n, 1)` class ids (see `check_labels`).
        latent_dim: Size of the latent vector.
        seed: Integer seed of the latents, or None.
        batch_size: Images per generator call.

    Returns:
        A float32 `np.ndarray` `(n, H, W, C)`.
    """
    n = len(labels)
    if n == 0:
        shape = generator.compute_output_shape([(1, latent_dim), (1, 1)])[1:]
        return np.zeros((0,) + tuple(shape), dtype="float32")
    z = keras.random.normal((n, latent_dim), seed=seed)
    chunks = []
    for start in range(0, n, int(batch_size)):
        stop = start + int(batch_size)
        batch = [z[start:stop], ops.convert_to_tensor(labels[start:stop])]
        images = generator(batch, training=False)
        chunks.append(ops.convert_to_numpy(images).astype("float32"))
    return np.concatenate(chunks, axis=0)
