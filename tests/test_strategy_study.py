"""`benchmarks/strategy_study.py`: equal steps per arm, the decisions, the table, the docs."""

import importlib
import math
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("strategy_study")


@pytest.mark.parametrize("smoke", [False, True])
def test_every_arm_trains_the_same_steps_the_supernets_counted(study, smoke):
    budget = study.plan(smoke)
    total = budget["evaluations"] * budget["steps"]
    for arm in study.ARMS:
        candidates = study.generations(arm, budget) * budget["population"] * budget["steps"]
        supernet = study.supernet_steps(budget) if arm == "differentiable" else 0
        assert candidates + supernet == total, arm
    assert study.generations("differentiable", budget) < study.generations("random", budget)


def test_a_supernets_steps_come_first_in_the_curve(study):
    history = [
        {"status": "ok", "key": "a", "fitness": {"fid": 9.0, "steps": 200}, "time": 1.0},
        {"status": "ok", "key": "b", "fitness": {"fid": 4.0, "steps": 200}, "time": 2.0},
    ]
    plain = study.shifted_curve(history, 0)
    assert plain == study.steps_curve(history)
    shifted = study.shifted_curve(history, 1600)
    assert shifted[0] == [1600, math.inf]
    assert [point[0] for point in shifted[1:]] == [1800, 2000]
    assert [point[1] for point in shifted[1:]] == [point[1] for point in plain]
    # Before its first candidate, the arm has nothing: it loses at equal steps.
    assert importlib.import_module("search_quality").value_at(shifted, 1700) == math.inf


def test_the_studies_pair_runs_at_the_steps_both_spent(study):
    quality = importlib.import_module("search_quality")
    by = {
        ("a", 0): {"steps_curve": [[100, 9.0], [200, 5.0]], "retrained": {"fid": 3.0}},
        ("random", 0): {"steps_curve": [[100, 8.0], [300, 1.0]], "retrained": {"fid": 4.0}},
        ("a", 1): {"steps_curve": [[100, 7.0]], "retrained": None},
        ("random", 1): {"steps_curve": [[100, 6.0]], "retrained": {"fid": 2.0}},
        ("a", 2): {"steps_curve": [[100, 1.0]], "retrained": {"fid": 1.0}},
    }
    pair = quality.compare_runs(by, [0, 1, 2], "a", "random", label="arm")
    # Seed 2 has no reference run; seed 0 compares at 200 steps, not 300.
    assert pair["seeds"] == [0, 1]
    assert pair["steps"] == [200, 100]
    assert pair["search_at_equal_steps"]["arm"] == [5.0, 7.0]
    assert pair["search_at_equal_steps"]["random"] == [8.0, 6.0]
    # A winner never retrained counts as infinitely bad, and drops out of the test.
    assert pair["retrained"]["arm"] == [3.0, math.inf]
    assert (pair["retrained"]["wins"], pair["retrained"]["pairs"]) == (1, 1)


def _rows(study, fids):
    """Rows of every arm and seed: `fids[arm]` per seed, each curve ending at 4,800 steps."""
    return [
        {
            "arm": arm,
            "seed": seed,
            "records": 24,
            "failed": 1,
            "supernet_steps": 1600 if arm == "differentiable" else 0,
            "supernet_seconds": 40.0 if arm == "differentiable" else 0.0,
            "steps_curve": [[4800, fid + 1.0]],
            "retrained": {"fid": fid},
            "supernet_check": {"spearman": 0.25, "pairs": 7} if arm == "differentiable" else None,
            "search_seconds": 120.0,
            "candidate_seconds": 200.0,
        }
        for seed in study.SEEDS
        for arm, values in fids.items()
        for fid in [values[study.SEEDS.index(seed)]]
    ]


def test_beating_random_needs_four_wins_of_five(study):
    fids = {
        "random": [5.0] * 5,
        "genetic": [6.0] * 5,  # random wins all: rule 2
        "pso": [4.0, 4.0, 4.0, 4.0, 9.0],  # four wins: rule 1
        "differentiable": [4.0, 4.0, 4.0, 9.0, 9.0],  # three: not shown
    }
    decision = study.decide(_rows(study, fids), list(study.SEEDS))
    assert decision["complete"]
    against = decision["against_random"]
    assert against["pso"]["beats_random"] and against["pso"]["retrained"]["wins"] == 4
    assert not against["differentiable"]["beats_random"]
    assert against["genetic"]["random_beats_it"] and decision["default_becomes_random"]
    assert decision["mean_retrained_fid"]["pso"] == pytest.approx(5.0)
    # A missing seed: nothing is decided.
    partial = [row for row in _rows(study, fids) if row["seed"] != 34]
    undecided = study.decide(partial, list(study.SEEDS[:4]))
    assert not undecided["complete"] and not undecided["default_becomes_random"]
    assert not undecided["against_random"]["pso"]["beats_random"]


def test_the_table_states_the_supernets_cost_and_the_verdicts(study):
    fids = {arm: [5.0] * 5 for arm in study.ARMS}
    fids["pso"] = [4.0] * 5
    rows = _rows(study, fids)
    report = {
        "rows": rows,
        "seeds": list(study.SEEDS),
        "decision": study.decide(rows, list(study.SEEDS)),
    }
    text = study.markdown(report)
    assert "| 30 | `differentiable` | 5.00 | 6.00 | 24 (1) | 1,600 (40) | 120 | 200 |" in text
    assert "| 30 | `random` | 5.00 | 6.00 | 24 (1) | — |" in text
    assert "`pso` against `random`, retrained, seeds [30, 31, 32, 33, 34]: 5 wins" in text
    assert "beats random search (rule 1)" in text
    assert "per seed: 30: 0.25 (7 genomes), 31: 0.25 (7 genomes)" in text
    assert "`genetic` against `random`" in text and "not shown to beat random search" in text


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("strategy_study", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_results_are_standard_json_and_a_stored_null_counts_as_no_best_yet(study, tmp_path):
    import glob
    import json

    import _common

    quality = importlib.import_module("search_quality")
    # Every committed results file parses as strict JSON (no NaN or Infinity).
    for path in glob.glob(os.path.join(_common.RESULTS, "*.json")):
        with open(path, encoding="utf-8") as stream:
            json.loads(stream.read(), parse_constant=lambda name: pytest.fail(f"{path}: {name}"))
    written = _common.write_result(
        "x", {"curve": [[1600, math.inf], [1800, 4.0]], "nan": math.nan}, tmp_path / "x.json"
    )
    with open(written, encoding="utf-8") as stream:
        stored = json.load(stream)
    assert stored["curve"] == [[1600, None], [1800, 4.0]] and stored["nan"] is None
    assert quality.value_at(stored["curve"], 1700) == math.inf
    assert quality.value_at(stored["curve"], 1800) == 4.0
