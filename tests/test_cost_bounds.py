"""Cost bounds of a search space: `max_generator_macs`, `max_train_macs` (pure Python).

A space bounds a genome's generator MACs and train-step MACs as it bounds
its parameters: `problems` reports a genome over a bound, and repair
shrinks it under every bound set. A space with only `max_params` repairs
exactly as before (checked against the parameter-only repair, copied
below), and a bound no genome of the space meets fails the first sample
with the cheapest genome's cost.
"""

import dataclasses
import json
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas.core import bounds as bounds_lib
from kgan_nas.core import cost as cost_lib
from kgan_nas.core import repair as repair_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.operators import crossover
from kgan_nas.core.operators import mutate
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.core.space import SearchSpace

seeds = st.integers(0, 2**32 - 1)
GENERATOR_KINDS = ("dense", "conv2d", "conv2d_transpose", "upsample_conv2d", "dropout")
UPSAMPLING_KINDS = ("conv2d_transpose", "upsample_conv2d")
DISCRIMINATOR_KINDS = ("dense", "conv2d", "dropout")


def _old_fit_params(space, genome):
    """The parameter-only repair before the MAC bounds, verbatim: the reference."""
    if space.max_params is None:
        return genome
    params = space.params(genome)
    while params > space.max_params:
        best = None
        for candidate in repair_lib._shrink_moves(space, genome):
            try:
                candidate_params = space.params(candidate)
            except ValueError:
                continue
            if candidate_params < params and (best is None or candidate_params < best[0]):
                best = (candidate_params, candidate)
        if best is None:
            raise InvalidGenomeError(
                f"{params} parameters exceed max_params={space.max_params} and the "
                "genome cannot shrink further"
            )
        params, genome = best
    return genome


def _choices(draw, values, low=1, high=3):
    return tuple(sorted(draw(st.sets(st.sampled_from(values), min_size=low, max_size=high))))


@st.composite
def spaces(draw, shapes=((28, 28, 1), (8, 8, 1)), conditional=True):
    """Random unbounded spaces: sizes, layer counts and kinds; with or without the recipe."""
    generator_kinds = _choices(draw, GENERATOR_KINDS, 1, 5)
    if not set(generator_kinds) & set(UPSAMPLING_KINDS):
        generator_kinds += (draw(st.sampled_from(UPSAMPLING_KINDS)),)
    if set(generator_kinds) == {"upsample_conv2d"}:
        # Such a space cannot fill layers beyond its upsampling ones (it
        # never samples, bounds or not), so give it a same-size layer.
        generator_kinds += ("conv2d",)
    g_max = draw(st.integers(2, 5))
    d_max = draw(st.integers(1, 4))
    space = SearchSpace(
        image_shape=draw(st.sampled_from(shapes)),
        latent_dim=draw(st.sampled_from((8, 16, 64))),
        filters=_choices(draw, (4, 8, 16, 32, 64)),
        units=_choices(draw, (16, 32, 64, 128)),
        kernel_sizes=_choices(draw, (1, 3, 5)),
        generator_layers=(draw(st.integers(0, g_max)), g_max),
        discriminator_layers=(draw(st.integers(0, min(d_max, 2))), d_max),
        generator_layer_types=tuple(sorted(set(generator_kinds))),
        discriminator_layer_types=_choices(draw, DISCRIMINATOR_KINDS),
        num_classes=draw(st.sampled_from((None, 3))) if conditional else None,
    )
    return space.with_recipe() if draw(st.booleans()) else space


def _median(space, measure, count=12, seed=0):
    rng = np.random.default_rng(seed)
    return int(np.median([measure(space.sample(rng)) for _ in range(count)]))


def _history(space, seed):
    """What a fixed-seed search does: samples, then mutants and crosses of them."""
    rng = np.random.default_rng(seed)
    record, genomes = [], []
    for _ in range(4):
        try:
            genomes.append(space.sample(rng, max_tries=10))
        except InvalidGenomeError as error:
            record.append(str(error))
    for genome in genomes:
        record.append(mutate(genome, space, rng, rate=0.4))
    for first, second in zip(genomes, genomes[1:]):
        record.append(crossover(first, second, space, rng))
    return [item if isinstance(item, str) else item.to_json() for item in genomes + record]


# -- max_params alone: exactly the old repair --------------------------------------------


@settings(max_examples=300, deadline=None)
@given(space=spaces(), seed=seeds, fraction=st.floats(0.02, 1.5))
def test_params_only_repair_picks_exactly_the_old_moves(space, seed, fraction):
    """With only `max_params` set, the new repair shrinks as the old one did, error text too."""
    rng = np.random.default_rng(seed)
    genome = space.sample(rng)
    bounded = dataclasses.replace(space, max_params=max(1, int(space.params(genome) * fraction)))

    def outcome(fit):
        try:
            return fit(bounded, genome).to_json()
        except InvalidGenomeError as error:
            return f"error: {error}"

    assert outcome(repair_lib._fit_params) == outcome(_old_fit_params)


@settings(max_examples=100, deadline=None)
@given(space=spaces(), seed=seeds, fraction=st.floats(0.05, 1.5))
def test_params_only_search_history_is_byte_identical(space, seed, fraction):
    """Samples, mutants and crosses of a fixed seed are those of the old repair."""
    bounded = dataclasses.replace(
        space, max_params=max(1, int(_median(space, space.params, 5) * fraction))
    )
    new = _history(bounded, seed)
    with mock.patch.object(repair_lib, "_fit_params", _old_fit_params):
        old = _history(bounded, seed)
    assert new == old


# -- MAC bounds: sampled, mutated and crossed genomes meet them ------------------------------


@settings(max_examples=150, deadline=None)
@given(
    space=spaces(),
    seed=seeds,
    generator_factor=st.none() | st.floats(0.05, 2.0),
    train_factor=st.none() | st.floats(0.05, 2.0),
)
def test_sampled_mutated_and_crossed_genomes_meet_every_bound(
    space, seed, generator_factor, train_factor
):
    """Around the median cost of unbounded samples: within every bound, or the clear error."""
    bound = {}
    if generator_factor is not None:
        bound["max_generator_macs"] = max(
            1, int(generator_factor * _median(space, space.generator_macs))
        )
    if train_factor is not None:
        bound["max_train_macs"] = max(1, int(train_factor * _median(space, space.train_macs)))
    bounded = dataclasses.replace(space, **bound)
    rng = np.random.default_rng(seed)
    try:
        genomes = [bounded.sample(rng) for _ in range(3)]
    except InvalidGenomeError as error:
        cheapest = bounds_lib.cheapest(bounded)
        if any(cheapest[field][0] > value for field, value in bound.items()):
            # A bound below the cheapest genome fails at once, saying so.
            assert "is below the cheapest genome of this space" in str(error)
        else:
            # The bounds allow the cheapest genome but no sample shrank to it
            # (repair never swaps kinds): the error names the bounds to raise.
            names = " or ".join(bound)
            assert f"too tight: raise {names}," in str(error)
            assert "The cheapest genome of this space costs" in str(error)
        return
    children = [mutate(genome, bounded, rng, rate=0.4) for genome in genomes]
    children += [crossover(a, b, bounded, rng) for a, b in zip(genomes, children[1:])]
    for genome in genomes + children:
        assert bounded.problems(genome) == []
        if "max_generator_macs" in bound:
            assert bounded.generator_macs(genome) <= bound["max_generator_macs"]
        if "max_train_macs" in bound:
            assert bounded.train_macs(genome) <= bound["max_train_macs"]


@settings(max_examples=100, deadline=None)
@given(space=spaces(), seed=seeds)
def test_no_sampled_genome_costs_less_than_the_cheapest(space, seed):
    """The cheapest genome is valid, and no unbounded sample undercuts it."""
    bounded = dataclasses.replace(space, max_generator_macs=10**15, max_train_macs=10**15)
    cheapest = bounds_lib.cheapest(bounded)
    assert set(cheapest) == {"max_generator_macs", "max_train_macs"}
    for value, genome in cheapest.values():
        assert space.problems(genome) == []
    rng = np.random.default_rng(seed)
    for _ in range(10):
        genome = space.sample(rng)
        assert space.generator_macs(genome) >= cheapest["max_generator_macs"][0]
        assert space.train_macs(genome) >= cheapest["max_train_macs"][0]


# -- impossible bounds ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 8, 1)])
@pytest.mark.parametrize("field", ["max_generator_macs", "max_train_macs"])
def test_a_bound_below_the_cheapest_genome_fails_the_first_sample_clearly(shape, field):
    space = SearchSpace(image_shape=shape, **{field: 10})
    value, genome = bounds_lib.cheapest(space)[field]
    what = "generator MACs" if field == "max_generator_macs" else "train-step MACs"
    message = (
        rf"{field}=10 is below the cheapest genome of this space \({value:,} {what} per "
        r"image: G\[.*\); raise it or shrink the space"
    )
    with pytest.raises(InvalidGenomeError, match=message):
        space.sample(np.random.default_rng(0))
    # At the cheapest genome's cost the bound is possible: sampling does not refuse it.
    bounds_lib.check_attainable(dataclasses.replace(space, **{field: value}))
    with pytest.raises(InvalidGenomeError, match=field):
        bounds_lib.check_attainable(dataclasses.replace(space, **{field: value - 1}))


def test_the_cheapest_genome_is_the_smallest_the_space_allows():
    """28x28: two stride-2 transposed convolutions of 16 filters, a dropout discriminator."""
    space = SearchSpace(image_shape=(28, 28, 1), max_train_macs=10, max_generator_macs=10)
    value, genome = bounds_lib.cheapest(space)["max_train_macs"]
    assert [(g.kind, g.size, g.kernel, g.stride) for g in genome.generator] == [
        ("conv2d_transpose", 16, 3, 2)
    ] * 2
    assert [g.kind for g in genome.discriminator] == ["dropout"]
    assert value == cost_lib.train_step_macs(genome, space)
    assert bounds_lib.cheapest(space)["max_generator_macs"][1].generator == genome.generator


def test_a_bound_met_only_jointly_fails_with_the_bounds_named():
    """Each bound alone is possible, together too tight: sampling says which to raise."""
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=1_500)
    cheapest = bounds_lib.cheapest(dataclasses.replace(space, max_train_macs=10**12))
    bounded = dataclasses.replace(space, max_train_macs=cheapest["max_train_macs"][0])
    with pytest.raises(InvalidGenomeError, match="raise max_params or max_train_macs, or allow"):
        bounded.sample(np.random.default_rng(0), max_tries=3)


# -- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_generator_macs", "max_train_macs"])
@pytest.mark.parametrize("value", [0, -5, 1.5, True, "1000"])
def test_bounds_must_be_positive_integers(field, value):
    with pytest.raises(ValueError, match=rf"SearchSpace\.{field} must be a positive integer.*None"):
        SearchSpace(**{field: value})


def test_unset_bounds_leave_the_stored_space_as_it_was():
    """No key for an unset bound: spaces stored before keep their JSON (and hash)."""
    for space in (SearchSpace(), SearchSpace(image_shape=(8, 8, 1), max_params=10**6)):
        config = space.to_dict()
        assert "max_generator_macs" not in config and "max_train_macs" not in config
        assert SearchSpace.from_dict(config) == space
    bounded = SearchSpace(max_generator_macs=np.int64(10**7), max_train_macs=10**8)
    config = json.loads(json.dumps(bounded.to_dict()))
    assert (config["max_generator_macs"], config["max_train_macs"]) == (10**7, 10**8)
    assert SearchSpace.from_dict(config) == bounded
    assert type(bounded.max_generator_macs) is int


def test_costs_delegate_to_the_cost_model_and_problems_report_excesses():
    space = SearchSpace(image_shape=(8, 8, 1))
    genome = space.sample(np.random.default_rng(3))
    generator, train = space.generator_macs(genome), space.train_macs(genome)
    assert generator == cost_lib.generator_macs(genome, space)
    assert train == cost_lib.train_step_macs(genome, space)
    tight = dataclasses.replace(space, max_generator_macs=generator - 1, max_train_macs=train - 1)
    assert tight.problems(genome) == [
        f"{generator} generator MACs per image exceed max_generator_macs={generator - 1}",
        f"{train} train-step MACs per image exceed max_train_macs={train - 1}",
    ]
    assert dataclasses.replace(space, max_generator_macs=generator).problems(genome) == []
    with pytest.raises(InvalidGenomeError, match="exceed max_train_macs"):
        tight.validate(genome)


def _fixed_layers_space(**kwargs):
    """Layers that cannot shrink: the recipe is the only lever left."""
    return SearchSpace(
        image_shape=(8, 8, 1),
        latent_dim=16,
        generator_layers=(1, 1),
        discriminator_layers=(1, 1),
        generator_layer_types=("upsample_conv2d",),
        discriminator_layer_types=("conv2d",),
        filters=(16,),
        kernel_sizes=(3,),
        generator_normalizations=("none",),
        discriminator_normalizations=("none",),
        max_start_size=4,
        r1_weights=(0.0, 1.0),
        d_steps=(1, 2, 3),
        **kwargs,
    )


def test_repair_lightens_the_recipe_only_when_the_layers_cannot_pay():
    space = _fixed_layers_space()
    heavy = space.repair(
        Genome(
            (LayerGene("upsample_conv2d", 16, 3, activation="relu"),),
            (LayerGene("conv2d", 16, 3, stride=1, activation="relu"),),
            TrainingGenes(r1_weight=1.0, d_steps=3),
        )
    )

    def variant(stride, steps, r1):
        return heavy.replace(
            discriminator=(heavy.discriminator[0].replace(stride=stride),),
            training=heavy.training.replace(d_steps=steps, r1_weight=r1),
        )

    def fit(bound):
        return dataclasses.replace(space, max_train_macs=bound).repair(heavy)

    def cost(*recipe):
        return space.train_macs(variant(*recipe))

    # The discriminator's stride is the one layer move; it pays alone here.
    assert fit(cost(2, 3, 1.0)) == variant(2, 3, 1.0)
    # Below that, the recipe move of the lowest cost goes first (one fewer
    # discriminator step), then the layers shrink again, and so on.
    assert cost(2, 2, 1.0) < cost(2, 3, 1.0)
    assert fit(cost(2, 2, 1.0)) == variant(2, 2, 1.0)
    assert fit(cost(2, 1, 1.0)) == variant(2, 1, 1.0)
    assert cost(2, 1, 0.0) < cost(2, 1, 1.0)
    assert fit(cost(2, 1, 0.0)) == variant(2, 1, 0.0)
    with pytest.raises(InvalidGenomeError, match="exceed max_train_macs=.* cannot shrink further"):
        fit(cost(2, 1, 0.0) - 1)
    # A generator bound never touches the recipe.
    generator_only = dataclasses.replace(
        space, max_generator_macs=space.generator_macs(heavy) - 1, max_train_macs=None
    )
    with pytest.raises(InvalidGenomeError, match="cannot shrink further"):
        generator_only.repair(heavy)


def test_repair_under_mac_bounds_is_deterministic():
    space = SearchSpace(image_shape=(28, 28, 1), max_train_macs=20_000_000).with_recipe()
    assert _history(space, 7) == _history(space, 7)
    assert all(
        space.train_macs(Genome.from_json(item)) <= 20_000_000
        for item in _history(space, 7)
        if item.startswith("{")
    )
