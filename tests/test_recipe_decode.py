"""Recipe genes and the new layer kinds on the Keras side.

Decoded residual blocks and `MinibatchStd` count exactly the parameters
`kgan_nas.core.shapes` estimates, save to `.keras` and load with `safe_mode=True`
(`backend`: tests/test_backends.py re-runs those under JAX); `build_gan`
turns the recipe genes into `kgan_nas.GAN` options; a candidate with EMA is
scored and saved with its averaged generator; old run directories resume.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_recipe_space import KINDS
from test_recipe_space import RECIPE
from tiny_runs import scripted_search
from tiny_runs import scripted_space
from tiny_runs import skip_worker_files
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas.core import recipe as recipe_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.space import SearchSpace

SMALL = dict(latent_dim=8, filters=(4, 8), units=(8, 16), max_params=200_000)
SPACES = {
    shape: SearchSpace(image_shape=shape, **KINDS, **SMALL) for shape in [(8, 8, 1), (16, 16, 3)]
}


def _every_new_kind(space):
    """A genome using residual_up, residual_down and minibatch_std with every norm."""
    g_norms = [n for n in ("none", "batch", "layer") if n in space.generator_normalizations]
    d_norms = ("none", "batch", "layer", "spectral")
    generator = [LayerGene("dense", 16, activation="relu")]
    generator += [LayerGene("residual_up", 8, 3, activation="relu", norm=n) for n in g_norms[:2]]
    generator += [LayerGene("residual_up", 4, 5, activation="linear", norm=g_norms[-1])]
    discriminator = [LayerGene("minibatch_std")]
    discriminator += [
        LayerGene("residual_down", 8, 3, activation="leaky_relu", norm=n) for n in d_norms
    ]
    discriminator += [LayerGene("minibatch_std"), LayerGene("dense", 8, activation="relu")]
    return Genome(tuple(generator), tuple(discriminator))


def _space(shape=(16, 16, 3), **overrides):
    settings_ = dict(
        KINDS,
        image_shape=shape,
        latent_dim=8,
        generator_layers=(1, 6),
        discriminator_layers=(1, 8),
        filters=(4, 8),
        units=(8, 16),
        max_start_size=2,
    )
    settings_.update(overrides)
    return SearchSpace(**settings_)


@pytest.mark.keras
@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(shape=st.sampled_from(list(SPACES)), seed=st.integers(0, 2**32 - 1))
def test_parameter_estimates_equal_keras_counts_with_the_new_kinds(shape, seed):
    """Sampled, mutated and crossed genomes of a space with every new kind: the images and
    logits have the right shapes and plan's counts equal Keras' count_params()."""
    import keras

    from kgan_nas.core.operators import crossover
    from kgan_nas.core.operators import mutate
    from kgan_nas.evaluation.decode import build_discriminator
    from kgan_nas.evaluation.decode import build_generator

    space = SPACES[shape]
    rng = np.random.default_rng(seed)
    parent = space.sample(rng)
    child = mutate(parent, space, rng, rate=0.5)
    z = rng.normal(size=(3, space.latent_dim)).astype("float32")
    for genome in (parent, child, crossover(child, space.sample(rng), space, rng)):
        generator, discriminator = (
            build_generator(genome, space),
            build_discriminator(genome, space),
        )
        images = generator(z, training=False)
        assert tuple(images.shape) == (3,) + shape
        assert tuple(discriminator(images, training=False).shape) == (3, 1)
        assert generator.count_params() == space.generator_params(genome), genome.describe()
        assert discriminator.count_params() == space.discriminator_params(genome), genome.describe()
    keras.backend.clear_session()


@pytest.mark.keras
def test_every_new_kind_and_norm_decodes_with_exact_counts():
    from kgan_nas.evaluation.decode import build_discriminator
    from kgan_nas.evaluation.decode import build_generator

    space = _space()
    genome = space.repair(_every_new_kind(space))
    assert [g.kind for g in genome.generator].count("residual_up") == 3
    assert [g.kind for g in genome.discriminator].count("residual_down") == 4
    generator, discriminator = build_generator(genome, space), build_discriminator(genome, space)
    assert generator.output_shape == (None, 16, 16, 3)
    assert discriminator.output_shape == (None, 1)
    assert generator.count_params() == space.generator_params(genome)
    assert discriminator.count_params() == space.discriminator_params(genome)
    names = {layer.name for layer in discriminator.layers}
    assert {"d0_minibatch_std", "d1_add", "d4_shortcut_conv_spectral"} <= names


@pytest.mark.keras
@pytest.mark.backend
def test_minibatch_std_appends_the_batch_spread_and_round_trips_its_config():
    import keras

    from kgan_nas.training.layers import MinibatchStd

    x = np.random.default_rng(0).normal(size=(5, 3, 2, 4)).astype("float32")
    out = keras.ops.convert_to_numpy(MinibatchStd()(x))
    expected = np.mean(np.sqrt(x.var(axis=0) + 1e-8))
    assert out.shape == (5, 3, 2, 5)
    np.testing.assert_allclose(out[..., :4], x)
    np.testing.assert_allclose(out[..., 4], expected, rtol=1e-5)
    layer = MinibatchStd.from_config(MinibatchStd(epsilon=1e-6, name="s").get_config())
    assert (layer.epsilon, layer.name) == (1e-6, "s")
    with pytest.raises(ValueError, match="epsilon must be a number > 0"):
        MinibatchStd(epsilon=0)


_LOAD = """
import sys, numpy as np, keras
for name in ("generator", "discriminator"):
    if name == "discriminator":
        # Only a discriminator can hold MinibatchStd, kgan_nas's one custom layer:
        # the generator above loaded with Keras alone, without kgan_nas imported.
        import kgan_nas.training.layers
    model = keras.saving.load_model(f"{sys.argv[1]}/{name}.keras", safe_mode=True, compile=False)
    x = np.load(f"{sys.argv[1]}/{name}_x.npy")
    np.save(f"{sys.argv[1]}/{name}_y.npy", keras.ops.convert_to_numpy(model(x, training=False)))
"""


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.slow
def test_networks_with_the_new_kinds_save_and_load_in_safe_mode(tmp_path):
    """Saved as .keras, both networks load in a fresh process with safe_mode=True and
    without custom_objects (the generator with Keras alone), and compute what they computed."""
    import keras

    from kgan_nas.evaluation.decode import build_models

    space = _space(shape=(8, 8, 1))
    genome = space.repair(_every_new_kind(space))
    rng = np.random.default_rng(1)
    inputs = {
        "generator": rng.normal(size=(4, space.latent_dim)).astype("float32"),
        "discriminator": rng.uniform(-1, 1, size=(4, 8, 8, 1)).astype("float32"),
    }
    models = dict(zip(("generator", "discriminator"), build_models(genome, space)))
    for name, model in models.items():
        model.save(str(tmp_path / f"{name}.keras"))
        np.save(tmp_path / f"{name}_x.npy", inputs[name])
    subprocess.run(
        [sys.executable, "-c", _LOAD, str(tmp_path)],
        check=True,
        capture_output=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    for name, model in models.items():
        expected = keras.ops.convert_to_numpy(model(inputs[name], training=False))
        got = np.load(tmp_path / f"{name}_y.npy")
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        reloaded = keras.saving.load_model(str(tmp_path / f"{name}.keras"), safe_mode=True)
        assert reloaded.count_params() == model.count_params()


def _genome_with(space, **training):
    genome = space.sample(np.random.default_rng(0))
    return space.repair(genome.replace(training=genome.training.replace(**training)))


@pytest.mark.keras
def test_build_gan_passes_the_recipe_genes_and_lets_arguments_override_them():
    from kgan_nas.evaluation import decode

    space = SearchSpace(image_shape=(8, 8, 1), ema_decays=(0.0, 0.999), d_steps=(1, 2), **SMALL)
    plain = decode.build_gan(_genome_with(space, loss="hinge"), space, jit_compile=False)
    assert (plain.ema, plain.d_steps) == (None, 1)
    genome = _genome_with(space, loss="hinge", ema_decay=0.999, d_steps=2)
    gan = decode.build_gan(genome, space, jit_compile=False)
    assert (gan.ema_decay, gan.d_steps) == (0.999, 2)
    assert decode.build_gan(genome, space, jit_compile=False, d_steps=3).d_steps == 3


@pytest.mark.keras
@pytest.mark.backend
def test_a_genome_with_every_new_gene_and_kind_trains_on_both_backends():
    """Residual blocks, minibatch std, EMA, DiffAugment, R1 and two D steps in one
    genome: it trains on TensorFlow here and under XLA on JAX (test_backends)."""
    from kgan_nas import data
    from kgan_nas import training
    from kgan_nas.evaluation import decode
    from kgan_nas.training.compile_choice import resolve_jit_compile

    space = _space(shape=(8, 8, 1), **RECIPE, losses=("non_saturating", "hinge"))
    genome = Genome(
        (LayerGene("residual_up", 4, 3, activation="relu", norm="batch"),),
        (LayerGene("minibatch_std"), LayerGene("residual_down", 4, 3, activation="leaky_relu")),
    )
    genome = space.repair(
        genome.replace(
            training=genome.training.replace(
                ema_decay=0.999,
                augment="translation,cutout",
                augment_probability=0.5,
                r1_weight=1.0,
                d_steps=2,
            )
        )
    )
    options = recipe_lib.gan_options(genome.training)
    assert options["augment"] == "translation,cutout" and options["r1_weight"] == 1.0
    kinds = {gene.kind for gene in genome.generator + genome.discriminator}
    assert {"residual_up", "residual_down", "minibatch_std"} <= kinds
    # XLA where kgan_nas would use it for 2 steps: always on JAX, not on a TF CPU.
    jit_compile = resolve_jit_compile("auto", 2)
    gan = decode.build_gan(genome, space, seed=0, jit_compile=jit_compile)
    assert (gan.d_steps, gan.ema_decay) == (2, 0.999)
    images = np.random.default_rng(0).uniform(-1, 1, size=(32, 8, 8, 1)).astype("float32")
    report = training.train_for_budget(gan, data.train_input(images, 8, seed=0), steps=2)
    assert report.status == "ok", report.reason
    assert np.isfinite(gan.ema_generator()(np.zeros((2, space.latent_dim), "float32"))).all()


@pytest.mark.keras
def test_user_generator_is_the_weight_average_when_the_gan_keeps_one():
    from kgan_nas import data
    from kgan_nas import training
    from kgan_nas.evaluation import decode
    from kgan_nas.evaluation.evaluator import user_generator

    space = SearchSpace(image_shape=(8, 8, 1), ema_decays=(0.9,), **SMALL)
    images = np.random.default_rng(0).uniform(-1, 1, size=(32, 8, 8, 1)).astype("float32")
    gan = decode.build_gan(_genome_with(space, ema_decay=0.9), space, seed=0, jit_compile=False)
    training.train_for_budget(gan, data.train_input(images, 8, seed=0), steps=3)
    generator, generate = user_generator(gan)
    assert generator is not gan.generator
    averaged = gan.ema_generator()
    for mine, theirs in zip(generator.get_weights(), averaged.get_weights()):
        np.testing.assert_allclose(mine, theirs)
    assert any(
        not np.allclose(mine, live)
        for mine, live in zip(generator.get_weights(), gan.generator.get_weights())
    )
    expected = training.generate_images(averaged, 6, latent_dim=gan.latent_dim, seed=1)
    np.testing.assert_allclose(generate(6, seed=1), expected, rtol=1e-5, atol=1e-6)
    space = SearchSpace(image_shape=(8, 8, 1), **SMALL)
    plain = decode.build_gan(space.sample(np.random.default_rng(0)), space, jit_compile=False)
    assert user_generator(plain) == (plain.generator, plain.generate)


@pytest.mark.keras
@pytest.mark.slow
def test_a_tiny_search_with_ema_d_steps_and_the_new_kinds(tmp_path):
    """A real search over the new genes and kinds trains, scores and saves its candidates;
    their networks load back from the run directory (MinibatchStd included)."""
    space = SearchSpace(
        image_shape=(8, 8, 1),
        latent_dim=8,
        max_params=30_000,
        generator_layer_types=("conv2d", "residual_up", "upsample_conv2d"),
        discriminator_layer_types=("residual_down", "minibatch_std", "conv2d"),
        ema_decays=(0.99,),
        d_steps=(1, 2),
    )
    result = tiny_real_search(tmp_path / "run", space=space, population=2)
    assert [record["status"] for record in result.history] == ["ok", "ok"]
    for record in result.history:
        genome = Genome.from_dict(record["genome"])
        assert genome.training.ema_decay == 0.99
        discriminator = result.discriminator(genome.key())
        assert discriminator.count_params() == space.discriminator_params(genome)


def test_a_run_stored_before_the_recipe_genes_resumes(tmp_path, monkeypatch):
    """A default space stores no recipe field and no genome a recipe gene, so its run
    directory is one written before they existed; with any such key removed it resumes."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory)
    path = directory / "config.json"
    stored = json.loads(path.read_text())
    assert not set(recipe_lib.SPACE_FIELDS) & set(stored["search"]["space"])
    for name in recipe_lib.SPACE_FIELDS:
        stored["search"]["space"].pop(name, None)
    path.write_text(json.dumps(stored))
    history = (directory / "history.jsonl").read_text()
    assert not any(field in history for field in recipe_lib.genome_lib.RECIPE_FIELDS)
    result = kgan_nas.resume(str(directory), generations=2, verbose=0)
    assert len(result.history) == 8


def test_a_run_with_recipe_genes_stores_and_resumes_them(tmp_path, monkeypatch):
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    space = scripted_space(**RECIPE)
    scripted_search(directory, space=space)
    stored = json.loads((directory / "config.json").read_text())["search"]["space"]
    assert SearchSpace.from_dict(stored) == space
    result = kgan_nas.resume(str(directory), generations=2, verbose=0)
    assert len(result.history) == 8
    genomes = [Genome.from_dict(record["genome"]) for record in result.history]
    assert all(space.problems(genome) == [] for genome in genomes)


@pytest.mark.keras
def test_a_conditional_gan_with_ema_samples_and_grids_from_the_average():
    from kgan_nas import data
    from kgan_nas.evaluation import decode
    from kgan_nas.evaluation.class_scores import class_grid
    from kgan_nas.evaluation.evaluator import user_generator
    from kgan_nas.training import conditional

    space = SearchSpace(image_shape=(8, 8, 1), num_classes=3, ema_decays=(0.9,), **SMALL)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(24, 8, 8, 1)).astype("float32")
    labels = np.arange(24) % 3
    gan = decode.build_gan(space.sample(rng), space, seed=0, jit_compile=False)
    inputs = data.train_input(images, 8, seed=0, labels=labels)
    assert kgan_nas.training.train_for_budget(gan, inputs, steps=2).status == "ok"
    _, generate = user_generator(gan)
    wanted = np.array([2, 0, 1, 1])
    expected = conditional.generate_conditional(
        gan.ema_generator(), wanted.reshape(-1, 1), latent_dim=gan.latent_dim, seed=4
    )
    np.testing.assert_allclose(generate(4, seed=4, labels=wanted), expected, rtol=1e-5, atol=1e-6)
    grid, per_class = class_grid(gan, per_class=2, generate=generate)
    assert grid.shape == (6, 8, 8, 1) and per_class == 2
    assert not np.allclose(grid, class_grid(gan, per_class=2)[0])
