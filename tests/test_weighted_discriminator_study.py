"""`benchmarks/weighted_discriminator_study.py`: its registered rule, its table, the docs."""

import importlib
import os

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("weighted_discriminator_study")


def _rows(study, plain, weighted):
    rows = []
    for seed, a, b in zip(study.SEEDS, plain, weighted):
        for arm, trained in (("plain", a), ("weighted", b)):
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "best_fid": 3.0,
                    "training_yield": {"trained": trained, "candidates": 24, "share": trained / 24},
                }
            )
    return rows


def test_the_default_turns_on_only_with_four_wins_and_a_higher_pooled_yield(study):
    decision = study.decide(_rows(study, [10, 10, 10, 10, 20], [12, 12, 12, 12, 5]), study.SEEDS)
    # 4 wins, but pooled 53 against 60: stays off.
    assert decision["weighted_wins"] == 4 and not decision["default_on"]
    decision = study.decide(_rows(study, [10, 10, 10, 10, 12], [12, 12, 12, 12, 11]), study.SEEDS)
    assert decision["default_on"]
    assert not study.decide(_rows(study, [10] * 5, [12] * 5)[:-1], study.SEEDS)["complete"]
    report = {"rows": _rows(study, [10] * 5, [12] * 5), "seeds": list(study.SEEDS)}
    report["decision"] = study.decide(report["rows"], study.SEEDS)
    text = study.markdown(report)
    assert "| 20 | 10 / 24 | 3.00 | 12 / 24 | 3.00 |" in text
    assert "is now on by default" in text


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("weighted_discriminator_study", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_the_pages_prose_quotes_the_results(study):

    import _common

    report = _common.read_result("weighted_discriminator_study")
    if report is None:
        pytest.skip("the study has not been run")
    by = {(row["arm"], row["seed"]): row["training_yield"]["trained"] for row in report["rows"]}
    moved = [s for s in report["seeds"] if by[("weighted", s)] != by[("plain", s)]]
    # "the yields moved by one candidate in one seed"
    assert len(moved) == 1 and abs(by[("weighted", moved[0])] - by[("plain", moved[0])]) == 1
    assert not report["decision"]["default_on"]
    page = _common.docs_text()
    assert "the yields moved by one candidate in one seed" in page
