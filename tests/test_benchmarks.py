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


def test_search_seconds_spans_first_start_to_last_end(search_quality):
    # Two workers: candidates overlap in time.
    history = [
        _record(1.0, end=110.0, total=10.0),
        _record(1.0, end=112.0, total=11.0),
        _record(1.0, end=130.0, total=18.0),
    ]
    assert search_quality.search_seconds(history) == pytest.approx(30.0)
    assert search_quality.search_seconds([]) == 0.0
    assert search_quality.candidate_seconds(history) == pytest.approx(39.0)
    assert search_quality.candidate_seconds([]) == 0.0


def _run(variant, seed, curve, retrained):
    return {
        "variant": variant,
        "seed": seed,
        "steps_curve": curve,
        "retrained": {"fid": retrained} if retrained is not None else None,
    }


def test_summarise_compares_within_seeds_at_equal_steps_and_retrained(search_quality):
    runs = [
        # Seed 0: genetic spent 300 steps, random 400; they compare at 300.
        _run("genetic", 0, [[100, 9.0], [200, 5.0], [300, 4.0]], 2.0),
        _run("random", 0, [[100, 8.0], [300, 6.0], [400, 1.0]], 3.0),
        # Seed 1: a tie at equal steps is no win; the retrained winner loses.
        _run("genetic", 1, [[200, 7.0], [400, 7.0]], 5.0),
        _run("random", 1, [[200, 7.0], [400, 7.0]], 4.0),
    ]
    summary = search_quality.summarise(runs)
    assert summary["equal_steps"] == {0: 300, 1: 400}
    assert summary["against_random"]["genetic"]["steps"] == [300, 400]
    row = summary["against_random"]["genetic"]
    assert row["search_at_equal_steps"]["variant"] == [4.0, 7.0]
    assert row["search_at_equal_steps"]["random"] == [6.0, 7.0]
    assert (row["search_at_equal_steps"]["wins"], row["search_at_equal_steps"]["ties"]) == (1, 1)
    assert (row["retrained"]["wins"], row["retrained"]["losses"]) == (1, 1)
    assert "random" not in summary["against_random"]
    assert summary["against_reference"] == {}


def test_the_recipe_variant_is_also_compared_with_the_plain_genetic_search(search_quality):
    runs = [
        _run("genetic", 0, [[100, 5.0]], 4.0),
        _run("random", 0, [[100, 6.0]], 3.0),
        _run("genetic_recipe", 0, [[100, 4.5]], 5.0),
    ]
    # A variant that spent fewer steps (successive halving) does not move the
    # pair it is not in: genetic and random still compare at their 300 steps.
    runs.append(_run("random_sh", 0, [[50, 9.0], [200, 3.0]], 1.0))
    runs[0]["steps_curve"] = [[100, 5.0], [300, 4.0]]
    runs[1]["steps_curve"] = [[100, 6.0], [300, 5.5]]
    summary = search_quality.summarise(runs)
    assert summary["equal_steps"] == {0: 100}
    assert summary["against_random"]["genetic"]["steps"] == [300]
    assert summary["against_random"]["genetic"]["search_at_equal_steps"]["variant"] == [4.0]
    assert summary["against_random"]["random_sh"]["steps"] == [200]
    row = summary["against_reference"]["genetic_recipe"]
    assert row["reference"] == "genetic"
    assert row["steps"] == [100]  # genetic_recipe spent only 100
    assert row["search_at_equal_steps"]["genetic"] == [5.0]
    assert (row["search_at_equal_steps"]["wins"], row["retrained"]["losses"]) == (1, 1)


def test_the_recipe_variant_searches_a_space_with_every_recipe_gene(search_quality):
    args = search_quality.parse_args(["--dataset", "digits"])
    plain = search_quality.variant_space("genetic", args)
    recipe = search_quality.variant_space("genetic_recipe", args)
    assert plain.r1_weights == (0.0,) and "residual_down" not in plain.discriminator_layer_types
    assert recipe == plain.with_recipe() and recipe.d_steps == (1, 2)


def test_paired_test_p_values_match_scipy(search_quality):
    import scipy.stats

    values, reference = [1.0, 2.0, 3.0, 4.0, 9.0], [2.0, 3.0, 5.0, 4.5, 8.0]
    result = search_quality.paired_test(values, reference)
    assert (result["wins"], result["losses"], result["ties"]) == (4, 1, 0)
    assert result["sign_test_p"] == pytest.approx(
        scipy.stats.binomtest(4, 5, 0.5, alternative="greater").pvalue
    )
    differences = [v - r for v, r in zip(values, reference)]
    assert result["wilcoxon_p"] == pytest.approx(
        scipy.stats.wilcoxon(differences, alternative="less").pvalue
    )
    same = search_quality.paired_test([1.0, 2.0], [1.0, 2.0])
    assert same["sign_test_p"] is None and same["wilcoxon_p"] is None and same["ties"] == 2


def test_steps_curve_follows_the_one_ranking(search_quality):
    def record(key, rung, fid, steps):
        return {
            "generation": 1,
            "key": key,
            "rung": rung,
            "objective": fid,
            "status": "ok",
            "fitness": {"fid": fid, "steps": steps, "status": "ok"},
        }

    history = [record("a", 0, 5.0, 10), record("b", 0, 3.0, 10), record("a", 1, 6.0, 20)]
    # After a's continuation, the best is a's rung-1 record although b scored lower at rung 0.
    assert search_quality.steps_curve(history) == [[10, 5.0], [20, 3.0], [40, 6.0]]
    assert search_quality.value_at([[10, 5.0], [20, 3.0]], 15) == 5.0
    assert search_quality.value_at([[10, 5.0]], 5) == float("inf")


def test_the_plan_runs_the_main_pair_on_every_seed_and_the_rest_on_the_first_five(
    search_quality,
):
    args = search_quality.parse_args([])
    pairs = search_quality.planned_runs(args)
    assert {seed for name, seed in pairs if name == "random"} == set(range(10))
    assert {seed for name, seed in pairs if name == "genetic_sh"} == set(range(5))
    assert args.rungs == (67, 200, 600) and args.evaluations * args.steps == 4800
    smoke = search_quality.parse_args(["--seeds", "2", "--variants", "genetic", "random"])
    assert search_quality.planned_runs(smoke) == [
        ("genetic", 0),
        ("random", 0),
        ("genetic", 1),
        ("random", 1),
    ]
    confirm = search_quality.parse_args(["--variants", "genetic_sh", "--variant-seeds", "10"])
    assert search_quality.planned_runs(confirm) == [("genetic_sh", seed) for seed in range(10)]


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


def test_reference_lines_draw_each_seeds_own_baselines(search_quality):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def report(fingerprint, fids):
        best = {model: {"model": model, "fid_mean": fid} for model, fid in fids.items()}
        return {"source": {"fingerprint": fingerprint}, "best": best}

    reports = [report("seed0", {"mlp": 90.0, "dcgan": 150.0}), report("seed1", {"mlp": 70.0})]
    figure, axis = plt.subplots()
    runs = [{"data_fingerprint": "seed1", "real_vs_real_fid": 4.5}]
    search_quality._reference_lines(axis, runs, reports)
    drawn = {line.get_label(): line.get_ydata()[0] for line in axis.get_lines()}
    plt.close(figure)
    # Only the report made on this seed's data, and the seed's real-vs-real floor.
    assert drawn == {"real vs real": 4.5, "mlp (retrained protocol)": 70.0}


def test_a_missing_baselines_file_is_refused_before_any_search(search_quality, tmp_path, capsys):
    with pytest.raises(SystemExit):
        search_quality.parse_args(["--baselines", str(tmp_path / "nope.json")])
    assert "nope.json: no such file" in capsys.readouterr().err
    assert search_quality.parse_args(["--baselines"]).baselines == []
