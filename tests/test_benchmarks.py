"""The benchmark scripts' shared record and their pure helpers.

The benchmarks themselves are too long for the suite; this checks that a
script runs end to end on a tiny input and writes the shared record (machine,
command, versions), and that the search-quality arithmetic is right.
"""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def search_quality(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("search_quality")


def _record(fid, status="ok", end=0.0, total=1.0):
    return {"fitness": {"fid": fid, "status": status, "seconds": {"total": total}}, "time": end}


def test_metrics_benchmark_writes_its_table_and_the_machine(tmp_path):
    output = tmp_path / "metrics.json"
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(BENCHMARKS, "metrics.py"),
            "--n",
            "120",
            "--dim",
            "8",
            "--repeats",
            "1",
            "--classes",
            "5",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(output.read_text())
    names = [row["metric"] for row in report["results"]]
    assert any(name.startswith("kid") for name in names)
    assert any(name.startswith("inception_score") for name in names)
    fid_row = next(row for row in report["results"] if row["metric"] == "fid/frechet_distance")
    assert fid_row["value"] >= 0
    # Old and new KID side by side, equal values; the statistics' cost at a candidate's size.
    values = {row["metric"]: row["value"] for row in report["results"]}
    assert values["kid (100 x 1000)"][0] == pytest.approx(
        values["kid (100 x 1000, per-subset loop)"][0], rel=1e-9
    )
    low, high = values["candidate/fid_confidence_interval (100 resamples)"]
    assert low <= values["candidate/fid"] <= high
    assert report["kid_vectorised_speedup"] > 0
    assert report["candidate_fid_interval_cost_over_fid"] > 0
    machine = report["machine"]
    assert machine["cpu_count"] == os.cpu_count()
    assert machine["numpy"] == np.__version__
    assert "metrics.py" in machine["command"] and "--n 120" in machine["command"]


def test_best_so_far_ignores_failed_candidates(search_quality):
    history = [
        _record(30.0),
        _record(float("nan"), status="nan"),
        _record(40.0),
        _record(10.0),
        _record(20.0),
    ]
    assert search_quality.best_so_far(history, 5) == [30.0, 30.0, 30.0, 10.0, 10.0]
    assert search_quality.best_so_far(history, 2) == [30.0, 30.0]
    assert search_quality.best_so_far([_record(1.0, status="error")], 1) == [np.inf]


def test_search_seconds_spans_first_start_to_last_end(search_quality):
    # Two workers: candidates overlap in time.
    history = [
        _record(1.0, end=110.0, total=10.0),
        _record(1.0, end=112.0, total=11.0),
        _record(1.0, end=130.0, total=18.0),
    ]
    assert search_quality.search_seconds(history) == pytest.approx(30.0)
    assert search_quality.search_seconds([]) == 0.0


def test_summarise_counts_each_variants_wins_per_seed(search_quality):
    runs = [
        {"strategy": "genetic", "seed": 0, "best_so_far": [9.0, 5.0]},
        {"strategy": "inherit", "seed": 0, "best_so_far": [9.0, 7.0]},  # a tie: no win
        {"strategy": "random", "seed": 0, "best_so_far": [9.0, 7.0]},
        {"strategy": "genetic", "seed": 1, "best_so_far": [8.0, 8.0]},
        {"strategy": "inherit", "seed": 1, "best_so_far": [8.0, 3.0]},
        {"strategy": "random", "seed": 1, "best_so_far": [6.0, 6.0]},
    ]
    table, wins = search_quality.summarise(runs, [0, 1])
    assert wins == {"genetic": 1, "inherit": 1}
    assert table["genetic"]["finals"] == [5.0, 8.0]
    assert table["random"]["mean"] == pytest.approx(6.5)
    assert table["random"]["std"] == pytest.approx(np.std([7.0, 6.0], ddof=1))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("genetic={}", ("genetic", {})),
        ('inherit={"inherit_weights": true}', ("inherit", {"inherit_weights": True})),
    ],
)
def test_variants_are_named_genetic_options(search_quality, text, expected):
    assert search_quality.parse_variant(text) == expected


@pytest.mark.parametrize("text", ["genetic", "random={}", "x={not json}", "x=[1]", "={}"])
def test_bad_variants_are_refused(search_quality, text):
    with pytest.raises(Exception, match="NAME=JSON|not JSON|JSON object"):
        search_quality.parse_variant(text)


@pytest.mark.keras
@pytest.mark.slow
def test_train_step_genomes_mode_records_both_modes_and_the_genome(tmp_path, monkeypatch):
    """`train_step.py --genomes`: each genome trained with and without XLA, sized and timed."""
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path / "cache"))
    output = tmp_path / "genomes.json"
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(BENCHMARKS, "train_step.py"),
            "--genomes",
            "1",
            "--steps",
            "2",
            "--batch-size",
            "16",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(output.read_text())
    rows = report["results"]
    assert [row["jit_compile"] for row in rows] == [True, False]
    assert rows[0]["size"] == rows[1]["size"]  # one genome key, both modes
    for row in rows:
        assert row["steps"] == 2 and row["median_step_s"] > 0
        assert row["first_step_overhead_s"] >= 0
        assert row["macs_per_step"] > row["params"]  # at least one convolution
    assert report["settings"]["genomes"] == 1


def test_preset_sizing_projects_wall_and_idle_time_from_the_measurement(monkeypatch):
    """`preset_sizing.project`: measured throughput x candidates (plus set-up) as measured,
    and CPU seconds spread over the idle cores; a failed candidate's steps are not timed."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    preset_sizing = importlib.import_module("preset_sizing")
    rows = [
        {"train": 10.0, "steps": 100, "total": 12.0, "status": "ok"},
        {"train": 30.0, "steps": 100, "total": 40.0, "status": "ok"},
        {"train": 0.0, "steps": 0, "total": 2.0, "status": "error"},
    ]
    facts = {"setup_seconds": 60.0, "setup_cpu_seconds": 120.0}
    budget = {"generations": 2, "population": 5}
    summary = preset_sizing.project(rows, 90.0, 300.0, facts, budget, idle_cores=2)
    assert summary["seconds_per_candidate_at_workers"] == 30.0
    assert summary["cpu_seconds_per_candidate"] == 100.0
    assert summary["search_candidates"] == 10
    assert summary["projected_search_minutes_as_measured"] == round((60 + 10 * 30) / 60, 1)
    assert summary["projected_search_minutes_idle"] == round((120 + 10 * 100) / 2 / 60, 1)
    assert summary["median_train_seconds_per_step"] == 0.2  # of the two that trained
    assert summary["ok"] == 2
