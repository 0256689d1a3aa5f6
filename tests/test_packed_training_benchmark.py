"""`benchmarks/packed_training.py`: its tables, and the docs that quote its JSON."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("packed_training")


def _report():
    single = [{"seconds": 10.0, "step_seconds": 0.1}, {"seconds": 12.0, "step_seconds": 0.1}]
    return {
        "parts": {
            "throughput_jax": {
                "steps": 60,
                "batch": 64,
                "models": {
                    "dcgan": {
                        "single": single,
                        "packed": {"2": {"seconds": 11.0, "step_seconds": 0.15, "ok": 2}},
                    }
                },
            },
            "throughput_tensorflow": {"models": {"dcgan": {"single": single[:1]}}},
            "drift": {
                "steps": 300,
                "members": [{"max_abs_weight_difference": 1e-3, "max_abs_weight": 0.5}],
            },
            "final_unpacked": {
                "final_steps": 300,
                "top_k": 2,
                "seeds": 2,
                "seconds": 300.0,
                "jobs": {"a_seed0": {"fid": 4.0}},
            },
            "final_packed": {"seconds": 150.0, "jobs": {"a_seed0": {"fid": None}}},
        }
    }


def test_the_tables_compare_k_members_with_k_single_runs(bench):
    text = bench.markdown(_report())
    # 2 x the mean single JAX run (11 s) against the packed 11 s; 2 x 10 s on TensorFlow.
    assert "| dcgan | 2 | 11.0 | 22.0 | 20.0 | 2.00x | 0.150 | 0.100 |" in text
    assert "largest generator weight difference is 0.001, against weights up to 0.5" in text
    assert "| `a_seed0` | 4.00 | failed |" in text
    assert "300 s unpacked, 150 s packed (2.00x); the issue's bar of 1.5x is met." in text


def test_the_docs_quote_the_benchmarks_json(bench):
    """docs/benchmarks.md holds exactly the tables the JSON renders to (none before it exists)."""
    import _common

    block = _common.docs_block(bench.MARKERS)
    expected = _common.expected_block("packed_training", bench.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_a_device_run_adds_memory_per_member(bench):
    report = _report()
    packed = report["parts"]["throughput_jax"]["models"]["dcgan"]["packed"]["2"]
    packed["program_bytes"] = 4 * 2**20
    text = bench.markdown(report)
    assert "program MiB per member |" in text
    assert "| 0.150 | 0.100 | 2.0 |" in text
