"""The numbers of a report: per-generation fitness, gene frequencies, the
quality/size front, metric labels, the time breakdown, the objective axis and
lineage roots, from history records (plain Python).
"""

import collections
import math
import statistics

from kgan_nas.results import lineage
from kgan_nas.results import pareto_records
from kgan_nas.results import rank_key
from kgan_nas.results import ranked_records

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


def quality_size_front(history):
    """Keys of the successful candidates no other one beats on both quality and size.

    Quality is the search's first objective (lower is better) and size the
    generator's parameter count, whatever objectives the search optimised,
    so the front shows what a smaller generator costs in quality.

    Args:
        history: History records, as in `SearchResult.history`.

    Returns:
        A set of genome keys.
    """
    return {r["key"] for r in pareto_records(history, lambda r: (r["objective"], r["params"]))}


def objective_label(metric):
    """Axis label of the objective: IS is maximised, so it is stored negated."""
    return metric + (" (negated)" if metric.startswith("is_") else "")


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
    """The oldest ancestor's key of each record's lineage (`kgan_nas.results.lineage`).

    Args:
        history: History records.
        records: The records whose lineages to trace.

    Returns:
        A list of keys aligned with `records` (a record without a parent is
        its own root).
    """
    return [lineage(history, r["key"], r["generation"])[0]["key"] for r in records]
