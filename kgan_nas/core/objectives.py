"""What a search optimises: `Objective(name, direction)` and the metric names (pure Python).

One objective is one quantity of a `Fitness` and the direction that is
better, as in KerasTuner's `Objective`. The search metric (`"fid_domain"`,
`"is_inception"`, ...) is an objective measured under one feature
extractor; `parse_metric` is the one place that splits such a name.
Everything that ranks candidates (strategies, the search loop, results,
reports) orients values through `Objective.oriented`, so "lower is better"
holds everywhere after it.
"""

import dataclasses
import math

from kgan_nas import validate


@dataclasses.dataclass(frozen=True)
class Objective:
    """A `Fitness` quantity to optimise and its better direction.

    Args:
        name: The `Fitness` field, e.g. `"fid"`.
        direction: `"min"` or `"max"`.
    """

    name: str
    direction: str

    def __post_init__(self):
        if self.direction not in ("min", "max"):
            raise ValueError(f"Objective direction must be 'min' or 'max', got {self.direction!r}.")

    def oriented(self, value):
        """`value` turned so that lower is better (NaN becomes +inf, never the best)."""
        value = float(value)
        if math.isnan(value):
            return math.inf
        return -value if self.direction == "max" else value


OBJECTIVES = {
    objective.name: objective
    for objective in (
        Objective("fid", "min"),
        Objective("kid", "min"),
        Objective("inception_score", "max"),
        Objective("params", "min"),
        # Multiply-accumulates of one generator forward pass per image: what
        # sampling costs a deployment (kgan_nas.core.cost.generator_macs).
        Objective("generator_macs", "min"),
        # Measured: median seconds of one generator batch on the training machine
        # (kgan_nas.evaluation.latency); only searches that optimise it time it.
        Objective("generator_latency", "min"),
        # Conditional searches only: the share of generated images the domain
        # classifier assigns to their requested class, and the mean FID per class.
        Objective("class_accuracy", "max"),
        Objective("fid_per_class", "min"),
    )
}
# Objectives only a class-conditional search measures.
CONDITIONAL_OBJECTIVES = ("class_accuracy", "fid_per_class")

EXTRACTORS = ("domain", "inception")
# A metric is `<short name>_<extractor>`; short name -> the objective it measures.
METRIC_SHORT_NAMES = {"fid": "fid", "kid": "kid", "is": "inception_score"}
METRICS = tuple(f"{short}_{extractor}" for extractor in EXTRACTORS for short in METRIC_SHORT_NAMES)


def get_objective(objective):
    """The `Objective` for a name (or an `Objective` as is).

    Args:
        objective: An `Objective`, or one of `OBJECTIVES`' names.

    Returns:
        The `Objective`.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
    """
    if isinstance(objective, Objective):
        return objective
    if objective not in OBJECTIVES:
        raise ValueError(f"Unknown objective {objective!r}; choose from {sorted(OBJECTIVES)}.")
    return OBJECTIVES[objective]


def parse_metric(metric):
    """`"fid_domain"` -> `(Objective("fid", "min"), "domain")`.

    Args:
        metric: One of `METRICS`.

    Returns:
        The objective and the feature extractor's name.

    Raises:
        ValueError: for an unknown metric name.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {METRICS}.")
    short, extractor = metric.split("_", 1)
    return OBJECTIVES[METRIC_SHORT_NAMES[short]], extractor


def metric_name(objective, extractor):
    """`(Objective("inception_score", ...), "domain")` -> `"is_domain"`."""
    objective = get_objective(objective)
    short = next(short for short, name in METRIC_SHORT_NAMES.items() if name == objective.name)
    return f"{short}_{extractor}"


def _target_objective(name):
    """The objective a `stop_at` name measures: a metric (`fid_domain`) or a record field
    that is an objective itself (`params`, `class_accuracy`, `fid_per_class`)."""
    if name in METRICS:
        return parse_metric(name)[0]
    if name in OBJECTIVES and name not in METRIC_SHORT_NAMES.values():
        return OBJECTIVES[name]
    choices = sorted(METRICS) + sorted(set(OBJECTIVES) - set(METRIC_SHORT_NAMES.values()))
    raise ValueError(f"stop_at names {name!r}, which is not a metric; choose from {choices}.")


def check_targets(stop_at):
    """Checks a search's targets to stop at; returns them as `{name: float}` (or None).

    Args:
        stop_at: None, or a non-empty dict from a metric name (`"fid_domain"`) or
            `"params"` / `"class_accuracy"` / `"fid_per_class"` to a finite number.

    Returns:
        The dict with float values, or None.

    Raises:
        ValueError: for another kind of value, an unknown name or a value that is
            not a finite number.
    """
    if stop_at is None:
        return None
    if not isinstance(stop_at, dict) or not stop_at:
        raise ValueError(
            f"stop_at must be a dict such as {{'fid_domain': 20.0}} (a metric and the value "
            f"that ends the search), got {stop_at!r}."
        )
    targets = {}
    for name, value in stop_at.items():
        _target_objective(name)
        if not validate.is_finite_number(value):
            raise ValueError(f"stop_at[{name!r}] must be a finite number, got {value!r}.")
        targets[name] = float(value)
    return targets


def check_targets_measured(stop_at, objectives, extractor):
    """Refuses targets the search never records, which would let it run to its end
    silently: a metric of another extractor, or a latency it does not time.

    Args:
        stop_at: The checked targets (`check_targets`), or None.
        objectives: The search's objective names.
        extractor: The search's feature extractor (`"domain"`, `"inception"`).

    Raises:
        ValueError: naming the target and what the search records instead.
    """
    for name in stop_at or ():
        if name in METRICS and parse_metric(name)[1] != extractor:
            measured = name.rsplit("_", 1)[0] + "_" + extractor
            raise ValueError(
                f"stop_at[{name!r}] is measured with {parse_metric(name)[1]} features, but "
                f"this search scores with {extractor} features, so it would never be met; "
                f"use {measured!r}, or a *_{parse_metric(name)[1]} metric."
            )
        if name == "generator_latency" and name not in objectives:
            raise ValueError(
                "stop_at['generator_latency'] is measured only in a search that optimises it; "
                "add it to objectives (e.g. objectives=('fid', 'generator_latency')) or drop "
                "the target."
            )


def meets_targets(record, targets):
    """Whether a history record reaches every target (lower or higher, as each objective
    wants): a failed record, or one without a target's value, never does."""
    if record.get("status") != "ok":
        return False
    for name, target in targets.items():
        value = record.get(name)
        if value is None:
            return False
        if _target_objective(name).direction == "min" and not value <= target:
            return False
        if _target_objective(name).direction == "max" and not value >= target:
            return False
    return True


def check_objective_names(objectives):
    """Checks a strategy's objectives; returns their names as a tuple.

    Args:
        objectives: A name, an `Objective`, or a sequence of them.

    Returns:
        A tuple of distinct names of `OBJECTIVES`.

    Raises:
        ValueError: for no objective, an unknown name, a duplicate, or a value
            that is not a sequence.
    """
    if isinstance(objectives, str):
        objectives = (objectives,)
    try:
        objectives = tuple(objectives)
    except TypeError:
        raise ValueError(
            f"objectives must be a tuple of names, got {objectives!r}; e.g. "
            "('fid',) or ('fid', 'params')."
        ) from None
    objectives = tuple(o.name if isinstance(o, Objective) else o for o in objectives)
    known = sorted(OBJECTIVES)
    if not objectives:
        raise ValueError(f"objectives must not be empty; choose from {known}.")
    return validate.check_known_names(objectives, "objective(s)", known)
