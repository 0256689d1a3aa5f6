"""Evaluating one genome: decode, train briefly (XLA where it pays off), score.

`Evaluator` holds what every candidate in a process shares (training images,
the feature extractor, the real-data features) and turns a `Genome` into a
`Fitness`. It never raises for a bad candidate: a build error, a NaN loss or
a crash inside training becomes a `Fitness` with a non-"ok" status and a
reason, and the search goes on.
"""

import dataclasses
import hashlib
import math
import os
import time
import traceback

import numpy as np

from kgan_nas import validate
from kgan_nas.core.fitness import Fitness
from kgan_nas.store.atomic import atomic_save_model

# Bootstrap resamples of FID's 95 % interval: about 10x the FID's own cost at
# a quick-preset candidate's size (benchmarks/results/metrics_statistics.json).
# A constant, not an `EvaluationConfig` field: a new field would make every
# stored run's configuration differ from the current one, and resume would
# refuse those runs.
FID_RESAMPLES = 100
# Training images the memorisation score compares with, at most: all of a small
# data set (where copying matters most), a fixed random subset of a large one,
# so that embedding them (once per worker) stays cheap even with InceptionV3.
MEMORISATION_MAX_TRAIN = 10_000


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """The per-candidate budget and protocol.

    Args:
        steps: Training steps per candidate (one step = one D and one G
            update on a batch).
        batch_size: Images per training step.
        seconds: Optional wall-clock limit on a candidate's training; it
            stops early (status stays "ok") when exceeded.
        num_samples: Generated images scored per candidate. FID's bias
            depends on this number, so keep it fixed within a search.
        kid_subsets: Subsets for KID.
        kid_subset_size: Samples per KID subset.
        is_splits: Splits for the Inception Score.
        jit_compile: Compile train steps with XLA: True, False, or
            `"auto"` (the default): decided per candidate by
            `kgan_nas.training.compile_choice.choose_jit_compile` from the
            backend, the device and `steps`, and recorded in its `Fitness`.
        divergence_threshold: A loss whose magnitude exceeds this marks the
            candidate "diverged".
        seed: Base seed; each candidate's seed is derived from it and the
            genome key, so a result does not depend on which worker ran it.
        latency_batch: When set, each candidate's trained generator is also
            timed on batches of this many images
            (`kgan_nas.evaluation.latency`, the `"generator_latency"`
            objective); None (the default) times nothing and is not stored.
    """

    steps: int = 300
    batch_size: int = 64
    seconds: float = None
    num_samples: int = 1000
    kid_subsets: int = 20
    kid_subset_size: int = 500
    is_splits: int = 5
    jit_compile: bool | str = "auto"
    divergence_threshold: float = 1e4
    seed: int = 0
    latency_batch: int = None

    def __post_init__(self):
        for name in (
            "steps",
            "batch_size",
            "num_samples",
            "kid_subsets",
            "kid_subset_size",
            "is_splits",
        ):
            value = getattr(self, name)
            if not validate.is_integer(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.num_samples < self.is_splits:
            raise ValueError(
                f"num_samples={self.num_samples} is smaller than is_splits={self.is_splits}; "
                "raise num_samples."
            )
        if not (isinstance(self.jit_compile, bool) or self.jit_compile == "auto"):
            raise ValueError(
                f"jit_compile must be True, False or 'auto', got {self.jit_compile!r}. Use "
                "'auto' to let kgan_nas decide per candidate whether XLA compilation pays off."
            )
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"seconds must be positive or None, got {self.seconds!r}.")
        if self.latency_batch is not None:
            validate.check_positive_int(self.latency_batch, "latency_batch")

    def to_dict(self):
        config = dataclasses.asdict(self)
        if config["latency_batch"] is None:
            del config["latency_batch"]  # searches that time nothing keep their stored form
        return config

    @classmethod
    def from_dict(cls, config):
        return cls(**config)


def candidate_seed(base_seed, genome_key):
    """A 31-bit seed from the search seed and a genome key."""
    digest = hashlib.sha256(f"{base_seed}:{genome_key}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


class Evaluator:
    """Turns genomes into `Fitness` values in the current process.

    Args:
        images: Training images, float32 NHWC in [-1, 1].
        space: The `SearchSpace`.
        config: An `EvaluationConfig`.
        extractor: A `kgan_nas.features.FeatureExtractor`.
        real_features: Features of held-out real images under `extractor`.
        keras_callbacks: Keras callbacks added to every candidate's `fit`
            (deep-copied per candidate, as KerasTuner does).
        labels: Labels of `images`, for a class-conditional space (which
            trains on `(images, labels)` and generates for labels drawn from
            their class frequencies); None otherwise.
        real_labels: Labels of the images behind `real_features`, for the
            conditional scores (`class_accuracy`, `fid_per_class`).
    """

    def __init__(
        self,
        images,
        space,
        config,
        extractor,
        real_features,
        keras_callbacks=None,
        labels=None,
        real_labels=None,
    ):
        from kgan_nas import metrics

        self.images = images
        self.space = space
        self.config = config
        self.extractor = extractor
        self.real_features = np.asarray(real_features, dtype=np.float64)
        self.real_statistics = metrics.FeatureStatistics()
        self.real_statistics.update(self.real_features)
        self.keras_callbacks = list(keras_callbacks or [])
        self._train_features = None
        # A custom evaluator (or a test) may pass no space; that is unconditional.
        conditional = space is not None and space.conditional
        self.labels = labels if conditional else None
        self.real_labels = real_labels
        if conditional and (labels is None or real_labels is None):
            raise ValueError(
                "A conditional search space needs the training and evaluation labels; "
                "pass labels= and real_labels= to the Evaluator."
            )

    def evaluate(self, genome, save_dir=None, inherit_from=None, steps=None):
        """Decodes, trains and scores `genome`.

        Args:
            genome: A `Genome` valid in the space.
            save_dir: If given, the trained generator and discriminator are
                saved there as `generator.keras` / `discriminator.keras`.
            inherit_from: Optional folder of a parent candidate's saved
                models; the new networks start from its weights wherever
                layers match (`kgan_nas.evaluation.inherit`). A folder without models
                (the parent failed) means training from scratch.
            steps: Training steps of this evaluation (a multi-fidelity
                rung's), replacing `config.steps`; None keeps it.

        Returns:
            A `Fitness` (never raises for a bad candidate).
        """
        if steps is not None and steps != self.config.steps:
            config = self.config
            self.config = dataclasses.replace(config, steps=steps)
            try:
                return self.evaluate(genome, save_dir, inherit_from)
            finally:
                self.config = config
        started = time.perf_counter()
        seconds = {}
        # Fields every outcome records, failures included.
        common = {"params": 0, "discriminator_params": 0, "extractor": self.extractor.metric_suffix}
        try:
            common["jit_compile"] = self._jit_compile()
            common["params"] = self.space.generator_params(genome)
            common["discriminator_params"] = self.space.discriminator_params(genome)
            common["generator_macs"] = self.space.generator_macs(genome)
            return self._build_train_score(genome, save_dir, inherit_from, seconds, common, started)
        except Exception as exc:  # A candidate's failure is data.
            seconds["total"] = time.perf_counter() - started
            return Fitness.failed("error", _error_reason(exc), seconds=_rounded(seconds), **common)
        finally:
            import keras

            keras.backend.clear_session()

    def _build_train_score(self, genome, save_dir, inherit_from, seconds, common, started):
        """The phases of `evaluate`; `seconds` collects each phase's wall time."""
        gan, seconds["build"] = self._build(genome)
        inherited = 0
        if inherit_from is not None:
            from kgan_nas.evaluation.inherit import inherit_from_saved

            inherit_start = time.perf_counter()
            inherited = inherit_from_saved(gan, inherit_from)
            seconds["inherit"] = time.perf_counter() - inherit_start
        report = self._train(gan, genome)
        # Disjoint phases: `train` is the fit's wall time without the
        # first step's tracing and XLA compilation.
        seconds["compile"] = report.compile_seconds
        seconds["train"] = report.seconds - (report.compile_seconds or 0.0)
        if report.status != "ok":
            seconds["total"] = time.perf_counter() - started
            return Fitness.failed(
                report.status,
                report.reason,
                steps=report.steps,
                seconds=_rounded(seconds),
                curve=report.curve,
                **common,
            )
        metric_start = time.perf_counter()
        seed = candidate_seed(self.config.seed, genome.key())
        labels = self._generation_labels(seed)
        generator, generate = user_generator(gan)
        images = generate(self.config.num_samples, seed=seed, **labels)
        scores = self.score_images(images, seed=seed)
        scores.update(self._class_scores(images, labels))
        if self.config.latency_batch is not None:
            from kgan_nas.evaluation.latency import generator_latency

            scores["generator_latency"] = generator_latency(
                generator,
                self.space.latent_dim,
                self.config.latency_batch,
                num_classes=self.space.num_classes,
                seed=seed,
            )
        seconds["metric"] = time.perf_counter() - metric_start
        if save_dir is not None:
            save_start = time.perf_counter()
            _save_models(gan, save_dir, images, generator, generate)
            seconds["save"] = time.perf_counter() - save_start
        seconds["total"] = time.perf_counter() - started
        if not math.isfinite(scores["fid"]):
            return Fitness.failed(
                "nan",
                "generated images gave a non-finite FID",
                steps=report.steps,
                seconds=_rounded(seconds),
                curve=report.curve,
                **common,
            )
        # An "ok" candidate's reason is empty unless its time limit stopped it
        # early: then it says after how many of its steps.
        early = (
            f"{report.reason} of {self.config.steps}"
            if report.reason and report.steps < self.config.steps
            else ""
        )
        return Fitness(
            steps=report.steps,
            inherited_layers=inherited,
            seconds=_rounded(seconds),
            curve=report.curve,
            reason=early,
            **common,
            **scores,
        )

    def _jit_compile(self):
        """Whether this candidate's step is XLA-compiled (`"auto"` decided)."""
        from kgan_nas.training.compile_choice import resolve_jit_compile

        return resolve_jit_compile(self.config.jit_compile, self.config.steps)

    def _build(self, genome):
        import keras

        from kgan_nas.evaluation import decode

        seed = candidate_seed(self.config.seed, genome.key())
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        gan = decode.build_gan(genome, self.space, seed=seed, jit_compile=self._jit_compile())
        return gan, time.perf_counter() - start

    def _train(self, gan, genome):
        import copy

        from kgan_nas import data
        from kgan_nas import training

        inputs = data.train_input(
            self.images,
            self.config.batch_size,
            seed=candidate_seed(self.config.seed, genome.key()),
            labels=self.labels,
        )
        callbacks = [copy.deepcopy(callback) for callback in self.keras_callbacks]
        return training.train_for_budget(
            gan,
            inputs,
            steps=self.config.steps,
            seconds=self.config.seconds,
            divergence_threshold=self.config.divergence_threshold,
            callbacks=callbacks,
        )

    def _generation_labels(self, seed):
        """`{"labels": ...}` drawn from the class frequencies if conditional, else `{}`."""
        if self.labels is None:
            return {}
        from kgan_nas.evaluation.class_scores import generation_labels

        return {"labels": generation_labels(self.labels, self.config.num_samples, seed)}

    def _class_scores(self, images, labels):
        """`class_accuracy` and `fid_per_class` of a conditional candidate, else `{}`."""
        if not labels:
            return {}
        from kgan_nas.evaluation.class_scores import class_scores

        return class_scores(
            images, labels["labels"], self.extractor, self.real_features, self.real_labels
        )

    def score_images(self, images, seed=0):
        """FID, KID, IS and their statistics of `images` (in [-1, 1]) against the real features.

        Returns:
            The dict of `score_images`, memorisation included.
        """
        return score_images(
            images,
            self.extractor,
            self.real_features,
            self.config,
            seed=seed,
            real_statistics=self.real_statistics,
            train_features=self.train_features(),
        )

    def train_features(self):
        """Features of the training images, computed on first use and kept.

        Memorisation is measured in the extractor's feature space, not in
        pixels: the held-out images reach the evaluator only as features, and
        the copies that matter are those that fool FID and KID, which see
        this space. Exact and lightly noised copies of training images are
        flagged there (`tests/test_metric_statistics.py`); translated copies
        are not, in features or in pixels.

        Returns:
            float64 features of all training images, or of a fixed random
            subset of `MEMORISATION_MAX_TRAIN` of them for a larger set (then a
            copy of an image outside the subset counts as new).
        """
        if self._train_features is None:
            images = self.images
            if len(images) > MEMORISATION_MAX_TRAIN:
                rng = np.random.default_rng(self.config.seed)
                images = images[np.sort(rng.choice(len(images), MEMORISATION_MAX_TRAIN, False))]
            self._train_features = self.extractor.features(images)
        return self._train_features


def score_images(
    images,
    extractor,
    real_features,
    config,
    *,
    seed=0,
    real_statistics=None,
    train_features=None,
    precision_recall=False,
):
    """FID, KID and IS of images against real features, with their statistics: the one scoring path.

    Search candidates (`Evaluator`) and the `fit` callbacks
    (`kgan_nas.callbacks.GANMetrics`, `EvolveArchitecture`) all score here.

    Args:
        images: Generated images `(N, H, W, C)` in [-1, 1].
        extractor: A `kgan_nas.features.FeatureExtractor`.
        real_features: Features of held-out real images under `extractor`,
            `(M, d)`.
        config: An `EvaluationConfig` (KID subsets and size, IS splits).
        seed: Seed of KID's subset sampling and of FID's bootstrap
            (`FID_RESAMPLES` resamples).
        real_statistics: Optional `kgan_nas.metrics.FeatureStatistics` of
            `real_features`, to avoid recomputing them.
        train_features: Optional features of the training images under
            `extractor`; when given, the memorisation score is computed.
        precision_recall: Also compute `kgan_nas.metrics.precision_recall`
            (fidelity and coverage; the final stage reports them beside FID).

    Returns:
        A dict with keys `fid`, `fid_low`, `fid_high` (its 95 % bootstrap
        interval), `kid`, `kid_std`, `kid_se` (standard error over subsets),
        `inception_score`, `inception_score_std`, `memorisation_ratio` and
        `memorisation_share` (None without `train_features`), and with
        `precision_recall`, `precision` and `recall` (None for non-finite
        images). Images holding
        NaN or inf get `fid` and `kid` of inf and an IS of 0 (the worst
        values) and None statistics, not an error.
    """
    from kgan_nas import metrics

    scores = dict.fromkeys(
        ("fid_low", "fid_high", "kid_se", "memorisation_ratio", "memorisation_share")
        + (("precision", "recall") if precision_recall else ())
    )
    if not np.all(np.isfinite(images)):
        return {
            **scores,
            "fid": math.inf,
            "kid": math.inf,
            "kid_std": 0.0,
            "inception_score": 0.0,
            "inception_score_std": 0.0,
        }
    features, probabilities = extractor.features_and_probabilities(images)
    real = real_features if real_statistics is None else real_statistics
    scores["fid"] = float(metrics.fid(real, features))
    scores["fid_low"], scores["fid_high"] = metrics.fid_confidence_interval(
        real, features, resamples=FID_RESAMPLES, seed=seed
    )
    scores["kid"], scores["kid_std"], scores["kid_se"] = metrics.kernel_inception_distance(
        real_features,
        features,
        subsets=config.kid_subsets,
        subset_size=config.kid_subset_size,
        seed=seed,
        standard_error=True,
    )
    if not math.isfinite(scores["kid_se"]):
        scores["kid_se"] = None  # identical subsets: no spread to report (kid.py warns)
    scores["inception_score"], scores["inception_score_std"] = metrics.inception_score(
        probabilities, splits=config.is_splits
    )
    if train_features is not None:
        scores["memorisation_ratio"], scores["memorisation_share"] = metrics.memorisation_score(
            train_features, real_features, features
        )
    if precision_recall:
        found = metrics.precision_recall(real_features, features)
        scores["precision"], scores["recall"] = found["precision"], found["recall"]
    return {key: None if value is None else float(value) for key, value in scores.items()}


def user_generator(gan):
    """The generator a user gets from a trained GAN, and its sampling function.

    That is the moving average of the generator's weights when the GAN
    keeps one (a genome with `ema_decay`), else the generator itself. A
    candidate is scored and saved with it.

    Args:
        gan: A trained `kgan_nas.GAN`.

    Returns:
        `(generator, generate)`: a Keras model, and a function
        `generate(n, seed=None, labels=None)` with the arguments and result
        of `GAN.generate`, sampling that model.
    """
    if getattr(gan, "ema", None) is None:
        return gan.generator, gan.generate
    from kgan_nas import training
    from kgan_nas.training import conditional

    averaged = gan.ema_generator()

    def generate(n, seed=None, labels=None):
        if gan.num_classes is None:
            return training.generate_images(averaged, n, latent_dim=gan.latent_dim, seed=seed)
        labels = np.arange(n) % gan.num_classes if labels is None else labels
        labels = conditional.check_labels(labels, gan.num_classes, n)
        return conditional.generate_conditional(
            averaged, labels, latent_dim=gan.latent_dim, seed=seed
        )

    return averaged, generate


def _save_models(gan, save_dir, images, generator, generate):
    from kgan_nas import data

    os.makedirs(save_dir, exist_ok=True)
    if getattr(gan, "num_classes", None):
        from kgan_nas.evaluation.class_scores import class_grid

        grid, per_class = class_grid(gan, generate=generate)
        data.save_image_grid(grid, os.path.join(save_dir, "samples.png"), nrow=per_class)
    else:
        data.save_image_grid(images[:64], os.path.join(save_dir, "samples.png"))
    for name, model in (("generator", generator), ("discriminator", gan.discriminator)):
        atomic_save_model(model, os.path.join(save_dir, f"{name}.keras"))


def _error_reason(exc):
    """`Type: message (at file.py:line)` of an exception raised by a candidate."""
    reason = f"{type(exc).__name__}: {exc}".strip()
    last = traceback.extract_tb(exc.__traceback__)[-1:]
    if last:
        reason += f" (at {os.path.basename(last[0].filename)}:{last[0].lineno})"
    return reason[:2000]


def _rounded(seconds):
    return {key: round(float(value), 4) for key, value in seconds.items() if value is not None}
