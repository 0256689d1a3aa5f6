"""The page's view of weight inheritance: parents, lineages and total training.

With `GeneticSearch(inherit_weights=True)` (the default) a child starts from
its parent's trained weights, so a candidate's score reflects the training
of its whole lineage, not only its own steps. These helpers show that: the
parent, inherited layers and total steps of each ranked candidate, the best
candidate's chain of ancestors, and a note when the top candidates are one
family.

The whole run's tree (`tree_section`) is drawn by `plots.write_report` from
`numbers.lineage_tree`, which follows `results.records.lineage`, the
one definition of who inherited from whom.
"""

import os

from kgan_nas.report.markup import escape
from kgan_nas.report.markup import fixed
from kgan_nas.report.markup import image
from kgan_nas.report.markup import key_code
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import status_span
from kgan_nas.report.markup import table
from kgan_nas.report.numbers import lineage_roots
from kgan_nas.report.numbers import lineage_tree
from kgan_nas.results.records import lineage
from kgan_nas.results.records import total_steps
from kgan_nas.store import run_dir as run_lib

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
        key_code(parent) if parent else '<span class="muted">none</span>',
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
        The section's HTML; empty when no candidate succeeded.
    """
    if not ranked:
        return ""
    parts = [section_start("ancestry")]
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


def tree_section(result, picture):
    """The run's lineage tree: who started from whose trained weights, as a picture and a list.

    Args:
        result: A `kgan_nas.SearchResult`.
        picture: The path of the tree's PNG (`plots.LINEAGE_PNG`), or None.

    Returns:
        The section's HTML; empty when no candidate names a parent (weight
        inheritance off, or a single generation), so the page leaves it out.
    """
    tree = lineage_tree(result.history)
    named = [node for node in tree if node["parent"] is not None or node["named_parent"]]
    if not named:
        return ""
    inherited = sum(node["parent"] is not None for node in named)
    zoo = sum(node["origin"] == "zoo" for node in tree)
    text = (
        f"{inherited} of {len(tree)} candidates started from a parent's trained weights. "
        "Columns are generations, each line joins a parent (left) to a child, and the best "
        "candidate's lineage is orange"
    )
    if any(node["status"] != "ok" for node in tree):
        text += "; failed candidates are red crosses"
    if zoo:
        text += f", and the {zoo} purple star{'' if zoo == 1 else 's'} mark known designs "
        text += "from the zoo seeded into the search, not found by it"
    rows = []
    for node in named:
        parent = None if node["parent"] is None else tree[node["parent"]]
        rows.append(
            [
                f"<code>{escape(node['key'])}</code>"
                + (" (zoo)" if node["origin"] == "zoo" else ""),
                num_cell(node["generation"]),
                status_span(node["status"]),
                num_cell(fixed(node["objective"])),
                f"<code>{escape(parent['key'])}</code>, generation {parent['generation']}"
                if parent
                else f"none: its parent <code>{escape(node['named_parent'])}</code> failed or "
                "is missing, so it trained from scratch",
            ]
        )
    listing = table(
        ["candidate", "gen", "status", "score", "started from"], rows, table_id="lineage-table"
    )
    shown = image(picture, "Lineage tree of the run") if picture and os.path.isfile(picture) else ""
    return "\n".join(
        [
            section_start("lineage"),
            shown,
            f'<p class="muted">{text}.</p>',
            f"<details><summary>Every candidate with a parent, as a list ({len(named)})"
            f"</summary>{listing}</details>",
        ]
    )
