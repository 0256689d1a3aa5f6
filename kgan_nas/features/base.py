"""The `FeatureExtractor` base class and the image checks every extractor shares.

An extractor maps float32 NHWC images in [-1, 1] to `(features, probabilities)`;
this module validates such images (`_validate_images`), pads them to equal
batches and converts the outputs. The concrete extractors live in
`kgan_nas.features.domain` and `kgan_nas.features.inception`.
"""

import abc

import keras
import numpy as np

from kgan_nas import validate

__all__ = ["FeatureExtractor"]

# Real images and tanh generators stay inside [-1, 1]; the slack only absorbs
# rounding (e.g. from bfloat16), while [0, 1] or [0, 255] data is rejected.
_RANGE_TOLERANCE = 1e-2


class FeatureExtractor(abc.ABC):
    """Maps images to features (for FID/KID) and class probabilities (for IS).

    Subclasses implement `_predict` and `_check_image_shape`; this base class
    validates the input and converts the outputs to float64.

    Attributes:
        name: Short identifier, e.g. `"domain"` or `"inception"`.
    """

    name = "abstract"

    @property
    def metric_suffix(self):
        """Suffix for metric keys computed with this extractor.

        Callers name metrics `f"fid_{extractor.metric_suffix}"`, so that
        domain and Inception scores can never be mixed up.

        Returns:
            The string `name`, e.g. `"domain"` or `"inception"`.
        """
        return self.name

    @property
    @abc.abstractmethod
    def feature_dim(self):
        """Length `d` of one feature vector."""

    @property
    @abc.abstractmethod
    def num_classes(self):
        """Number `k` of classes in `probabilities`."""

    def features(self, images, *, batch_size=256):
        """Embeds images for FID and KID.

        Args:
            images: float32 array `(N, H, W, C)` with values in [-1, 1].
            batch_size: Images per forward pass. Defaults to 256.

        Returns:
            float64 array of shape `(N, feature_dim)`.

        Raises:
            ValueError: If `images` has the wrong rank, shape or channel
                count, is empty, holds NaN/inf, or lies outside [-1, 1].
        """
        return self.features_and_probabilities(images, batch_size=batch_size)[0]

    def probabilities(self, images, *, batch_size=256):
        """Class probabilities for the Inception Score.

        Args:
            images: float32 array `(N, H, W, C)` with values in [-1, 1].
            batch_size: Images per forward pass. Defaults to 256.

        Returns:
            float64 array of shape `(N, num_classes)` whose rows sum to 1.

        Raises:
            ValueError: As for `features`.
        """
        return self.features_and_probabilities(images, batch_size=batch_size)[1]

    def features_and_probabilities(self, images, *, batch_size=256):
        """Computes features and probabilities in a single pass.

        Args:
            images: float32 array `(N, H, W, C)` with values in [-1, 1].
            batch_size: Images per forward pass. Defaults to 256.

        Returns:
            A tuple `(features, probabilities)` of float64 arrays with shapes
            `(N, feature_dim)` and `(N, num_classes)`.

        Raises:
            ValueError: As for `features`, or if `batch_size` is not a
                positive integer.
        """
        images = _validate_images(images)
        self._check_image_shape(images.shape[1:])
        if not validate.is_integer(batch_size) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
        num_images = len(images)
        images, batch_size = _pad_to_equal_batches(images, batch_size)
        features, probabilities = self._predict(images, batch_size)
        features = np.asarray(features[:num_images], dtype=np.float64)
        probabilities = np.asarray(probabilities[:num_images], dtype=np.float64)
        # float32 softmax rows sum to 1 only up to ~1e-7; IS takes logs of
        # these, so renormalise in float64.
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return features, probabilities

    @abc.abstractmethod
    def _predict(self, images, batch_size):
        """Returns `(features, probabilities)` for validated images."""

    @abc.abstractmethod
    def _check_image_shape(self, image_shape):
        """Raises ValueError if `(H, W, C)` does not suit this extractor."""

    def __repr__(self):
        return (
            f"{type(self).__name__}(name={self.name!r}, "
            f"feature_dim={self.feature_dim}, num_classes={self.num_classes})"
        )


def _pad_to_equal_batches(images, batch_size):
    """Splits N images into equal batches of at most `batch_size`.

    Pads by repeating the last image (fewer than one image per batch), so
    every forward pass has the same shape: XLA (always under JAX) compiles
    once per shape, and a short last batch would compile a second program.

    Returns:
        The padded images and the batch size to use.
    """
    num_batches = -(-len(images) // batch_size)
    batch_size = -(-len(images) // num_batches)
    padding = num_batches * batch_size - len(images)
    if padding:
        images = np.concatenate([images, np.repeat(images[-1:], padding, 0)])
    return images, batch_size


def _validate_images(images):
    """Checks an image batch and returns it as a float32 numpy array."""
    try:
        array = np.asarray(images)
    except Exception as exc:  # e.g. a ragged list
        raise ValueError(
            "`images` must be an array of shape (N, H, W, C); could not "
            f"convert {type(images).__name__} to one ({exc})."
        ) from exc
    if array.ndim != 4:
        raise ValueError(
            f"`images` must have rank 4 (N, H, W, C), got shape {array.shape}."
            " Add a channel axis for grayscale, e.g. `images[..., None]`."
        )
    if array.shape[0] == 0:
        raise ValueError("`images` is empty; pass at least one image.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"`images` must hold numbers, got dtype {array.dtype}.")
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(
            "`images` contains NaN or inf values. Generated samples from a "
            "diverged model cannot be scored; check the generator."
        )
    low, high = float(array.min()), float(array.max())
    if low < -1.0 - _RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise ValueError(
            f"`images` must lie in [-1, 1], got values in [{low:g}, {high:g}]."
            " Rescale first, e.g. `x / 127.5 - 1` for uint8 pixels."
        )
    return array


def _as_channels_last():
    """Raises unless Keras uses NHWC, which every model here assumes."""
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "kgan_nas feature extractors need NHWC images, but Keras is set "
            f"to {keras.config.image_data_format()!r}. Call "
            "`keras.config.set_image_data_format('channels_last')`."
        )
