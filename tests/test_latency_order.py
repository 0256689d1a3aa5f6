"""`benchmarks/latency_order.py`: its order check, its table, and the docs that quote it."""

import importlib
import json
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("latency_order")


def test_the_table_says_whether_the_front_kept_its_order(bench):
    report = {
        "front": [
            {"key": "a", "fid": 3.0, "search_latency": 0.002, "remeasured_latency": 0.0021},
            {"key": "b", "fid": 5.5, "search_latency": 0.001, "remeasured_latency": 0.0012},
        ],
        "front_order_kept": False,
        "candidates": 7,
        "spearman_all": 0.8,
    }
    text = bench.markdown(report)
    assert "| `a` | 3.00 | 2.00 | 2.10 |" in text
    assert "does not keep its order" in text and "all 7 successful" in text
    assert "latency is 0.80." in text


def test_the_docs_quote_the_benchmarks_json(bench):
    """docs/benchmarks.md holds exactly the table the JSON renders to (none before it exists)."""
    import _common

    block = _common.docs_block(bench.MARKERS)
    expected = _common.expected_block("latency_order", bench.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


@pytest.mark.keras
@pytest.mark.slow
def test_a_tiny_run_times_every_candidate_twice(bench, tmp_path, monkeypatch, cache_dir):
    output = tmp_path / "latency.json"
    bench.main(
        [
            "--runs",
            str(tmp_path / "runs"),
            "--generations",
            "1",
            "--population",
            "3",
            "--steps",
            "5",
            "--repeats",
            "1",
            "--output",
            str(output),
        ]
    )
    report = json.loads(output.read_text())
    assert report["front"] and report["candidates"] >= len(report["front"])
    latencies = [row["search_latency"] for row in report["front"]]
    assert latencies == sorted(latencies) and all(t > 0 for t in latencies)
    assert all(row["remeasured_latency"] > 0 for row in report["front"])
    assert isinstance(report["front_order_kept"], bool)
