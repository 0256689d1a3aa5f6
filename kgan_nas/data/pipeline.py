"""Training input: endless, shuffled, fixed-size image batches for `fit`.

`train_input` returns a `tf.data.Dataset` on the TensorFlow backend and a
`ShuffledImageBatches` (`keras.utils.PyDataset`) on the other backends.
`ShuffledImageBatches` subclasses a Keras class, so it is built on first
access (see `__getattr__`) and importing this module does not import Keras.
"""

from __future__ import annotations

import functools

import numpy as np

from kgan_nas import validate
from kgan_nas.data.image_data import ImageData


def train_input(images, batch_size, *, seed=0, labels=None):
    """An endless, shuffled stream of fixed-size image batches for `fit`.

    Every batch has exactly `batch_size` images, so an XLA-compiled train
    step is compiled once. The stream walks through successive random
    permutations of the images (a new one each pass), so every image is
    seen equally often. Use it with `model.fit(x, steps_per_epoch=...)`.

    On the TensorFlow backend this is a `tf.data.Dataset` (shuffle, repeat,
    batch with `drop_remainder=True`, prefetch); on other backends it is a
    `ShuffledImageBatches` (`keras.utils.PyDataset`) of float32 numpy
    batches.

    Args:
        images: float32 array (N, H, W, C), or an `ImageData` (its training
            images are used).
        batch_size: images per batch; at most N.
        seed: seed of the shuffling. Defaults to 0.
        labels: optional integer labels (N,) of the images, for a
            class-conditional GAN: batches are then `(images, labels)`
            pairs, labels int32. Defaults to None (image batches only).

    Returns:
        An infinite dataset accepted by `keras.Model.fit`.

    Raises:
        ValueError: if `batch_size` is not a positive integer or exceeds the
            number of images, `images` is not (N, H, W, C), or `labels` do
            not match the images.
    """
    images = _check_batch_input(images, batch_size)
    labels = _check_labels(labels, len(images))
    import keras

    if keras.backend.backend() == "tensorflow":
        return _tf_train_input(images, batch_size, seed, labels)
    return _shuffled_image_batches_class()(images, batch_size, seed=seed, labels=labels)


def _check_labels(labels, num_images):
    if labels is None:
        return None
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (num_images,):
        raise ValueError(
            f"labels must be {num_images} integer class ids, one per image; got dtype "
            f"{labels.dtype} and shape {labels.shape}."
        )
    return labels.astype(np.int32)


def _check_batch_input(images, batch_size):
    if isinstance(images, ImageData):
        images = images.train
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            f"images must be shaped (N, H, W, C); got shape {images.shape}. "
            "Load them with `load_dataset` first."
        )
    if not validate.is_integer(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    if batch_size > len(images):
        raise ValueError(
            f"batch_size={batch_size} is larger than the {len(images)} "
            "training images, so not one full batch can be formed; use a "
            f"batch size of at most {len(images)} or more images."
        )
    return images


def _tf_train_input(images, batch_size, seed, labels=None):
    import tensorflow as tf

    num_images = len(images)
    # Keep the images in host memory: tf.data runs on the CPU, and a GPU copy
    # would be gathered back to the host for every batch.
    with tf.device("/cpu:0"):
        table = tf.constant(images)
        label_table = None if labels is None else tf.constant(labels)

    def gather(index):
        if label_table is None:
            return tf.gather(table, index)
        return tf.gather(table, index), tf.gather(label_table, index)

    # Shuffle indices rather than images: the shuffle buffer then holds
    # int64s, not a second copy of the dataset.
    return (
        tf.data.Dataset.range(num_images)
        .shuffle(num_images, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


@functools.cache
def _shuffled_image_batches_class():
    """Builds the `PyDataset` subclass on first use (imports keras lazily)."""
    import keras

    class ShuffledImageBatches(keras.utils.PyDataset):
        """An infinite `keras.utils.PyDataset` of shuffled image batches.

        Batch `i` is a pure function of `i` and `seed`: the image stream is
        the concatenation of permutations `rng([seed, pass]).permutation(N)`
        and batch `i` is its slice `[i * batch_size, (i + 1) * batch_size)`.
        So batches may straddle two passes, every image appears once per
        pass, and batches are reproducible in any order or thread.

        Example:

        ```python
        batches = ShuffledImageBatches(data.train, batch_size=64, seed=1)
        model.fit(batches, steps_per_epoch=100, epochs=3)
        ```

        Args:
            images: float32 array (N, H, W, C).
            batch_size: images per batch, at most N.
            seed: shuffling seed. Defaults to 0.
            labels: optional int labels (N,); batches are then
                `(images, labels)`. Defaults to None.
            **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`,
                passed to `keras.utils.PyDataset`.

        Raises:
            ValueError: if `batch_size` exceeds the number of images.
        """

        def __init__(self, images, batch_size, seed=0, labels=None, **kwargs):
            super().__init__(**kwargs)
            self.images = _check_batch_input(images, batch_size)
            self.labels = _check_labels(labels, len(self.images))
            self.batch_size = int(batch_size)
            self.seed = int(seed)
            self._permutations = {}

        @property
        def num_batches(self):
            """`None`: Keras' marker of an infinite dataset."""
            return None

        def _permutation(self, pass_index):
            order = self._permutations.get(pass_index)
            if order is None:
                rng = np.random.default_rng([self.seed, pass_index])
                order = rng.permutation(len(self.images))
                if len(self._permutations) > 4:  # keep only recent passes
                    self._permutations.clear()
                self._permutations[pass_index] = order
            return order

        def __getitem__(self, index):
            """Batch `index`: float32 images (batch_size, H, W, C), with labels if given."""
            num_images = len(self.images)
            positions = np.arange(index * self.batch_size, (index + 1) * self.batch_size)
            passes, offsets = np.divmod(positions, num_images)
            picked = np.empty(self.batch_size, dtype=np.int64)
            for pass_index in np.unique(passes):
                mask = passes == pass_index
                picked[mask] = self._permutation(int(pass_index))[offsets[mask]]
            if self.labels is not None:
                return self.images[picked], self.labels[picked]
            return self.images[picked]

    # Name it as an attribute of the package `kgan_nas.data`, its public home
    # (see `__getattr__` there and here), so pickle finds it.
    ShuffledImageBatches.__module__ = __package__
    ShuffledImageBatches.__qualname__ = "ShuffledImageBatches"
    return ShuffledImageBatches


def __getattr__(name):
    # `ShuffledImageBatches` subclasses keras.utils.PyDataset, so it is built
    # on first access to keep `import kgan_nas.data.pipeline` free of Keras.
    if name == "ShuffledImageBatches":
        return _shuffled_image_batches_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
