"""`benchmarks/principal_study.py` and its KerasTuner arm: decisions, table, docs, resume."""

import importlib
import json
import os

import pytest

from kgan_nas.core import zoo
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.space import SearchSpace

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")

pytest.importorskip("keras_tuner")


@pytest.fixture()
def study(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("principal_study")


@pytest.fixture()
def tuner(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("keras_tuner_strategy")


def _rows(study, pipeline, tuned, spearman=0.5):
    rows = []
    for seed, mine, theirs in zip(study.SEEDS, pipeline, tuned):
        rows.append(
            {
                "arm": "pipeline",
                "seed": seed,
                "fid_mean": mine,
                "prediction": {"spearman": spearman},
            }
        )
        rows.append(
            {"arm": "keras_tuner", "seed": seed, "fid_mean": theirs, "same_space_as_pipeline": True}
        )
    return rows


def test_the_claim_needs_four_wins_of_five(study):
    decision = study.decide(_rows(study, [1, 1, 1, 1, 9], [5] * 5), study.SEEDS)
    assert decision["complete"] and decision["claim_pipeline_beats_tuned_design"]
    assert decision["pipeline_vs_keras_tuner"]["wins"] == 4
    assert decision["mean_spearman"] == pytest.approx(0.5)
    three = study.decide(_rows(study, [1, 1, 1, 9, 9], [5] * 5), study.SEEDS)
    assert not three["claim_pipeline_beats_tuned_design"]
    assert not three["default_follows_keras_tuner"]
    # A failed final stage (no FID) loses its seed.
    lost = study.decide(_rows(study, [1, None, None, None, None], [5] * 5), study.SEEDS)
    assert lost["default_follows_keras_tuner"] and lost["pipeline_vs_keras_tuner"]["losses"] == 4


def test_seeds_with_another_space_or_a_missing_arm_are_not_counted(study):
    rows = _rows(study, [1] * 5, [5] * 5)
    rows[1]["same_space_as_pipeline"] = False  # keras_tuner of seed 10
    rows = [row for row in rows if not (row["arm"] == "pipeline" and row["seed"] == 14)]
    decision = study.decide(rows, study.SEEDS)
    assert decision["seeds_counted"] == [11, 12, 13]
    assert not decision["complete"] and not decision["claim_pipeline_beats_tuned_design"]


def test_the_table_shows_precision_recall_and_the_decision(study):
    rows = _rows(study, [2.0] * 5, [3.0] * 5)
    for row in rows:
        row.update(
            fid_std=0.25,
            precision_mean=0.61,
            recall_mean=0.72,
            candidates=30,
            training_yield={"trained": 12, "candidates": 30},
            search_steps=9000,
            candidate_seconds=1500.0,
            search_seconds=2500.0,
            final_seconds=900.0,
            chosen_design="tf_dcgan" if row["arm"] == "keras_tuner" else None,
        )
    report = {"rows": rows, "seeds": list(study.SEEDS), "decision": study.decide(rows, study.SEEDS)}
    text = study.markdown(report)
    assert "| 10 | `pipeline` | 2.00 ± 0.25 (P 0.61, R 0.72) | searched | 12 / 30 | 9,000 |" in text
    assert "| 10 | `keras_tuner` | 3.00 ± 0.25 (P 0.61, R 0.72) | tf_dcgan, tuned |" in text
    rows[0]["resumed"] = True  # its wall time covers only the part after the resume
    assert "| 1500 | 2500 (after a resume) | 900 |" in study.markdown(report)
    assert "5 wins, 0 losses, 0 ties (one-sided sign test p = 0.031)" in text
    assert "Rule 1: the default pipeline beat" in text


def test_the_docs_quote_the_studys_json(study):
    import _common

    block = _common.docs_block(study.MARKERS)
    expected = _common.expected_block("principal_study", study.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected


def test_keras_tuner_proposes_known_designs_with_tuned_training(tuner):
    space = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
    strategy = tuner.KerasTunerStrategy(space, seed=4)
    stacks = {(tuple(g.generator), tuple(g.discriminator)) for g in zoo.genomes(space).values()}
    asked = strategy.ask(10)
    assert len(asked) == 10
    assert all((tuple(g.generator), tuple(g.discriminator)) in stacks for g in asked)
    assert len({g.training for g in asked}) == 10
    assert all(space.problems(g) == [] for g in asked)
    # Every training value KerasTuner chose is one of the space's choices.
    assert {g.training.g_learning_rate for g in asked} <= set(space.learning_rates)
    assert {g.training.loss for g in asked} <= set(space.losses)


def test_keras_tuner_learns_the_scores_and_resumes_by_replay(tuner):
    space = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
    strategy = tuner.KerasTunerStrategy(space, seed=1)
    strategy.start_from(list(zoo.genomes(space).values()))  # queued as written: no trial
    first = strategy.ask(5)
    for i, genome in enumerate(first):
        fitness = Fitness(status="error", reason="x") if i == 3 else Fitness(fid=10.0 + i)
        strategy.tell(genome, fitness)
    state = json.loads(json.dumps(strategy.state_dict()))
    later = strategy.ask(3)  # learns the told results first
    best = strategy._oracle.get_best_trials(1)[0]
    assert best.score == 12.0  # the first trial after the two queued designs
    assert [t[2] for t in state["extra"]["trials"]] == [None] * 3  # told, not yet learnt
    again = tuner.KerasTunerStrategy(space, seed=1)
    again.load_state_dict(state)
    assert [g.key() for g in again.ask(3)] == [g.key() for g in later]
    assert again._oracle.get_best_trials(1)[0].score == 12.0
    statuses = [t.status for t in again._oracle.trials.values()]
    assert statuses.count("FAILED") == 1 and statuses.count("COMPLETED") == 2


def test_keras_tuner_refuses_what_it_cannot_tune(tuner):
    space = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
    with pytest.raises(ValueError, match="one objective"):
        tuner.KerasTunerStrategy(space, objectives=("fid", "params"))


@pytest.mark.keras
@pytest.mark.slow
def test_the_keras_tuner_arm_runs_end_to_end(study, tmp_path, cache_dir):
    """Its search (KerasTuner's oracle behind kgan_nas.search, the zoo first) and its
    final stage, in process at smoke size; the pipeline arm is the plain search that
    tests/test_final.py runs."""
    args = study.parser().parse_args(["--smoke", "--runs", str(tmp_path)])
    search = study.run_search("keras_tuner", 10, args)
    assert search["smoke"] and not search["resumed"]
    row = study.run_final("keras_tuner", 10, args)
    assert row["candidates"] == study.SMOKE["population"]
    assert row["finalists"] and row["fid_mean"] is not None
    # Whatever it chose is a known design (as written or with tuned training).
    assert row["chosen_design"] in zoo.DESIGNS
    assert 0.0 <= row["precision_mean"] <= 1.0
    assert row["search_steps"] == study.SMOKE["population"] * study.SMOKE["steps_per_candidate"]


def test_a_seed_of_another_space_is_run_but_not_counted(study):
    rows = _rows(study, [1, 1, 1, 1, 9], [5] * 5)
    rows[1]["same_space_as_pipeline"] = False  # keras_tuner of seed 10
    decision = study.decide(rows, study.SEEDS)
    assert decision["complete"] and decision["seeds_counted"] == [11, 12, 13, 14]
    assert decision["pipeline_vs_keras_tuner"]["wins"] == 3
    assert not decision["claim_pipeline_beats_tuned_design"]


def test_the_pipeline_arm_searches_as_the_preset_does_with_its_final_stage(study, monkeypatch):
    """Its final stage runs as a phase of its own (final=None), so the arm names the
    strategy the preset's search takes with a final stage: random, not genetic."""
    import kgan_nas

    calls = []
    monkeypatch.setattr(kgan_nas, "search", lambda *args, **kwargs: calls.append(kwargs))
    args = study.parser().parse_args(["--runs", "unused"])
    study.run_search("pipeline", 10, args)
    (keywords,) = calls
    assert keywords["strategy"] == "random" and keywords["preset"] == "mnist_cpu"
    assert keywords["final"] is None and keywords["options"].zoo is True


def test_keras_tuner_ends_a_trial_whose_values_repair_to_a_genome_already_tried(tuner):
    space = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
    strategy = tuner.KerasTunerStrategy(space, seed=2)
    (first,) = strategy.ask(1)
    trial = strategy._oracle.create_trial("tuner_again")
    assert strategy._remember(first, trial) is False  # the same genome as the first trial
    assert trial.status == "FAILED" and len(strategy._by_key) == 1
    strategy.tell(first, Fitness(fid=3.0))
    strategy.ask(1)
    assert strategy._oracle.get_best_trials(1)[0].score == 3.0


def test_the_readme_quotes_the_studys_count(study):
    """The README's bullet on the study states its wins and losses as the results JSON
    has them, and says whether every seed has run."""
    path = os.path.join(
        os.path.dirname(BENCHMARKS), "benchmarks", "results", "principal_study.json"
    )
    with open(path, encoding="utf-8") as stream:
        decision = json.load(stream)["decision"]
    with open(os.path.join(os.path.dirname(BENCHMARKS), "README.md"), encoding="utf-8") as stream:
        readme = " ".join(stream.read().split())
    count = decision["pipeline_vs_keras_tuner"]
    seeds = len(decision["seeds_counted"])
    so_far = "of the 5 seeds" if decision["complete"] else f"of the {seeds} seeds run so far"
    assert f"won {count['wins']} and lost {count['losses']} {so_far}" in readme
    # Rule 1 needs 4 wins of 5: out of reach once the seeds left cannot bring them.
    reachable = count["wins"] + len(study.SEEDS) - count["pairs"] >= 4
    said = "the claim that the search beats that baseline cannot be made" in readme
    assert said == (not reachable)
    # Rule 2 needs 4 wins of 5 for the tuned designs.
    switch_reachable = count["losses"] + len(study.SEEDS) - count["pairs"] >= 4
    said = "the tuned designs cannot reach the 4 wins of 5" in readme
    assert said == (not switch_reachable)
    path = os.path.join(os.path.dirname(BENCHMARKS), "docs", "howto", "strategies.md")
    with open(path, encoding="utf-8") as stream:
        strategies = " ".join(stream.read().split())
    assert ("claim to beat them can no longer be made" in strategies) == (not reachable)


def test_the_prose_quotes_the_seeds_it_names(study):
    """The FIDs the prose beside the table names (tuned design against pipeline on seed 12,
    pipeline against tuned design on seed 13) are the JSON's, rounded."""
    path = os.path.join(
        os.path.dirname(BENCHMARKS), "benchmarks", "results", "principal_study.json"
    )
    with open(path, encoding="utf-8") as stream:
        rows = json.load(stream)["rows"]
    fid = {(row["arm"], row["seed"]): row["fid_mean"] for row in rows}
    with open(
        os.path.join(os.path.dirname(BENCHMARKS), "docs", "benchmarks.md"), encoding="utf-8"
    ) as stream:
        page = " ".join(stream.read().split())
    if ("pipeline", 12) in fid:
        assert f"{fid[('keras_tuner', 12)]:.1f} against {fid[('pipeline', 12)]:.1f}" in page
    if ("pipeline", 13) in fid:
        assert f"{fid[('pipeline', 13)]:.1f} against {fid[('keras_tuner', 13)]:.1f}" in page
