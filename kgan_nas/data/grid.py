"""Image output: [-1, 1] floats to uint8, and a grid of images as one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kgan_nas import validate
from kgan_nas.store.atomic import atomic_write


def to_uint8(images):
    """Converts images from [-1, 1] floats to uint8 in [0, 255].

    Values outside [-1, 1] are clipped and NaN becomes 0 (black), so the
    samples of a diverged generator can still be saved and looked at.

    Args:
        images: array-like of floats in [-1, 1], any shape.

    Returns:
        A uint8 numpy array of the same shape.
    """
    images = np.asarray(images, dtype=np.float32)
    images = np.nan_to_num(images, nan=-1.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def save_image_grid(images, path, *, nrow=None, min_cell_size=32, padding=2):
    """Saves images as one PNG grid, atomically.

    Small images are enlarged by an integer factor (nearest neighbour) so
    each cell is at least `min_cell_size` pixels on its shorter side. Cells
    are separated by `padding` white pixels. Grayscale images give a
    grayscale PNG.

    Args:
        images: (N, H, W) or (N, H, W, C) images with 1 to 4 channels,
            floats in [-1, 1] or uint8.
        path: destination `.png` file; parent folders are created.
        nrow: images per row. Defaults to `ceil(sqrt(N))`.
        min_cell_size: least cell size in pixels after enlarging. Defaults
            to 32.
        padding: pixels between and around cells. Defaults to 2.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: if `images` is empty or badly shaped, or `nrow` is not a
            positive integer.
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or len(images) == 0 or not 1 <= images.shape[-1] <= 4:
        raise ValueError(
            "save_image_grid needs a non-empty (N, H, W) or (N, H, W, C) "
            f"array with 1 to 4 channels; got shape {images.shape}."
        )
    if images.dtype != np.uint8:
        images = to_uint8(images)
    count, height, width, channels = images.shape
    if nrow is None:
        nrow = math.ceil(math.sqrt(count))
    if not validate.is_integer(nrow) or nrow < 1:
        raise ValueError(f"nrow must be a positive integer; got {nrow!r}.")
    nrow = min(int(nrow), count)
    rows = math.ceil(count / nrow)
    scale = max(1, math.ceil(min_cell_size / min(height, width)))
    cell_h, cell_w = height * scale, width * scale

    canvas = np.full(
        (rows * (cell_h + padding) + padding, nrow * (cell_w + padding) + padding, channels),
        255,
        dtype=np.uint8,
    )
    for i, image in enumerate(images):
        row, col = divmod(i, nrow)
        top = padding + row * (cell_h + padding)
        left = padding + col * (cell_w + padding)
        canvas[top : top + cell_h, left : left + cell_w] = np.repeat(
            np.repeat(image, scale, axis=0), scale, axis=1
        )

    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]  # for the check
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    assert picture.mode == mode, (picture.mode, mode)
    path = Path(path)
    atomic_write(path, lambda f: picture.save(f, format="PNG"))
    return path
