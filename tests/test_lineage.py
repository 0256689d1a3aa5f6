"""Weight-inheritance lineages: `results.lineage` / `total_steps` and the report's view."""

import json

import pytest

import kgan_nas
from kgan_nas import cli
from kgan_nas.results import lineage
from kgan_nas.results import total_steps

LINEAGE = "scripted_evaluators:make_lineage_evaluator"


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
    kgan_nas.search(
        "digits",
        space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=100_000),
        generations=3,
        population=4,
        steps_per_candidate=10,
        batch_size=16,
        num_samples=100,
        executor="inprocess",
        directory=str(directory),
        evaluator=LINEAGE,
        verbose=0,
        seed=7,
    )
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
    from test_report import _tables

    tables = _tables(page)
    header, *rows = tables["candidates-table"]
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
