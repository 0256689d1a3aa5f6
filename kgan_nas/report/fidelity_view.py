"""The page's fidelity check: does a cheap score predict the expensive one?

Reads `SearchResult.fidelity_check()` (`kgan_nas.core.fidelity.rung_correlations`):
per pair of consecutive rungs of a multi-fidelity search, the Spearman rank
correlation over the candidates that reached both, with the warning when it
is low or undefined; and `SearchResult.supernet_check()`: a gradient-based
search's supernet path scores against the same genomes trained alone.
"""

from kgan_nas.report.markup import escape
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import table


def fidelity_section(result):
    """HTML of the rung table of a multi-fidelity search and of the supernet check.

    Args:
        result: A `kgan_nas.SearchResult`.

    Returns:
        The section's HTML; empty when every candidate trained one step
        budget (no rungs, so no rung-to-rung check) and no supernet scored
        paths, and the page leaves the section out.
    """
    entries = result.fidelity_check()
    check = result.supernet_check()
    if not entries and check is None:
        return ""
    parts = [section_start("fidelity")]
    if entries:
        parts += _rung_parts(result, entries)
    if check is not None:
        parts += _supernet_parts(check)
    return "\n".join(parts)


def _supernet_parts(check):
    """The weight-sharing check of a gradient-based search: path scores against training alone."""
    value = "undefined" if check["spearman"] is None else f"{check['spearman']:.3f}"
    parts = [
        "<p>The supernet scored each genome it derived as one of its own paths (its "
        "weights inherited, nothing trained); the search then trained the same genomes "
        f"alone. Spearman rank correlation over {escape(check['pairs'])} genomes: "
        f"<strong>{escape(value)}</strong>. Near 1, sharing weights ranks genomes as "
        "training them would; a repaired genome (not exactly its path) is not counted.</p>"
    ]
    rows = [
        [
            f"<code>{escape(row['key'])}</code>",
            num_cell("—" if row["path_fid"] is None else f"{row['path_fid']:.3f}"),
            num_cell("—" if row["fid"] is None else f"{row['fid']:.3f}"),
            escape("yes" if row["exact"] else "no (repaired)"),
        ]
        for row in check["rows"]
    ]
    parts.append(
        table(
            ["genome", "FID as a supernet path", "FID trained alone", "exact path"],
            rows,
            table_id="supernet-check-table",
        )
    )
    return parts


def _rung_parts(result, entries):
    """The rung-to-rung table of a multi-fidelity search and its warnings."""
    parts = []
    fidelity = result.config["fidelity"]
    reached = _reached(result.history)
    parts.append(
        f"<p>Successive halving over rungs of {escape(fidelity['rungs'])} steps, keeping the "
        f"best 1/{escape(fidelity['eta'])} at each rung. The Spearman rank correlation of "
        "the scores at consecutive rungs, over the candidates that reached both, says "
        "whether the short budget predicts the longer one. Only promoted candidates reach "
        "the higher rung, so the range is cut short; read it with the number of pairs.</p>"
    )
    rows = []
    for entry in entries:
        value = "undefined" if entry["spearman"] is None else f"{entry['spearman']:.3f}"
        rows.append(
            [
                escape(f"{entry['rung']} → {entry['next_rung']}"),
                num_cell(f"{entry['steps']} → {entry['next_steps']}"),
                num_cell(f"{reached.get(entry['rung'], 0)} → {reached.get(entry['next_rung'], 0)}"),
                num_cell(entry["pairs"]),
                num_cell(escape(value)),
            ]
        )
    parts.append(
        table(
            ["rungs", "steps", "candidates evaluated", "pairs (both ok)", "Spearman"],
            rows,
            table_id="fidelity-table",
        )
    )
    for entry in entries:
        if entry["warning"]:
            parts.append(f'<p class="status-bad">Warning: {escape(entry["warning"])}</p>')
    return parts


def _reached(history):
    """Rung -> number of evaluations recorded at it."""
    counts = {}
    for record in history:
        if record.get("rung") is not None:
            counts[record["rung"]] = counts.get(record["rung"], 0) + 1
    return counts
