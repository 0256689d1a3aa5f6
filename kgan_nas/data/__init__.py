"""Image datasets: loading, validation, train/eval split, input pipelines.

Everything the search trains on or measures against goes through
`load_dataset`, which accepts arrays, `tf.data` pipelines, `.npz` files, image
folders and a few dataset names, validates them and returns an `ImageData`:
float32 NHWC images in [-1, 1], split into a training part (what the GANs
see) and an evaluation part (the real images the metrics compare against).

The package's modules, each with one job:

- `image_data`: the `ImageData` container, its fingerprint and file format;
- `load`: `load_dataset`, which dispatches to the readers and splits;
- `sources`: `KNOWN_DATASETS` and what a reader returns;
- `numpy_files`, `tf_dataset`, `folders`, `named`: one reader each;
- `validate`: checks of images, labels and settings, and rescaling;
- `pipeline`: `train_input` and `ShuffledImageBatches`;
- `grid`: `to_uint8` and `save_image_grid`.

Only numpy is imported at module level. Keras, TensorFlow and Pillow are
imported inside the functions that need them, so this package also imports
under `KERAS_BACKEND=jax` on a machine without TensorFlow.
"""

from kgan_nas.data import pipeline as _pipeline
from kgan_nas.data.folders import IMAGE_EXTENSIONS
from kgan_nas.data.grid import save_image_grid
from kgan_nas.data.grid import to_uint8
from kgan_nas.data.image_data import ImageData
from kgan_nas.data.load import load_dataset
from kgan_nas.data.pipeline import train_input
from kgan_nas.data.sources import KNOWN_DATASETS

# `ShuffledImageBatches` is public too, but built lazily (see `__getattr__`);
# it is left out of `__all__` so that `import *` does not import Keras.
__all__ = [
    "IMAGE_EXTENSIONS",
    "KNOWN_DATASETS",
    "ImageData",
    "load_dataset",
    "save_image_grid",
    "to_uint8",
    "train_input",
]


def __getattr__(name):
    # `ShuffledImageBatches` subclasses keras.utils.PyDataset, so it is built
    # on first access to keep `import kgan_nas.data` free of Keras.
    if name == "ShuffledImageBatches":
        return _pipeline._shuffled_image_batches_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
