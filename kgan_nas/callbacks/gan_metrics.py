"""Keras callbacks that measure a GAN during `fit`: `GANMetrics` (FID, KID and IS
in `logs`) and `SampleGrid` (PNG grids from a fixed latent batch).
"""

import math
import os
import warnings

import keras
import numpy as np


_SCORE_FIELDS = {"fid": "fid", "kid": "kid", "is": "inception_score"}
# Domain extractors loaded in this process, by data fingerprint and cache folder:
# callbacks on the same data (GANMetrics next to EvolveArchitecture, or one per
# fit) share one Keras model instead of loading the cached file again.
_DOMAIN_EXTRACTORS = {}


# ----------------------------------------------------------------------------
# Shared helpers


def _check_positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _is_due(epoch, every_n_epochs, total_epochs):
    """Whether to act at the end of 0-based `epoch`.

    True for the first epoch, every `every_n_epochs`-th one (1-based, as
    Keras counts for `validation_freq`) and the last epoch of `fit`.
    """
    number = epoch + 1
    return (number == 1 or number % every_n_epochs == 0
            or (total_epochs is not None and number == total_epochs))


def _find_generator(model, generator, owner):
    """The generator to sample: the one given, else `model.generator`."""
    if generator is not None:
        return generator
    found = getattr(model, "generator", None)
    if found is None:
        raise ValueError(
            f"{owner} could not find the generator: the model "
            f"{getattr(model, 'name', '?')!r} ({type(model).__name__}) has no "
            f"`generator` attribute. Pass it explicitly: "
            f"{owner}(..., generator=my_generator).")
    if not isinstance(found, keras.layers.Layer):
        raise ValueError(
            f"{owner}: model.generator is a {type(found).__name__}, not a Keras "
            f"model. Pass the generator explicitly: {owner}(..., generator=...).")
    return found


def _generate(generator, n, latent_dim, seed, owner):
    from kgan_nas import training

    try:
        return training.generate_images(generator, n, latent_dim=latent_dim, seed=seed)
    except ValueError as error:
        if latent_dim is None and "latent_dim" in str(error):
            raise ValueError(
                f"{owner} cannot tell the generator's latent size: {error} "
                f"Pass {owner}(..., latent_dim=...).") from error
        raise


def _load_real_data(real_data, labels, owner):
    from kgan_nas import data as data_lib

    if isinstance(real_data, data_lib.ImageData):
        if labels is not None:
            raise ValueError(f"{owner}: pass labels with the images, not with an ImageData.")
        return real_data
    try:
        return data_lib.load_dataset(real_data, labels=labels)
    except (TypeError, ValueError) as error:
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{owner} could not use real_data: {error}") from error


class _SampleScorer:
    """Scores a generator's samples against real images.

    The scoring that `GANMetrics` logs and `EvolveArchitecture` ranks with:
    `num_samples` images from a fixed latent seed go through
    `kgan_nas.evaluate.score_images` (the search's own scoring) against the
    held-out split of the real data. The domain extractor is the search's
    (same data, same cache entry).
    """

    def __init__(self, real_data, *, labels, extractor, num_samples, seed, owner):
        from kgan_nas import features
        from kgan_nas.evaluate import EvaluationConfig

        if not (isinstance(extractor, features.FeatureExtractor)
                or (isinstance(extractor, str) and extractor in ("domain", "inception"))):
            raise ValueError(
                f"{owner}: extractor must be 'domain', 'inception' or a "
                f"kgan_nas.features.FeatureExtractor, got {extractor!r}.")
        num_samples = _check_positive_int(num_samples, "num_samples", owner)
        if num_samples < 10:
            raise ValueError(
                f"{owner}: num_samples must be at least 10 (IS uses 5 splits and FID "
                f"needs a covariance), got {num_samples}.")
        self.owner = owner
        self.data = _load_real_data(real_data, labels, owner)
        self.extractor_spec = extractor
        self.num_samples = num_samples
        self.seed = int(seed)
        self.config = EvaluationConfig(num_samples=num_samples,
                                       kid_subset_size=min(500, num_samples), seed=self.seed)
        self._prepared = None

    @property
    def suffix(self):
        """The metric-name suffix of the extractor, e.g. `"domain"`."""
        spec = self.extractor_spec
        return spec if isinstance(spec, str) else spec.metric_suffix

    def __getstate__(self):
        # Copies (KerasTuner-style deep copies, pickles to search workers)
        # carry the data, not the Keras extractor; they prepare it again,
        # from the cache.
        state = dict(self.__dict__)
        state["_prepared"] = None
        return state

    def prepare(self):
        """Fits or loads the extractor and computes the real statistics, once."""
        if self._prepared is not None:
            return self._prepared
        from kgan_nas import features
        from kgan_nas import metrics

        spec = self.extractor_spec
        if spec == "domain":
            key = (self.data.fingerprint(), features.default_cache_dir())
            if key not in _DOMAIN_EXTRACTORS:
                # The search's call: the same data gives the same cached extractor.
                _DOMAIN_EXTRACTORS[key] = features.DomainExtractor.for_data(
                    self.data.train, self.data.train_labels,
                    fingerprint=self.data.fingerprint())
            extractor = _DOMAIN_EXTRACTORS[key]
        else:
            extractor = features.get_extractor(spec)
        real_features = extractor.features(self.data.eval)
        statistics = metrics.FeatureStatistics()
        statistics.update(real_features)
        self._prepared = (extractor, real_features, statistics)
        return self._prepared

    def score(self, generator, latent_dim=None):
        """Returns the dict of `kgan_nas.evaluate.score_images` for `generator`."""
        from kgan_nas.evaluate import score_images

        extractor, real_features, statistics = self.prepare()
        images = _generate(generator, self.num_samples, latent_dim, self.seed, self.owner)
        if images.shape[1:] != self.data.image_shape:
            raise ValueError(
                f"{self.owner}: the generator makes images of shape {images.shape[1:]}, "
                f"but real_data holds images of shape {self.data.image_shape}.")
        finite = images[np.isfinite(images)]
        if finite.size and (finite.min() < -1.01 or finite.max() > 1.01):
            raise ValueError(
                f"{self.owner} scores images in [-1, 1] (a tanh output, like the real "
                f"data after kgan_nas.data.load_dataset), but the generator made values "
                f"in [{finite.min():.3g}, {finite.max():.3g}]. End the generator with "
                "activation='tanh', or rescale its output to [-1, 1].")
        return score_images(images, extractor, real_features, self.config, seed=self.seed,
                            real_statistics=statistics)


class GANMetrics(keras.callbacks.Callback):
    """Computes FID, KID and IS at epoch end and writes them into `logs`.

    The keys are named after the feature extractor, like everywhere in
    kgan_nas: `fid_domain`, `kid_domain`, `is_domain` (or `*_inception`). The
    callbacks after this one in the list see them like any Keras metric, so
    `EarlyStopping`, `ModelCheckpoint`, `TensorBoard`, `CSVLogger` and the
    progress bar use them unchanged. Keras can only infer the direction of
    its own metrics: pass `mode="min"` for FID and KID, `mode="max"` for IS.

    The real statistics are computed once, at the start of `fit` (the domain
    extractor is trained on the first use of a data set and cached, shared
    with `kgan_nas.search`). Each measurement generates `num_samples` images
    from the same latents (a fixed `seed`), so the scores of two epochs differ
    only because the generator did.

    Epochs it skips: metrics are computed after the first epoch, every
    `every_n_epochs`-th epoch and the last epoch of `fit`. On the other
    epochs the keys are absent from `logs` (never a stale or NaN value), as
    Keras does for `val_*` keys with `validation_freq`: `EarlyStopping` and
    `ModelCheckpoint` skip those epochs (with a warning that the metric is
    not available), so `patience` counts measured epochs; `TensorBoard` plots
    only measured epochs; `CSVLogger`, which fixes its columns on the first
    epoch, writes `NA`.

    Example:

    ```python
    callbacks = [
        kgan_nas.callbacks.GANMetrics("digits", every_n_epochs=1),  # first
        keras.callbacks.EarlyStopping(monitor="fid_domain", mode="min", patience=3),
        keras.callbacks.ModelCheckpoint("best.keras", monitor="fid_domain",
                                        mode="min", save_best_only=True),
        keras.callbacks.TensorBoard("logs"),
    ]
    gan.fit(dataset, epochs=50, steps_per_epoch=200, callbacks=callbacks)
    ```

    Args:
        real_data: Real images: anything `kgan_nas.data.load_dataset` takes
            (a numpy array, a `tf.data.Dataset`, a `.npz` file, an image
            folder, `"digits"`, ...) or an `ImageData`. Its held-out split
            (20%) gives the real statistics; its training split trains the
            domain extractor.
        every_n_epochs: Measure every this many epochs (plus the first and
            last). Defaults to 1.
        metrics: Which of `"fid"`, `"kid"`, `"is"` to log. Defaults to all.
        extractor: `"domain"` (offline; scores not comparable with published
            FID), `"inception"` (Keras InceptionV3; needs its weights) or a
            `kgan_nas.features.FeatureExtractor`. Defaults to `"domain"`.
        num_samples: Generated images per measurement. FID is biased by the
            sample count: compare only scores computed with the same one.
            Defaults to 1000.
        labels: Optional labels of an array `real_data`, for the domain
            extractor.
        generator: The generator to sample. Defaults to None: the model's
            `generator` attribute, looked up at each measurement (so it
            follows `EvolveArchitecture`).
        latent_dim: Latent size. Defaults to None: from the generator's
            input shape.
        seed: Seed of the latents and of KID's subsets. Defaults to 0.

    Attributes:
        keys: The `logs` keys this callback writes, e.g. `("fid_domain",)`.
        last_scores: The values written at the last measurement.

    Raises:
        ValueError: for an unknown metric or extractor, a bad count, or data
            `load_dataset` rejects (at construction); in `fit`, when the model
            has no generator, or the generator's images do not match the real
            images or leave [-1, 1].
    """

    def __init__(self, real_data, every_n_epochs=1, metrics=("fid", "kid", "is"),
                 extractor="domain", num_samples=1000, *, labels=None, generator=None,
                 latent_dim=None, seed=0):
        super().__init__()
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs",
                                                  "GANMetrics")
        if isinstance(metrics, str):
            metrics = (metrics,)
        metrics = tuple(metrics)
        unknown = [name for name in metrics if name not in _SCORE_FIELDS]
        if not metrics or unknown or len(set(metrics)) != len(metrics):
            raise ValueError(
                f"GANMetrics: metrics must be distinct names from {tuple(_SCORE_FIELDS)}, "
                f"got {metrics!r}.")
        self.metric_names = metrics
        self.generator = generator
        self.latent_dim = latent_dim
        self._scorer = _SampleScorer(real_data, labels=labels, extractor=extractor,
                                     num_samples=num_samples, seed=seed, owner="GANMetrics")
        self.keys = tuple(f"{name}_{self._scorer.suffix}" for name in metrics)
        self.last_scores = {}

    def on_train_begin(self, logs=None):
        # Fail before the first epoch, not after it, when there is nothing to sample.
        _find_generator(self.model, self.generator, "GANMetrics")
        self._scorer.prepare()

    def on_epoch_end(self, epoch, logs=None):
        if not _is_due(epoch, self.every_n_epochs, (self.params or {}).get("epochs")):
            return
        generator = _find_generator(self.model, self.generator, "GANMetrics")
        scores = self._scorer.score(generator, self.latent_dim)
        values = {key: scores[_SCORE_FIELDS[name]]
                  for key, name in zip(self.keys, self.metric_names)}
        if not math.isfinite(scores["fid"]):
            warnings.warn(
                f"GANMetrics: the generator's samples hold NaN or inf after epoch "
                f"{epoch + 1}; logging the worst values ({values}).", stacklevel=2)
        self.last_scores = values
        if logs is not None:
            logs.update(values)


class SampleGrid(keras.callbacks.Callback):
    """Saves a PNG grid of generated images at epoch end.

    The latents are the same batch every time (drawn from `seed`), so the
    grids show how the generator's output for fixed inputs changes across
    epochs. Files are `<directory>/epoch_001.png`, ... (1-based epochs),
    written atomically with `kgan_nas.data.save_image_grid`.

    Example:

    ```python
    gan.fit(dataset, epochs=20, callbacks=[kgan_nas.callbacks.SampleGrid("samples")])
    ```

    Args:
        directory: Folder for the PNG files (created).
        every_n_epochs: Save every this many epochs, plus the first and the
            last. Defaults to 1.
        n: Images per grid. Defaults to 64.
        seed: Seed of the fixed latent batch. Defaults to 0.
        generator: The generator. Defaults to None: the model's `generator`
            attribute.
        latent_dim: Latent size. Defaults to None: from the generator's
            input shape.

    Attributes:
        paths: The files written so far, in order.

    Raises:
        ValueError: for a bad count (at construction), or in `fit` when the
            model has no generator.
    """

    def __init__(self, directory, every_n_epochs=1, n=64, seed=0, *, generator=None,
                 latent_dim=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs",
                                                  "SampleGrid")
        self.n = _check_positive_int(n, "n", "SampleGrid")
        self.seed = int(seed)
        self.generator = generator
        self.latent_dim = latent_dim
        self.paths = []

    def on_train_begin(self, logs=None):
        _find_generator(self.model, self.generator, "SampleGrid")

    def on_epoch_end(self, epoch, logs=None):
        from kgan_nas import data as data_lib

        if not _is_due(epoch, self.every_n_epochs, (self.params or {}).get("epochs")):
            return
        generator = _find_generator(self.model, self.generator, "SampleGrid")
        images = _generate(generator, self.n, self.latent_dim, self.seed, "SampleGrid")
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        data_lib.save_image_grid(images, path)
        self.paths.append(path)
