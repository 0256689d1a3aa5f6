"""The page's fidelity check: does each rung of a multi-fidelity search predict the next?

Reads `SearchResult.fidelity_check()` (`kgan_nas.core.fidelity.rung_correlations`):
per pair of consecutive rungs, the Spearman rank correlation over the
candidates that reached both, with the warning when it is low or undefined.
"""

from kgan_nas.report.markup import escape
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import table


def fidelity_section(result):
    """HTML of the rung table of a multi-fidelity search.

    Args:
        result: A `kgan_nas.SearchResult`.

    Returns:
        The section's HTML; empty when every candidate trained one step
        budget (no rungs, so no rung-to-rung check), and the page leaves the
        section out.
    """
    entries = result.fidelity_check()
    if not entries:
        return ""
    parts = [section_start("fidelity")]
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
    return "\n".join(parts)


def _reached(history):
    """Rung -> number of evaluations recorded at it."""
    counts = {}
    for record in history:
        if record.get("rung") is not None:
            counts[record["rung"]] = counts.get(record["rung"], 0) + 1
    return counts
