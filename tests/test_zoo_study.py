"""`benchmarks/zoo_study.py`: its pre-registered decisions, its tuned-design arm, a smoke run."""

import importlib
import json
import os

import numpy as np
import pytest

from kgan_nas.core import zoo
from kgan_nas.core.space import SearchSpace

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("zoo_study")


def _rows(study, fids):
    return [
        {"arm": arm, "seed": seed, "fid_mean": value}
        for arm, values in fids.items()
        for seed, value in zip(study.SEEDS, values)
    ]


def test_the_zoo_default_goes_when_it_loses_three_seeds(study):
    rows = _rows(
        study,
        {
            "search": [5, 5, 5, 5, 5],
            "search+zoo": [6, 6, 6, 4, 4],
            "zoo_tuned": [7, 7, 7, 7, 7],
        },
    )
    decision = study.decide(rows, study.SEEDS)
    assert decision["complete"]
    assert decision["search+zoo_vs_search"]["losses"] == 3
    assert decision["zoo_default_stays"] is False
    assert decision["search_beats_tuned_designs"] is True


def test_beating_the_tuned_designs_needs_every_seed(study):
    rows = _rows(
        study,
        {
            "search": [5, 5, 5, 5, 5],
            "search+zoo": [4, 4, 4, 4, 8],
            "zoo_tuned": [7, 7, 7, 7, 7],
        },
    )
    decision = study.decide(rows, study.SEEDS)
    assert decision["zoo_default_stays"] is True
    assert decision["search+zoo_vs_zoo_tuned"]["wins"] == 4
    assert decision["search_beats_tuned_designs"] is False
    # A missing arm leaves the study incomplete: no decision stands on it.
    partial = [row for row in rows if not (row["arm"] == "zoo_tuned" and row["seed"] == 14)]
    assert study.decide(partial, study.SEEDS)["complete"] is False


def test_the_tuned_arm_keeps_the_designs_and_varies_their_training(study):
    space = SearchSpace(image_shape=(8, 8, 1), max_params=study.MAX_PARAMS)
    strategy = study.tuned_zoo_strategy(space, seed=0)
    stacks = {(tuple(g.generator), tuple(g.discriminator)) for g in zoo.genomes(space).values()}
    asked = strategy.ask(12)
    assert all((tuple(g.generator), tuple(g.discriminator)) in stacks for g in asked)
    assert len({g.training for g in asked}) > 6
    assert all(space.problems(g) == [] for g in asked)


@pytest.mark.keras
@pytest.mark.slow
def test_a_smoke_run_writes_its_rows_and_the_decision(study, tmp_path, monkeypatch):
    """The tuned-designs arm end to end (its own strategy through kgan_nas.search, the
    zoo on, a final stage); the other two arms are plain searches with the zoo off and
    on, which tests/test_zoo.py runs."""
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path / "cache"))
    output = tmp_path / "zoo_study.json"
    study.main(
        [
            "--smoke",
            "--seeds",
            "10",
            "--arms",
            "zoo_tuned",
            "--runs",
            str(tmp_path / "runs"),
            "--output",
            str(output),
        ]
    )
    report = json.loads(output.read_text())
    (row,) = report["rows"]
    assert row["arm"] == "zoo_tuned" and report["smoke"] is True
    assert report["decision"]["complete"] is False
    assert row["zoo_candidates"] == 2  # a population of 2: two designs as fitted
    assert np.isfinite(row["fid_mean"]) and row["candidates"] == 2
    assert row["training_yield"]["candidates"] == 2
    assert report["machine"]["git"]


def test_the_docs_quote_the_studys_json(study):
    """docs/benchmarks.md holds exactly the table the JSON renders to (none before it exists)."""
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("zoo_study", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_the_table_marks_missing_rows_and_chosen_designs(study):
    rows = _rows(study, {"search": [5, 5, 5, 5, 5], "search+zoo": [4, 4, 4, 4, 4]})
    rows[5]["chosen_zoo"] = "tf_dcgan"
    for row in rows:
        row.update(fid_std=0.5, training_yield={"trained": 3, "candidates": 24})
    report = {
        "rows": rows,
        "seeds": list(study.SEEDS),
        "arms": list(study.ARMS),
        "decision": study.decide(rows, study.SEEDS),
    }
    text = study.markdown(report)
    assert "| `search+zoo` | 4.00 ± 0.50 (tf_dcgan) | 4.00 ± 0.50 |" in text
    assert "| `zoo_tuned` | — | — | — | — | — | — |" in text
    assert "| 15 of 120 |" in text
    assert "not complete" in text


def test_the_readme_and_the_zoo_page_quote_the_studys_decision(study):
    results = os.path.join(BENCHMARKS, "results", "zoo_study.json")
    if not os.path.exists(results):
        pytest.skip("the study has not been run")
    with open(results, encoding="utf-8") as stream:
        decision = json.load(stream)["decision"]
    plain, tuned = decision["search+zoo_vs_search"], decision["search+zoo_vs_zoo_tuned"]
    counts = f"{plain['wins']} wins, {plain['losses']} losses, {plain['ties']} ties"
    root = os.path.dirname(BENCHMARKS)
    for page in ("README.md", "docs/index.md", "docs/zoo.md"):
        text = " ".join(open(os.path.join(root, page), encoding="utf-8").read().split())
        assert counts.replace(", 3 ties", " and 3 ties") in text or counts in text, page
        assert f"beat it in {tuned['losses']} of 5 seeds" in text or (
            f"beat the search with the zoo in {tuned['losses']} of 5 seeds" in text
        ), page
    assert decision["zoo_default_stays"]  # the pages say the zoo stays on by default
