"""The `ImageData` container: a validated train/eval(/holdout) split and its file format.

`ImageData` holds float32 NHWC images in [-1, 1] (and optional labels and
class names), computes a content fingerprint used as a cache key, and saves
itself to / loads itself from a pickle-free `.npz` file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from kgan_nas.data.arrays import _validate_labels
from kgan_nas.store.atomic import atomic_write
from kgan_nas.store.cache import arrays_fingerprint


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class ImageData:
    """A validated image dataset split into training, evaluation and held-out images.

    The evaluation images are what a search selects on; the optional
    held-out images are never used for selection, so scores on them (the
    final-training stage reports there) are free of the winner's curse.

    Arrays are stored as read-only views, so the fingerprint computed once
    stays a valid cache key for the object's lifetime (as long as nobody
    writes to the arrays they were built from).

    Example:

    ```python
    data = kgan_nas.data.load_dataset("digits")
    data.image_shape      # (8, 8, 1)
    data.num_classes      # 10
    data.save("/tmp/digits.npz")
    same = kgan_nas.data.ImageData.load("/tmp/digits.npz")
    assert same.fingerprint() == data.fingerprint()
    ```

    Args:
        train: float32 array (N_train, H, W, C) with values in [-1, 1].
        eval: float32 array (N_eval, H, W, C) with values in [-1, 1].
        train_labels: integer labels of `train` (N_train,), or `None`.
        eval_labels: integer labels of `eval` (N_eval,), or `None`.
        name: a short human-readable name of the dataset.
        holdout: float32 array (N_holdout, H, W, C) in [-1, 1] that no
            selection may use, or `None` (the default) for no such split.
        holdout_labels: integer labels of `holdout`, or `None`; given
            exactly when the other splits have labels.
        class_names: the name of each label value (label `i` is
            `class_names[i]`), or `None` when unknown.

    Raises:
        ValueError: if an array has the wrong dtype, rank, shape or range, or
            the labels do not match the images.
    """

    train: np.ndarray
    eval: np.ndarray
    train_labels: np.ndarray | None = None
    eval_labels: np.ndarray | None = None
    name: str = "images"
    class_names: tuple[str, ...] | None = None
    holdout: np.ndarray | None = None
    holdout_labels: np.ndarray | None = None
    _fingerprint: list = dataclasses.field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        for field in self._image_fields():
            array = getattr(self, field)
            if not isinstance(array, np.ndarray) or array.dtype != np.float32:
                raise ValueError(
                    f"ImageData.{field} must be a float32 numpy array; got "
                    f"{type(array).__name__} of dtype "
                    f"{getattr(array, 'dtype', None)}. Build ImageData with "
                    "`load_dataset(...)`, which converts and validates."
                )
            if array.ndim != 4 or len(array) == 0:
                raise ValueError(
                    f"ImageData.{field} must be a non-empty (N, H, W, C) "
                    f"array; got shape {array.shape}."
                )
            if not (array.min() >= -1.0 and array.max() <= 1.0):
                raise ValueError(
                    f"ImageData.{field} must hold finite values in [-1, 1]; "
                    f"got values from {array.min()} to {array.max()}. Use "
                    "`load_dataset(..., value_range=(lo, hi))` to rescale."
                )
            object.__setattr__(self, field, _read_only(array))
        for field in self._image_fields()[1:]:
            if getattr(self, field).shape[1:] != self.train.shape[1:]:
                raise ValueError(
                    f"ImageData.train and ImageData.{field} must hold images of one "
                    f"shape; got {self.train.shape[1:]} and "
                    f"{getattr(self, field).shape[1:]}."
                )
        self._check_labels()
        if self.class_names is not None:
            names = tuple(str(n) for n in self.class_names)
            if self.train_labels is None or self._max_label() >= len(names):
                raise ValueError(
                    f"ImageData.class_names has {len(names)} names but the "
                    "labels are missing or use larger class indices; give "
                    "one name per class index, or class_names=None."
                )
            object.__setattr__(self, "class_names", names)

    def _image_fields(self):
        """The splits present: train, eval and (when given) holdout."""
        return ("train", "eval") if self.holdout is None else ("train", "eval", "holdout")

    def _check_labels(self):
        """Labels for every split or for none, each matching its images."""
        label_fields = [f"{field}_labels" for field in self._image_fields()]
        given = [getattr(self, field) is not None for field in label_fields]
        if any(given) and not all(given):
            raise ValueError(
                f"ImageData needs labels for every split ({', '.join(label_fields)}) or for "
                "none; got labels for only some."
            )
        if self.holdout is None and self.holdout_labels is not None:
            raise ValueError("ImageData.holdout_labels were given without holdout images.")
        for field in label_fields:
            labels = getattr(self, field)
            if labels is not None:
                images = getattr(self, field[: -len("_labels")])
                labels = _validate_labels(labels, len(images))
                object.__setattr__(self, field, _read_only(labels))

    def _max_label(self):
        return max(int(getattr(self, f"{field}_labels").max()) for field in self._image_fields())

    def __repr__(self):
        labels = "no labels" if self.num_classes is None else f"{self.num_classes} classes"
        holdout = "" if self.holdout is None else f"holdout={len(self.holdout)}, "
        return (
            f"ImageData(name={self.name!r}, train={len(self.train)}, "
            f"eval={len(self.eval)}, {holdout}image_shape={self.image_shape}, "
            f"{labels})"
        )

    @property
    def image_shape(self):
        """The shape of one image, `(height, width, channels)`."""
        return tuple(int(d) for d in self.train.shape[1:])

    @property
    def num_classes(self):
        """Number of classes (`max label + 1`), or `None` without labels."""
        if self.class_names is not None:
            return len(self.class_names)
        if self.train_labels is None:
            return None
        return self._max_label() + 1

    def fingerprint(self):
        """A stable content hash, usable as a cache key across processes.

        The hash covers the shapes and bytes of the images and labels (not
        the name; the held-out split only when there is one, so data without
        it keeps the fingerprint it always had), so the same data gives the same fingerprint in any
        process on any machine.

        Returns:
            The first 16 hex characters of a sha256 digest.
        """
        if not self._fingerprint:
            parts = [
                ("train", self.train, "<f4"),
                ("eval", self.eval, "<f4"),
                ("train_labels", self.train_labels, "<i8"),
                ("eval_labels", self.eval_labels, "<i8"),
            ]
            if self.holdout is not None:
                parts += [
                    ("holdout", self.holdout, "<f4"),
                    ("holdout_labels", self.holdout_labels, "<i8"),
                ]
            self._fingerprint.append(arrays_fingerprint(parts))
        return self._fingerprint[0]

    def save(self, path):
        """Writes the dataset to an `.npz` file (no pickle), atomically.

        Args:
            path: destination file; `.npz` is the conventional suffix.

        Returns:
            The `pathlib.Path` written.
        """
        arrays = {field: getattr(self, field) for field in self._image_fields()}
        arrays["name"] = np.array(self.name)
        if self.train_labels is not None:
            for field in self._image_fields():
                arrays[f"{field}_labels"] = getattr(self, f"{field}_labels")
        if self.class_names is not None:
            arrays["class_names"] = np.array(self.class_names, dtype=str)
        path = Path(path)
        atomic_write(path, lambda f: np.savez(f, **arrays))
        return path

    @classmethod
    def load(cls, path):
        """Reads a dataset written by `ImageData.save`.

        Args:
            path: an `.npz` file written by `save`.

        Returns:
            An `ImageData` equal in content to the saved one.

        Raises:
            ValueError: if the file lacks the `train`/`eval` arrays or holds
                invalid data.
        """
        with np.load(path, allow_pickle=False) as npz:
            missing = {"train", "eval"} - set(npz.files)
            if missing:
                raise ValueError(
                    f"{path} is not an ImageData file: missing arrays "
                    f"{sorted(missing)}. To load an arbitrary .npz of images "
                    "use `load_dataset(path)`."
                )
            optional = {
                key: npz[key] if key in npz.files else None
                for key in (
                    "train_labels",
                    "eval_labels",
                    "holdout",
                    "holdout_labels",
                    "class_names",
                )
            }
            class_names = optional["class_names"]
            return cls(
                train=npz["train"],
                eval=npz["eval"],
                train_labels=optional["train_labels"],
                eval_labels=optional["eval_labels"],
                holdout=optional["holdout"],
                holdout_labels=optional["holdout_labels"],
                name=str(npz["name"]) if "name" in npz.files else "images",
                class_names=(None if class_names is None else tuple(class_names.tolist())),
            )


def _read_only(array):
    view = array.view()
    view.flags.writeable = False
    return view
