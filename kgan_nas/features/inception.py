"""`InceptionExtractor`: Keras' ImageNet InceptionV3 as a feature extractor.

Also where its weights come from: the Keras cache (`~/.keras/models/`), a
download, or a local file, with a message that says how to work offline when
the download fails.
"""

import os

import keras
import numpy as np

from kgan_nas import validate
from kgan_nas.features.base import FeatureExtractor
from kgan_nas.features.base import _as_channels_last

__all__ = ["InceptionExtractor"]

# Where Keras keeps the ImageNet weights, and how it names and checks them
# (md5 of the published file; the same values `keras.applications` uses).
_INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
_INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/" + _INCEPTION_WEIGHTS_FILE
)
_INCEPTION_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"
_INCEPTION_MIN_SIZE = 75  # InceptionV3's stem needs at least 75x75 pixels.


def _keras_models_dir():
    """The folder where `keras.utils.get_file` caches application weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def _offline_weights_message(error):
    folder = _keras_models_dir()
    return (
        "Could not get the ImageNet InceptionV3 weights: the download "
        f"failed ({error}). To use InceptionExtractor offline, download "
        f"{_INCEPTION_WEIGHTS_FILE!r} on a machine with internet (from "
        f"{_INCEPTION_WEIGHTS_URL}) and either copy it to "
        f"{os.path.join(folder, _INCEPTION_WEIGHTS_FILE)} (i.e. into "
        "~/.keras/models/, where Keras looks for it) or pass "
        "`InceptionExtractor(weights='/path/to/"
        f"{_INCEPTION_WEIGHTS_FILE}')`. Without these weights, use the domain "
        "extractor instead: `get_extractor('domain', images=real_images)` "
        "(metrics named *_domain), which trains on your data and needs no "
        "download."
    )


def _resolve_inception_weights(weights):
    """Returns a local weights path for "imagenet" or a user path."""
    if weights == "imagenet":
        try:
            return keras.utils.get_file(
                _INCEPTION_WEIGHTS_FILE,
                _INCEPTION_WEIGHTS_URL,
                cache_subdir="models",
                file_hash=_INCEPTION_WEIGHTS_MD5,
            )
        except Exception as exc:  # urllib/Keras raise bare Exception offline
            raise RuntimeError(_offline_weights_message(exc)) from exc
    if isinstance(weights, (str, os.PathLike)):
        path = os.path.expanduser(os.fspath(weights))
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"InceptionV3 weights file not found: {path!r}. Pass an "
                "existing file (e.g. "
                f"{_INCEPTION_WEIGHTS_FILE!r} or a `.weights.h5` file) or "
                "weights='imagenet'."
            )
        return path
    raise ValueError(
        f"`weights` must be 'imagenet' or the path to an InceptionV3 weights file, got {weights!r}."
    )


class InceptionExtractor(FeatureExtractor):
    """Keras InceptionV3 pool features and ImageNet softmax ("inception").

    Features are the 2048-d global-average-pool output (the input of the
    "predictions" layer); probabilities are the 1000-way ImageNet softmax.
    Images in [-1, 1] (already InceptionV3's input scale) are resized
    bilinearly to `resize_to` x `resize_to` without antialiasing, and
    grayscale images are repeated to three channels. The resize is a layer of
    the one two-output Keras model, so whole batches run compiled.

    Differences from the reference FID (TTUR, TF `inception-2015-12-05`
    graph `classify_image_graph_def.pb`, layer `pool_3`):

    - Different weights: the Keras ImageNet InceptionV3 checkpoint is a
      different network from the 2015 graph, so features differ.
    - Different preprocessing: the graph takes [0, 255] pixels and resizes
      them with TF1's `ResizeBilinear` op (legacy pixel-centre convention)
      before scaling to [-1, 1]; here the backend's bilinear resize
      (half-pixel centres) runs on [-1, 1] data. Neither antialiases.

    Hence `fid_inception` is NOT comparable with published FID numbers; it is
    comparable only with itself at the same `resize_to` and sample count.
    Known limitation: the reference `.pb` graph is not supported, because
    loading it needs TensorFlow 1 graph machinery, which is not
    backend-neutral.

    Example:

    ```python
    extractor = InceptionExtractor()          # downloads once, then cached
    feats, probs = extractor.features_and_probabilities(images)
    ```

    Args:
        weights: `"imagenet"` (downloaded by Keras to `~/.keras/models/`
            on first use) or the path to a local InceptionV3 weights file
            (`.h5` legacy or `.weights.h5`) of the model with its top.
            Defaults to `"imagenet"`.
        resize_to: Side length the network sees; at least 75. Defaults to
            299 (the usual FID setting); 75 is a cheap proxy for tests.

    Raises:
        RuntimeError: If `weights="imagenet"`, the file is not cached, and
            the download fails (e.g. offline); the message says how to
            supply the file.
        FileNotFoundError: If `weights` is a path that does not exist.
        ValueError: If `weights` or `resize_to` is invalid.
    """

    name = "inception"

    def __init__(self, weights="imagenet", *, resize_to=299):
        _as_channels_last()
        if not validate.is_integer(resize_to) or resize_to < _INCEPTION_MIN_SIZE:
            raise ValueError(
                f"`resize_to` must be an int >= {_INCEPTION_MIN_SIZE} "
                f"(InceptionV3's minimum input size), got {resize_to!r}."
            )
        path = _resolve_inception_weights(weights)
        self.weights = weights
        self.resize_to = resize_to
        # Pool and classifier weights do not depend on the input size, so
        # the ImageNet weights load into a network built for `resize_to`.
        network = keras.applications.InceptionV3(
            include_top=True,
            weights=None,
            input_shape=(resize_to, resize_to, 3),
        )
        network.load_weights(path)
        pool_and_softmax = keras.Model(
            network.inputs,
            [network.get_layer("avg_pool").output, network.outputs[0]],
            name="inception_v3_two_outputs",
        )
        # One model for inputs of any size, resizing inside it so that whole
        # batches run compiled; grayscale becomes RGB before (`_predict`).
        inputs = keras.Input(shape=(None, None, 3), name="images")
        resized = keras.layers.Resizing(
            resize_to,
            resize_to,
            interpolation="bilinear",
            antialias=False,
            name="resize",
        )(inputs)
        self._model = keras.Model(inputs, pool_and_softmax(resized), name="inception_features")

    @property
    def feature_dim(self):
        return int(self._model.outputs[0].shape[-1])

    @property
    def num_classes(self):
        return int(self._model.outputs[1].shape[-1])

    def _check_image_shape(self, image_shape):
        if image_shape[-1] not in (1, 3):
            raise ValueError(
                "InceptionExtractor needs grayscale (1) or RGB (3) channels, "
                f"got {image_shape[-1]} (image shape {tuple(image_shape)})."
            )

    def _predict(self, images, batch_size):
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        features, probabilities = self._model.predict(images, batch_size=batch_size, verbose=0)
        return features, probabilities
