"""The numbers of a report: per-generation fitness, gene frequencies, the
quality/size front and metric labels, from history records (plain Python).
"""

import collections
import math
import statistics

from kgan_nas.results import pareto_records
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
    best_so_far = math.inf
    for generation in generations:
        records = [r for r in history if r["generation"] == generation]
        values = [r["objective"] for r in ranked_records(records)]
        if values:
            best_so_far = min(best_so_far, min(values))
        rows.append(
            {
                "generation": generation,
                "best": min(values) if values else None,
                "median": statistics.median(values) if values else None,
                "best_so_far": best_so_far if math.isfinite(best_so_far) else None,
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
