"""The result of evaluating one genome (pure Python)."""

import dataclasses
import math

from kgan_nas.core.objectives import get_objective

# Every outcome of an evaluation: "ok" and the ways a candidate can fail.
# Training reports the first four (`kgan_nas.training.TrainReport`); executors
# add a worker that died (crashed) or ran past its limit (timeout).
TRAINING_STATUSES = ("ok", "nan", "diverged", "error")
STATUSES = TRAINING_STATUSES + ("crashed", "timeout")

# `Fitness.memorising` flags a generator when at least this share of its
# samples lie closer to a training image than the 5 % of held-out images
# closest to one: four times the 5 % of a generator as novel as held-out
# data, well above the sampling noise of that share with a few hundred
# generated and held-out samples.
MEMORISATION_FLAG_SHARE = 0.2


def rung_first_key(rung, value):
    """The one ranking's sort key: a higher rung (`core.fidelity`) first, then a lower value.

    Args:
        rung: The rung a candidate reached (None or 0 without rungs).
        value: Its objective (lower is better), or None when it has none
            (a failed candidate), which sorts last.

    Returns:
        A tuple to sort by.
    """
    return (-(rung or 0), math.inf if value is None else value)


@dataclasses.dataclass(frozen=True)
class Fitness:
    """Scores and bookkeeping of one evaluated genome.

    A failed candidate is data, not an exception: it gets a non-"ok"
    `status`, a human `reason`, and objective values that can never be the
    best (`objective()` returns +inf for a minimised objective).

    Args:
        fid: Frechet distance (lower is better); `inf` when not measured.
        kid: Kernel Inception Distance (mean over subsets).
        kid_std: Standard deviation of KID over subsets.
        fid_low: Lower end of FID's 95 % bootstrap interval (None when not
            measured, e.g. in runs older than the statistics).
        fid_high: Upper end of that interval.
        kid_se: Standard error of KID's mean over subsets (None when not
            measured).
        memorisation_ratio: Median distance of generated samples to their
            nearest training image over the same for held-out real images
            (`kgan_nas.metrics.memorisation_score`); about 1 is healthy,
            near 0 means copies. None when not measured.
        memorisation_share: Share of generated samples closer to a training
            image than the closest 5 % of held-out images; about 0.05 is
            healthy. None when not measured.
        inception_score: Inception Score (higher is better).
        inception_score_std: Its standard deviation over splits.
        params: Generator parameter count.
        discriminator_params: Discriminator parameter count.
        generator_macs: Multiply-accumulates of one generator forward pass
            for one image (`kgan_nas.core.cost.generator_macs`), what
            sampling costs once trained; the `"generator_macs"` objective.
            None when not recorded (older runs, custom evaluators; not
            stored then).
        generator_latency: Median seconds of one batch of the trained
            generator on the machine that trained it
            (`kgan_nas.evaluation.latency`), measured only when a search
            optimises the `"generator_latency"` objective; None otherwise
            (not stored then).
        extractor: Which feature extractor produced the metrics
            (`"domain"` or `"inception"`): `fid_domain` is not comparable with
            published FID, `fid_inception` is closer to it.
        status: One of `STATUSES`.
        reason: Why a candidate failed (empty when `status == "ok"`).
        steps: Training steps completed.
        inherited_layers: Layers that started from a parent's trained
            weights (weight inheritance); 0 when trained from scratch.
        seconds: Wall-clock seconds per phase, disjoint: `build` (models and
            optimizers), `inherit` (loading the parent's weights, when
            inheriting), `compile` (the first step's tracing and XLA
            compilation), `train` (the other steps), `metric`, `save` (when the
            models are saved), and `total` (all of it).
        jit_compile: Whether the train step was XLA-compiled (what
            `jit_compile="auto"` chose); None when not recorded (older runs,
            custom evaluators).
        curve: Training losses at a few steps, as
            `{"step": [...], "d_loss": [...], "g_loss": [...]}`: each loss is
            the mean over the steps since the previous point (None where it
            was not finite). Empty when nothing was recorded (older runs,
            custom evaluators).
        class_accuracy: Conditional searches only: the share of generated
            images that the domain classifier assigns to the class they were
            generated for (chance is 1 / number of classes). None when not
            measured (unconditional candidates store no such key).
        fid_per_class: Conditional searches only: the mean over classes of
            the FID between a class's generated and real images. None when
            not measured.
        rung: Multi-fidelity searches only (`kgan_nas.core.fidelity`): the rung
            this fitness was measured at. A result of a higher rung ranks
            above any of a lower one (`rank_key`). 0 otherwise (and not
            stored then).
    """

    fid: float = math.inf
    kid: float = math.inf
    kid_std: float = 0.0
    fid_low: float = None
    fid_high: float = None
    kid_se: float = None
    memorisation_ratio: float = None
    memorisation_share: float = None
    inception_score: float = 0.0
    inception_score_std: float = 0.0
    params: int = 0
    discriminator_params: int = 0
    generator_macs: int | None = None
    generator_latency: float | None = None
    extractor: str = "domain"
    status: str = "ok"
    reason: str = ""
    steps: int = 0
    inherited_layers: int = 0
    jit_compile: bool | None = None
    seconds: dict = dataclasses.field(default_factory=dict)
    curve: dict = dataclasses.field(default_factory=dict)
    class_accuracy: float | None = None
    fid_per_class: float | None = None
    rung: int = 0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Unknown status {self.status!r}; known: {STATUSES}.")

    @property
    def ok(self):
        return self.status == "ok" and math.isfinite(self.fid)

    @property
    def memorising(self):
        """Whether the memorisation score says the generator copies training images.

        True when `memorisation_share >= MEMORISATION_FLAG_SHARE` (0.2);
        False when it is lower or was not measured.
        """
        share = self.memorisation_share
        return share is not None and math.isfinite(share) and share >= MEMORISATION_FLAG_SHARE

    def objective(self, name):
        """Value of objective `name` (or an `Objective`), oriented so that lower is better.

        Failed candidates get `inf`, so they are never selected as best.

        Raises:
            ValueError: for an unknown objective name.
        """
        objective = get_objective(name)
        value = getattr(self, objective.name)
        if not self.ok or value is None:
            return math.inf
        return objective.oriented(value)

    def objectives(self, names):
        return tuple(self.objective(name) for name in names)

    def rank_key(self, name):
        """The sort key of selection by objective `name`: higher rungs first, then lower values.

        A candidate that a multi-fidelity search promoted further ranks
        above every candidate stopped earlier; without rungs this is the
        objective alone.
        """
        return rung_first_key(self.rung, self.objective(name))

    def metrics(self):
        """Flat metric dict named after the extractor, e.g. `fid_domain`."""
        suffix = self.extractor
        metrics = {
            f"fid_{suffix}": self.fid,
            f"kid_{suffix}": self.kid,
            f"is_{suffix}": self.inception_score,
            "params": self.params,
        }
        for key in _OPTIONAL_FIELDS:
            if getattr(self, key) is not None:
                metrics[key] = getattr(self, key)
        return metrics

    def to_dict(self):
        config = dataclasses.asdict(self)
        for key in _OPTIONAL_FIELDS:
            if config[key] is None:
                del config[key]  # records without them stay as before
        if not config["rung"]:
            del config["rung"]  # so do records of searches without rungs
        return {key: _json_number(value) for key, value in config.items()}

    @classmethod
    def from_dict(cls, config):
        fields = {field.name: field for field in dataclasses.fields(cls)}
        values = {}
        for key, value in config.items():
            if key not in fields:
                continue
            # Only numeric fields store inf/nan as strings ("nan" is also a status).
            numeric = fields[key].type is float or key in _OPTIONAL_FIELDS
            values[key] = _from_json_number(value) if numeric else value
        return cls(**values)

    @classmethod
    def failed(cls, status, reason, **fields):
        """A fitness for a candidate that did not produce scores."""
        return cls(status=status, reason=reason, **fields)


_CONDITIONAL_FIELDS = ("class_accuracy", "fid_per_class")
# Fields stored only when measured, so records without them keep their JSON.
_OPTIONAL_FIELDS = _CONDITIONAL_FIELDS + ("generator_macs", "generator_latency")


def _json_number(value):
    # JSON has no inf/nan: store them as strings so files stay standard JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _from_json_number(value):
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return value
