"""One self-contained HTML page about a run: `kgan-nas report DIR` writes it.

The page embeds everything it shows (PNG plots and sample grids as base64
data URIs, CSS inline, architecture diagrams as inline SVG), so it can be
mailed or archived as one file and opened offline. It reads the run
directory only: nothing is trained, and neither TensorFlow nor Keras is
imported.
"""

import base64
import datetime
import html
import math
import os

from kgan_nas import report
from kgan_nas import validate
from kgan_nas.atomic import atomic_write_text
from kgan_nas.fitness import STATUSES
from kgan_nas.fitness import Fitness
from kgan_nas.genome import Genome
from kgan_nas.report import architecture

REPORT_HTML = "report.html"

# Section ids, in page order (tests look for each).
SECTIONS = (
    ("summary", "Summary"),
    ("candidates", "Best candidates"),
    ("fitness", "Fitness per generation"),
    ("pareto", "Quality against size"),
    ("genes", "Gene frequencies"),
    ("samples", "Samples of the best generators"),
    ("architecture", "Best architecture"),
    ("failures", "Failed candidates"),
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 0 1.2em 3em; color: #1d2330;
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

    Sections: a summary (configuration, candidates by status, the best
    candidate and the reference scores), a table of the best candidates,
    fitness per generation, quality against generator size with its Pareto
    front, gene frequencies per generation, sample grids of the `top_k`
    best generators, the best generator's and discriminator's layers (a
    diagram too when Graphviz's `dot` is installed) and the failed
    candidates with their reasons.

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
        plots = report.write_report(result)
    plots = {os.path.basename(p): p for p in plots}
    path = path or os.path.join(result.directory, REPORT_HTML)
    ranked = result.ranked()
    body = [
        _header(result),
        _summary(result, ranked),
        _candidates(result, ranked, num_rows),
        _fitness(result, plots),
        _pareto(result, ranked, plots),
        _genes(result, plots),
        _samples(result, ranked, top_k),
        _architecture(result),
        _failures(result),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>kgan_nas report: {_e(_run_name(result))}</title>\n"
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
        f"<h1>kgan_nas report: {_e(_run_name(result))}</h1>\n"
        f'<p class="muted">Run directory <code>{_e(os.path.abspath(result.directory))}'
        f"</code>, report written {_e(stamp)}.</p>\n<nav><ol>{items}</ol></nav>"
    )


def _summary(result, ranked):
    config = result.config
    evaluation = config.get("evaluation", {})
    generations_done = len({r["generation"] for r in result.history})
    settings = [
        ("data set", config.get("dataset")),
        ("image shape", architecture.format_shape(config.get("image_shape", []))),
        ("strategy", config.get("strategy")),
        ("metric", config.get("metric")),
        ("objectives", ", ".join(result.objectives)),
        ("generations", f"{generations_done} run of {config.get('generations')}"),
        ("population", config.get("population")),
        ("training steps per candidate", evaluation.get("steps")),
        ("batch size", evaluation.get("batch_size")),
        ("time limit per candidate (s)", evaluation.get("seconds") or "none"),
        ("samples scored per candidate", evaluation.get("num_samples")),
        ("seed", config.get("seed")),
    ]
    parts = [
        _section_start("summary"),
        _headline(result, ranked),
        '<div class="columns"><div>',
        "<h3>Configuration</h3>",
        _key_value_table(settings),
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
        _table(
            ["status", "candidates"],
            [[_status(s), _num_cell(c)] for s, c in rows]
            + [["<b>total</b>", _num_cell(len(result.history))]],
            table_id="status-counts",
        )
    ]


def _best_candidate(result, ranked):
    parts = ["<h3>Best candidate</h3>"]
    if not ranked:
        return parts + ["<p>No candidate succeeded, so there is no best candidate.</p>"]
    best = ranked[0]
    fitness = Fitness.from_dict(best["fitness"])
    suffix = _suffix(result.config)
    rows = [
        ("key", f"<code>{_e(best['key'])}</code>"),
        ("generation", best["generation"] + 1),
        ("fid_" + suffix, _fixed(fitness.fid)),
        ("kid_" + suffix, f"{_format(fitness.kid)} ± {_format(fitness.kid_std)}"),
        (
            "is_" + suffix,
            f"{_fixed(fitness.inception_score, 3)} ± {_fixed(fitness.inception_score_std, 3)}",
        ),
        ("generator parameters", f"{fitness.params:,}"),
        ("discriminator parameters", f"{fitness.discriminator_params:,}"),
        ("genome", f'<span class="genome">{_e(_describe(best))}</span>'),
    ]
    return parts + [_key_value_table(rows, escape=False)]


def _reference_scores(result):
    baselines = result.baselines()
    if not baselines:
        return []
    rows = [
        ("real vs real FID (the floor)", _fixed(baselines.get("fid_train_vs_eval"))),
        ("uniform noise vs real FID", _fixed(baselines.get("fid_uniform_noise"))),
        ("features", baselines.get("extractor")),
        ("held-out real images", baselines.get("num_eval_images")),
    ]
    return ["<h3>Reference scores</h3>", _key_value_table(rows)]


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
            f" Best {_e(report.objective_label(result.config['metric']))}: "
            f"<b>{_fixed(best['objective'])}</b> (candidate <code>{_e(best['key'])}</code>, "
            f"generation {best['generation'] + 1})."
        )
        noise = result.baselines().get("fid_uniform_noise")
        if str(result.config.get("metric", "")).startswith("fid_") and noise is not None:
            worse = sum(r["objective"] > noise for r in ranked)
            if worse:
                text += (
                    f" {worse} of {len(ranked)} successful candidates score worse than "
                    f"uniform noise ({_fixed(noise)}): train longer "
                    "(steps per candidate) to separate them."
                )
    return f'<p class="headline">{text}</p>'


def _candidates(result, ranked, num_rows):
    parts = [_section_start("candidates")]
    if not ranked:
        parts.append("<p>No candidate succeeded.</p>")
        return "\n".join(parts)
    suffix = _suffix(result.config)
    headers = [
        "rank",
        "key",
        "gen",
        "fid_" + suffix,
        "kid_" + suffix,
        "is_" + suffix,
        "G params",
        "D params",
        "time (s)",
        "genome",
    ]
    rows = []
    for rank, record in enumerate(ranked[:num_rows], 1):
        fitness = Fitness.from_dict(record["fitness"])
        rows.append(
            [
                _num_cell(rank),
                f"<code>{_e(record['key'])}</code>",
                _num_cell(record["generation"] + 1),
                _num_cell(_fixed(fitness.fid)),
                _num_cell(_format(fitness.kid)),
                _num_cell(_fixed(fitness.inception_score, 3)),
                _num_cell(f"{fitness.params:,}"),
                _num_cell(f"{fitness.discriminator_params:,}"),
                _num_cell(_fixed(fitness.seconds.get("total"), 1)),
                f'<span class="genome">{_e(_describe(record))}</span>',
            ]
        )
    parts.append(_table(headers, rows))
    if len(ranked) > num_rows:
        parts.append(
            f'<p class="muted">{len(ranked) - num_rows} more successful candidates '
            "are in <code>history.jsonl</code>.</p>"
        )
    parts.append(
        '<p class="muted">Genome notation: <code>up</code>/<code>tup</code> '
        "upsample, <code>down</code> a stride-2 convolution, <code>k</code> the "
        "kernel size, <code>/ba</code>, <code>/la</code>, <code>/sp</code> batch, "
        "layer and spectral normalisation.</p>"
    )
    return "\n".join(parts)


def _fitness(result, plots):
    image = _image(plots.get(report.FITNESS_PNG), "Fitness per generation")
    rows = [
        [
            _num_cell(row["generation"] + 1),
            _num_cell(row["evaluated"]),
            _num_cell(row["failed"]),
            _num_cell(_fixed(row["best"])),
            _num_cell(_fixed(row["median"])),
            _num_cell(_fixed(row["best_so_far"])),
        ]
        for row in report.fitness_by_generation(result.history)
    ]
    table = (
        _table(
            ["generation", "evaluated", "failed", "best", "median", "best so far"],
            rows,
            table_id="fitness-table",
        )
        if rows
        else ""
    )
    return (
        f"{_section_start('fitness')}\n"
        f'<div class="columns"><div>{image}</div><div>{table}</div></div>'
    )


def _pareto(result, ranked, plots):
    parts = [_section_start("pareto")]
    if not ranked:
        parts.append("<p>No candidate succeeded, so there is nothing to plot.</p>")
        return "\n".join(parts)
    parts.append(_image(plots.get(report.PARETO_PNG), "Quality against generator size"))
    front = report.quality_size_front(result.history)
    members = sorted((r for r in ranked if r["key"] in front), key=lambda r: r["params"])
    parts.append(
        f"<p>The Pareto front: successful candidates that no other candidate beats "
        f"on both {_e(report.objective_label(result.config['metric']))} and "
        "generator parameters.</p>"
    )
    parts.append(
        _table(
            ["key", report.objective_label(result.config["metric"]), "G params", "genome"],
            [
                [
                    f"<code>{_e(r['key'])}</code>",
                    _num_cell(_fixed(r["objective"])),
                    _num_cell(f"{r['params']:,}"),
                    f'<span class="genome">{_e(_describe(r))}</span>',
                ]
                for r in members
            ],
        )
    )
    return "\n".join(parts)


def _genes(result, plots):
    parts = [_section_start("genes")]
    if not result.history:
        parts.append("<p>No candidate has been evaluated yet.</p>")
        return "\n".join(parts)
    parts.append(_image(plots.get(report.GENES_PNG), "Gene frequencies per generation"))
    frequencies = report.gene_frequencies(result.history)
    generations = frequencies["generations"]
    parts.append(
        "<p>Counts per generation of every evaluated genome, failed ones included: "
        "layer kinds per layer, optimizer and loss per genome.</p>"
    )
    headers = ["value"] + [f"gen {g + 1}" for g in generations]
    tables = []
    for category in report.GENE_CATEGORIES:
        rows = [
            [_e(value)] + [_num_cell(count) for count in counts]
            for value, counts in frequencies["counts"][category].items()
        ]
        tables.append(
            f"<div><h3>{_e(category)}</h3>"
            + _table(headers, rows, table_id=f"genes-{category.replace(' ', '-')}")
            + "</div>"
        )
    parts.append(f'<div class="columns">{"".join(tables)}</div>')
    return "\n".join(parts)


def _samples(result, ranked, top_k):
    parts = [_section_start("samples")]
    cards = []
    seen = set()
    for rank, record in enumerate(ranked, 1):
        if len(cards) == top_k:
            break
        if record["key"] in seen:
            continue
        seen.add(record["key"])
        grid = os.path.join(result.directory, "candidates", record["key"], "samples.png")
        image = (
            f'<img src="{_data_uri(grid)}" alt="samples of {_e(record["key"])}">'
            if os.path.isfile(grid)
            else '<p class="muted">no samples.png saved</p>'
        )
        cards.append(
            f'<figure class="card">{image}<figcaption>#{rank} <code>{_e(record["key"])}'
            f"</code><br>{_e(report.objective_label(result.config['metric']))} "
            f"{_fixed(record['objective'])}, generation {record['generation'] + 1}"
            "</figcaption></figure>"
        )
    if cards:
        parts.append(
            f"<p>Images generated by the {len(cards)} best generators after their "
            "short training (the grids the search saved while scoring them).</p>"
        )
        parts.append(f'<div class="cards">{"".join(cards)}</div>')
    else:
        parts.append("<p>No candidate succeeded, so there are no samples.</p>")
    return "\n".join(parts)


def _architecture(result):
    parts = [_section_start("architecture")]
    best = result.best_record
    if best is None:
        parts.append("<p>No candidate succeeded, so there is no best architecture.</p>")
        return "\n".join(parts)
    genome = Genome.from_dict(best["genome"])
    space = result.space
    training = genome.training
    parts.append(
        f"<p>Candidate <code>{_e(best['key'])}</code>: {_e(training.loss)} loss, "
        f"{_e(training.optimizer)} (generator learning rate "
        f"{training.g_learning_rate:g}, discriminator {training.d_learning_rate:g}, "
        f"beta_1 {training.beta_1:g}, beta_2 {training.beta_2:g}).</p>"
    )
    networks = []
    drawn = False
    for network in architecture.NETWORKS:
        rows = architecture.layer_table(genome, space, network)
        total = sum(row["params"] for row in rows)
        table = _table(
            ["layer", "settings", "output shape", "params"],
            [
                [
                    _e(row["layer"]),
                    _e(row["details"]),
                    _num_cell(architecture.format_shape(row["output_shape"])),
                    _num_cell(f"{row['params']:,}"),
                ]
                for row in rows
            ]
            + [["<b>total</b>", "", "", _num_cell(f"<b>{total:,}</b>")]],
            table_id=f"layers-{network}",
        )
        svg = architecture.render_svg(architecture.dot_source(rows, network))
        diagram = f'<div class="diagram">{svg}</div>' if svg else ""
        drawn = drawn or bool(svg)
        networks.append(
            f'<h3>{network.capitalize()}</h3><div class="network"><div>{table}</div>{diagram}</div>'
        )
    parts.extend(networks)
    if not drawn:
        parts.append(
            '<p class="muted">Install Graphviz (the <code>dot</code> program) to '
            "see these networks as diagrams as well.</p>"
        )
    return "\n".join(parts)


def _failures(result):
    parts = [_section_start("failures")]
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
        _table(
            ["key", "gen", "status", "reason", "genome"],
            [
                [
                    f"<code>{_e(r['key'])}</code>",
                    _num_cell(r["generation"] + 1),
                    _status(r["status"]),
                    _e(_shorten(r.get("reason") or "", 300)),
                    f'<span class="genome">{_e(_describe(r))}</span>',
                ]
                for r in failed
            ],
        )
    )
    return "\n".join(parts)


# ----------------------------------------------------------------------
# HTML helpers
# ----------------------------------------------------------------------


def _e(value):
    return html.escape(str(value), quote=True)


def _section_start(key):
    return f'<h2 id="{key}">{dict(SECTIONS)[key]}</h2>'


def _table(headers, rows, table_id=None):
    # Cells are HTML; a numeric cell comes as a whole <td> (see _num_cell).
    id_attribute = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in map(str, row))
        + "</tr>"
        for row in rows
    )
    return f"<table{id_attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _key_value_table(pairs, escape=True):
    rows = "".join(
        f"<tr><th>{_e(key)}</th><td>{_e(value) if escape else value}</td></tr>"
        for key, value in pairs
    )
    return f"<table><tbody>{rows}</tbody></table>"


def _num_cell(value):
    return f'<td class="num">{value}</td>'


def _status(status):
    css = "status-ok" if status == "ok" else "status-bad"
    return f'<span class="{css}">{_e(status)}</span>'


def _image(path, alt):
    if not path or not os.path.isfile(path):
        return '<p class="muted">(plot not available)</p>'
    return f'<img class="plot" src="{_data_uri(path)}" alt="{_e(alt)}">'


def _data_uri(path):
    with open(path, "rb") as stream:
        encoded = base64.b64encode(stream.read()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def _fixed(value, places=2):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{places}f}"


def _format(value, digits=4):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _describe(record):
    try:
        return Genome.from_dict(record["genome"]).describe()
    except (KeyError, TypeError, ValueError):
        return "(unreadable genome)"


def _shorten(text, limit):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _suffix(config):
    return str(config.get("metric", "fid_domain")).split("_", 1)[-1]


def _run_name(result):
    return os.path.basename(os.path.normpath(os.path.abspath(result.directory)))
