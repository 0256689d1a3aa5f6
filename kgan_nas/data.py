"""Image datasets: loading, validation, train/eval split, input pipelines.

Everything the search trains on or measures against goes through
`load_dataset`, which accepts arrays, `tf.data` pipelines, `.npz` files, image
folders and a few dataset names, validates them and returns an `ImageData`:
float32 NHWC images in [-1, 1], split into a training part (what the GANs
see) and an evaluation part (the real images the metrics compare against).

Only numpy is imported at module level. Keras, TensorFlow and Pillow are
imported inside the functions that need them, so this module also imports
under `KERAS_BACKEND=jax` on a machine without TensorFlow.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import math
import os
import warnings
from pathlib import Path

import numpy as np

from kgan_nas.atomic import atomic_write

KNOWN_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")

_ACCEPTED_KINDS = (
    "a numpy array shaped (N, H, W) or (N, H, W, C), a tf.data.Dataset of "
    "images or (image, label) pairs, a path to a .npz/.npy file, a path to a "
    f"folder of PNG/JPEG images, or one of the names {list(KNOWN_DATASETS)}"
)

# Where keras.datasets caches each named dataset, relative to
# `$KERAS_HOME` (default ~/.keras); used in the offline error message.
_KERAS_CACHE_FILES = {
    "mnist": "datasets/mnist.npz",
    "fashion_mnist": "datasets/fashion-mnist/ (the four *-idx*-ubyte.gz "
    "files)",
    "cifar10": "datasets/cifar-10-batches-py-target_archive (the "
    "cifar-10-python.tar.gz file, renamed)",
}


# ----------------------------------------------------------------------------
# ImageData
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class ImageData:
    """A validated image dataset split into training and evaluation images.

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
    _fingerprint: list = dataclasses.field(
        default_factory=list, init=False, repr=False
    )

    def __post_init__(self):
        for field in ("train", "eval"):
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
        if self.train.shape[1:] != self.eval.shape[1:]:
            raise ValueError(
                "ImageData.train and ImageData.eval must hold images of one "
                f"shape; got {self.train.shape[1:]} and "
                f"{self.eval.shape[1:]}."
            )
        if (self.train_labels is None) != (self.eval_labels is None):
            raise ValueError(
                "ImageData needs labels for both splits or for neither; got "
                "labels for only one."
            )
        for field, images in (("train_labels", self.train),
                              ("eval_labels", self.eval)):
            labels = getattr(self, field)
            if labels is not None:
                labels = _validate_labels(labels, len(images))
                object.__setattr__(self, field, _read_only(labels))
        if self.class_names is not None:
            names = tuple(str(n) for n in self.class_names)
            if self.train_labels is None or max(
                    self.train_labels.max(), self.eval_labels.max()) >= len(
                    names):
                raise ValueError(
                    f"ImageData.class_names has {len(names)} names but the "
                    "labels are missing or use larger class indices; give "
                    "one name per class index, or class_names=None."
                )
            object.__setattr__(self, "class_names", names)

    def __repr__(self):
        labels = ("no labels" if self.num_classes is None
                  else f"{self.num_classes} classes")
        return (f"ImageData(name={self.name!r}, train={len(self.train)}, "
                f"eval={len(self.eval)}, image_shape={self.image_shape}, "
                f"{labels})")

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
        return int(max(self.train_labels.max(), self.eval_labels.max())) + 1

    def fingerprint(self):
        """A stable content hash, usable as a cache key across processes.

        The hash covers the shapes and bytes of the images and labels (not
        the name), so the same data gives the same fingerprint in any
        process on any machine.

        Returns:
            The first 16 hex characters of a sha256 digest.
        """
        if not self._fingerprint:
            digest = hashlib.sha256()
            parts = (("train", self.train, "<f4"), ("eval", self.eval, "<f4"),
                     ("train_labels", self.train_labels, "<i8"),
                     ("eval_labels", self.eval_labels, "<i8"))
            for tag, array, dtype in parts:
                digest.update(tag.encode())
                if array is None:
                    digest.update(b"none")
                    continue
                # A fixed byte order makes the hash machine-independent.
                array = np.ascontiguousarray(array, dtype=dtype)
                digest.update(repr(array.shape).encode())
                digest.update(memoryview(array).cast("B"))
            self._fingerprint.append(digest.hexdigest()[:16])
        return self._fingerprint[0]

    def save(self, path):
        """Writes the dataset to an `.npz` file (no pickle), atomically.

        Args:
            path: destination file; `.npz` is the conventional suffix.

        Returns:
            The `pathlib.Path` written.
        """
        arrays = {"train": self.train, "eval": self.eval,
                  "name": np.array(self.name)}
        if self.train_labels is not None:
            arrays["train_labels"] = self.train_labels
            arrays["eval_labels"] = self.eval_labels
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
            optional = {key: npz[key] if key in npz.files else None
                        for key in ("train_labels", "eval_labels",
                                    "class_names")}
            class_names = optional["class_names"]
            return cls(
                train=npz["train"], eval=npz["eval"],
                train_labels=optional["train_labels"],
                eval_labels=optional["eval_labels"],
                name=str(npz["name"]) if "name" in npz.files else "images",
                class_names=(None if class_names is None
                             else tuple(class_names.tolist())),
            )


def _read_only(array):
    view = array.view()
    view.flags.writeable = False
    return view


# ----------------------------------------------------------------------------
# load_dataset
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class _RawImages:
    """Images as read from a source, before conversion and validation."""

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    value_range: object = "auto"  # a range the source knows, e.g. digits
    class_names: tuple[str, ...] | None = None


def load_dataset(dataset, *, labels=None, image_shape=None,
                 value_range="auto", eval_fraction=0.2, min_images=None,
                 seed=0):
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
              digits, available offline) or "mnist", "fashion_mnist",
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
        FileNotFoundError: if a path does not exist.
    """
    _check_eval_fraction(eval_fraction)
    value_range = _check_value_range(value_range)
    raw = _read_source(dataset)
    if raw.value_range != "auto":
        if value_range != "auto" and value_range != raw.value_range:
            raise ValueError(
                f"value_range={value_range} conflicts with the known range "
                f"{raw.value_range} of dataset {raw.name!r}; leave "
                "value_range='auto' for named datasets."
            )
        value_range = raw.value_range

    images = _as_nhwc(raw.images)
    _check_finite(images)
    images = _rescale(images, value_range)
    if image_shape is not None:
        _check_image_shape(images, image_shape)
    class_names = raw.class_names
    if labels is None:
        labels = raw.labels
    else:
        class_names = None  # the source's names describe its own labels
    if labels is not None:
        labels = _validate_labels(labels, len(images))

    train_idx, eval_idx = _split_indices(len(images), eval_fraction, seed)
    min_train = 2 if min_images is None else _check_min_images(min_images)
    if len(train_idx) < min_train:
        raise ValueError(
            f"Too few images: {len(images)} in total leaves {len(train_idx)} "
            f"for training after holding out eval_fraction={eval_fraction}, "
            f"but at least {min_train} are needed (min_images). Provide more "
            "images, lower eval_fraction, or lower the batch size."
        )
    return ImageData(
        train=images[train_idx], eval=images[eval_idx],
        train_labels=None if labels is None else labels[train_idx],
        eval_labels=None if labels is None else labels[eval_idx],
        name=raw.name, class_names=class_names,
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
            hasattr(dataset, "__array__")
            and not isinstance(dataset, (list, tuple, dict))):
        return _RawImages(np.asarray(dataset), None, "array")
    hint = ""
    if isinstance(dataset, (list, tuple)):
        hint = (" For a list of images pass `np.stack(images)`; for "
                "(images, labels) pass `load_dataset(images, labels=labels)`.")
    raise TypeError(
        f"Cannot load a dataset from a {type(dataset).__name__}. Expected "
        f"{_ACCEPTED_KINDS}.{hint}"
    )


def _read_path(path):
    if not path.exists():
        if path.suffix == "" and len(path.parts) == 1:
            close = difflib.get_close_matches(str(path), KNOWN_DATASETS, n=1)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown dataset name {str(path)!r} (and no such file or "
                f"folder).{suggestion} Known names are "
                f"{list(KNOWN_DATASETS)}; otherwise pass {_ACCEPTED_KINDS}."
            )
        raise FileNotFoundError(
            f"No such file or folder: {path}. Expected {_ACCEPTED_KINDS}."
        )
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


def _pickle_error(path, error):
    return ValueError(
        f"Cannot read {path} without pickle ({error}). Save plain numeric "
        "arrays, e.g. `np.savez(path, x=images, y=labels)`."
    )


def _np_load(path):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        raise _pickle_error(path, error) from error


def _read_npz(path):
    with _np_load(path) as npz:
        keys = list(npz.files)

        def read(key):  # arrays load lazily, so pickle errors surface here
            try:
                return npz[key]
            except ValueError as error:
                raise _pickle_error(path, error) from error

        if not keys:
            raise ValueError(f"{path} holds no arrays; save images under 'x'.")
        if "x_train" in keys and "x_test" in keys:  # keras' mnist.npz layout
            images = np.concatenate([read("x_train"), read("x_test")])
            labels = None
            if "y_train" in keys and "y_test" in keys:
                labels = np.concatenate([read("y_train"), read("y_test")])
            return _RawImages(images, labels, path.stem)
        image_key = next((k for k in ("x", "images") if k in keys), keys[0])
        label_key = next((k for k in ("y", "labels") if k in keys), None)
        labels = None if label_key is None else read(label_key)
        return _RawImages(read(image_key), labels, path.stem)


def _is_tf_dataset(obj):
    # Checked by class name so that no TensorFlow import is needed.
    return any(cls.__module__.startswith("tensorflow")
               and cls.__name__ in ("DatasetV2", "DatasetV1")
               for cls in type(obj).__mro__)


def _read_tf_dataset(dataset):
    import tensorflow as tf

    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(
            "The tf.data.Dataset is infinite (it has .repeat()); pass a "
            "finite one, e.g. remove .repeat() or add .take(n)."
        )
    image_key, label_key = _element_keys(dataset.element_spec)
    image_spec = (dataset.element_spec if image_key is None
                  else dataset.element_spec[image_key])
    shape = image_spec.shape
    batched = shape.rank == 4 or (
        shape.rank == 3 and (shape[0] is None or shape[-1] not in (1, 2, 3, 4))
    )
    image_parts, label_parts = [], []
    for element in dataset.as_numpy_iterator():
        image_parts.append(np.asarray(
            element if image_key is None else element[image_key]))
        if label_key is not None:
            label_parts.append(np.asarray(element[label_key]))
    if not image_parts:
        raise ValueError("The tf.data.Dataset is empty; it yielded no images.")
    join = np.concatenate if batched else np.stack
    images = join(image_parts)
    labels = join(label_parts) if label_parts else None
    return _RawImages(images, labels, "tf.data")


def _element_keys(spec):
    """Where a tf.data element keeps its image and label.

    Returns:
        `(image_key, label_key)`: indices or dict keys into the element;
        `image_key` is `None` when the element is the image itself and
        `label_key` is `None` when there is no label.
    """
    if isinstance(spec, dict):
        image_key = next((k for k in ("image", "images", "x") if k in spec),
                         None)
        if image_key is None:
            raise ValueError(
                f"The tf.data.Dataset yields dicts with keys {sorted(spec)}; "
                "expected an 'image' key (and optionally 'label'). Map it to "
                "(image, label) pairs with `.map(...)`."
            )
        label_key = next((k for k in ("label", "labels", "y") if k in spec),
                         None)
        return image_key, label_key
    if isinstance(spec, (tuple, list)):
        if len(spec) not in (1, 2):
            raise ValueError(
                f"The tf.data.Dataset yields {len(spec)}-tuples; expected "
                "images or (image, label) pairs."
            )
        return 0, (1 if len(spec) == 2 else None)
    return None, None


def _read_folder(folder):
    from PIL import Image

    files = _list_image_files(folder)
    (width, height), target_mode = _common_size_and_mode(files)
    channels = len(target_mode)
    images = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert(target_mode))
        images[i] = pixels.reshape(height, width, channels)
    labels, class_names = _folder_labels(folder, files)
    return _RawImages(images, labels, folder.name, class_names=class_names)


def _list_image_files(folder):
    """PNG/JPEG files under `folder`, recursively, sorted, hidden skipped."""
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".")
                    for part in p.relative_to(folder).parts)
    )
    if not files:
        raise ValueError(
            f"No PNG/JPEG images found under {folder} (searched recursively "
            f"for {', '.join(IMAGE_EXTENSIONS)}). Pass the folder that holds "
            "the images, or convert them to PNG first."
        )
    return files


def _common_size_and_mode(files):
    """Checks that all images share one size; picks the Pillow mode to load.

    Reads headers only, so a size mismatch is reported before any decoding.
    Grayscale stays "L"; a folder with any colour image is loaded as "RGB"
    (grayscale images are promoted losslessly); any alpha gives "RGBA".

    Returns:
        `((width, height), mode)`.
    """
    from PIL import Image

    first_size, any_alpha, all_gray = None, False, True
    for path in files:
        try:
            with Image.open(path) as image:
                size, mode, info = image.size, image.mode, image.info
        except OSError as error:
            raise ValueError(
                f"Cannot read the image {path}: {error}. Remove or re-save it."
            ) from error
        if first_size is None:
            first_size = size
        elif size != first_size:
            (w0, h0), (w1, h1) = first_size, size
            raise ValueError(
                "All images must have the same size, but "
                f"{files[0]} is {w0}x{h0} and {path} is {w1}x{h1} (width x "
                "height). Resize them to one size first, e.g. with Pillow "
                f"`Image.open(p).resize(({w0}, {h0})).save(p)`."
            )
        if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            raise ValueError(
                f"{path} is a 16-bit or float image (mode {mode}), which is "
                "not supported; convert the images to 8-bit PNG."
            )
        any_alpha |= mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            "transparency" in info)
        all_gray &= mode in ("1", "L", "LA", "La")
    mode = "RGBA" if any_alpha else "L" if all_gray else "RGB"
    return first_size, mode


def _folder_labels(folder, files):
    """Labels from top-level subfolder names, when there are several.

    Returns:
        `(labels, class_names)`, or `(None, None)` with 0 or 1 subfolders.
    """
    relative = [path.relative_to(folder).parts for path in files]
    class_names = sorted({parts[0] for parts in relative if len(parts) > 1})
    if len(class_names) < 2:
        return None, None
    loose = [path for path, parts in zip(files, relative) if len(parts) == 1]
    if loose:
        raise ValueError(
            f"{folder} has class subfolders {class_names} but also "
            f"{len(loose)} image(s) directly inside it (e.g. {loose[0]}); "
            "move them into a class subfolder or into a folder of their own."
        )
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[parts[0]] for parts in relative], dtype=np.int64)
    return labels, tuple(class_names)


def _read_named(name):
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        # Pixel values are counts 0..16 (4x4 blocks of a 32x32 bitmap).
        return _RawImages(digits.images.astype(np.float32), digits.target,
                          "digits", value_range=(0.0, 16.0),
                          class_names=tuple(str(i) for i in range(10)))

    import keras

    loader = getattr(keras.datasets, name).load_data
    try:
        (x_train, y_train), (x_test, y_test) = loader()
    except Exception as error:  # keras raises a bare Exception offline
        if not _looks_like_network_error(error):
            raise
        raise RuntimeError(_offline_message(name, error)) from error
    images = np.concatenate([x_train, x_test])
    labels = np.concatenate([np.reshape(y_train, (-1,)),
                             np.reshape(y_test, (-1,))])
    return _RawImages(images, labels, name)


def _looks_like_network_error(error):
    import socket
    import urllib.error

    network_types = (urllib.error.URLError, ConnectionError, TimeoutError,
                     socket.gaierror)
    return isinstance(error, network_types) or "URL fetch failure" in str(
        error)


def _offline_message(name, error):
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras")
    cached = os.path.join(keras_home, _KERAS_CACHE_FILES[name])
    return (
        f"Could not download the {name!r} dataset: this machine appears to "
        f"be offline ({error}). Either\n"
        f"  1. on a machine with internet run `python -c \"import keras; "
        f"keras.datasets.{name}.load_data()\"` and copy what it downloads "
        f"into {cached} here (keras looks there before downloading; "
        "$KERAS_HOME overrides ~/.keras), or\n"
        "  2. convert the data to a .npz file (`np.savez(path, x=images, "
        "y=labels)`) or to a folder of PNG images, copy it here and pass "
        "its path to load_dataset, or\n"
        "  3. use load_dataset('digits'), which needs no download."
    )


# ----------------------------------------------------------------------------
# Validation and conversion
# ----------------------------------------------------------------------------


def _check_eval_fraction(eval_fraction):
    if not isinstance(eval_fraction, (int, float)) or not (
            0.0 < eval_fraction < 1.0):
        raise ValueError(
            f"eval_fraction must be a number strictly between 0 and 1 (the "
            "share of images held out for evaluation); got "
            f"{eval_fraction!r}. "
            "A typical value is 0.2."
        )


def _check_value_range(value_range):
    if isinstance(value_range, str) and value_range == "auto":
        return value_range
    try:
        if isinstance(value_range, str):
            raise TypeError(value_range)
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"value_range must be 'auto' or a (low, high) pair such as "
            f"(0, 255); got {value_range!r}."
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"value_range must be a finite (low, high) pair with low < high; "
            f"got {value_range!r}."
        )
    return (low, high)


def _check_min_images(min_images):
    if isinstance(min_images, bool) or not isinstance(
            min_images, (int, np.integer)) or min_images < 2:
        raise ValueError(
            f"min_images must be an integer >= 2 (e.g. 2 x batch size); got "
            f"{min_images!r}."
        )
    return int(min_images)


def _as_nhwc(images):
    if images.dtype == object or not (
            np.issubdtype(images.dtype, np.number) or images.dtype == bool):
        raise ValueError(
            f"Images must be numeric; got an array of dtype {images.dtype}. "
            "Stack the images into one numeric array first."
        )
    if images.ndim == 3:
        images = images[..., np.newaxis]  # (N, H, W) grayscale
    elif images.ndim != 4:
        if images.ndim == 2:
            hint = (" A 2-D array looks like flattened images; reshape it "
                    "to (N, H, W) or (N, H, W, C).")
        else:
            hint = (" Reshape it, or drop extra axes with `np.squeeze`, to "
                    "get (N, H, W) or (N, H, W, C).")
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
            hint = (" The array looks channels-first (N, C, H, W); transpose "
                    "it with `np.transpose(x, (0, 2, 3, 1))`.")
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
                warnings.warn(
                    f"The images lie in [{low:g}, {high:g}], within [0, 1]; "
                    "they are used as [-1, 1] data. If they are [0, 1] data, "
                    "pass value_range=(0, 1).", stacklevel=3)
            return images.astype(np.float32, copy=False)
        else:
            if low >= 0.0 and high <= 255.0:
                guess = ("looks like 0-255 data; pass value_range=(0, 255)"
                         " to load_dataset, or rescale it with "
                         "`x / 127.5 - 1` (kgan_nas.search takes images "
                         "in [-1, 1] or uint8)")
            else:
                guess = ("is not in [-1, 1]; pass value_range=(low, high) "
                         "with the true range of your data, or rescale it "
                         "to [-1, 1] yourself")
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
        hint = (" One-hot labels? Pass `labels.argmax(axis=-1)`."
                if labels.ndim == 2 else "")
        raise ValueError(
            f"Labels have shape {labels.shape} but there are {num_images} "
            "images; pass exactly one integer label per image, shape "
            f"({num_images},).{hint}"
        )
    if not (np.issubdtype(labels.dtype, np.integer)
            or (np.issubdtype(labels.dtype, np.floating)
                and np.all(np.isfinite(labels))
                and np.all(labels == np.round(labels)))):
        raise ValueError(
            f"Labels must be integers; got dtype {labels.dtype}. Map class "
            "names to 0..K-1 first."
        )
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"Labels must be non-negative class indices; got minimum "
            f"{labels.min()}. Map them to 0..K-1."
        )
    return labels.astype(np.int64)


def _split_indices(num_images, eval_fraction, seed):
    if num_images < 4:
        raise ValueError(
            f"Too few images: got {num_images}, but at least 4 are needed (2 "
            "for training and 2 for evaluation)."
        )
    num_eval = min(max(round(num_images * eval_fraction), 2), num_images - 2)
    order = np.random.default_rng(seed).permutation(num_images)
    return order[num_eval:], order[:num_eval]


# ----------------------------------------------------------------------------
# Training input
# ----------------------------------------------------------------------------


def train_input(images, batch_size, *, seed=0):
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

    Returns:
        An infinite dataset accepted by `keras.Model.fit`.

    Raises:
        ValueError: if `batch_size` is not a positive integer or exceeds the
            number of images, or `images` is not (N, H, W, C).
    """
    images = _check_batch_input(images, batch_size)
    import keras

    if keras.backend.backend() == "tensorflow":
        return _tf_train_input(images, batch_size, seed)
    return _shuffled_image_batches_class()(images, batch_size, seed=seed)


def _check_batch_input(images, batch_size):
    if isinstance(images, ImageData):
        images = images.train
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            f"images must be shaped (N, H, W, C); got shape {images.shape}. "
            "Load them with `load_dataset` first."
        )
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"batch_size must be a positive integer; got {batch_size!r}."
        )
    if batch_size > len(images):
        raise ValueError(
            f"batch_size={batch_size} is larger than the {len(images)} "
            "training images, so not one full batch can be formed; use a "
            f"batch size of at most {len(images)} or more images."
        )
    return images


def _tf_train_input(images, batch_size, seed):
    import tensorflow as tf

    num_images = len(images)
    # Keep the images in host memory: tf.data runs on the CPU, and a GPU copy
    # would be gathered back to the host for every batch.
    with tf.device("/cpu:0"):
        table = tf.constant(images)
    # Shuffle indices rather than images: the shuffle buffer then holds
    # int64s, not a second copy of the dataset.
    return (
        tf.data.Dataset.range(num_images)
        .shuffle(num_images, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .map(lambda index: tf.gather(table, index),
             num_parallel_calls=tf.data.AUTOTUNE)
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
            **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`,
                passed to `keras.utils.PyDataset`.

        Raises:
            ValueError: if `batch_size` exceeds the number of images.
        """

        def __init__(self, images, batch_size, seed=0, **kwargs):
            super().__init__(**kwargs)
            self.images = _check_batch_input(images, batch_size)
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
            """Returns batch `index`, a float32 array (batch_size, H, W, C)."""
            num_images = len(self.images)
            positions = np.arange(index * self.batch_size,
                                  (index + 1) * self.batch_size)
            passes, offsets = np.divmod(positions, num_images)
            picked = np.empty(self.batch_size, dtype=np.int64)
            for pass_index in np.unique(passes):
                mask = passes == pass_index
                picked[mask] = self._permutation(int(pass_index))[
                    offsets[mask]]
            return self.images[picked]

    # Name it as a module attribute (see `__getattr__`) so pickle finds it.
    ShuffledImageBatches.__module__ = __name__
    ShuffledImageBatches.__qualname__ = "ShuffledImageBatches"
    return ShuffledImageBatches


def __getattr__(name):
    # `ShuffledImageBatches` subclasses keras.utils.PyDataset, so it is built
    # on first access to keep `import kgan_nas.data` free of Keras.
    if name == "ShuffledImageBatches":
        return _shuffled_image_batches_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------
# Image output
# ----------------------------------------------------------------------------


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


def save_image_grid(images, path, *, nrow=None, min_cell_size=32,
                    padding=2):
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
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) \
            or nrow < 1:
        raise ValueError(f"nrow must be a positive integer; got {nrow!r}.")
    nrow = min(int(nrow), count)
    rows = math.ceil(count / nrow)
    scale = max(1, math.ceil(min_cell_size / min(height, width)))
    cell_h, cell_w = height * scale, width * scale

    canvas = np.full((rows * (cell_h + padding) + padding,
                      nrow * (cell_w + padding) + padding, channels),
                     255, dtype=np.uint8)
    for i, image in enumerate(images):
        row, col = divmod(i, nrow)
        top = padding + row * (cell_h + padding)
        left = padding + col * (cell_w + padding)
        canvas[top:top + cell_h, left:left + cell_w] = np.repeat(
            np.repeat(image, scale, axis=0), scale, axis=1)

    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]  # for the check
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    assert picture.mode == mode, (picture.mode, mode)
    path = Path(path)
    atomic_write(path, lambda f: picture.save(f, format="PNG"))
    return path
