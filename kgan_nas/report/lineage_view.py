"""The page's view of weight inheritance: parents, lineages and total training.

With `GeneticSearch(inherit_weights=True)` (the default) a child starts from
its parent's trained weights, so a candidate's score reflects the training
of its whole lineage, not only its own steps. These helpers show that: the
parent, inherited layers and total steps of each ranked candidate, the best
candidate's chain of ancestors, and a note when the top candidates are one
family.
"""

from kgan_nas import run as run_lib
from kgan_nas.report.markup import escape
from kgan_nas.report.markup import fixed
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import status_span
from kgan_nas.report.markup import table
from kgan_nas.report.numbers import lineage_roots
from kgan_nas.results import lineage
from kgan_nas.results import total_steps

# How many of the best candidates the shared-lineage note looks at.
TOP_FAMILY = 3


def inheritance_on(result):
    """Whether children started from their parent's weights in this run.

    Read from `config.json`'s `"details"` (the strategy's full settings);
    runs written before it was recorded count as inheriting when any
    record names a parent.

    Args:
        result: A `kgan_nas.SearchResult`.

    Returns:
        True or False.
    """
    strategy = run_lib.RunDir(result.directory).details().get("strategy_config") or {}
    if "inherit_weights" in strategy:
        return bool(strategy["inherit_weights"])
    return any(record.get("parent") for record in result.history)


def lineage_cells(history, record):
    """Table cells for `record`: its parent, inherited layers and total steps."""
    parent = record.get("parent")
    fitness = record.get("fitness", {})
    return [
        f"<code>{escape(parent)}</code>" if parent else '<span class="muted">none</span>',
        num_cell(int(fitness.get("inherited_layers") or 0)),
        num_cell(f"{total_steps(history, record['key'], record['generation']):,}"),
    ]


def shared_lineage_note(history, ranked):
    """A note when the `TOP_FAMILY` best distinct candidates share one lineage, else "".

    Args:
        history: History records.
        ranked: Successful records, best first.

    Returns:
        An HTML paragraph, or an empty string.
    """
    top, seen = [], set()
    for record in ranked:
        if record["key"] not in seen:
            seen.add(record["key"])
            top.append(record)
        if len(top) == TOP_FAMILY:
            break
    roots = set(lineage_roots(history, top))
    if len(top) < 2 or len(roots) != 1:
        return ""
    return (
        f'<p class="note" id="shared-lineage">The {len(top)} best candidates are one family: '
        f"all descend from candidate <code>{escape(roots.pop())}</code> and continued its "
        "trained weights, so they are variations of one line of training rather than "
        'independent results (see <a href="#ancestry">Ancestry</a>).</p>'
    )


def ancestry_section(result, ranked):
    """The best candidate's chain of ancestors: key, generation, score and steps of each.

    Args:
        result: A `kgan_nas.SearchResult`.
        ranked: Successful records, best first.

    Returns:
        The section's HTML.
    """
    parts = [section_start("ancestry")]
    if not ranked:
        return "\n".join(parts + ["<p>No candidate succeeded.</p>"])
    best = ranked[0]
    chain = lineage(result.history, best["key"], best["generation"])
    rows, cumulative = [], 0
    for link in chain:
        steps = int(link["fitness"].get("steps") or 0)
        cumulative += steps
        rows.append(
            [
                f"<code>{escape(link['key'])}</code>",
                num_cell(link["generation"]),
                status_span(link["status"]),
                num_cell(fixed(link.get("objective"))),
                num_cell(int(link["fitness"].get("inherited_layers") or 0)),
                num_cell(f"{steps:,}"),
                num_cell(f"{cumulative:,}"),
            ]
        )
    headers = ["key", "gen", "status", "score", "inherited layers", "steps", "steps so far"]
    if len(chain) == 1:
        text = (
            f"Candidate <code>{escape(best['key'])}</code> trained from scratch "
            f"({cumulative:,} steps): it inherited no parent's weights."
        )
    else:
        text = (
            f"Candidate <code>{escape(best['key'])}</code> is link {len(chain)} of a lineage: "
            f"each link started from the weights of the one above, so its generator "
            f"was trained for <b>{cumulative:,} steps</b> in all, not only its own "
            f"{int(best['fitness'].get('steps') or 0):,}."
        )
    return "\n".join(parts + [f"<p>{text}</p>", table(headers, rows, table_id="ancestry-table")])
