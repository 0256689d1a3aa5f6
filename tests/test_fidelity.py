"""Multi-fidelity search (successive halving): schedule, promotion, rung records,
continuation, ranking, the Spearman check, resume mid-rung, the CLI and the report."""

import json
import math
import random

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_search import _StopAfter
from tiny_runs import SCRIPTED_SPACE
from tiny_runs import flat_search_keywords
from tiny_runs import scripted_search
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas.cli import commands as cli
from kgan_nas.core import fidelity as fidelity_lib
from kgan_nas.core.fidelity import SuccessiveHalving
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.genome import Genome
from kgan_nas.core.space import SearchSpace
from kgan_nas.executors.base import evaluate_candidate
from kgan_nas.results.records import ranked_records
from kgan_nas.results.records import record_total_steps
from kgan_nas.strategies import GeneticSearch

RUNGS = {"kind": "successive_halving", "rungs": (10, 30, 90), "eta": 3}


def _search(directory, **overrides):
    """The scripted search with rungs: 9 genomes a generation, steps set by the rungs."""
    options = dict(
        evaluator="rung",
        strategy="genetic",
        generations=2,
        population=9,
        steps_per_candidate=None,
        final=None,
        fidelity=RUNGS,
    )
    options.update(overrides)
    return scripted_search(directory, **options)


# ----------------------------------------------------------------------
# The schedule and its arithmetic
# ----------------------------------------------------------------------


@st.composite
def _schedules(draw):
    increments = draw(st.lists(st.integers(1, 500), min_size=2, max_size=5))
    rungs = tuple(int(x) for x in np.cumsum(increments))
    return SuccessiveHalving(rungs=rungs, eta=draw(st.integers(2, 5)))


@given(schedule=_schedules(), population=st.integers(1, 64))
def test_rung_counts_and_steps_add_up(schedule, population):
    counts = schedule.counts(population)
    assert counts[0] == population and len(counts) == len(schedule.rungs)
    for before, after in zip(counts, counts[1:]):
        assert after == max(1, before // schedule.eta) and after <= before
    # A candidate stopped at rung r trained the increments up to r: exactly rung r's steps,
    # never more than the last rung.
    for rung, steps in enumerate(schedule.rungs):
        trained = sum(schedule.increment(r) for r in range(rung + 1))
        assert trained == steps <= schedule.rungs[-1]
    assert schedule.generation_steps(population) == sum(
        count * schedule.increment(rung) for rung, count in enumerate(counts)
    )
    assert schedule.generation_steps(population) <= population * schedule.rungs[-1]


@pytest.mark.parametrize(
    "value, message",
    [
        ({"kind": "hyperband", "rungs": (1, 2)}, "kind must be 'successive_halving'"),
        ({"rungs": (100,)}, "at least two"),
        ({"rungs": (300, 100)}, "increase strictly"),
        ({"rungs": (100, 100)}, "increase strictly"),
        ({"rungs": (0, 100)}, "each rung must be a positive integer"),
        ({"rungs": (10.5, 100)}, "each rung must be a positive integer"),
        ({"rungs": "100 300"}, "sequence of training steps"),
        ({"rungs": (10, 30), "eta": 1}, "eta must be an integer >= 2"),
        ({"rungs": (10, 30), "eta": 2.5}, "eta must be an integer >= 2"),
        ({"rungs": (10, 30), "ratio": 3}, "Unknown fidelity setting"),
        ({"eta": 3}, "needs 'rungs'"),
        ("hyperband", "fidelity must be None"),
        (3, "fidelity must be None"),
    ],
)
def test_bad_fidelity_is_refused_with_the_fix(value, message):
    with pytest.raises(ValueError, match=message):
        fidelity_lib.resolve_fidelity(value, 90)


def test_fidelity_spellings_agree():
    typed = SuccessiveHalving(rungs=(100, 300, 900), eta=3)
    assert fidelity_lib.resolve_fidelity(typed.to_dict()) == typed
    assert fidelity_lib.resolve_fidelity({"rungs": [100, 300, 900]}) == typed
    assert fidelity_lib.resolve_fidelity("successive_halving", 900) == typed
    assert fidelity_lib.resolve_fidelity(None) is None
    assert kgan_nas.SuccessiveHalving is SuccessiveHalving


# ----------------------------------------------------------------------
# Promotion and the rank correlation
# ----------------------------------------------------------------------


@given(
    scores=st.lists(
        st.one_of(st.none(), st.floats(0, 100, allow_nan=False)), min_size=1, max_size=30
    ),
    eta=st.integers(2, 4),
)
def test_promotion_keeps_the_best_fraction_and_never_a_failure(scores, eta):
    keys = [f"k{i}" for i in range(len(scores))]
    fitnesses = {
        key: Fitness(fid=score) if score is not None else Fitness.failed("nan", "scripted")
        for key, score in zip(keys, scores)
    }
    promoted = fidelity_lib.promote(keys, fitnesses, eta, "fid")
    keep = max(1, len(keys) // eta)
    ok = [key for key in keys if fitnesses[key].ok]
    assert len(promoted) == min(keep, len(ok))
    assert all(fitnesses[key].ok for key in promoted)
    worst_promoted = max((fitnesses[key].fid for key in promoted), default=-math.inf)
    rest = [fitnesses[key].fid for key in ok if key not in promoted]
    assert all(value >= worst_promoted for value in rest)


@settings(max_examples=60)
@given(
    pairs=st.lists(
        st.tuples(st.integers(0, 6), st.floats(-50, 50, allow_nan=False)), min_size=3, max_size=40
    )
)
def test_spearman_matches_scipy(pairs):
    first, second = [float(a) for a, _ in pairs], [b for _, b in pairs]
    ours = fidelity_lib.spearman(first, second)
    if len(set(first)) < 2 or len(set(second)) < 2:
        assert ours is None
        return
    assert ours == pytest.approx(scipy.stats.spearmanr(first, second).statistic, abs=1e-9)


def test_spearman_on_random_data_and_its_bounds():
    rng = random.Random(0)
    for _ in range(20):
        first = [rng.random() for _ in range(25)]
        second = [x + rng.gauss(0, 0.3) for x in first]
        expected = scipy.stats.spearmanr(first, second).statistic
        assert fidelity_lib.spearman(first, second) == pytest.approx(expected, abs=1e-12)
    assert fidelity_lib.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert fidelity_lib.spearman([1], [2]) is None
    with pytest.raises(ValueError, match="equal lengths"):
        fidelity_lib.spearman([1, 2], [1])


def _rung_record(generation, key, rung, objective):
    return {
        "generation": generation,
        "key": key,
        "rung": rung,
        "rung_steps": (10, 30, 90)[rung],
        "objective": objective,
        "status": "ok" if objective is not None else "nan",
    }


def test_a_rung_that_does_not_predict_the_next_is_warned_about():
    history = [_rung_record(1, f"k{i}", 0, float(i)) for i in range(6)]
    # Rung 1 reverses rung 0's order: Spearman -1.
    history += [_rung_record(1, f"k{i}", 1, float(10 - i)) for i in range(4)]
    history += [_rung_record(1, "k0", 2, 1.0)]
    entries = fidelity_lib.rung_correlations(history, (10, 30, 90))
    assert [(e["rung"], e["next_rung"], e["pairs"]) for e in entries] == [(0, 1, 4), (1, 2, 1)]
    assert entries[0]["spearman"] == pytest.approx(-1.0)
    assert "rung 0 does not predict rung 1" in entries[0]["warning"]
    assert entries[1]["spearman"] is None
    # Undefined is not "does not predict": it cannot be checked.
    assert "rung 1 cannot be checked against rung 2" in entries[1]["warning"]
    assert "undefined (1 candidate reached both" in entries[1]["warning"]
    lines = fidelity_lib.correlation_lines(entries)
    assert sum(line.startswith("WARNING: rung") for line in lines) == 2
    agreeing = [_rung_record(1, f"k{i}", 1, float(i)) for i in range(4)]
    good = fidelity_lib.rung_correlations(history[:6] + agreeing, (10, 30))
    assert good[0]["spearman"] == pytest.approx(1.0) and good[0]["warning"] is None
    assert fidelity_lib.rung_correlations([{"generation": 1, "key": "a", "objective": 1}]) == []


# ----------------------------------------------------------------------
# Ranking: higher rungs first, a record superseded by its higher rung
# ----------------------------------------------------------------------


def test_the_one_ranking_puts_higher_rungs_first_and_supersedes_lower_records():
    history = [
        _rung_record(1, "a", 0, 1.0),
        _rung_record(1, "b", 0, 2.0),
        _rung_record(1, "c", 0, 3.0),
        _rung_record(1, "b", 1, 5.0),  # b continued and scored worse than a's rung 0
        _rung_record(1, "c", 1, None),  # c's continuation failed: its rung 0 still counts
    ]
    ranked = ranked_records(history)
    assert [(r["key"], r["rung"]) for r in ranked] == [("b", 1), ("a", 0), ("c", 0)]
    plain = [{"generation": 1, "key": k, "objective": v} for k, v in (("x", 2.0), ("y", 1.0))]
    assert [r["key"] for r in ranked_records(plain)] == ["y", "x"]


def test_strategies_rank_a_higher_rung_above_a_better_score_at_a_lower_one():
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=100_000)
    for objectives in (("fid",), ("fid", "params")):
        strategy = GeneticSearch(space, population_size=3, objectives=objectives, seed=0)
        genomes = strategy.ask(3)
        fitnesses = [
            Fitness(fid=1.0, params=10),
            Fitness(fid=9.0, params=50, rung=2),
            Fitness.failed("nan", "scripted", rung=1),
        ]
        for genome, fitness in zip(genomes, fitnesses):
            strategy.tell(genome, fitness)
        ranked = strategy._rank(strategy.results())
        assert [g.key() for g, _ in ranked] == [
            genomes[1].key(),
            genomes[0].key(),
            genomes[2].key(),
        ]
        assert strategy.best()[0].key() == genomes[1].key()


# ----------------------------------------------------------------------
# Searches with a scripted evaluator
# ----------------------------------------------------------------------


def _by_rung(history, generation):
    rungs = {}
    for record in history:
        if record["generation"] == generation:
            rungs.setdefault(record["rung"], []).append(record)
    return rungs


@pytest.mark.parametrize("strategy", ["genetic", "random"])
def test_each_rung_is_recorded_and_continues_from_the_candidates_own_folder(
    tmp_path, cache_dir, strategy
):
    result = _search(tmp_path / strategy, strategy=strategy)
    for generation in (1, 2):
        rungs = _by_rung(result.history, generation)
        assert [len(rungs[r]) for r in sorted(rungs)] == [9, 3, 1]
        for rung, records in rungs.items():
            assert all(r["rung_steps"] == (10, 30, 90)[rung] for r in records)
            assert all(r["fitness"]["steps"] == (10, 20, 60)[rung] for r in records)
            assert all(r["fitness"].get("rung", 0) == rung for r in records)
        # Rung 1 holds the best third of rung 0, rung 2 the best of rung 1.
        for rung in (1, 2):
            below = sorted(rungs[rung - 1], key=lambda r: r["objective"])
            promoted = {r["key"] for r in rungs[rung]}
            assert promoted == {r["key"] for r in below[: len(promoted)]}
            for record in rungs[rung]:
                # The scripted "models" hold the key and the steps of whoever saved them.
                lower = next(r for r in rungs[rung - 1] if r["key"] == record["key"])
                assert record["reason"] == f"from={record['key']}:{lower['total_steps']}"
                assert record["total_steps"] == lower["total_steps"] + (20, 60)[rung - 1]
    # The stored totals agree with the lineage definition summed from scratch.
    stripped = [{k: v for k, v in r.items() if k != "total_steps"} for r in result.history]
    for original, record in zip(result.history, stripped):
        assert original["total_steps"] == record_total_steps(stripped, record)
    # The best record is a top-rung one, and the strategy learnt each candidate once.
    assert result.best_record["rung"] == 2
    checkpoint = json.loads((tmp_path / strategy / "checkpoint.json").read_text())
    told = checkpoint["strategy"]["results"]
    assert len(told) == 18
    assert sorted(f.get("rung", 0) for _, f in told) == sorted([0] * 12 + [1] * 4 + [2] * 2)


def test_worker_processes_train_each_rung_from_the_candidates_folder(tmp_path, cache_dir):
    """The subprocess executor ships each rung's steps and the candidate's own folder."""
    result = _search(tmp_path / "run", generations=1, executor="subprocess", workers=2)
    rungs = _by_rung(result.history, 1)
    assert [len(rungs[r]) for r in (0, 1, 2)] == [9, 3, 1]
    assert all(r["fitness"]["steps"] == 20 for r in rungs[1])
    assert [r["reason"] for r in rungs[2]] == [f"from={rungs[2][0]['key']}:30"]


def test_genetic_children_count_their_parents_steps(tmp_path, cache_dir):
    result = _search(tmp_path / "run")
    children = [r for r in result.history if r["generation"] == 2 and r["rung"] == 0]
    assert any(r["parent"] for r in children)
    records = {(r["generation"], r["key"], r["rung"]): r for r in result.history}
    for child in children:
        if child["parent"] is None:
            assert child["total_steps"] == 10
            continue
        parent_rungs = [r for (g, k, _), r in records.items() if g == 1 and k == child["parent"]]
        parent = max(parent_rungs, key=lambda r: r["rung"])
        assert child["total_steps"] == 10 + parent["total_steps"]
        assert child["reason"] == f"from={child['parent']}:{parent['rung_steps']}"


def test_summary_and_fidelity_file_carry_the_spearman_check(tmp_path, cache_dir, capsys):
    result = _search(tmp_path / "run", generations=1, verbose=1)
    printed = capsys.readouterr().out
    assert "rung 0 rung 0" not in printed and " rung 2  fid_domain=" in printed
    assert "WARNING: rung 1 cannot be checked against rung 2" in printed
    assert "Done: 9 candidates in 13 evaluations (0 failed)" in printed
    text = result.summary()
    assert "Evaluated 9 candidates in 13 evaluations" in text
    assert "rung 0 (10 steps) -> rung 1 (30 steps)" in text
    # One candidate reaches rung 2 per generation: its correlation is undefined.
    assert "WARNING: rung 1 cannot be checked against rung 2" in text
    stored = json.loads((tmp_path / "run" / fidelity_lib.FIDELITY_FILE).read_text())
    assert stored["rungs"] == result.fidelity_check()
    assert stored["rungs"][0]["pairs"] == 3
    assert cli.main(["report", str(tmp_path / "run")]) == 0
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    from test_report import _tables

    header, *rows = _tables(page)["fidelity-table"]
    assert header[0] == "rungs" and [row[0] for row in rows] == ["0 → 1", "1 → 2"]
    assert rows[0][2] == "9 → 3" and rows[1][3] == "1"
    assert "Warning: rung 1 cannot be checked against rung 2" in page


def _places(history):
    return [(r["generation"], r["key"], r["rung"], r["objective"]) for r in history]


def test_resume_mid_rung_reuses_every_finished_record(tmp_path, cache_dir):
    whole = _search(tmp_path / "whole")
    directory = tmp_path / "interrupted"
    # Generation 2: 9 records at rung 0, then two of the three at rung 1.
    with pytest.raises(KeyboardInterrupt):
        _search(directory, callbacks=[_StopAfter(13 + 11)])
    lines = (directory / "history.jsonl").read_text().splitlines()
    done = [json.loads(line) for line in lines]
    assert [r["rung"] for r in done[-3:]] == [0, 1, 1]
    resumed = _search(directory)
    assert _places(resumed.history[: len(done)]) == _places(done)  # nothing redone
    assert sorted(_places(resumed.history)) == sorted(_places(whole.history))
    assert resumed.best_record["key"] == whole.best_record["key"]
    last = [r for r in resumed.history if r["generation"] == 2 and r["rung"] == 1][-1]
    lower = next(
        r for r in resumed.history if (r["generation"], r["key"], r["rung"]) == (2, last["key"], 0)
    )
    # The resumed continuation started from the candidate's rung-0 models.
    assert last["reason"] == f"from={last['key']}:{lower['total_steps']}"
    # `resume` keeps the rungs: a third generation runs them too.
    longer = kgan_nas.resume(str(directory), generations=3, verbose=0)
    assert longer.config["fidelity"]["rungs"] == [10, 30, 90]
    assert [len(v) for _, v in sorted(_by_rung(longer.history, 3).items())] == [9, 3, 1]


def test_a_continuation_published_but_not_recorded_is_read_back_not_trained_again(
    tmp_path, cache_dir
):
    whole = _search(tmp_path / "whole")
    directory = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _search(directory, callbacks=[_StopAfter(13 + 11)])
    # A kill between the last continuation's publish and its history line: the
    # folder holds its models and result, the history does not.
    history = directory / "history.jsonl"
    *kept, lost = history.read_text().splitlines()
    lost = json.loads(lost)
    assert lost["rung"] == 1 and lost["publish_id"]
    history.write_text("".join(line + "\n" for line in kept))
    folder = directory / "candidates" / lost["key"]
    assert json.loads((folder / "fitness.json").read_text())["fid"] == lost["fitness"]["fid"]
    resumed = _search(directory)
    again = [
        r for r in resumed.history if (r["generation"], r["key"], r["rung"]) == (2, lost["key"], 1)
    ]
    assert len(again) == 1
    lower = next(
        r for r in resumed.history if (r["generation"], r["key"], r["rung"]) == (2, lost["key"], 0)
    )
    # Read back: the same result, continued once from the rung-0 models, not a
    # second time from the already continued ones (20 steps more).
    assert again[0]["reason"] == lost["reason"] == f"from={lost['key']}:{lower['total_steps']}"
    assert (again[0]["objective"], again[0]["total_steps"]) == (
        lost["objective"],
        lost["total_steps"],
    )
    assert sorted(_places(resumed.history)) == sorted(_places(whole.history))


def test_steps_with_fidelity_must_be_the_last_rung(tmp_path, cache_dir):
    with pytest.raises(ValueError, match="differs from the last rung"):
        _search(tmp_path / "run", steps_per_candidate=50)
    result = _search(tmp_path / "ok", generations=1, steps_per_candidate=90)
    assert result.config["evaluation"]["steps"] == 90
    assert result.config["fidelity"] == {
        "kind": "successive_halving",
        "rungs": [10, 30, 90],
        "eta": 3,
    }


def test_an_evaluator_without_steps_fails_each_rung_clearly(tmp_path, cache_dir):
    space = SCRIPTED_SPACE
    genome = space.sample(np.random.default_rng(0))

    class _NoSteps:
        def evaluate(self, genome, save_dir=None):
            return Fitness(fid=1.0)

    fitness = evaluate_candidate(_NoSteps(), genome, None, steps=10)
    assert fitness.status == "error" and "takes no steps=" in fitness.reason
    assert evaluate_candidate(_NoSteps(), genome, None).ok
    result = _search(tmp_path / "run", generations=1, evaluator="fast", max_consecutive_failures=99)
    assert all(r["status"] == "error" for r in result.history)
    assert "takes no steps=" in result.history[0]["reason"]


def test_a_run_without_fidelity_records_total_steps_and_no_rungs(tmp_path, cache_dir):
    result = _search(tmp_path / "run", generations=1, fidelity=None, steps_per_candidate=10)
    assert len(result.history) == 9
    assert all("rung" not in r and r["total_steps"] == 10 for r in result.history)
    assert "rung" not in result.history[0]["fitness"]
    assert result.fidelity_check() == [] and "Fidelity check" not in result.summary()
    # The reference scores are made at the candidates' sample count (100 here), not at the
    # eval split's size.
    baselines = result.baselines()
    assert baselines["num_samples"] == baselines["num_noise_samples"] == 100
    assert baselines["num_eval_images"] != 100


# ----------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------


def _cli_fidelity(monkeypatch, argv):
    seen = {}

    def fake_search(*args, **kwargs):
        seen.update(flat_search_keywords(kwargs))
        raise SystemExit(0)

    monkeypatch.setattr(cli.search_api, "search", fake_search)
    with pytest.raises(SystemExit):
        cli.main(["search", "--quiet", *argv])
    return seen.get("fidelity", "not called")


def test_cli_fidelity_flags(monkeypatch):
    assert _cli_fidelity(monkeypatch, []) is None
    assert _cli_fidelity(monkeypatch, ["--fidelity", "successive_halving"]) == "successive_halving"
    assert _cli_fidelity(
        monkeypatch,
        ["--fidelity", "successive_halving", "--rungs", "100", "300", "900", "--eta", "3"],
    ) == {"kind": "successive_halving", "rungs": (100, 300, 900), "eta": 3}
    assert _cli_fidelity(
        monkeypatch, ["--fidelity", "successive_halving", "--rungs", "5", "20"]
    ) == {
        "kind": "successive_halving",
        "rungs": (5, 20),
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--rungs", "100", "300"], "--rungs need --fidelity successive_halving"),
        (["--eta", "3"], "--eta need --fidelity successive_halving"),
        (["--fidelity", "successive_halving", "--eta", "3"], "--eta needs --rungs too"),
    ],
)
def test_cli_fidelity_flag_errors(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(cli.search_api, "search", lambda *a, **k: pytest.fail("searched"))
    assert cli.main(["search", "--quiet", *argv]) != 0
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--fidelity", "hyperband"], ["--fidelity", "successive_halving", "--rungs", "x"]]
)
def test_cli_rejects_unknown_fidelity_values(capsys, argv):
    with pytest.raises(SystemExit) as error:
        cli.main(["search", *argv])
    assert error.value.code == 2
    assert argv[-2] in capsys.readouterr().err


# ----------------------------------------------------------------------
# A real (tiny) multi-fidelity search
# ----------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.slow
def test_real_rungs_continue_from_the_saved_models(tmp_path, cache_dir):
    result = tiny_real_search(
        tmp_path / "run",
        population=3,
        steps_per_candidate=None,
        fidelity={"kind": "successive_halving", "rungs": (3, 6), "eta": 3},
    )
    rungs = _by_rung(result.history, 1)
    assert len(rungs[0]) == 3 and len(rungs[1]) == 1
    top = rungs[1][0]
    assert top["status"] == "ok" and top["fitness"]["steps"] == 3
    assert top["fitness"]["inherited_layers"] > 0  # every layer of its own rung-0 models
    assert top["total_steps"] == 6
    assert result.best_record["key"] == top["key"]
    assert Genome.from_dict(top["genome"]).key() == top["key"]
