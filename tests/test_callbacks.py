"""Callbacks in Keras `fit` pipelines (GANMetrics, SampleGrid, EvolveArchitecture,
inherit_weights) and search-level hooks (SearchCallback, ProgressPrinter,
SearchTensorBoard, Keras callbacks copied into every candidate's fit)."""

import csv
import glob
import json
import math
import os
import warnings

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from keras import ops
from tiny_runs import scripted_search
from tiny_runs import scripted_space
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas import callbacks as callbacks_lib
from kgan_nas import data as data_lib
from kgan_nas import features
from kgan_nas import training
from kgan_nas.callbacks import EvolveArchitecture
from kgan_nas.callbacks import GANMetrics
from kgan_nas.callbacks import SampleGrid
from kgan_nas.callbacks import SearchCallback
from kgan_nas.callbacks import inherit_weights
from kgan_nas.evaluation import decode
from kgan_nas.evaluation import inherit as inherit_lib

LATENT = 8
NUM_SAMPLES = 200
TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the keras.io-style GAN steps with tf.GradientTape",
)


@pytest.fixture(scope="module", autouse=True)
def _shared_cache(cache_dir):
    """Every test here uses the module's extractor cache."""
    return cache_dir


@pytest.fixture(scope="module")
def digits():
    """Digits split as `load_dataset("digits")` and `search(seed=0)` split them."""
    return data_lib.load_dataset("digits")


@pytest.fixture(scope="module")
def quick_extractor(digits):
    """A domain extractor trained for one epoch: enough where only FID's changes matter
    (training a full one costs half a minute under JAX)."""
    return features.DomainExtractor.fit(digits.train, digits.train_labels, epochs=1)


# ----------------------------------------------------------------------------
# Models: kgan_nas.GAN and a GAN written the keras.io way (not kgan_nas code)


def _networks(seed=0):
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential(
        [
            keras.Input((LATENT,)),
            keras.layers.Dense(4 * 4 * 8, activation="relu"),
            keras.layers.Reshape((4, 4, 8)),
            keras.layers.UpSampling2D(),
            keras.layers.Conv2D(1, 3, padding="same", activation="tanh"),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    return generator, discriminator


class KerasIOGAN(keras.Model):
    """The keras.io DCGAN pattern: own compile with two optimizers, own train_step."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)
        # Both networks are built; saying so lets ModelCheckpoint save the weights.
        self.built = True

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile(jit_compile=False)  # XLA would only slow these tiny tests
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        import tensorflow as tf

        batch_size = ops.shape(real_images)[0]
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(latents)
        combined = ops.concatenate([generated, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(latents))
            g_loss = self.loss_fn(ops.zeros((batch_size, 1)), predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}


def _kgan_nas_gan(learning_rate):
    generator, discriminator = _networks()
    gan = kgan_nas.GAN(generator, discriminator, seed=0)
    gan.compile(
        g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        jit_compile=False,
    )  # XLA compiles take longer than these tiny fits
    return gan


def _keras_io_gan(learning_rate):
    generator, discriminator = _networks()
    gan = KerasIOGAN(discriminator, generator, LATENT)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


GAN_KINDS = [
    pytest.param(_kgan_nas_gan, id="kgan_nas.GAN"),
    pytest.param(_keras_io_gan, id="keras.io-style", marks=TF_ONLY),
]


def _read_bytes(path):
    with open(path, "rb") as stream:
        return stream.read()


def _event_values(directory):
    """Scalars `{tag: [(step, value)]}` and HParams `{name: value}` of a run folder."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    scalars, hparams = {}, {}
    for path in sorted(glob.glob(os.path.join(str(directory), "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "hparams":
                    content = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content
                    )
                    if content.HasField("session_start_info"):
                        for name, item in content.session_start_info.hparams.items():
                            hparams[name] = getattr(item, item.WhichOneof("kind"))
                elif plugin == "scalars":
                    scalars.setdefault(value.tag, []).append(
                        (event.step, float(tf.make_ndarray(value.tensor)))
                    )
    return {tag: sorted(points) for tag, points in scalars.items()}, hparams


# ----------------------------------------------------------------------------
# GANMetrics and SampleGrid


@pytest.mark.keras
@pytest.mark.parametrize("make_gan", GAN_KINDS)
def test_gan_metrics_drive_model_checkpoint_tensorboard_and_csv_logger(make_gan, tmp_path):
    """fid_domain reaches the callbacks after GANMetrics: ModelCheckpoint saves exactly at
    each new FID minimum (the last file scores min FID again), TensorBoard and CSVLogger
    hold the logged values, and SampleGrid's grids change as the generator trains."""
    pytest.importorskip("tensorboard")
    gan = make_gan(2e-3)
    is_kgan = isinstance(gan, kgan_nas.GAN)
    pattern = "best_{epoch:02d}" + (".keras" if is_kgan else ".weights.h5")
    metrics = GANMetrics("digits", num_samples=NUM_SAMPLES)
    grids = SampleGrid(tmp_path / "grids", n=16)
    history = gan.fit(
        data_lib.train_input(data_lib.load_dataset("digits").train, 32, seed=0),
        epochs=3,
        steps_per_epoch=20,
        verbose=0,
        shuffle=False,
        callbacks=[
            metrics,
            grids,
            keras.callbacks.ModelCheckpoint(
                str(tmp_path / pattern),
                monitor="fid_domain",
                mode="min",
                save_best_only=True,
                save_weights_only=not is_kgan,
            ),
            keras.callbacks.TensorBoard(str(tmp_path / "tb")),
            keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        ],
    )
    fids = history.history["fid_domain"]
    assert metrics.keys == ("fid_domain", "kid_domain", "is_domain")
    assert len(fids) == 3 and all(math.isfinite(v) and v > 0 for v in fids)
    assert len(history.history["kid_domain"]) == len(history.history["is_domain"]) == 3

    new_minima = [
        epoch + 1 for epoch in range(3) if fids[epoch] < min(fids[:epoch], default=math.inf)
    ]
    saved = sorted(glob.glob(str(tmp_path / "best_*")))
    assert [int(os.path.basename(p)[5:7]) for p in saved] == new_minima
    if is_kgan:
        best_generator = keras.saving.load_model(saved[-1]).generator
    else:
        fresh = make_gan(2e-3)
        fresh.load_weights(saved[-1])
        best_generator = fresh.generator
    rescore = GANMetrics("digits", metrics="fid", num_samples=NUM_SAMPLES, generator=best_generator)
    rescore.on_train_begin()
    logs = {}
    rescore.on_epoch_end(0, logs)
    assert logs["fid_domain"] == pytest.approx(min(fids), rel=1e-6)

    scalars, _ = _event_values(tmp_path / "tb" / "train")
    assert [step for step, _ in scalars["epoch_fid_domain"]] == [0, 1, 2]
    assert [value for _, value in scalars["epoch_fid_domain"]] == pytest.approx(fids, rel=1e-6)
    with open(tmp_path / "log.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [float(row["fid_domain"]) for row in rows] == pytest.approx(fids)

    assert [os.path.basename(p) for p in grids.paths] == [
        "epoch_001.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    assert (tmp_path / "grids" / "epoch_001.png").read_bytes() != (
        tmp_path / "grids" / "epoch_003.png"
    ).read_bytes()


@pytest.mark.keras
@pytest.mark.parametrize("make_gan", GAN_KINDS)
def test_early_stopping_stops_on_the_fid_key_and_skipped_epochs_have_no_key(
    make_gan, tmp_path, quick_extractor
):
    """A frozen GAN (learning rate 0) never improves its FID, so
    EarlyStopping(monitor="fid_domain", patience=2) stops it. With every_n_epochs=2 the
    third epoch is not measured: its logs lack the key (EarlyStopping warns and skips it,
    so patience counts measured epochs) and fit stops after epoch 4, not 3. SampleGrid
    draws the same latents every time, so the frozen generator's grids are identical."""
    gan = make_gan(0.0)
    metrics = GANMetrics(
        "digits",
        every_n_epochs=2,
        metrics=("fid",),
        num_samples=NUM_SAMPLES,
        extractor=quick_extractor,
    )
    grids = SampleGrid(tmp_path / "grids", every_n_epochs=3, n=16)
    stopper = keras.callbacks.EarlyStopping(monitor="fid_domain", mode="min", patience=2)
    seen = []
    keys = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append("fid_domain" in logs)
    )
    with pytest.warns(UserWarning, match="fid_domain` which is not available"):
        history = gan.fit(
            data_lib.train_input(data_lib.load_dataset("digits").train, 32, seed=0),
            epochs=6,
            steps_per_epoch=2,
            verbose=0,
            shuffle=False,
            callbacks=[metrics, grids, stopper, keys],
        )
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3
    assert seen == [True, True, False, True]
    fids = history.history["fid_domain"]
    assert len(fids) == 3 and fids[0] == fids[1] == fids[2] == stopper.best
    assert "kid_domain" not in history.history
    assert [os.path.basename(p) for p in grids.paths] == ["epoch_001.png", "epoch_003.png"]
    first, third = (_read_bytes(path) for path in grids.paths)
    assert first == third


@pytest.mark.keras
def test_gan_metrics_fails_clearly_without_a_generator_or_with_images_outside_range(digits):
    """A model with no `generator` fails at the start of fit, naming the `generator=` fix;
    a generator whose images leave [-1, 1] fails naming tanh."""
    classifier = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    classifier.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"no `generator` attribute.*generator=my_generator"):
        classifier.fit(
            np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0, callbacks=[GANMetrics(digits)]
        )

    extractor = features.DomainExtractor.for_data(
        digits.train, digits.train_labels, fingerprint=digits.fingerprint()
    )
    generator, _ = _networks()
    too_bright = keras.Sequential([generator, keras.layers.Rescaling(3.0)])
    pixels = np.round((digits.eval[..., 0] + 1) * 127.5).astype(np.uint8)  # an array, as users have
    metrics = GANMetrics(pixels, extractor=extractor, num_samples=20, generator=too_bright)
    metrics.on_train_begin()
    with pytest.raises(ValueError, match=r"\[-1, 1\].*activation='tanh'"):
        metrics.on_epoch_end(0, {})
    # A sigmoid generator's [0, 1] is inside [-1, 1]: scored, with one warning saying
    # what the score then measures.
    sigmoid = keras.Sequential([generator, keras.layers.Activation("sigmoid")])
    metrics = GANMetrics(pixels, extractor=extractor, num_samples=20, generator=sigmoid)
    metrics.on_train_begin()
    with pytest.warns(UserWarning, match=r"every value the generator made is in \[0, .*x \* 2 - 1"):
        metrics.on_epoch_end(0, {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics.on_epoch_end(1, {})  # once, not every epoch
    assert not [w for w in caught if "every value the generator made" in str(w.message)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"every_n_epochs": 0}, "every_n_epochs must be a positive integer"),
        ({"metrics": ("fid", "psnr")}, "metrics must be distinct names"),
        ({"metrics": ()}, "metrics must be distinct names"),
        ({"extractor": "clip"}, "extractor must be 'domain', 'inception'"),
        ({"num_samples": 5}, "num_samples must be at least 10"),
        ({"real_data": np.full((10, 8, 8), 7.0)}, "GANMetrics could not use real_data"),
    ],
)
def test_gan_metrics_rejects_bad_arguments_when_built(kwargs, message):
    """Bad arguments fail at construction with a message naming the argument."""
    kwargs = dict({"real_data": "digits"}, **kwargs)
    with pytest.raises(ValueError, match=message):
        GANMetrics(**kwargs)


# ----------------------------------------------------------------------------
# inherit_weights


def _subsequence_pairs_brute_force(first, second):
    """Length of the longest common subsequence, by trying every subset of `first`."""
    import itertools

    for size in range(min(len(first), len(second)), 0, -1):
        for chosen in itertools.combinations(first, size):
            remaining = iter(second)
            if all(any(item == other for other in remaining) for item in chosen):
                return size
    return 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=7), st.lists(st.integers(0, 3), max_size=7))
def test_common_subsequence_is_a_longest_matching_increasing_pairing(first, second):
    """Pairs increase in both sequences, pair equal items, and are as many as possible."""
    pairs = inherit_lib._common_subsequence(first, second)
    assert all(first[i] == second[j] for i, j in pairs)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(pairs, pairs[1:]))
    assert len(pairs) == _subsequence_pairs_brute_force(first, second)


@given(st.lists(st.integers(0, 3), max_size=8), st.integers(0, 8), st.integers(4, 9))
def test_common_subsequence_keeps_everything_around_an_insertion(items, position, new):
    """Inserting one item keeps every original item paired with itself, in order."""
    longer = items[:position] + [new] + items[position:]
    pairs = inherit_lib._common_subsequence(items, longer)
    assert [i for i, _ in pairs] == list(range(len(items)))
    assert [longer[j] for _, j in pairs] == items


@pytest.mark.keras
def test_inherit_weights_copies_layers_whose_shapes_match():
    """Layers around an inserted layer get the source's weights; reshaped and new layers
    keep their own; a model inheriting from its twin computes the same outputs."""

    def mlp(widths, seed):
        keras.utils.set_random_seed(seed)
        return keras.Sequential([keras.Input((3,))] + [keras.layers.Dense(w) for w in widths])

    source = mlp([8, 8, 4], seed=1)
    target = mlp([8, 6, 8, 4], seed=2)
    before = [layer.get_weights() for layer in target.layers]
    pairs = inherit_weights(source, target)
    assert pairs == [
        (source.layers[0].name, target.layers[0].name),
        (source.layers[2].name, target.layers[3].name),
    ]
    for source_index, target_index in ((0, 0), (2, 3)):
        for got, want in zip(
            target.layers[target_index].get_weights(), source.layers[source_index].get_weights()
        ):
            np.testing.assert_array_equal(got, want)
    for index in (1, 2):  # Dense(6), and Dense(8) now fed 6 inputs: shapes differ
        for got, kept in zip(target.layers[index].get_weights(), before[index]):
            np.testing.assert_array_equal(got, kept)

    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=LATENT, max_params=30_000)
    genome = space.sample(np.random.default_rng(3))
    keras.utils.set_random_seed(4)
    parent, _ = decode.build_models(genome, space)
    keras.utils.set_random_seed(5)
    twin, _ = decode.build_models(genome, space)
    latents = np.random.default_rng(0).normal(size=(4, LATENT)).astype("float32")
    assert len(inherit_weights(parent, twin)) == len(
        [layer for layer in parent.layers if layer.weights]
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(twin(latents)), ops.convert_to_numpy(parent(latents)), rtol=1e-6
    )


@pytest.mark.keras
def test_inherit_from_saved_starts_a_child_from_its_saved_parent(tmp_path):
    """The search's inheritance: a child built fresh takes the saved parent's weights."""
    from kgan_nas.core import operators

    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=LATENT, max_params=30_000)
    genome = space.sample(np.random.default_rng(3))
    keras.utils.set_random_seed(4)
    parent = kgan_nas.GAN(*decode.build_models(genome, space))
    parent.generator.save(str(tmp_path / "generator.keras"))
    parent.discriminator.save(str(tmp_path / "discriminator.keras"))
    keras.utils.set_random_seed(5)
    twin = kgan_nas.GAN(*decode.build_models(genome, space))
    weighted = [
        layer
        for model in (twin.generator, twin.discriminator)
        for layer in model.layers
        if layer.weights
    ]
    assert inherit_lib.inherit_from_saved(twin, str(tmp_path)) == len(weighted)
    latents = np.random.default_rng(0).normal(size=(4, LATENT)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(twin.generator(latents)),
        ops.convert_to_numpy(parent.generator(latents)),
        rtol=1e-6,
    )
    child_genome = operators.mutate(genome, space, np.random.default_rng(6), rate=0.3)
    child = kgan_nas.GAN(*decode.build_models(child_genome, space))
    expected = len(inherit_weights(parent.generator, child.generator)) + len(
        inherit_weights(parent.discriminator, child.discriminator)
    )
    child = kgan_nas.GAN(*decode.build_models(child_genome, space))
    assert inherit_lib.inherit_from_saved(child, str(tmp_path)) == expected
    # A parent that failed saved nothing: the child trains from scratch.
    assert inherit_lib.inherit_from_saved(child, str(tmp_path / "missing")) == 0


# ----------------------------------------------------------------------------
# EvolveArchitecture


SMALL_SPACE = kgan_nas.SearchSpace(
    image_shape=(8, 8, 1),
    latent_dim=LATENT,
    max_params=20_000,
    generator_layers=(1, 2),
    discriminator_layers=(1, 2),
)


def _genome_gan(genome, space=SMALL_SPACE):
    keras.utils.set_random_seed(0)
    generator, discriminator = decode.build_models(genome, space)
    gan = kgan_nas.GAN(generator, discriminator, seed=0)
    genes = genome.training
    gan.compile(
        g_optimizer=training.make_optimizer(genes.optimizer, genes.g_learning_rate),
        d_optimizer=training.make_optimizer(genes.optimizer, genes.d_learning_rate),
        loss=genes.loss,
        jit_compile=False,
    )
    return gan


class _Snapshots(keras.callbacks.Callback):
    """Records, after each epoch, which generator the model has and its weights."""

    def __init__(self):
        super().__init__()
        self.generators, self.weights = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.generators.append(self.model.generator)
        self.weights.append([np.array(w) for w in self.model.generator.get_weights()])


def _scripted_scorer(model, model_score, child_scores):
    """Scores `model` (the one being fit) `model_score`, and the children from a list."""
    queue = list(child_scores)

    def scorer(gan):
        return model_score if gan is model else queue.pop(0)

    return scorer


@pytest.mark.keras
@pytest.mark.backend
def test_evolve_architecture_swaps_in_a_better_child_and_keeps_the_model_otherwise(digits):
    """After epoch 1 the best child (scored better than the model) replaces the model's
    networks inside fit: the model then has that child's architecture, fit trains the new
    networks (not the old ones) in epoch 2, and logs record the generation and key. After
    epoch 2 both children score worse, and the model stays as it is."""
    genome = SMALL_SPACE.sample(np.random.default_rng(0))
    gan = _genome_gan(genome)
    old_generator = gan.generator
    evolve = EvolveArchitecture(
        SMALL_SPACE,
        genome,
        digits,
        every_n_epochs=1,
        children=2,
        steps_per_child=2,
        batch_size=16,
        scorer=_scripted_scorer(gan, 1.0, [0.5, 0.2, 3.0, 4.0]),
        verbose=0,
    )
    snapshots = _Snapshots()
    old_weights = []
    keep_old = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: old_weights.append(
            [np.array(w) for w in old_generator.get_weights()]
        )
    )
    history = gan.fit(
        data_lib.train_input(digits.train, 16, seed=0),
        epochs=2,
        steps_per_epoch=3,
        verbose=0,
        shuffle=False,
        callbacks=[evolve, snapshots, keep_old],
    )

    first, second = evolve.history
    assert first["replaced"] and not second["replaced"]
    assert [child["score"] for child in first["children"]] == [0.5, 0.2]
    chosen = first["children"][1]["key"]
    assert evolve.genome.key() == first["key"] == second["key"] == chosen != genome.key()
    assert evolve.generation == 1
    assert gan.generator is not old_generator
    assert gan.generator.count_params() == SMALL_SPACE.generator_params(evolve.genome)
    assert len(gan.trainable_variables) == len(gan.generator.trainable_variables) + len(
        gan.discriminator.trainable_variables
    )
    # After the swap fit trains the child's networks, and leaves the old ones alone.
    assert snapshots.generators == [gan.generator, gan.generator]  # no swap after epoch 2
    assert any(not np.array_equal(a, b) for a, b in zip(*snapshots.weights))
    assert all(np.array_equal(a, b) for a, b in zip(*old_weights))
    assert history.history["arch_generation"] == [1, 1]
    assert history.history["arch_key"] == [int(chosen[:6], 16)] * 2
    assert history.history["arch_params"] == [gan.generator.count_params()] * 2


@pytest.mark.keras
def test_evolve_architecture_default_scorer_is_gan_metrics_fid(digits, capsys):
    """The default scorer is GANMetrics' domain FID: with the same samples, the FID that
    GANMetrics logs right after evolution is the score of whichever model was kept."""
    genome = SMALL_SPACE.sample(np.random.default_rng(2))
    gan = _genome_gan(genome)
    evolve = EvolveArchitecture(
        SMALL_SPACE,
        genome,
        "digits",
        every_n_epochs=1,
        children=1,
        steps_per_child=3,
        batch_size=16,
        num_samples=NUM_SAMPLES,
    )
    metrics = GANMetrics("digits", metrics=("fid",), num_samples=NUM_SAMPLES)
    history = gan.fit(
        data_lib.train_input(digits.train, 16, seed=0),
        epochs=1,
        steps_per_epoch=2,
        verbose=0,
        shuffle=False,
        callbacks=[evolve, metrics],
    )
    record = evolve.history[0]
    kept = record["children"][0]["score"] if record["replaced"] else record["parent_score"]
    assert history.history["fid_domain"] == [pytest.approx(kept, rel=1e-9)]
    assert "EvolveArchitecture, epoch 1:" in capsys.readouterr().out


@pytest.mark.keras
@TF_ONLY
def test_evolve_architecture_needs_a_kgan_nas_gan(digits):
    """On a model it cannot rebuild from genomes it fails at the start of fit, saying why."""
    gan = _keras_io_gan(1e-3)
    evolve = EvolveArchitecture(
        SMALL_SPACE, SMALL_SPACE.sample(np.random.default_rng(0)), digits, scorer=lambda gan: 0.0
    )
    with pytest.raises(TypeError, match="compiled kgan_nas.GAN built from its genome"):
        gan.fit(
            data_lib.train_input(digits.train, 16, seed=0),
            epochs=1,
            steps_per_epoch=1,
            verbose=0,
            callbacks=[evolve],
        )


@pytest.mark.keras
def test_evolve_architecture_beside_a_restoring_early_stopping_is_refused_before_training(
    digits,
):
    """Restoring the first architecture's weights into an evolved one fails at the end of
    fit, losing its History: refused at the start, with the combination that works."""
    genome = SMALL_SPACE.sample(np.random.default_rng(0))
    gan = _genome_gan(genome)
    evolve = EvolveArchitecture(SMALL_SPACE, genome, digits, scorer=lambda gan: 0.0, verbose=0)
    stopping = keras.callbacks.EarlyStopping("g_loss", restore_best_weights=True)
    before = [np.array(w) for w in gan.generator.get_weights()]
    with pytest.raises(
        ValueError,
        match=r"restore_best_weights=True\) cannot run beside "
        r"EvolveArchitecture.*restore_best_weights=False",
    ):
        gan.fit(digits.train[:32], batch_size=16, epochs=1, verbose=0,
                callbacks=[evolve, stopping])  # fmt: skip
    for old, now in zip(before, gan.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(old, now)  # nothing trained

    # The forms Keras accepts: a CallbackList, a nested list, a subclass.
    class Evolving(EvolveArchitecture):
        pass

    renamed = Evolving(SMALL_SPACE, genome, digits, scorer=lambda gan: 0.0, verbose=0)
    for callbacks in (
        keras.callbacks.CallbackList([evolve, stopping], model=gan),
        [[evolve], [stopping]],
        [renamed, stopping],
    ):
        with pytest.raises(ValueError, match="cannot run beside EvolveArchitecture"):
            gan.fit(digits.train[:32], batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    # Without the restoring EarlyStopping, a CallbackList still trains.
    gan.fit(
        digits.train[:32],
        batch_size=16,
        epochs=1,
        verbose=0,
        callbacks=keras.callbacks.CallbackList([keras.callbacks.History()], model=gan),
    )


# ----------------------------------------------------------------------------
# Search-level callbacks


class _Recorder(SearchCallback):
    def __init__(self):
        self.begin, self.generations, self.records, self.result = None, [], [], None

    def on_search_begin(self, logs=None):
        self.begin = logs

    def on_generation_begin(self, generation, logs=None):
        self.generations.append(("begin", generation, logs))

    def on_candidate_end(self, record):
        self.records.append(record)

    def on_generation_end(self, generation, logs=None):
        self.generations.append(("end", generation, logs))

    def on_search_end(self, result):
        self.result = result


def _fault_search(directory, **kwargs):
    """A search whose scripted candidates succeed, raise or go NaN by learning rate."""
    import scripted_evaluators as scripted

    space = scripted_space(
        latent_dim=LATENT, learning_rates=(scripted.OK, scripted.RAISE, scripted.NAN)
    )
    return scripted_search(
        directory,
        evaluator="fault",
        space=space,
        strategy="random",
        generations=2,
        seed=0,
        **kwargs,
    )


@pytest.mark.keras
def test_search_callbacks_receive_every_candidate_including_failed_ones(tmp_path):
    """Every history record, failed or not, reaches on_candidate_end once; generation and
    search hooks run around them with the promised logs."""
    recorder = _Recorder()
    result = _fault_search(tmp_path / "run", callbacks=[recorder])
    assert [r["key"] for r in recorder.records] == [r["key"] for r in result.history]
    statuses = {r["status"] for r in recorder.records}
    assert "ok" in statuses and statuses - {"ok"}, statuses
    assert recorder.begin["directory"] == str(tmp_path / "run")
    assert recorder.begin["resumed"] is False and recorder.begin["metric"] == "fid_domain"
    assert [(kind, g) for kind, g, _ in recorder.generations] == [
        ("begin", 1),
        ("end", 1),
        ("begin", 2),
        ("end", 2),
    ]
    begin_logs = recorder.generations[0][2]
    assert begin_logs["evaluated"] == 0 and len(begin_logs["genomes"]) == 4
    end_logs = recorder.generations[1][2]
    assert end_logs["failed"] == sum(r["status"] != "ok" for r in recorder.records[:4])
    assert recorder.result.directory == result.directory


@pytest.mark.keras
def test_progress_printer_prints_what_verbose_asks_for(tmp_path, capsys):
    """verbose=2 prints a line per candidate (failures with their reason) and a summary per
    generation; verbose=0 prints nothing; a resumed run says so."""
    result = _fault_search(tmp_path / "run", verbose=2)
    out = capsys.readouterr().out
    assert f"Starting random search in {tmp_path / 'run'}" in out
    candidate_lines = [line for line in out.splitlines() if line.startswith("  [")]
    assert len(candidate_lines) == len(result.history) == 8
    for line, record in zip(candidate_lines, result.history):
        assert record["key"] in line
        assert ("fid_domain=" in line) == (record["status"] == "ok")
    assert out.count("Generation ") == 2 and "Done: 8 candidates" in out

    _fault_search(tmp_path / "quiet")
    assert capsys.readouterr().out == ""
    _fault_search(tmp_path / "run", verbose=1)
    assert f"Resuming random search in {tmp_path / 'run'}" in capsys.readouterr().out


@pytest.mark.keras
def test_search_tensorboard_writes_genes_and_fitness_of_every_candidate(tmp_path):
    """Each candidate's run holds its genes as HParams and its metrics as scalars (none for
    a failed one); the root run holds the per-generation best."""
    pytest.importorskip("tensorboard")
    log_dir = tmp_path / "tb"
    result = _fault_search(tmp_path / "run", callbacks=[callbacks_lib.SearchTensorBoard(log_dir)])
    for record in result.history:
        run = log_dir / "candidates" / f"gen{record['generation']:03d}-{record['key']}"
        scalars, hparams = _event_values(run)
        genes = record["genome"]["training"]
        assert hparams["status"] == record["status"]
        assert hparams["loss"] == genes["loss"] and hparams["optimizer"] == genes["optimizer"]
        assert hparams["g_learning_rate"] == pytest.approx(genes["g_learning_rate"])
        assert hparams["g_layers"] == len(record["genome"]["generator"])
        if record["status"] == "ok":
            assert scalars["fid_domain"] == [
                (record["generation"], pytest.approx(record["fid_domain"], rel=1e-6))
            ]
        else:
            assert "fid_domain" not in scalars
    scalars, _ = _event_values(log_dir)
    best = [
        min(
            r["objective"]
            for r in result.history
            if r["generation"] == g and r["objective"] is not None
        )
        for g in (1, 2)
    ]
    assert [value for _, value in scalars["generation/best"]] == pytest.approx(best, rel=1e-6)


def test_search_tensorboard_without_tensorflow_names_the_fix(monkeypatch, tmp_path):
    """Without TensorFlow the ImportError says what to install."""
    import sys

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ImportError, match="pip install tensorflow tensorboard"):
        callbacks_lib.SearchTensorBoard(tmp_path)


class FitRecorder(keras.callbacks.Callback):
    """Writes one JSON file per `fit` it is copied into; picklable (it holds a path)."""

    def __init__(self, directory):
        super().__init__()
        self.directory = str(directory)
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_train_end(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"{os.getpid()}-{id(self)}.json")
        with open(path, "w") as stream:
            json.dump(
                {
                    "pid": os.getpid(),
                    "batches": self.batches,
                    "params": self.model.generator.count_params(),
                },
                stream,
            )


@pytest.mark.keras
@pytest.mark.slow
def test_keras_callbacks_reach_every_candidate_fit_in_worker_processes(tmp_path):
    """A Keras callback passed to search is pickled to the subprocess workers and copied
    into each candidate's fit: one fresh copy per candidate, counting only its own steps."""
    fits = tmp_path / "fits"
    result = tiny_real_search(
        tmp_path / "run",
        population=2,
        steps_per_candidate=3,
        num_samples=50,
        executor="subprocess",
        workers=1,
        callbacks=[FitRecorder(fits)],
        seed=0,
    )
    reports = [json.loads(path.read_text()) for path in sorted(fits.glob("*.json"))]
    assert len(reports) == len(result.history) == 2
    assert all(r["pid"] != os.getpid() and r["batches"] == 3 for r in reports)
    assert sorted(r["params"] for r in reports) == sorted(
        r["fitness"]["params"] for r in result.history
    )
