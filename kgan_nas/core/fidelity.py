"""Multi-fidelity evaluation: successive halving within each generation (pure Python).

A short training budget ranks GAN architectures noisily. Successive halving
(the rule inside Hyperband and ASHA) spends a generation's steps unevenly:
every candidate trains to the first rung's steps, the best `1 / eta` of them
(by the first objective, failed ones never) continue from their own saved
models to the next rung, and so on. `SuccessiveHalving` says how; the search
loop (`kgan_nas.engine.loop`) runs it, and this module holds the arithmetic:
the schedule, who is promoted, and the calibration check, the Spearman rank
correlation between consecutive rungs over the candidates that reached both.
"""

import dataclasses
import math

from kgan_nas import validate

KIND = "successive_halving"
# Below this Spearman rank correlation, a rung is said not to predict the next.
SPEARMAN_WARNING = 0.3
# Fewer candidates than this reaching both rungs leave the correlation undefined.
MIN_PAIRS = 3
# Where a run keeps its rung correlations (beside history.jsonl).
FIDELITY_FILE = "fidelity.json"


@dataclasses.dataclass(frozen=True)
class SuccessiveHalving:
    """Successive halving within each generation: many short runs, few long ones.

    Every candidate of a generation trains to `rungs[0]` steps and is
    scored; the best `max(1, n // eta)` of the `n` candidates at a rung (by
    the first objective; failed candidates never continue) go on to the next
    rung, starting from their own saved models and training only the
    difference in steps. Each rung's score is a record of its own in
    `history.jsonl` (`rung`, `rung_steps`, `total_steps`); the strategy
    learns each candidate's highest-rung result, and a candidate that
    reached a higher rung ranks above those stopped earlier.

    The continued candidate gets all its weights back, but its optimizers
    start afresh (Adam's moment estimates are not saved with the models) and
    its data order restarts from its seed.

    Example:

    ```python
    result = kgan_nas.search(
        "digits", fidelity=kgan_nas.SuccessiveHalving(rungs=(100, 300, 900), eta=3)
    )
    # or, the same: fidelity={"kind": "successive_halving", "rungs": (100, 300, 900), "eta": 3}
    ```

    Args:
        rungs: Increasing training steps of each rung, at least two, e.g.
            `(100, 300, 900)`. The last is the most any candidate trains in
            its generation.
        eta: Keep the best `1 / eta` at each rung; an integer >= 2. Defaults
            to 3.

    Raises:
        ValueError: for fewer than two rungs, rungs that are not increasing
            positive integers, or `eta` below 2.
    """

    rungs: tuple
    eta: int = 3

    def __post_init__(self):
        rungs = self.rungs
        if isinstance(rungs, (str, bytes)) or not hasattr(rungs, "__iter__"):
            raise ValueError(
                f"rungs must be a sequence of training steps, e.g. (100, 300, 900); got {rungs!r}."
            )
        rungs = tuple(rungs)
        for steps in rungs:
            validate.check_positive_int(steps, "each rung", hint=f"rungs={rungs!r}.")
        if len(rungs) < 2:
            raise ValueError(
                f"rungs needs at least two step budgets, got {rungs!r}; with a single budget "
                "pass fidelity=None and steps_per_candidate instead."
            )
        if any(later <= earlier for earlier, later in zip(rungs, rungs[1:])):
            raise ValueError(
                f"rungs must increase strictly (each rung trains longer), got {rungs!r}."
            )
        validate.check_positive_int(
            self.eta, "eta", minimum=2, hint="The best 1/eta of a rung continue; 3 is usual."
        )
        object.__setattr__(self, "rungs", tuple(int(steps) for steps in rungs))
        object.__setattr__(self, "eta", int(self.eta))

    @property
    def kind(self):
        return KIND

    def to_dict(self):
        """The JSON form stored in `config.json`."""
        return {"kind": KIND, "rungs": list(self.rungs), "eta": self.eta}

    def increment(self, rung):
        """Steps a candidate trains at `rung`: all of rung 0, the difference after it."""
        return self.rungs[rung] - (self.rungs[rung - 1] if rung else 0)

    def counts(self, population):
        """How many candidates reach each rung when none fails.

        Args:
            population: Candidates of the generation.

        Returns:
            A list, one count per rung: `population`, then
            `max(1, previous // eta)`.
        """
        counts = [validate.check_positive_int(population, "population")]
        for _ in self.rungs[1:]:
            counts.append(max(1, counts[-1] // self.eta))
        return counts

    def generation_steps(self, population):
        """Training steps one generation spends when none fails (for equal-budget studies)."""
        return sum(
            count * self.increment(rung) for rung, count in enumerate(self.counts(population))
        )


def resolve_fidelity(fidelity, steps_per_candidate=None):
    """Checks a `fidelity` argument and returns a `SuccessiveHalving` or None.

    Args:
        fidelity: None (every candidate trains `steps_per_candidate`), a
            `SuccessiveHalving`, a dict `{"kind": "successive_halving",
            "rungs": ..., "eta": ...}` (`eta` optional), or the string
            `"successive_halving"`: three rungs ending at
            `steps_per_candidate`, each `eta` (3) times the one before.
        steps_per_candidate: The top rung for the string form.

    Returns:
        A `SuccessiveHalving`, or None.

    Raises:
        ValueError: for another kind, unknown keys, or bad rungs or eta.
    """
    if fidelity is None or isinstance(fidelity, SuccessiveHalving):
        return fidelity
    if fidelity == KIND:
        top = validate.check_positive_int(steps_per_candidate, "steps_per_candidate")
        rungs = sorted({max(1, top // 9), max(1, top // 3), top})
        if len(rungs) < 2:
            raise ValueError(
                f"steps_per_candidate={top} is too small to split into rungs; pass "
                "fidelity={'kind': 'successive_halving', 'rungs': (...)} instead."
            )
        return SuccessiveHalving(rungs=tuple(rungs))
    if not isinstance(fidelity, dict):
        raise ValueError(
            f"fidelity must be None, 'successive_halving', a dict such as {{'kind': "
            f"'successive_halving', 'rungs': (100, 300, 900), 'eta': 3}} or a "
            f"kgan_nas.SuccessiveHalving; got {fidelity!r}."
        )
    settings = dict(fidelity)
    kind = settings.pop("kind", KIND)
    if kind != KIND:
        raise ValueError(f"fidelity kind must be {KIND!r} (the only one so far), got {kind!r}.")
    unknown = sorted(set(settings) - {"rungs", "eta"})
    if unknown:
        raise ValueError(
            f"Unknown fidelity setting(s) {unknown}; a successive_halving fidelity takes "
            "'rungs' and 'eta'."
        )
    if "rungs" not in settings:
        raise ValueError(
            "fidelity needs 'rungs', the training steps of each rung, e.g. (100, 300, 900)."
        )
    return SuccessiveHalving(**settings)


def promote(candidates, fitnesses, eta, objective):
    """The candidates of one rung that continue to the next.

    Args:
        candidates: The genome keys at this rung, in ask order.
        fitnesses: Key -> `Fitness` at this rung.
        eta: Keep `max(1, len(candidates) // eta)`.
        objective: The first objective's name (lower oriented values win).

    Returns:
        The continuing keys, best first (ties in ask order). Failed
        candidates rank last and never continue: they saved no models.
    """
    ranked = sorted(candidates, key=lambda key: fitnesses[key].objective(objective))
    keep = max(1, len(candidates) // eta)
    return [key for key in ranked[:keep] if fitnesses[key].ok]


def spearman(first, second):
    """Spearman's rank correlation of two equally long sequences (ties get average ranks).

    Args:
        first: Numbers.
        second: Numbers, as many as `first`.

    Returns:
        The correlation in [-1, 1], or None when it is undefined (fewer than
        two pairs, or one side constant).

    Raises:
        ValueError: if the lengths differ.
    """
    if len(first) != len(second):
        raise ValueError(f"spearman needs equal lengths, got {len(first)} and {len(second)}.")
    if len(first) < 2:
        return None
    a, b = _ranks(first), _ranks(second)
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    if var_a == 0 or var_b == 0:
        return None
    return max(-1.0, min(1.0, cov / math.sqrt(var_a * var_b)))


def _ranks(values):
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def rung_correlations(history, rungs=None, threshold=SPEARMAN_WARNING):
    """How well each rung predicts the next, from a run's history records.

    For each pair of consecutive rungs, the Spearman rank correlation of the
    first objective (`record["objective"]`) over the candidates (same
    generation and key) that succeeded at both. Only promoted candidates
    reach the higher rung, so the lower rung's range is cut short; read a
    low value together with `pairs`.

    Args:
        history: History records.
        rungs: The run's rung steps (`SuccessiveHalving.rungs`), so that a
            rung no candidate reached still gets its entry; None takes the
            rungs found in `history`.
        threshold: Below this correlation (or when it is undefined, with
            fewer than `MIN_PAIRS` pairs) the entry carries a warning.

    Returns:
        A list of dicts, one per consecutive pair of rungs present in the
        history: `rung`, `next_rung`, `steps` and `next_steps` (the rungs'
        step budgets), `pairs`, `spearman` (None when undefined) and
        `warning` (a sentence, or None). Empty for a run without rungs.
    """
    scores = {}  # rung -> {(generation, key): objective}
    steps = dict(enumerate(rungs or ()))
    for record in history:
        rung = record.get("rung")
        if rung is None:
            continue
        steps.setdefault(rung, record.get("rung_steps"))
        if record.get("objective") is not None:
            scores.setdefault(rung, {})[(record["generation"], record["key"])] = record["objective"]
    entries = []
    for rung in sorted(steps)[:-1]:
        low, high = scores.get(rung, {}), scores.get(rung + 1, {})
        both = [pair for pair in low if pair in high]
        value = spearman([low[p] for p in both], [high[p] for p in both])
        if len(both) < MIN_PAIRS:
            value = None
        entries.append(
            {
                "rung": rung,
                "next_rung": rung + 1,
                "steps": steps[rung],
                "next_steps": steps.get(rung + 1),
                "pairs": len(both),
                "spearman": value,
                "warning": _warning(rung, len(both), value, threshold),
            }
        )
    return entries


def _warning(rung, pairs, value, threshold):
    if value is None:
        return (
            f"rung {rung} cannot be checked against rung {rung + 1}: the rank correlation is "
            f"undefined ({pairs} candidate{'' if pairs == 1 else 's'} reached both; it needs "
            f"{MIN_PAIRS} with differing scores)."
        )
    if value < threshold:
        return (
            f"rung {rung} does not predict rung {rung + 1}: Spearman {value:.2f} < {threshold} "
            f"over {pairs} candidates; promotion at rung {rung} is close to chance."
        )
    return None


def correlation_lines(entries):
    """The rung correlations as readable lines (for `SearchResult.summary()` and the loop)."""
    if not entries:
        return []
    lines = ["Fidelity check (Spearman rank correlation between consecutive rungs):"]
    for entry in entries:
        value = "undefined" if entry["spearman"] is None else f"{entry['spearman']:.3f}"
        lines.append(
            f"  rung {entry['rung']} ({entry['steps']} steps) -> rung {entry['next_rung']} "
            f"({entry['next_steps']} steps): {value} over {entry['pairs']} candidates"
        )
    lines += [f"WARNING: {entry['warning']}" for entry in entries if entry["warning"]]
    return lines
