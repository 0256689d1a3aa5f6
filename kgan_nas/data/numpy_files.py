"""Reading `.npz` and `.npy` files of images, never with pickle."""

from __future__ import annotations

import numpy as np

from kgan_nas.data.sources import _RawImages


def _pickle_error(path, error):
    return ValueError(
        f"Cannot read {path} without pickle ({error}). Save plain numeric "
        "arrays, e.g. `np.savez(path, x=images, y=labels)`."
    )


# How the files numpy writes begin: `.npz` is a zip archive, `.npy` a magic string.
_NUMPY_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")


def _np_load(path):
    with open(path, "rb") as stream:
        head = stream.read(6)
    if not head.startswith(_NUMPY_MAGIC):
        # numpy would call any other file pickled data, which misleads.
        raise ValueError(
            f"{path} is not a numpy file: it does not begin like an .npz archive or an .npy "
            "array (an empty, text or renamed file?). Save the images with "
            "`np.savez(path, x=images, y=labels)`."
        )
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
