"""The numbers of a report: per-generation fitness, gene frequencies, the
quality/size front, metric labels, the time breakdown, the objective axis and
lineage roots, from history records (plain Python).

Also the run's lineage tree (`lineage_tree`: who inherited trained weights
from whom, laid out by generation), every evaluation's score in order
(`score_timeline`) and whether a score axis can be logarithmic
(`log_axis_fits`).
"""

import collections
import math
import statistics

from kgan_nas.results.records import lineage
from kgan_nas.results.records import pareto_records
from kgan_nas.results.records import rank_key
from kgan_nas.results.records import ranked_records

# Gene categories counted by `gene_frequencies`: layer kinds per layer, the
# training genes per genome.
GENE_CATEGORIES = ("generator layers", "discriminator layers", "optimizer", "loss")


def fitness_by_generation(history):
    """Per generation: best, median and best-so-far objective, and failures.

    Args:
        history: History records, as in `SearchResult.history`.

    Returns:
        A list of dicts with keys `generation`, `best`, `median`,
        `best_so_far`, `failed`, `evaluated` (None where nothing succeeded).
    """
    generations = sorted({record["generation"] for record in history})
    rows = []
    best_so_far = None
    for generation in generations:
        records = [r for r in history if r["generation"] == generation]
        ranked = ranked_records(records)
        values = [r["objective"] for r in ranked]
        # The one ranking decides "best": in a multi-fidelity search a higher
        # rung's record beats a lower one's whatever their values.
        if ranked and (best_so_far is None or rank_key(ranked[0]) < rank_key(best_so_far)):
            best_so_far = ranked[0]
        rows.append(
            {
                "generation": generation,
                "best": values[0] if values else None,
                "median": statistics.median(values) if values else None,
                "best_so_far": best_so_far["objective"] if best_so_far else None,
                "failed": sum(r["status"] != "ok" for r in records),
                "evaluated": len(records),
            }
        )
    return rows


def gene_frequencies(history):
    """How often each gene value was proposed, generation by generation.

    Layer kinds are counted per layer (a generator with two `conv2d` layers
    adds two), the optimizer and the loss once per genome. Every evaluated
    genome counts, failed or not: this shows what the strategy proposed,
    and so how selection shifted the population.

    Args:
        history: History records, as in `SearchResult.history`.

    Returns:
        A dict with `generations` (sorted generation numbers), `genomes`
        (genomes evaluated in each) and `counts`: for each name in
        `GENE_CATEGORIES`, a dict mapping each value seen (sorted) to its
        count in each generation, aligned with `generations`.
    """
    generations = sorted({record["generation"] for record in history})
    position = {generation: i for i, generation in enumerate(generations)}
    genomes = [0] * len(generations)
    counts = {
        category: collections.defaultdict(lambda: [0] * len(generations))
        for category in GENE_CATEGORIES
    }
    for record in history:
        column = position[record["generation"]]
        genome = record["genome"]
        genomes[column] += 1
        for gene in genome["generator"]:
            counts["generator layers"][gene["kind"]][column] += 1
        for gene in genome["discriminator"]:
            counts["discriminator layers"][gene["kind"]][column] += 1
        counts["optimizer"][genome["training"]["optimizer"]][column] += 1
        counts["loss"][genome["training"]["loss"]][column] += 1
    return {
        "generations": generations,
        "genomes": genomes,
        "counts": {category: dict(sorted(values.items())) for category, values in counts.items()},
    }


def cost_axis(config):
    """The cost a run's quality is weighed against: `(record field, axis label, column)`.

    The generator's measured seconds per batch or its MACs per image when
    the search optimised them (an objective of `config`; the first of them
    in its objectives), else its parameters.

    Args:
        config: The run's `config.json` `"search"` dict.
    """
    axes = {
        "generator_latency": ("generator_latency", "generator seconds per batch", "G s / batch"),
        "generator_macs": ("generator_macs", "generator MACs per image", "G MACs"),
    }
    chosen = [name for name in (config.get("objectives") or ()) if name in axes]
    return axes[chosen[0]] if chosen else ("params", "generator parameters", "G params")


def quality_size_front(history, cost="params"):
    """Keys of the successful candidates no other one beats on both quality and cost.

    Quality is the search's first objective (lower is better) and cost the
    record field `cost` (the generator's parameter count unless told
    otherwise, whatever objectives the search optimised), so the front
    shows what a cheaper generator costs in quality.

    Args:
        history: History records, as in `SearchResult.history`.
        cost: The record field of the cost (`cost_axis`).

    Returns:
        A set of genome keys.
    """
    costed = [r for r in history if r.get(cost) is not None]
    return {r["key"] for r in pareto_records(costed, lambda r: (r["objective"], r[cost]))}


# What KID is, as the records store it: the unbiased MMD^2 of the features under
# the cubic polynomial kernel, not multiplied by 10^3 as some papers print it.
KID_UNIT = "MMD², ×1"


def objective_label(metric):
    """Axis label of the objective.

    IS is maximised, so it is stored negated; KID is stored unscaled
    (`KID_UNIT`), which the label says so that it is not read as KID x 10^3.
    """
    if metric.startswith("is_"):
        return metric + " (negated)"
    if metric.startswith("kid_"):
        return f"{metric} ({KID_UNIT})"
    return metric


# Phases of `Fitness.seconds`, in the order a candidate goes through them.
TIME_PHASES = ("build", "inherit", "compile", "train", "metric", "save")


def time_breakdown(history):
    """Where the search's time went, from the records' `fitness.seconds`.

    Args:
        history: History records, as in `SearchResult.history`.

    Returns:
        A dict with `phases` (seconds summed over candidates for each of
        `TIME_PHASES` that any record has), `candidates` (the candidates'
        total seconds summed) and `wall` (seconds from the first candidate's
        start to the last one's end, pauses between resumes included; None
        without records). Candidates run in parallel can make `candidates`
        larger than `wall`.
    """
    phases = {}
    total = 0.0
    starts, ends = [], []
    for record in history:
        seconds = record.get("fitness", {}).get("seconds") or {}
        for phase in TIME_PHASES:
            if isinstance(seconds.get(phase), (int, float)):
                phases[phase] = phases.get(phase, 0.0) + seconds[phase]
        own = seconds.get("total") if isinstance(seconds.get("total"), (int, float)) else 0.0
        total += own
        if isinstance(record.get("time"), (int, float)):
            ends.append(record["time"])
            starts.append(record["time"] - own)
    return {
        "phases": {phase: phases[phase] for phase in TIME_PHASES if phase in phases},
        "candidates": total,
        "wall": max(ends) - min(starts) if ends else None,
    }


def objective_axis(values, ratio=10.0, percentile=90.0):
    """How to scale the objective axis so that a few large values do not flatten it.

    A linear axis is flattened when the range above the `percentile`-th
    value (at most the second largest) takes most of it (one outlier), or
    when the median sits in the bottom quarter of the range (a long tail of
    bad candidates, usual early in a search). Then positive values spanning
    more than `ratio` (largest over smallest) get a log axis; others are
    clipped: the axis ends a little above the `percentile`-th value and the
    points beyond are drawn at its edge, marked.

    Args:
        values: The objective values (lower is better).
        ratio: Spread of positive values that calls for a log axis.
        percentile: Where a linear axis may be clipped.

    Returns:
        `("linear", None)`, `("log", None)` or `("clipped", upper limit)`.
    """
    values = sorted(v for v in values if math.isfinite(v))
    if len(values) < 3:
        return "linear", None
    low, high = values[0], values[-1]
    # At most the second largest: with few points the percentile is the outlier itself.
    typical = values[min(len(values) - 2, math.ceil(len(values) * percentile / 100) - 1)]
    median = values[len(values) // 2]
    outlier = high - low > 3 * (typical - low)
    long_tail = median - low < 0.25 * (high - low)
    if not (outlier or long_tail):
        return "linear", None
    if low > 0 and high / low > ratio:
        return "log", None
    margin = 0.25 * (typical - low) or max(0.05 * abs(typical), 1e-3)
    return "clipped", typical + margin


def lineage_roots(history, records):
    """The oldest ancestor's key of each record's lineage (`results.records.lineage`).

    Args:
        history: History records.
        records: The records whose lineages to trace.

    Returns:
        A list of keys aligned with `records` (a record without a parent is
        its own root).
    """
    return [lineage(history, r["key"], r["generation"])[0]["key"] for r in records]


def log_axis_fits(values):
    """Whether a log axis can show `values`: every finite one is positive (and there is one).

    FID spans orders of magnitude between a random and a trained generator,
    so score plots use a log axis where they can; a negated IS or a KID
    below 0 (KID is unbiased, so it can be) keeps a linear one.
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return bool(finite) and min(finite) > 0


def score_timeline(history):
    """Every evaluation in the order the search recorded it, with its score.

    Args:
        history: History records, as in `SearchResult.history`.

    Returns:
        A list of dicts, one per record: `order` (1, 2, ...: its line in
        `history.jsonl`), `generation`, `key`, `objective` (None when it
        failed), `ok` and `best_so_far` (the lowest objective up to and
        including it, None before the first success).
    """
    points, best = [], None
    for order, record in enumerate(history, 1):
        value = record.get("objective")
        ok = value is not None and math.isfinite(value)
        if ok and (best is None or value < best):
            best = value
        points.append(
            {
                "order": order,
                "generation": record["generation"],
                "key": record["key"],
                "objective": value if ok else None,
                "ok": ok,
                "best_so_far": best,
            }
        )
    return points


def lineage_tree(history):
    """The run's lineage tree: one node per evaluated candidate, an edge to the
    candidate whose trained weights it started from.

    A node is a `(generation, key)` pair (a multi-fidelity candidate's rungs
    are one node). Its parent is the first other candidate on its
    `results.records.lineage`, the one definition of who inherited
    from whom: a record whose named parent failed or is missing started from
    scratch, so it is a root. Nodes are laid out in layers by generation; in
    each layer roots come first, best first, and then children in the order
    of their parents' rows, so that families stay together.

    Args:
        history: History records, as in `SearchResult.history`.

    Returns:
        A list of node dicts, sorted by `(generation, row)`: `key`,
        `generation`, `row` (the node's place in its layer, 0 at the top),
        `status` and `objective` (of its highest successful record, else its
        last one), `parent` (the parent node's index in the list, or None),
        `named_parent` (the record's `parent` field), `origin` (the record's
        `origin` field, e.g. `"zoo"` for a known design seeded into the
        first generation; None when absent), `best_lineage` (whether it is
        on the best candidate's lineage, the best included) and `index`.
    """
    records = {}
    for record in history:
        records.setdefault((record["generation"], record["key"]), []).append(record)
    parents = {}
    for generation, key in records:
        chain = lineage(history, key, generation)
        earlier = [(r["generation"], r["key"]) for r in chain]
        earlier = [place for place in earlier if place != (generation, key)]
        parents[(generation, key)] = earlier[-1] if earlier else None
    rows = _layer_rows(records, parents)
    best = ranked_records(history)[:1]
    best_places = {
        (r["generation"], r["key"])
        for r in (lineage(history, best[0]["key"], best[0]["generation"]) if best else [])
    }
    ordered = sorted(records, key=lambda place: (place[0], rows[place]))
    index = {place: i for i, place in enumerate(ordered)}
    nodes = []
    for place in ordered:
        evaluations = records[place]
        shown = _shown_record(evaluations)
        parent = parents[place]
        nodes.append(
            {
                "index": index[place],
                "key": place[1],
                "generation": place[0],
                "row": rows[place],
                "status": shown.get("status"),
                "objective": shown.get("objective"),
                "parent": None if parent is None else index[parent],
                "named_parent": evaluations[0].get("parent"),
                "origin": next((r["origin"] for r in evaluations if r.get("origin")), None),
                "best_lineage": place in best_places,
            }
        )
    return nodes


def _shown_record(evaluations):
    """The record a tree node shows: its best successful one, else its last."""
    ok = [r for r in evaluations if r.get("status") == "ok" and r.get("objective") is not None]
    return min(ok, key=rank_key) if ok else evaluations[-1]


def _layer_rows(records, parents):
    """Each node's row in its generation's layer: roots first, best first, then
    children in the order of their parents' rows (families stay together)."""
    rows = {}
    for generation in sorted({place[0] for place in records}):
        layer = [place for place in records if place[0] == generation]

        def order(place):
            parent = parents[place]
            first = -1 if parent is None else rows[parent]
            return (first, rank_key(_shown_record(records[place])))

        for row, place in enumerate(sorted(layer, key=order)):
            rows[place] = row
    return rows
