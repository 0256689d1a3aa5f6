"""Particle swarm search: encoding, validity, bounds, determinism, resume, convergence."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_strategies import TINY_SPACE
from tiny_runs import scripted_evaluator
from tiny_runs import scripted_search
from tiny_runs import skip_worker_files

import kgan_nas
from kgan_nas import config as config_lib
from kgan_nas.callbacks import SearchCallback
from kgan_nas.cli import commands as cli
from kgan_nas.cli import parser as cli_parser
from kgan_nas.core import genome as genome_lib
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.core.space import SearchSpace
from kgan_nas.results.search_result import SearchResult
from kgan_nas.strategies import STRATEGIES
from kgan_nas.strategies import ParticleSwarmSearch
from kgan_nas.strategies import RandomSearch
from kgan_nas.strategies import encoding as encoding_lib
from kgan_nas.strategies import get_strategy
from kgan_nas.strategies import with_population

# Pure Python: nothing here depends on the Keras backend, so these tests are not
# re-run under JAX (tests/test_backends.py).

SPACE = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=60_000)

_LAYER_FIELDS = ("kind", "size", "kernel", "stride", "activation", "norm", "rate")
_TRAINING_FIELDS = ("optimizer", "g_learning_rate", "d_learning_rate", "beta_1", "beta_2", "loss")


def distance(genome, target):
    """Synthetic 'FID': layer-count differences plus mismatched genes, slot by slot."""
    total = 0.0
    for network in ("generator", "discriminator"):
        mine, theirs = getattr(genome, network), getattr(target, network)
        total += abs(len(mine) - len(theirs))
        for a, b in zip(mine, theirs):
            total += sum(getattr(a, f) != getattr(b, f) for f in _LAYER_FIELDS) / len(_LAYER_FIELDS)
    return total + sum(
        getattr(genome.training, f) != getattr(target.training, f) for f in _TRAINING_FIELDS
    )


def params_fitness(space, target=20_000):
    """A smooth objective: how far the parameter count is from `target`, on a log scale.

    Every fifth genome (by key) fails, so failures are always part of the run."""

    def evaluate(genome):
        if int(genome.key(), 16) % 5 == 0:
            return Fitness.failed("nan", "scripted failure")
        return Fitness(fid=abs(math.log(space.params(genome) / target)))

    return evaluate


def run(strategy, evaluate, generations, size):
    """Drives ask/tell; returns the asked keys, generation by generation."""
    asked = []
    for _ in range(generations):
        genomes = strategy.ask(size)
        asked.append([g.key() for g in genomes])
        for genome in genomes:
            strategy.tell(genome, evaluate(genome))
    return asked


def assert_in_bounds(strategy):
    low, high = strategy.encoding.low, strategy.encoding.high
    positions, velocities = strategy.positions, strategy.velocities
    assert positions.shape == velocities.shape == (strategy.swarm_size, strategy.encoding.size)
    assert np.all(positions >= low) and np.all(positions <= high)
    limit = strategy.max_velocity * (high - low)
    assert np.all(np.abs(velocities) <= limit)


@st.composite
def spaces(draw):
    """Random search spaces: shapes, layer bounds and kinds, choices, recipe, classes, budget."""

    def subset(values):
        return tuple(draw(st.lists(st.sampled_from(values), min_size=1, unique=True)))

    g_low = draw(st.integers(0, 2))
    d_low = draw(st.integers(0, 2))
    settings = dict(
        image_shape=draw(st.sampled_from([(8, 8, 1), (4, 4, 3), (16, 16, 1), (8, 16, 1)])),
        latent_dim=8,
        generator_layers=(g_low, draw(st.integers(max(g_low, 1), 5))),
        discriminator_layers=(d_low, draw(st.integers(max(d_low, 1), 4))),
        generator_layer_types=subset(genome_lib.GENERATOR_KINDS),
        discriminator_layer_types=subset(genome_lib.DISCRIMINATOR_KINDS),
        filters=subset((4, 8, 16, 32)),
        units=subset((8, 16, 32)),
        kernel_sizes=subset((1, 3, 5)),
        activations=subset(genome_lib.ACTIVATIONS),
        generator_normalizations=subset(("none", "batch", "layer")),
        discriminator_normalizations=subset(genome_lib.NORMALIZATIONS),
        dropout_rates=subset((0.1, 0.25, 0.5)),
        optimizers=subset(genome_lib.OPTIMIZERS),
        learning_rates=subset((1e-4, 2e-4, 5e-4, 1e-3)),
        beta_1=subset((0.0, 0.5, 0.9)),
        beta_2=subset((0.9, 0.99, 0.999)),
        losses=subset(genome_lib.LOSSES),
        max_params=draw(st.sampled_from([None, 20_000, 100_000])),
        num_classes=draw(st.sampled_from([None, 3])),
    )
    try:
        space = SearchSpace(**settings)
        if draw(st.booleans()):
            space = space.with_recipe()
        space.sample(np.random.default_rng(0))
    except (ValueError, InvalidGenomeError):
        assume(False)  # An impossible space: not what these tests are about.
    return space


# ----------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(space=spaces(), seed=st.integers(0, 2**32 - 1))
def test_encoding_round_trips_every_valid_genome(space, seed):
    """decode(encode(g)) == g whatever the free coordinates; positions lie in the box."""
    rng = np.random.default_rng(seed)
    encoding = encoding_lib.SwarmEncoding(space)
    assert len(encoding.names) == encoding.size == len(encoding.low) == len(encoding.high)
    assert np.all(encoding.low <= encoding.high)
    for _ in range(3):
        genome = space.sample(rng)
        for fill in (None, rng.uniform(encoding.low, encoding.high)):
            position = encoding.encode(genome, fill=fill)
            assert np.all(position >= encoding.low) and np.all(position <= encoding.high)
            assert encoding.decode(position) == genome


def test_encoding_coordinates_of_the_default_space():
    """Two layer counts, eight genes per layer slot, the training genes on log/linear scales."""
    encoding = encoding_lib.SwarmEncoding(SPACE)
    slots = SPACE.generator_layers[1] + SPACE.discriminator_layers[1]
    assert encoding.size == 2 + 8 * slots + 11
    names = list(encoding.names)
    assert names[:2] == ["generator.layers", "discriminator.layers"]
    assert names[2:10] == [f"generator[0].{f}" for f in encoding_lib._SLOT_FIELDS]
    lr = names.index("training.g_learning_rate")
    assert (encoding.low[lr], encoding.high[lr]) == (math.log(1e-4), math.log(1e-3))
    kind = names.index("generator[0].kind")
    assert (encoding.low[kind], encoding.high[kind]) == (0, len(SPACE.generator_layer_types))
    # The last choice covers its cell's upper end; a learning rate snaps in log space.
    position = encoding.encode(SPACE.sample(np.random.default_rng(0)))
    position[kind] = encoding.high[kind]
    position[lr] = math.log(3e-4)  # log-nearest of (2e-4, 5e-4) is 2e-4
    genome = encoding.decode(position)
    assert genome.training.g_learning_rate == 2e-4
    assert SPACE.problems(genome) == []
    with pytest.raises(ValueError, match="coordinates"):
        encoding.decode(position[:-1])


def test_conditional_space_encodes_the_conditioning_genes():
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=8, num_classes=4)
    encoding = encoding_lib.SwarmEncoding(space)
    assert encoding.names[-3:] == (
        "conditioning.generator",
        "conditioning.discriminator",
        "conditioning.embedding_dim",
    )
    strategy = ParticleSwarmSearch(space, swarm_size=6, seed=1)
    for genome in strategy.ask(6):
        assert genome.conditioning is not None and space.problems(genome) == []


# ----------------------------------------------------------------------
# Validity, bounds, bests
# ----------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    space=spaces(),
    seed=st.integers(0, 2**32 - 1),
    swarm_size=st.integers(1, 6),
    size=st.integers(1, 7),
)
def test_every_asked_genome_is_valid_and_the_swarm_stays_in_bounds(space, seed, swarm_size, size):
    """Asked genomes are valid and new; positions and velocities stay in the box; the
    swarm's best is always `best()`, never a failure."""
    strategy = ParticleSwarmSearch(space, swarm_size=swarm_size, max_velocity=0.3, seed=seed)
    evaluate = params_fitness(space)
    seen = set()
    for _ in range(4):
        genomes = strategy.ask(size)
        assert len(genomes) <= size
        for genome in genomes:
            assert space.problems(genome) == []
            assert genome.key() not in seen
            seen.add(genome.key())
        assert_in_bounds(strategy)
        for genome in genomes:
            strategy.tell(genome, evaluate(genome))
    strategy.ask(1)  # learns from the last results
    assert strategy.swarm_best() == strategy.best()
    for best in strategy.personal_bests():
        assert best is None or best[1].ok


def test_failed_results_never_become_bests():
    """With every result failed there are no bests; the first success becomes both."""
    strategy = ParticleSwarmSearch(SPACE, swarm_size=4, seed=3)
    for _ in range(3):
        for genome in strategy.ask(4):
            strategy.tell(genome, Fitness.failed("nan", "scripted"))
    strategy.ask(4)
    assert strategy.swarm_best() is None and strategy.best() is None
    assert strategy.personal_bests() == [None] * 4
    assert_in_bounds(strategy)  # the swarm still moves (on inertia alone)
    genomes = strategy.ask(4)
    strategy.tell(genomes[0], Fitness(fid=3.0))
    for genome in genomes[1:]:
        strategy.tell(genome, Fitness.failed("error", "scripted"))
    strategy.ask(1)
    assert strategy.swarm_best()[0] == genomes[0] == strategy.best()[0]
    assert sum(best is not None for best in strategy.personal_bests()) == 1


def test_a_genome_sampled_by_ask_can_become_the_swarm_best():
    """In a space of four genomes the particles repeat themselves; `ask` fills in with
    random samples, and the best of those still leads the swarm."""
    strategy = ParticleSwarmSearch(TINY_SPACE, swarm_size=2, seed=3)
    asked, sampled = [], []
    for _ in range(3):
        genomes = strategy.ask(2)
        asked += [g.key() for g in genomes]
        # Proposals still awaiting their result: the genomes particles decoded to.
        proposed = {key for key, _, _ in strategy._proposals}
        sampled += [g.key() for g in genomes if g.key() not in proposed]
        for genome in genomes:
            strategy.tell(genome, Fitness(fid=float(int(genome.key(), 16) % 97)))
    assert len(set(asked)) == len(asked) == 4
    assert strategy.ask(2) == []  # the space is exhausted, nothing repeated
    assert strategy.best()[0].key() in sampled
    assert strategy.swarm_best() == strategy.best()


# ----------------------------------------------------------------------
# Options, registration
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"swarm_size": 0}, "swarm_size"),
        ({"inertia": 1.0}, "inertia"),
        ({"inertia": -0.1}, "inertia"),
        ({"cognitive": -1}, "cognitive"),
        ({"social": math.nan}, "social"),
        ({"max_velocity": 0}, "max_velocity"),
        ({"max_velocity": 1.5}, "max_velocity"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParticleSwarmSearch(SPACE, **kwargs)


def test_defaults_are_clerc_and_kennedy_constriction():
    """chi = 0.7298 for phi = 4.1: inertia chi, accelerations chi * 2.05."""
    strategy = ParticleSwarmSearch(SPACE)
    phi = 4.1
    chi = 2 / abs(2 - phi - math.sqrt(phi**2 - 4 * phi))
    assert strategy.inertia == pytest.approx(chi, abs=1e-4)
    assert strategy.cognitive == strategy.social == pytest.approx(chi * phi / 2, abs=1e-4)
    assert strategy.get_config() == {
        "objectives": ["fid"],
        "seed": 0,
        "swarm_size": 12,
        "inertia": 0.7298,
        "cognitive": 1.49618,
        "social": 1.49618,
        "max_velocity": 0.5,
    }


def test_registered_by_name_in_the_library_config_and_cli():
    """`strategy="pso"` builds it (the search's population sets the swarm size), config
    names it for resume, and the CLI takes `--strategy pso`."""
    assert STRATEGIES["pso"] is ParticleSwarmSearch
    strategy = get_strategy("pso", SPACE, seed=4, swarm_size=5, inertia=0.5)
    assert isinstance(strategy, ParticleSwarmSearch)
    assert (strategy.swarm_size, strategy.inertia, strategy.seed) == (5, 0.5, 4)
    assert with_population("pso", None, 7) == {"swarm_size": 7}
    assert with_population("pso", {"swarm_size": 3}, 7) == {"swarm_size": 3}
    with pytest.raises(ValueError, match=r"no option\(s\) \['population_size'\]"):
        get_strategy("pso", SPACE, population_size=4)
    assert config_lib.STRATEGY_NAMES["ParticleSwarmSearch"] == "pso"
    args = cli_parser.build_parser().parse_args(["search", "--strategy", "pso"])
    assert args.strategy == "pso"


# ----------------------------------------------------------------------
# Determinism and resume
# ----------------------------------------------------------------------


def test_same_seed_same_genomes_different_seed_different():
    evaluate = params_fitness(SPACE)
    first = run(ParticleSwarmSearch(SPACE, swarm_size=6, seed=7), evaluate, 5, 6)
    second = run(ParticleSwarmSearch(SPACE, swarm_size=6, seed=7), evaluate, 5, 6)
    other = run(ParticleSwarmSearch(SPACE, swarm_size=6, seed=8), evaluate, 5, 6)
    assert first == second
    assert first != other


@pytest.mark.parametrize(
    "objectives, swarm_size, size",
    [(("fid",), 6, 6), (("fid", "params"), 6, 6), (("fid",), 5, 3)],
)
def test_state_round_trip_through_json_resumes_identically(objectives, swarm_size, size):
    """Killed after its tells, or mid-generation with results untold, a swarm restored
    from JSON asks exactly what the uninterrupted one asks (also when asks are smaller
    than the swarm, so the next particle to move is not the first)."""
    evaluate = params_fitness(SPACE)

    def make(seed=5):
        return ParticleSwarmSearch(SPACE, swarm_size=swarm_size, objectives=objectives, seed=seed)

    whole = make()
    expected = run(whole, evaluate, 7, size)
    final = (whole.positions, whole.velocities)

    killed = make()
    asked = run(killed, evaluate, 3, size)
    state = json.loads(json.dumps(killed.state_dict()))
    resumed = make(seed=999)  # the RNG state comes from the checkpoint
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(resumed.positions, killed.positions)
    np.testing.assert_array_equal(resumed.velocities, killed.velocities)
    assert resumed.personal_bests() == killed.personal_bests()
    # Mid-generation: asked, two told, then killed.
    genomes = resumed.ask(size)
    asked.append([g.key() for g in genomes])
    for genome in genomes[:2]:
        resumed.tell(genome, evaluate(genome))
    again = make(seed=123)
    again.load_state_dict(json.loads(json.dumps(resumed.state_dict())))
    assert again.untold() == genomes[2:]
    for genome in genomes[2:]:
        again.tell(genome, evaluate(genome))
    asked += run(again, evaluate, 3, size)
    assert asked == expected
    np.testing.assert_array_equal(again.positions, final[0])
    np.testing.assert_array_equal(again.velocities, final[1])
    assert again.best() == whole.best() and again.swarm_best() == whole.swarm_best()


def test_state_before_the_first_ask_and_mismatches():
    """A fresh swarm's state loads; other hyperparameters or a damaged swarm are refused."""
    fresh = ParticleSwarmSearch(SPACE, swarm_size=4, seed=2)
    restored = ParticleSwarmSearch(SPACE, swarm_size=4)
    restored.load_state_dict(json.loads(json.dumps(fresh.state_dict())))
    assert [g.key() for g in restored.ask(4)] == [g.key() for g in fresh.ask(4)]
    state = fresh.state_dict()
    with pytest.raises(ValueError, match="inertia"):
        ParticleSwarmSearch(SPACE, swarm_size=4, inertia=0.5).load_state_dict(state)
    with pytest.raises(ValueError, match="swarm_size"):
        ParticleSwarmSearch(SPACE, swarm_size=5).load_state_dict(state)
    with pytest.raises(ValueError, match="ParticleSwarmSearch"):
        RandomSearch(SPACE).load_state_dict(state)
    damaged = {**state, "extra": {**state["extra"], "positions": [[0.0]]}}
    target = ParticleSwarmSearch(SPACE, swarm_size=4)
    with pytest.raises(ValueError, match="Malformed"):
        target.load_state_dict(damaged)
    best = {**state, "extra": {**state["extra"], "best_results": [42, None, None, None]}}
    with pytest.raises(ValueError, match="Malformed"):
        target.load_state_dict(best)
    assert target.positions is None and target.results() == []


# ----------------------------------------------------------------------
# Convergence on a synthetic objective
# ----------------------------------------------------------------------


def _diameter(strategy):
    """Mean distance of the particles to their centroid, per coordinate range."""
    ranges = strategy.encoding.high - strategy.encoding.low
    moving = ranges > 0
    points = strategy.positions[:, moving] / ranges[moving]
    return float(np.mean(np.abs(points - points.mean(axis=0))))


def test_swarm_improves_on_its_first_swarm_and_converges():
    """Recovering a hidden genome (5 targets, 15 generations of 10): the best distance
    improves on the first swarm's in every run and by more than 1.5 on average (measured:
    5.31 -> 2.86), beats random search at the same budget by more than 0.5 on average
    (measured: 3.97), and the swarm contracts to under 60 % of its first diameter
    (measured: 33 to 39 %)."""
    firsts, finals, randoms = [], [], []
    for seed in range(5):
        target = SPACE.sample(np.random.default_rng(500 + seed))

        def evaluate(genome):
            return Fitness(fid=distance(genome, target))

        swarm = ParticleSwarmSearch(SPACE, swarm_size=10, seed=seed)
        random = RandomSearch(SPACE, seed=seed)
        run(swarm, evaluate, 1, 10)
        firsts.append(swarm.best()[1].fid)
        start = _diameter(swarm)
        run(swarm, evaluate, 14, 10)
        run(random, evaluate, 15, 10)
        finals.append(swarm.best()[1].fid)
        randoms.append(random.best()[1].fid)
        assert _diameter(swarm) < 0.6 * start, (seed, start, _diameter(swarm))
    assert all(f < first for f, first in zip(finals, firsts)), (firsts, finals)
    assert np.mean(firsts) - np.mean(finals) > 1.5, (firsts, finals)
    assert np.mean(finals) < np.mean(randoms) - 0.5, (finals, randoms)


# ----------------------------------------------------------------------
# kgan_nas.search end to end
# ----------------------------------------------------------------------


class _StopAfter(SearchCallback):
    """Interrupts the search (as a kill would) after `count` candidates."""

    def __init__(self, count):
        self.count = count

    def on_candidate_end(self, record):
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def test_search_with_pso_end_to_end_and_resume(tmp_path, monkeypatch):
    """`kgan_nas.search(strategy="pso")` runs with the scripted evaluator, sizes the swarm
    by the population, and a run interrupted mid-generation resumes to the same history."""
    skip_worker_files(monkeypatch, tmp_path)
    options = dict(strategy="pso", generations=3, population=4)
    whole = scripted_search(tmp_path / "whole", **options)
    assert whole.config["strategy"] == "ParticleSwarmSearch"
    assert whole.config["strategy_options"] == {"swarm_size": 4}
    keys = [record["key"] for record in whole.history]
    assert len(keys) == len(set(keys)) == 12
    for record in whole.history:
        genome = kgan_nas.Genome.from_dict(record["genome"])
        assert SearchSpace.from_dict(whole.config["space"]).problems(genome) == []
    directory = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        scripted_search(directory, callbacks=[_StopAfter(6)], **options)
    resumed = scripted_search(directory, **options)
    assert [record["key"] for record in resumed.history] == keys


def test_cli_search_with_strategy_pso(tmp_path, monkeypatch):
    """`kgan-nas search --strategy pso` runs a particle swarm search."""
    skip_worker_files(monkeypatch, tmp_path)
    real_search = cli.search_api.search
    monkeypatch.setattr(
        cli.search_api,
        "search",
        lambda *args, **kwargs: real_search(*args, evaluator=scripted_evaluator("fast"), **kwargs),
    )
    directory = tmp_path / "run"
    argv = ["search", "--strategy", "pso", "--preset", "quick", "--generations", "2"]
    argv += ["--population", "3", "--executor", "inprocess", "--quiet"]
    assert cli.main([*argv, "--directory", str(directory)]) == 0
    result = SearchResult(str(directory))
    assert result.config["strategy"] == "ParticleSwarmSearch"
    assert result.config["strategy_options"] == {"swarm_size": 3}
    assert len(result.history) == 6
