"""The zoo of known designs (`kgan_nas.core.zoo`) and the warm start that uses it.

Pure Python except the decoding test and the one tiny real search at the end.
"""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import kgan_nas
from kgan_nas import config as config_lib
from kgan_nas.cli import parser as cli_parser
from kgan_nas.core import genome as genome_lib
from kgan_nas.core import zoo
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.space import SearchSpace
from kgan_nas.engine import warm_start
from kgan_nas.final import stage as final_lib
from kgan_nas.strategies import GeneticSearch
from kgan_nas.strategies import ParticleSwarmSearch
from kgan_nas.strategies import RandomSearch

MNIST = SearchSpace(image_shape=(28, 28, 1))


def _structure(genome):
    return [
        [(gene.kind, gene.stride) for gene in genome.generator],
        [(gene.kind, gene.stride) for gene in genome.discriminator],
    ]


@settings(max_examples=40, deadline=None)
@given(
    side=st.sampled_from([4, 6, 8, 12, 16, 28, 32, 48, 64]),
    channels=st.integers(1, 4),
    max_params=st.sampled_from([None, 20_000, 150_000, 1_000_000]),
    max_start_size=st.sampled_from([4, 8, 64]),
    recipe=st.booleans(),
)
def test_every_fitted_design_is_a_valid_genome_of_its_space(
    side, channels, max_params, max_start_size, recipe
):
    space = SearchSpace(
        image_shape=(side, side, channels), max_params=max_params, max_start_size=max_start_size
    )
    space = space.with_recipe() if recipe else space
    entries = zoo.fit(space)
    assert [entry.name for entry in entries] == list(zoo.DESIGNS)
    keys = [entry.genome.key() for entry in entries if entry.fits]
    assert len(keys) == len(set(keys))
    for entry in entries:
        if entry.fits:
            assert space.problems(entry.genome) == []
            assert entry.reason is None
            # The adaptation keeps the design's layer stack: only widths and
            # snapped values change.
            base = entry.name.removesuffix(zoo.RECIPE_SUFFIX)
            low, high = space.upsample_range()
            builder, preferred = zoo._BUILDERS[base]
            upsamplings = low if preferred is None else min(max(preferred, low), high)
            design = builder(upsamplings)
            if base != entry.name:
                design = zoo._with_recipe(design)
            assert _structure(entry.genome) == _structure(design)
        else:
            assert entry.reason


def test_the_designs_on_mnist_sized_images():
    entries = {entry.name: entry for entry in zoo.fit(MNIST)}
    tf_dcgan = entries["tf_dcgan"].genome
    assert tf_dcgan.describe().startswith("G[tconv128k5/ba tup64k5/ba tup32k5/ba] D[down64k5")
    assert tf_dcgan.training.g_learning_rate == tf_dcgan.training.d_learning_rate == 1e-4
    # The space has no dropout 0.3 nor beta_1 0.9: snapped, and said.
    assert "beta_1 0.9 -> 0.5" in entries["tf_dcgan"].changes
    assert entries["dcgan"].fits
    # An MLP generator cannot start at 7x7; the reason names the fix.
    assert not entries["mlp_gan"].fits
    assert "max_start_size" in entries["mlp_gan"].reason
    # The default space has no recipe genes: the variants say how to get them.
    for name in ("tf_dcgan+recipe", "dcgan+recipe", "mlp_gan+recipe"):
        assert "SearchSpace.with_recipe() adds them" in entries[name].reason
    # With the recipe's genes but not minibatch_std, the conv variants cannot keep their stack.
    partial = SearchSpace(image_shape=(28, 28, 1), r1_weights=(0.0, 1.0), d_steps=(1, 2))
    reason = {e.name: e.reason for e in zoo.fit(partial)}["dcgan+recipe"]
    assert "minibatch_std" in reason and "with_recipe()" in reason
    wide = SearchSpace(image_shape=(28, 28, 1), max_start_size=28)
    assert (
        zoo.genomes(wide, ["mlp_gan"])["mlp_gan"]
        .describe()
        .startswith("G[dense256 dense256] D[dense256 dense256]")
    )


def test_a_cost_bound_narrows_widths_uniformly_and_says_so():
    space = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
    entry = {e.name: e for e in zoo.fit(space)}["dcgan"]
    assert entry.fits and space.params(entry.genome) <= 150_000
    assert entry.changes[0] == "widths x0.25 to meet the space's cost bounds"
    sizes = [gene.size for gene in entry.genome.discriminator if gene.is_conv]
    assert sizes == [16, 32, 32]  # 64, 128, 128 narrowed by 4, in proportion
    tight = SearchSpace(image_shape=(28, 28, 1), max_params=20_000)
    reasons = {e.name: e.reason for e in zoo.fit(tight)}
    assert "max_params=20000" in reasons["tf_dcgan"]


def test_recipe_variants_in_a_recipe_space():
    space = SearchSpace(image_shape=(28, 28, 1)).with_recipe()
    genome = zoo.genomes(space, ["dcgan+recipe"])["dcgan+recipe"]
    assert genome.training.d_steps == 2 and genome.training.r1_weight == 1.0
    assert genome.training.ema_decay == 0.999
    assert genome_lib.MINIBATCH_STD in [gene.kind for gene in genome.discriminator]


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="Unknown zoo design.*choose from .'tf_dcgan"):
        zoo.fit(MNIST, ["dcgan", "stylegan"])
    with pytest.raises(ValueError, match="repeat"):
        zoo.check_names(["dcgan", "dcgan"])
    with pytest.raises(ValueError, match="SearchOptions.zoo must be None, True, False"):
        warm_start.check_zoo_option(3)
    assert warm_start.check_zoo_option("dcgan") == ("dcgan",)


def test_a_zoo_design_decodes_to_keras_models_of_the_planned_size():
    from kgan_nas.evaluation import decode

    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=16)
    genome = zoo.genomes(space, ["tf_dcgan"])["tf_dcgan"]
    generator, discriminator = decode.build_models(genome, space)
    assert generator.output_shape == (None, 8, 8, 1)
    assert generator.count_params() == space.generator_params(genome)
    assert discriminator.count_params() == space.discriminator_params(genome)
    kinds = {type(layer).__name__ for layer in generator.layers + discriminator.layers}
    assert {"BatchNormalization", "Conv2DTranspose", "Dropout", "Flatten"} <= kinds


@pytest.mark.parametrize("cls", [GeneticSearch, RandomSearch, ParticleSwarmSearch])
def test_queued_genomes_come_first_and_survive_a_saved_state(cls):
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=60_000).with_recipe()
    designs = list(zoo.genomes(space).values())
    assert len(designs) >= 3
    strategy = cls(space, seed=3)
    strategy.start_from(designs)
    first = strategy.ask(2)
    assert first == designs[:2]
    # Saved with one design still queued: the restored strategy proposes it first.
    state = json.loads(json.dumps(strategy.state_dict()))
    restored = cls(space, seed=3)
    restored.load_state_dict(state)
    for genome in first:
        strategy.tell(genome, Fitness.from_dict({"fid": 1.0}))
        restored.tell(genome, Fitness.from_dict({"fid": 1.0}))
    second = restored.ask(4)
    assert second[0] == designs[2]
    assert second == strategy.ask(4)
    # A state saved before the queue existed loads with nothing queued.
    old = {key: value for key, value in state.items() if key != "queued"}
    legacy = cls(space, seed=3)
    legacy.load_state_dict(old)
    assert designs[2] not in legacy.ask(2)


def test_start_from_refuses_what_is_not_a_genome():
    with pytest.raises(TypeError, match="start_from\\(\\) needs Genomes"):
        RandomSearch(MNIST).start_from([{"generator": []}])


def test_zoo_default_follows_the_final_stage(tmp_path):
    directory = str(tmp_path / "run")
    assert warm_start.zoo_names(None, True, directory, False) == zoo.DESIGNS
    assert warm_start.zoo_names(None, False, directory, False) == ()
    assert warm_start.zoo_names(False, True, directory, False) == ()
    assert warm_start.zoo_names(True, False, directory, False) == zoo.DESIGNS
    assert warm_start.zoo_names(("dcgan",), False, directory, False) == ("dcgan",)


def _record(key, objective, generation=1, zoo_name=None):
    record = {"key": key, "generation": generation, "objective": objective, "genome": {}}
    if zoo_name:
        record["zoo"] = zoo_name
    return record


def test_the_best_known_design_takes_the_last_final_place():
    history = [
        _record("a", 3.0),
        _record("b", 1.0),
        _record("z1", 9.0, zoo_name="dcgan"),
        _record("c", 2.0),
        _record("z2", 5.0, zoo_name="tf_dcgan"),
    ]
    keys = lambda chosen: [r["key"] for r in chosen]  # noqa: E731
    assert keys(final_lib.finalists(history, 2, False, zoo_finalist=True)) == ["b", "z2"]
    assert keys(final_lib.finalists(history, 3, False, zoo_finalist=True)) == ["b", "c", "z2"]
    # Off, or with one finalist, or when a design already ranks in the top k: the top k.
    assert keys(final_lib.finalists(history, 2, False, zoo_finalist=False)) == ["b", "c"]
    assert keys(final_lib.finalists(history, 1, False, zoo_finalist=True)) == ["b"]
    assert keys(final_lib.finalists(history, 5, False, zoo_finalist=True)) == [
        "b",
        "c",
        "a",
        "z2",
        "z1",
    ]


def test_the_command_line_takes_zoo_names_or_none():
    parser = cli_parser.build_parser()
    args = parser.parse_args(["search", "--zoo", "dcgan", "tf_dcgan"])
    assert args.zoo == ["dcgan", "tf_dcgan"] and not args.no_zoo
    assert parser.parse_args(["search", "--no-zoo"]).no_zoo
    with pytest.raises(SystemExit):
        parser.parse_args(["search", "--zoo", "dcgan", "--no-zoo"])


def test_a_search_starts_from_the_zoo_records_it_and_finalizes_a_design(tmp_path):
    """A tiny real digits search: the designs are evaluated first, named in the
    history, stored in the configuration, and the best one is a finalist."""
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=100_000)
    fitted = zoo.genomes(space, ["dcgan", "mlp_gan"])
    assert set(fitted) == {"dcgan", "mlp_gan"}
    result = kgan_nas.search(
        "digits",
        space=space,
        strategy="random",
        generations=2,
        population=2,
        steps_per_candidate=10,
        final={"top_k": 2, "seeds": 1, "steps": 10, "num_samples": 100},
        options=kgan_nas.SearchOptions(
            batch_size=16, num_samples=100, jit_compile=False, zoo=["dcgan", "mlp_gan"]
        ),
        run=kgan_nas.RunSettings(executor="inprocess"),
        directory=str(tmp_path / "run"),
        verbose=0,
    )
    first = [r for r in result.history if r["generation"] == 1]
    assert [r.get("zoo") for r in first] == ["dcgan", "mlp_gan"]
    assert {r.get("origin") for r in first} == {"zoo"}
    assert [r["key"] for r in first] == [g.key() for g in fitted.values()]
    assert all(r.get("zoo") is None for r in result.history if r["generation"] == 2)
    stored = config_lib.SearchConfig.from_dict(result.config)
    assert stored.zoo == ("dcgan", "mlp_gan")
    summary = result.final_summary()
    finalists = [genome["key"] for genome in summary["genomes"]]
    zoo_keys = {r["key"] for r in first if r["objective"] is not None}
    assert zoo_keys and set(finalists) & zoo_keys
    assert np.isfinite(min(r["objective"] for r in first if r["objective"] is not None))


def test_the_search_says_which_designs_it_queued_and_why_others_are_out():
    space = SearchSpace(image_shape=(28, 28, 1), max_params=150_000)
    lines = warm_start.zoo_lines(zoo.fit(space))
    assert lines[0].startswith(
        "Known designs (zoo) queued first: tf_dcgan (widths x0.125), dcgan (widths x0.25) ("
    )
    assert lines[1].startswith("  zoo design mlp_gan left out: an MLP generator")
    # The three +recipe variants share one reason, said once.
    assert lines[2].startswith(
        "  zoo designs tf_dcgan+recipe, dcgan+recipe, mlp_gan+recipe left out: the space has no"
    )
    assert len(lines) == 3
    assert warm_start.zoo_lines([]) == []
    # A budget smaller than the queue says which designs it never reaches.
    names = ("tf_dcgan", "dcgan", "mlp_gan")
    assert warm_start.unevaluated_line(names, {"generations": 2, "population": 3}) == []
    (only_zoo,) = warm_start.unevaluated_line(names, {"generations": 1, "population": 3})
    assert "are all known designs: no genome of the search's own" in only_zoo
    (line,) = warm_start.unevaluated_line(names, {"generations": 1, "population": 2})
    assert line == (
        "  zoo design mlp_gan will not be evaluated: the search evaluates 2 candidates in all "
        "(generations x population); 3 would cover every queued design."
    )
    with pytest.raises(ValueError, match="a list of design names in order"):
        warm_start.check_zoo_option({"dcgan"})
