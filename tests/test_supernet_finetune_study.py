"""`benchmarks/supernet_finetune.py`: the registered rules, the table, the docs held to the JSON."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("supernet_finetune")


def _row(seed, spearman, path_seconds=10.0, candidate_seconds=40.0, shared=-0.2):
    check = {"rows": [], "pairs": 12, "spearman": spearman, "shared_spearman": shared}
    return {
        "arm": "finetune",
        "seed": seed,
        "supernet_steps": 1800,
        "supernet_seconds": 900.0,
        "records": 12,
        "failed": 0,
        "check": check,
        "best_path_rank": 3,
        "median_path_seconds": path_seconds,
        "median_candidate_seconds": candidate_seconds,
    }


@pytest.mark.parametrize(
    "values, seconds, ranks, pays",
    [
        ((0.6, 0.5, 0.1), (10.0, 13.3, 5.0), True, True),  # both rules hold
        ((0.6, 0.5, 0.1), (10.0, 13.4, 5.0), True, False),  # one path over a third of 40 s
        ((0.9, 0.8, -0.1), (5.0, 5.0, 5.0), False, True),  # one seed at or below 0
        ((0.6, 0.4, 0.3), (5.0, 5.0, 5.0), False, True),  # only 1 strong seed
        ((0.9, 0.9, None), (5.0, 5.0, None), False, False),  # undefined; no fine-tune timed
    ],
)
def test_it_builds_on_weight_sharing_only_by_the_registered_rules(
    study, values, seconds, ranks, pays
):
    rows = [
        _row(seed, value, path_seconds=cost)
        for seed, value, cost in zip(study.SEEDS, values, seconds)
    ]
    decision = study.decide(rows)
    assert decision["complete"]
    assert (decision["ranks"], decision["pays"], decision["build"]) == (ranks, pays, ranks and pays)
    partial = study.decide(rows[:2])
    assert not partial["complete"] and not partial["pays"] and not partial["build"]


def test_the_plan_is_the_ranking_studys_plus_the_fine_tune(study):
    import supernet_ranking

    assert study.plan() == dict(supernet_ranking.plan(), path_finetune_steps=60, workers=1)
    assert study.plan(smoke=True)["path_finetune_steps"] == 3
    assert not set(study.SEEDS) & set(supernet_ranking.SEEDS)  # fresh seeds


def test_the_table_states_each_seed_and_the_verdict(study):
    rows = [_row(43, 0.61, path_seconds=12.5, candidate_seconds=41.0)]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "| 43 | 0.610 (12) | -0.200 | 3 of 12 | 12.5 | 41.0 | 1,800 (900) | 0 of 12 |" in text
    assert "not complete" in text and "Rule" not in text
    rows = [_row(seed, 0.7, path_seconds=30.0) for seed in study.SEEDS]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "Rule 1 met" in text and "Rule 2 not met" in text and "stays an option" in text
    rows = [_row(seed, 0.7) for seed in study.SEEDS]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "Rule 2 met" in text and "is to be built on it" in text
    rows = [_row(seed, 0.1) for seed in study.SEEDS]
    text = study.markdown({"rows": rows, "decision": study.decide(rows)})
    assert "Rule 1 not met (it needs a Spearman of at least 0.5 in 2 of 3 seeds, here 0" in text


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("supernet_finetune", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_the_prose_quotes_seed_43_as_the_json_has_it(study):
    """The numbers the benchmarks and strategies pages write out in words."""
    import _common

    report = _common.read_result("supernet_finetune")
    rows = {row["seed"]: row for row in (report or {}).get("rows", [])}
    if 43 not in rows:
        pytest.skip("seed 43 is not published")
    row, root = rows[43], os.path.dirname(BENCHMARKS)
    check = row["check"]
    ratio = row["median_path_seconds"] / row["median_candidate_seconds"]
    with open(os.path.join(root, "docs", "benchmarks.md"), encoding="utf-8") as stream:
        page = stream.read()
    section = page[page.index("## Do fine-tuned path scores") : page.index(study.MARKERS[0])]
    quoted = [
        f"Spearman {check['spearman']:.3f} against the shared weights' "
        f"{check['shared_spearman']:.3f}",
        f"genome {row['best_path_rank']}th of {check['pairs']}",
        f"path cost {row['median_path_seconds']:.2f} s",
        f"candidate's {row['median_candidate_seconds']:.2f} s, {ratio:.3f} of it",
        f"hence its {row['supernet_seconds']:,.0f} s",
    ]
    flat = " ".join(section.split())
    for text in quoted:
        assert text in flat, text
    assert ratio > study.COST_SHARE and not study.pays(row)  # "just over rule 2's third"
    with open(os.path.join(root, "docs", "howto", "strategies.md"), encoding="utf-8") as stream:
        strategies = " ".join(stream.read().split())
    assert (
        f"(Spearman {check['spearman']:.3f} against {check['shared_spearman']:.3f})" in strategies
    )
