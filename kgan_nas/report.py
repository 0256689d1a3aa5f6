"""Plots and summaries from a run directory (no training, no Keras needed)."""

import math
import os
import statistics

from kgan_nas.atomic import atomic_copy
from kgan_nas.atomic import atomic_write


def fitness_by_generation(history):
    """Per generation: best, median and best-so-far objective, and failures.

    Returns:
        A list of dicts with keys `generation`, `best`, `median`,
        `best_so_far`, `failed`, `evaluated` (None where nothing succeeded).
    """
    generations = sorted({record["generation"] for record in history})
    rows = []
    best_so_far = math.inf
    for generation in generations:
        records = [r for r in history if r["generation"] == generation]
        values = [r["objective"] for r in records if r.get("objective") is not None]
        if values:
            best_so_far = min(best_so_far, min(values))
        rows.append({
            "generation": generation,
            "best": min(values) if values else None,
            "median": statistics.median(values) if values else None,
            "best_so_far": best_so_far if math.isfinite(best_so_far) else None,
            "failed": sum(r["status"] != "ok" for r in records),
            "evaluated": len(records),
        })
    return rows


def write_report(result, directory=None):
    """Writes PNG plots of a `SearchResult` and returns their paths.

    Files: `fitness.png` (best / median / best-so-far per generation),
    `pareto.png` (objective against generator parameters, front marked),
    `best_samples.png` (a grid from the best generator, when saved).

    Args:
        result: A `kgan_nas.search.SearchResult`.
        directory: Output folder; defaults to `<run directory>/report`.

    Returns:
        The list of written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    directory = directory or os.path.join(result.directory, "report")
    os.makedirs(directory, exist_ok=True)
    metric = result.config["metric"]
    written = []

    rows = fitness_by_generation(result.history)
    figure, axis = pyplot.subplots(figsize=(6, 4))
    xs = [row["generation"] + 1 for row in rows]
    for key, style in (("best", "o-"), ("median", "s--"), ("best_so_far", "k-")):
        ys = [row[key] if row[key] is not None else float("nan") for row in rows]
        axis.plot(xs, ys, style, label=key.replace("_", " "))
    axis.set_xlabel("generation")
    axis.set_ylabel(metric + (" (negated)" if metric.startswith("is_") else ""))
    axis.set_title("Fitness per generation (lower is better)")
    axis.legend()
    axis.grid(alpha=0.3)
    written.append(_save(figure, os.path.join(directory, "fitness.png"), pyplot))

    ok = [r for r in result.history if r.get("objective") is not None]
    if ok:
        front = {r["key"] for r in result.pareto_front()}
        figure, axis = pyplot.subplots(figsize=(6, 4))
        axis.scatter([r["params"] for r in ok], [r["objective"] for r in ok], s=18,
                     alpha=0.5, label="candidates")
        front_records = sorted((r for r in ok if r["key"] in front), key=lambda r: r["params"])
        axis.plot([r["params"] for r in front_records], [r["objective"] for r in front_records],
                  "r.-", label="Pareto front")
        axis.set_xscale("log")
        axis.set_xlabel("generator parameters")
        axis.set_ylabel(metric)
        axis.set_title("Quality against size")
        axis.legend()
        axis.grid(alpha=0.3)
        written.append(_save(figure, os.path.join(directory, "pareto.png"), pyplot))

    best_best = os.path.join(result.directory, "best", "samples.png")
    if os.path.exists(best_best):
        written.append(atomic_copy(best_best, os.path.join(directory, "best_samples.png")))
    return written


def _save(figure, path, pyplot):
    figure.tight_layout()
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=110))
    pyplot.close(figure)
    return path
