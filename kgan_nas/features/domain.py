"""`DomainExtractor`: features from a small classifier trained on the real data.

The extractor class with its constructor, `fit`, `save`, `load` and the cached
`for_data`. How the classifier is built and trained lives in
`kgan_nas.features.domain_training`; the cache behind `for_data` in
`kgan_nas.features.domain_cache`.
"""

import json
import os

import keras
import numpy as np

from kgan_nas.features.base import FeatureExtractor
from kgan_nas.features.base import _as_channels_last
from kgan_nas.features.base import _validate_images
from kgan_nas.features.domain_cache import _checked_fingerprint
from kgan_nas.features.domain_cache import _extractor_cache_facts
from kgan_nas.features.domain_cache import _fit_settings
from kgan_nas.features.domain_cache import _load_cache_entry
from kgan_nas.features.domain_cache import _publish_cache_entry
from kgan_nas.features.domain_cache import data_fingerprint
from kgan_nas.features.domain_cache import default_cache_dir
from kgan_nas.features.domain_training import _FEATURE_LAYER
from kgan_nas.features.domain_training import _auto_epochs
from kgan_nas.features.domain_training import _check_fit_arguments
from kgan_nas.features.domain_training import _compiled_classifier
from kgan_nas.features.domain_training import _split_holdout
from kgan_nas.features.domain_training import _training_targets
from kgan_nas.store.atomic import atomic_save_model
from kgan_nas.store.atomic import atomic_write_text
from kgan_nas.store.cache import cache_key

__all__ = ["DomainExtractor"]


def _sidecar_path(model_path):
    """`foo.keras` -> `foo.json` (the metadata next to a saved extractor)."""
    return os.path.splitext(os.fspath(model_path))[0] + ".json"


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

    def __init__(self, classifier, *, accuracy=None, fingerprint=None, metadata=None):
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
            classifier.inputs,
            [feature_layer.output, classifier.outputs[0]],
            name="domain_features",
        )

    @property
    def feature_dim(self):
        return int(self._two_outputs.outputs[0].shape[-1])

    @property
    def num_classes(self):
        return int(self.classifier.outputs[0].shape[-1])

    @classmethod
    def fit(
        cls,
        images,
        labels=None,
        *,
        epochs=None,
        seed=0,
        batch_size=64,
        feature_dim=64,
        validation_fraction=0.15,
        learning_rate=3e-3,
        num_clusters=10,
        verbose=0,
    ):
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
        _check_fit_arguments(images, validation_fraction, batch_size, epochs)
        targets, label_source = _training_targets(images, labels, num_clusters, seed)
        num_classes = int(targets.max()) + 1

        train, holdout, batch_size = _split_holdout(
            len(images), validation_fraction, batch_size, seed
        )
        if epochs is None:
            epochs = _auto_epochs(len(train), batch_size)

        keras.utils.set_random_seed(seed)
        classifier = _compiled_classifier(images.shape[1:], num_classes, feature_dim, learning_rate)
        classifier.fit(
            images[train],
            targets[train],
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=verbose,
        )
        extractor = cls(classifier, fingerprint=data_fingerprint(images, labels))
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
            raise ValueError(f"Extractor files must end in '.keras', got {path!r}.")
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
        classifier = keras.saving.load_model(path, compile=False, safe_mode=True)
        sidecar = {}
        if os.path.exists(_sidecar_path(path)):
            with open(_sidecar_path(path)) as stream:
                sidecar = json.load(stream)
        return cls(
            classifier,
            accuracy=sidecar.get("accuracy"),
            fingerprint=sidecar.get("fingerprint"),
            metadata=sidecar.get("metadata"),
        )

    @classmethod
    def for_data(cls, images, labels=None, *, cache_dir=None, fingerprint=None, **fit_kwargs):
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
        extractor = _load_cache_entry(cls, entry, key)
        if extractor is None:
            extractor = cls.fit(images, labels, **fit_kwargs)
            extractor.fingerprint = fingerprint
            extractor.metadata.update(cache_key=key, cache_facts=facts)
            extractor = _publish_cache_entry(cls, extractor, cache_dir, key)
        if extractor.image_shape != tuple(images.shape[1:]):
            raise ValueError(
                f"The cached extractor {entry!r} expects images of shape "
                f"{extractor.image_shape}, got {tuple(images.shape[1:])}."
                " Use another `fingerprint` or delete that folder."
            )
        return extractor

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
