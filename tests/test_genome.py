"""Genome, search space, operators and decoder invariants."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas.core.genome import DISCRIMINATOR_KINDS
from kgan_nas.core.genome import GENERATOR_KINDS
from kgan_nas.core.genome import LAYER_KINDS
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.operators import crossover
from kgan_nas.core.operators import mutate
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.core.space import SearchSpace

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)]
SPACES = {
    shape: SearchSpace(image_shape=shape, latent_dim=16, max_params=400_000) for shape in SHAPES
}

shapes = st.sampled_from(SHAPES)
seeds = st.integers(0, 2**32 - 1)


def _genomes(shape, seed):
    """A sampled genome, a mutant of it and a cross of both."""
    space = SPACES[shape]
    rng = np.random.default_rng(seed)
    parent = space.sample(rng)
    other = space.sample(rng)
    child = mutate(parent, space, rng, rate=0.3)
    cross = crossover(child, other, space, rng)
    return space, [parent, child, cross]


@settings(max_examples=300, deadline=None)
@given(shape=shapes, seed=seeds)
def test_operators_always_produce_valid_genomes(shape, seed):
    """Sampled, mutated and crossed genomes are valid and within max_params."""
    space, genomes = _genomes(shape, seed)
    for genome in genomes:
        assert space.problems(genome) == []
        assert space.params(genome) <= space.max_params
        low, high = space.upsample_range()
        assert low <= sum(g.upsamples for g in genome.generator) <= high


@settings(max_examples=200, deadline=None)
@given(shape=shapes, seed=seeds)
def test_json_round_trip_is_identity(shape, seed):
    """to_json/from_json returns an equal genome with the same key."""
    _, genomes = _genomes(shape, seed)
    for genome in genomes:
        restored = Genome.from_json(genome.to_json())
        assert restored == genome
        assert restored.key() == genome.key()
        assert json.loads(genome.to_json())["format"] == 1


@settings(max_examples=100, deadline=None)
@given(shape=shapes, seed=seeds)
def test_mutation_changes_the_genome(shape, seed):
    """A mutant always differs from its parent (so it is worth evaluating)."""
    space = SPACES[shape]
    rng = np.random.default_rng(seed)
    parent = space.sample(rng)
    assert mutate(parent, space, rng, rate=0.05).key() != parent.key()


@settings(max_examples=100, deadline=None)
@given(shape=shapes, seed=seeds)
def test_repair_is_idempotent(shape, seed):
    """Repairing a valid genome returns it unchanged."""
    space, genomes = _genomes(shape, seed)
    for genome in genomes:
        assert space.repair(genome) == genome


def test_same_seed_same_genome_sequence():
    """Sampling and mutating with the same seed gives the same genomes."""
    space = SPACES[(28, 28, 1)]

    def sequence(seed):
        rng = np.random.default_rng(seed)
        genomes = [space.sample(rng) for _ in range(5)]
        genomes += [mutate(g, space, rng) for g in genomes]
        return [g.key() for g in genomes]

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)


def test_key_is_stable_in_a_fresh_process():
    """key() is content-based: a new interpreter computes the same key."""
    space = SPACES[(32, 32, 3)]
    genome = space.sample(np.random.default_rng(11))
    code = (
        "import sys; from kgan_nas.core.genome import Genome; "
        "print(Genome.from_json(sys.stdin.read()).key())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=genome.to_json(),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert result.stdout.strip() == genome.key()


def test_genome_modules_do_not_import_tensorflow():
    """The search side (genome, space, operators, fitness) never loads TF or Keras."""
    code = (
        "import sys; import kgan_nas.core.genome, kgan_nas.core.space, kgan_nas.core.operators, "
        "kgan_nas.core.fitness, kgan_nas.core.shapes; import kgan_nas; kgan_nas.SearchSpace; "
        "bad = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_repair_fixes_order_upsampling_and_length():
    """Repair sorts sections, adds the missing upsampling and respects bounds."""
    space = SearchSpace(image_shape=(28, 28, 1), generator_layers=(1, 4))
    conv = LayerGene("conv2d", size=32, kernel=3, activation="relu")
    dense = LayerGene("dense", size=128, activation="relu")
    broken = Genome(generator=(conv, dense), discriminator=(dense, conv.replace(stride=2)))
    assert space.problems(broken)
    fixed = space.repair(broken)
    assert space.problems(fixed) == []
    assert fixed.generator[0].kind == "dense"
    assert sum(g.upsamples for g in fixed.generator) == 2
    assert [g.kind for g in fixed.discriminator] == ["conv2d", "dense"]


def test_repair_shrinks_under_max_params():
    """A genome over max_params is shrunk until it fits."""
    space = SearchSpace(image_shape=(28, 28, 1), max_params=80_000)
    big = SearchSpace(image_shape=(28, 28, 1)).repair(
        Genome(
            generator=(LayerGene("upsample_conv2d", 128, 5, activation="relu"),) * 2,
            discriminator=(
                LayerGene("conv2d", 128, 5, stride=1, activation="relu"),
                LayerGene("dense", 256, activation="relu"),
            ),
        )
    )
    assert SearchSpace(image_shape=(28, 28, 1)).params(big) > 80_000
    small = space.repair(big)
    assert space.params(small) <= 80_000
    assert space.problems(small) == []


def test_too_tight_space_raises_with_fix():
    """A max_params no genome can meet fails sampling with a clear message."""
    space = SearchSpace(image_shape=(64, 64, 3), max_params=1_000)
    with pytest.raises(InvalidGenomeError, match="raise max_params"):
        space.sample(np.random.default_rng(0), max_tries=5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_shape": (28, 28)}, "image_shape"),
        ({"image_shape": (28, 28, 7)}, "channels"),
        ({"generator_layers": (3, 1)}, "generator_layers"),
        ({"filters": ()}, "filters"),
        ({"filters": (16, -4)}, "positive"),
        ({"activations": ("relu", "sparkle")}, "sparkle"),
        ({"generator_layer_types": ("conv2d", "lstm")}, "lstm"),
        ({"discriminator_normalizations": ("weird",)}, "weird"),
        ({"losses": ("least_squares",)}, "least_squares"),
        ({"max_params": 0}, "max_params"),
        ({"generator_layer_types": ("conv2d", "dense")}, "upsampling"),
        ({"generator_layers": (0, 1)}, "upsampling layer"),
        ({"dropout_rates": (0.5, 1.5)}, "dropout_rates"),
    ],
)
def test_invalid_space_names_the_field(kwargs, message):
    """An invalid SearchSpace raises ValueError naming the field and the fix."""
    with pytest.raises(ValueError, match=message):
        SearchSpace(**kwargs)


def test_unknown_layer_kind_and_fields_are_rejected():
    """Unknown layer kinds and fields raise ValueError that lists the known ones."""
    with pytest.raises(ValueError, match="Known kinds"):
        LayerGene("lstm", size=3)
    with pytest.raises(ValueError, match="Unknown layer gene field"):
        LayerGene.from_dict({"kind": "dense", "size": 3, "colour": "red"})
    with pytest.raises(ValueError, match="Known losses"):
        TrainingGenes(loss="least_squares")


def test_space_round_trips_through_dict():
    """SearchSpace.to_dict is JSON-able and from_dict restores an equal space."""
    space = SearchSpace(image_shape=(32, 32, 3), filters=(8, 16), max_params=10_000_000)
    restored = SearchSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert restored == space


@pytest.mark.keras
def test_decoded_models_match_shapes_and_parameter_estimates():
    """For 144 genomes on 4 image shapes: G emits (batch, H, W, C) in [-1, 1],
    D emits (batch, 1), and the pure-Python parameter counts equal Keras'."""
    import keras

    from kgan_nas.evaluation.decode import build_discriminator
    from kgan_nas.evaluation.decode import build_generator

    checked = 0
    rng = np.random.default_rng(2024)
    for shape in SHAPES:
        space = SPACES[shape]
        genomes = []
        while len(genomes) < 36:
            parent = space.sample(rng)
            genomes += [parent, mutate(parent, space, rng, rate=0.3)]
            genomes.append(crossover(genomes[-1], space.sample(rng), space, rng))
        z = rng.normal(size=(2, space.latent_dim)).astype("float32") * 3
        for genome in genomes:
            generator = build_generator(genome, space)
            discriminator = build_discriminator(genome, space)
            images = keras.ops.convert_to_numpy(generator(z, training=False))
            logits = keras.ops.convert_to_numpy(discriminator(images, training=False))
            assert images.shape == (2,) + shape
            assert np.all(np.abs(images) <= 1.0)
            assert logits.shape == (2, 1)
            assert generator.count_params() == space.generator_params(genome), genome.describe()
            assert discriminator.count_params() == space.discriminator_params(genome), (
                genome.describe()
            )
            checked += 1
        keras.backend.clear_session()
    assert checked == 144


@pytest.mark.keras
def test_every_layer_kind_and_norm_decodes():
    """A hand-made genome using every kind (residual blocks and minibatch_std included)
    and normalisation builds and counts right."""
    from kgan_nas.evaluation.decode import build_discriminator
    from kgan_nas.evaluation.decode import build_generator

    space = SearchSpace(
        image_shape=(16, 16, 3),
        generator_layers=(1, 8),
        discriminator_layers=(1, 8),
        activations=("relu", "swish", "leaky_relu"),
        discriminator_normalizations=("none", "batch", "layer", "spectral"),
        generator_layer_types=GENERATOR_KINDS,
        discriminator_layer_types=DISCRIMINATOR_KINDS,
        max_start_size=2,
    )
    genome = space.repair(
        Genome(
            generator=(
                LayerGene("dense", 64, activation="relu", norm="batch"),
                LayerGene("dropout", rate=0.1),
                LayerGene("conv2d_transpose", 32, 3, stride=2, activation="swish", norm="layer"),
                LayerGene("upsample_conv2d", 16, 5, activation="leaky_relu", norm="batch"),
                LayerGene("residual_up", 16, 3, activation="relu", norm="layer"),
                LayerGene("conv2d", 16, 3, activation="relu"),
            ),
            discriminator=(
                LayerGene("conv2d", 16, 3, stride=2, activation="leaky_relu", norm="spectral"),
                LayerGene("residual_down", 16, 3, activation="leaky_relu", norm="spectral"),
                LayerGene("minibatch_std"),
                LayerGene("conv2d", 32, 3, stride=2, activation="leaky_relu", norm="layer"),
                LayerGene("dropout", rate=0.25),
                LayerGene("dense", 64, activation="relu", norm="batch"),
            ),
        )
    )
    assert space.problems(genome) == []
    assert {g.kind for g in genome.generator + genome.discriminator} == set(LAYER_KINDS)
    generator = build_generator(genome, space)
    discriminator = build_discriminator(genome, space)
    assert generator.output_shape == (None, 16, 16, 3)
    assert discriminator.output_shape == (None, 1)
    assert generator.count_params() == space.generator_params(genome)
    assert discriminator.count_params() == space.discriminator_params(genome)


@pytest.mark.keras
def test_decoder_rejects_invalid_genome():
    """Decoding a genome that is not valid in the space names the problem."""
    from kgan_nas.evaluation.decode import build_generator

    space = SearchSpace(image_shape=(28, 28, 1))
    genome = Genome(
        generator=(LayerGene("conv2d", 32, 3, activation="relu"),),
        discriminator=(LayerGene("dense", 64, activation="relu"),),
    )
    with pytest.raises(InvalidGenomeError, match="upsampling"):
        build_generator(genome, space)


def test_image_sides_that_cannot_halve_far_are_named_with_a_resize_that_fits():
    """30 x 30 halves once, to a 15 x 15 start map: the parameter bound fails on its
    projection, and the message says so instead of only 'raise max_params'."""
    space = SearchSpace(image_shape=(30, 30, 1), max_params=150_000)
    with pytest.raises(InvalidGenomeError, match=r"15 x 15 map.*Resize the images to 32 x 32"):
        space.sample(np.random.default_rng(0))
    # The closest size that fits, rounded down where that is closer.
    with pytest.raises(InvalidGenomeError, match=r"Resize the images to 256 x 256"):
        SearchSpace(image_shape=(300, 300, 1), max_params=150_000).sample(np.random.default_rng(0))
    with pytest.raises(InvalidGenomeError):
        space.sample(np.random.default_rng(0))
    resized = SearchSpace(image_shape=(32, 32, 1), max_params=150_000)
    resized.sample(np.random.default_rng(0))  # the advice works


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 300), width=st.integers(1, 300), max_start=st.integers(2, 12))
def test_the_start_size_hint_is_given_exactly_when_no_start_map_fits(height, width, max_start):
    from kgan_nas.core.shapes import start_size_hint

    # Layers enough for every shape: reachability is another check (`_check_reachable`).
    layers = {"max_start_size": max_start, "generator_layers": (1, 10)}
    space = SearchSpace(image_shape=(height, width, 1), **layers)
    low, _ = space.upsample_range()
    fits = max(height, width) // 2**low <= max_start
    hint = start_size_hint((height, width, 1), max_start, max_upsamplings=5)
    assert (hint == "") == fits
    match = re.search(r"Resize the images to (\d+) x (\d+)", hint)
    if match:  # the resize it names is a space a generator of at most 5 layers can reach
        new_h, new_w = int(match[1]), int(match[2])
        resized = SearchSpace(image_shape=(new_h, new_w, 1), **layers)
        low, _ = resized.upsample_range()
        assert max(new_h, new_w) // 2**low <= max_start and low <= 5
