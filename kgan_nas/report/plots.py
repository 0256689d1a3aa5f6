"""PNG plots of a run (`write_report`), drawn with matplotlib into `<run>/report/`."""

import os

from kgan_nas.core import genome as genome_lib
from kgan_nas.report.numbers import GENE_CATEGORIES
from kgan_nas.report.numbers import cost_axis
from kgan_nas.report.numbers import fitness_by_generation
from kgan_nas.report.numbers import gene_frequencies
from kgan_nas.report.numbers import lineage_tree
from kgan_nas.report.numbers import log_axis_fits
from kgan_nas.report.numbers import objective_axis
from kgan_nas.report.numbers import objective_label
from kgan_nas.report.numbers import quality_size_front
from kgan_nas.report.numbers import score_timeline
from kgan_nas.results.records import lineage
from kgan_nas.results.records import ranked_records
from kgan_nas.store.atomic import atomic_copy
from kgan_nas.store.atomic import atomic_write

FITNESS_PNG = "fitness.png"
PARETO_PNG = "pareto.png"
GENES_PNG = "gene_frequencies.png"
BEST_SAMPLES_PNG = "best_samples.png"
CURVES_PNG = "curves.png"
TIMELINE_PNG = "timeline.png"
LINEAGE_PNG = "lineage.png"
# Candidates whose training curves `curves.png` draws.
CURVE_CANDIDATES = 3


def write_report(result, directory=None):
    """Writes PNG plots of a `SearchResult` and returns their paths.

    Files, each only when there is something to draw: `fitness.png` (best,
    median and best-so-far per generation, with the run's reference
    scores, on a log axis where the scores allow one: `log_axis_fits`),
    `timeline.png` (every evaluation's score in the order the search
    recorded them, failed ones marked, with the best so far),
    `pareto.png` (objective against generator parameters, the front
    marked; see `objective_axis` for its objective axis; the legend beside
    the axes, so it hides no point), `lineage.png` (the run's lineage tree,
    `lineage_tree`, when any candidate inherited weights),
    `gene_frequencies.png` (stacked bars per generation, see
    `gene_frequencies`), `curves.png` (the losses of the best
    `CURVE_CANDIDATES` candidates along their lineages, when recorded) and
    `best_samples.png` (the best generator's sample grid).

    Args:
        result: A `kgan_nas.SearchResult`.
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
    if result.history:
        written.append(
            _plot_fitness(
                result.history,
                metric,
                result.baselines(),
                os.path.join(directory, FITNESS_PNG),
                pyplot,
            )
        )
    if result.history:
        written.append(
            _plot_timeline(result.history, metric, os.path.join(directory, TIMELINE_PNG), pyplot)
        )
    if ranked_records(result.history):
        written.append(
            _plot_quality_size(
                result.history,
                metric,
                cost_axis(result.config),
                os.path.join(directory, PARETO_PNG),
                pyplot,
            )
        )
    tree = lineage_tree(result.history)
    if any(node["parent"] is not None for node in tree):
        written.append(
            _plot_lineage_tree(tree, metric, os.path.join(directory, LINEAGE_PNG), pyplot)
        )
    if result.history:
        written.append(
            _plot_gene_frequencies(
                gene_frequencies(result.history), os.path.join(directory, GENES_PNG), pyplot
            )
        )
    curves = _curve_lineages(result.history)
    if curves:
        written.append(_plot_curves(curves, os.path.join(directory, CURVES_PNG), pyplot))
    best_samples = os.path.join(result.directory, "best", "samples.png")
    if os.path.exists(best_samples):
        written.append(atomic_copy(best_samples, os.path.join(directory, BEST_SAMPLES_PNG)))
    return written


def _plot_fitness(history, metric, baselines, path, pyplot):
    from matplotlib.ticker import MaxNLocator

    rows = fitness_by_generation(history)
    figure, axis = pyplot.subplots(figsize=(7.5, 4))
    xs = [row["generation"] for row in rows]
    for key, style in (("best", "o-"), ("median", "s--"), ("best_so_far", "k-")):
        ys = [row[key] if row[key] is not None else float("nan") for row in rows]
        axis.plot(xs, ys, style, label=key.replace("_", " "))
    failed = [row["generation"] for row in rows if row["best"] is None]
    if failed:  # a generation where everything failed has no point to draw
        for x in failed:
            axis.axvline(x, color="tab:red", alpha=0.3)
        axis.plot([], [], color="tab:red", alpha=0.3, label="all failed")
    plotted = [row[key] for row in rows for key in ("best", "median", "best_so_far")]
    if metric.startswith("fid_") and baselines:
        # The run's reference scores (same features, same real images) say
        # what a number means: the floor, and where noise would land.
        for key, label, style in (
            ("fid_uniform_noise", "uniform noise", ":"),
            ("fid_train_vs_eval", "real vs real", "-."),
        ):
            if baselines.get(key) is not None:
                axis.axhline(baselines[key], color="grey", linestyle=style, label=label)
                plotted.append(baselines[key])
    if log_axis_fits(plotted):
        axis.set_yscale("log")  # FID spans orders of magnitude: a linear axis squashes it
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("generation")
    axis.set_ylabel(_score_label(metric, axis))
    axis.set_title("Fitness per generation (lower is better)")
    if len(xs) == 1:
        axis.set_xlim(xs[0] - 1, xs[0] + 1)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.grid(alpha=0.3)
    return _save(figure, path, pyplot)


def _plot_quality_size(history, metric, cost, path, pyplot):
    field, label, _ = cost
    ok = [r for r in ranked_records(history) if r.get(field) is not None]
    front = quality_size_front(history, field)
    figure, axis = pyplot.subplots(figsize=(7.6, 4))
    others = [r for r in ok if r["key"] not in front]
    axis.scatter(
        [r[field] for r in others],
        [r["objective"] for r in others],
        s=20,
        alpha=0.5,
        label="candidates",
    )
    front_records = sorted((r for r in ok if r["key"] in front), key=lambda r: r[field])
    axis.plot(
        [r[field] for r in front_records],
        [r["objective"] for r in front_records],
        "o-",
        color="tab:red",
        label="Pareto front",
    )
    axis.set_xscale("log")
    _scale_objective_axis(axis, ok)
    axis.set_xlabel(label)
    axis.set_ylabel(_score_label(metric, axis))
    axis.set_title(f"Quality against {label} (lower is better)")
    # Beside the axes, not on them: inside, the legend can hide a point.
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axis.grid(alpha=0.3, which="both")
    return _save(figure, path, pyplot)


def _score_label(metric, axis):
    """The objective's axis label, saying when the axis is logarithmic."""
    return objective_label(metric) + (", log scale" if axis.get_yscale() == "log" else "")


def _plot_timeline(history, metric, path, pyplot):
    from matplotlib.ticker import MaxNLocator

    points = score_timeline(history)
    figure, axis = pyplot.subplots(figsize=(7.6, 3.6))
    ok = [p for p in points if p["ok"]]
    if ok:
        shown = axis.scatter(
            [p["order"] for p in ok],
            [p["objective"] for p in ok],
            c=[p["generation"] for p in ok],
            cmap="viridis",
            s=22,
            zorder=3,
            label="candidate",
        )
        colorbar = figure.colorbar(shown, ax=axis, pad=0.02)
        colorbar.set_label("generation")
        colorbar.locator = MaxNLocator(integer=True)
        colorbar.update_ticks()
        best = [(p["order"], p["best_so_far"]) for p in points if p["best_so_far"] is not None]
        axis.step(*zip(*best), where="post", color="black", linewidth=1, label="best so far")
    if log_axis_fits([p["objective"] for p in ok]):
        axis.set_yscale("log")
    failed = [p["order"] for p in points if not p["ok"]]
    if failed:  # no score to draw: a cross on the top edge, where it happened
        axis.scatter(
            failed,
            [1.0] * len(failed),
            marker="x",
            color="tab:red",
            s=30,
            clip_on=False,
            zorder=4,
            transform=axis.get_xaxis_transform(),
            label=f"failed ({len(failed)})",
        )
    for before, point in zip(points, points[1:]):
        if point["generation"] != before["generation"]:  # where a generation begins
            axis.axvline(point["order"] - 0.5, color="grey", alpha=0.3, linewidth=0.8)
    axis.set_xlim(0.5, len(points) + 0.5)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("evaluation (order in history.jsonl; grey lines: a new generation)")
    axis.set_ylabel(_score_label(metric, axis))
    axis.set_title("Every candidate's score, in the order evaluated (lower is better)")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, borderaxespad=0.0)
    axis.grid(alpha=0.3, which="both")
    return _save(figure, path, pyplot)


def _scale_objective_axis(axis, records):
    """A log or clipped objective axis when one outlier would flatten a linear one."""
    scale, limit = objective_axis([r["objective"] for r in records])
    if scale == "log":
        axis.set_yscale("log")
    elif scale == "clipped":
        clipped = [r for r in records if r["objective"] > limit]
        low = min(r["objective"] for r in records)
        axis.set_ylim(low - 0.05 * (limit - low), limit)
        axis.scatter(
            [r["params"] for r in clipped],
            [limit] * len(clipped),
            marker="^",
            s=60,
            color="black",
            clip_on=False,
            zorder=5,
            label=f"beyond the axis ({len(clipped)})",
        )


# Up to this many nodes the lineage tree labels every node with its key's start;
# beyond, only the best candidate's chain and zoo designs.
LABELLED_NODES = 80
# How much of a key a node's label shows.
LABEL_CHARACTERS = 6


def _plot_lineage_tree(tree, metric, path, pyplot):
    from matplotlib.colors import LogNorm
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import offset_copy

    generations = sorted({n["generation"] for n in tree})
    height = max(n["row"] for n in tree) + 1
    figure, axis = pyplot.subplots(
        figsize=(min(16.0, 3.5 + 1.3 * len(generations)), min(30.0, 2.4 + 0.32 * height))
    )
    chain = {n["index"] for n in tree if n["best_lineage"]}
    for node in tree:  # edges first, under the nodes
        if node["parent"] is not None:
            parent = tree[node["parent"]]
            on_chain = node["index"] in chain and parent["index"] in chain
            axis.plot(
                [parent["generation"], node["generation"]],
                [parent["row"], node["row"]],
                color="tab:orange" if on_chain else "grey",
                linewidth=2.5 if on_chain else 0.8,
                alpha=1.0 if on_chain else 0.6,
                zorder=2 if on_chain else 1,
            )
    ok = [n for n in tree if n["status"] == "ok" and n["objective"] is not None]
    values = [n["objective"] for n in ok]
    if ok:
        norm = LogNorm() if log_axis_fits(values) else Normalize()
        shown = axis.scatter(
            [n["generation"] for n in ok],
            [n["row"] for n in ok],
            c=values,
            cmap="viridis",
            norm=norm,
            s=[90 if n["index"] in chain else 40 for n in ok],
            edgecolors=["tab:orange" if n["index"] in chain else "none" for n in ok],
            linewidths=2,
            zorder=3,
        )
        colorbar = figure.colorbar(shown, ax=axis, pad=0.02, shrink=0.9)
        colorbar.set_label(objective_label(metric) + " (darker is better)")
    _tree_markers(axis, tree, chain)
    labelled = len(tree) <= LABELLED_NODES
    for node in tree:
        if labelled or node["index"] in chain or node["origin"] == "zoo":
            axis.annotate(
                node["key"][:LABEL_CHARACTERS],
                (node["generation"], node["row"]),
                xytext=(9, 4),
                textcoords="offset points",
                fontsize=7,
                fontweight="bold" if node["index"] in chain else "normal",
                zorder=5,
            )
    axis.set_ylim(height - 0.5, -0.7)
    axis.set_xlim(generations[0] - 0.4, generations[-1] + 0.8)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_yticks([])
    axis.set_xlabel("generation")
    axis.set_title("Lineage tree: who started from whose trained weights")
    # Under the axis label, a fixed distance below the axes whatever the tree's height.
    under = offset_copy(axis.transAxes, figure, y=-34, units="points")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=under, ncol=4)
    return _save(figure, path, pyplot)


def _tree_markers(axis, tree, chain):
    """The lineage tree's failed and zoo nodes, and the legend's entries."""
    failed = [n for n in tree if not (n["status"] == "ok" and n["objective"] is not None)]
    if failed:
        axis.scatter(
            [n["generation"] for n in failed],
            [n["row"] for n in failed],
            marker="x",
            color="tab:red",
            s=40,
            zorder=4,
            label=f"failed ({len(failed)})",
        )
    zoo = [n for n in tree if n["origin"] == "zoo"]
    if zoo:  # a known design seeded into the search, not one it found
        axis.scatter(
            [n["generation"] for n in zoo],
            [n["row"] for n in zoo],
            marker="*",
            s=260,
            facecolors="none",
            edgecolors="tab:purple",
            linewidths=1.5,
            zorder=4,
            label=f"zoo design ({len(zoo)})",
        )
    if chain:
        axis.plot([], [], color="tab:orange", linewidth=2.5, label="best candidate's lineage")
    axis.plot([], [], color="grey", linewidth=0.8, label="inherited weights")


def _curve_lineages(history):
    """[(key, [(step offset, curve, own)...])] of the best candidates with curves."""
    lineages, seen = [], set()
    for record in ranked_records(history):
        if len(lineages) == CURVE_CANDIDATES:
            break
        if record["key"] in seen or not record["fitness"].get("curve"):
            continue
        seen.add(record["key"])
        segments, offset = [], 0
        for link in lineage(history, record["key"], record["generation"]):
            curve = link["fitness"].get("curve") or {}
            if curve.get("step"):
                segments.append((offset, curve, link is record))
            offset += int(link["fitness"].get("steps") or 0)
        lineages.append((record["key"], segments))
    return lineages


def _plot_curves(lineages, path, pyplot):
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 3.8))
    colours = pyplot.get_cmap("tab10").colors
    for index, (key, segments) in enumerate(lineages):
        colour = colours[index % len(colours)]
        for axis, loss in zip(axes, ("d_loss", "g_loss")):
            for offset, curve, own in segments:
                axis.plot(
                    [offset + step for step in curve["step"]],
                    [float("nan") if v is None else v for v in curve[loss]],
                    "o-" if own else "o--",
                    color=colour if own else "grey",
                    alpha=1.0 if own else 0.6,
                    markersize=3,
                    label=f"#{index + 1} {key}" if own else None,
                )
    for axis, title in zip(axes, ("Discriminator loss", "Generator loss")):
        axis.set_title(title)
        axis.set_xlabel("training step (counted from the start of the lineage)")
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.suptitle("Training curves of the best candidates (grey, dashed: their ancestors)")
    return _save(figure, path, pyplot)


def _plot_gene_frequencies(frequencies, path, pyplot):
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    xs = np.array(frequencies["generations"])
    figure, axes = pyplot.subplots(2, 2, figsize=(10, 6.4), sharex=True)
    colours = pyplot.get_cmap("tab10").colors
    # One colour per value across panels (a dense layer has the same colour
    # in the generator and the discriminator panel).
    known = {
        "generator layers": genome_lib.LAYER_KINDS,
        "discriminator layers": genome_lib.LAYER_KINDS,
        "optimizer": genome_lib.OPTIMIZERS,
        "loss": genome_lib.LOSSES,
    }
    for axis, category in zip(axes.flat, GENE_CATEGORIES):
        values = frequencies["counts"][category]
        totals = (
            np.sum([counts for counts in values.values()], axis=0, dtype=float)
            if values
            else np.zeros(len(xs))
        )
        bottom = np.zeros(len(xs))
        for value, counts in values.items():
            index = known[category].index(value) if value in known[category] else -1
            share = np.divide(counts, totals, out=np.zeros(len(xs)), where=totals > 0)
            axis.bar(
                xs,
                share,
                bottom=bottom,
                width=0.8,
                label=value,
                color=colours[index % len(colours)],
            )
            bottom += share
        per = "layers" if category.endswith("layers") else "genomes"
        axis.set_title(f"{category} (share of {per})")
        axis.set_ylim(0, 1)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if values:
            axis.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    for axis in axes[-1]:
        axis.set_xlabel("generation")
    figure.suptitle("Gene frequencies per generation")
    return _save(figure, path, pyplot)


def _save(figure, path, pyplot):
    figure.tight_layout()
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=110))
    pyplot.close(figure)
    return path
