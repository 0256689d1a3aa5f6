"""GAN training engine: losses, the train step on both backends, budgets."""

import functools
import importlib.util
import os
import subprocess
import sys
import textwrap
import types

import keras
import numpy as np
import pytest

from kgan_nas import training
from kgan_nas.core import genome as genome_lib
from kgan_nas.training import GAN
from kgan_nas.training import LOSSES
from kgan_nas.training import make_optimizer
from kgan_nas.training import train_for_budget

LATENT = 8
IMAGE_SHAPE = (8, 8, 1)
BATCH = 16
STEPS = 4
# XLA compiles take seconds on a small CPU; each backend's functional tests
# use its cheaper mode (plain tf.function on TensorFlow, jax.jit on JAX,
# where op-by-op eager execution is slower). `test_xla_and_non_xla_agree`
# runs both modes.
FAST_JIT = keras.backend.backend() == "jax"

keras_test = [pytest.mark.keras, pytest.mark.backend]


def make_generator(batch_norm=False):
    layers = [keras.Input((LATENT,)), keras.layers.Dense(16, activation="relu")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers += [
        keras.layers.Dense(int(np.prod(IMAGE_SHAPE)), activation="tanh"),
        keras.layers.Reshape(IMAGE_SHAPE),
    ]
    return keras.Sequential(layers, name="generator")


def make_discriminator(spectral=False, dropout=0.0, head=None, image_shape=IMAGE_SHAPE, outputs=1):
    hidden = keras.layers.Dense(16)
    layers = [
        keras.Input(image_shape),
        keras.layers.Flatten(),
        keras.layers.SpectralNormalization(hidden) if spectral else hidden,
        keras.layers.LeakyReLU(0.2),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(outputs))
    if head is not None:
        layers.append(head)
    return keras.Sequential(layers, name="discriminator")


def real_images(n=STEPS * BATCH, seed=0):
    """Simple patterns in [-1, 1]: a bright square at a random place."""
    rng = np.random.default_rng(seed)
    images = -np.ones((n,) + IMAGE_SHAPE, dtype="float32")
    for image, (row, col) in zip(images, rng.integers(0, 5, size=(n, 2))):
        image[row : row + 4, col : col + 4] = 1.0
    return images + rng.normal(0, 0.05, images.shape).astype("float32")


class Batches(keras.utils.PyDataset):
    """An (effectively) endless stream of fixed-size batches."""

    def __init__(self, images, batch_size=BATCH):
        super().__init__()
        self.images = images
        self.batch_size = batch_size
        self.per_pass = len(images) // batch_size

    def __len__(self):
        return 100_000

    def __getitem__(self, index):
        start = (index % self.per_pass) * self.batch_size
        return self.images[start : start + self.batch_size]


def compiled_gan(
    generator=None,
    discriminator=None,
    *,
    loss="non_saturating",
    jit_compile=FAST_JIT,
    learning_rate=1e-3,
    **gan_kwargs,
):
    gan = GAN(
        generator or make_generator(), discriminator or make_discriminator(), seed=0, **gan_kwargs
    )
    gan.compile(
        g_optimizer=make_optimizer("adam", learning_rate),
        d_optimizer=make_optimizer("adam", learning_rate),
        loss=loss,
        jit_compile=jit_compile,
    )
    return gan


def weights_by_path(model):
    return {v.path: np.array(keras.ops.convert_to_numpy(v)) for v in model.weights}


def seed_state(gan):
    return np.array(keras.ops.convert_to_numpy(gan.seed_generator.state))


# ----------------------------------------------------------------------------
# Loss maths and optimizers (no training)


@pytest.mark.backend
def test_loss_functions_match_closed_forms():
    """Each loss equals its formula at hand-computable logits."""
    zeros = np.zeros((4, 1), "float32")
    ln2 = np.log(2.0)
    d_loss = training.discriminator_loss
    g_loss = training.generator_loss
    assert float(d_loss("non_saturating", zeros, zeros)) == pytest.approx(2 * ln2)
    assert float(g_loss("non_saturating", zeros)) == pytest.approx(ln2)
    assert float(d_loss("hinge", zeros, zeros)) == pytest.approx(2.0)
    confident_real, confident_fake = zeros + 3.0, zeros - 3.0
    assert float(d_loss("hinge", confident_real, confident_fake)) == pytest.approx(0.0)
    assert float(g_loss("hinge", confident_fake)) == pytest.approx(3.0)
    assert float(d_loss("wasserstein_gp", confident_real, confident_fake)) == (pytest.approx(-6.0))
    assert float(g_loss("wasserstein_gp", confident_fake)) == pytest.approx(3.0)


@pytest.mark.backend
def test_gradient_penalty_is_squared_distance_of_norm_from_one():
    """The penalty is mean((||g|| - 1)^2) over per-sample gradient norms."""
    unit = np.zeros((2, 2, 2, 1), "float32")
    unit[:, 0, 0, 0] = 1.0
    assert float(training.gradient_penalty(unit)) == pytest.approx(0.0, abs=1e-6)
    assert float(training.gradient_penalty(3 * unit)) == pytest.approx(4.0)


@pytest.mark.backend
def test_unknown_loss_is_rejected_with_choices():
    """An unknown loss name raises a ValueError listing every valid loss."""
    with pytest.raises(ValueError) as info:
        training.generator_loss("least_squares", np.zeros((2, 1), "float32"))
    for name in LOSSES:
        assert name in str(info.value)


def test_names_agree_with_genome_training_genes():
    """The losses and optimizers trained here are those genomes can carry."""
    assert set(LOSSES) == set(genome_lib.LOSSES)
    assert set(training.OPTIMIZERS) == set(genome_lib.OPTIMIZERS)


@pytest.mark.backend
@pytest.mark.parametrize(
    "name, cls",
    [
        ("adam", keras.optimizers.Adam),
        ("rmsprop", keras.optimizers.RMSprop),
        ("sgd", keras.optimizers.SGD),
    ],
)
def test_make_optimizer_builds_each_choice(name, cls):
    """Each optimizer name gives that class with the requested learning rate."""
    optimizer = make_optimizer(name, 3e-4, beta_1=0.3)
    assert isinstance(optimizer, cls)
    assert float(optimizer.learning_rate) == pytest.approx(3e-4)
    if name == "adam":
        assert optimizer.beta_1 == pytest.approx(0.3)


@pytest.mark.backend
def test_make_optimizer_rejects_bad_arguments():
    """Unknown names (listing the choices) and non-positive rates raise."""
    with pytest.raises(ValueError, match="adam, rmsprop, sgd"):
        make_optimizer("adagrad", 1e-3)
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer("adam", 0.0)


# ----------------------------------------------------------------------------
# Construction and compile validation


@pytest.mark.keras
@pytest.mark.backend
def test_construction_infers_latent_and_image_shapes():
    """latent_dim comes from the generator input; image_shape from its output."""
    gan = GAN(make_generator(), make_discriminator())
    assert gan.latent_dim == LATENT
    assert gan.image_shape == IMAGE_SHAPE


@pytest.mark.keras
@pytest.mark.backend
def test_discriminator_with_wrong_output_shape_is_rejected():
    """A discriminator emitting (batch, 2) raises a ValueError naming shapes."""
    with pytest.raises(ValueError, match=r"\(batch, 1\).*\(None, 2\)"):
        GAN(make_generator(), make_discriminator(outputs=2))


@pytest.mark.keras
@pytest.mark.backend
def test_generator_not_emitting_images_is_rejected():
    """A generator with a flat output raises a ValueError naming its shape."""
    flat = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(64)])
    with pytest.raises(ValueError, match=r"images.*\(None, 64\)"):
        GAN(flat, make_discriminator())


@pytest.mark.keras
@pytest.mark.backend
def test_discriminator_for_other_image_size_is_rejected():
    """A discriminator that cannot take the generator's images raises."""
    small = make_discriminator(image_shape=(4, 4, 1))
    with pytest.raises(ValueError, match=r"cannot take.*\(None, 8, 8, 1\)"):
        GAN(make_generator(), small)


@pytest.mark.keras
@pytest.mark.backend
def test_bad_constructor_arguments_are_rejected():
    """Non-models, uninferable latent sizes and d_steps < 1 raise."""
    with pytest.raises(TypeError, match="generator"):
        GAN(lambda z: z, make_discriminator())
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(keras.layers.Reshape(IMAGE_SHAPE), make_discriminator())
    with pytest.raises(ValueError, match="d_steps"):
        GAN(make_generator(), make_discriminator(), d_steps=0)


@pytest.mark.keras
@pytest.mark.backend
def test_compile_rejects_bad_configuration():
    """Unknown loss, a shared optimizer object and `optimizer=` raise."""
    gan = GAN(make_generator(), make_discriminator())
    with pytest.raises(ValueError, match="non_saturating, hinge, wasserstein_gp"):
        gan.compile(loss="least_squares")
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="same optimizer"):
        gan.compile(g_optimizer=shared, d_optimizer=shared)
    with pytest.raises(TypeError, match="g_optimizer"):
        gan.compile(optimizer="adam")


@pytest.mark.keras
@pytest.mark.backend
def test_generate_is_seeded_and_batch_size_independent():
    """generate(n, seed) gives n images, the same for any batch size."""
    gan = GAN(make_generator(), make_discriminator())
    images = gan.generate(5, seed=3)
    assert images.shape == (5,) + IMAGE_SHAPE and images.dtype == np.float32
    np.testing.assert_allclose(gan.generate(5, seed=3, batch_size=2), images, atol=1e-6)
    assert not np.allclose(gan.generate(5, seed=4), images)
    assert gan.generate(0).shape == (0,) + IMAGE_SHAPE
    with pytest.raises(ValueError, match="batch_size"):
        gan.generate(2, batch_size=0)


@pytest.mark.keras
@pytest.mark.backend
def test_call_runs_the_generator():
    """Calling the GAN on latents gives the generator's images."""
    gan = GAN(make_generator(), make_discriminator())
    z = np.random.default_rng(0).normal(size=(3, LATENT)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gan(z)), keras.ops.convert_to_numpy(gan.generator(z)), atol=1e-6
    )


# ----------------------------------------------------------------------------
# Training with fit (one trained GAN per loss, shared by the tests below)


# One configuration per loss keeps the number of (slow) XLA compiles down:
# WGAN-GP trains BatchNorm in G and SpectralNorm + Dropout in D; the
# non-saturating run checks d_steps > 1.
_TRAIN_CONFIGS = {
    "non_saturating": dict(rich=False, d_steps=2),
    "hinge": dict(rich=False, d_steps=1),
    "wasserstein_gp": dict(rich=True, d_steps=1),
}


@functools.lru_cache(maxsize=None)
def fit_once(loss):
    """Builds, compiles and fits a GAN for `loss` (once per test session)."""
    config = _TRAIN_CONFIGS[loss]
    rich = config["rich"]
    gan = compiled_gan(
        make_generator(batch_norm=rich),
        make_discriminator(spectral=rich, dropout=0.2 if rich else 0.0),
        loss=loss,
        d_steps=config["d_steps"],
    )
    before = {
        "generator": weights_by_path(gan.generator),
        "discriminator": weights_by_path(gan.discriminator),
        "seed": seed_state(gan),
    }
    history = gan.fit(real_images(), batch_size=BATCH, epochs=1, verbose=0)
    return types.SimpleNamespace(gan=gan, loss=loss, before=before, history=history.history)


@pytest.fixture(params=LOSSES)
def trained(request):
    """A GAN fitted for STEPS steps with each loss."""
    return fit_once(request.param)


@pytest.mark.keras
@pytest.mark.backend
def test_fit_logs_finite_losses(trained):
    """fit logs finite d_loss and g_loss (and gp for WGAN-GP)."""
    expected = {"d_loss", "g_loss"} | ({"gp"} if trained.loss == "wasserstein_gp" else set())
    assert set(trained.history) == expected
    for values in trained.history.values():
        assert np.all(np.isfinite(values))


@pytest.mark.keras
@pytest.mark.backend
def test_fit_updates_every_kernel_of_both_networks(trained):
    """After fit, every kernel of G and D differs from its initial value."""
    for name in ("generator", "discriminator"):
        after = weights_by_path(getattr(trained.gan, name))
        kernels = [p for p in after if p.endswith("kernel")]
        assert len(kernels) >= 2
        for path in kernels:
            assert not np.allclose(after[path], trained.before[name][path]), path


@pytest.mark.keras
@pytest.mark.backend
def test_fit_updates_normalization_state():
    """BatchNorm moving stats and the spectral-norm vector are trained."""
    trained = fit_once("wasserstein_gp")
    g_after = weights_by_path(trained.gan.generator)
    d_after = weights_by_path(trained.gan.discriminator)
    moving = [p for p in g_after if "moving_" in p]
    vectors = [p for p in d_after if p.endswith("vector_u")]
    assert len(moving) == 2 and len(vectors) == 1
    for path in moving:
        assert not np.allclose(g_after[path], trained.before["generator"][path])
    for path in vectors:
        assert not np.allclose(d_after[path], trained.before["discriminator"][path])


@pytest.mark.keras
@pytest.mark.backend
def test_fit_syncs_optimizer_and_noise_state(trained):
    """Each optimizer counted its own updates; the noise seed advanced."""
    gan = trained.gan
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == STEPS
    assert int(keras.ops.convert_to_numpy(gan.d_optimizer.iterations)) == (STEPS * gan.d_steps)
    assert not np.array_equal(seed_state(gan), trained.before["seed"])


@pytest.mark.keras
@pytest.mark.backend
def test_save_and_load_restore_networks_and_optimizers(tmp_path):
    """A saved GAN loads compiled, with equal weights and optimizer steps."""
    gan = fit_once("non_saturating").gan
    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, GAN) and loaded.compiled
    assert (loaded.loss_name, loaded.d_steps) == (gan.loss_name, gan.d_steps)
    for saved, restored in zip(gan.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(saved, restored)
    for name in ("g_optimizer", "d_optimizer"):
        steps = [
            int(keras.ops.convert_to_numpy(getattr(m, name).iterations)) for m in (gan, loaded)
        ]
        assert steps[0] == steps[1] > 0
    # A fresh process that only imports Keras and kgan_nas (as after a ModelCheckpoint
    # run) finds the class: Keras never imports kgan_nas to look it up.
    code = (
        "import sys, keras, kgan_nas; "
        "model = keras.saving.load_model(sys.argv[1]); print(type(model).__name__)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().splitlines()[-1] == "GAN"


@pytest.mark.keras
@pytest.mark.backend
def test_xla_and_non_xla_agree():
    """With equal weights, data and seed, XLA and non-XLA steps agree."""
    generator, discriminator = make_generator(), make_discriminator()
    initial = generator.get_weights() + discriminator.get_weights()
    results = []
    for jit_compile in (True, False):
        g, d = make_generator(), make_discriminator()
        g.set_weights(initial[: len(g.weights)])
        d.set_weights(initial[len(g.weights) :])
        gan = compiled_gan(g, d, loss="wasserstein_gp", jit_compile=jit_compile)
        history = gan.fit(
            real_images(3 * BATCH), batch_size=BATCH, shuffle=False, epochs=1, verbose=0
        ).history
        results.append((history, g.get_weights() + d.get_weights()))
    (xla_logs, xla_weights), (plain_logs, plain_weights) = results
    for key in ("d_loss", "g_loss", "gp"):
        np.testing.assert_allclose(xla_logs[key], plain_logs[key], rtol=1e-3, atol=1e-5)
    assert not np.allclose(xla_weights[0], initial[0])  # it did train
    for xla, plain in zip(xla_weights, plain_weights):
        np.testing.assert_allclose(xla, plain, rtol=1e-3, atol=1e-5)


# ----------------------------------------------------------------------------
# train_for_budget


@pytest.fixture(scope="module")
def healthy_gan():
    """A compiled, well-behaved GAN shared by the budget tests."""
    return compiled_gan()


@pytest.mark.keras
@pytest.mark.backend
def test_budget_runs_all_steps_when_healthy(healthy_gan):
    """A healthy GAN reports ok, every step run, timings and finite logs."""
    batches_seen = []
    counter = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches_seen.append(batch)
    )
    report = train_for_budget(healthy_gan, Batches(real_images()), steps=3, callbacks=[counter])
    assert report.status == "ok" and report.reason == ""
    assert report.steps == 3 and batches_seen == [0, 1, 2]
    assert set(report.logs) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v) for v in report.logs.values())
    assert report.step_seconds > 0 and report.compile_seconds >= 0
    assert report.seconds >= report.step_seconds


@pytest.mark.keras
@pytest.mark.backend
def test_budget_stops_at_time_limit(healthy_gan):
    """Past `seconds`, training stops early with status ok and a reason; the clock
    starts after the first (compiling) step, so a tiny budget still trains 2 steps."""
    report = train_for_budget(healthy_gan, Batches(real_images()), steps=500, seconds=1e-6)
    assert report.status == "ok"
    assert report.steps == 2
    assert "time budget" in report.reason


@pytest.mark.keras
@pytest.mark.backend
def test_budget_reports_divergence(healthy_gan):
    """A loss above the divergence threshold stops with status diverged."""
    report = train_for_budget(
        healthy_gan, Batches(real_images()), steps=5, divergence_threshold=1e-9
    )
    assert report.status == "diverged"
    assert report.steps == 1
    assert "loss" in report.reason


@pytest.mark.keras
@pytest.mark.backend
def test_budget_reports_nan():
    """A discriminator emitting NaN stops training with status nan."""
    poisoned = make_discriminator(head=keras.layers.Lambda(lambda t: t * float("nan")))
    gan = compiled_gan(discriminator=poisoned)
    report = train_for_budget(gan, Batches(real_images()), steps=5)
    assert report.status == "nan"
    assert report.steps == 1
    assert "d_loss" in report.reason


class FailsWhenTraining(keras.layers.Layer):
    """Identity at build time; raises as soon as it is trained."""

    def call(self, inputs, training=None):
        if training:
            raise RuntimeError("broken candidate layer")
        return inputs


@pytest.mark.keras
@pytest.mark.backend
def test_budget_reports_exceptions_as_errors():
    """An exception inside training becomes status error with its message."""
    gan = compiled_gan(discriminator=make_discriminator(head=FailsWhenTraining()))
    report = train_for_budget(gan, Batches(real_images()), steps=5)
    assert report.status == "error"
    assert report.reason.startswith("RuntimeError")
    assert "broken candidate layer" in report.reason
    assert report.steps == 0
    # The failed candidate keeps its weights (JAX detaches them during fit).
    assert gan.generate(2, seed=0).shape == (2,) + IMAGE_SHAPE


@pytest.mark.keras
@pytest.mark.backend
def test_budget_rejects_caller_errors():
    """An uncompiled model or a bad step budget raises instead of reporting."""
    gan = GAN(make_generator(), make_discriminator())
    with pytest.raises(ValueError, match="compile"):
        train_for_budget(gan, Batches(real_images()), steps=1)
    gan.compile()
    with pytest.raises(ValueError, match="steps"):
        train_for_budget(gan, Batches(real_images()), steps=0)
    with pytest.raises(ValueError, match="seconds"):
        train_for_budget(gan, Batches(real_images()), steps=1, seconds=0)


# ----------------------------------------------------------------------------
# Works under JAX without TensorFlow

_NO_TENSORFLOW_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import kgan_nas.training as training
    assert "tensorflow" not in sys.modules, "importing training loaded TF"
    sys.modules["tensorflow"] = None  # any later `import tensorflow` fails
    import keras
    assert keras.backend.backend() == "jax"
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16),
                          keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(1)])
    gan = training.GAN(g, d, seed=0)
    gan.compile()
    images = np.zeros((64, 4, 4, 1), "float32")  # two batches of 32
    report = training.train_for_budget(gan, images, steps=2)
    assert report.status == "ok", report
    print("ok", report.steps)
""")


@pytest.mark.keras
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_jax_backend_needs_no_tensorflow():
    """Under KERAS_BACKEND=jax, importing and training never import TF."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", _NO_TENSORFLOW_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok 2"


@pytest.mark.keras
def test_tf_uniform_from_extreme_bits_stays_open_and_latents_finite():
    """The TF noise transform maps every uint32 (0 and 2**32-1 included) strictly
    inside (0, 1), so the inverse-CDF latents are always finite."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow-only noise path")
    import math

    import tensorflow as tf

    from kgan_nas.training import _bits_to_open_uniform

    bits = tf.constant([0, 1, 2**31, 2**32 - 512, 2**32 - 1], dtype=tf.uint32)
    uniform = _bits_to_open_uniform(bits).numpy()
    assert np.all(uniform > 0) and np.all(uniform < 1)
    normal = math.sqrt(2.0) * tf.math.erfinv(2.0 * uniform - 1.0).numpy()
    assert np.all(np.isfinite(normal))


def test_fit_warns_about_numpy_images_outside_the_generators_range():
    """Keras users often pass `uint8` 0..255 images; a tanh generator cannot match them."""
    gan = compiled_gan()
    raw = np.random.default_rng(0).integers(0, 256, (2 * BATCH,) + IMAGE_SHAPE, dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"dtype uint8 in \[\d+, \d+\].*127\.5 - 1"):
        gan.fit(raw, batch_size=BATCH, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match=r"dtype float32 in \[0, 255\]"):
        gan.fit(np.where(raw > 127, 255.0, 0.0).astype("float32"), batch_size=BATCH, verbose=0)
    with pytest.warns(UserWarning, match=r"in \[0, 1\].*x \* 2 - 1"):  # the usual x / 255.
        gan.fit(raw.astype("float32") / 255.0, batch_size=BATCH, verbose=0)
    # Images in [-1, 1], a little noise beyond included, pass without a word.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        gan.fit(real_images(2 * BATCH), batch_size=BATCH, epochs=1, verbose=0)


def test_validation_is_refused_with_the_callback_that_does_it():
    """Keras's default validation step would feed real images to the generator as latents."""
    gan = compiled_gan()
    images = real_images(2 * BATCH)
    for call in (
        lambda: gan.fit(images, batch_size=BATCH, validation_data=images, verbose=0),
        lambda: gan.fit(images, batch_size=BATCH, validation_split=0.5, verbose=0),
        lambda: gan.evaluate(images, batch_size=BATCH, verbose=0),
        # Positionally, as Keras's signature allows: x, y, batch_size, epochs, verbose,
        # callbacks, validation_split, validation_data.
        lambda: gan.fit(images, None, BATCH, 1, 0, None, 0.0, images),
    ):
        with pytest.raises(ValueError, match="no validation step.*GANMetrics"):
            call()
    # Refused before any training step ran; without validation it trains.
    assert int(gan.g_optimizer.iterations.value) == 0
    gan.fit(images, batch_size=BATCH, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.value) == 2
