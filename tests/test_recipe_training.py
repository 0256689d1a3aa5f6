"""The training recipe's options: DiffAugment (`training/augment.py`) and R1.

The op tests call the augmentation on hand-chosen random numbers and compare
with NumPy; the GAN tests train tiny pairs (8x8 images, a few steps). Tests
marked `backend` run on TensorFlow here and again on JAX through
tests/test_backends.py.
"""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_training import BATCH
from test_training import IMAGE_SHAPE
from test_training import LATENT
from test_training import compiled_gan
from test_training import make_discriminator
from test_training import make_generator
from test_training import real_images

from kgan_nas.training import GAN
from kgan_nas.training import augment as aug
from kgan_nas.training import make_optimizer

ON_JAX = keras.backend.backend() == "jax"
# Uniform numbers as the train steps draw them: [0, 1).
unit = st.floats(0.0, 1.0, exclude_max=True, width=32)
sides = st.integers(2, 12)


def _np(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def _uniform(batch, **columns):
    """A `(batch, UNIFORMS_PER_IMAGE)` draw: 0.5 everywhere but the given columns."""
    uniform = np.full((batch, aug.UNIFORMS_PER_IMAGE), 0.5, "float32")
    for name, values in columns.items():
        uniform[:, getattr(aug, name)] = values
    return uniform


# ----------------------------------------------------------------------------
# The ops, on given random numbers


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize(
    "policy, channels",
    [("translation", 1), ("cutout", 2), ("color", 3), ("color,translation,cutout", 3)],
)
def test_each_policy_keeps_shape_and_dtype_and_changes_the_images(policy, channels):
    """Augmented batches keep shape and dtype; each policy changes what it gets."""
    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 6, channels)).astype("float32")
    uniform = np.random.default_rng(1).uniform(0, 1, (4, aug.UNIFORMS_PER_IMAGE))
    uniform[:, aug._TRANSLATION] = 0.99  # a shift of +1 (at least) along both axes
    names = aug.check_augment(policy, channels)
    out = aug.augment_images(keras.ops.convert_to_tensor(images), names, 1.0, uniform)
    assert tuple(out.shape) == images.shape
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    for before, after in zip(images, _np(out)):
        assert not np.allclose(before, after)


def _reference_translation(images, dy, dx):
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    for y in range(height):
        for x in range(width):
            if 0 <= y - dy < height and 0 <= x - dx < width:
                out[:, y, x] = images[:, y - dy, x - dx]
    return out


@pytest.mark.keras
@pytest.mark.backend
@settings(max_examples=20, deadline=None)
@given(height=sides, width=sides, u_y=unit, u_x=unit, seed=st.integers(0, 100))
def test_translation_shifts_by_whole_pixels_and_fills_with_the_pad_value(
    height, width, u_y, u_x, seed
):
    """out[y, x] = in[y - dy, x - dx], PAD_VALUE outside, |d| <= 1/8 of the side (rounded)."""
    images = np.random.default_rng(seed).uniform(-1, 1, (1, height, width, 2)).astype("float32")
    out = _np(aug.translate(keras.ops.convert_to_tensor(images), np.array([[u_y, u_x]], "float32")))
    s_y, s_x = aug.translation_limit(height), aug.translation_limit(width)
    dy = min(int(np.floor(u_y * (2 * s_y + 1))), 2 * s_y) - s_y
    dx = min(int(np.floor(u_x * (2 * s_x + 1))), 2 * s_x) - s_x
    assert aug.PAD_VALUE == 0.0 and s_y == max(1, round(height / 8 + 1e-9))
    np.testing.assert_array_equal(out, _reference_translation(images, dy, dx))


@pytest.mark.keras
@pytest.mark.backend
@settings(max_examples=20, deadline=None)
@given(height=sides, width=sides, u_y=unit, u_x=unit)
def test_cutout_zeroes_exactly_one_rectangle_of_half_the_sides(height, width, u_y, u_x):
    """One cutout_size(height) x cutout_size(width) rectangle, fully inside, is PAD_VALUE."""
    images = np.full((1, height, width, 3), 0.7, "float32")
    out = _np(aug.cutout(keras.ops.convert_to_tensor(images), np.array([[u_y, u_x]], "float32")))
    zeroed = np.all(out[0] == aug.PAD_VALUE, axis=-1)
    assert np.all((out[0] == 0.7) | (out[0] == aug.PAD_VALUE))
    rows, cols = np.nonzero(zeroed)
    size_y, size_x = aug.cutout_size(height), aug.cutout_size(width)
    assert size_y == max(1, int(height / 2 + 0.5)) and size_x == max(1, int(width / 2 + 0.5))
    assert zeroed.sum() == size_y * size_x
    assert rows.max() - rows.min() + 1 == size_y and cols.max() - cols.min() + 1 == size_x


@pytest.mark.keras
@pytest.mark.backend
def test_color_matches_diffaugment_closed_forms():
    """Brightness adds u - 0.5; saturation 2u and contrast u + 0.5 scale about the means."""
    images = np.random.default_rng(0).uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    x = keras.ops.convert_to_tensor(images)
    brightness_only = np.array([[0.75, 0.5, 0.5], [0.1, 0.5, 0.5]], "float32")
    np.testing.assert_allclose(
        _np(aug.color(x, brightness_only)),
        images + np.array([0.25, -0.4]).reshape(2, 1, 1, 1),
        atol=1e-6,
    )
    grey = _np(aug.color(x, np.array([[0.5, 0.0, 0.5]] * 2, "float32")))
    np.testing.assert_allclose(grey, np.repeat(images.mean(-1, keepdims=True), 3, -1), atol=1e-6)
    flat = _np(aug.color(x, np.array([[0.5, 0.5, 0.0]] * 2, "float32")))
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(flat, (images - mean) * 0.5 + mean, atol=1e-6)


@pytest.mark.keras
@pytest.mark.backend
@settings(max_examples=25, deadline=None)
@given(probability=st.floats(0.0625, 1.0, width=32), draws=st.lists(unit, min_size=4, max_size=4))
def test_only_images_drawn_under_the_probability_are_augmented(probability, draws):
    """An image with mask draw u >= probability passes unchanged; the others are augmented."""
    images = np.random.default_rng(0).uniform(0.1, 1, (4, 8, 8, 1)).astype("float32")
    uniform = _uniform(4, _MASK=np.array(draws, "float32"))
    names = aug.check_augment("cutout")
    out = _np(aug.augment_images(keras.ops.convert_to_tensor(images), names, probability, uniform))
    for image, after, u in zip(images, out, draws):
        if u < probability:
            assert np.sum(after == 0.0) == aug.cutout_size(8) ** 2
        else:
            np.testing.assert_array_equal(after, image)


@pytest.mark.keras
@pytest.mark.backend
def test_diff_augment_is_seeded_and_differentiable():
    """The same seed gives the same augmentation, another seed another; gradients flow."""
    images = np.random.default_rng(0).uniform(-1, 1, (6, 8, 8, 3)).astype("float32")
    policy = "color,translation,cutout"
    first = _np(aug.diff_augment(images, policy, seed=3))
    np.testing.assert_array_equal(first, _np(aug.diff_augment(images, policy, seed=3)))
    assert not np.allclose(first, _np(aug.diff_augment(images, policy, seed=4)))
    assert aug.diff_augment(images, "").shape == images.shape
    # d sum(augment(x)) / dx is 1 at every pixel that lands in the output.
    names = aug.check_augment("translation,cutout", 3)
    uniform = _uniform(6, _TRANSLATION=0.99)
    grads = _input_gradient(lambda x: aug.augment_images(x, names, 1.0, uniform), images)
    assert set(np.unique(grads)) == {0.0, 1.0}
    assert grads.sum() > 0.25 * grads.size


def _input_gradient(function, images):
    """d sum(function(images)) / d images, on either backend."""
    x = keras.ops.convert_to_tensor(images)
    if ON_JAX:
        import jax

        return np.asarray(jax.grad(lambda t: function(t).sum())(x))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(function(x))
    return tape.gradient(total, x).numpy()


# ----------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "augment, message",
    [
        (5, "comma-separated string"),
        (["translation"], "comma-separated string"),
        ("flip", r"Unknown augmentation op 'flip'.*color, translation, cutout"),
        ("translation,,cutout", "empty item"),
        ("translation,", "empty item"),
        ("cutout, cutout", "repeats"),
    ],
)
def test_bad_policies_name_the_problem(augment, message):
    with pytest.raises(ValueError, match=message):
        aug.check_augment(augment)


def test_policies_are_normalised():
    assert aug.check_augment(None) == aug.check_augment(" ") == ()
    assert aug.check_augment(" translation , cutout") == ("translation", "cutout")


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(augment="color"), r"'color' needs RGB images.*1; drop 'color'"),
        (dict(augment="cutout", augment_probability=0.0), r"augment_probability.*\(0, 1\]"),
        (dict(augment="cutout", augment_probability=1.5), r"augment_probability.*\(0, 1\]"),
        (dict(augment_probability="0.5"), r"augment_probability.*\(0, 1\]"),
        (dict(augment_probability=float("nan")), r"augment_probability.*\(0, 1\]"),
        (dict(r1_weight=-1.0), "r1_weight must be a number >= 0"),
        (dict(r1_weight="1"), "r1_weight must be a number >= 0"),
        (dict(r1_weight=True), "r1_weight must be a number >= 0"),
    ],
)
def test_bad_recipe_options_are_refused_by_the_gan(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GAN(make_generator(), make_discriminator(), **kwargs)


@pytest.mark.keras
@pytest.mark.backend
def test_r1_with_wasserstein_gp_is_refused_at_compile():
    """WGAN-GP has its own penalty: compile says to use gp_weight."""
    gan = GAN(make_generator(), make_discriminator(), r1_weight=1.0)
    with pytest.raises(ValueError, match="wasserstein_gp.*gp_weight"):
        gan.compile(loss="wasserstein_gp")
    gan.compile(loss="hinge")
    assert gan.loss_name == "hinge"


@pytest.mark.keras
@pytest.mark.backend
def test_config_carries_the_recipe_and_old_configs_still_load():
    """get_config/from_config keep the options; a config without them gets the defaults."""
    gan = GAN(
        make_generator(),
        make_discriminator(),
        augment=" cutout,translation",
        augment_probability=0.25,
        r1_weight=0.5,
    )
    config = gan.get_config()
    assert (config["augment"], config["augment_probability"], config["r1_weight"]) == (
        "cutout,translation",
        0.25,
        0.5,
    )
    rebuilt = GAN.from_config(config)
    assert rebuilt.augment_ops == ("cutout", "translation") and rebuilt.r1_weight == 0.5
    for key in ("augment", "augment_probability", "r1_weight"):
        config.pop(key)
    old = GAN.from_config(config)
    assert (old.augment, old.augment_probability, old.r1_weight) == (None, 1.0, 0.0)


# ----------------------------------------------------------------------------
# R1 against a closed form


def _linear_discriminator(kernel):
    model = keras.Sequential(
        [keras.Input(IMAGE_SHAPE), keras.layers.Flatten(), keras.layers.Dense(1)],
        name="discriminator",
    )
    model.layers[-1].set_weights([kernel, np.zeros(1, "float32")])
    return model


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize(
    "loss, augment", [("non_saturating", None), ("hinge", "translation,cutout")]
)
def test_r1_of_a_linear_discriminator_is_its_squared_weight_norm(loss, augment):
    """For D(x) = w.x + b, the logged r1 is ||w||^2 and d_loss grows by r1_weight/2 ||w||^2."""
    kernel = np.random.default_rng(0).normal(0, 0.1, (int(np.prod(IMAGE_SHAPE)), 1))
    kernel = kernel.astype("float32")
    generator = make_generator()
    logs = {}
    for r1_weight in (0.0, 3.0):
        g = make_generator()
        g.set_weights(generator.get_weights())
        gan = compiled_gan(
            g, _linear_discriminator(kernel), loss=loss, augment=augment, r1_weight=r1_weight
        )
        history = gan.fit(real_images(BATCH), batch_size=BATCH, shuffle=False, verbose=0)
        logs[r1_weight] = {key: values[-1] for key, values in history.history.items()}
    squared_norm = float(np.sum(kernel**2))
    assert "r1" not in logs[0.0]
    assert logs[3.0]["r1"] == pytest.approx(squared_norm, rel=1e-5)
    difference = logs[3.0]["d_loss"] - logs[0.0]["d_loss"]
    assert difference == pytest.approx(1.5 * squared_norm, rel=1e-4)


# ----------------------------------------------------------------------------
# Training with the recipe


class ZeroFraction(keras.layers.Layer):
    """Identity that records the smallest fraction of exact zeros in any image it trained on."""

    def build(self, input_shape):
        self.smallest = self.add_weight(shape=(), initializer="ones", trainable=False)

    def call(self, images, training=None):
        if training:
            zeros = keras.ops.cast(keras.ops.equal(images, 0.0), "float32")
            fraction = keras.ops.min(keras.ops.mean(zeros, axis=(1, 2, 3)))
            self.smallest.assign(keras.ops.minimum(self.smallest, fraction))
        return images


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize(
    "loss, r1_weight, d_steps", [("hinge", 1.0, 2), ("non_saturating", 0.0, 1)]
)
def test_every_discriminator_call_sees_augmented_images(loss, r1_weight, d_steps):
    """With cutout on every image, every image any training call of D saw (reals and fakes,
    in D and G updates, R1's pass included) had its zeroed rectangle."""
    probe = ZeroFraction()
    layers = [keras.Input(IMAGE_SHAPE), probe, keras.layers.Flatten(), keras.layers.Dense(1)]
    discriminator = keras.Sequential(layers, name="discriminator")
    gan = compiled_gan(
        discriminator=discriminator,
        loss=loss,
        augment="cutout",
        r1_weight=r1_weight,
        d_steps=d_steps,
    )
    history = gan.fit(real_images(2 * BATCH), batch_size=BATCH, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert ("r1" in history) == (r1_weight > 0)
    area = aug.cutout_size(IMAGE_SHAPE[0]) * aug.cutout_size(IMAGE_SHAPE[1]) / 64
    assert area == 0.25
    assert float(_np(probe.smallest)) >= area


@pytest.mark.keras
@pytest.mark.backend
def test_wasserstein_gp_trains_with_augmentation():
    """WGAN-GP takes a policy too (its interpolates mix the augmented reals and fakes)."""
    gan = compiled_gan(loss="wasserstein_gp", augment="translation,cutout", augment_probability=0.5)
    history = gan.fit(real_images(2 * BATCH), batch_size=BATCH, epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "gp"}
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["gp"][-1] > 0


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.slow
def test_full_recipe_trains_with_and_without_xla_and_round_trips(tmp_path):
    """augment + R1 + d_steps=2 + EMA trains (XLA on and off on TensorFlow, XLA on JAX),
    both modes agree, and the GAN saves and loads as .keras in safe mode."""
    modes = (True,) if ON_JAX else (True, False)
    initial = make_generator(), make_discriminator()
    results = []
    for jit_compile in modes:
        g, d = make_generator(), make_discriminator()
        g.set_weights(initial[0].get_weights())
        d.set_weights(initial[1].get_weights())
        gan = compiled_gan(
            g,
            d,
            jit_compile=jit_compile,
            augment="translation,cutout",
            augment_probability=0.75,
            r1_weight=1.0,
            d_steps=2,
            ema_decay=0.9,
        )
        history = gan.fit(real_images(3 * BATCH), batch_size=BATCH, shuffle=False, verbose=0)
        results.append((gan, history.history))
    gan, logs = results[0]
    assert set(logs) == {"d_loss", "g_loss", "r1"}
    assert all(np.isfinite(v).all() for v in logs.values())
    kernels = [v for v in gan.generator.trainable_variables if v.path.endswith("kernel")]
    initial_kernels = [v for v in initial[0].trainable_variables if v.path.endswith("kernel")]
    for trained, start in zip(kernels, initial_kernels):
        assert not np.allclose(_np(trained), _np(start))  # gradients reach G through the policy
    for _, other in results[1:]:
        for key in logs:
            np.testing.assert_allclose(other[key], logs[key], rtol=1e-3, atol=1e-5)

    path = tmp_path / "recipe.keras"
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, GAN) and loaded.compiled
    assert (loaded.augment, loaded.augment_probability, loaded.r1_weight) == (
        "translation,cutout",
        0.75,
        1.0,
    )
    assert (loaded.d_steps, loaded.ema_decay) == (2, 0.9)
    np.testing.assert_allclose(loaded.generate(3, seed=1), gan.generate(3, seed=1), atol=1e-6)
    z = np.ones((1, LATENT), "float32")
    np.testing.assert_allclose(
        _np(loaded.ema_generator()(z)), _np(gan.ema_generator()(z)), atol=1e-6
    )


def _conditional_pair(num_classes=3, shape=(8, 8, 3)):
    z, label = keras.Input((LATENT,)), keras.Input((1,), dtype="int32")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(num_classes, 4)(label))
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([z, embedded]))
    images = keras.layers.Reshape(shape)(
        keras.layers.Dense(int(np.prod(shape)), activation="tanh")(hidden)
    )
    generator = keras.Model([z, label], images, name="generator")
    x, d_label = keras.Input(shape), keras.Input((1,), dtype="int32")
    d_embedded = keras.layers.Flatten()(keras.layers.Embedding(num_classes, 4)(d_label))
    features = keras.layers.Concatenate()([keras.layers.Flatten()(x), d_embedded])
    logit = keras.layers.Dense(1)(keras.layers.LeakyReLU(0.2)(keras.layers.Dense(16)(features)))
    return generator, keras.Model([x, d_label], logit, name="discriminator")


@pytest.mark.keras
@pytest.mark.backend
def test_conditional_gan_trains_with_color_augmentation_and_r1():
    """A class-conditional RGB pair trains with every op and R1 (labels go through as they are)."""
    from kgan_nas.data import train_input

    generator, discriminator = _conditional_pair()
    gan = GAN(
        generator,
        discriminator,
        seed=0,
        augment="color,translation,cutout",
        augment_probability=0.5,
        r1_weight=2.0,
    )
    gan.compile(
        g_optimizer=make_optimizer("adam", 1e-3),
        d_optimizer=make_optimizer("adam", 1e-3),
        loss="hinge",
        jit_compile=ON_JAX,
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2 * BATCH, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, 2 * BATCH)
    history = gan.fit(
        train_input(images, BATCH, labels=labels), steps_per_epoch=2, shuffle=False, verbose=0
    )
    assert set(history.history) == {"d_loss", "g_loss", "r1"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert gan.generate(3, seed=0, labels=[0, 1, 2]).shape == (3, 8, 8, 3)
