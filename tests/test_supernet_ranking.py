"""`benchmarks/supernet_ranking.py`: the registered rule, the table, the docs held to the JSON."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("supernet_ranking")


def _row(seed, spearman, rank=2):
    check = None
    if spearman != "none":
        check = {"rows": [], "pairs": 12, "spearman": spearman}
    return {
        "arm": "single_path",
        "seed": seed,
        "supernet_steps": 1800,
        "supernet_seconds": 600.0,
        "path_seconds": 40.0,
        "records": 12,
        "failed": 1,
        "check": check,
        "best_path_rank": rank,
        "candidate_seconds": 500.0,
    }


@pytest.mark.parametrize(
    "values, ranks",
    [
        ((0.6, 0.5, 0.1), True),  # 2 strong, all above 0
        ((0.9, 0.8, -0.1), False),  # one seed at or below 0
        ((0.6, 0.4, 0.3), False),  # only 1 strong
        ((0.9, 0.9, None), False),  # undefined in one seed
        ((0.9, 0.9, "none"), False),  # no check at all in one seed
    ],
)
def test_weight_sharing_ranks_only_by_the_registered_rule(study, values, ranks):
    rows = [_row(seed, value) for seed, value in zip(study.SEEDS, values)]
    decision = study.decide(rows)
    assert decision["complete"] and decision["ranks"] is ranks
    # A missing seed decides nothing.
    assert not study.decide(rows[:2])["complete"] and not study.decide(rows[:2])["ranks"]


def test_the_best_paths_rank_counts_the_genomes_that_trained_better(study):
    rows = [
        {"key": "a", "path_fid": 10.0, "fid": 30.0, "exact": True},
        {"key": "b", "path_fid": 20.0, "fid": 5.0, "exact": True},
        {"key": "c", "path_fid": 1.0, "fid": 40.0, "exact": False},  # not the path: left out
        {"key": "d", "path_fid": 30.0, "fid": None, "exact": True},  # never trained
        {"key": "e", "path_fid": 40.0, "fid": 20.0, "exact": True},
    ]
    # `a` has the best path score; `b` and `e` trained alone to better scores.
    assert study.best_path_rank({"rows": rows}) == 3
    assert study.best_path_rank({"rows": rows[2:4]}) is None


def test_the_table_states_each_seed_and_the_verdict(study):
    rows = [_row(40, 0.61, rank=1), _row(41, None, rank=None)]
    report = {"rows": rows, "decision": study.decide(rows)}
    text = study.markdown(report)
    assert "| 40 | 0.610 (12) | 1 of 12 | 1,800 (600) | 40 | 500 | 1 of 12 |" in text
    assert "| 41 | undefined (12) | – of 12 |" in text
    assert "not complete" in text
    rows = [_row(seed, 0.2) for seed in study.SEEDS]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "Rule 1 not met (it needs a Spearman of at least 0.5 in 2 of 3 seeds, here 0" in text
    rows = [_row(seed, value) for seed, value in zip(study.SEEDS, (0.9, 0.9, -0.1))]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "here 2, and above 0 in every seed" in text
    rows = [_row(seed, 0.7) for seed in study.SEEDS]
    assert "Rule 1 met" in study.markdown({"rows": rows, "decision": study.decide(rows)})


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("supernet_ranking", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected
