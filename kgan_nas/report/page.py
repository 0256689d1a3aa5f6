"""One self-contained HTML page about a run: `kgan-nas report DIR` writes it.

The page embeds everything it shows (PNG plots and sample grids as base64
data URIs, CSS inline, architecture diagrams as inline SVG), so it can be
mailed or archived as one file and opened offline. It reads the run
directory only: nothing is trained, and neither TensorFlow nor Keras is
imported.
"""

import datetime
import os

from kgan_nas import config as config_lib
from kgan_nas import validate
from kgan_nas.core.fitness import STATUSES
from kgan_nas.core.fitness import Fitness
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
from kgan_nas.results.training_yield import yield_line
from kgan_nas.store.atomic import atomic_write_text

REPORT_HTML = "report.html"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1280px; padding: 0 1.2em 3em; color: #1d2330;
       line-height: 1.45; }
h1 { margin: 0.5em 0 0.1em; font-size: 1.7em; }
h2 { border-bottom: 2px solid #d5dbe6; padding-bottom: 0.2em; margin-top: 2em; }
h2#samples { margin-top: 0.6em; }
.muted { color: #5b6577; }
p.byline { margin: 0.2em 0; }
nav.contents { font-size: 0.9em; margin: 0.4em 0; }
nav.contents ol { display: flex; flex-wrap: wrap; gap: 0.1em 1.2em; margin: 0; padding: 0;
                  list-style: none; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d5dbe6; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #eef2f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .genome { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                font-size: 0.88em; }
.genome { white-space: normal; overflow-wrap: anywhere; min-width: 10em; }
#candidates-table { width: 100%; table-layout: auto; }
#candidates-table th, #candidates-table td { padding: 0.25em 0.4em; }
#candidates-table tbody tr:nth-child(odd) td { border-bottom: none; }
#candidates-table td.genome-row { border-top: none; padding: 0 0.4em 0.45em 2.2em; }
#candidates-table td.genome-row .genome { display: inline; }
#candidates-table tbody tr:nth-child(4n+1), #candidates-table tbody tr:nth-child(4n+2) {
    background: #f7f9fc; }
#configuration, #run-table { max-width: 40em; }
.wide { max-width: 100%; overflow-x: auto; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 0.9em; }
.plot { max-width: 100%; height: auto; }
.columns { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.grow { flex: 1 1 360px; min-width: 0; }
.headline { font-size: 1.05em; margin: 0.3em 0; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid #d5dbe6; border-radius: 6px; padding: 0.6em; margin: 0; }
.card img { image-rendering: pixelated; width: 200px; height: auto; display: block; }
.card figcaption { font-size: 0.85em; margin-top: 0.4em; max-width: 200px; }
.card.real { border-color: #1d7a38; border-width: 2px; }
.network { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.diagram svg { max-width: 420px; height: auto; }
.status-ok { color: #1d7a38; } .status-bad { color: #b3261e; }
"""


def write_html_report(result, path=None, *, plots=None, top_k=4, num_rows=10):
    """Writes `report.html`, one self-contained page about a run.

    Pictures first: under the title, a one-line result and the contents,
    the sample grids of the `top_k` best generators beside held-out real
    images (on the first screen), then a table of the best candidates that
    fits the page's width (each genome whole, on a row of its own under the
    candidate's numbers), the final training when there is one, and the
    plots: fitness per generation and every candidate's score in order
    (log axes where the scores allow), quality against generator cost
    (parameters, or the seconds per batch or MACs per image the search
    optimised) with
    its Pareto front, the run's lineage tree (who started from whose
    trained weights, the best candidate's lineage highlighted, designs from
    the zoo marked) and the best candidate's ancestry, training curves, the
    best grid of each generation. After them: a summary (configuration,
    how the run ran and where its time went, per phase and per genome
    family, candidates by status, the best
    candidate and the reference scores), the protocol card, the fidelity
    check of a multi-fidelity search, gene frequencies per generation, the
    best generator's and discriminator's layers (a diagram too when
    Graphviz's `dot` is installed) and the failed candidates with their
    reasons. A section with nothing to show (no final stage, no rungs, no
    curves, no failures, ...) is left out of the page and of its contents.

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
    sections = dict(
        [
            ("samples", gallery.samples_section(result, ranked, top_k)),
            ("candidates", _candidates(result, ranked, num_rows)),
            ("final", final_view.final_section(result)),
            ("fitness", _fitness(result, plots)),
            ("timeline", _timeline(result, plots)),
            ("pareto", _pareto(result, ranked, plots)),
            ("lineage", lineage_view.tree_section(result, plots.get(report_plots.LINEAGE_PNG))),
            ("ancestry", lineage_view.ancestry_section(result, ranked)),
            ("curves", _curves(result, plots)),
            ("generations", gallery.generations_section(result)),
            ("summary", _summary(result, ranked)),
            ("protocol", protocol_view.protocol_section(result)),
            ("fidelity", fidelity_view.fidelity_section(result)),
            ("genes", _genes(result, plots)),
            ("architecture", architecture.architecture_section(result)),
            ("failures", _failures(result)),
        ]
    )
    # In `SECTIONS`' order; a section with nothing to show is left out, and so is its
    # entry in the contents.
    shown = [(key, sections[key]) for key, _ in SECTIONS if sections[key]]
    body = [_header(result, ranked, [key for key, _ in shown])] + [html for _, html in shown]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>kgan_nas report: {escape(markup.run_name(result))}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
    return atomic_write_text(path, page)


# ----------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------


def _header(result, ranked, keys):
    """The title, what the run found in one paragraph, and the contents (the sections `keys`)."""
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    titles = dict(SECTIONS)
    items = "".join(f'<li><a href="#{key}">{titles[key]}</a></li>' for key in keys)
    return (
        f"<h1>kgan_nas report: {escape(markup.run_name(result))}</h1>\n"
        # The folder's name, not its path: the page is mailed and archived.
        f'<p class="muted byline">Run directory <code>'
        f"{escape(os.path.basename(os.path.abspath(result.directory)))}</code>, report written "
        f"{escape(stamp)}.</p>\n"
        f"{_headline(result, ranked)}\n"
        f'<nav class="contents" aria-label="contents"><ol>{items}</ol></nav>'
    )


def _summary(result, ranked):
    config = result.config
    evaluation = config.get("evaluation", {})
    generations_done = len({r["generation"] for r in result.history})
    inheriting = lineage_view.inheritance_on(result)
    settings = [
        ("data set", config.get("dataset")),
        ("image shape", architecture.format_shape(config.get("image_shape", []))),
        ("strategy", strategy_name(config.get("strategy"))),
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


def strategy_name(stored):
    """The strategy by the name the CLI and `search(strategy=...)` take (`genetic`, not
    `GeneticSearch`); a custom strategy by its class name."""
    if stored is None:
        return "not recorded"
    return config_lib.STRATEGY_NAMES.get(stored, stored)


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
        (markup.kid_label(suffix), markup.kid_with_error(fitness)),
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
        found = result.training_yield()
        if found is not None:
            text += f" {escape(yield_line(found))}."
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
        markup.kid_label(suffix) + " ± SE",
        "is_" + suffix,
        "memorised",
        "G params",
        "D params",
        "time (s)",
        "parent",
        "inherited layers",
        "total steps",
    ]
    # Each candidate is two rows: its numbers, then its whole genome across the
    # table's width, so the table fits the page and no genome is cut.
    rows = []
    for rank, record in enumerate(ranked[:num_rows], 1):
        fitness = Fitness.from_dict(record["fitness"])
        rows.append(
            [
                num_cell(rank),
                markup.key_code(record["key"]),
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
            ]
        )
        rows.append(
            [
                f'<td class="genome-row" colspan="{len(headers)}"><span class="muted">genome'
                f"</span> {markup.genome_cell(record)}</td>"
            ]
        )
    parts.append(f'<div class="wide">{table(headers, rows, table_id="candidates-table")}</div>')
    parts.append(lineage_view.shared_lineage_note(result.history, ranked))
    if len(ranked) > num_rows:
        parts.append(
            f'<p class="muted">{len(ranked) - num_rows} more successful candidates '
            "are in <code>history.jsonl</code>.</p>"
        )
    parts.append(
        '<p class="muted">Genome notation: <code>up</code>/<code>tup</code> '
        "upsample, <code>down</code> a stride-2 convolution, <code>k</code> the "
        "kernel size, <code>/ba</code>, <code>/la</code>, <code>/sp</code> batch, "
        "layer and spectral normalisation. <i>Parent</i>: "
        "the candidate whose trained weights this one started from; <i>total steps</i>: "
        "its own steps plus its ancestors'.</p>"
    )
    parts.append(markup.STATISTICS_NOTE)
    return "\n".join(parts)


def _fitness(result, plots):
    if not result.history:
        return ""
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
        f'<div class="columns"><div>{image}</div><div>{fitness_table}</div></div>\n'
        f'<p class="muted">{_axis_note(result)}</p>'
    )


def _axis_note(result):
    """How to read the score axes: a log one where every score is positive."""
    if numbers.log_axis_fits([record.get("objective") for record in result.history]):
        return (
            "The score axis is logarithmic: an untrained generator and a good one differ by "
            "orders of magnitude, and equal steps on the axis are equal ratios."
        )
    return "The score axis is linear: some scores are not positive, so a log axis cannot show them."


def _timeline(result, plots):
    if not result.history:
        return ""
    failed = sum(record["status"] != "ok" for record in result.history)
    failures = (
        "No evaluation failed."
        if not failed
        else f"The {failed} failed evaluation{'' if failed == 1 else 's'} (no score) "
        "are the red crosses on the top edge."
    )
    return "\n".join(
        [
            section_start("timeline"),
            markup.image(plots.get(report_plots.TIMELINE_PNG), "Every candidate's score in order"),
            '<p class="muted">Each point is one evaluation, in the order the search recorded '
            f"it, coloured by generation; the black steps are the best score so far. "
            f"{failures}</p>",
        ]
    )


def _pareto(result, ranked, plots):
    if not ranked:
        return ""
    field, label, column = numbers.cost_axis(result.config)
    parts = [section_start("pareto")]
    parts.append(markup.image(plots.get(report_plots.PARETO_PNG), f"Quality against {label}"))
    front = numbers.quality_size_front(result.history, field)
    members = sorted((r for r in ranked if r["key"] in front), key=lambda r: r[field])
    parts.append(
        f"<p>The Pareto front: successful candidates that no other candidate beats "
        f"on both {escape(numbers.objective_label(result.config['metric']))} and "
        f"{escape(label)}.</p>"
    )
    parts.append(
        table(
            ["key", numbers.objective_label(result.config["metric"]), column, "genome"],
            [
                [
                    f"<code>{escape(r['key'])}</code>",
                    num_cell(fixed(r["objective"])),
                    num_cell(f"{r[field]:,}" if isinstance(r[field], int) else f"{r[field]:.4g}"),
                    markup.genome_cell(r),
                ]
                for r in members
            ],
        )
    )
    return "\n".join(parts)


def _genes(result, plots):
    if not result.history:
        return ""
    parts = [section_start("genes")]
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
    path = plots.get(report_plots.CURVES_PNG)
    if not path:  # runs written before curves were, or an evaluator that records none
        return ""
    parts = [section_start("curves")]
    parts.append(markup.image(path, "Training curves of the best candidates"))
    parts.append(
        '<p class="muted">Each point is the mean loss over the steps since the previous '
        "point. A candidate's ancestors (grey, dashed) trained the weights it started from, so "
        "its steps are counted from the start of its lineage.</p>"
    )
    return "\n".join(parts)


def _failures(result):
    failed = [r for r in result.history if r["status"] != "ok"]
    if not failed:  # the status counts of the summary say so
        return ""
    parts = [section_start("failures")]
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
