"""Queries over a run's history records: ranked, best, Pareto front, lineage, steps.

The one definition of "ranked", "best" and "Pareto front" over history
records; the search loop, `SearchResult`, the summary and both reports use
it. A record's `objective` is the first objective already oriented so that
lower is better (`kgan_nas.core.objectives.Objective.oriented`), and failed
candidates have none, so ranking is a sort on it. Pure Python: reading a
run's table costs no TensorFlow start-up.
"""

from kgan_nas.core.fitness import rung_first_key
from kgan_nas.core.genome import Genome


def rank_key(record):
    """A record's sort key in the one ranking: higher rungs first, then lower objectives.

    Records of searches without rungs (`kgan_nas.core.fidelity`) are all at rung
    0, so the key is their objective; a failed record has none and sorts
    last.
    """
    return rung_first_key(record.get("rung"), record.get("objective"))


def ranked_records(history):
    """Successful records, best first (ties keep history order).

    A multi-fidelity search records a candidate once per rung it reached;
    only its highest successful record is ranked (it supersedes the lower
    ones; a continuation that failed supersedes nothing, as the candidate's
    saved models are still those of its lower rung), and a candidate that
    reached a higher rung ranks above every candidate stopped at a lower
    one.
    """
    top = {}
    for record in history:
        if record.get("objective") is None:
            continue
        # Records without rungs stand alone; rung records share their candidate's place.
        pair = id(record) if record.get("rung") is None else (record["generation"], record["key"])
        if pair not in top or record.get("rung", 0) >= top[pair].get("rung", 0):
            top[pair] = record
    return sorted(top.values(), key=rank_key)


def best_record(history):
    """The best successful record, or None."""
    ranked = ranked_records(history)
    return ranked[0] if ranked else None


def pareto_records(history, point):
    """Successful records that no other beats on every coordinate of `point(record)`.

    Args:
        history: History records.
        point: Function from a record to a tuple of lower-is-better values.

    Returns:
        The front's records, best first by the first objective.
    """
    from kgan_nas.core.pareto import front_of

    return front_of(ranked_records(history), point)


def lineage(history, key, generation=None):
    """The chain of records whose trained weights led to candidate `key`, oldest first.

    A record's `parent` names the candidate whose saved models it started
    from (weight inheritance). A key can be evaluated in several
    generations, so a parent is the record of that key in the latest
    generation *before* its child's. The chain stops at a record without a
    parent, at a parent missing from `history`, and before a parent that
    failed: a failed candidate saved no models, so its child started from
    scratch. In a multi-fidelity search (`kgan_nas.core.fidelity`) a record at
    rung `r > 0` continued the same candidate's rung `r - 1` record, and a
    parent's record is its highest successful rung (whose models its folder
    holds).

    Args:
        history: History records, as in `SearchResult.history`.
        key: The candidate's genome key.
        generation: Which evaluation of `key` to start from; defaults to
            its latest.

    Returns:
        A list of records ending with `key`'s own; empty if `key` is not in
        `history` (at `generation`, when given).
    """
    record = _latest_record(history, key, before=None if generation is None else generation + 1)
    chain = []
    while record is not None:
        chain.append(record)
        record = _predecessor(history, record)
    return chain[::-1]


def total_steps(history, key, generation=None):
    """Training steps behind candidate `key`: its own plus those of its `lineage`.

    With weight inheritance a child continues its parent's training, and a
    multi-fidelity rung continues the rung below, so the weights it was
    scored with saw every step along the chain. The search stores this in
    each record as `total_steps` when it writes it (`record_total_steps`).

    Args:
        history: History records, as in `SearchResult.history`.
        key: The candidate's genome key.
        generation: Which evaluation of `key`; defaults to its latest.

    Returns:
        The number of steps (0 for a key not in `history`).
    """
    record = _latest_record(history, key, before=None if generation is None else generation + 1)
    return 0 if record is None else record_total_steps(history, record)


def record_total_steps(history, record):
    """The training steps behind one record: its own plus its predecessor's total.

    The one definition of total steps. A record that stores `total_steps`
    (every record written since multi-fidelity search) is read as is; older
    records are summed along their `lineage`.

    Args:
        history: History records holding `record`'s predecessors.
        record: A history record (it need not be in `history` yet).

    Returns:
        The number of steps.
    """
    if record.get("total_steps") is not None:
        return int(record["total_steps"])
    own = int(record.get("fitness", {}).get("steps") or 0)
    previous = _predecessor(history, record)
    return own + (0 if previous is None else record_total_steps(history, previous))


def _predecessor(history, record):
    """The record whose saved models `record`'s training started from, or None."""
    rung = record.get("rung") or 0
    if rung:
        return _latest_record(
            history,
            record["key"],
            before=record["generation"] + 1,
            since=record["generation"],
            below_rung=rung,
        )
    parent_key = record.get("parent")
    if parent_key is None:
        return None
    parent = _latest_record(history, parent_key, before=record["generation"])
    if parent is None:
        return None
    ok = [
        r
        for r in history
        if r["key"] == parent_key
        and r["generation"] == parent["generation"]
        and r.get("status") == "ok"
    ]
    return max(ok, key=lambda r: r.get("rung") or 0) if ok else None


def _latest_record(history, key, before=None, since=None, below_rung=None):
    """The record of `key` with the latest (generation, rung), or None.

    Only records of generations in `[since, before)` and of rungs below
    `below_rung` count, where given. Ties go to the later record.
    """
    found = None
    for record in history:
        generation, rung = record["generation"], record.get("rung") or 0
        if (
            record["key"] != key
            or (before is not None and generation >= before)
            or (since is not None and generation < since)
            or (below_rung is not None and rung >= below_rung)
        ):
            continue
        if found is None or (generation, rung) >= (found["generation"], found.get("rung") or 0):
            found = record
    return found


def flatten_record(record):
    """One history record as a flat dict: nested fields joined with dots
    (`fitness.fid`, `fitness.seconds.train`, `genome.training.loss`), the layer
    lists as the one-line `genome` description and their lengths."""
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        else:
            flat[prefix] = value

    walk("", {key: value for key, value in record.items() if key != "genome"})
    walk("genome.training", record["genome"]["training"])
    genome = Genome.from_dict(record["genome"])
    flat["genome"] = genome.describe()
    flat["genome.generator_layers"] = len(genome.generator)
    flat["genome.discriminator_layers"] = len(genome.discriminator)
    return flat
