"""`benchmarks/cost_preset_study.py`: its registered decision, its table, the docs that quote it."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("cost_preset_study")


def _row(arm, seed, seconds, fid, std=0.5, candidates=None):
    return {
        "arm": arm,
        "seed": seed,
        "search_seconds": seconds,
        "candidate_seconds": seconds * 0.9,
        "candidates": candidates or (30 if arm == "params" else 48),
        "candidates_ok": 20,
        "fid_mean": fid,
        "fid_std": std,
    }


def test_the_preset_switches_only_when_every_seed_is_faster_and_no_worse(study):
    rows = [
        _row("params", 0, 1000.0, 10.0),
        _row("macs", 0, 900.0, 10.4),  # worse by less than the larger std: no worse
        _row("params", 1, 1000.0, 10.0),
        _row("macs", 1, 950.0, 9.0),
    ]
    decision = study.decide(rows, [0, 1])
    assert decision["complete"] and decision["switch_preset"]
    assert decision["per_seed"][0]["candidates_ratio"] == pytest.approx(1.6)
    slower = rows[:3] + [_row("macs", 1, 1001.0, 9.0)]
    assert not study.decide(slower, [0, 1])["switch_preset"]
    worse = rows[:3] + [_row("macs", 1, 900.0, 10.6)]
    assert not study.decide(worse, [0, 1])["per_seed"][1]["fid_no_worse"]
    failed = rows[:3] + [_row("macs", 1, 900.0, None)]
    assert not study.decide(failed, [0, 1])["switch_preset"]


def test_one_seed_is_not_a_decision(study):
    rows = [_row("params", 0, 1000.0, 10.0), _row("macs", 0, 500.0, 5.0)]
    decision = study.decide(rows, [0])
    assert not decision["complete"] and not decision["switch_preset"]
    text = study.markdown({"rows": rows, "decision": decision})
    assert "| 0 | `macs` | 48 (20) | 500 | 450 | 5.00 ± 0.50 |" in text
    assert "evaluated 1.60x the candidates in 0.50x the wall time" in text
    assert "not complete: the preset stays" in text


def test_the_bound_rests_on_the_zoo_designs_costs(study):
    evidence = study.bound_evidence(samples=20)
    limit = study.SPACES["macs"]["max_train_macs"]
    assert max(evidence["zoo"].values()) <= limit < evidence["sampled_median"]


def test_the_docs_quote_the_studys_json(study):
    """docs/benchmarks.md holds exactly the table the JSON renders to (none before it exists)."""
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("cost_preset_study", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_rows_of_a_committed_json_are_restored_and_not_run_again(study, tmp_path):
    import json

    rows = [dict(_row("params", 0, 1000.0, 10.0), smoke=False, resumed=False)]
    output = tmp_path / "results.json"
    output.write_text(json.dumps({"rows": rows + [dict(_row("macs", 0, 1.0, 1.0), smoke=True)]}))
    runs = str(tmp_path / "runs")
    (tmp_path / "runs").mkdir()

    def restore():
        return study.restore_rows(str(output), runs, list(study.ARMS), False, study.PHASES)

    assert restore() == [("params", 0)]
    final = json.loads((tmp_path / "runs" / "params_seed0.final.json").read_text())
    assert final == rows[0]
    search = json.loads((tmp_path / "runs" / "params_seed0.search.json").read_text())
    assert search == {"search_seconds": 1000.0, "resumed": False, "smoke": False}
    assert restore() == []  # once restored, kept


def test_the_pages_prose_quotes_the_two_seeds_means(study):
    import statistics

    import _common

    report = _common.read_result("cost_preset_study")
    if report is None:
        pytest.skip("the study has not been run")
    if not report["decision"]["complete"]:
        pytest.skip("the study is not complete")
    means = {
        arm: statistics.fmean(row["fid_mean"] for row in report["rows"] if row["arm"] == arm)
        for arm in study.ARMS
    }
    page = _common.docs_text()
    assert f"({means['macs']:.1f} against {means['params']:.1f})" in page
    assert report["decision"]["switch_preset"] is False  # the page says the preset stays
    assert "`mnist_cpu` keeps its parameter bound" in page


def test_a_smoke_run_never_writes_beside_the_studys_results(study, tmp_path, monkeypatch):
    import _parts

    monkeypatch.chdir(tmp_path)
    smoke = study.parser().parse_args(["--smoke"])
    assert _parts.study_paths(smoke, "cost_preset", "cost_preset_study") == os.path.join(
        "runs/cost_preset_smoke", "smoke.json"
    )
    assert (tmp_path / "runs" / "cost_preset_smoke").is_dir()
    real = study.parser().parse_args(["--runs", str(tmp_path / "parts")])
    path = _parts.study_paths(real, "cost_preset", "cost_preset_study")
    assert path == os.path.join(_parts.RESULTS, "cost_preset_study.json")
    assert real.runs == str(tmp_path / "parts") and os.path.isdir(real.runs)
    given = study.parser().parse_args(["--smoke", "--output", "elsewhere.json"])
    assert _parts.study_paths(given, "cost_preset", "cost_preset_study") == "elsewhere.json"
