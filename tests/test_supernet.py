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
    assert keras.layers.deserialize(keras.layers.serialize(mix)).candidates == 3


@pytest.mark.keras
def test_the_supernet_has_a_genomes_interfaces_and_its_alphas_learn():
    from kgan_nas import data as data_lib
    from kgan_nas.supernet import network
    from kgan_nas.supernet.search import train_supernet

    generator, discriminator = network.build_supernet(TINY_SPACE)
    assert generator.output_shape == (None, 8, 8, 1)
    assert discriminator.output_shape == (None, 1)
    images = data_lib.load_dataset("digits", seed=0).train[:256]
    result = train_supernet(
        TINY_SPACE, images, steps=8, batch_size=16, seed=0, jit_compile=False, top=3
    )
    assert result["status"] == "ok" and result["steps"] == 8
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
