"""`benchmarks/ema_batch_norm.py`: its registered rule, its table, one real run, the docs."""

import argparse
import importlib
import os

import numpy as np
import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("ema_batch_norm")


def _row(design, seed, ema, recomputed):
    scores = {"kid": 0.1, "precision": 0.5, "recall": 0.6}
    return {
        "design": design,
        "seed": seed,
        "status": "ok",
        "live": dict(scores, fid=9.0),
        "ema": dict(scores, fid=ema),
        "ema_recomputed": dict(scores, fid=recomputed),
    }


def test_recompute_becomes_the_default_only_with_five_wins_of_six(bench):
    rows = [_row(d, s, 5.0, 4.0) for d in bench.DESIGNS for s in bench.SEEDS]
    assert bench.decide(rows)["recompute_by_default"]
    rows[0]["ema_recomputed"]["fid"] = 6.0
    assert bench.decide(rows)["recompute_by_default"]  # 5 of 6
    rows[1]["ema_recomputed"]["fid"] = 6.0
    decision = bench.decide(rows)
    assert decision["recomputed_beats_ema"] == 4 and not decision["recompute_by_default"]
    assert not bench.decide(rows[:5])["complete"]
    text = bench.markdown({"rows": rows, "decision": decision})
    assert "| `tf_dcgan@150k` | 0 | 9.00 | 5.00 | 6.00 | 0.50 / 0.60 → 0.50 / 0.60 |" in text
    assert "keeps the live statistics" in text


@pytest.mark.keras
@pytest.mark.slow
def test_one_run_scores_the_three_generators_on_the_same_latents(bench, tmp_path, cache_dir):
    args = argparse.Namespace(dataset="digits", runs=str(tmp_path), steps=5, samples=200)
    data, reference, _ = bench.setting(args)
    row = bench.run_one("tf_dcgan@150k", 0, data, reference, args)
    assert row["status"] == "ok" and row["steps"] == 5
    assert row["batch_norm_layers"] >= 2  # the tutorial's generator normalises every layer
    fids = [row[name]["fid"] for name in bench.VARIANTS]
    assert all(np.isfinite(fids)) and len(set(fids)) == 3  # three different generators


def test_the_docs_quote_the_benchmarks_json(bench):
    import _common

    block = _common.docs_block(bench.MARKERS)
    expected = _common.expected_block("ema_batch_norm", bench.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_the_pages_prose_quotes_the_results(bench):

    import _common

    report = _common.read_result("ema_batch_norm")
    if report is None:
        pytest.skip("the benchmark has not been run")
    rows = report["rows"]
    ema_wins = sum(row["ema"]["fid"] < row["live"]["fid"] for row in rows)
    page = _common.docs_text()
    assert f"beat the last weights in {ema_wins} of the {len(rows)} pairs" in page
    assert 2 * report["decision"]["recomputed_beats_ema"] == len(rows)  # "won half the pairs"
    assert not report["decision"]["recompute_by_default"]
