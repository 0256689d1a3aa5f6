"""The `GAN` model: a generator / discriminator pair as one `keras.Model`.

`GAN` follows the keras.io DCGAN / WGAN-GP examples: it holds both networks,
validates them, compiles with one optimizer per network, tracks the losses
as metrics, generates images and saves / loads through its config. Its
`train_step` delegates to `tf_step` or `jax_step`, whichever matches the
Keras backend. The training recipe's options (DiffAugment, R1) are checked
here and applied by both steps.
"""

import inspect

import keras
import numpy as np
from keras import ops

from kgan_nas import validate
from kgan_nas.training import augment as augment_lib
from kgan_nas.training import conditional
from kgan_nas.training import jax_step
from kgan_nas.training import tf_step
from kgan_nas.training.ema import GeneratorEMA
from kgan_nas.training.ema import check_ema_decay
from kgan_nas.training.ema import ema_model
from kgan_nas.training.losses import _check_loss
from kgan_nas.training.losses import check_r1_weight
from kgan_nas.training.networks import _check_networks
from kgan_nas.training.networks import _infer_latent_dim
from kgan_nas.training.noise import generate_images
from kgan_nas.training.optimizers import _OptimizerPair

_TRAINABLE_BACKENDS = ("tensorflow", "jax")


def _check_image_range(images):
    """Warns about numpy images whose range is not the tanh generator's [-1, 1]."""
    if not isinstance(images, np.ndarray) or not images.size or images.dtype == bool:
        return
    low, high = float(np.min(images)), float(np.max(images))
    # Loose bounds: slightly noisy [-1, 1] data is fine; 0..255 is not.
    if low < -1.5 or high > 1.5 or (np.issubdtype(images.dtype, np.integer) and high > 1):
        fix = "`x.astype('float32') / 127.5 - 1` for 0..255 images"
    elif np.issubdtype(images.dtype, np.floating) and low >= 0 and 0.5 < high <= 1:
        fix = "`x * 2 - 1` for [0, 1] images (`x / 255.`)"
    else:
        return
    from kgan_nas.errors import warn

    warn(
        f"GAN.fit got images of dtype {images.dtype} in [{low:g}, {high:g}]; generators "
        f"end in tanh, so real images should lie in [-1, 1]: pass {fix} (or load them "
        "with `kgan_nas.data.load_dataset`, which rescales)."
    )


def _check_callbacks(callbacks):
    """Refuses, before any training, callbacks that would fail at the end of `fit`.

    `EarlyStopping(restore_best_weights=True)` sets the weights it kept back
    at the end; once `EvolveArchitecture` has swapped the networks they are
    another architecture's, and Keras fails there, losing the History.
    """
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = callbacks.callbacks
    callbacks = keras.tree.flatten(list(callbacks))  # Keras flattens nested lists too
    # By class name along the MRO: kgan_nas.callbacks imports TensorFlow-free code
    # only when used, and a subclass of EvolveArchitecture swaps networks too.
    evolves = any(
        "EvolveArchitecture" in {cls.__name__ for cls in type(callback).__mro__}
        for callback in callbacks
    )
    restores = any(
        isinstance(callback, keras.callbacks.EarlyStopping) and callback.restore_best_weights
        for callback in callbacks
    )
    if evolves and restores:
        raise ValueError(
            "EarlyStopping(restore_best_weights=True) cannot run beside EvolveArchitecture: "
            "the weights it restores at the end belong to the architecture it saw first, "
            "not to the one evolved since. Use EarlyStopping(restore_best_weights=False), "
            "and ModelCheckpoint(path_ending_in '.keras', save_best_only=True) to keep the "
            "best model, architecture and weights together."
        )


# Why `fit(validation_data=...)` and `evaluate()` are refused, and what to use.
_NO_VALIDATION = (
    "kgan_nas.GAN has no validation step, so {} is not supported: a GAN's losses on "
    "held-out images do not say how good its samples are. Leave validation_data out, and "
    "score the generator against held-out images during fit with "
    "kgan_nas.callbacks.GANMetrics(held_out_images) (its fid/kid/is reach the logs, "
    "History and EarlyStopping)."
)


@keras.saving.register_keras_serializable(package="kgan_nas")
class GAN(keras.Model):
    """A generator / discriminator pair trained adversarially by `fit()`.

    Each train step updates the discriminator `d_steps` times, then the
    generator once, on latents drawn from N(0, 1) with the model's own
    `keras.random.SeedGenerator` (so a fixed `seed` gives a reproducible
    run). `fit` logs `d_loss` and `g_loss` (and `gp` for `"wasserstein_gp"`,
    `r1` when `r1_weight > 0`), as running means over the epoch like every
    Keras metric. The step is
    XLA-compiled by default on TensorFlow and JAX; with a fixed seed, XLA
    and non-XLA training agree up to float rounding (on TensorFlow, noise
    drawn inside the networks, e.g. by Dropout, still differs under XLA).

    Args:
        generator: A built Keras model mapping latents `(batch, latent_dim)`
            to images `(batch, height, width, channels)`.
        discriminator: A built Keras model mapping those images to one logit
            per image, `(batch, 1)`.
        latent_dim: Size of the latent vector. Defaults to the last axis of
            `generator.input_shape`.
        d_steps: Discriminator updates per generator update. Defaults to 1
            (WGAN-GP commonly uses 5).
        gp_weight: Weight of the gradient penalty for `"wasserstein_gp"`.
            Defaults to 10.0.
        seed: Seed of the latent / interpolation noise. Defaults to None
            (a random seed).
        ema_decay: Keep an exponential moving average of the generator's
            trainable weights, updated in the train step after each
            generator update with this decay (warmed up, see
            `kgan_nas.training.ema`); `ema_generator()` returns a generator
            carrying it. Defaults to None (no average).
        num_classes: Classes of a class-conditional pair (a generator
            taking `[latents, labels]` and a discriminator taking
            `[images, labels]`, see `kgan_nas.training.conditional`). Defaults
            to None: read from the generator's first `Embedding` layer for
            such a pair; unused otherwise. A conditional GAN trains on
            `(images, labels)` batches.
        augment: Differentiable augmentation (DiffAugment): None or `""`
            (off), or a comma-separated policy of ops from
            `kgan_nas.training.augment.AUGMENT_OPS` (`"translation"`,
            `"cutout"`, `"color"`; color for 3-channel images only), e.g.
            `"translation,cutout"`. The policy is applied, with fresh random
            numbers from the GAN's seeded noise, to the real and to the
            generated images before every discriminator call of the
            discriminator and generator updates (the generator's gradients
            flow through it; labels are left as they are). WGAN-GP's
            interpolates mix the augmented real and fake images. Defaults to
            None.
        augment_probability: Chance, in (0, 1], that each image of a batch
            is augmented (one draw per image for the whole policy); the
            others pass unchanged. Defaults to 1.0.
        r1_weight: Weight of the R1 penalty, `(r1_weight / 2) *
            E ||grad_x D(x)||^2` over the (augmented, if augmenting) real
            images, added to the discriminator's loss and logged as `r1`
            (the expectation, without the weight). For `"non_saturating"`
            and `"hinge"`; `compile` refuses it with `"wasserstein_gp"`,
            which has its own penalty (`gp_weight`). Defaults to 0.0 (off).
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Raises:
        TypeError: if a network is not a Keras layer or model.
        ValueError: if the generator does not emit images, the discriminator
            cannot take them or does not output `(batch, 1)`, or
            `latent_dim` / `d_steps` / `gp_weight` / `ema_decay` /
            `augment` / `augment_probability` / `r1_weight` are invalid
            (`"color"` with images of other than 3 channels included).

    Example:

    ```python
    gan = GAN(generator, discriminator, seed=0)
    gan.compile(
        g_optimizer=make_optimizer("adam", 2e-4),
        d_optimizer=make_optimizer("adam", 2e-4),
        loss="hinge",
    )
    gan.fit(batches, epochs=1, steps_per_epoch=100)
    images = gan.generate(64, seed=1)
    ```
    """

    def __init__(
        self,
        generator,
        discriminator,
        *,
        latent_dim=None,
        d_steps=1,
        gp_weight=10.0,
        seed=None,
        ema_decay=None,
        num_classes=None,
        augment=None,
        augment_probability=1.0,
        r1_weight=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = None
        if conditional.is_conditional(generator):
            latent_dim, image_shape, self.num_classes = conditional.check_networks(
                generator, discriminator, latent_dim, num_classes
            )
        else:
            latent_dim = _infer_latent_dim(generator, latent_dim)
            image_shape = _check_networks(generator, discriminator, latent_dim)
        if not isinstance(d_steps, (int, np.integer)) or d_steps < 1:
            raise ValueError(f"d_steps must be an integer >= 1, got {d_steps!r}.")
        if not validate.is_finite_number(gp_weight) or gp_weight < 0:
            raise ValueError(f"gp_weight must be a number >= 0, got {gp_weight!r}.")
        self.augment_ops = augment_lib.check_augment(augment, image_shape[-1])
        self.augment = ",".join(self.augment_ops) or None
        self.augment_probability = augment_lib.check_augment_probability(augment_probability)
        self.r1_weight = check_r1_weight(r1_weight)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.ema_decay = check_ema_decay(ema_decay)
        self.ema = None if self.ema_decay is None else GeneratorEMA(generator, self.ema_decay)
        self._seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gp_tracker = keras.metrics.Mean(name="gp")
        self.r1_tracker = keras.metrics.Mean(name="r1")
        self.loss_name = None
        self.g_optimizer = None
        self.d_optimizer = None
        self._jit_compile_requested = None
        # Both networks are built, so the GAN is; this stops `fit` from
        # trying to build it by calling it on a batch of (image) data.
        self.built = True

    def compile(
        self,
        g_optimizer="adam",
        d_optimizer="adam",
        loss="non_saturating",
        jit_compile=True,
        **kwargs,
    ):
        """Configures the GAN for training.

        Args:
            g_optimizer: Generator optimizer: an instance, or a name resolved
                by `keras.optimizers.get` (Keras defaults; use
                `make_optimizer` for GAN defaults). Defaults to `"adam"`.
            d_optimizer: Discriminator optimizer, likewise. Must not be the
                same instance as `g_optimizer`. Defaults to `"adam"`.
            loss: One of `LOSSES`. Defaults to `"non_saturating"`.
            jit_compile: Whether to compile the train step with XLA
                (`tf.function(jit_compile=True)` / `jax.jit`). With False,
                TensorFlow runs a plain `tf.function` and JAX runs eagerly.
                Defaults to True.
            **kwargs: Passed to `keras.Model.compile` (e.g.
                `steps_per_execution`).

        Raises:
            ValueError: if `loss` is unknown, the optimizers are the same
                object, the Keras backend is neither TensorFlow nor JAX, or
                the GAN has `r1_weight > 0` and `loss` is `"wasserstein_gp"`
                (use `gp_weight` for its penalty).
            TypeError: if `optimizer=` is passed (use `g_optimizer` and
                `d_optimizer`).
        """
        _check_loss(loss)
        check_r1_weight(self.r1_weight, loss)
        if keras.backend.backend() not in _TRAINABLE_BACKENDS:
            raise ValueError(
                f"GAN trains on the {' or '.join(_TRAINABLE_BACKENDS)} "
                f"backend, not {keras.backend.backend()!r}. Set "
                "KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
            )
        if "optimizer" in kwargs:
            raise TypeError("GAN.compile takes `g_optimizer` and `d_optimizer`, not `optimizer`.")
        g_optimizer = keras.optimizers.get(g_optimizer)
        d_optimizer = keras.optimizers.get(d_optimizer)
        if g_optimizer is d_optimizer:
            raise ValueError(
                "g_optimizer and d_optimizer are the same optimizer object; "
                "each network needs its own optimizer state. Pass two "
                "instances (e.g. two `make_optimizer(...)` calls)."
            )
        super().compile(optimizer=g_optimizer, jit_compile=jit_compile, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.loss_name = loss
        self._jit_compile_requested = jit_compile
        # Keras' trainers see one optimizer; build it now so that no
        # optimizer variable is ever created inside a compiled step.
        self.optimizer = _OptimizerPair(
            g_optimizer, d_optimizer, self.generator, self.discriminator
        )
        self.optimizer.build()

    def get_config(self):
        """The constructor arguments, for `model.save()` / `load_model`."""
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": serialize(self.generator),
            "discriminator": serialize(self.discriminator),
            "latent_dim": self.latent_dim,
            "d_steps": self.d_steps,
            "gp_weight": self.gp_weight,
            "seed": self._seed,
            "ema_decay": self.ema_decay,
            "augment": self.augment,
            "augment_probability": self.augment_probability,
            "r1_weight": self.r1_weight,
        } | ({} if self.num_classes is None else {"num_classes": self.num_classes})

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds a GAN (with both networks) from `get_config()`."""
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)

    def get_compile_config(self):
        """The `compile` arguments, so a loaded GAN comes back compiled."""
        if not self.compiled or self.g_optimizer is None:
            return {}
        serialize = keras.saving.serialize_keras_object
        return {
            "g_optimizer": serialize(self.g_optimizer),
            "d_optimizer": serialize(self.d_optimizer),
            "loss": self.loss_name,
            "jit_compile": self._jit_compile_requested,
        }

    def compile_from_config(self, config):
        """Compiles from `get_compile_config()` (used by `load_model`)."""
        if not config:
            return
        self.compile(
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            loss=config["loss"],
            jit_compile=config["jit_compile"],
        )

    @property
    def metrics(self):
        """The loss trackers `fit` reports and resets each epoch."""
        trackers = [self.d_loss_tracker, self.g_loss_tracker]
        if self.loss_name == "wasserstein_gp":
            trackers.append(self.gp_tracker)
        if self.r1_weight > 0:
            trackers.append(self.r1_tracker)
        return trackers

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, after a look at images given as a numpy array.

        The generators kgan_nas builds end in `tanh`, so real images must lie
        in [-1, 1] too; images in [0, 255] (or `uint8`) train a discriminator
        that tells them apart by range alone. Such images get a warning with
        the rescale; other inputs (a `tf.data.Dataset`, a generator) pass
        unchecked.

        Raises:
            ValueError: for `validation_data` or `validation_split` (see
                `evaluate`), and for `EarlyStopping(restore_best_weights=True)`
                beside `EvolveArchitecture`.
        """
        # Bound as Keras binds them, so a positional validation_data is seen too.
        given = inspect.signature(keras.Model.fit).bind(self, x, *args, **kwargs).arguments
        if given.get("validation_data") is not None:
            raise ValueError(_NO_VALIDATION.format("fit(validation_data=...)"))
        if given.get("validation_split"):
            raise ValueError(_NO_VALIDATION.format("fit(validation_split=...)"))
        _check_callbacks(given.get("callbacks") or ())
        _check_image_range(x[0] if isinstance(x, (tuple, list)) and x else x)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        """Refused: a GAN has no validation step (see the error's text).

        Raises:
            ValueError: always, naming `kgan_nas.callbacks.GANMetrics`.
        """
        raise ValueError(_NO_VALIDATION.format("evaluate()"))

    def test_step(self, *args):
        # Keras's default would feed real images to the generator as latents.
        raise ValueError(_NO_VALIDATION.format("a validation step"))

    def call(self, z, training=False):
        """Runs the generator on latents `z` (`[z, labels]` for a conditional GAN)."""
        return self.generator(z, training=training)

    def generate(self, n, *, seed=None, batch_size=256, labels=None):
        """Generates `n` images in inference mode.

        Args:
            n: Number of images (>= 0).
            seed: Integer seed of the latents, for reproducible samples.
                Defaults to None (fresh random latents).
            batch_size: Images per generator call. Does not change the
                result for a fixed seed. Defaults to 256.
            labels: Conditional GANs only: the class of each image (`n`
                integers) or one class for all. Defaults to None: the classes
                in turn, `0, 1, ..., num_classes - 1, 0, ...`.

        Returns:
            A float32 `np.ndarray` of shape `(n, height, width, channels)`.

        Raises:
            ValueError: if `n` is negative or `batch_size` is not positive,
                or `labels` is given to an unconditional GAN, is not
                integers, has another length than `n` or is out of range.
        """
        if self.num_classes is not None:
            conditional.check_counts(n, batch_size)
            if labels is None:
                labels = np.arange(n) % self.num_classes
            labels = conditional.check_labels(labels, self.num_classes, n)
            return conditional.generate_conditional(
                self.generator, labels, latent_dim=self.latent_dim, seed=seed, batch_size=batch_size
            )
        if labels is not None:
            raise ValueError(
                "labels= needs a class-conditional GAN; this one is unconditional "
                "(search with conditional=True for one)."
            )
        return generate_images(
            self.generator, n, latent_dim=self.latent_dim, seed=seed, batch_size=batch_size
        )

    def ema_generator(self):
        """The generator with the moving average of its weights (`ema_decay`).

        Returns:
            A new `keras.Model` (a clone of `generator`) carrying the
            averaged trainable weights and the live non-trainable state; use
            it to sample, score or save.

        Raises:
            ValueError: if the GAN was built without `ema_decay`.
        """
        if self.ema is None:
            raise ValueError(
                "This GAN keeps no moving average; build it with ema_decay=... "
                "(e.g. GAN(generator, discriminator, ema_decay=0.999))."
            )
        return ema_model(self.generator, self.ema)

    def replace_networks(self, generator, discriminator, *, g_optimizer, d_optimizer, loss=None):
        """Swaps in another generator and discriminator, also inside `fit`.

        The GAN is recompiled with the given optimizers (keeping
        `jit_compile` and `steps_per_execution`) and its train function is
        rebuilt, so the next train step trains the new networks, even in a
        `fit` that is running: call it from a callback's `on_epoch_end`
        (this is what `kgan_nas.callbacks.EvolveArchitecture` does). A
        `stop_training` request made earlier in the epoch is kept.

        Args:
            generator: A built Keras model taking the same latents
                `(batch, latent_dim)` as the current generator and emitting
                images of the same shape.
            discriminator: A built Keras model mapping those images to
                `(batch, 1)` logits.
            g_optimizer: The new generator's optimizer: a new instance, or
                one already built on exactly `generator`'s variables.
            d_optimizer: Likewise for the discriminator.
            loss: One of `LOSSES`. Defaults to None (the current loss).

        Raises:
            ValueError: if the GAN is not compiled, or the networks do not
                take this GAN's latents or emit other images.
        """
        if self.loss_name is None:
            raise ValueError("Call compile() before replace_networks().")
        if self.num_classes is not None:
            _, image_shape, _ = conditional.check_networks(
                generator, discriminator, self.latent_dim, self.num_classes
            )
        else:
            image_shape = _check_networks(generator, discriminator, self.latent_dim)
        if image_shape != self.image_shape:
            raise ValueError(
                f"The new generator emits images of shape {image_shape}, "
                f"but this GAN makes {self.image_shape}; build networks for "
                "the same image shape."
            )
        if keras.backend.backend() == "jax":
            # Inside `fit` the JAX trainer holds the latest values outside
            # the variables; put them back before the old networks go.
            self.jax_state_sync()
        stop_training = self.stop_training
        # Keras tracks a sub-model when it is assigned but does not forget
        # the one an assignment replaces; without this, the old networks'
        # variables would stay in `trainable_variables` (and in the JAX
        # trainer's state).
        for old in (self.generator, self.discriminator, self.ema):
            if old is not None:
                self._tracker.untrack(old)
        self.generator = generator
        self.discriminator = discriminator
        if self.ema is not None:
            # The average of other weights means nothing for the new generator.
            self.ema = GeneratorEMA(generator, self.ema_decay)
        self.compile(
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
            loss=self.loss_name if loss is None else loss,
            jit_compile=self._jit_compile_requested,
            steps_per_execution=self.steps_per_execution,
        )
        self.stop_training = stop_training
        # `fit` calls `self.train_function` at every step. The compiled one
        # would go on updating the old networks' variables (TensorFlow
        # captures them; JAX reuses its trace when the shapes match), so
        # build a fresh one that traces the new networks.
        self.make_train_function(force=True)

    def train_step(self, *args):
        """One discriminator / generator update.

        Keras calls this as `train_step(data)` on TensorFlow and as
        `train_step(state, data)` on JAX; the steps themselves are
        `tf_step.train_step` and `jax_step.train_step`.

        Args:
            *args: `(data,)` on TensorFlow; `(state, data)` on JAX, with
                `state = (trainable_variables, non_trainable_variables,
                optimizer_variables, metrics_variables)`. `data` is a batch
                of real images, or a tuple whose first item is one.

        Returns:
            TensorFlow: the logs dict. JAX: `(logs, new_state)`.
        """
        if keras.backend.backend() == "jax":
            return jax_step.train_step(self, *args)
        return tf_step.train_step(self, *args)

    # -- shared by both train steps -------------------------------------------

    def _real_images(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return ops.cast(x, self.discriminator.compute_dtype)

    def _real_batch(self, data):
        """`(images, labels)` of a batch; labels int32 `(batch, 1)`, None if unconditional."""
        if self.num_classes is None:
            return self._real_images(data), None
        _, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(
                "A conditional GAN trains on (images, labels) batches, got images only; "
                "pass labels to the input (e.g. kgan_nas.data.train_input(images, "
                "batch_size, labels=labels))."
            )
        return self._real_images(data), conditional.batch_labels(y)

    def _augment(self, images, uniform):
        """`images` through the augmentation policy, with `uniform` noise (see `augment`)."""
        return augment_lib.augment_images(
            images, self.augment_ops, self.augment_probability, uniform
        )

    def _g_inputs(self, z, labels):
        """The generator's inputs: `z`, or `[z, labels]` for a conditional GAN."""
        return z if labels is None else [z, labels]

    def _d_inputs(self, images, labels):
        """The discriminator's inputs: `images`, or `[images, labels]`."""
        return images if labels is None else [images, labels]
