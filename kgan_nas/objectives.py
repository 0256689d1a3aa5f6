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
        # Conditional searches only: the share of generated images the domain
        # classifier assigns to their requested class, and the mean FID per class.
        Objective("class_accuracy", "max"),
        Objective("fid_per_class", "min"),
    )
}
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
