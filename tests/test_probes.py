"""Probes of the final stage (`kgan_nas.final.probes`): which genomes, the correlation, a run."""

import pytest
from tiny_runs import tiny_real_search

from kgan_nas import config as config_lib
from kgan_nas.final import probes
from kgan_nas.final import stage as final_lib


def _ranked(objectives):
    return [{"key": f"k{i}", "objective": value} for i, value in enumerate(objectives)]


def test_probes_sit_at_evenly_spaced_places_below_the_finalists():
    ranked = _ranked(range(12))
    picked = probes.probe_records(ranked, ["k0", "k1"], 3)
    # The 10 others, places round(10/4)=3 (2.5 rounds up), 5 and 8 (7.5): k4, k6, k9.
    assert [r["key"] for r in picked] == ["k4", "k6", "k9"]
    assert probes.probe_records(ranked, ["k0"], 0) == []
    # More probes than genomes left: each at most once.
    assert [r["key"] for r in probes.probe_records(ranked[:3], ["k0"], 5)] == ["k1", "k2"]
    assert probes.probe_records(ranked[:2], ["k0", "k1"], 2) == []


def test_the_prediction_correlates_search_and_final_scores():
    ranked = _ranked([1.0, 2.0, 3.0, 4.0])
    summary = {
        "genomes": [
            {"key": "k0", "fid_mean": 10.0},
            {"key": "k1", "fid_mean": None},  # every run failed: no pair
        ]
    }
    jobs = [
        {"key": "k2", "status": "ok", "fid": 30.0},
        {"key": "k3", "status": "nan", "fid": None},
    ]
    found = probes.prediction(summary, jobs, ranked)
    assert found["prediction"]["pairs"] == 2  # k0 and the probe that trained
    assert found["prediction"]["spearman"] == pytest.approx(1.0)
    assert [row["search_rank"] for row in found["probes"]] == [3, 4]
    assert found["probes"][1] == {
        "key": "k3",
        "search_rank": 4,
        "search_objective": 4.0,
        "fid": None,
        "status": "nan",
    }
    line = probes.prediction_line(dict(summary, **found))
    assert line.startswith("Search score against held-out final score: Spearman 1.00 over 2")
    assert probes.prediction_line(summary) == ""


def test_probes_are_a_final_setting_counted_in_the_budget():
    with pytest.raises(ValueError, match="probes"):
        final_lib.FinalConfig(probes=-1)
    final = final_lib.FinalConfig(top_k=2, seeds=2, steps=100, probes=3)
    assert "and 3 probes x 1 seed" in final_lib.budget_line(final, "holdout", 50)
    budget = dict(generations=2, population=4, steps_per_candidate=10, workers=1)
    line = config_lib.budget_lines("quick", budget, final.to_dict())[0]
    assert "final stage: top 2 x 2 seeds x 100 steps + 3 probes (700 steps)" in line


@pytest.mark.keras
@pytest.mark.slow
def test_a_final_stage_with_probes_retrains_them_once_and_keeps_its_choice(tmp_path, cache_dir):
    final = {"top_k": 2, "seeds": 1, "steps": 5, "num_samples": 100, "probes": 2}
    result = tiny_real_search(
        tmp_path / "run", population=5, final=final, holdout_fraction=0.15, zoo=False
    )
    summary = result.final_summary()
    finalists = [genome["key"] for genome in summary["genomes"]]
    assert len(summary["probes"]) == 2
    assert not set(finalists) & {row["key"] for row in summary["probes"]}
    assert summary["chosen"]["key"] in finalists  # a probe is never the answer
    trained = [row for row in summary["probes"] if row["fid"] is not None]
    scored = [g for g in summary["genomes"] if g["fid_mean"] is not None]
    assert summary["prediction"]["pairs"] == len(trained) + len(scored)
    for row in summary["probes"]:
        assert (tmp_path / "run" / "final" / f"{row['key']}_seed0").is_dir()
