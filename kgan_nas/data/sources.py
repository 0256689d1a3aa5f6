"""What `load_dataset` accepts, and what each reader hands back to it.

The kinds of source (`KNOWN_DATASETS` and the description used in error
messages) and `_RawImages`, the images, labels and name a reader produced,
before conversion and validation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

KNOWN_DATASETS = ("digits", "mnist_5k", "mnist", "fashion_mnist", "cifar10")

_ACCEPTED_KINDS = (
    "a numpy array shaped (N, H, W) or (N, H, W, C), a tf.data.Dataset of "
    "images or (image, label) pairs, a path to a .npz/.npy file, a path to a "
    f"folder of PNG/JPEG images, or one of the names {list(KNOWN_DATASETS)}"
)


@dataclasses.dataclass
class _RawImages:
    """Images as read from a source, before conversion and validation."""

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    value_range: object = "auto"  # a range the source knows, e.g. digits
    class_names: tuple[str, ...] | None = None
