"""HTML building blocks of the report page: escaping, tables, cells, images, numbers.

Each function returns a piece of HTML or a formatted number; text that
comes from the run (keys, reasons, genomes) is always escaped.
"""

import base64
import html
import math
import os

from kgan_nas.core.genome import Genome
from kgan_nas.core.zoo import design_label
from kgan_nas.report.numbers import KID_UNIT

# Section ids and titles, in page order (tests look for each): the pictures first
# (samples, then the table of the best candidates, then the plots), the settings
# and details after them. A section with nothing to show is left out of the page
# and of its contents (`page.write_html_report`).
SECTIONS = (
    ("samples", "Samples of the best generators"),
    ("candidates", "Best candidates"),
    ("final", "Final training"),
    ("fitness", "Fitness per generation"),
    ("timeline", "Scores over the search"),
    ("pareto", "Quality against cost"),
    ("lineage", "Lineage tree"),
    ("ancestry", "Ancestry of the best candidate"),
    ("curves", "Training curves"),
    ("generations", "Best samples per generation"),
    ("summary", "Run summary"),
    ("protocol", "Protocol card"),
    ("fidelity", "Fidelity check"),
    ("genes", "Gene frequencies"),
    ("architecture", "Best architecture"),
    ("failures", "Failed candidates"),
)


def section_start(key):
    """The heading that opens section `key` of `SECTIONS` (its id is the key)."""
    return f'<h2 id="{key}">{dict(SECTIONS)[key]}</h2>'


def escape(value):
    """`value` as text safe inside HTML elements and attributes."""
    return html.escape(str(value), quote=True)


def table(headers, rows, table_id=None):
    """An HTML table.

    Args:
        headers: Column titles (text, escaped).
        rows: Lists of cells, each HTML; a cell that is a whole `<td ...>`
            (see `num_cell`) is used as it is.
        table_id: Optional `id` attribute (tests and links find tables by it).

    Returns:
        The `<table>` element.
    """
    id_attribute = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in map(str, row))
        + "</tr>"
        for row in rows
    )
    return f"<table{id_attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def key_value_table(pairs, escape_values=True, table_id=None):
    """A two-column table of `(name, value)` pairs; values are HTML when not escaped."""
    id_attribute = f' id="{table_id}"' if table_id else ""
    rows = "".join(
        f"<tr><th>{escape(key)}</th><td>{escape(value) if escape_values else value}</td></tr>"
        for key, value in pairs
    )
    return f"<table{id_attribute}><tbody>{rows}</tbody></table>"


def num_cell(value):
    """A right-aligned table cell for a number."""
    return f'<td class="num">{value}</td>'


def status_span(status):
    """A candidate's status, green when "ok" and red otherwise."""
    css = "status-ok" if status == "ok" else "status-bad"
    return f'<span class="{css}">{escape(status)}</span>'


def image(path, alt, css="plot"):
    """An `<img>` holding the PNG at `path` inline, or a note when it is missing."""
    if not path or not os.path.isfile(path):
        return '<p class="muted">(plot not available)</p>'
    return f'<img class="{css}" src="{data_uri(path)}" alt="{escape(alt)}">'


def data_uri(path):
    """The PNG file at `path` as a `data:` URI."""
    with open(path, "rb") as stream:
        encoded = base64.b64encode(stream.read()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def fixed(value, places=2):
    """`value` with `places` decimals; a dash for None, inf or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{places}f}"


def short_number(value, digits=4):
    """`value` with `digits` significant digits; a dash for None, inf or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


# One line under the best-candidates table on how to read the statistics.
STATISTICS_NOTE = (
    '<p class="muted" id="statistics-note"><i>95 % interval</i>: where the FID of another '
    "draw of as many generated images would fall (bootstrap over the generated samples); "
    "candidates whose intervals overlap are not clearly different. <i>KID</i> is shown as "
    "stored, <b>not ×10³</b>: the unbiased MMD² of the features under the cubic kernel "
    "(0 for the same distribution; small negative values are noise). Its size depends on "
    "the features, so compare it between candidates of this run, or with runs of the same "
    "features, not with published KID numbers. <i>± SE</i>: KID's "
    "standard error over its subsets. <i>Memorised</i>: the share of generated samples "
    "closer to a training image than the closest 5 % of held-out real images (about 5 % "
    "for a generator that makes new images; <b>copies?</b> marks 20 % or more) and "
    "<i>r</i>, their median distance to the training set over the held-out images' "
    "(about 1 is healthy, near 0 means copies). A dash: not measured (older runs).</p>"
)


def interval(fitness):
    """FID's 95 % bootstrap interval of a `Fitness` as `[low, high]`; a dash without one."""
    if fitness.fid_low is None or fitness.fid_high is None:
        return "–"
    return f"[{fixed(fitness.fid_low)}, {fixed(fitness.fid_high)}]"


def kid_label(suffix):
    """The name of the KID column with its unit: `kid_domain (MMD², ×1)`.

    KID is shown as the records store it (`kgan_nas.metrics.kid`: the
    unbiased MMD² under the cubic polynomial kernel), not multiplied by 10³
    as some papers print it; the label says so, so that a reader comparing
    numbers knows which scale they are on.
    """
    return f"kid_{suffix} ({KID_UNIT})"


def kid_with_error(fitness):
    """KID of a `Fitness` (unscaled, see `kid_label`) with its standard error (`± SE`)
    when one was recorded."""
    kid = short_number(fitness.kid)
    if fitness.kid_se is None:
        return kid
    return f"{kid} ± {short_number(fitness.kid_se, 2)}"


def memorisation(fitness):
    """The memorisation score of a `Fitness` (`6 % (r 0.98)`), flagged when it copies."""
    if fitness.memorisation_share is None:
        return "–"
    share = round(100 * fitness.memorisation_share)
    text = f"{share} % (r {fixed(fitness.memorisation_ratio)})"
    if fitness.memorising:
        text = f'<b class="status-bad">copies?</b> {text}'
    return text


def duration(seconds):
    """Seconds as `12.3 s`, `4 min 05 s` or `1 h 02 min`; a dash for None."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def describe(record):
    """The one-line genome description of a history record."""
    try:
        return Genome.from_dict(record["genome"]).describe()
    except (KeyError, TypeError, ValueError):
        return "(unreadable genome)"


def key_code(key):
    """A genome key as code that may break in its middle (`<wbr>`), for narrow columns."""
    key = escape(key)
    return f"<code>{key[: len(key) // 2]}<wbr>{key[len(key) // 2 :]}</code>"


def genome_cell(record):
    """A record's genome, all of it: the page's CSS wraps it to the width of its column.

    A known design the search started from (`SearchOptions.zoo`) is named
    first, e.g. `zoo: tf_dcgan`; a known design with other training genes
    (e.g. `strategy="tune"`'s) as `tuned: tf_dcgan`.
    """
    text = escape(describe(record))
    label = design_label(record)
    if label:
        text = f'<span class="zoo">{escape(label)}</span> {text}'
    return f'<div class="genome">{text}</div>'


def shorten(text, limit):
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def metric_suffix(config):
    """The extractor part of the run's metric (`domain` of `fid_domain`)."""
    return str(config.get("metric", "fid_domain")).split("_", 1)[-1]


def run_name(result):
    """The run directory's name."""
    return os.path.basename(os.path.normpath(os.path.abspath(result.directory)))
