"""`strategy="tune"`: the known designs with their training genes tuned (`DesignTuning`)."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import kgan_nas
from kgan_nas import config
from kgan_nas.core import zoo
from kgan_nas.core.repair import snap_training
from kgan_nas.strategies import STRATEGIES
from kgan_nas.strategies import DesignTuning
from kgan_nas.strategies import get_strategy
from kgan_nas.strategies.base import Fitness
from tests.tiny_runs import TINY_SPACE
from tests.tiny_runs import captured_search_arguments

SPACE_28 = kgan_nas.SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
RECIPE_28 = SPACE_28.with_recipe()


def _architecture(genome):
    return (tuple(genome.generator), tuple(genome.discriminator))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), recipe=st.booleans())
def test_every_proposal_is_a_known_design_with_training_genes_of_the_space(seed, recipe):
    space = RECIPE_28 if recipe else SPACE_28
    strategy = DesignTuning(space, seed=seed)
    designs = {_architecture(g) for g in zoo.genomes(space).values()}
    proposals = strategy.ask(12)
    assert proposals
    for genome in proposals:
        assert not space.problems(genome)
        assert _architecture(genome) in designs
        assert snap_training(space, genome.training) == genome.training
    # Training genes are tuned, not fixed: a dozen draws are not all alike.
    assert len({g.training for g in proposals}) > 1


def test_only_the_named_designs_are_tuned_and_the_same_seed_repeats_itself():
    only = DesignTuning(SPACE_28, seed=3, designs=["dcgan"])
    dcgan = _architecture(zoo.genomes(SPACE_28, ["dcgan"])["dcgan"])
    asked = only.ask(8)
    assert {_architecture(g) for g in asked} == {dcgan}
    again = DesignTuning(SPACE_28, seed=3, designs=["dcgan"]).ask(8)
    assert [g.key() for g in again] == [g.key() for g in asked]
    assert only.get_config()["designs"] == ["dcgan"]
    assert DesignTuning(SPACE_28).get_config()["designs"] is None


def test_a_space_no_design_fits_is_refused_with_each_reason():
    with pytest.raises(ValueError, match="Unknown zoo design"):
        DesignTuning(SPACE_28, designs=["stylegan"])
    # The recipe variants need recipe genes, which a plain space lacks.
    with pytest.raises(ValueError, match="tf_dcgan\\+recipe: the space has no training-recipe"):
        DesignTuning(SPACE_28, designs=["tf_dcgan+recipe"])


def test_it_is_a_named_strategy_and_resumes_identically():
    strategy = get_strategy("tune", SPACE_28, seed=5, designs=["dcgan", "mlp_gan"])
    assert isinstance(strategy, DesignTuning) and STRATEGIES["tune"] is DesignTuning
    assert config.STRATEGY_NAMES["DesignTuning"] == "tune"
    first = strategy.ask(4)
    for i, genome in enumerate(first):
        strategy.tell(genome, Fitness(fid=float(i + 1)))
    state = json.loads(json.dumps(strategy.state_dict()))
    restored = DesignTuning(SPACE_28, seed=5, designs=["dcgan", "mlp_gan"])
    restored.load_state_dict(state)
    assert [g.key() for g in restored.ask(4)] == [g.key() for g in strategy.ask(4)]
    assert strategy.best()[0].key() == first[0].key()


def test_the_command_line_offers_tune(monkeypatch):
    from kgan_nas.cli import commands as cli

    seen = captured_search_arguments(monkeypatch)
    assert cli.main(["search", "--strategy", "tune", "--quiet"]) != 0
    assert seen["strategy"] == "tune"


def test_a_tuning_search_records_which_design_each_candidate_is(tmp_path, monkeypatch):
    """Through `kgan_nas.search` (scripted scores: the zoo study's smoke run and
    tests/test_zoo.py train known designs for real)."""
    from tiny_runs import scripted_search
    from tiny_runs import skip_worker_files

    skip_worker_files(monkeypatch, tmp_path)
    result = scripted_search(
        tmp_path / "run", space=TINY_SPACE, strategy="tune", population=3, generations=2
    )
    designs = {_architecture(g) for g in zoo.genomes(TINY_SPACE).values()}
    history = result.history
    assert len(history) == 6 and all(record["status"] == "ok" for record in history)
    for record in history:
        genome = kgan_nas.core.genome.Genome.from_dict(record["genome"])
        assert _architecture(genome) in designs
        # The record names its design: as written (a zoo warm start) or tuned.
        assert record.get("zoo") or record.get("design") in zoo.genomes(TINY_SPACE)
    assert any(record.get("design") for record in history)
    assert np.isfinite(result.best_record["fitness"]["fid"])
    # The summary names each candidate's design as the report does.
    labels = [zoo.design_label(record) for record in history]
    assert all(labels) and any(label.startswith("tuned: ") for label in labels)
    assert f", {labels[0]}, " in result.summary(num_trials=len(history))


def test_a_known_designs_architecture_is_named_whatever_its_training_genes():
    from kgan_nas.core.genome import TrainingGenes
    from kgan_nas.core.zoo import architecture_key
    from kgan_nas.core.zoo import design_architectures
    from kgan_nas.report.markup import genome_cell

    names = design_architectures(RECIPE_28)
    # The conv designs' +recipe variants add a minibatch-std layer: their own names.
    assert sorted(names.values()) == ["dcgan", "dcgan+recipe", "tf_dcgan", "tf_dcgan+recipe"]
    tuned = DesignTuning(RECIPE_28, seed=1).ask(6)
    assert all(architecture_key(g) in names for g in tuned)
    # Where a variant has its design's layers (the MLP GAN's), the design names it.
    small = kgan_nas.SearchSpace(image_shape=(8, 8, 1), max_params=150_000).with_recipe()
    assert "mlp_gan" in design_architectures(small).values()
    assert "mlp_gan+recipe" not in design_architectures(small).values()
    other = SPACE_28.sample(np.random.default_rng(0))
    assert architecture_key(other) not in names
    dcgan = zoo.genomes(SPACE_28)["dcgan"]
    fast = dcgan.replace(training=TrainingGenes(g_learning_rate=1e-3))
    assert architecture_key(fast) == architecture_key(dcgan) and fast.key() != dcgan.key()
    record = {"genome": fast.to_dict(), "design": "dcgan"}
    assert '<span class="zoo">tuned: dcgan</span>' in genome_cell(record)
    assert "zoo: dcgan" in genome_cell(dict(record, zoo="dcgan"))


def test_it_draws_what_the_zoo_studys_tuned_arm_drew():
    """The zoo study's `zoo_tuned` arm (its results are published) drew a design
    uniformly, then the training genes, from one generator; `DesignTuning` took
    its place there, so it must draw the very same genomes."""
    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1), max_params=150_000)
    rng = np.random.default_rng(0)
    designs = list(zoo.genomes(space).values())
    expected = []
    while len(expected) < 24:
        design = designs[int(rng.integers(len(designs)))]
        genome = design.replace(training=space.random_training_genes(rng))
        genome = space.repair(genome) if space.problems(genome) else genome
        if genome.key() not in {g.key() for g in expected}:
            expected.append(genome)
    strategy = DesignTuning(space, seed=0)
    asked = strategy.ask(8) + strategy.ask(8) + strategy.ask(8)
    assert [g.key() for g in asked] == [g.key() for g in expected]


def test_it_never_fills_in_random_architectures_when_its_genes_run_out():
    narrow = kgan_nas.SearchSpace(
        image_shape=(28, 28, 1),
        max_params=150_000,
        optimizers=("adam",),
        learning_rates=(2e-4,),
        beta_1=(0.5,),
        beta_2=(0.999,),
        losses=("non_saturating",),
    )
    strategy = DesignTuning(narrow, seed=0)
    designs = {_architecture(g) for g in zoo.genomes(narrow).values()}
    asked = strategy.ask(10)
    # One training setting: one genome per design, then nothing new.
    assert len(asked) == len(designs)
    assert {_architecture(g) for g in asked} == designs
    for genome in asked:
        strategy.tell(genome, Fitness(fid=1.0))
    assert strategy.ask(4) == []


def test_a_cost_bound_never_turns_a_tuned_design_into_another_architecture():
    """Two discriminator steps or an R1 penalty raise the training cost; repair would
    narrow the layers under `max_train_macs`, so such draws are drawn again."""
    from kgan_nas.core.zoo import architecture_key

    space = dataclasses.replace(RECIPE_28, max_train_macs=15_000_000)
    designs = {architecture_key(g) for g in zoo.genomes(space).values()}
    # At this bound about 2 in 5 such draws repair into narrower layers.
    asked = DesignTuning(space, seed=0).ask(30)
    assert len(asked) == 30
    assert all(architecture_key(g) in designs and not space.problems(g) for g in asked)


def test_named_designs_are_stored_as_a_list_and_narrow_the_warm_start(tmp_path):
    from kgan_nas.engine import warm_start

    strategy = DesignTuning(SPACE_28, designs="dcgan")
    assert strategy.get_config()["designs"] == ["dcgan"]
    DesignTuning(SPACE_28, **{k: v for k, v in strategy.get_config().items()})
    with pytest.raises(ValueError, match="designs=\\[\\] leaves nothing to tune"):
        DesignTuning(SPACE_28, designs=[])
    fresh = str(tmp_path / "new")
    assert warm_start.zoo_names(None, True, fresh, False, default=["dcgan"]) == ("dcgan",)
    assert warm_start.zoo_names(None, True, fresh, False) == zoo.DESIGNS
    assert warm_start.zoo_names(None, False, fresh, False, default=["dcgan"]) == ()
    assert warm_start.zoo_names(False, True, fresh, False, default=["dcgan"]) == ()
