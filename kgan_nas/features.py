"""Feature extractors that turn images into the inputs of FID, KID and IS.

An extractor maps float32 NHWC images in [-1, 1] to two arrays:

- `features`: an `(N, d)` float64 embedding (for FID and KID);
- `probabilities`: an `(N, k)` float64 softmax over classes (for IS).

Two extractors exist, and every metric is named after the one that produced
it (`extractor.metric_suffix`), so `fid_domain` is never confused with
`fid_inception`:

- `DomainExtractor` ("domain"): a small convnet classifier trained on the real
  data itself. It works offline and on tiny images (8x8 digits, 28x28
  MNIST), where an ImageNet network sees mostly upsampling blur. Its scores
  rank candidates within one run but mean nothing outside it.
- `InceptionExtractor` ("inception"): Keras' ImageNet InceptionV3 pool and
  softmax outputs. Closer to the usual protocol, yet still not comparable
  with published FID (see its docstring).

The maths on these arrays lives in `kgan_nas.metrics`; this module only
produces them. Everything here is plain Keras 3 and works under any
backend; this module never imports TensorFlow.
"""

import abc
import hashlib
import inspect
import json
import os
import re
import shutil
import uuid
import zipfile

import numpy as np

import keras

from kgan_nas.atomic import atomic_save_model
from kgan_nas.atomic import atomic_write_text
from kgan_nas.cache import cache_key
from kgan_nas.cache import cache_root
from kgan_nas.cache import canonical_json
from kgan_nas.cache import package_version

__all__ = [
    "FeatureExtractor",
    "DomainExtractor",
    "InceptionExtractor",
    "get_extractor",
    "data_fingerprint",
    "default_cache_dir",
    "kmeans_pseudo_labels",
]

# Real images and tanh generators stay inside [-1, 1]; the slack only absorbs
# rounding (e.g. from bfloat16), while [0, 1] or [0, 255] data is rejected.
_RANGE_TOLERANCE = 1e-2

# Where Keras keeps the ImageNet weights, and how it names and checks them
# (md5 of the published file; the same values `keras.applications` uses).
_INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
_INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/" + _INCEPTION_WEIGHTS_FILE
)
_INCEPTION_WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"
_INCEPTION_MIN_SIZE = 75  # InceptionV3's stem needs at least 75x75 pixels.

_FEATURE_LAYER = "features"
_FINGERPRINT_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")

# A `for_data` cache entry is the folder `<cache_dir>/<key>/` holding these two files.
_ENTRY_MODEL = "extractor.keras"
_ENTRY_SIDECAR = "extractor.json"
# Part of every cache key; raise it when the entry layout or its meaning changes
# (1 was the flat `<fingerprint>.keras` file, whose key covered the data only).
_CACHE_FORMAT = 2
# `fit` arguments that change what is printed, not the trained model: not in the key.
_VERBOSITY_SETTINGS = frozenset({"verbose"})
# How often `for_data` retries to put its entry in place while others replace it.
_PUBLISH_ATTEMPTS = 3


class FeatureExtractor(abc.ABC):
    """Maps images to features (for FID/KID) and class probabilities (for IS).

    Subclasses implement `_predict` and `_check_image_shape`; this base class
    validates the input and converts the outputs to float64.

    Attributes:
        name: Short identifier, e.g. `"domain"` or `"inception"`.
    """

    name = "abstract"

    @property
    def metric_suffix(self):
        """Suffix for metric keys computed with this extractor.

        Callers name metrics `f"fid_{extractor.metric_suffix}"`, so that
        domain and Inception scores can never be mixed up.

        Returns:
            The string `name`, e.g. `"domain"` or `"inception"`.
        """
        return self.name

    @property
    @abc.abstractmethod
    def feature_dim(self):
        """Length `d` of one feature vector."""

    @property
    @abc.abstractmethod
    def num_classes(self):
        """Number `k` of classes in `probabilities`."""

    def features(self, images, *, batch_size=256):
        """Embeds images for FID and KID.

        Args:
            images: float32 array `(N, H, W, C)` with values in [-1, 1].
            batch_size: Images per forward pass. Defaults to 256.

        Returns:
            float64 array of shape `(N, feature_dim)`.

        Raises:
            ValueError: If `images` has the wrong rank, shape or channel
                count, is empty, holds NaN/inf, or lies outside [-1, 1].
        """
        return self.features_and_probabilities(images, batch_size=batch_size)[0]

    def probabilities(self, images, *, batch_size=256):
        """Class probabilities for the Inception Score.

        Args:
            images: float32 array `(N, H, W, C)` with values in [-1, 1].
            batch_size: Images per forward pass. Defaults to 256.

        Returns:
            float64 array of shape `(N, num_classes)` whose rows sum to 1.

        Raises:
            ValueError: As for `features`.
        """
        return self.features_and_probabilities(images, batch_size=batch_size)[1]

    def features_and_probabilities(self, images, *, batch_size=256):
        """Computes features and probabilities in a single pass.

        Args:
            images: float32 array `(N, H, W, C)` with values in [-1, 1].
            batch_size: Images per forward pass. Defaults to 256.

        Returns:
            A tuple `(features, probabilities)` of float64 arrays with shapes
            `(N, feature_dim)` and `(N, num_classes)`.

        Raises:
            ValueError: As for `features`, or if `batch_size` is not a
                positive integer.
        """
        images = _validate_images(images)
        self._check_image_shape(images.shape[1:])
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
                or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive int, got {batch_size!r}."
            )
        num_images = len(images)
        images, batch_size = _pad_to_equal_batches(images, batch_size)
        features, probabilities = self._predict(images, batch_size)
        features = np.asarray(features[:num_images], dtype=np.float64)
        probabilities = np.asarray(probabilities[:num_images],
                                   dtype=np.float64)
        # float32 softmax rows sum to 1 only up to ~1e-7; IS takes logs of
        # these, so renormalise in float64.
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return features, probabilities

    @abc.abstractmethod
    def _predict(self, images, batch_size):
        """Returns `(features, probabilities)` for validated images."""

    @abc.abstractmethod
    def _check_image_shape(self, image_shape):
        """Raises ValueError if `(H, W, C)` does not suit this extractor."""

    def __repr__(self):
        return (
            f"{type(self).__name__}(name={self.name!r}, "
            f"feature_dim={self.feature_dim}, num_classes={self.num_classes})"
        )


def _pad_to_equal_batches(images, batch_size):
    """Splits N images into equal batches of at most `batch_size`.

    Pads by repeating the last image (fewer than one image per batch), so
    every forward pass has the same shape: XLA (always under JAX) compiles
    once per shape, and a short last batch would compile a second program.

    Returns:
        The padded images and the batch size to use.
    """
    num_batches = -(-len(images) // batch_size)
    batch_size = -(-len(images) // num_batches)
    padding = num_batches * batch_size - len(images)
    if padding:
        images = np.concatenate([images, np.repeat(images[-1:], padding, 0)])
    return images, batch_size


def _validate_images(images):
    """Checks an image batch and returns it as a float32 numpy array."""
    try:
        array = np.asarray(images)
    except Exception as exc:  # e.g. a ragged list
        raise ValueError(
            "`images` must be an array of shape (N, H, W, C); could not "
            f"convert {type(images).__name__} to one ({exc})."
        ) from exc
    if array.ndim != 4:
        raise ValueError(
            f"`images` must have rank 4 (N, H, W, C), got shape {array.shape}."
            " Add a channel axis for grayscale, e.g. `images[..., None]`."
        )
    if array.shape[0] == 0:
        raise ValueError("`images` is empty; pass at least one image.")
    if not (np.issubdtype(array.dtype, np.floating)
            or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            f"`images` must hold numbers, got dtype {array.dtype}."
        )
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(
            "`images` contains NaN or inf values. Generated samples from a "
            "diverged model cannot be scored; check the generator."
        )
    low, high = float(array.min()), float(array.max())
    if low < -1.0 - _RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise ValueError(
            f"`images` must lie in [-1, 1], got values in [{low:g}, {high:g}]."
            " Rescale first, e.g. `x / 127.5 - 1` for uint8 pixels."
        )
    return array


def _as_channels_last():
    """Raises unless Keras uses NHWC, which every model here assumes."""
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "kgan_nas feature extractors need NHWC images, but Keras is set "
            f"to {keras.config.image_data_format()!r}. Call "
            "`keras.config.set_image_data_format('channels_last')`."
        )


# --------------------------------------------------------------------------
# Domain classifier
# --------------------------------------------------------------------------


def data_fingerprint(images, labels=None):
    """Short content hash of a data set, used as its extractor cache key.

    Args:
        images: Array of images.
        labels: Optional labels; included so that supervised and k-means
            extractors for the same images get different keys.

    Returns:
        The first 16 hex characters of the sha256 of the arrays' shapes,
        dtypes and bytes.
    """
    digest = hashlib.sha256()
    for array in (images,) if labels is None else (images, labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}|{array.dtype.str}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def default_cache_dir():
    """Folder where `DomainExtractor.for_data` caches trained extractors.

    Returns:
        `os.path.join(kgan_nas.cache.cache_root(), "extractors")`: i.e.
        `$KGAN_NAS_CACHE/extractors` when the environment variable
        `KGAN_NAS_CACHE` is set and non-empty, else `~/.cache/kgan_nas/extractors`.
    """
    return os.path.join(cache_root(), "extractors")


def _fit_settings(fit, fit_kwargs):
    """The keyword arguments `fit` will run with: its defaults, overridden by `fit_kwargs`.

    Read from the signature, so a new `fit` argument or a changed default enters the
    cache key without anyone remembering to add it. Verbosity is left out.

    Args:
        fit: The (bound) `fit` classmethod that would train the extractor.
        fit_kwargs: Keyword arguments the caller passes on to `fit`.

    Returns:
        Dict from argument name to value.

    Raises:
        TypeError: If `fit_kwargs` names an argument `fit` does not take; raised
            here so that a cache hit cannot hide a misspelt setting.
    """
    parameters = inspect.signature(fit).parameters.values()
    settings = {
        parameter.name: parameter.default for parameter in parameters
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is not parameter.empty
    }
    takes_any_keyword = any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters)
    unknown = sorted(set(fit_kwargs) - set(settings))
    if unknown and not takes_any_keyword:
        raise TypeError(
            f"`DomainExtractor.fit` got unexpected keyword arguments {unknown}; it takes "
            f"{sorted(settings)}."
        )
    settings.update(fit_kwargs)
    return {name: value for name, value in settings.items()
            if name not in _VERBOSITY_SETTINGS}


def _runtime_facts():
    """Versions and backend that shape a trained extractor and its saved file."""
    return {
        "kgan_nas_version": package_version(),
        "keras_version": keras.__version__,
        "keras_backend": keras.backend.backend(),
    }


def _extractor_cache_facts(fingerprint, fit_settings):
    """Everything a cached domain extractor depends on, as JSON-ready values.

    The feature size is the `feature_dim` fit setting, and the network layout is
    fixed by the kgan_nas version, so both are covered.

    Args:
        fingerprint: Identity of the training data.
        fit_settings: Result of `_fit_settings`.

    Returns:
        Dict with the cache format, data fingerprint, fit settings and
        `_runtime_facts()`, normalised through `canonical_json` so that it can be
        stored in the sidecar exactly as it was hashed.
    """
    facts = {
        "cache_format": _CACHE_FORMAT,
        "data_fingerprint": fingerprint,
        "fit_settings": fit_settings,
        **_runtime_facts(),
    }
    return json.loads(canonical_json(facts))


def _checked_fingerprint(fingerprint, images, labels):
    """The caller's data fingerprint, or one computed from the data."""
    if fingerprint is None:
        return data_fingerprint(images, labels)
    if not isinstance(fingerprint, str) or not _FINGERPRINT_PATTERN.match(fingerprint):
        raise ValueError(
            "`fingerprint` must be a plain file name (letters, digits, "
            f"'_', '-', '.'), got {fingerprint!r}."
        )
    return fingerprint


def _read_sidecar(path):
    """The sidecar's content, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as stream:
            sidecar = json.load(stream)
    except (OSError, ValueError):
        return None
    return sidecar if isinstance(sidecar, dict) else None


def _remove_entry(entry, cache_dir, key):
    """Moves a cache folder aside (one atomic rename), then deletes it.

    Renaming first means no reader ever sees a half-deleted entry. A folder
    already gone (another process removed or replaced it) is not an error.
    """
    trash = os.path.join(cache_dir, f".removed-{key}-{os.getpid()}-{uuid.uuid4().hex}")
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _sidecar_path(model_path):
    """`foo.keras` -> `foo.json` (the metadata next to a saved extractor)."""
    return os.path.splitext(os.fspath(model_path))[0] + ".json"


def _downsample_for_clustering(images, max_side=16):
    """Block-averages images so k-means works on at most ~16x16 pixels."""
    factor = max(1, int(np.ceil(max(images.shape[1:3]) / max_side)))
    if factor > 1:
        height = images.shape[1] // factor * factor
        width = images.shape[2] // factor * factor
        n, _, _, channels = images.shape
        images = images[:, :height, :width].reshape(
            n, height // factor, factor, width // factor, factor, channels
        ).mean(axis=(2, 4))
    return images.reshape(len(images), -1)


def kmeans_pseudo_labels(images, *, num_clusters=10, seed=0,
                         max_fit_samples=20000):
    """Clusters images into pseudo-classes for the unlabeled domain extractor.

    Args:
        images: float32 array `(N, H, W, C)`.
        num_clusters: Number of pseudo-classes; capped at the number of
            distinct images. Defaults to 10.
        seed: Seed for the subsample and the k-means initialisation.
        max_fit_samples: k-means is fitted on at most this many images (a
            random subset) and then assigns all of them. Defaults to 20000.

    Returns:
        int array `(N,)` with values in `[0, clusters)`, every value used.

    Raises:
        ValueError: If fewer than two distinct images are given.
    """
    from sklearn.cluster import KMeans

    pixels = _downsample_for_clustering(np.asarray(images, np.float32))
    distinct = len(np.unique(pixels, axis=0))
    if distinct < 2:
        raise ValueError(
            "k-means pseudo-labels need at least two distinct images; pass "
            "more (and more varied) real images, or pass `labels`."
        )
    rng = np.random.default_rng(seed)
    subset = pixels
    if len(pixels) > max_fit_samples:
        subset = pixels[rng.choice(len(pixels), max_fit_samples, replace=False)]
    kmeans = KMeans(n_clusters=min(num_clusters, distinct), n_init=4,
                    random_state=seed)
    kmeans.fit(subset)
    clusters = kmeans.predict(pixels)
    # Renumber so that the labels are 0..k-1 even if a cluster stays empty.
    return np.unique(clusters, return_inverse=True)[1].reshape(-1)


def _build_domain_classifier(image_shape, num_classes, feature_dim):
    """Convnet sized to the image: halve the resolution down to ~4 pixels.

    Layout: a 3x3 stem conv (16 filters), one stride-2 conv per halving (at
    most three, doubling the filters up to 64), a 3x3 conv, global average
    pooling, a `feature_dim` dense layer named "features" (its
    pre-activation output is the embedding, which avoids the dead all-zero
    dimensions a ReLU output would give FID), ReLU, softmax.
    """
    height, width, channels = image_shape
    num_halvings = 0
    side = min(height, width)
    while side > 4 and num_halvings < 3:
        side = (side + 1) // 2
        num_halvings += 1

    # Narrow on purpose: the classifier must train in seconds on a CPU.
    filters = 16
    inputs = keras.Input(shape=(height, width, channels), name="images")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                            name="stem")(inputs)
    for index in range(num_halvings):
        filters = min(2 * filters, 64)
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same",
                                activation="relu", name=f"down{index}")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                            name="head_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(feature_dim, name=_FEATURE_LAYER)(x)
    x = keras.layers.Activation("relu", name="features_relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax",
                                 name="probabilities")(x)
    return keras.Model(inputs, outputs, name="domain_classifier")


def _split_holdout(num_samples, fraction, batch_size, seed):
    """Random (train, held-out) index split and the training batch size.

    The training part is trimmed to whole batches and the remainder joins
    the held-out part: every training step then has one shape, and under
    JAX each new shape would cost another XLA compilation.
    """
    order = np.random.default_rng(seed).permutation(num_samples)
    num_holdout = min(max(1, int(round(num_samples * fraction))),
                      num_samples - 1)
    num_train = num_samples - num_holdout
    batch_size = min(batch_size, num_train)
    num_train = num_train // batch_size * batch_size
    return order[:num_train], order[num_train:], batch_size


def _auto_epochs(num_train, batch_size, target_steps=400):
    """Enough epochs for about `target_steps` updates, within [3, 50]."""
    steps_per_epoch = int(np.ceil(num_train / batch_size))
    return int(np.clip(np.ceil(target_steps / steps_per_epoch), 3, 50))


class DomainExtractor(FeatureExtractor):
    """Features from a small convnet classifier trained on the real data.

    This is the offline default and the right choice for small images, where
    InceptionV3 would look at a blurry upsampled blob. Features are the
    pre-activation output of the classifier's penultimate dense layer (64
    units by default); probabilities are its softmax.

    Build one with `DomainExtractor.fit` (or `for_data`, which caches), not
    with the constructor, which only wraps an already trained classifier.

    Scores computed with it (`fid_domain`, `kid_domain`, ...) rank generators
    trained on the same data, but depend on this classifier, so they are not
    comparable across data sets, runs with other extractors, or papers.

    Example:

    ```python
    extractor = DomainExtractor.for_data(real_images, labels)
    real_features = extractor.features(real_images)
    ```

    Args:
        classifier: A `keras.Model` from images `(H, W, C)` to class
            probabilities with a layer named `"features"`.
        accuracy: Held-out accuracy measured during `fit`, if known.
        fingerprint: Fingerprint of the training data, if known.
        metadata: Extra JSON-serialisable facts kept in the sidecar file.

    Attributes:
        classifier: The wrapped `keras.Model`.
        image_shape: `(H, W, C)` the classifier expects.
        accuracy: Held-out accuracy (float in [0, 1]) or None. Without
            labels it is the agreement with the k-means pseudo-labels.
        fingerprint: Data fingerprint string or None.
        metadata: Dict of training facts (label source, epochs, seed, ...).

    Raises:
        ValueError: If `classifier` has no "features" layer or an input that
            is not `(H, W, C)`.
    """

    name = "domain"

    def __init__(self, classifier, *, accuracy=None, fingerprint=None,
                 metadata=None):
        _as_channels_last()
        input_shape = tuple(classifier.input_shape[1:])
        if len(input_shape) != 3 or None in input_shape:
            raise ValueError(
                "`classifier` must take images of a fixed shape (H, W, C); "
                f"its input shape is {classifier.input_shape}."
            )
        try:
            feature_layer = classifier.get_layer(_FEATURE_LAYER)
        except ValueError as exc:
            raise ValueError(
                f"`classifier` has no layer named {_FEATURE_LAYER!r}; build "
                "it with `DomainExtractor.fit`."
            ) from exc
        self.classifier = classifier
        self.image_shape = tuple(int(size) for size in input_shape)
        self.accuracy = None if accuracy is None else float(accuracy)
        self.fingerprint = fingerprint
        self.metadata = dict(metadata or {})
        self._two_outputs = keras.Model(
            classifier.inputs, [feature_layer.output, classifier.outputs[0]],
            name="domain_features",
        )

    @property
    def feature_dim(self):
        return int(self._two_outputs.outputs[0].shape[-1])

    @property
    def num_classes(self):
        return int(self.classifier.outputs[0].shape[-1])

    @classmethod
    def fit(cls, images, labels=None, *, epochs=None, seed=0, batch_size=64,
            feature_dim=64, validation_fraction=0.15, learning_rate=3e-3,
            num_clusters=10, verbose=0):
        """Trains a domain classifier on real images.

        With `labels`, training is supervised. Without them, the images are
        first clustered with scikit-learn `KMeans(n_clusters=num_clusters)`
        on their flattened pixels (block-averaged down to at most 16x16 per
        side) and the classifier learns those pseudo-labels; its features
        then reflect the main modes of the data rather than true classes.

        A random `validation_fraction` of the images is held out (plus the
        few left over when the rest is cut to whole batches, so that every
        training step has one shape) and the classifier's accuracy on it is
        stored as `accuracy`. Training calls
        `keras.utils.set_random_seed(seed)` (this also reseeds Python's,
        numpy's and the backend's global generators), so one seed gives the
        same extractor on the same backend and hardware, up to floating-point
        non-determinism of parallel kernels.

        Args:
            images: float32 array `(N, H, W, C)` in [-1, 1], N >= 2.
            labels: Optional integer class labels of shape `(N,)`; any
                integer values, at least two distinct. Defaults to None
                (k-means pseudo-labels).
            epochs: Training epochs. Defaults to None: about 400 optimizer
                steps, clipped to between 3 and 50 epochs.
            seed: Seed for the split, k-means and training. Defaults to 0.
            batch_size: Training batch size. Defaults to 64.
            feature_dim: Width of the feature layer. Defaults to 64.
            validation_fraction: Share held out to measure accuracy.
                Defaults to 0.15.
            learning_rate: Adam learning rate. Defaults to 3e-3.
            num_clusters: k-means clusters when `labels` is None.
                Defaults to 10.
            verbose: Passed to `keras.Model.fit`. Defaults to 0.

        Returns:
            A trained `DomainExtractor`.

        Raises:
            ValueError: If the images are invalid, fewer than 2, the
                labels do not match them or hold fewer than two classes, or
                `epochs`, `batch_size` or `validation_fraction` is out of
                range.
        """
        _as_channels_last()
        images = _validate_images(images)
        if len(images) < 2:
            raise ValueError(
                "`DomainExtractor.fit` needs at least 2 images (one is held "
                f"out to measure accuracy); got {len(images)}."
            )
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(
                "`validation_fraction` must be in (0, 1), got "
                f"{validation_fraction!r}."
            )
        for name, value in (("batch_size", batch_size), ("epochs", epochs)):
            if value is None and name == "epochs":
                continue
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive int, got {value!r}."
                )
        if labels is None:
            targets = kmeans_pseudo_labels(images, num_clusters=num_clusters,
                                           seed=seed)
            label_source = "kmeans"
        else:
            targets = _encode_labels(labels, len(images))
            label_source = "labels"
        num_classes = int(targets.max()) + 1

        train, holdout, batch_size = _split_holdout(
            len(images), validation_fraction, batch_size, seed)
        if epochs is None:
            epochs = _auto_epochs(len(train), batch_size)

        keras.utils.set_random_seed(seed)
        classifier = _build_domain_classifier(images.shape[1:], num_classes,
                                              feature_dim)
        classifier.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            # XLA compilation costs more than it saves for this tiny model
            # on TensorFlow; JAX always traces with jit.
            jit_compile=keras.backend.backend() == "jax",
        )
        classifier.fit(images[train], targets[train], epochs=epochs,
                       batch_size=batch_size, shuffle=True, verbose=verbose)
        extractor = cls(classifier,
                        fingerprint=data_fingerprint(images, labels))
        predicted = extractor.probabilities(images[holdout]).argmax(axis=1)
        extractor.accuracy = float(np.mean(predicted == targets[holdout]))
        extractor.metadata = {
            "label_source": label_source,
            "epochs": int(epochs),
            "seed": int(seed),
            "num_train": int(len(train)),
            "num_holdout": int(len(holdout)),
            "backend": keras.backend.backend(),
        }
        return extractor

    def save(self, path):
        """Saves the classifier as a `.keras` file plus a `.json` sidecar.

        The sidecar (same name, `.json` suffix) holds the image shape, class
        count, accuracy, data fingerprint and training metadata. Both files
        are written atomically (temporary file, then `os.replace`).

        Args:
            path: Destination ending in `.keras`; its folder is created.

        Raises:
            ValueError: If `path` does not end in `.keras`.
        """
        path = os.fspath(path)
        if not path.endswith(".keras"):
            raise ValueError(
                f"Extractor files must end in '.keras', got {path!r}."
            )
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        sidecar = {
            "format": 1,
            "name": self.name,
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "feature_dim": self.feature_dim,
            "accuracy": self.accuracy,
            "fingerprint": self.fingerprint,
            "keras_version": keras.__version__,
            "metadata": self.metadata,
        }
        # Sidecar first: whoever sees the model file also finds its metadata.
        atomic_write_text(_sidecar_path(path), json.dumps(sidecar, indent=2))
        atomic_save_model(self.classifier, path)

    @classmethod
    def load(cls, path):
        """Loads an extractor written by `save` (with `safe_mode=True`).

        Args:
            path: The `.keras` file; its `.json` sidecar is read if present.

        Returns:
            The `DomainExtractor`.

        Raises:
            FileNotFoundError: If `path` does not exist.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No saved extractor at {path!r}.")
        classifier = keras.saving.load_model(path, compile=False,
                                             safe_mode=True)
        sidecar = {}
        if os.path.exists(_sidecar_path(path)):
            with open(_sidecar_path(path)) as stream:
                sidecar = json.load(stream)
        return cls(classifier, accuracy=sidecar.get("accuracy"),
                   fingerprint=sidecar.get("fingerprint"),
                   metadata=sidecar.get("metadata"))

    @classmethod
    def for_data(cls, images, labels=None, *, cache_dir=None,
                 fingerprint=None, **fit_kwargs):
        """Loads the cached extractor for this data and settings, or fits and caches one.

        The cache key is a 16-hex-digit sha256 of a canonical JSON of every fact the
        extractor depends on:

        - the data: `fingerprint`, or `data_fingerprint(images, labels)`;
        - the fit settings: the keyword arguments `fit` runs with (its defaults
          overridden by `fit_kwargs`, without `verbose`), which include the feature
          size `feature_dim`;
        - the kgan_nas version, the Keras version and the Keras backend;
        - the cache format.

        So a cached extractor is reused only under the same facts; any change (other
        epochs, an upgrade, another backend) trains and caches another one. The entry
        is the folder `<cache_dir>/<key>/` holding `extractor.keras` and its sidecar
        `extractor.json`, whose metadata records `cache_key` and `cache_facts` (why
        the entry exists). The folder is written under a unique staging name in
        `cache_dir` and renamed into place, so model and sidecar appear together.
        If a concurrent call put a valid entry there first, that one is loaded and
        returned. An entry lacking a file, or whose sidecar records another key, is
        a miss: it is refitted and replaced. Flat `<fingerprint>.keras` files of
        older versions are ignored.

        Args:
            images: Real images `(N, H, W, C)` in [-1, 1].
            labels: Optional class labels `(N,)`; see `fit`.
            cache_dir: Cache folder. Defaults to None: `default_cache_dir()`,
                i.e. `$KGAN_NAS_CACHE/extractors` or
                `~/.cache/kgan_nas/extractors`.
            fingerprint: Identity of the data in the key (the search passes its
                own data fingerprint); a plain file name. Defaults to None:
                `data_fingerprint(images, labels)`.
            **fit_kwargs: Passed to `fit` when training is needed; part of the key.

        Returns:
            A `DomainExtractor`; its `metadata` holds `cache_key` and `cache_facts`.

        Raises:
            ValueError: If the images are invalid, `fingerprint` is not a
                plain file name, or the cached extractor for this key expects
                another image shape (a `fingerprint` reused for other data).
            TypeError: If `fit_kwargs` holds an argument `fit` does not take.
        """
        images = _validate_images(images)
        fingerprint = _checked_fingerprint(fingerprint, images, labels)
        facts = _extractor_cache_facts(fingerprint, _fit_settings(cls.fit, fit_kwargs))
        key = cache_key(facts)
        cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
        entry = os.path.join(cache_dir, key)
        extractor = cls._load_cache_entry(entry, key)
        if extractor is None:
            extractor = cls.fit(images, labels, **fit_kwargs)
            extractor.fingerprint = fingerprint
            extractor.metadata.update(cache_key=key, cache_facts=facts)
            extractor = cls._publish_cache_entry(extractor, cache_dir, key)
        if extractor.image_shape != tuple(images.shape[1:]):
            raise ValueError(
                f"The cached extractor {entry!r} expects images of shape "
                f"{extractor.image_shape}, got {tuple(images.shape[1:])}."
                " Use another `fingerprint` or delete that folder."
            )
        return extractor

    @classmethod
    def _load_cache_entry(cls, entry, key):
        """Loads the extractor in the cache folder `entry`, if it is whole and is `key`'s.

        Args:
            entry: The folder `<cache_dir>/<key>`.
            key: The cache key the entry must record.

        Returns:
            The `DomainExtractor`, or None (a miss) when the folder, its model or its
            sidecar is missing or unreadable, or the sidecar records another key.
        """
        model_path = os.path.join(entry, _ENTRY_MODEL)
        sidecar = _read_sidecar(os.path.join(entry, _ENTRY_SIDECAR))
        metadata = (sidecar or {}).get("metadata")
        if not isinstance(metadata, dict) or metadata.get("cache_key") != key:
            return None
        try:
            return cls.load(model_path)
        except (OSError, ValueError, zipfile.BadZipFile):
            return None  # Missing or damaged model file: refit rather than fail.

    @classmethod
    def _publish_cache_entry(cls, extractor, cache_dir, key):
        """Saves `extractor` as the cache entry `<cache_dir>/<key>`, model and sidecar together.

        Both files are written into a uniquely named staging folder, which one
        `os.rename` then turns into the entry. If the entry exists already, a valid
        one (a concurrent fit won) is loaded and returned instead; an invalid one is
        moved aside and the rename retried.

        Args:
            extractor: The freshly fitted extractor, its metadata holding `key`.
            cache_dir: The cache folder.
            key: The cache key, i.e. the entry's folder name.

        Returns:
            The extractor now cached under `key`: `extractor` or the winner's.

        Raises:
            OSError: If the entry cannot be written or replaced.
        """
        entry = os.path.join(cache_dir, key)
        staging = os.path.join(cache_dir, f".staging-{key}-{os.getpid()}-{uuid.uuid4().hex}")
        try:
            extractor.save(os.path.join(staging, _ENTRY_MODEL))
            for attempt in range(_PUBLISH_ATTEMPTS):
                try:
                    os.rename(staging, entry)
                    return extractor
                except OSError:
                    # POSIX refuses to rename onto a non-empty folder, Windows onto any.
                    if not os.path.isdir(entry) or attempt == _PUBLISH_ATTEMPTS - 1:
                        raise
                winner = cls._load_cache_entry(entry, key)
                if winner is not None:
                    return winner
                _remove_entry(entry, cache_dir, key)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _check_image_shape(self, image_shape):
        if tuple(image_shape) != self.image_shape:
            raise ValueError(
                f"This domain extractor was trained on images of shape "
                f"{self.image_shape}, got {tuple(image_shape)}. Resize the "
                "images or fit an extractor on data of this shape."
            )

    def _predict(self, images, batch_size):
        features, probabilities = self._two_outputs.predict(
            images, batch_size=batch_size, verbose=0
        )
        return features, probabilities


def _encode_labels(labels, num_images):
    """Maps arbitrary integer labels to 0..k-1, checking shape and count."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (num_images,):
        raise ValueError(
            f"`labels` must have shape ({num_images},) to match the images, "
            f"got {labels.shape}. Pass one integer class per image."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"`labels` must be integers, got dtype {labels.dtype}. Pass "
            "class indices, not one-hot vectors or names."
        )
    classes, encoded = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "`labels` must contain at least two classes; pass labels=None "
            "to use k-means pseudo-labels instead."
        )
    return encoded.reshape(-1)


# --------------------------------------------------------------------------
# InceptionV3
# --------------------------------------------------------------------------


def _keras_models_dir():
    """The folder where `keras.utils.get_file` caches application weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
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
        "`weights` must be 'imagenet' or the path to an InceptionV3 weights "
        f"file, got {weights!r}."
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
        if isinstance(resize_to, bool) or not isinstance(resize_to, int) \
                or resize_to < _INCEPTION_MIN_SIZE:
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
            include_top=True, weights=None,
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
            resize_to, resize_to, interpolation="bilinear", antialias=False,
            name="resize",
        )(inputs)
        self._model = keras.Model(inputs, pool_and_softmax(resized),
                                  name="inception_features")

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
        features, probabilities = self._model.predict(
            images, batch_size=batch_size, verbose=0
        )
        return features, probabilities


def get_extractor(spec, *, images=None, labels=None, cache_dir=None):
    """Returns a feature extractor from a short spec.

    Args:
        spec: `"domain"` (a cached `DomainExtractor` fitted on `images`),
            `"inception"` (`InceptionExtractor()` with ImageNet weights), or
            a `FeatureExtractor` instance, returned unchanged.
        images: Real images; required for `"domain"`.
        labels: Optional labels for `"domain"`.
        cache_dir: Cache folder for `"domain"`; see
            `DomainExtractor.for_data`.

    Returns:
        A `FeatureExtractor`.

    Raises:
        ValueError: If `spec` is unknown, or `"domain"` comes without images.
        RuntimeError: For `"inception"` offline without cached weights.
    """
    if isinstance(spec, FeatureExtractor):
        return spec
    if spec == "domain":
        if images is None:
            raise ValueError(
                "get_extractor('domain') trains on the real data: pass "
                "`images=real_images`."
            )
        return DomainExtractor.for_data(images, labels, cache_dir=cache_dir)
    if spec == "inception":
        return InceptionExtractor()
    raise ValueError(
        f"Unknown feature extractor {spec!r}. Use 'domain', 'inception' or a "
        "FeatureExtractor instance."
    )
