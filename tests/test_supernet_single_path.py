"""Single-path supernet training and weight-sharing evaluation (`"single_path"`)."""

import json

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

SPACE_28 = kgan_nas.SearchSpace(image_shape=(28, 28, 1), max_params=150_000)


@pytest.mark.keras
@pytest.mark.backend
def test_a_sampling_mix_passes_one_whole_input_per_training_call():
    import keras

    from kgan_nas.supernet.network import ArchitectureMix

    mix = ArchitectureMix(3, sample_paths=True, seed=4)
    inputs = [np.full((2, 4), float(i), dtype="float32") for i in range(3)]
    mix(inputs)
    mix.alpha.assign(np.array([100.0, -100.0, -100.0], dtype="float32"))
    drawn = []
    for _ in range(30):
        out = np.asarray(mix(inputs, training=True))
        # Exactly one operation's output, never a mixture.
        assert len(np.unique(out)) == 1 and out[0, 0] in (0.0, 1.0, 2.0)
        drawn.append(int(out[0, 0]))
    # Uniform draws, not the alphas (which pick input 0): every input appears.
    assert set(drawn) == {0, 1, 2}
    # Inference uses the alphas, so `select_path` fixes what is scored.
    np.testing.assert_array_equal(np.asarray(mix(inputs, training=False)), inputs[0])
    again = keras.layers.deserialize(keras.layers.serialize(mix))
    assert (again.candidates, again.sample_paths, again.seed) == (3, True, 4)
    # A mixing (default) layer ignores the training flag.
    plain = ArchitectureMix(3)
    plain(inputs)
    assert plain.seed_generator is None
    np.testing.assert_allclose(np.asarray(plain(inputs, training=True)), np.ones((2, 4)))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(1, 40), side=st.sampled_from([8, 16, 28]))
def test_random_paths_are_distinct_exact_genomes_of_the_space(seed, count, side):
    from kgan_nas.core import supernet_slots
    from kgan_nas.supernet.search import random_paths

    space = kgan_nas.SearchSpace(image_shape=(side, side, 1), max_params=150_000)
    g_genes, d_genes, slots = supernet_slots.skeleton(space)
    paths = random_paths(space, TrainingGenes(), count, seed)
    assert 1 <= len(paths) <= min(count, len(g_genes) ** slots)
    assert len({tuple(p["generator"]) for p in paths}) == len(paths)
    for path in paths:
        genome = path["genome"]
        assert path["exact"] and not space.problems(genome)
        assert list(genome.generator) == [g_genes[i] for i in path["generator"]]
        assert list(genome.discriminator) == [d_genes[i] for i in path["discriminator"]]
    assert [p["genome"].key() for p in random_paths(space, TrainingGenes(), count, seed)] == [
        p["genome"].key() for p in paths
    ]


def test_weight_sharing_ranks_the_drawn_paths_by_their_scores(monkeypatch):
    from kgan_nas.supernet import search as supernet_search

    chosen = []
    monkeypatch.setattr(
        supernet_search.network, "select_path", lambda m, p, c: chosen.append(tuple(c))
    )
    monkeypatch.setattr("kgan_nas.training.ema.recompute_batch_norm", lambda g: 0)
    fids = {}

    def score(generator):
        # A path's score depends on its choices only; one fails, one is non-finite.
        choice = chosen[-1]
        fids.setdefault(choice, [None, float("inf"), 30.0, 10.0, 20.0][len(fids) % 5])
        if fids[choice] is None:
            raise FloatingPointError("NaN images")
        return fids[choice]

    ranked = supernet_search.ranked_paths(SPACE_28, object(), TrainingGenes(), 10, 4, 3, score)
    drawn = supernet_search.random_paths(SPACE_28, TrainingGenes(), 10, 3)
    assert len(ranked["path_scores"]) == len(drawn) == 10
    assert [r["key"] for r in ranked["path_scores"]] == [p["genome"].key() for p in drawn]
    best = [r["fid"] for r in ranked["subnet_scores"]]
    assert best == sorted(best) and best[0] == 10.0 and None not in best
    assert [r["key"] for r in ranked["subnet_scores"]] == [
        kgan_nas.core.genome.Genome.from_dict(g).key() for g in ranked["derived"]
    ]
    failed = [r for r in ranked["path_scores"] if r["fid"] is None]
    assert failed and all("reason" in r for r in failed)
    json.dumps(ranked, allow_nan=False)
    # Without a score (a custom evaluator) the first drawn go first, unscored.
    unscored = supernet_search.ranked_paths(SPACE_28, None, TrainingGenes(), 10, 4, 3, None)
    assert unscored == {"derived": [p["genome"].to_dict() for p in drawn[:4]]}


@pytest.mark.keras
@pytest.mark.backend
def test_a_single_path_supernet_learns_shared_weights_and_no_architecture_weights():
    from kgan_nas import data as data_lib
    from kgan_nas.supernet.search import train_supernet

    images = data_lib.load_dataset("digits", seed=0).train[:256]
    result = train_supernet(
        TINY_SPACE,
        images,
        steps=3,
        batch_size=16,
        seed=0,
        jit_compile=False,
        top=2,
        score=lambda generator: float(np.mean(generator.get_layer("image").kernel.value)),
        single_path=True,
        path_samples=4,
    )
    assert result["status"] == "ok" and result["training"] == "single_path"
    # The alphas get no gradient from a drawn path: they stay uniform.
    weights = result["generator_weights"][0]
    np.testing.assert_allclose(weights, [1.0 / len(weights)] * len(weights))
    assert len(result["path_scores"]) == 4 and len(result["derived"]) == 2
    assert [r["fid"] for r in result["subnet_scores"]] == sorted(
        r["fid"] for r in result["path_scores"]
    )[:2]
    assert result["path_seconds"] >= 0
    json.dumps(result, allow_nan=False)


def test_the_strategy_checks_and_records_its_supernet_training():
    strategy = DifferentiableSearch(TINY_SPACE, supernet_training="single_path", path_samples=9)
    config = strategy.get_config()
    assert config["supernet_training"] == "single_path" and config["path_samples"] == 9
    assert DifferentiableSearch(TINY_SPACE).get_config()["supernet_training"] == "mixture"
    with pytest.raises(ValueError, match="supernet_training='darts' is not one of"):
        DifferentiableSearch(TINY_SPACE, supernet_training="darts")
    with pytest.raises(ValueError, match="path_samples"):
        DifferentiableSearch(TINY_SPACE, path_samples=0)


def test_the_search_trains_the_supernet_the_strategy_asks_for(tmp_path, monkeypatch):
    from tiny_runs import skip_worker_files
    from tiny_runs import supernet_search_arguments

    skip_worker_files(monkeypatch, tmp_path)
    options = {"supernet_training": "single_path", "path_samples": 12}
    asked, genome, result = supernet_search_arguments(tmp_path / "run", monkeypatch, options)
    assert asked["single_path"] is True and asked["path_samples"] == 12
    assert result.history[0]["key"] == genome.key()


def test_the_command_line_hands_the_supernet_training_on_and_refuses_it_elsewhere(monkeypatch):
    from kgan_nas.cli import commands as cli

    seen = captured_search_arguments(monkeypatch)
    argv = ["search", "--strategy", "differentiable", "--supernet-training", "single_path"]
    assert cli.main(argv + ["--quiet"]) != 0
    assert seen["options"].strategy_options == {"supernet_training": "single_path"}
    seen.clear()
    assert cli.main(["search", "--supernet-training", "single_path", "--quiet"]) != 0
    assert not seen  # refused before any search


def test_random_paths_reach_every_generator_some_discriminator_completes():
    """A cost bound depends on both networks: a generator is kept whenever some
    discriminator path makes it a genome of the space, not only on its first draw."""
    import itertools

    from kgan_nas.core import supernet_slots
    from kgan_nas.core.genome import Genome
    from kgan_nas.supernet.search import random_paths

    g_genes, d_genes, slots = supernet_slots.skeleton(SPACE_28)
    choices = list(itertools.product(range(len(d_genes)), repeat=slots))
    exact = {
        g
        for g in itertools.product(range(len(g_genes)), repeat=slots)
        if any(
            not SPACE_28.problems(
                Genome([g_genes[i] for i in g], [d_genes[i] for i in d], TrainingGenes())
            )
            for d in choices
        )
    }
    assert 0 < len(exact) < len(g_genes) ** slots  # the bound does rule some out
    paths = random_paths(SPACE_28, TrainingGenes(), len(exact), seed=0)
    assert {tuple(p["generator"]) for p in paths} == exact


def test_runs_stored_before_single_path_training_still_resume():
    strategy = DifferentiableSearch(TINY_SPACE, seed=2)
    strategy.ask(2)
    state = json.loads(json.dumps(strategy.state_dict()))
    for key in ("supernet_training", "path_samples"):
        del state["config"][key]
    restored = DifferentiableSearch(TINY_SPACE, seed=2)
    restored.load_state_dict(state)
    assert restored.get_config()["supernet_training"] == "mixture"
    # A run stored with single-path training does not resume as a mixture.
    single = DifferentiableSearch(TINY_SPACE, seed=2, supernet_training="single_path")
    with pytest.raises(ValueError, match="supernet_training"):
        DifferentiableSearch(TINY_SPACE, seed=2).load_state_dict(single.state_dict())


def test_the_check_says_when_it_ranks_only_the_best_scored_paths():
    from kgan_nas.results.supernet_check import check_line
    from kgan_nas.results.supernet_check import supernet_check

    scored = (("a", 1.0), ("b", 2.0), ("c", 3.0))
    rows = [{"key": k, "fid": f, "exact": True} for k, f in scored]
    history = [
        {"key": k, "status": "ok", "fitness": {"fid": f}}
        for k, f in (("a", 5.0), ("b", 9.0), ("c", 12.0))
    ]
    drawn = supernet_check({"subnet_scores": rows, "path_scores": rows * 4}, history)
    assert drawn["drawn"] == 12 and drawn["spearman"] == pytest.approx(1.0)
    assert "the best 3 of 12 random paths by path score, a narrow range" in check_line(drawn)
    mixture = supernet_check({"subnet_scores": rows}, history)
    assert "drawn" not in mixture and "narrow range" not in check_line(mixture)
