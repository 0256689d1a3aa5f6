"""`benchmarks/continuation_study.py`: its registered rule, its table, the docs that quote it."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("continuation_study")


def _row(name, scratch, continued, pairs):
    return {
        "run": f"/somewhere/{name}",
        "scratch_chosen_fid": scratch,
        "continued_chosen_fid": continued,
        "pairs": [
            {"key": "k", "seed_index": i, "scratch": a, "continued": b}
            for i, (a, b) in enumerate(pairs)
        ],
    }


def test_continuation_becomes_the_default_only_when_it_wins_everywhere(study):
    rows = [
        _row("params_seed1", 50.0, 40.0, [(50, 40), (55, 41), (60, 70)]),
        _row("macs_seed1", 30.0, 29.0, [(30, 29), (31, 20), (33, 30)]),
    ]
    decision = study.decide(rows)
    assert (decision["job_wins"], decision["job_pairs"]) == (5, 6)
    assert decision["continue_by_default"]
    rows[1]["continued_chosen_fid"] = 31.0  # one run's answer got worse
    assert not study.decide(rows)["continue_by_default"]
    rows[1]["continued_chosen_fid"] = 29.0
    rows[0]["pairs"][1]["continued"] = 60  # 4 of 6 jobs: still two thirds
    assert study.decide(rows)["continue_by_default"]
    rows[0]["pairs"][0]["continued"] = 60  # 3 of 6: not
    assert not study.decide(rows)["continue_by_default"]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "| `params_seed1` | 50.00 | 40.00 | 0 of 3 |" in text
    assert "stays off by default" in text


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("continuation_study", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_the_pages_prose_quotes_the_results(study):

    import _common

    report = _common.read_result("continuation_study")
    if report is None:
        pytest.skip("the study has not been run")
    decision = report["decision"]
    page = _common.docs_text()
    assert f"it won {decision['job_wins']} of the {decision['job_pairs']} paired jobs" in page
    assert not decision["continue_by_default"] and not decision["chosen_better_in_every_run"]
    # "2 of the 8 pairs repeat 2 others": pairs equal across runs.
    pairs = [tuple(sorted(p.items())) for row in report["rows"] for p in row["pairs"]]
    assert len(pairs) - len(set(pairs)) == 2
