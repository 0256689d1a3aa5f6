"""Keras callbacks that measure a GAN during `fit`: `GANMetrics` (FID, KID and IS
in `logs`) and `SampleGrid` (PNG grids from a fixed latent batch).
"""

import math
import os

import keras

from kgan_nas import validate
from kgan_nas.callbacks.scoring import SampleScorer
from kgan_nas.callbacks.scoring import find_generator
from kgan_nas.callbacks.scoring import generate
from kgan_nas.callbacks.scoring import generator_classes
from kgan_nas.callbacks.scoring import is_due
from kgan_nas.core.class_labels import sample_grid_labels
from kgan_nas.core.objectives import CONDITIONAL_OBJECTIVES as CLASS_SCORES
from kgan_nas.core.objectives import METRIC_SHORT_NAMES
from kgan_nas.errors import warn


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
            folder, `"digits"`, `"mnist_5k"`, ...) or an `ImageData`. Its held-out split
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

    def __init__(
        self,
        real_data,
        every_n_epochs=1,
        metrics=("fid", "kid", "is"),
        extractor="domain",
        num_samples=1000,
        *,
        labels=None,
        generator=None,
        latent_dim=None,
        seed=0,
    ):
        super().__init__()
        self.every_n_epochs = validate.check_positive_int(
            every_n_epochs, "GANMetrics: every_n_epochs"
        )
        if isinstance(metrics, str):
            metrics = (metrics,)
        metrics = tuple(metrics)
        unknown = [name for name in metrics if name not in METRIC_SHORT_NAMES]
        if not metrics or unknown or len(set(metrics)) != len(metrics):
            raise ValueError(
                f"GANMetrics: metrics must be distinct names from {tuple(METRIC_SHORT_NAMES)}, "
                f"got {metrics!r}."
            )
        self.metric_names = metrics
        self.generator = generator
        self.latent_dim = latent_dim
        self._scorer = SampleScorer(
            real_data,
            labels=labels,
            extractor=extractor,
            num_samples=num_samples,
            seed=seed,
            owner="GANMetrics",
        )
        self.keys = tuple(f"{name}_{self._scorer.suffix}" for name in metrics)
        self.last_scores = {}

    def on_train_begin(self, logs=None):
        # Fail before the first epoch, not after it, when there is nothing to sample.
        find_generator(self.model, self.generator, "GANMetrics")
        self._scorer.prepare()

    def on_epoch_end(self, epoch, logs=None):
        if not is_due(epoch, self.every_n_epochs, (self.params or {}).get("epochs")):
            return
        generator = find_generator(self.model, self.generator, "GANMetrics")
        scores = self._scorer.score(generator, self.latent_dim)
        values = {
            key: scores[METRIC_SHORT_NAMES[name]] for key, name in zip(self.keys, self.metric_names)
        }
        # A conditional generator's class scores (`class_accuracy`, `fid_per_class`).
        values.update({k: v for k, v in scores.items() if k in CLASS_SCORES and v is not None})
        if not math.isfinite(scores["fid"]):
            warn(
                f"GANMetrics: the generator's samples hold NaN or inf after epoch "
                f"{epoch + 1}; logging the worst values ({values}).",
            )
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

    def __init__(
        self, directory, every_n_epochs=1, n=64, seed=0, *, generator=None, latent_dim=None
    ):
        super().__init__()
        self.directory = os.fspath(directory)
        self.every_n_epochs = validate.check_positive_int(
            every_n_epochs, "SampleGrid: every_n_epochs"
        )
        self.n = validate.check_positive_int(n, "SampleGrid: n")
        self.seed = int(seed)
        self.generator = generator
        self.latent_dim = latent_dim
        self.paths = []

    def on_train_begin(self, logs=None):
        find_generator(self.model, self.generator, "SampleGrid")

    def on_epoch_end(self, epoch, logs=None):
        from kgan_nas import data as data_lib

        if not is_due(epoch, self.every_n_epochs, (self.params or {}).get("epochs")):
            return
        generator = find_generator(self.model, self.generator, "SampleGrid")
        labels, nrow = sample_grid_labels(generator_classes(generator), self.n)
        images = generate(generator, self.n, self.latent_dim, self.seed, "SampleGrid", labels)
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        data_lib.save_image_grid(images, path, nrow=nrow)
        self.paths.append(path)
