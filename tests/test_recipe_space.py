"""Recipe genes and the residual / minibatch-std kinds on the search side (pure Python).

The recipe genes (`ema_decay`, `augment`, `augment_probability`,
`r1_weight`, `d_steps`) and the kinds `residual_up`, `residual_down`,
`minibatch_std` are off in a default space: such a space samples, mutates
and stores exactly what the code before them did (checked against that
code itself, from git), and genomes without them keep their JSON and keys.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas.core import recipe as recipe_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.genome import augment_operations
from kgan_nas.core.operators import crossover
from kgan_nas.core.operators import mutate
from kgan_nas.core.space import SearchSpace

# The commit this work branched from: its sampling is what a default space
# must keep doing.
BASE_COMMIT = "2d713c82147554be80a8d283512d215d47465dfb"
REPO = pathlib.Path(__file__).resolve().parents[1]

RECIPE = dict(
    ema_decays=(0.0, 0.99, 0.999),
    augment_policies=("none", "translation", "translation,cutout"),
    augment_probabilities=(0.25, 0.5, 1.0),
    r1_weights=(0.0, 0.1, 1.0, 10.0),
    d_steps=(1, 2),
)
KINDS = dict(
    generator_layer_types=(
        "dense",
        "conv2d",
        "conv2d_transpose",
        "upsample_conv2d",
        "dropout",
        "residual_up",
    ),
    discriminator_layer_types=("dense", "conv2d", "dropout", "residual_down", "minibatch_std"),
    discriminator_normalizations=("none", "batch", "layer", "spectral"),
)


def full_space(shape, **overrides):
    """A space with every new gene and kind on."""
    policies = RECIPE["augment_policies"]
    if shape[2] == 3:
        policies += ("color,translation,cutout",)
    settings_ = dict(RECIPE, **KINDS, augment_policies=policies)
    settings_.update(overrides)
    return SearchSpace(image_shape=shape, latent_dim=16, max_params=400_000, **settings_)


FULL_SPACES = {shape: full_space(shape) for shape in [(8, 8, 1), (28, 28, 1), (32, 32, 3)]}

# ---------------------------------------------------------------------------
# Genes and their JSON
# ---------------------------------------------------------------------------


def test_default_training_genes_keep_the_json_and_key_of_earlier_versions():
    """Recipe genes at their default are left out of the JSON: an old genome's key holds."""
    old = {
        "optimizer": "adam",
        "g_learning_rate": 0.0002,
        "d_learning_rate": 0.0002,
        "beta_1": 0.5,
        "beta_2": 0.999,
        "loss": "non_saturating",
    }
    genes = TrainingGenes()
    assert genes.to_dict() == old
    genome = Genome((LayerGene("upsample_conv2d", 16, 3),), (LayerGene("dense", 8),))
    stored = {
        "format": 1,
        "generator": [genome.generator[0].to_dict()],
        "discriminator": [genome.discriminator[0].to_dict()],
        "training": old,
    }
    assert Genome.from_dict(stored) == genome
    assert genome.to_json() == json.dumps(stored, sort_keys=True, separators=(",", ":"))
    assert "ema" not in genome.describe()


def test_recipe_genes_that_are_on_are_stored_and_read_back():
    genes = TrainingGenes(
        ema_decay=0.999, augment="translation", augment_probability=0.5, d_steps=2
    )
    stored = genes.to_dict()
    assert stored["ema_decay"] == 0.999 and stored["augment"] == "translation"
    assert stored["augment_probability"] == 0.5 and stored["d_steps"] == 2
    assert "r1_weight" not in stored
    assert TrainingGenes.from_dict(stored) == genes
    genome = Genome((), (), genes)
    assert Genome.from_json(genome.to_json()) == genome
    assert genome.key() != Genome((), ()).key()
    assert genes.describe() == "ema=0.999 aug=translation@0.5 d2"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("ema_decay", 1.0, r"ema_decay must be in \[0, 1\)"),
        ("ema_decay", -0.1, r"ema_decay must be in \[0, 1\)"),
        ("augment", "flip", "Invalid augment policy 'flip'"),
        ("augment", "translation, cutout", "without spaces"),
        ("augment", "cutout,cutout", "each once"),
        ("augment_probability", 0.0, r"augment_probability must be in \(0, 1\]"),
        ("r1_weight", -1.0, "r1_weight must be a number >= 0"),
        ("d_steps", 0, "d_steps must be an integer >= 1"),
        ("d_steps", 1.5, "d_steps must be an integer >= 1"),
    ],
)
def test_bad_recipe_genes_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingGenes(**{field: value})


def test_augment_operations_parses_policies():
    assert augment_operations("none") == ()
    assert augment_operations("color,translation,cutout") == ("color", "translation", "cutout")
    with pytest.raises(ValueError, match="must be a string"):
        augment_operations(None)


def test_new_kinds_have_short_names_and_neutral_fields():
    genome = Genome(
        (LayerGene("residual_up", 32, 3, norm="batch"),),
        (LayerGene("residual_down", 16, 3), LayerGene("minibatch_std")),
    )
    assert genome.describe().startswith("G[resup32k3/ba] D[resdown16k3 mbstd]")
    gene = LayerGene("minibatch_std")
    assert (gene.size, gene.kernel, gene.stride, gene.activation, gene.norm) == (
        0,
        0,
        1,
        "linear",
        "none",
    )
    assert LayerGene("residual_up", 8, 3).upsamples
    assert LayerGene("residual_down", 8, 3).downsamples
    assert not LayerGene("minibatch_std").is_conv and LayerGene("minibatch_std").is_spatial


# ---------------------------------------------------------------------------
# The space: defaults, validation, to_dict
# ---------------------------------------------------------------------------


def test_default_space_stores_no_new_fields_and_round_trips():
    """A default space's dict is that of earlier versions; a recipe space's round-trips."""
    stored = SearchSpace(image_shape=(8, 8, 1)).to_dict()
    assert not set(recipe_lib.SPACE_FIELDS) & set(stored)
    assert SearchSpace(image_shape=(8, 8, 1)).generator_layer_types == (
        "dense",
        "conv2d",
        "conv2d_transpose",
        "upsample_conv2d",
        "dropout",
    )
    space = FULL_SPACES[(32, 32, 3)]
    stored = json.loads(json.dumps(space.to_dict()))
    assert stored["d_steps"] == [1, 2] and stored["ema_decays"] == [0.0, 0.99, 0.999]
    assert SearchSpace.from_dict(stored) == space
    # One non-default choice is stored too.
    assert SearchSpace(image_shape=(8, 8, 1), d_steps=(2,)).to_dict()["d_steps"] == [2]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(augment_policies=("color",)), "'color' augmentation needs 3-channel"),
        (dict(augment_policies=("none", "blur")), "Invalid augment policy 'blur'"),
        (dict(augment_policies=()), "augment_policies must not be empty"),
        (dict(ema_decays=(0.0, 1.0)), r"ema_decays must be in \[0, 1\)"),
        (dict(augment_probabilities=(0.0,)), "augment_probabilities must hold positive"),
        (dict(augment_probabilities=(1.5,)), r"augment_probabilities must be in \(0, 1\]"),
        (dict(r1_weights=(-1.0,)), "r1_weights must be >= 0"),
        (dict(d_steps=(0,)), "d_steps must hold positive"),
        (dict(d_steps=(1, 1)), "duplicate"),
        (dict(generator_layer_types=("conv2d", "residual_down")), "unknown choice"),
        (dict(discriminator_layer_types=("conv2d", "residual_up")), "unknown choice"),
    ],
)
def test_invalid_recipe_space_names_the_field_and_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(image_shape=(8, 8, 1), **kwargs)


def test_color_is_fine_for_rgb_and_residual_up_alone_reaches_the_image():
    space = SearchSpace(
        image_shape=(16, 16, 3),
        augment_policies=("color,translation",),
        generator_layer_types=("residual_up",),
    )
    genome = space.sample(np.random.default_rng(0))
    assert genome.training.augment == "color,translation"
    assert {gene.kind for gene in genome.generator} == {"residual_up"}


# ---------------------------------------------------------------------------
# Random streams: a default space is unchanged
# ---------------------------------------------------------------------------

_KEYS_SCRIPT = """
import json, numpy as np
from kgan_nas.core.space import SearchSpace
from kgan_nas.core.operators import mutate, crossover
import kgan_nas
out = []
for shape in [(8, 8, 1), (28, 28, 1), (32, 32, 3)]:
    for classes in (None, 10):
        space = SearchSpace(image_shape=shape, max_params=400_000, num_classes=classes)
        out.append(json.dumps(space.to_dict(), sort_keys=True))
        for seed in range(21):
            rng = np.random.default_rng(seed)
            a, b = space.sample(rng), space.sample(rng)
            child, cross = mutate(a, space, rng), crossover(a, b, space, rng)
            out.append([g.key() for g in (a, b, child, cross)])
            out.append(str(rng.bit_generator.state["state"]["state"]))
print(json.dumps(out))
"""


def _keys_with(source):
    """The script's output with `kgan_nas` imported from `source` (also the working
    folder: `python -c` puts it before PYTHONPATH)."""
    env = dict(os.environ, PYTHONPATH=str(source))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _KEYS_SCRIPT + "\nassert kgan_nas.__file__.startswith(%r)" % str(source),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(source),
        check=True,
    )
    return json.loads(result.stdout)


def test_default_space_samples_what_the_code_before_the_recipe_genes_sampled(tmp_path):
    """Seeds 0..20, three shapes, (un)conditional: the same sampled, mutated and crossed
    keys, the same random-stream state and the same stored space as the base commit."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git history of this repository")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BASE_COMMIT, "kgan_nas"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.skip(f"base commit {BASE_COMMIT[:8]} is not in this clone's history")
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    now = _keys_with(REPO)
    assert len(now) == 6 * (1 + 2 * 21)
    assert now == _keys_with(tmp_path)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(8, 8, 1), (28, 28, 1)]))
def test_one_choice_recipe_fields_draw_no_random_numbers(seed, shape):
    """A space whose recipe fields each hold one (non-default) choice draws exactly the
    random numbers of a default space, and samples the same networks."""
    plain = SearchSpace(image_shape=shape, max_params=400_000)
    fixed = SearchSpace(
        image_shape=shape,
        max_params=400_000,
        ema_decays=(0.999,),
        augment_policies=("translation",),
        augment_probabilities=(0.5,),
        r1_weights=(1.0,),
        d_steps=(2,),
    )
    rng_plain, rng_fixed = np.random.default_rng(seed), np.random.default_rng(seed)
    a, b = plain.sample(rng_plain), fixed.sample(rng_fixed)
    assert (a.generator, a.discriminator) == (b.generator, b.discriminator)
    assert rng_plain.bit_generator.state == rng_fixed.bit_generator.state
    child_a, child_b = mutate(a, plain, rng_plain), mutate(b, fixed, rng_fixed)
    assert (child_a.generator, child_a.discriminator) == (child_b.generator, child_b.discriminator)
    assert b.training.ema_decay == 0.999 and b.training.d_steps == 2


# ---------------------------------------------------------------------------
# Sampling, operators and repair in a space with everything on
# ---------------------------------------------------------------------------


def _family(shape, seed):
    space = FULL_SPACES[shape]
    rng = np.random.default_rng(seed)
    parent, other = space.sample(rng), space.sample(rng)
    child = mutate(parent, space, rng, rate=0.3)
    return space, [parent, other, child, crossover(child, other, space, rng)]


@settings(max_examples=150, deadline=None)
@given(shape=st.sampled_from(list(FULL_SPACES)), seed=st.integers(0, 2**32 - 1))
def test_full_space_genomes_are_valid_neutral_and_round_trip(shape, seed):
    """Sampled, mutated and crossed genomes are valid, repair leaves them alone, their
    JSON round-trips, and the neutral values hold (equal training, equal genes)."""
    space, genomes = _family(shape, seed)
    for genome in genomes:
        assert space.problems(genome) == []
        assert space.repair(genome) == genome
        assert Genome.from_json(genome.to_json()) == genome
        genes = genome.training
        if genes.augment == "none":
            assert genes.augment_probability == 1.0
        if genes.loss == "wasserstein_gp":
            assert genes.r1_weight == 0.0
        for gene in genome.discriminator:
            if gene.kind == "minibatch_std":
                assert gene == LayerGene("minibatch_std")
        low, high = space.upsample_range()
        assert low <= sum(g.upsamples for g in genome.generator) <= high


@settings(max_examples=100, deadline=None)
@given(
    ema=st.floats(0, 0.9999),
    policy=st.sampled_from(["none", "color", "translation", "color,translation,cutout", "cutout"]),
    probability=st.floats(0.01, 1),
    r1=st.floats(0, 100),
    d_steps=st.integers(1, 9),
    loss=st.sampled_from(["non_saturating", "hinge", "wasserstein_gp"]),
)
def test_repair_snaps_recipe_genes_to_the_space(ema, policy, probability, r1, d_steps, loss):
    """Any recipe genes repair into the space's choices; a gray space never keeps 'color'."""
    space = FULL_SPACES[(8, 8, 1)]
    genome = space.sample(np.random.default_rng(0))
    training = genome.training.replace(
        ema_decay=ema,
        augment=policy,
        augment_probability=probability,
        r1_weight=r1,
        d_steps=d_steps,
        loss=loss,
    )
    repaired = space.repair(genome.replace(training=training)).training
    assert repaired.ema_decay in space.ema_decays
    assert repaired.augment in space.augment_policies and "color" not in repaired.augment
    assert repaired.d_steps in space.d_steps
    if repaired.augment == "none":
        assert repaired.augment_probability == 1.0
    else:
        assert repaired.augment_probability in space.augment_probabilities
    if loss == "wasserstein_gp":
        assert repaired.r1_weight == 0.0
    else:
        assert repaired.r1_weight in space.r1_weights
    if policy == "color":
        assert repaired.augment == "none"  # nothing left once color is dropped


def test_repair_maps_new_kinds_a_space_does_not_allow():
    """residual_up -> upsample_conv2d, residual_down -> a stride-2 conv2d, minibatch_std dropped."""
    space = SearchSpace(image_shape=(8, 8, 1), discriminator_layers=(1, 5))
    genome = Genome(
        (LayerGene("residual_up", 16, 3, activation="relu"),) * 2,
        (
            LayerGene("residual_down", 16, 3, activation="relu"),
            LayerGene("minibatch_std"),
            LayerGene("dense", 64, activation="relu"),
        ),
    )
    repaired = space.repair(genome)
    assert [g.kind for g in repaired.generator] == ["upsample_conv2d"] * 2
    assert [(g.kind, g.stride) for g in repaired.discriminator] == [("conv2d", 2), ("dense", 1)]


def test_repair_puts_minibatch_std_among_the_convolutions():
    space = FULL_SPACES[(8, 8, 1)]
    genome = space.sample(np.random.default_rng(1)).replace(
        discriminator=(
            LayerGene("dense", 64, activation="relu"),
            LayerGene("minibatch_std"),
            LayerGene("residual_down", 16, 3, activation="relu"),
        )
    )
    kinds = [g.kind for g in space.repair(genome).discriminator]
    assert kinds == ["minibatch_std", "residual_down", "dense"]


def test_mutation_reaches_every_recipe_choice_and_new_kind_from_a_fixed_start():
    """A seeded chain of mutations from one start visits every choice of every recipe gene
    and every new layer kind."""
    space = FULL_SPACES[(32, 32, 3)]
    genome = space.repair(
        Genome(
            (LayerGene("upsample_conv2d", 16, 3, activation="relu"),) * 2,
            (LayerGene("conv2d", 16, 3, stride=2, activation="relu"),),
        )
    )
    assert recipe_lib.gan_options(genome.training) == {}  # everything starts off
    seen = {field: set() for field in recipe_lib.genome_lib.RECIPE_FIELDS}
    kinds = {"generator": set(), "discriminator": set()}
    rng = np.random.default_rng(5)
    for _ in range(400):
        genome = mutate(genome, space, rng)
        for field in seen:
            seen[field].add(getattr(genome.training, field))
        for network in kinds:
            kinds[network] |= {gene.kind for gene in getattr(genome, network)}
    for name, (field, _) in recipe_lib.SPACE_FIELDS.items():
        assert seen[field] == set(getattr(space, name)), field
    assert "residual_up" in kinds["generator"]
    assert {"residual_down", "minibatch_std"} <= kinds["discriminator"]


def test_crossover_takes_each_recipe_gene_from_a_parent():
    space = FULL_SPACES[(8, 8, 1)]
    base = space.sample(np.random.default_rng(3))
    a = space.repair(
        base.replace(
            training=base.training.replace(
                loss="hinge",
                ema_decay=0.99,
                augment="translation",
                augment_probability=0.25,
                r1_weight=0.1,
                d_steps=1,
            )
        )
    )
    b = space.repair(
        base.replace(
            training=base.training.replace(
                loss="hinge",
                ema_decay=0.999,
                augment="translation,cutout",
                augment_probability=0.5,
                r1_weight=10.0,
                d_steps=2,
            )
        )
    )
    rng = np.random.default_rng(0)
    seen = {field: set() for field in recipe_lib.genome_lib.RECIPE_FIELDS}
    for _ in range(40):
        child = crossover(a, b, space, rng)
        for field in seen:
            value = getattr(child.training, field)
            assert value in (getattr(a.training, field), getattr(b.training, field))
            seen[field].add(value)
    assert all(len(values) == 2 for values in seen.values()), seen


def test_gan_options_leave_out_what_is_off():
    assert recipe_lib.gan_options(TrainingGenes()) == {}
    genes = TrainingGenes(
        ema_decay=0.99, augment="cutout", augment_probability=0.5, r1_weight=1, d_steps=2
    )
    assert recipe_lib.gan_options(genes) == {
        "ema_decay": 0.99,
        "augment": "cutout",
        "augment_probability": 0.5,
        "r1_weight": 1.0,
        "d_steps": 2,
    }
    with pytest.raises(ValueError, match="not a recipe gene"):
        recipe_lib.choices(FULL_SPACES[(8, 8, 1)], "loss")


@settings(max_examples=20, deadline=None)
@given(
    shape=st.sampled_from([(8, 8, 1), (28, 28, 1), (32, 32, 3)]),
    seed=st.integers(0, 2**31 - 1),
)
def test_with_recipe_turns_every_gene_on_and_keeps_the_rest(shape, seed):
    plain = SearchSpace(image_shape=shape, max_params=500_000, filters=(16, 32))
    space = plain.with_recipe()
    for field, choices in recipe_lib.RECIPE_CHOICES.items():
        assert getattr(space, field) == choices
        assert recipe_lib.SPACE_FIELDS[field][1][0] in choices  # "off" stays a choice
    for field, kinds in recipe_lib.RECIPE_KINDS.items():
        assert getattr(space, field) == getattr(plain, field) + kinds
    assert (space.filters, space.max_params, space.image_shape) == ((16, 32), 500_000, shape)
    assert space.with_recipe() == space  # idempotent: kinds are not added twice
    assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    genome = space.sample(np.random.default_rng(seed))
    assert space.problems(genome) == []


def test_with_recipe_samples_reach_every_recipe_choice():
    space = SearchSpace(image_shape=(28, 28, 1), max_params=500_000).with_recipe()
    rng = np.random.default_rng(0)
    seen = {field: set() for field in recipe_lib.RECIPE_CHOICES}
    for _ in range(300):
        training = space.sample(rng).training
        for field, (gene, _) in recipe_lib.SPACE_FIELDS.items():
            seen[field].add(getattr(training, gene))
    # A genome that does not augment holds the neutral probability.
    assert seen.pop("augment_probabilities") >= set(
        recipe_lib.RECIPE_CHOICES["augment_probabilities"]
    )
    for field, values in seen.items():
        assert values == set(recipe_lib.RECIPE_CHOICES[field]), field
