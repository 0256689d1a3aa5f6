"""Gradient-based search: the supernet of a space, derived genomes, `strategy="differentiable"`."""

import dataclasses
import json
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import kgan_nas
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.strategies import DifferentiableSearch
from tests.tiny_runs import TINY_SPACE
from tests.tiny_runs import captured_search_arguments
from tests.tiny_runs import tiny_real_search

SPACE_28 = kgan_nas.SearchSpace(image_shape=(28, 28, 1), max_params=150_000)


def test_candidates_cover_the_spaces_kinds_kernels_and_norms():
    from kgan_nas.core import supernet_slots as network

    space = dataclasses.replace(
        SPACE_28, generator_layer_types=("conv2d", "conv2d_transpose", "residual_up")
    )
    genes = network.candidates(space, "generator")
    assert {g.kind for g in genes} == {"conv2d_transpose", "residual_up"}
    assert len(genes) == 2 * len(space.kernel_sizes) * len(space.generator_normalizations)
    assert all(g.upsamples and g.size == network.slot_width(space) for g in genes)
    d_genes = network.candidates(space, "discriminator")
    assert all(g.downsamples for g in d_genes)
    with pytest.raises(ValueError, match="discriminator no layer kind that halves"):
        network.skeleton(dataclasses.replace(space, discriminator_layer_types=("dense",)))
    with pytest.raises(ValueError, match="cannot be reached by doubling"):
        network.skeleton(kgan_nas.SearchSpace(image_shape=(7, 7, 1)))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), top=st.integers(1, 6), side=st.sampled_from([8, 16, 28, 32]))
def test_derived_genomes_are_valid_distinct_and_start_from_the_strongest(seed, top, side):
    from kgan_nas.core import supernet_slots as network
    from kgan_nas.supernet.search import derive

    space = kgan_nas.SearchSpace(image_shape=(side, side, 1), max_params=150_000)
    g_genes, d_genes, slots = network.skeleton(space)
    rng = np.random.default_rng(seed)
    g_weights = [list(rng.dirichlet(np.ones(len(g_genes)))) for _ in range(slots)]
    d_weights = [list(rng.dirichlet(np.ones(len(d_genes)))) for _ in range(slots)]
    found = derive(space, g_genes, d_genes, g_weights, d_weights, TrainingGenes(), top)
    assert 1 <= len(found) <= top
    assert len({g.key() for g in found}) == len(found)
    assert all(space.problems(g) == [] for g in found)
    # The first takes each slot's strongest operation (unless repair had to change it).
    strongest = [g_genes[int(np.argmax(w))] for w in g_weights]
    if not space.problems(network.genome_of(space, strongest, found[0].discriminator)):
        assert list(found[0].generator) == strongest
    # The paths behind them: an exact one is its choices' genome, unrepaired.
    from kgan_nas.supernet.search import derived_paths

    paths = derived_paths(space, g_genes, d_genes, g_weights, d_weights, TrainingGenes(), top)
    assert [path["genome"].key() for path in paths] == [g.key() for g in found]
    for path in paths:
        genes = [g_genes[i] for i in path["generator"]], [d_genes[i] for i in path["discriminator"]]
        if path["exact"]:
            assert (list(path["genome"].generator), list(path["genome"].discriminator)) == (
                list(genes[0]),
                list(genes[1]),
            )


def test_the_mixture_weights_its_inputs_by_a_softmax_of_alpha():
    import keras

    from kgan_nas.supernet.network import TEMPERATURE
    from kgan_nas.supernet.network import ArchitectureMix

    mix = ArchitectureMix(3)
    inputs = [np.full((2, 4), float(i), dtype="float32") for i in range(3)]
    mix(inputs)
    mix.alpha.assign(np.array([0.0, 0.1, 0.2], dtype="float32"))
    weights = np.exp(np.array([0.0, 0.1, 0.2]) / TEMPERATURE)
    weights /= weights.sum()
    out = np.asarray(mix(inputs))
    np.testing.assert_allclose(out, np.full((2, 4), (weights * [0, 1, 2]).sum()), rtol=1e-5)
    # A selected path (weights exactly one-hot) ignores the others, even non-finite ones.
    mix.alpha.assign(np.array([-100.0, 100.0, -100.0], dtype="float32"))
    wild = [np.full((2, 4), np.inf, "float32"), inputs[1], np.full((2, 4), np.nan, "float32")]
    np.testing.assert_array_equal(np.asarray(mix(wild)), inputs[1])
    assert keras.layers.deserialize(keras.layers.serialize(mix)).candidates == 3


@pytest.mark.keras
def test_a_selected_path_computes_only_its_operations():
    from kgan_nas.supernet import network

    generator, _ = network.build_supernet(TINY_SPACE)
    latents = np.random.default_rng(0).standard_normal((3, TINY_SPACE.latent_dim))
    latents = latents.astype("float32")
    slots = len(network.architecture_weights(generator, "g_slot"))
    candidates = generator.get_layer("g_slot0").candidates
    network.select_path(generator, "g_slot", [candidates - 1] * slots)
    weights = network.architecture_weights(generator, "g_slot")
    assert all(w[-1] == 1.0 and sum(w[:-1]) == 0.0 for w in weights)
    # The mixture's output is the chosen branch's, exactly.
    branch = generator.get_layer("g_slot0").input[candidates - 1]
    import keras

    probe = keras.Model(generator.input, [branch, generator.get_layer("g_slot0").output])
    chosen, mixed = probe.predict(latents, verbose=0)
    np.testing.assert_array_equal(chosen, mixed)
    with pytest.raises(ValueError, match="choices for"):
        network.select_path(generator, "g_slot", [0] * (slots + 1))
    with pytest.raises(ValueError, match="candidates, not"):
        network.select_path(generator, "g_slot", [candidates] * slots)


def test_path_scores_score_each_generator_path_once_and_record_failures():
    from kgan_nas.supernet import search as supernet_search

    genomes = [TINY_SPACE.sample(np.random.default_rng(seed)) for seed in range(4)]
    paths = [
        {"genome": genomes[0], "generator": [0], "discriminator": [0], "exact": True},
        {"genome": genomes[1], "generator": [0], "discriminator": [1], "exact": False},
        {"genome": genomes[2], "generator": [1], "discriminator": [0], "exact": True},
        {"genome": genomes[3], "generator": [2], "discriminator": [0], "exact": True},
    ]
    chosen, calls = [], []

    def select(model, prefix, choices):
        chosen.append(tuple(choices))

    def score(generator):
        calls.append(chosen[-1])
        if chosen[-1] == (1,):
            raise FloatingPointError("NaN images")
        return float("inf") if chosen[-1] == (2,) else 12.5

    rows = _scored(supernet_search, paths, select, score)
    assert calls == [(0,), (1,), (2,)]  # the discriminator does not change an image score
    assert [row["key"] for row in rows] == [g.key() for g in genomes]
    assert rows[0] == {"key": genomes[0].key(), "fid": 12.5, "exact": True}
    assert rows[1]["fid"] == 12.5 and rows[1]["exact"] is False
    assert rows[2]["fid"] is None and "FloatingPointError: NaN images" in rows[2]["reason"]
    assert rows[3]["fid"] is None and rows[3]["reason"] == "non-finite FID"
    json.dumps(rows, allow_nan=False)  # supernet.json is written strictly


def _scored(supernet_search, paths, select, score):
    import unittest.mock

    with (
        unittest.mock.patch.object(supernet_search.network, "select_path", select),
        unittest.mock.patch("kgan_nas.training.ema.recompute_batch_norm", lambda g: 0),
    ):
        return supernet_search.subnet_scores(object(), paths, score)


def test_the_supernet_check_ranks_exact_paths_against_their_stand_alone_scores():
    from kgan_nas.results.supernet_check import check_line
    from kgan_nas.results.supernet_check import supernet_check

    scores = [
        {"key": "a", "fid": 10.0, "exact": True},
        {"key": "b", "fid": 20.0, "exact": True},
        {"key": "c", "fid": 30.0, "exact": True},
        {"key": "d", "fid": 5.0, "exact": False},  # repaired: not the path it was scored as
        {"key": "e", "fid": None, "exact": True, "reason": "boom"},
    ]
    history = [
        {"key": "a", "status": "ok", "fitness": {"fid": 50.0}, "rung": 0},
        {"key": "a", "status": "ok", "fitness": {"fid": 1.0}, "rung": 1},  # the highest rung
        {"key": "b", "status": "failed", "fitness": {"fid": None}},
        {"key": "b", "status": "ok", "fitness": {"fid": 3.0}},
        {"key": "c", "status": "ok", "fitness": {"fid": 2.0}},
        {"key": "d", "status": "ok", "fitness": {"fid": 9.0}},
        {"key": "e", "status": "ok", "fitness": {"fid": 4.0}},
        {"key": "a", "status": "ok", "fitness": {"fid": 99.0}, "rung": 1},  # a tie: the first
    ]
    check = supernet_check({"subnet_scores": scores}, history)
    assert check["pairs"] == 3
    assert [row["fid"] for row in check["rows"]] == [1.0, 3.0, 2.0, 9.0, 4.0]
    assert check["spearman"] == pytest.approx(0.5)
    assert "Spearman 0.500 over 3 genomes" in check_line(check)
    assert supernet_check(None, history) is None and check_line(None) is None
    assert supernet_check({"derived": []}, history) is None
    one = supernet_check({"subnet_scores": scores[:1]}, history)
    assert one["pairs"] == 1 and one["spearman"] is None
    assert "undefined (1 genome with both scores; it needs 3" in check_line(one)
    # Two genomes always rank perfectly: no check, not a Spearman of 1.
    two = supernet_check({"subnet_scores": scores[:2]}, history)
    assert two["pairs"] == 2 and two["spearman"] is None
    assert "cannot be checked" in check_line(two) and "Spearman" not in check_line(two)


@pytest.mark.keras
def test_the_supernet_has_a_genomes_interfaces_and_its_alphas_learn():
    from kgan_nas import data as data_lib
    from kgan_nas.supernet import network
    from kgan_nas.supernet.search import train_supernet

    generator, discriminator = network.build_supernet(TINY_SPACE)
    assert generator.output_shape == (None, 8, 8, 1)
    assert discriminator.output_shape == (None, 1)
    images = data_lib.load_dataset("digits", seed=0).train[:256]
    scored = []

    def score(generator):
        images = generator.predict(np.zeros((4, TINY_SPACE.latent_dim), "float32"), verbose=0)
        scored.append(images.shape)
        return float(len(scored))

    result = train_supernet(
        TINY_SPACE, images, steps=8, batch_size=16, seed=0, jit_compile=False, top=3, score=score
    )
    assert result["status"] == "ok" and result["steps"] == 8
    assert scored and all(shape == (4, 8, 8, 1) for shape in scored)
    assert len(result["subnet_scores"]) == len(result["derived"])
    uniform = 1.0 / len(result["candidates"]["generator"])
    weights = result["generator_weights"][0]
    assert sum(weights) == pytest.approx(1.0) and max(weights) > uniform  # it moved
    assert 1 <= len(result["derived"]) <= 3
    json.dumps(result)  # kept as supernet.json


@pytest.mark.keras
@pytest.mark.slow
def test_a_differentiable_search_evaluates_the_derived_genomes_first_and_resumes(
    tmp_path, monkeypatch
):
    directory = tmp_path / "run"
    result = tiny_real_search(
        directory,
        strategy="differentiable",
        strategy_options={"supernet_steps": 6},
        population=2,
    )
    with open(directory / "supernet.json", encoding="utf-8") as stream:
        supernet = json.load(stream)
    assert supernet["status"] == "ok" and supernet["steps"] == 6
    derived = [kgan_nas.core.genome.Genome.from_dict(g).key() for g in supernet["derived"]]
    assert [r["key"] for r in result.history][: len(derived)] == derived
    # Each derived genome was also scored as a path of the supernet, and the run
    # compares those scores with the same genomes trained alone.
    assert [row["key"] for row in supernet["subnet_scores"]] == derived
    check = result.supernet_check()
    assert [row["key"] for row in check["rows"]] == derived
    assert all(row["fid"] is not None for row in check["rows"] if row["exact"])
    assert "Supernet check" in result.summary()
    from kgan_nas import cli
    from tests.test_report import _tables

    assert cli.main(["report", str(directory)]) == 0
    header, *rows = _tables((directory / "report.html").read_text(encoding="utf-8"))[
        "supernet-check-table"
    ]
    assert header[1] == "FID as a supernet path" and [row[0] for row in rows] == derived
    # The derived genome is an ordinary candidate: its generator loads in safe mode.
    import keras

    path = os.path.join(directory, "candidates", derived[0], "generator.keras")
    assert keras.saving.load_model(path, compile=False, safe_mode=True).output_shape[1:] == (
        8,
        8,
        1,
    )

    # A resumed search reads the supernet back instead of training it again.
    from kgan_nas.supernet import search as supernet_search

    def no_training(*args, **kwargs):
        raise AssertionError("the supernet was trained again")

    monkeypatch.setattr(supernet_search, "train_supernet", no_training)
    again = tiny_real_search(
        directory,
        strategy="differentiable",
        strategy_options={"supernet_steps": 6},
        population=2,
        generations=2,
    )
    assert len(again.history) == 4


def test_a_failed_supernet_is_not_kept_and_a_resume_trains_it_again(tmp_path, monkeypatch):
    """A supernet that failed leaves no supernet.json; trained on resume, its genomes
    still go first although the checkpoint was saved without them."""
    from kgan_nas.supernet import search as supernet_search

    genome = TINY_SPACE.sample(np.random.default_rng(5))

    def failing(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(supernet_search, "train_supernet", failing)
    found = supernet_search.run_supernet(
        str(tmp_path),
        TINY_SPACE,
        None,
        steps=5,
        batch_size=4,
        seed=0,
        jit_compile=False,
        top=2,
        say=lambda *args: None,
    )
    assert found["status"] == "error" and "out of memory" in found["reason"]
    assert not (tmp_path / "supernet.json").exists()
    before = DifferentiableSearch(TINY_SPACE, seed=0)
    before.use_supernet(found)
    for asked in before.ask(2):
        before.tell(asked, kgan_nas.core.fitness.Fitness(fid=5.0))
    state = json.loads(json.dumps(before.state_dict()))
    after = DifferentiableSearch(TINY_SPACE, seed=0)
    after.use_supernet({"status": "ok", "steps": 5, "seconds": 1.0, "derived": [genome.to_dict()]})
    after.load_state_dict(state)
    assert after.supernet["status"] == "ok" and after.ask(1)[0].key() == genome.key()


def test_the_strategy_queues_what_the_supernet_derived_and_keeps_its_cost():
    from kgan_nas.core.genome import Genome

    strategy = DifferentiableSearch(TINY_SPACE, seed=0, supernet_steps=10)
    genome = TINY_SPACE.sample(np.random.default_rng(3))
    strategy.use_supernet(
        {"status": "ok", "reason": "", "steps": 10, "seconds": 1.5, "derived": [genome.to_dict()]}
    )
    asked = strategy.ask(3)
    assert asked[0].key() == genome.key() and len(asked) == 3
    state = json.loads(json.dumps(strategy.state_dict()))
    again = DifferentiableSearch(TINY_SPACE, seed=0, supernet_steps=10)
    again.load_state_dict(state)
    assert again.supernet == {
        "status": "ok",
        "reason": "",
        "steps": 10,
        "seconds": 1.5,
        "derived": [genome.key()],
    }
    assert isinstance(Genome.from_dict(genome.to_dict()), Genome)
    with pytest.raises(ValueError, match="supernet_steps"):
        DifferentiableSearch(TINY_SPACE, supernet_steps=0)
    with pytest.raises(ValueError, match="unconditional spaces only"):
        DifferentiableSearch(dataclasses.replace(TINY_SPACE, num_classes=10))
    with pytest.raises(ValueError, match="discriminator no layer kind"):
        DifferentiableSearch(dataclasses.replace(TINY_SPACE, discriminator_layer_types=("dense",)))


def test_the_budget_line_states_the_supernets_steps_before_the_search_starts():
    from kgan_nas import api
    from kgan_nas import config

    budget = config.resolve_budget("quick")
    strategy = DifferentiableSearch(TINY_SPACE, seed=0)
    steps = api._supernet_steps(strategy, budget)
    assert steps == budget["population"] * budget["steps_per_candidate"]
    assert api._supernet_steps(DifferentiableSearch(TINY_SPACE, supernet_steps=7), budget) == 7
    assert api._supernet_steps(kgan_nas.strategies.RandomSearch(TINY_SPACE), budget) is None
    (line, *_) = config.budget_lines("quick", budget, None, supernet_steps=steps)
    assert f"after a supernet of {steps:,} steps (not in the time estimate)" in line
    assert "supernet" not in config.budget_lines("quick", budget, None)[0]


def test_the_command_line_hands_supernet_steps_to_the_gradient_based_search(monkeypatch):
    from kgan_nas.cli import commands as cli

    seen = captured_search_arguments(monkeypatch)
    argv = ["search", "--strategy", "differentiable", "--supernet-steps", "40", "--quiet"]
    assert cli.main(argv) != 0
    assert seen["strategy"] == "differentiable"
    assert seen["options"].strategy_options == {"supernet_steps": 40}


def test_a_custom_evaluator_gets_no_path_scores_it_could_not_compare_with(tmp_path, monkeypatch):
    """Path scores come from the standard scoring; under a custom evaluator the
    candidates are scored another way, so no path is scored (and no check made)."""
    from tiny_runs import scripted_search
    from tiny_runs import skip_worker_files

    from kgan_nas.supernet import search as supernet_search

    skip_worker_files(monkeypatch, tmp_path)
    genome = TINY_SPACE.sample(np.random.default_rng(7))
    scores = []

    def fake_supernet(directory, space, images, **kwargs):
        scores.append(kwargs["score"])
        return {
            "status": "ok",
            "reason": "",
            "steps": 4,
            "seconds": 0.1,
            "derived": [genome.to_dict()],
        }

    monkeypatch.setattr(supernet_search, "run_supernet", fake_supernet)
    result = scripted_search(
        tmp_path / "run", space=TINY_SPACE, strategy="differentiable", population=2
    )
    assert scores == [None]
    assert result.history[0]["key"] == genome.key() and result.supernet_check() is None
