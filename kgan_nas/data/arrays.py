"""The image arrays and labels given to `load_dataset`: layout (NHWC), finiteness,
shape, and the rescaling to float32 in [-1, 1].

Each check raises a `ValueError` that names the problem and the fix. (The
data-set settings, such as `eval_fraction`, are checked in `kgan_nas.validate`.)
"""

from __future__ import annotations

import numpy as np

from kgan_nas.errors import warn


def _as_nhwc(images):
    if images.dtype == object or not (
        np.issubdtype(images.dtype, np.number) or images.dtype == bool
    ):
        raise ValueError(
            f"Images must be numeric; got an array of dtype {images.dtype}. "
            "Stack the images into one numeric array first."
        )
    if images.ndim == 3 and images.shape[2] <= 4 < images.shape[1]:
        # Read as (N, H, W), this would be strips a few pixels wide: almost
        # surely one (H, W, C) image, which would otherwise train silently.
        raise ValueError(
            f"A 3-D array is read as (N, H, W) grayscale images, which would make shape "
            f"{images.shape} {images.shape[0]} images of {images.shape[1]} x "
            f"{images.shape[2]} pixels: it looks like one (H, W, C) image. Pass the images "
            "as one (N, H, W, C) array (e.g. `np.stack(images)`); images that really are "
            "that narrow need a channel axis (`x[..., None]`)."
        )
    if images.ndim == 3:
        images = images[..., np.newaxis]  # (N, H, W) grayscale
    elif images.ndim != 4:
        if images.ndim == 2:
            hint = (
                " A 2-D array looks like flattened images; reshape it to (N, H, W) or (N, H, W, C)."
            )
        else:
            hint = (
                " Reshape it, or drop extra axes with `np.squeeze`, to "
                "get (N, H, W) or (N, H, W, C)."
            )
        raise ValueError(
            f"Images must be shaped (N, H, W) or (N, H, W, C); got rank "
            f"{images.ndim} with shape {images.shape}.{hint}"
        )
    if 0 in images.shape:
        raise ValueError(
            f"The dataset is empty (shape {images.shape}); it needs at least "
            "4 images of non-zero size."
        )
    channels = images.shape[-1]
    if not 1 <= channels <= 4:
        hint = ""
        if images.shape[1] in (1, 3, 4):
            hint = (
                " The array looks channels-first (N, C, H, W); transpose "
                "it with `np.transpose(x, (0, 2, 3, 1))`."
            )
        raise ValueError(
            f"Images must have 1 to 4 channels (last axis, NHWC); got "
            f"{channels} channels in shape {images.shape}.{hint}"
        )
    return images


def _check_finite(images):
    if np.issubdtype(images.dtype, np.floating):
        bad = images.size - int(np.count_nonzero(np.isfinite(images)))
        if bad:
            raise ValueError(
                f"The images contain {bad} NaN or infinite value(s) out of "
                f"{images.size}; remove or repair those images (e.g. "
                "`np.nan_to_num`) before loading."
            )


def _rescale(images, value_range):
    """Maps images from `value_range` to float32 in [-1, 1]."""
    low, high = float(images.min()), float(images.max())
    if value_range == "auto":
        if images.dtype == np.uint8:
            value_range = (0.0, 255.0)
        elif images.dtype == bool:
            value_range = (0.0, 1.0)
        elif low >= -1.0 and high <= 1.0:
            if low >= 0.0:
                warn(
                    f"The images lie in [{low:g}, {high:g}], within [0, 1]; they are used "
                    "as [-1, 1] data. If they are [0, 1] data, pass value_range=(0, 1) "
                    "(kgan_nas.search: options=kgan_nas.SearchOptions(value_range=(0, 1)); "
                    "kgan-nas search: --value-range 0 1).",
                )
            return images.astype(np.float32, copy=False)
        else:
            if low >= 0.0 and high <= 255.0:
                guess = (
                    "looks like 0-255 data; pass value_range=(0, 255) "
                    "(kgan_nas.search: options=kgan_nas.SearchOptions(value_range=(0, 255)); "
                    "kgan-nas search: --value-range 0 255), or rescale it with "
                    "`x / 127.5 - 1`"
                )
            else:
                guess = (
                    "is not in [-1, 1]; pass value_range=(low, high) with the true range "
                    "of your data (kgan_nas.SearchOptions(value_range=...) for a search, "
                    "--value-range LOW HIGH on the command line), or rescale it to [-1, 1] "
                    "yourself"
                )
            raise ValueError(
                f"Cannot infer the value range of {images.dtype} images "
                f"with values from {low:g} to {high:g}: the data {guess}. "
                "Images are rescaled from value_range to [-1, 1]."
            )
    lo, hi = value_range
    if low < lo or high > hi:
        raise ValueError(
            f"The images have values from {low:g} to {high:g}, outside "
            f"value_range=({lo:g}, {hi:g}); pass the range the data really "
            "use."
        )
    scaled = images.astype(np.float32)  # a copy we may modify in place
    scaled *= np.float32(2.0 / (hi - lo))
    scaled += np.float32(-1.0 - 2.0 * lo / (hi - lo))
    np.clip(scaled, -1.0, 1.0, out=scaled)  # float rounding at the ends
    return scaled


def _check_image_shape(images, image_shape):
    expected = tuple(int(d) for d in image_shape)
    actual = tuple(images.shape[1:])
    if expected != actual:
        raise ValueError(
            f"The images have shape {actual} (H, W, C) but image_shape="
            f"{expected} was requested; resize the images or pass "
            f"image_shape={actual}."
        )


def _validate_labels(labels, num_images):
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # e.g. cifar10's (N, 1)
    if labels.ndim != 1 or len(labels) != num_images:
        hint = " One-hot labels? Pass `labels.argmax(axis=-1)`." if labels.ndim == 2 else ""
        raise ValueError(
            f"Labels have shape {labels.shape} but there are {num_images} "
            "images; pass exactly one integer label per image, shape "
            f"({num_images},).{hint}"
        )
    if not (
        np.issubdtype(labels.dtype, np.integer)
        or (
            np.issubdtype(labels.dtype, np.floating)
            and np.all(np.isfinite(labels))
            and np.all(labels == np.round(labels))
        )
    ):
        raise ValueError(
            f"Labels must be integers; got dtype {labels.dtype}. Map class names to 0..K-1 first."
        )
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"Labels must be non-negative class indices; got minimum "
            f"{labels.min()}. Map them to 0..K-1."
        )
    return labels.astype(np.int64)
