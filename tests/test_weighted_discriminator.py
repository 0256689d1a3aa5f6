"""`SearchSpace(weighted_discriminator=True)`: no discriminator of only dropout / minibatch std."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas.core import operators
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.repair import WEIGHTED_DISCRIMINATOR_KINDS
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.core.space import SearchSpace

PLAIN = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
WEIGHTED = dataclasses.replace(PLAIN, weighted_discriminator=True)


def _weighted(genome):
    return any(gene.kind in WEIGHTED_DISCRIMINATOR_KINDS for gene in genome.discriminator)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_sampled_or_mutated_genome_has_a_discriminator_with_weights(seed):
    rng = np.random.default_rng(seed)
    genome = WEIGHTED.sample(rng)
    assert _weighted(genome) and WEIGHTED.problems(genome) == []
    child = operators.mutate(genome, WEIGHTED, rng)
    assert _weighted(child) and WEIGHTED.problems(child) == []


def test_sampling_draws_a_discriminator_without_weights_again_instead_of_repairing_it(
    monkeypatch,
):
    """A repaired dropout-only discriminator (one convolution added) trained no better in
    the confirmation study, so sampling draws again: a sampled genome never passes
    through that repair, and comes from the plain space's genomes that have weights."""
    from kgan_nas.core import repair as repair_lib

    one_layer = dataclasses.replace(PLAIN, discriminator_layers=(1, 1))
    rng = np.random.default_rng(0)
    assert any(not _weighted(one_layer.sample(rng)) for _ in range(30))  # plain draws them
    original, repaired = repair_lib._weighted, []

    def spy(space, genes):
        if not repair_lib._has_weights(genes):
            repaired.append(genes)
        return original(space, genes)

    monkeypatch.setattr(repair_lib, "_weighted", spy)
    weighted = dataclasses.replace(one_layer, weighted_discriminator=True)
    for _ in range(30):
        genome = weighted.sample(rng)
        assert _weighted(genome) and weighted.problems(genome) == []
    assert repaired == []
    assert not repair_lib.draw_again(one_layer, [LayerGene("dropout", rate=0.1)])
    no_weights = dataclasses.replace(weighted, discriminator_layer_types=("dropout",))
    assert not repair_lib.draw_again(no_weights, [LayerGene("dropout", rate=0.1)])


def test_repair_turns_a_dropout_only_discriminator_into_a_convolution():
    genome = PLAIN.sample(np.random.default_rng(0))
    dropout_only = Genome(
        genome.generator, (LayerGene("dropout", rate=PLAIN.dropout_rates[0]),), genome.training
    )
    assert PLAIN.problems(dropout_only) == []  # allowed by default
    assert any("no layer with weights" in p for p in WEIGHTED.problems(dropout_only))
    repaired = WEIGHTED.repair(dropout_only)
    assert [g.kind for g in repaired.discriminator] == ["conv2d"]
    assert WEIGHTED.problems(repaired) == []


def test_the_option_is_stored_only_when_on_and_needs_a_weighted_kind():
    assert "weighted_discriminator" not in PLAIN.to_dict()  # old spaces keep their hash
    assert SearchSpace.from_dict(WEIGHTED.to_dict()) == WEIGHTED
    no_weights = dataclasses.replace(WEIGHTED, discriminator_layer_types=("dropout",))
    genome = PLAIN.sample(np.random.default_rng(1))
    with pytest.raises(InvalidGenomeError, match="needs a discriminator kind with weights"):
        no_weights.repair(
            Genome(genome.generator, (LayerGene("dropout", rate=0.1),), genome.training)
        )


def test_shrinking_under_max_params_keeps_the_last_layer_with_weights():
    """Repair's cheapest move can be deleting the discriminator's one wide convolution;
    a weighted discriminator shrinks it instead (found by review)."""
    generator = (
        LayerGene("conv2d_transpose", size=16, kernel=3, stride=2, activation="relu"),
        LayerGene("conv2d_transpose", size=16, kernel=3, stride=2, activation="relu"),
    )
    discriminator = (
        LayerGene("conv2d", size=128, kernel=5, stride=1, activation="relu"),
        LayerGene("dropout", rate=0.1),
    )
    genome = Genome(generator, discriminator, PLAIN.sample(np.random.default_rng(0)).training)
    size = dataclasses.replace(WEIGHTED, max_params=None).params(genome)
    for fraction in (0.9, 0.5):
        bound = int(fraction * size)
        repaired = dataclasses.replace(WEIGHTED, max_params=bound).repair(genome)
        assert _weighted(repaired)
