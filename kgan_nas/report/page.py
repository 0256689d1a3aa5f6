"""One self-contained HTML page about a run: `kgan-nas report DIR` writes it.

The page embeds everything it shows (PNG plots and sample grids as base64
data URIs, CSS inline, architecture diagrams as inline SVG), so it can be
mailed or archived as one file and opened offline. It reads the run
directory only: nothing is trained, and neither TensorFlow nor Keras is
imported.
"""

import datetime
import os

from kgan_nas import validate
from kgan_nas.atomic import atomic_write_text
from kgan_nas.fitness import STATUSES
from kgan_nas.fitness import Fitness
from kgan_nas.genome import Genome
from kgan_nas.report import architecture
from kgan_nas.report import fidelity_view
from kgan_nas.report import final_view
from kgan_nas.report import gallery
from kgan_nas.report import lineage_view
from kgan_nas.report import markup
from kgan_nas.report import numbers
from kgan_nas.report import plots as report_plots
from kgan_nas.report import protocol_view
from kgan_nas.report import run_view
from kgan_nas.report.markup import SECTIONS
from kgan_nas.report.markup import escape
from kgan_nas.report.markup import fixed
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import table

REPORT_HTML = "report.html"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1280px; padding: 0 1.2em 3em; color: #1d2330;
       line-height: 1.45; }
h1 { margin-bottom: 0.1em; }
h2 { border-bottom: 2px solid #d5dbe6; padding-bottom: 0.2em; margin-top: 2em; }
.muted { color: #5b6577; }
nav ol { columns: 2; padding-left: 1.4em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d5dbe6; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #eef2f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .genome { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                font-size: 0.88em; }
.genome { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 18em; }
#configuration, #run-table { max-width: 40em; }
.wide { overflow-x: auto; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 0.9em; }
.plot { max-width: 100%; height: auto; }
.columns { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.grow { flex: 1 1 360px; min-width: 0; }
.headline { font-size: 1.1em; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid #d5dbe6; border-radius: 6px; padding: 0.6em; margin: 0; }
.card img { image-rendering: pixelated; width: 240px; height: auto; display: block; }
.card figcaption { font-size: 0.85em; margin-top: 0.4em; }
.network { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.diagram svg { max-width: 420px; height: auto; }
.status-ok { color: #1d7a38; } .status-bad { color: #b3261e; }
"""


def write_html_report(result, path=None, *, plots=None, top_k=4, num_rows=10):
    """Writes `report.html`, one self-contained page about a run.

    Sections: a summary (configuration, how the run ran and where its time
    went, candidates by status, the best candidate and the reference
    scores), a table of the best candidates with their parents and total
    training steps, the best candidate's ancestry (weight inheritance),
    training curves, fitness per generation, quality against generator size
    with its Pareto front, gene frequencies per generation, sample grids of
    the `top_k` best generators beside real images, the best grid of each
    generation, the best generator's and discriminator's layers (a diagram
    too when Graphviz's `dot` is installed) and the failed candidates with
    their reasons.

    Example:

    ```python
    from kgan_nas import report

    result = kgan_nas.SearchResult("runs/digits")
    path = report.write_html_report(result)   # writes runs/digits/report.html
    ```

    Args:
        result: A `kgan_nas.SearchResult`.
        path: Output file; defaults to `<run directory>/report.html`.
        plots: Paths of PNG plots from `kgan_nas.report.write_report` to
            embed; by default they are drawn now (into
            `<run directory>/report/`).
        top_k: How many of the best generators' sample grids to show.
        num_rows: Rows in the table of best candidates.

    Returns:
        The path written.

    Raises:
        ValueError: if `top_k` or `num_rows` is not a positive integer.
    """
    for name, value in (("top_k", top_k), ("num_rows", num_rows)):
        if not validate.is_integer(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if plots is None:
        plots = report_plots.write_report(result)
    plots = {os.path.basename(p): p for p in plots}
    path = path or os.path.join(result.directory, REPORT_HTML)
    ranked = result.ranked()
    body = [
        _header(result),
        _summary(result, ranked),
        protocol_view.protocol_section(result),
        _candidates(result, ranked, num_rows),
        final_view.final_section(result),
        fidelity_view.fidelity_section(result),
        lineage_view.ancestry_section(result, ranked),
        _curves(result, plots),
        _fitness(result, plots),
        _pareto(result, ranked, plots),
        _genes(result, plots),
        gallery.samples_section(result, ranked, top_k),
        gallery.generations_section(result),
        _architecture(result),
        _failures(result),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>kgan_nas report: {escape(markup.run_name(result))}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
    return atomic_write_text(path, page)


# ----------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------


def _header(result):
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    items = "".join(f'<li><a href="#{key}">{title}</a></li>' for key, title in SECTIONS)
    return (
        f"<h1>kgan_nas report: {escape(markup.run_name(result))}</h1>\n"
        f'<p class="muted">Run directory <code>{escape(os.path.abspath(result.directory))}'
        f"</code>, report written {escape(stamp)}.</p>\n<nav><ol>{items}</ol></nav>"
    )


def _summary(result, ranked):
    config = result.config
    evaluation = config.get("evaluation", {})
    generations_done = len({r["generation"] for r in result.history})
    inheriting = lineage_view.inheritance_on(result)
    settings = [
        ("data set", config.get("dataset")),
        ("image shape", architecture.format_shape(config.get("image_shape", []))),
        ("strategy", config.get("strategy")),
        ("metric", config.get("metric")),
        ("objectives", ", ".join(result.objectives)),
        ("generations", f"{generations_done} run of {config.get('generations')}"),
        ("population", config.get("population")),
        ("training steps per candidate", run_view.steps_setting(result, ranked, inheriting)),
        ("batch size", evaluation.get("batch_size")),
        ("time limit per candidate (s)", evaluation.get("seconds") or "none"),
        ("samples scored per candidate", evaluation.get("num_samples")),
        ("seed", config.get("seed")),
    ]
    parts = [
        section_start("summary"),
        _headline(result, ranked),
        lineage_view.shared_lineage_note(result.history, ranked),
        '<div class="columns"><div>',
        "<h3>Configuration</h3>",
        markup.key_value_table(settings, table_id="configuration"),
        *run_view.run_tables(result, inheriting),
        '</div><div class="grow">',
    ]

    parts += _status_counts(result) + _best_candidate(result, ranked) + _reference_scores(result)
    parts.append("</div></div>")
    if str(config.get("metric", "")).endswith("_domain"):
        parts.append(
            '<p class="note">These are <b>domain</b> scores: features come from a small '
            "classifier trained on this data set, not from InceptionV3. They rank the "
            "candidates of this run, but they are not comparable with published FID "
            "numbers, nor with runs scored on a different number of samples.</p>"
        )
    return "\n".join(parts)


def _status_counts(result):
    counts = {status: 0 for status in STATUSES}
    for record in result.history:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    rows = [(status, count) for status, count in counts.items() if count]
    parts = ["<h3>Candidates by status</h3>"]
    if not rows:
        return parts + ["<p>No candidate has been evaluated yet.</p>"]
    return parts + [
        table(
            ["status", "candidates"],
            [[markup.status_span(s), num_cell(c)] for s, c in rows]
            + [["<b>total</b>", num_cell(len(result.history))]],
            table_id="status-counts",
        )
    ]


def _best_candidate(result, ranked):
    parts = ["<h3>Best candidate</h3>"]
    if not ranked:
        return parts + ["<p>No candidate succeeded, so there is no best candidate.</p>"]
    best = ranked[0]
    fitness = Fitness.from_dict(best["fitness"])
    suffix = markup.metric_suffix(result.config)
    rows = [
        ("key", f"<code>{escape(best['key'])}</code>"),
        ("generation", best["generation"]),
        ("fid_" + suffix, f"{fixed(fitness.fid)} {markup.interval(fitness)}"),
        ("kid_" + suffix, markup.kid_with_error(fitness)),
        ("memorisation", markup.memorisation(fitness)),
        (
            "is_" + suffix,
            f"{fixed(fitness.inception_score, 3)} ± {fixed(fitness.inception_score_std, 3)}",
        ),
        ("generator parameters", f"{fitness.params:,}"),
        ("discriminator parameters", f"{fitness.discriminator_params:,}"),
        ("genome", markup.genome_cell(best)),
    ]
    return parts + [markup.key_value_table(rows, escape_values=False, table_id="best-candidate")]


def _reference_scores(result):
    baselines = result.baselines()
    if not baselines:
        return []
    rows = [
        ("real vs real FID (the floor)", fixed(baselines.get("fid_train_vs_eval"))),
        ("uniform noise vs real FID", fixed(baselines.get("fid_uniform_noise"))),
        ("features", baselines.get("extractor")),
        ("held-out real images", baselines.get("num_eval_images")),
        (
            "images scored against them",
            baselines.get("num_samples", "not recorded (the eval split's count)"),
        ),
    ]
    return ["<h3>Reference scores</h3>", markup.key_value_table(rows)]


def _headline(result, ranked):
    history = result.history
    generations = len({r["generation"] for r in history})
    failed = sum(r["status"] != "ok" for r in history)
    text = (
        f"{len(history)} candidates evaluated in {generations} "
        f"generation{'' if generations == 1 else 's'}, {failed} failed."
    )
    if ranked:
        best = ranked[0]
        text += (
            f" Best {escape(numbers.objective_label(result.config['metric']))}: "
            f"<b>{fixed(best['objective'])}</b> (candidate <code>{escape(best['key'])}</code>, "
            f"generation {best['generation']})."
        )
        noise = result.baselines().get("fid_uniform_noise")
        if str(result.config.get("metric", "")).startswith("fid_") and noise is not None:
            worse = sum(r["objective"] > noise for r in ranked)
            if worse:
                text += (
                    f" {worse} of {len(ranked)} successful candidates score worse than "
                    f"uniform noise ({fixed(noise)}): train longer "
                    "(steps per candidate) to separate them."
                )
    return f'<p class="headline">{text}</p>'


def _candidates(result, ranked, num_rows):
    parts = [section_start("candidates")]
    if not ranked:
        parts.append("<p>No candidate succeeded.</p>")
        return "\n".join(parts)
    suffix = markup.metric_suffix(result.config)
    headers = [
        "rank",
        "key",
        "gen",
        "fid_" + suffix,
        "95 % interval",
        "kid_" + suffix + " ± SE",
        "is_" + suffix,
        "memorised",
        "G params",
        "D params",
        "time (s)",
        "parent",
        "inherited layers",
        "total steps",
        "genome",
    ]
    rows = []
    for rank, record in enumerate(ranked[:num_rows], 1):
        fitness = Fitness.from_dict(record["fitness"])
        rows.append(
            [
                num_cell(rank),
                f"<code>{escape(record['key'])}</code>",
                num_cell(record["generation"]),
                num_cell(fixed(fitness.fid)),
                num_cell(markup.interval(fitness)),
                num_cell(markup.kid_with_error(fitness)),
                num_cell(fixed(fitness.inception_score, 3)),
                num_cell(markup.memorisation(fitness)),
                num_cell(f"{fitness.params:,}"),
                num_cell(f"{fitness.discriminator_params:,}"),
                num_cell(fixed(fitness.seconds.get("total"), 1)),
                *lineage_view.lineage_cells(result.history, record),
                markup.genome_cell(record),
            ]
        )
    parts.append(f'<div class="wide">{table(headers, rows, table_id="candidates-table")}</div>')
    if len(ranked) > num_rows:
        parts.append(
            f'<p class="muted">{len(ranked) - num_rows} more successful candidates '
            "are in <code>history.jsonl</code>.</p>"
        )
    parts.append(
        '<p class="muted">Genome notation: <code>up</code>/<code>tup</code> '
        "upsample, <code>down</code> a stride-2 convolution, <code>k</code> the "
        "kernel size, <code>/ba</code>, <code>/la</code>, <code>/sp</code> batch, "
        "layer and spectral normalisation; hover a genome to read all of it. <i>Parent</i>: "
        "the candidate whose trained weights this one started from; <i>total steps</i>: "
        "its own steps plus its ancestors'.</p>"
    )
    parts.append(markup.STATISTICS_NOTE)
    return "\n".join(parts)


def _fitness(result, plots):
    image = markup.image(plots.get(report_plots.FITNESS_PNG), "Fitness per generation")
    rows = [
        [
            num_cell(row["generation"]),
            num_cell(row["evaluated"]),
            num_cell(row["failed"]),
            num_cell(fixed(row["best"])),
            num_cell(fixed(row["median"])),
            num_cell(fixed(row["best_so_far"])),
        ]
        for row in numbers.fitness_by_generation(result.history)
    ]
    fitness_table = (
        table(
            ["generation", "evaluated", "failed", "best", "median", "best so far"],
            rows,
            table_id="fitness-table",
        )
        if rows
        else ""
    )
    return (
        f"{section_start('fitness')}\n"
        f'<div class="columns"><div>{image}</div><div>{fitness_table}</div></div>'
    )


def _pareto(result, ranked, plots):
    parts = [section_start("pareto")]
    if not ranked:
        parts.append("<p>No candidate succeeded, so there is nothing to plot.</p>")
        return "\n".join(parts)
    parts.append(markup.image(plots.get(report_plots.PARETO_PNG), "Quality against generator size"))
    front = numbers.quality_size_front(result.history)
    members = sorted((r for r in ranked if r["key"] in front), key=lambda r: r["params"])
    parts.append(
        f"<p>The Pareto front: successful candidates that no other candidate beats "
        f"on both {escape(numbers.objective_label(result.config['metric']))} and "
        "generator parameters.</p>"
    )
    parts.append(
        table(
            ["key", numbers.objective_label(result.config["metric"]), "G params", "genome"],
            [
                [
                    f"<code>{escape(r['key'])}</code>",
                    num_cell(fixed(r["objective"])),
                    num_cell(f"{r['params']:,}"),
                    markup.genome_cell(r),
                ]
                for r in members
            ],
        )
    )
    return "\n".join(parts)


def _genes(result, plots):
    parts = [section_start("genes")]
    if not result.history:
        parts.append("<p>No candidate has been evaluated yet.</p>")
        return "\n".join(parts)
    parts.append(markup.image(plots.get(report_plots.GENES_PNG), "Gene frequencies per generation"))
    frequencies = numbers.gene_frequencies(result.history)
    generations = frequencies["generations"]
    parts.append(
        "<p>Counts per generation of every evaluated genome, failed ones included: "
        "layer kinds per layer, optimizer and loss per genome.</p>"
    )
    headers = ["value"] + [f"gen {g}" for g in generations]
    tables = []
    for category in numbers.GENE_CATEGORIES:
        rows = [
            [escape(value)] + [num_cell(count) for count in counts]
            for value, counts in frequencies["counts"][category].items()
        ]
        tables.append(
            f"<div><h3>{escape(category)}</h3>"
            + table(headers, rows, table_id=f"genes-{category.replace(' ', '-')}")
            + "</div>"
        )
    parts.append(f'<div class="columns">{"".join(tables)}</div>')
    return "\n".join(parts)


def _curves(result, plots):
    parts = [section_start("curves")]
    path = plots.get(report_plots.CURVES_PNG)
    if not path:
        parts.append(
            "<p>No training curves were recorded (runs written before curves were, "
            "or an evaluator that records none).</p>"
        )
        return "\n".join(parts)
    parts.append(markup.image(path, "Training curves of the best candidates"))
    parts.append(
        '<p class="muted">Each point is the mean loss over the steps since the previous '
        "point. A candidate's ancestors (grey, dashed) trained the weights it started from, so "
        "its steps are counted from the start of its lineage.</p>"
    )
    return "\n".join(parts)


def _architecture(result):
    parts = [section_start("architecture")]
    best = result.best_record
    if best is None:
        parts.append("<p>No candidate succeeded, so there is no best architecture.</p>")
        return "\n".join(parts)
    genome = Genome.from_dict(best["genome"])
    space = result.space
    training = genome.training
    parts.append(
        f"<p>Candidate <code>{escape(best['key'])}</code>: {escape(training.loss)} loss, "
        f"{escape(training.optimizer)} (generator learning rate "
        f"{training.g_learning_rate:g}, discriminator {training.d_learning_rate:g}, "
        f"beta_1 {training.beta_1:g}, beta_2 {training.beta_2:g}).</p>"
    )
    networks = []
    drawn = False
    for network in architecture.NETWORKS:
        rows = architecture.layer_table(genome, space, network)
        total = sum(row["params"] for row in rows)
        layers = table(
            ["layer", "settings", "output shape", "params"],
            [
                [
                    escape(row["layer"]),
                    escape(row["details"]),
                    num_cell(architecture.format_shape(row["output_shape"])),
                    num_cell(f"{row['params']:,}"),
                ]
                for row in rows
            ]
            + [["<b>total</b>", "", "", num_cell(f"<b>{total:,}</b>")]],
            table_id=f"layers-{network}",
        )
        svg = architecture.render_svg(architecture.dot_source(rows, network))
        diagram = f'<div class="diagram">{svg}</div>' if svg else ""
        drawn = drawn or bool(svg)
        networks.append(
            f"<h3>{network.capitalize()}</h3>"
            f'<div class="network"><div>{layers}</div>{diagram}</div>'
        )
    parts.extend(networks)
    if not drawn:
        parts.append(
            '<p class="muted">Install Graphviz (the <code>dot</code> program) to '
            "see these networks as diagrams as well.</p>"
        )
    return "\n".join(parts)


def _failures(result):
    parts = [section_start("failures")]
    failed = [r for r in result.history if r["status"] != "ok"]
    if not failed:
        parts.append("<p>None: every candidate trained and was scored.</p>")
        return "\n".join(parts)
    parts.append(
        f"<p>{len(failed)} of {len(result.history)} candidates failed. A failure is "
        "recorded and the search goes on; worker output is in "
        "<code>logs/</code>.</p>"
    )
    parts.append(
        table(
            ["key", "gen", "status", "reason", "genome"],
            [
                [
                    f"<code>{escape(r['key'])}</code>",
                    num_cell(r["generation"]),
                    markup.status_span(r["status"]),
                    escape(markup.shorten(r.get("reason") or "", 300)),
                    markup.genome_cell(r),
                ]
                for r in failed
            ],
        )
    )
    return "\n".join(parts)
