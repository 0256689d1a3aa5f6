"""`SearchResult`: the one ranking, best models, Pareto front and flat history."""

import pytest

import kgan_nas
from kgan_nas.results.records import best_record
from kgan_nas.results.records import pareto_records
from kgan_nas.results.records import ranked_records


def _record(key, objective, params, status="ok"):
    return {"key": key, "objective": objective, "params": params, "status": status}


def test_ranking_best_and_front_are_defined_once():
    """Failed records never rank; ties keep history order; the front holds exactly
    the records no other beats on both coordinates."""
    history = [
        _record("a", 3.0, 10),
        _record("b", None, 5, "nan"),
        _record("c", 1.0, 30),
        _record("d", 2.0, 5),
        _record("e", 1.0, 40),
    ]
    assert [r["key"] for r in ranked_records(history)] == ["c", "e", "d", "a"]
    assert best_record(history)["key"] == "c"
    assert best_record([_record("x", None, 1, "error")]) is None
    front = pareto_records(history, lambda r: (r["objective"], r["params"]))
    assert [r["key"] for r in front] == ["c", "d"]


@pytest.fixture(scope="module")
def real_run(tiny_real_run):
    return kgan_nas.SearchResult(str(tiny_real_run))


@pytest.mark.keras
@pytest.mark.slow
def test_best_models_and_genomes_follow_the_ranking(real_run):
    """KerasTuner-style accessors: best genomes and generators in rank order, and the
    best candidate's discriminator."""
    ranked = real_run.ranked()
    assert ranked, [r["reason"] for r in real_run.history]
    genomes = real_run.best_genomes(2)
    assert [g.key() for g in genomes] == [r["key"] for r in ranked[:2]]
    models = real_run.get_best_models(2)
    assert len(models) == len(genomes)
    for model, genome in zip(models, genomes):
        assert model.count_params() == real_run.space.generator_params(genome)
    discriminator = real_run.best_discriminator()
    assert discriminator.count_params() == real_run.space.discriminator_params(genomes[0])
    assert discriminator.output_shape[-1] == 1
    # No images is a clear error, not a crash inside predict.
    with pytest.raises(ValueError, match=r"`?n`? must be an integer >= 1, got 0"):
        real_run.sample(0)


@pytest.mark.keras
@pytest.mark.slow
def test_history_flattens_to_a_dataframe(real_run):
    frame = real_run.to_dataframe()
    assert len(frame) == len(real_run.history)
    assert {
        "key",
        "status",
        "fitness.fid",
        "fitness.seconds.total",
        "genome",
        "genome.training.loss",
        "genome.generator_layers",
    } <= set(frame.columns)
    assert list(frame["key"]) == [r["key"] for r in real_run.history]
    records = real_run.to_records()
    assert (
        records[0]["genome"] == kgan_nas.Genome.from_dict(real_run.history[0]["genome"]).describe()
    )


def test_to_dataframe_without_pandas_says_how(real_run_free_result, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="pip install pandas"):
        real_run_free_result.to_dataframe()


@pytest.fixture
def real_run_free_result(tmp_path, monkeypatch):
    """A finished fast run (scripted evaluator, no Keras) as a `SearchResult`."""
    from tiny_runs import scripted_search
    from tiny_runs import skip_worker_files

    skip_worker_files(monkeypatch, tmp_path)
    return scripted_search(tmp_path / "run")


def test_training_yield_counts_candidates_under_half_the_noise_score():
    """Failures count as candidates that did not train; a candidate evaluated at
    several rungs counts once, at its highest rung."""
    from kgan_nas.results.training_yield import training_yield
    from kgan_nas.results.training_yield import yield_line

    history = [
        {"generation": 1, "key": "a", "objective": 100.0},
        {"generation": 1, "key": "b", "objective": 700.0},
        {"generation": 1, "key": "c", "objective": None, "status": "nan"},
        {"generation": 1, "key": "d", "objective": 600.0, "rung": 0},
        {"generation": 1, "key": "d", "objective": 400.0, "rung": 1},
    ]
    noise = {"fid_uniform_noise": 1000.0}
    found = training_yield(history, ranked_records(history), noise, "fid_domain")
    assert found == {"trained": 2, "candidates": 4, "share": 0.5, "threshold": 500.0}
    assert yield_line(found).startswith("2 of 4 candidates trained (FID under 500.000")
    # Undefined without a noise score, for another metric or without candidates.
    assert training_yield(history, [], {}, "fid_domain") is None
    assert training_yield(history, [], noise, "kid_domain") is None
    assert training_yield([], [], noise, "fid_domain") is None


@pytest.mark.keras
@pytest.mark.slow
def test_the_summary_states_the_training_yield(real_run):
    found = real_run.training_yield()
    assert found is not None and found["candidates"] == len(real_run.history)
    assert f"{found['trained']} of {found['candidates']} candidates trained" in (real_run.summary())


def test_the_objective_line_gives_each_objective_its_own_direction():
    """A search that minimises FID and maximises the Inception score is not told that
    lower is better for both."""
    from kgan_nas.results.search_result import _objective_line

    assert _objective_line("fid_domain", ("fid",)) == "Objective: fid_domain, lower is better"
    assert _objective_line("is_domain", ()) == "Objective: is_domain, higher is better"
    assert _objective_line("fid_domain", ("fid", "params")) == (
        "Objective: fid_domain (fid, params), lower is better"
    )
    assert _objective_line("fid_domain", ("fid", "inception_score")) == (
        "Objective: fid_domain (fid lower is better; inception_score higher is better)"
    )
