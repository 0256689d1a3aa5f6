"""`benchmarks/cost_preset_confirmation.py`: the first study's arms and rule on fresh seeds."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("cost_preset_confirmation")


def _row(arm, seed, seconds, fid, std=1.0):
    return {"arm": arm, "seed": seed, "search_seconds": seconds, "candidates": 48 if arm ==
            "macs" else 30, "fid_mean": fid, "fid_std": std}  # fmt: skip


def test_it_needs_its_own_fresh_seeds_and_the_first_studys_rule_on_each(study):
    import cost_preset_study

    assert not set(study.SEEDS) & set(cost_preset_study.SEEDS)
    good = [
        r for s in study.SEEDS for r in (_row("params", s, 100, 50.0), _row("macs", s, 90, 50.9))
    ]
    decision = study.decide(good, list(study.SEEDS))
    assert decision["complete"] and decision["switch_preset"]
    # One seed slower, or worse by more than the larger std: the preset stays.
    slower = [dict(r, search_seconds=101) if (r["arm"], r["seed"]) == ("macs", 21) else r
              for r in good]  # fmt: skip
    assert not study.decide(slower, list(study.SEEDS))["switch_preset"]
    worse = [dict(r, fid_mean=51.1) if (r["arm"], r["seed"]) == ("macs", 22) else r for r in good]
    assert not study.decide(worse, list(study.SEEDS))["switch_preset"]
    # The first study's seeds do not complete this one, nor do two of three.
    assert not study.decide(good, [0, 1])["complete"]
    assert not study.decide(good[:4], [20, 21])["complete"]


def test_it_runs_the_first_studys_arms_under_its_own_name(study):
    import cost_preset_study

    assert study.STUDY["result"] == "cost_preset_confirmation"
    assert study.STUDY["script"].endswith("cost_preset_confirmation.py")
    args = cost_preset_study.parser(
        study.STUDY["doc"], study.SEEDS, study.STUDY["runs"]
    ).parse_args([])
    assert args.seeds == [20, 21, 22] and args.arms == list(cost_preset_study.ARMS)


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("cost_preset_confirmation", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected
