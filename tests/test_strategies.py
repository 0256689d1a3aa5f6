"""Ask/tell strategies, NSGA-II helpers and the GA-versus-random benchmark."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas.core import pareto
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.space import SearchSpace
from kgan_nas.strategies import GeneticSearch
from kgan_nas.strategies import RandomSearch
from kgan_nas.strategies import Strategy
from kgan_nas.strategies import get_strategy

# Pure Python (test_strategies_import_without_tensorflow_or_keras holds them to it):
# the Keras backend cannot change them, so the suite's JAX re-run leaves them out.

SPACE = SearchSpace(image_shape=(28, 28, 1), max_params=300_000)
SMALL_SPACE = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=60_000)

# A space with exactly four genomes: one generator conv and one
# discriminator dense layer, each with one of two activations.
TINY_SPACE = SearchSpace(
    image_shape=(2, 2, 1),
    latent_dim=4,
    max_start_size=2,
    generator_layers=(1, 1),
    discriminator_layers=(1, 1),
    generator_layer_types=("conv2d",),
    discriminator_layer_types=("dense",),
    filters=(4,),
    units=(4,),
    kernel_sizes=(3,),
    activations=("relu", "tanh"),
    generator_normalizations=("none",),
    discriminator_normalizations=("none",),
    dropout_rates=(0.1,),
    optimizers=("adam",),
    learning_rates=(1e-4,),
    beta_1=(0.5,),
    beta_2=(0.9,),
    losses=("hinge",),
)

_GENE_FIELDS = ("kind", "size", "kernel", "stride", "activation", "norm", "rate")


def _gene_cost(a, b):
    return sum(getattr(a, f) != getattr(b, f) for f in _GENE_FIELDS) / len(_GENE_FIELDS)


def _edit_distance(xs, ys):
    """Levenshtein distance over layer genes; substituting costs the field mismatch."""
    previous = list(range(len(ys) + 1))
    for i, x in enumerate(xs, 1):
        current = [i]
        for j, y in enumerate(ys, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + _gene_cost(x, y))
            )
        previous = current
    return previous[-1]


def genome_distance(genome, target):
    """Synthetic 'FID': how far a genome is from a hidden target genome."""
    training = sum(
        a != b
        for a, b in zip(genome.training.to_dict().values(), target.training.to_dict().values())
    )
    return (
        _edit_distance(genome.generator, target.generator)
        + _edit_distance(genome.discriminator, target.discriminator)
        + training
    )


def synthetic_fitness(space, target):
    def evaluate(genome):
        return Fitness(
            fid=float(genome_distance(genome, target)), params=space.generator_params(genome)
        )

    return evaluate


def run_generations(strategy, evaluate, generations, size=8):
    """Drives ask/tell for a few generations; returns the asked keys per generation."""
    asked = []
    for _ in range(generations):
        genomes = strategy.ask(size)
        asked.append([genome.key() for genome in genomes])
        for genome in genomes:
            strategy.tell(genome, evaluate(genome))
    return asked


def _target(space, seed=123):
    return space.sample(np.random.default_rng(seed))


def _make(kind, space=SMALL_SPACE, **kwargs):
    return {"random": RandomSearch, "genetic": GeneticSearch}[kind](space, **kwargs)


KINDS = ["random", "genetic"]


# ----------------------------------------------------------------------
# Import hygiene
# ----------------------------------------------------------------------


def test_strategies_import_without_tensorflow_or_keras():
    """Importing kgan_nas.strategies loads neither TensorFlow nor Keras nor JAX."""
    code = (
        "import sys, kgan_nas.strategies; "
        "print([m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'jax')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


# ----------------------------------------------------------------------
# pareto.py
# ----------------------------------------------------------------------


def test_dominates_is_strict_pareto_dominance():
    """Dominance needs no worse everywhere and better somewhere; NaN counts as inf."""
    assert pareto.dominates([1, 2], [1, 3])
    assert not pareto.dominates([1, 3], [1, 2])
    assert not pareto.dominates([1, 2], [1, 2])
    assert not pareto.dominates([1, 3], [2, 2])
    assert pareto.dominates([5, 5], [math.inf, 5])
    assert pareto.dominates([5, 5], [math.nan, 5])
    assert not pareto.dominates([math.inf, math.inf], [math.inf, math.inf])


def test_dominates_rejects_mismatched_vectors():
    """Vectors of different lengths raise ValueError."""
    with pytest.raises(ValueError, match="equal-length"):
        pareto.dominates([1, 2], [1, 2, 3])


def test_non_dominated_sort_known_fronts():
    """A hand-made set splits into its known fronts (duplicates, NaN and inf included)."""
    points = [
        (1, 5),
        (2, 3),
        (3, 1),  # trade-offs: front 0
        (2, 4),
        (4, 2),  # each dominated by one front-0 point
        (5, 5),  # dominated by front 1
        (math.inf, math.inf),  # a failure: dominated by everything
        (2, 3),  # duplicate of point 1: same front
        (math.nan, 0),  # NaN -> inf, but best in objective 2
    ]
    assert pareto.non_dominated_sort(points) == [[0, 1, 2, 7, 8], [3, 4], [5], [6]]


def test_non_dominated_sort_edge_cases():
    """No points give no fronts; all-equal points share one front; 2-D is required."""
    assert pareto.non_dominated_sort([]) == []
    assert pareto.non_dominated_sort([[3.0], [3.0], [3.0]]) == [[0, 1, 2]]
    assert pareto.non_dominated_sort([[2.0], [1.0], [3.0]]) == [[1], [0], [2]]
    with pytest.raises(ValueError, match="2-D"):
        pareto.non_dominated_sort([1.0, 2.0])


def test_crowding_distance_known_case():
    """Boundary points get inf and interior points the summed normalised neighbour gaps."""
    points = [(0, 4), (1, 3), (2, 1), (4, 0), (9, 9)]
    front = [0, 1, 2, 3]
    # Objective 1 spans 4: point 1 gets (2-0)/4, point 2 gets (4-1)/4.
    # Objective 2 spans 4: point 2 gets (3-0)/4, point 1 gets (4-1)/4.
    assert pareto.crowding_distance(points, front) == pytest.approx(
        [math.inf, 0.5 + 0.75, 0.75 + 0.75, math.inf]
    )


def test_crowding_distance_degenerate_fronts():
    """Small fronts are all inf, equal or infinite objectives give no NaN, bad indices raise."""
    assert pareto.crowding_distance([(1, 1), (2, 0)], [0, 1]) == [math.inf, math.inf]
    assert pareto.crowding_distance([(1, 1)], []) == []
    equal = pareto.crowding_distance([(1, 5), (1, 4), (1, 3)], [0, 1, 2])
    assert equal == [math.inf, 1.0, math.inf]
    failed = pareto.crowding_distance([(math.inf,) * 2] * 3, [0, 1, 2])
    assert not any(math.isnan(d) for d in failed)
    with pytest.raises(ValueError, match="out of range"):
        pareto.crowding_distance([(1, 1)], [3])


objective_values = st.one_of(st.integers(0, 5).map(float), st.just(math.inf))
point_sets = st.integers(1, 3).flatmap(
    lambda m: st.lists(st.tuples(*[objective_values] * m), min_size=0, max_size=25)
)


@settings(max_examples=200, deadline=None)
@given(points=point_sets)
def test_non_dominated_sort_properties(points):
    """Fronts partition points; no front dominates itself; each is dominated by its predecessor."""
    fronts = pareto.non_dominated_sort(points)
    assert sorted(i for front in fronts for i in front) == list(range(len(points)))
    for k, front in enumerate(fronts):
        for i in front:
            assert not any(pareto.dominates(points[j], points[i]) for j in front)
            if k:
                assert any(pareto.dominates(points[j], points[i]) for j in fronts[k - 1])


@settings(max_examples=200, deadline=None)
@given(points=point_sets)
def test_crowding_distance_properties(points):
    """Distances are non-negative, never NaN, and each front has infinite boundaries."""
    for front in pareto.non_dominated_sort(points):
        distance = pareto.crowding_distance(points, front)
        assert len(distance) == len(front)
        assert all(d >= 0 and not math.isnan(d) for d in distance)
        assert distance.count(math.inf) >= min(2, len(front))


# ----------------------------------------------------------------------
# Construction and validation
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "objectives, message",
    [
        (("accuracy",), "Unknown objective"),
        ((), "must not be empty"),
        (("fid", "fid"), "repeat"),
    ],
)
def test_bad_objectives_raise(objectives, message):
    """Unknown, empty or duplicate objectives raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        RandomSearch(SMALL_SPACE, objectives=objectives)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"population_size": 0}, "population_size"),
        ({"mutation_rate": 0.0}, "mutation_rate"),
        ({"crossover_rate": 1.5}, "crossover_rate"),
        ({"tournament_size": 0}, "tournament_size"),
        ({"elitism": 13}, "elitism"),
        ({"seed": -1}, "seed"),
        ({"inherit_weights": "yes"}, "inherit_weights"),
    ],
)
def test_bad_genetic_hyperparameters_raise(kwargs, message):
    """Out-of-range GA hyperparameters raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=message):
        GeneticSearch(SMALL_SPACE, **kwargs)


def test_space_must_be_a_search_space():
    """A non-SearchSpace space raises TypeError."""
    with pytest.raises(TypeError, match="SearchSpace"):
        RandomSearch({"image_shape": (8, 8, 1)})


def test_ask_rejects_non_positive_n():
    """ask(0) and ask(-1) raise ValueError."""
    strategy = RandomSearch(SMALL_SPACE)
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            strategy.ask(n)


def test_get_strategy_by_name_and_instance():
    """Names build strategies with the given kwargs; instances pass through; others raise."""
    genetic = get_strategy("genetic", SMALL_SPACE, seed=3, population_size=6)
    assert isinstance(genetic, GeneticSearch) and genetic.population_size == 6
    assert genetic.seed == 3
    assert isinstance(get_strategy("random", SMALL_SPACE), RandomSearch)
    instance = RandomSearch(SMALL_SPACE, objectives=("fid", "params"))
    assert get_strategy(instance, SMALL_SPACE, objectives=("fid", "params")) is instance
    with pytest.raises(ValueError, match="genetic.*random"):
        get_strategy("annealing", SMALL_SPACE)
    with pytest.raises(ValueError, match="objectives"):
        get_strategy(instance, SMALL_SPACE, objectives=("fid",))
    with pytest.raises(ValueError, match="Hyperparameters"):
        get_strategy(instance, SMALL_SPACE, objectives=("fid", "params"), elitism=1)
    with pytest.raises(ValueError, match="SearchSpace"):
        get_strategy(instance, SPACE, objectives=("fid", "params"))


@pytest.mark.parametrize(
    "name, option", [("genetic", "mutation_rat"), ("random", "population_size")]
)
def test_misspelt_strategy_option_names_the_accepted_ones(name, option):
    """A misspelt option fails with the list of options the strategy takes."""
    with pytest.raises(ValueError, match=rf"no option\(s\) \['{option}'\].*accepts"):
        get_strategy(name, SMALL_SPACE, **{option: 0.1})


def test_strategy_is_abstract():
    """The base class cannot be instantiated without _ask."""
    with pytest.raises(TypeError):
        Strategy(SMALL_SPACE)


# ----------------------------------------------------------------------
# Determinism, state, de-duplication
# ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_genomes_different_seed_different(kind):
    """Equal seeds and results give equal genome sequences; another seed differs."""
    evaluate = synthetic_fitness(SMALL_SPACE, _target(SMALL_SPACE))
    kwargs = {"population_size": 8} if kind == "genetic" else {}
    first = run_generations(_make(kind, seed=7, **kwargs), evaluate, 4)
    second = run_generations(_make(kind, seed=7, **kwargs), evaluate, 4)
    other = run_generations(_make(kind, seed=8, **kwargs), evaluate, 4)
    assert first == second
    assert first != other


@pytest.mark.parametrize(
    "kind, objectives",
    [
        ("random", ("fid",)),
        ("genetic", ("fid",)),
        ("genetic", ("fid", "params")),
    ],
)
def test_state_round_trip_through_json_continues_identically(kind, objectives):
    """A strategy restored from JSON state asks exactly what the original asks next."""
    evaluate = synthetic_fitness(SMALL_SPACE, _target(SMALL_SPACE))
    kwargs = {"objectives": objectives, "seed": 5}
    if kind == "genetic":
        kwargs.update(population_size=6, elitism=2)
    original = _make(kind, **kwargs)
    run_generations(original, evaluate, 3, size=6)
    # Saved after the tells and before the next ask: buffered results and
    # the not-yet-updated population must survive the round trip.
    state = json.loads(json.dumps(original.state_dict()))
    restored = _make(kind, **{**kwargs, "seed": 999})
    restored.load_state_dict(state)
    assert restored.generation == original.generation == 3
    assert [g.key() for g, _ in restored.results()] == [g.key() for g, _ in original.results()]
    assert run_generations(restored, evaluate, 4, size=6) == run_generations(
        original, evaluate, 4, size=6
    )
    assert restored.best()[0] == original.best()[0]


def test_state_round_trip_keeps_untold_genomes():
    """Genomes asked but not told before saving are restored, still untold and never re-asked."""
    strategy = RandomSearch(SMALL_SPACE, seed=2)
    genomes = strategy.ask(4)
    strategy.tell(genomes[0], Fitness(fid=1.0))
    restored = RandomSearch(SMALL_SPACE)
    restored.load_state_dict(json.loads(json.dumps(strategy.state_dict())))
    assert restored.untold() == genomes[1:]
    restored.tell(genomes[1], Fitness(fid=2.0))
    with pytest.raises(ValueError, match="already told"):
        restored.tell(genomes[0], Fitness(fid=1.0))
    assert not {g.key() for g in genomes} & {g.key() for g in restored.ask(8)}


def test_load_state_dict_rejects_mismatches():
    """Another class, format, space or hyperparameters raise ValueError and change nothing."""
    genetic = GeneticSearch(SMALL_SPACE, population_size=6)
    genetic.ask(3)
    state = genetic.state_dict()
    with pytest.raises(ValueError, match="GeneticSearch"):
        RandomSearch(SMALL_SPACE).load_state_dict(state)
    with pytest.raises(ValueError, match="format"):
        GeneticSearch(SMALL_SPACE, population_size=6).load_state_dict({**state, "format": 99})
    with pytest.raises(ValueError, match="SearchSpace"):
        GeneticSearch(SPACE, population_size=6).load_state_dict(state)
    fresh = GeneticSearch(SMALL_SPACE, population_size=8)
    with pytest.raises(ValueError, match="population_size"):
        fresh.load_state_dict(state)
    with pytest.raises(ValueError, match="Malformed"):
        GeneticSearch(SMALL_SPACE, population_size=6).load_state_dict(
            {**state, "extra": {"population": [42]}}
        )
    assert fresh.results() == [] and fresh.untold() == []
    with pytest.raises(ValueError, match="inherit_weights"):
        GeneticSearch(SMALL_SPACE, population_size=6, inherit_weights=False).load_state_dict(state)


@pytest.mark.parametrize("inherit_weights", [True, False])
def test_states_saved_before_inherit_weights_existed_still_load(inherit_weights):
    """A checkpoint written before the option existed resumes with the current setting."""
    genetic = GeneticSearch(SMALL_SPACE, population_size=6)
    genetic.ask(3)
    state = json.loads(json.dumps(genetic.state_dict()))
    del state["config"]["inherit_weights"]
    restored = GeneticSearch(SMALL_SPACE, population_size=6, inherit_weights=inherit_weights)
    restored.load_state_dict(state)
    assert [g.key() for g in restored.untold()] == [g.key() for g in genetic.untold()]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), crossover_rate=st.sampled_from([0.0, 0.5, 1.0]))
def test_bred_children_name_a_parent_from_the_population(seed, crossover_rate):
    """Each bred child names a current parent; samples name none; the option off, none."""
    evaluate = synthetic_fitness(SMALL_SPACE, _target(SMALL_SPACE))
    genetic = GeneticSearch(
        SMALL_SPACE, population_size=4, crossover_rate=crossover_rate, seed=seed
    )  # inherit_weights=True is the default
    plain = GeneticSearch(
        SMALL_SPACE,
        population_size=4,
        crossover_rate=crossover_rate,
        inherit_weights=False,
        seed=seed,
    )
    first = genetic.ask(4)
    assert all(genetic.parent(genome) is None for genome in first)  # random samples
    for genome in first:
        genetic.tell(genome, evaluate(genome))
    run_generations(plain, evaluate, 1, size=4)
    children = genetic.ask(4)
    population = {genome.key(): genome for genome, _ in genetic.population}
    named = [genetic.parent(child) for child in children]
    # Children that were bred (not random fall-backs for duplicates) name a parent.
    assert any(key is not None for key in named)
    for child, key in zip(children, named):
        if key is not None:
            assert key in population and key != child.key()
    # The option changes nothing else: the same genomes as without it.
    assert [g.key() for g in children] == [g.key() for g in plain.ask(4)]
    assert all(plain.parent(genome) is None for genome in children)


@pytest.mark.parametrize("kind", KINDS)
def test_no_genome_is_ever_asked_twice(kind):
    """Across many generations every asked key is new."""
    evaluate = synthetic_fitness(SMALL_SPACE, _target(SMALL_SPACE))
    kwargs = {"population_size": 6, "mutation_rate": 0.05} if kind == "genetic" else {}
    asked = run_generations(_make(kind, seed=1, **kwargs), evaluate, 25, size=6)
    keys = [key for generation in asked for key in generation]
    assert len(keys) == 25 * 6
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("kind", KINDS)
def test_exhausted_space_returns_fewer_genomes(kind):
    """In a four-genome space ask returns the four once, then none, without repeats."""
    strategy = _make(kind, TINY_SPACE, seed=0)
    first = strategy.ask(10)
    assert len({g.key() for g in first}) == len(first) == 4
    for genome in first:
        strategy.tell(genome, Fitness(fid=1.0))
    assert strategy.ask(3) == []
    assert strategy.generation == 1


def test_unknown_double_and_mistyped_tell_raise():
    """Telling an unasked genome, the same genome twice, or a non-Fitness raises."""
    strategy = RandomSearch(SMALL_SPACE, seed=0)
    genome = strategy.ask(1)[0]
    stranger = SMALL_SPACE.sample(np.random.default_rng(99))
    with pytest.raises(ValueError, match="not asked"):
        strategy.tell(stranger, Fitness(fid=1.0))
    with pytest.raises(TypeError, match="Fitness"):
        strategy.tell(genome, {"fid": 1.0})
    strategy.tell(genome, Fitness(fid=1.0))
    with pytest.raises(ValueError, match="already told"):
        strategy.tell(genome, Fitness(fid=0.5))
    assert len(strategy.results()) == 1


@pytest.mark.parametrize(
    "kind, objectives",
    [
        ("random", ("fid",)),
        ("genetic", ("fid",)),
        ("genetic", ("fid", "params")),
    ],
)
def test_every_asked_genome_is_valid(kind, objectives):
    """Every genome a strategy asks has no problems in the space, failures told or not."""
    evaluate = synthetic_fitness(SPACE, _target(SPACE))
    strategy = _make(kind, SPACE, objectives=objectives, seed=4)
    for generation in range(6):
        genomes = strategy.ask(8)
        assert all(SPACE.problems(genome) == [] for genome in genomes)
        for i, genome in enumerate(genomes):
            failed = (i + generation) % 4 == 0
            strategy.tell(genome, Fitness.failed("error", "boom") if failed else evaluate(genome))


# ----------------------------------------------------------------------
# Results: best, Pareto front, failures
# ----------------------------------------------------------------------


def _tell_all(strategy, values):
    """Asks len(values) genomes and tells each its (fid, params, status)."""
    genomes = strategy.ask(len(values))
    assert len(genomes) == len(values)
    for genome, (fid, params, status) in zip(genomes, values):
        strategy.tell(
            genome,
            Fitness(
                fid=fid, params=params, status=status, reason="" if status == "ok" else "failed"
            ),
        )
    return genomes


def test_pareto_front_of_hand_made_results():
    """pareto_front() returns exactly the non-dominated ok results, sorted by FID."""
    strategy = RandomSearch(SMALL_SPACE, objectives=("fid", "params"), seed=0)
    genomes = _tell_all(
        strategy,
        [
            (30.0, 1000, "ok"),  # front
            (20.0, 5000, "ok"),  # front
            (25.0, 6000, "ok"),  # dominated by (20, 5000)
            (10.0, 9000, "ok"),  # front
            (10.0, 9500, "ok"),  # dominated by (10, 9000)
            (5.0, 100, "error"),  # would dominate everything, but failed
            (math.nan, 10, "nan"),
        ],
    )
    front = strategy.pareto_front()
    assert [g for g, _ in front] == [genomes[3], genomes[1], genomes[0]]
    assert strategy.best()[0] == genomes[3]


def test_failed_candidates_are_never_best_or_on_the_front():
    """With only failures there is no best and no front; an ok result then wins."""
    strategy = GeneticSearch(SMALL_SPACE, objectives=("fid", "params"), population_size=4)
    _tell_all(strategy, [(0.0, 0, "error"), (math.nan, 0, "nan"), (1.0, 0, "crashed")])
    assert strategy.best() is None
    assert strategy.pareto_front() == []
    ok = _tell_all(strategy, [(100.0, 10**6, "ok")])[0]
    assert strategy.best()[0] == ok
    assert [g for g, _ in strategy.pareto_front()] == [ok]


def test_all_failed_population_keeps_sampling():
    """A GA whose whole first population failed still asks valid new genomes."""
    strategy = GeneticSearch(SMALL_SPACE, population_size=4, seed=0)
    _tell_all(strategy, [(math.nan, 0, "nan")] * 4)
    genomes = strategy.ask(4)
    assert len(genomes) == 4 and all(SMALL_SPACE.problems(g) == [] for g in genomes)


# ----------------------------------------------------------------------
# Genetic search: selection
# ----------------------------------------------------------------------


def test_full_elitism_keeps_the_best_and_generational_replaces():
    """(mu + lambda) keeps a better old population; elitism=0 replaces it with the new one."""
    for elitism in (4, 0):
        strategy = GeneticSearch(SMALL_SPACE, population_size=4, elitism=elitism, seed=0)
        old = _tell_all(strategy, [(float(i), 0, "ok") for i in range(4)])
        new = _tell_all(strategy, [(10.0 + i, 0, "ok") for i in range(4)])
        strategy.ask(1)  # Triggers the survivor selection.
        population = [g for g, _ in strategy.population]
        assert population == (old if elitism == 4 else new)


def test_partial_elitism_keeps_best_old_then_best_new():
    """With elitism e the best e overall survive, then the best new results."""
    strategy = GeneticSearch(SMALL_SPACE, population_size=4, elitism=1, seed=0)
    old = _tell_all(strategy, [(1.0, 0, "ok"), (2.0, 0, "ok"), (3.0, 0, "ok"), (4.0, 0, "ok")])
    new = _tell_all(
        strategy,
        [(9.0, 0, "ok"), (math.nan, 0, "nan"), (8.0, 0, "ok"), (1.5, 0, "ok"), (7.0, 0, "ok")],
    )
    strategy.ask(1)
    assert [g for g, _ in strategy.population] == [old[0], new[3], new[4], new[2]]


def test_nsga2_population_is_ordered_by_front_then_crowding():
    """The multi-objective population ranks front 0 first, boundary points before interior."""
    strategy = GeneticSearch(SMALL_SPACE, objectives=("fid", "params"), population_size=5, seed=0)
    genomes = _tell_all(
        strategy,
        [
            (1.0, 50, "ok"),
            (2.0, 40, "ok"),
            (4.0, 10, "ok"),  # front 0
            (3.0, 45, "ok"),  # front 1
            (0.5, 10, "error"),  # failed: last
        ],
    )
    strategy.ask(1)
    population = [g for g, _ in strategy.population]
    assert set(population[:2]) == {genomes[0], genomes[2]}  # Boundary points.
    assert population[2:] == [genomes[1], genomes[3], genomes[4]]


# ----------------------------------------------------------------------
# Benchmark: the GA must beat random search at an equal budget
# ----------------------------------------------------------------------


def _best_distance(strategy, evaluate, generations=10, size=12):
    run_generations(strategy, evaluate, generations, size)
    return strategy.best()[1].fid


def test_genetic_search_beats_random_search_on_synthetic_fitness():
    """At 10 x 12 evaluations on 5 hidden targets the GA beats random in >= 4 and on average."""
    genetic, random = [], []
    for seed in range(5):
        evaluate = synthetic_fitness(SMALL_SPACE, _target(SMALL_SPACE, seed=1000 + seed))
        genetic.append(_best_distance(GeneticSearch(SMALL_SPACE, seed=seed), evaluate))
        random.append(_best_distance(RandomSearch(SMALL_SPACE, seed=seed), evaluate))
    wins = sum(g < r for g, r in zip(genetic, random))
    assert wins >= 4, (genetic, random)
    assert np.mean(genetic) < np.mean(random), (genetic, random)
