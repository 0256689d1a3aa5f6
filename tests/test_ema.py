"""The generator's exponential moving average (`kgan_nas.training.ema`, `GAN(ema_decay=...)`).

Closed-form checks: the pure update against a hand computation, constant
weights leave the average equal to them, and after real train steps the
average equals the formula applied to the weights read between steps, on
TensorFlow and (via tests/test_backends.py) on JAX, with XLA (the other
tests train without XLA, which compiles too slowly for a few steps).
"""

import numpy as np
import pytest

import kgan_nas
from kgan_nas.training import ema as ema_lib

pytestmark = [pytest.mark.keras, pytest.mark.backend]

SPACE = kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=30_000)


def _gan(ema_decay, seed=0, g_optimizer=None, jit_compile=False):
    import keras

    from kgan_nas.evaluation import decode

    genome = SPACE.sample(np.random.default_rng(seed))
    keras.utils.set_random_seed(seed)
    gan = kgan_nas.GAN(*decode.build_models(genome, SPACE), seed=seed, ema_decay=ema_decay)
    gan.compile(
        g_optimizer=g_optimizer or keras.optimizers.Adam(1e-3),
        d_optimizer=keras.optimizers.Adam(1e-3),
        loss="non_saturating",
        jit_compile=jit_compile,
    )
    return gan


def _fit(gan, steps):
    from kgan_nas import data

    images = np.random.default_rng(1).uniform(-1, 1, (64, 8, 8, 1)).astype("float32")
    gan.fit(data.train_input(images, 16, seed=0), epochs=1, steps_per_epoch=steps, verbose=0)


def _values(variables):
    return [np.array(v.value) for v in variables]


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.999])
def test_update_follows_the_warmed_up_formula(decay):
    """Three updates from a known start give the hand-computed averages."""
    from keras import ops

    average, count = [ops.convert_to_tensor(np.array([1.0, -2.0], "float32"))], 0.0
    expected = np.array([1.0, -2.0])
    for step, weight in enumerate(([3.0, 0.0], [0.0, 4.0], [-1.0, 1.0])):
        average, count = ema_lib.ema_update(average, count, [np.array(weight, "float32")], decay)
        d = min(decay, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * np.array(weight)
    np.testing.assert_allclose(ops.convert_to_numpy(average[0]), expected, rtol=1e-6)
    assert float(count) == 3.0
    assert float(ema_lib.decay_at(100_000.0, 0.999)) == pytest.approx(0.999)
    assert float(ema_lib.decay_at(0.0, 0.999)) == pytest.approx(0.1)


@pytest.mark.slow
def test_constant_weights_leave_the_average_equal_to_them():
    """With a generator learning rate of 0 the average stays the weights, step after step."""
    import keras

    gan = _gan(0.9, g_optimizer=keras.optimizers.SGD(learning_rate=0.0), jit_compile=True)
    before = _values(gan.generator.trainable_variables)
    _fit(gan, 3)
    after = _values(gan.generator.trainable_variables)
    for b, a, e in zip(before, after, _values(gan.ema.averages)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(e, b, rtol=1e-6, atol=1e-7)
    assert float(gan.ema.count.value) == 3.0


@pytest.mark.slow
def test_train_steps_update_the_average_in_closed_form():
    """After each XLA train step: average = d_t * previous + (1 - d_t) * new weights."""
    gan = _gan(0.9, jit_compile=True)
    average = _values(gan.generator.trainable_variables)  # starts at the weights
    for step in range(2):
        _fit(gan, 1)
        weights = _values(gan.generator.trainable_variables)
        d = min(0.9, (1 + step) / (10 + step))
        expected = [d * a + (1 - d) * w for a, w in zip(average, weights)]
        average = _values(gan.ema.averages)
        for got, want in zip(average, expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    moved = [np.abs(a - w).max() for a, w in zip(average, weights)]
    assert max(moved) > 0  # the average lags the weights, it is not a copy


def test_ema_generator_carries_the_average_and_survives_save_and_load(tmp_path):
    """`ema_generator()` is a separate model with the averaged weights; a saved GAN keeps them."""
    import keras

    gan = _gan(0.5)
    _fit(gan, 2)
    averaged = gan.ema_generator()
    assert averaged is not gan.generator and averaged.name == gan.generator.name
    for got, want in zip(_values(averaged.trainable_variables), _values(gan.ema.averages)):
        np.testing.assert_array_equal(got, want)
    z = np.random.default_rng(0).normal(size=(4, SPACE.latent_dim)).astype("float32")
    assert not np.allclose(averaged.predict(z, verbose=0), gan.generator.predict(z, verbose=0))
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.ema_decay == 0.5
    for got, want in zip(_values(loaded.ema.averages), _values(gan.ema.averages)):
        np.testing.assert_array_equal(got, want)


def test_replace_networks_starts_a_new_average_for_the_new_generator():
    """Swapping networks restarts the average from the new generator's weights."""
    import keras

    from kgan_nas.evaluation import decode

    gan = _gan(0.9)
    _fit(gan, 1)
    genome = SPACE.sample(np.random.default_rng(5))
    generator, discriminator = decode.build_models(genome, SPACE)
    gan.replace_networks(
        generator,
        discriminator,
        g_optimizer=keras.optimizers.Adam(1e-3),
        d_optimizer=keras.optimizers.Adam(1e-3),
    )
    assert float(gan.ema.count.value) == 0.0
    for got, want in zip(_values(gan.ema.averages), _values(generator.trainable_variables)):
        np.testing.assert_array_equal(got, want)
    _fit(gan, 1)
    assert float(gan.ema.count.value) == 1.0


@pytest.mark.parametrize("decay", [1.0, -0.1, "0.9", float("nan")])
def test_bad_decay_is_refused_with_the_range(decay):
    with pytest.raises(ValueError, match=r"ema_decay must be a number in \[0, 1\)"):
        _gan(decay)


def test_ema_generator_without_an_average_says_how_to_get_one():
    gan = _gan(None)
    assert gan.ema is None
    with pytest.raises(ValueError, match="ema_decay="):
        gan.ema_generator()


def _batch_norm_generator():
    import keras

    inputs = keras.Input((8,))
    x = keras.layers.Reshape((4, 4, 6))(keras.layers.Dense(4 * 4 * 6)(inputs))
    x = keras.layers.LeakyReLU()(keras.layers.BatchNormalization(name="bn_1")(x))
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization(name="bn_2")(x)
    return keras.Model(inputs, x)


def test_recomputed_batch_norm_statistics_are_the_generators_own():
    """Each layer gets the mean and variance of its input over the latents, with the
    layers before it already updated: the output is then normalised exactly."""
    import keras

    generator = _batch_norm_generator()
    assert ema_lib.recompute_batch_norm(generator, num_samples=600, batch_size=128, seed=3) == 2
    z = keras.random.normal((600, 8), seed=3)  # the same latents
    for name in ("bn_1", "bn_2"):
        layer = generator.get_layer(name)
        seen = np.asarray(keras.Model(generator.inputs, layer.input)(z, training=False))
        np.testing.assert_allclose(layer.moving_mean.numpy(), seen.mean(axis=(0, 1, 2)), atol=1e-5)
        np.testing.assert_allclose(
            layer.moving_variance.numpy(), seen.var(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6
        )
    out = np.asarray(generator(z, training=False))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-2)


def test_recompute_leaves_a_generator_without_batch_norm_alone_and_refuses_bad_input():
    import keras

    inputs = keras.Input((8,))
    plain = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    assert ema_lib.recompute_batch_norm(plain) == 0
    labels = keras.Input((1,))
    x = keras.layers.Concatenate()([inputs, labels])
    two = keras.Model([inputs, labels], keras.layers.BatchNormalization()(x))
    with pytest.raises(ValueError, match="one input"):
        ema_lib.recompute_batch_norm(two)
    with pytest.raises(ValueError, match="num_samples"):
        ema_lib.recompute_batch_norm(_batch_norm_generator(), num_samples=0)
