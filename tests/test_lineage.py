"""Weight-inheritance lineages: `results.lineage` / `total_steps` and the report's view."""

import json
import shutil

import pytest
from tiny_runs import scripted_search

from kgan_nas.cli import commands as cli
from kgan_nas.results.records import lineage
from kgan_nas.results.records import total_steps


def _record(key, generation, parent=None, steps=100, status="ok"):
    return {
        "key": key,
        "generation": generation,
        "parent": parent,
        "status": status,
        "fitness": {"steps": steps},
    }


def _keys(chain):
    return [(record["key"], record["generation"]) for record in chain]


def test_a_chain_of_four_is_followed_oldest_first():
    history = [
        _record("a", 0, steps=300),
        _record("x", 0, steps=300),
        _record("b", 1, parent="a", steps=300),
        _record("c", 2, parent="b", steps=250),
        _record("y", 2, parent="x", steps=300),
        _record("d", 3, parent="c", steps=200),
    ]
    assert _keys(lineage(history, "d")) == [("a", 0), ("b", 1), ("c", 2), ("d", 3)]
    assert total_steps(history, "d") == 300 + 300 + 250 + 200
    assert total_steps(history, "y") == 600
    assert _keys(lineage(history, "a")) == [("a", 0)]
    assert total_steps(history, "a") == 300


def test_a_parent_evaluated_twice_is_its_record_before_the_child():
    """A key re-evaluated in a later generation: a child's parent is the parent's
    latest record from an EARLIER generation than the child's, never a later one."""
    history = [
        _record("a", 0, steps=10),
        _record("p", 0, steps=20),
        _record("a", 1, parent="p", steps=30),  # a again, now continuing p
        _record("b", 1, parent="a", steps=40),  # parent a: only a's generation-0 record counts
        _record("c", 2, parent="a", steps=50),  # parent a: its generation-1 record
        _record("a", 3, steps=60),  # a later a must not be anybody's parent above
    ]
    assert _keys(lineage(history, "b")) == [("a", 0), ("b", 1)]
    assert total_steps(history, "b") == 50
    assert _keys(lineage(history, "c")) == [("p", 0), ("a", 1), ("c", 2)]
    assert total_steps(history, "c") == 100
    # A key's latest record by default; an earlier one when asked for.
    assert _keys(lineage(history, "a")) == [("a", 3)]
    assert _keys(lineage(history, "a", generation=1)) == [("p", 0), ("a", 1)]
    assert total_steps(history, "a", generation=2) == 50  # generation 1's record is the latest


def test_a_missing_or_failed_parent_ends_the_chain():
    history = [
        _record("b", 1, parent="gone", steps=40),  # its parent is not in the history
        _record("f", 0, steps=3, status="nan"),
        _record("g", 1, parent="f", steps=40),  # a failed parent saved no weights
        _record("h", 2, parent="g", steps=40),
    ]
    assert _keys(lineage(history, "b")) == [("b", 1)]
    assert total_steps(history, "b") == 40
    assert _keys(lineage(history, "h")) == [("g", 1), ("h", 2)]
    assert total_steps(history, "h") == 80
    assert lineage(history, "nope") == [] and total_steps(history, "nope") == 0


@pytest.fixture(scope="module")
def lineage_run(tmp_path_factory, cache_dir):
    """Three generations with the scripted lineage evaluator (inheritance on by default)."""
    directory = tmp_path_factory.mktemp("lineage") / "run"
    scripted_search(directory, evaluator="lineage", generations=3)
    return directory


def _with_steps(directory, steps):
    """Gives every record `steps` training steps (the scripted evaluator trains none).

    The totals the search stored with each record are dropped, as they summed the old
    steps; read back, records without them are summed along their lineage."""
    path = directory / "history.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for record in records:
        record["fitness"]["steps"] = steps
        record.pop("total_steps")
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return records


def test_the_page_shows_parents_and_total_steps(lineage_run):
    """The best-candidates table names each candidate's parent and its lineage's steps;
    the ancestry section lists the best candidate's chain; the configuration says that
    children continue their parent's training."""
    records = _with_steps(lineage_run, 10)
    assert any(record["parent"] for record in records)  # the fixture's point
    assert cli.main(["report", str(lineage_run)]) == 0
    page = (lineage_run / "report.html").read_text(encoding="utf-8")
    from test_report import _candidate_rows
    from test_report import _tables

    tables = _tables(page)
    header, rows = _candidate_rows(tables)
    key_column, parent_column = header.index("key"), header.index("parent")
    steps_column = header.index("total steps")
    by_key = {}
    for record in records:
        by_key[record["key"]] = record  # the latest evaluation of each key
    for row in rows:
        record = by_key[row[key_column]]
        assert row[parent_column] == (record["parent"] or "none")
        expected = 10 * len(lineage(records, record["key"], record["generation"]))
        assert int(row[steps_column].replace(",", "")) == expected
    assert any(int(row[steps_column]) > 10 for row in rows), "no inherited training shown"
    best = sorted((r for r in records if r["objective"] is not None), key=lambda r: r["objective"])[
        0
    ]
    chain = lineage(records, best["key"], best["generation"])
    header, *ancestry = tables["ancestry-table"]
    assert [row[0] for row in ancestry] == [link["key"] for link in chain]
    assert [int(row[-1]) for row in ancestry] == [10 * (i + 1) for i in range(len(chain))]
    configuration = dict(tables["configuration"])
    assert "continues its parent's training" in configuration["training steps per candidate"]
    assert dict(tables["run-table"])["weight inheritance"] == "on"


def test_shared_lineage_is_noted_only_when_the_top_candidates_are_one_family():
    from kgan_nas.report.lineage_view import shared_lineage_note

    history = [
        dict(_record("a", 0), objective=3.0),
        dict(_record("b", 1, parent="a"), objective=2.0),
        dict(_record("c", 2, parent="b"), objective=1.0),
        dict(_record("z", 0), objective=4.0),
    ]
    ranked = sorted(history, key=lambda r: r["objective"])
    note = shared_lineage_note(history, ranked)
    assert "one family" in note and "<code>a</code>" in note
    history[0]["objective"] = 5.0  # now z ranks third and has a lineage of its own
    ranked = sorted(history, key=lambda r: r["objective"])
    assert shared_lineage_note(history, ranked) == ""


# ----------------------------------------------------------------------
# The run's lineage tree (report.numbers.lineage_tree and its picture)
# ----------------------------------------------------------------------


def _tree_history():
    """Two families over three generations, a re-evaluated key, a failed parent, and a
    known design from the zoo seeded into the first generation."""
    history = [
        dict(_record("a", 0), objective=30.0),
        dict(_record("z", 0), objective=20.0, origin="zoo"),
        dict(_record("f", 0, status="nan"), objective=None),
        dict(_record("b", 1, parent="a"), objective=25.0),
        dict(_record("y", 1, parent="z"), objective=12.0),
        dict(_record("g", 1, parent="f"), objective=40.0),  # its parent failed: scratch
        dict(_record("a", 1, parent="z"), objective=15.0),  # a again, now continuing z
        dict(_record("c", 2, parent="y"), objective=5.0),
        dict(_record("d", 2, parent="a"), objective=8.0),  # a's generation-1 record
        dict(_record("e", 2, parent="b"), objective=None, status="error"),
    ]
    return history


def _place(node):
    return (node["key"], node["generation"])


def test_the_tree_follows_the_one_lineage():
    """Every evaluated candidate is a node; its parent is the record before it on its
    `lineage`; each generation's rows are distinct, families kept together."""
    from kgan_nas.report.numbers import lineage_tree

    history = _tree_history()
    tree = lineage_tree(history)
    assert sorted(map(_place, tree)) == sorted({(r["key"], r["generation"]) for r in history})
    for node in tree:
        chain = lineage(history, node["key"], node["generation"])
        expected = _keys(chain)[-2] if len(chain) > 1 else None
        parent = None if node["parent"] is None else _place(tree[node["parent"]])
        assert parent == expected, node
        assert tree[node["index"]] is node
    by_place = {_place(node): node for node in tree}
    assert by_place[("g", 1)]["parent"] is None and by_place[("g", 1)]["named_parent"] == "f"
    assert _place(tree[by_place[("d", 2)]["parent"]]) == ("a", 1)
    for generation in (0, 1, 2):
        rows = [n["row"] for n in tree if n["generation"] == generation]
        assert sorted(rows) == list(range(len(rows)))
    # Roots first, best first; children follow their parents' rows.
    assert [n["key"] for n in tree if n["generation"] == 0] == ["z", "a", "f"]
    assert [n["key"] for n in tree if n["generation"] == 1] == ["g", "y", "a", "b"]
    assert by_place[("e", 2)]["status"] == "error" and by_place[("e", 2)]["objective"] is None
    # The best candidate's lineage, c <- y <- z, is marked, and nothing else.
    marked = {_place(n) for n in tree if n["best_lineage"]}
    assert marked == {("z", 0), ("y", 1), ("c", 2)}
    assert {n["key"] for n in tree if n["origin"] == "zoo"} == {"z"}


def _captured_tree(monkeypatch):
    from kgan_nas.report import plots

    captured = []
    save = plots._save

    def keep(figure, path, pyplot):
        if figure.axes[0].get_title().startswith("Lineage tree"):
            captured.append(figure.axes[0])
        return save(figure, path, pyplot)

    monkeypatch.setattr(plots, "_save", keep)
    return captured


def test_zoo_designs_are_marked_in_the_tree(tmp_path, monkeypatch):
    """A record whose `origin` is "zoo" is drawn as a star, in the legend as a zoo design;
    the best candidate's lineage is drawn in orange."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from kgan_nas.report import plots
    from kgan_nas.report.numbers import lineage_tree

    captured = _captured_tree(monkeypatch)
    tree = lineage_tree(_tree_history())
    path = plots._plot_lineage_tree(tree, "fid_domain", tmp_path / "tree.png", pyplot)
    assert (tmp_path / "tree.png").is_file() and path == tmp_path / "tree.png"
    (axis,) = captured
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert "zoo design (1)" in labels and "best candidate's lineage" in labels
    assert "failed (2)" in labels
    zoo = next(n for n in tree if n["origin"] == "zoo")
    stars = [
        c for c in axis.collections if c.get_label().startswith("zoo design")
    ]  # the star markers
    assert len(stars) == 1
    assert stars[0].get_offsets().tolist() == [[zoo["generation"], zoo["row"]]]
    orange = [
        line
        for line in axis.get_lines()
        if line.get_color() == "tab:orange" and len(line.get_xdata()) == 2
    ]
    assert len(orange) == 2  # z -> y -> c
    # Without any zoo record there is no zoo entry.
    plain = [dict(r, origin=None) for r in _tree_history()]
    plots._plot_lineage_tree(lineage_tree(plain), "fid_domain", tmp_path / "p.png", pyplot)
    assert not any("zoo" in t.get_text() for t in captured[1].get_legend().get_texts())


def test_the_lineage_picture_lists_every_record_with_a_parent(lineage_run, tmp_path, monkeypatch):
    """`kgan-nas report` writes lineage.png, whose nodes are labelled with every
    candidate that names a parent, and the page lists them under it; a zoo record is
    marked on the page too."""
    from test_report import _section
    from test_report import _tables

    from kgan_nas import report

    run = tmp_path / "run"
    shutil.copytree(lineage_run, run)
    path = run / "history.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    children = {r["key"] for r in records if r["parent"]}
    assert children  # the fixture's point
    seeded = next(r for r in records if r["generation"] == 1)
    seeded["origin"] = "zoo"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    captured = _captured_tree(monkeypatch)
    assert cli.main(["report", str(run)]) == 0
    assert (run / "report" / report.LINEAGE_PNG).is_file()
    (axis,) = captured
    drawn = {text.get_text() for text in axis.texts}
    assert {key[:6] for key in children} <= drawn
    page = (run / "report.html").read_text(encoding="utf-8")
    section = _section(page, "lineage")
    assert "data:image/png" in section and "purple star" in section
    header, *rows = _tables(page)["lineage-table"]
    listed = {row[0].removesuffix(" (zoo)") for row in rows}
    assert listed >= children
    assert any(row[0] == f"{seeded['key']} (zoo)" for row in rows) == (seeded["key"] in listed)
    assert "zoo design (1)" in [t.get_text() for t in axis.get_legend().get_texts()]
