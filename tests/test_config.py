"""The typed search configuration, run settings, objectives and argument checks."""

import json
import math

import numpy as np
import pytest
from tiny_runs import flat_search_keywords
from tiny_runs import scripted_evaluator
from tiny_runs import scripted_search
from tiny_runs import skip_worker_files

import kgan_nas
from kgan_nas import api as search_api
from kgan_nas import config as config_lib
from kgan_nas import validate
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.objectives import METRICS
from kgan_nas.core.objectives import Objective
from kgan_nas.core.objectives import get_objective
from kgan_nas.core.objectives import metric_name
from kgan_nas.core.objectives import parse_metric
from kgan_nas.store import run_dir as run_lib

FAST = scripted_evaluator("fast")


def test_search_config_round_trips_through_config_json(tmp_path, monkeypatch):
    """What a search stores is a `SearchConfig`: it reads back equal, and its JSON
    form is exactly what the run directory holds."""
    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(tmp_path / "run", generations=2, population=3, seed=4)
    stored = run_lib.RunDir(tmp_path / "run").config()
    config = config_lib.SearchConfig.from_dict(stored)
    assert config.to_dict() == stored
    assert (config.generations, config.population, config.seed) == (2, 3, 4)
    assert config.objectives == ("fid",) and config.image_shape == (8, 8, 1)
    assert config.strategy_options == {"population_size": 3}


def test_search_config_missing_settings_are_named():
    with pytest.raises(ValueError, match=r"lacks \['evaluation', 'seed'\]"):
        config_lib.SearchConfig.from_dict(
            {
                "dataset": "digits",
                "data_fingerprint": "x",
                "image_shape": [8, 8, 1],
                "space": {},
                "strategy": "RandomSearch",
                "strategy_options": {},
                "objectives": ["fid"],
                "metric": "fid_domain",
                "generations": 1,
                "population": 2,
            }
        )


def test_run_settings_are_stored_and_ignore_unknown_keys(tmp_path, monkeypatch):
    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(
        tmp_path / "run",
        executor="subprocess",
        workers=2,
        timeout=30,
        max_candidates_per_worker=3,
        evaluator=FAST,
    )
    settings = config_lib.RunSettings.from_dict(
        dict(run_lib.RunDir(tmp_path / "run").run_settings(), from_a_newer_version=1)
    )
    assert settings == config_lib.RunSettings(
        executor="subprocess",
        workers=2,
        backend=None,
        timeout=30,
        max_candidates_per_worker=3,
        executor_options=None,
        evaluator=FAST,
        max_consecutive_failures=6,
    )


def test_resume_restores_how_the_search_ran(tmp_path, monkeypatch):
    """`kgan_nas.resume` (and `kgan-nas resume`) run the stored search again with its
    executor, workers, time limit and evaluator, not the defaults."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(
        directory,
        executor="subprocess",
        workers=2,
        timeout=30,
        max_candidates_per_worker=3,
        evaluator=FAST,
        backend="tensorflow",
    )
    seen = {}

    def capture(dataset, **kwargs):
        seen.update(flat_search_keywords(kwargs), dataset=dataset)
        return "result"

    monkeypatch.setattr(search_api, "search", capture)
    assert kgan_nas.resume(str(directory), generations=3) == "result"
    assert seen["dataset"] == "digits" and seen["generations"] == 3
    assert (seen["executor"], seen["workers"], seen["timeout"]) == ("subprocess", 2, 30)
    assert seen["max_candidates_per_worker"] == 3 and seen["evaluator"] == FAST
    assert seen["backend"] == "tensorflow"
    assert seen["strategy_options"] == {"population_size": 4}
    assert seen["holdout_fraction"] == 0.15  # the "default" preset's, as stored
    seen.clear()
    kgan_nas.resume(str(directory), workers=1)
    assert seen["workers"] == 1 and seen["generations"] == 1


def test_resumed_run_continues_with_stored_settings(tmp_path, monkeypatch):
    """End to end: a resumed run adds generations and keeps its stored settings."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory, evaluator=FAST)
    result = kgan_nas.resume(str(directory), generations=2, verbose=0)
    assert len(result.history) == 8
    assert run_lib.RunDir(directory).run_settings()["executor"] == "inprocess"


def test_a_resume_estimates_its_time_from_the_stored_preset(tmp_path, monkeypatch, capsys):
    """A run records its preset (uncompared), so resuming a `quick` run estimates its
    time from the `quick` preset's measured cost instead of saying the `default`
    preset was never measured; a run stored without the record resumes as before."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory, preset="quick")
    assert run_lib.RunDir(directory).details()["preset"] == "quick"
    kgan_nas.resume(str(directory), generations=2, verbose=1)
    time_line = next(line for line in capsys.readouterr().out.splitlines() if "Time:" in line)
    assert "'quick' preset's cost measured" in time_line, time_line
    # A run stored before the preset was recorded: the "default" preset, as before.
    config_path = directory / "config.json"
    stored = json.loads(config_path.read_text())
    del stored["details"]["preset"]
    config_path.write_text(json.dumps(stored))
    seen = {}
    monkeypatch.setattr(search_api, "search", lambda dataset, **kw: seen.update(kw))
    kgan_nas.resume(str(directory))
    assert seen["preset"] == "default"


@pytest.mark.parametrize("preset", sorted(config_lib.PRESETS))
def test_resolve_budget_puts_given_values_over_the_preset(preset):
    budget = config_lib.resolve_budget(preset, generations=3, population=None)
    assert budget["generations"] == 3
    assert budget["population"] == config_lib.PRESETS[preset]["population"]
    assert set(config_lib.BUDGET_KEYS) <= set(budget)


@pytest.mark.parametrize(
    "given, message",
    [
        ({"population": 1}, "population must be at least 2"),
        ({"generations": 0}, "generations must be a positive integer, got 0"),
        ({"batch_size": True}, "batch_size must be a positive integer, got True"),
        ({"num_samples": 2.0}, "num_samples must be a positive integer, got 2.0"),
    ],
)
def test_resolve_budget_rejects_bad_budgets(given, message):
    with pytest.raises(ValueError, match=message):
        config_lib.resolve_budget("quick", **given)


def test_objectives_orient_values_so_lower_is_better():
    assert get_objective("fid").oriented(3.0) == 3.0
    assert get_objective("inception_score").oriented(3.0) == -3.0
    assert get_objective("kid").oriented(float("nan")) == math.inf
    assert get_objective(Objective("params", "min")) == Objective("params", "min")
    with pytest.raises(ValueError, match="Unknown objective 'fidd'"):
        get_objective("fidd")
    with pytest.raises(ValueError, match="direction"):
        Objective("fid", "lower")


def test_metric_names_split_into_objective_and_extractor():
    for metric in METRICS:
        objective, extractor = parse_metric(metric)
        assert metric_name(objective, extractor) == metric
    assert parse_metric("is_inception") == (get_objective("inception_score"), "inception")
    with pytest.raises(ValueError, match="Unknown metric"):
        parse_metric("fid_clip")


def test_fitness_takes_objectives_by_name_or_object():
    fitness = Fitness(fid=2.0, inception_score=5.0, params=10)
    assert fitness.objective("inception_score") == -5.0
    assert fitness.objective(Objective("fid", "min")) == 2.0
    assert Fitness.failed("nan", "x").objective("inception_score") == math.inf


@pytest.mark.parametrize(
    "value, ok",
    [(3, True), (np.int64(3), True), (True, False), (0, False), (2.0, False), ("3", False)],
)
def test_one_idea_of_a_positive_integer(value, ok):
    if ok:
        assert validate.check_positive_int(value, "n") == 3
    else:
        with pytest.raises(ValueError, match="n must be a positive integer"):
            validate.check_positive_int(value, "n")


@pytest.mark.parametrize(
    "value, ok",
    [(0.5, True), (np.float32(2), True), (None, None), (0, False), (-1, False), (True, False)],
)
def test_one_idea_of_a_positive_number(value, ok):
    if ok is None:
        assert validate.check_positive_number(value, "t", allow_none=True) is None
        with pytest.raises(ValueError):
            validate.check_positive_number(value, "t")
    elif ok:
        assert validate.check_positive_number(value, "t") == value
    else:
        with pytest.raises(ValueError, match="t must be a positive number of seconds"):
            validate.check_positive_number(value, "t", unit="seconds")


def test_search_holds_out_the_presets_share_and_records_it(tmp_path, monkeypatch):
    """The stored fingerprint is that of data with the held-out split, so a resume
    that reloads the data without it would be refused."""
    from kgan_nas.data import load_dataset

    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(tmp_path / "default", holdout_fraction=0.25)
    scripted_search(tmp_path / "quick", preset="quick")
    default = config_lib.SearchConfig.from_dict(run_lib.RunDir(tmp_path / "default").config())
    quick = config_lib.SearchConfig.from_dict(run_lib.RunDir(tmp_path / "quick").config())
    assert (default.holdout_fraction, quick.holdout_fraction) == (0.25, 0.0)
    assert (
        default.data_fingerprint
        == load_dataset("digits", seed=7, holdout_fraction=0.25).fingerprint()
    )
    assert quick.data_fingerprint == load_dataset("digits", seed=7).fingerprint()


def test_runs_stored_before_the_holdout_read_as_having_none():
    stored = dict(
        dataset="digits",
        data_fingerprint="x",
        image_shape=[8, 8, 1],
        space={},
        strategy="RandomSearch",
        strategy_options={},
        objectives=["fid"],
        metric="fid_domain",
        generations=1,
        population=2,
        evaluation={},
        seed=0,
    )
    assert config_lib.SearchConfig.from_dict(stored).holdout_fraction == 0.0


@pytest.mark.parametrize("fraction", [-0.1, 1, "0.1", True, float("nan")])
def test_bad_holdout_fraction_fails_before_anything_is_written(tmp_path, fraction):
    with pytest.raises(ValueError, match=r"holdout_fraction must be a number in \[0, 1\)"):
        scripted_search(tmp_path / "run", holdout_fraction=fraction)
    assert not (tmp_path / "run").exists()


def test_a_run_stored_before_the_holdout_resumes(tmp_path, monkeypatch):
    """A config.json without `holdout_fraction` (written before it existed) reads as 0 and
    resumes; a search asking for a held-out split there is told what differs."""
    import json

    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory, holdout_fraction=0)
    path = directory / "config.json"
    stored = json.loads(path.read_text())
    del stored["search"]["holdout_fraction"]
    path.write_text(json.dumps(stored))
    result = kgan_nas.resume(str(directory), generations=2, verbose=0)
    assert len(result.history) == 8
    with pytest.raises(run_lib.RunDirectoryError, match="holdout_fraction: stored 0.0, now 0.15"):
        scripted_search(directory, generations=2)


def test_backend_auto_prefers_tensorflow_and_falls_back_to_jax(monkeypatch):
    import importlib.util

    from kgan_nas.engine import settings as run_options

    real_find_spec = importlib.util.find_spec
    assert run_options.resolve_backend("auto") == "tensorflow"
    assert run_options.resolve_backend(None) is None
    assert run_options.resolve_backend("jax") == "jax"

    def without(*missing):
        return lambda name, *args: None if name in missing else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without("tensorflow"))
    assert run_options.resolve_backend("auto") == "jax"
    monkeypatch.setattr(importlib.util, "find_spec", without("tensorflow", "jax"))
    with pytest.raises(ValueError, match="found neither TensorFlow nor JAX"):
        run_options.resolve_backend("auto")
    with pytest.raises(ValueError, match="backend"):
        run_options.resolve_backend("torch")


def test_backend_auto_is_stored_as_the_backend_it_chose(tmp_path, monkeypatch):
    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(tmp_path / "run", backend="auto")
    assert run_lib.RunDir(tmp_path / "run").run_settings()["backend"] == "tensorflow"


def test_a_search_that_names_no_strategy_takes_its_preset_s_with_a_final_stage(tmp_path):
    resolve = search_api._resolve_strategy
    assert config_lib.preset_strategy("mnist_cpu") == "random"
    assert {config_lib.preset_strategy(p) for p in ("quick", "default", "paper")} == {"genetic"}
    new = tmp_path / "new"
    assert resolve(None, "mnist_cpu", True, new, False, None) == "random"
    # Without a final stage the search's own (inherited) training is the answer.
    assert resolve(None, "mnist_cpu", False, new, False, None) == "genetic"
    assert resolve(None, "default", True, new, False, None) == "genetic"
    assert resolve("genetic", "mnist_cpu", True, new, False, None) == "genetic"
    with pytest.raises(ValueError, match="pass strategy='genetic'"):
        resolve(None, "mnist_cpu", True, new, False, {"inherit_weights": False})


def test_a_stored_run_resumes_with_its_own_strategy(tmp_path, monkeypatch):
    skip_worker_files(monkeypatch, tmp_path)
    run = scripted_search(tmp_path / "run", preset="mnist_cpu")  # no final stage: genetic
    assert run.config["strategy"] == "GeneticSearch"
    resolve = search_api._resolve_strategy
    # A run started before mnist_cpu searched at random resumes as it was made...
    assert resolve(None, "mnist_cpu", True, tmp_path / "run", False, None) == "genetic"
    again = scripted_search(tmp_path / "run", preset="mnist_cpu", generations=2)
    assert again.config["strategy"] == "GeneticSearch" and len(again.history) == 8
    # ...unless it is started over.
    assert resolve(None, "mnist_cpu", True, tmp_path / "run", True, None) == "random"
    named = scripted_search(tmp_path / "random", preset="mnist_cpu", strategy="random")
    assert named.config["strategy"] == "RandomSearch"


def test_the_cli_leaves_the_strategy_to_the_search_unless_no_inherit_weights_needs_one(
    monkeypatch, tmp_path, capsys
):
    from test_final import _Calls

    from kgan_nas.cli import commands as cli

    fake = _Calls()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.search_api, "search", fake)
    for argv in (
        ["--preset", "mnist_cpu"],
        ["--strategy", "random"],
        ["--preset", "mnist_cpu", "--no-inherit-weights"],
    ):
        assert cli.main(["search", "--quiet", *argv]) == 0
    assert [kwargs["strategy"] for _, kwargs in fake.calls] == [None, "random", "genetic"]
    assert cli.main(["search", "--strategy", "random", "--no-inherit-weights"]) != 0
    assert "--no-inherit-weights applies to --strategy genetic only" in capsys.readouterr().err
