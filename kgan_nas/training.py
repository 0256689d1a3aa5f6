"""The GAN training engine: a `keras.Model` with an XLA-compiled train step.

`GAN` follows the keras.io DCGAN / WGAN-GP examples (a `keras.Model` holding
a generator and a discriminator, with its own `compile` and `train_step`), so
it trains with plain `fit()` and works with any Keras callback. The step
itself has two implementations, because Keras' trainers call it differently:

* TensorFlow: `train_step(data)` with `tf.GradientTape`, compiled by
  `tf.function(jit_compile=True)`;
* JAX: `train_step(state, data) -> (logs, state)`, a pure function built on
  `stateless_call` and `jax.value_and_grad`, compiled by `jax.jit`.

Everything else uses `keras.ops` / `keras.random`, and TensorFlow / JAX are
imported only inside their own branch, so this module works under
`KERAS_BACKEND=jax` on a machine without TensorFlow.

`train_for_budget` runs a candidate for a fixed number of steps (or seconds)
and turns every failure into a `TrainReport` instead of an exception: in a
search, a candidate that diverges or crashes is data.
"""

import dataclasses
import math
import statistics
import time

import keras
import numpy as np
from keras import ops

LOSSES = ("non_saturating", "hinge", "wasserstein_gp")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
STATUSES = ("ok", "nan", "diverged", "error")
_TRAINABLE_BACKENDS = ("tensorflow", "jax")


# ----------------------------------------------------------------------------
# Losses (backend-neutral, shared by both train steps)


def discriminator_loss(loss, real_logits, fake_logits):
    """The discriminator's adversarial loss, without any gradient penalty.

    Args:
        loss: One of `LOSSES`.
        real_logits: Discriminator outputs on real images, `(batch, 1)`.
        fake_logits: Discriminator outputs on generated images, `(batch, 1)`.

    Returns:
        A scalar tensor: `softplus(-real) + softplus(fake)` for
        `"non_saturating"`, `relu(1 - real) + relu(1 + fake)` for `"hinge"`,
        `fake - real` for `"wasserstein_gp"` (each averaged over the batch).

    Raises:
        ValueError: if `loss` is not one of `LOSSES`.
    """
    _check_loss(loss)
    real = ops.cast(real_logits, "float32")
    fake = ops.cast(fake_logits, "float32")
    if loss == "non_saturating":
        return ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake))
    if loss == "hinge":
        return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))
    return ops.mean(fake) - ops.mean(real)


def generator_loss(loss, fake_logits):
    """The generator's adversarial loss.

    Args:
        loss: One of `LOSSES`.
        fake_logits: Discriminator outputs on generated images, `(batch, 1)`.

    Returns:
        A scalar tensor: `softplus(-fake)` for `"non_saturating"` (the
        non-saturating heuristic of Goodfellow et al.), `-fake` for `"hinge"`
        and `"wasserstein_gp"` (averaged over the batch).

    Raises:
        ValueError: if `loss` is not one of `LOSSES`.
    """
    _check_loss(loss)
    fake = ops.cast(fake_logits, "float32")
    if loss == "non_saturating":
        return ops.mean(ops.softplus(-fake))
    return -ops.mean(fake)


def gradient_penalty(gradients):
    """WGAN-GP's penalty from the critic's gradients at the interpolates.

    Args:
        gradients: d critic / d input, shape `(batch, ...)`.

    Returns:
        A scalar tensor, the batch mean of `(||gradient||_2 - 1) ** 2`.
    """
    gradients = ops.cast(gradients, "float32")
    axes = tuple(range(1, len(gradients.shape)))
    # The epsilon keeps the norm differentiable where a gradient is zero.
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=axes) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError(
            f"Unknown GAN loss {loss!r}. Use one of: {', '.join(LOSSES)}."
        )


# ----------------------------------------------------------------------------
# Optimizers


def make_optimizer(name, learning_rate, *, beta_1=0.5, beta_2=0.999):
    """Creates an optimizer with GAN-friendly defaults.

    Args:
        name: `"adam"`, `"rmsprop"` or `"sgd"`.
        learning_rate: A positive learning rate.
        beta_1: Adam's first-moment decay (DCGAN uses 0.5). Ignored by
            RMSprop and SGD. Defaults to 0.5.
        beta_2: Adam's second-moment decay. Ignored by RMSprop and SGD.
            Defaults to 0.999.

    Returns:
        A new `keras.optimizers.Optimizer`.

    Raises:
        ValueError: if `name` is unknown or `learning_rate` is not positive.

    Example:

    >>> opt = make_optimizer("adam", 2e-4)
    >>> float(opt.beta_1)
    0.5
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r}. Use one of: {', '.join(OPTIMIZERS)}."
        )
    if not _is_number(learning_rate) or not learning_rate > 0:
        raise ValueError(
            f"learning_rate must be a positive number, got {learning_rate!r}."
        )
    if name == "adam":
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2
        )
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate)


class _OptimizerPair:
    """Shows the generator and discriminator optimizers to Keras as one.

    Keras' trainers expect a single `model.optimizer`: they build it
    (`build`), and the JAX trainer carries its `variables` through the
    compiled step and writes them back after `fit`. This pairs both
    optimizers so that each one is built on, and only ever updates, its own
    network's variables. `optimizers` is the attribute Keras' learning-rate
    callbacks look for when a model has several optimizers.
    """

    def __init__(self, g_optimizer, d_optimizer, generator, discriminator):
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self._generator = generator
        self._discriminator = discriminator

    @property
    def optimizers(self):
        return [self.g_optimizer, self.d_optimizer]

    @property
    def built(self):
        return self.g_optimizer.built and self.d_optimizer.built

    def build(self, var_list=None):
        # `var_list` (all of the GAN's variables) is ignored on purpose: each
        # optimizer owns exactly one network.
        del var_list
        if not self.g_optimizer.built:
            self.g_optimizer.build(self._generator.trainable_variables)
        if not self.d_optimizer.built:
            self.d_optimizer.build(self._discriminator.trainable_variables)

    @property
    def variables(self):
        return list(self.g_optimizer.variables) + list(self.d_optimizer.variables)

    @property
    def iterations(self):
        # One generator update per train step, so this counts train steps.
        return self.g_optimizer.iterations

    def scale_loss(self, loss):
        return loss

    def finalize_variable_values(self, var_list=None):
        del var_list
        self.g_optimizer.finalize_variable_values(
            self._generator.trainable_variables
        )
        self.d_optimizer.finalize_variable_values(
            self._discriminator.trainable_variables
        )


# ----------------------------------------------------------------------------
# The GAN model


@keras.saving.register_keras_serializable(package="kgan_nas")
class GAN(keras.Model):
    """A generator / discriminator pair trained adversarially by `fit()`.

    Each train step updates the discriminator `d_steps` times, then the
    generator once, on latents drawn from N(0, 1) with the model's own
    `keras.random.SeedGenerator` (so a fixed `seed` gives a reproducible
    run). `fit` logs `d_loss` and `g_loss` (and `gp` for `"wasserstein_gp"`),
    as running means over the epoch like every Keras metric. The step is
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
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Raises:
        TypeError: if a network is not a Keras layer or model.
        ValueError: if the generator does not emit images, the discriminator
            cannot take them or does not output `(batch, 1)`, or
            `latent_dim` / `d_steps` / `gp_weight` are invalid.

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        latent_dim = _infer_latent_dim(generator, latent_dim)
        image_shape = _check_networks(generator, discriminator, latent_dim)
        if not isinstance(d_steps, (int, np.integer)) or d_steps < 1:
            raise ValueError(
                f"d_steps must be an integer >= 1, got {d_steps!r}."
            )
        if not _is_number(gp_weight) or gp_weight < 0:
            raise ValueError(
                f"gp_weight must be a number >= 0, got {gp_weight!r}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self._seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gp_tracker = keras.metrics.Mean(name="gp")
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
                object, or the Keras backend is neither TensorFlow nor JAX.
            TypeError: if `optimizer=` is passed (use `g_optimizer` and
                `d_optimizer`).
        """
        _check_loss(loss)
        if keras.backend.backend() not in _TRAINABLE_BACKENDS:
            raise ValueError(
                f"GAN trains on the {' or '.join(_TRAINABLE_BACKENDS)} "
                f"backend, not {keras.backend.backend()!r}. Set "
                "KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
            )
        if "optimizer" in kwargs:
            raise TypeError(
                "GAN.compile takes `g_optimizer` and `d_optimizer`, not "
                "`optimizer`."
            )
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
        }

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
        return trackers

    def call(self, z, training=False):
        """Runs the generator on latents `z`, `(batch, latent_dim)`."""
        return self.generator(z, training=training)

    def generate(self, n, *, seed=None, batch_size=256):
        """Generates `n` images in inference mode.

        Args:
            n: Number of images (>= 0).
            seed: Integer seed of the latents, for reproducible samples.
                Defaults to None (fresh random latents).
            batch_size: Images per generator call. Does not change the
                result for a fixed seed. Defaults to 256.

        Returns:
            A float32 `np.ndarray` of shape `(n, height, width, channels)`.

        Raises:
            ValueError: if `n` is negative or `batch_size` is not positive.
        """
        return generate_images(self.generator, n, latent_dim=self.latent_dim,
                               seed=seed, batch_size=batch_size)

    def replace_networks(self, generator, discriminator, *, g_optimizer,
                         d_optimizer, loss=None):
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
        image_shape = _check_networks(generator, discriminator,
                                      self.latent_dim)
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
        for old in (self.generator, self.discriminator):
            self._tracker.untrack(old)
        self.generator = generator
        self.discriminator = discriminator
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
        `train_step(state, data)` on JAX; see the module docstring.

        Args:
            *args: `(data,)` on TensorFlow; `(state, data)` on JAX, with
                `state = (trainable_variables, non_trainable_variables,
                optimizer_variables, metrics_variables)`. `data` is a batch
                of real images, or a tuple whose first item is one.

        Returns:
            TensorFlow: the logs dict. JAX: `(logs, new_state)`.
        """
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        return self._tf_train_step(*args)

    # -- TensorFlow step ------------------------------------------------------

    def _tf_train_step(self, data):
        import tensorflow as tf

        real = self._real_images(data)
        batch = ops.shape(real)[0]
        generator, discriminator = self.generator, self.discriminator
        gp = 0.0
        for _ in range(self.d_steps):
            z = self._tf_latents(batch)
            fake = generator(z, training=True)
            with tf.GradientTape() as tape:
                real_logits = discriminator(real, training=True)
                fake_logits = discriminator(fake, training=True)
                d_loss = discriminator_loss(
                    self.loss_name, real_logits, fake_logits
                )
                if self.loss_name == "wasserstein_gp":
                    gp = self._tf_gradient_penalty(real, fake)
                    d_loss = d_loss + self.gp_weight * gp
            grads = tape.gradient(d_loss, discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(
                zip(grads, discriminator.trainable_variables)
            )

        z = self._tf_latents(batch)
        with tf.GradientTape() as tape:
            fake_logits = discriminator(generator(z, training=True),
                                        training=True)
            g_loss = generator_loss(self.loss_name, fake_logits)
        grads = tape.gradient(g_loss, generator.trainable_variables)
        self.g_optimizer.apply_gradients(
            zip(grads, generator.trainable_variables)
        )

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        if self.loss_name == "wasserstein_gp":
            self.gp_tracker.update_state(gp)
        return {m.name: m.result() for m in self.metrics}

    def _tf_gradient_penalty(self, real, fake):
        import tensorflow as tf

        alpha = self._tf_uniform((ops.shape(real)[0], 1, 1, 1))
        mixed = real + ops.cast(alpha, real.dtype) * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            critic = self.discriminator(mixed, training=True)
        return gradient_penalty(tape.gradient(critic, mixed))

    def _tf_uniform(self, shape):
        """Uniform noise in (0, 1) that is the same with and without XLA.

        TensorFlow's XLA kernels turn random bits into floats differently
        from its regular kernels, so `keras.random.uniform/normal` give other
        numbers under `jit_compile=True`. The raw 32-bit draws agree, so the
        floats are made from those here.
        """
        import tensorflow as tf

        seed = self.seed_generator.next()
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        bits = tf.random.stateless_uniform(
            shape, seed=seed, minval=None, maxval=None, dtype=tf.uint32
        )
        return _bits_to_open_uniform(bits)

    def _tf_latents(self, batch):
        import tensorflow as tf

        uniform = self._tf_uniform((batch, self.latent_dim))
        # Inverse-CDF transform of U(0, 1) to N(0, 1).
        normal = math.sqrt(2.0) * tf.math.erfinv(2.0 * uniform - 1.0)
        return ops.cast(normal, self.generator.compute_dtype)

    # -- JAX step -------------------------------------------------------------

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_vars, metric_vars = state
        layout = _JaxLayout(self)
        real = self._real_images(data)
        batch = real.shape[0]
        g_vars = layout.take(trainable, layout.g_trainable)
        d_vars = layout.take(trainable, layout.d_trainable)
        g_state = layout.take(non_trainable, layout.g_state)
        d_state = layout.take(non_trainable, layout.d_state)
        g_opt_vars = list(optimizer_vars[:layout.g_optimizer_size])
        d_opt_vars = list(optimizer_vars[layout.g_optimizer_size:])
        # The noise keys come from the SeedGenerator's state, which is part
        # of the carried state, so each step differs and runs reproduce.
        seed = non_trainable[layout.seed]

        d_grad_fn = jax.value_and_grad(self._jax_d_loss, has_aux=True)
        gp = 0.0
        for _ in range(self.d_steps):
            seed, z_key, gp_key = jax.random.split(seed, 3)
            z = self._jax_latents(batch, z_key)
            fake, g_state = self.generator.stateless_call(
                g_vars, g_state, z, training=True
            )
            (d_loss, (d_state, gp)), grads = d_grad_fn(
                d_vars, d_state, real, fake, gp_key
            )
            d_vars, d_opt_vars = self.d_optimizer.stateless_apply(
                d_opt_vars, grads, d_vars
            )

        seed, z_key = jax.random.split(seed, 2)
        g_grad_fn = jax.value_and_grad(self._jax_g_loss, has_aux=True)
        (g_loss, (g_state, d_state)), grads = g_grad_fn(
            g_vars, g_state, d_vars, d_state, self._jax_latents(batch, z_key)
        )
        g_vars, g_opt_vars = self.g_optimizer.stateless_apply(
            g_opt_vars, grads, g_vars
        )

        values = {"d_loss": d_loss, "g_loss": g_loss, "gp": gp}
        metric_vars = list(metric_vars)
        logs = {}
        for tracker in self.metrics:
            where = layout.metric_slices[tracker.name]
            updated = tracker.stateless_update_state(
                metric_vars[where], values[tracker.name]
            )
            metric_vars[where] = updated
            logs[tracker.name] = tracker.stateless_result(updated)

        trainable = layout.put(trainable, layout.g_trainable, g_vars)
        trainable = layout.put(trainable, layout.d_trainable, d_vars)
        non_trainable = layout.put(non_trainable, layout.g_state, g_state)
        non_trainable = layout.put(non_trainable, layout.d_state, d_state)
        non_trainable[layout.seed] = seed
        new_state = (trainable, non_trainable, g_opt_vars + d_opt_vars,
                     metric_vars)
        return logs, new_state

    def _jax_d_loss(self, d_vars, d_state, real, fake, gp_key):
        import jax

        discriminator = self.discriminator
        real_logits, d_state = discriminator.stateless_call(
            d_vars, d_state, real, training=True
        )
        fake_logits, d_state = discriminator.stateless_call(
            d_vars, d_state, fake, training=True
        )
        loss = discriminator_loss(self.loss_name, real_logits, fake_logits)
        gp = 0.0
        if self.loss_name == "wasserstein_gp":
            alpha = keras.random.uniform(
                (real.shape[0], 1, 1, 1), seed=gp_key, dtype=real.dtype
            )
            mixed = real + alpha * (fake - real)

            def critic_sum(images, state):
                critic, state = discriminator.stateless_call(
                    d_vars, state, images, training=True
                )
                return ops.sum(critic), state

            grads, d_state = jax.grad(critic_sum, has_aux=True)(mixed, d_state)
            gp = gradient_penalty(grads)
            loss = loss + self.gp_weight * gp
        return loss, (d_state, gp)

    def _jax_g_loss(self, g_vars, g_state, d_vars, d_state, z):
        fake, g_state = self.generator.stateless_call(
            g_vars, g_state, z, training=True
        )
        fake_logits, d_state = self.discriminator.stateless_call(
            d_vars, d_state, fake, training=True
        )
        return generator_loss(self.loss_name, fake_logits), (g_state, d_state)

    def _jax_latents(self, batch, key):
        return keras.random.normal(
            (batch, self.latent_dim), seed=key,
            dtype=self.generator.compute_dtype,
        )

    # -- shared helpers -------------------------------------------------------

    def _real_images(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return ops.cast(x, self.discriminator.compute_dtype)


def generate_images(generator, n, *, latent_dim=None, seed=None,
                    batch_size=256):
    """Generates `n` images from a generator in inference mode.

    Latents are drawn from N(0, 1) with `keras.random.normal`, all at once,
    so a fixed `seed` gives the same images whatever `batch_size` is.

    Args:
        generator: A Keras model from latents `(batch, latent_dim)` to
            images.
        n: Number of images (>= 0).
        latent_dim: Size of the latent vector. Defaults to None: the last
            axis of `generator.input_shape`.
        seed: Integer seed of the latents. Defaults to None (fresh random
            latents).
        batch_size: Images per generator call. Defaults to 256.

    Returns:
        A float32 `np.ndarray` of shape `(n, height, width, channels)`.

    Raises:
        ValueError: if `n` is negative, `batch_size` is not positive, or the
            latent size cannot be inferred.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"batch_size must be an integer >= 1, got {batch_size!r}."
        )
    latent_dim = _infer_latent_dim(generator, latent_dim)
    if n == 0:
        shape = tuple(generator.compute_output_shape((1, latent_dim))[1:])
        return np.zeros((0,) + shape, dtype="float32")
    # Draw all latents at once so the images do not depend on batch_size.
    z = keras.random.normal((int(n), latent_dim), seed=seed)
    chunks = []
    for start in range(0, int(n), int(batch_size)):
        batch = z[start:start + int(batch_size)]
        images = generator(batch, training=False)
        chunks.append(ops.convert_to_numpy(images).astype("float32"))
    return np.concatenate(chunks, axis=0)


def _bits_to_open_uniform(bits):
    """uint32 random bits -> float32 uniform strictly inside (0, 1) (TensorFlow).

    Uses the top 23 bits: `(k + 0.5) * 2**-23` is exact in float32, so the
    largest value is `1 - 2**-24` and never rounds up to 1.0 (24 bits would:
    `erfinv(2 * 1.0 - 1)` is infinite and the step turns NaN about once in
    every few million draws).
    """
    import tensorflow as tf

    top_23_bits = tf.cast(tf.bitwise.right_shift(bits, 9), tf.float32)
    return (top_23_bits + 0.5) * (2.0 ** -23)


class _JaxLayout:
    """Where each network's values sit in the JAX trainer's state lists.

    The trainer passes flat lists ordered like `model.trainable_variables`,
    `model.non_trainable_variables` and `model.metrics_variables`; this maps
    each network's variables to their positions by object identity. It is
    recomputed at each trace (cheap) so it follows any change of `trainable`.
    """

    def __init__(self, gan):
        trainable = _positions(gan.trainable_variables)
        non_trainable = _positions(gan.non_trainable_variables)
        self.g_trainable = [trainable[id(v)]
                            for v in gan.generator.trainable_variables]
        self.d_trainable = [trainable[id(v)]
                            for v in gan.discriminator.trainable_variables]
        self.g_state = [non_trainable[id(v)]
                        for v in gan.generator.non_trainable_variables]
        self.d_state = [non_trainable[id(v)]
                        for v in gan.discriminator.non_trainable_variables]
        self.seed = non_trainable[id(gan.seed_generator.state)]
        self.g_optimizer_size = len(gan.g_optimizer.variables)
        self.metric_slices = {}
        start = 0
        for metric in gan.metrics:
            size = len(metric.variables)
            self.metric_slices[metric.name] = slice(start, start + size)
            start += size

    @staticmethod
    def take(values, positions):
        return [values[i] for i in positions]

    @staticmethod
    def put(values, positions, new_values):
        values = list(values)
        for i, value in zip(positions, new_values):
            values[i] = value
        return values


def _positions(variables):
    return {id(v): i for i, v in enumerate(variables)}


def _infer_latent_dim(generator, latent_dim):
    if not isinstance(generator, keras.layers.Layer):
        raise TypeError(
            "generator must be a Keras model (or layer), got "
            f"{type(generator).__name__}."
        )
    try:
        input_shape = generator.input_shape
    except (AttributeError, ValueError):
        input_shape = None
    if latent_dim is None:
        if (not isinstance(input_shape, tuple) or len(input_shape) != 2
                or input_shape[1] is None):
            raise ValueError(
                "Cannot infer latent_dim: the generator's input shape is "
                f"{input_shape!r}, not (batch, latent_dim). Pass "
                "`latent_dim=` or give the generator a `keras.Input((k,))`."
            )
        latent_dim = input_shape[1]
    if not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
        raise ValueError(
            f"latent_dim must be a positive integer, got {latent_dim!r}."
        )
    return int(latent_dim)


def _check_networks(generator, discriminator, latent_dim):
    """Checks the shapes symbolically; returns the image shape (no batch)."""
    if not isinstance(discriminator, keras.layers.Layer):
        raise TypeError(
            "discriminator must be a Keras model (or layer), got "
            f"{type(discriminator).__name__}."
        )
    latent_shape = (None, latent_dim)
    try:
        images = generator(keras.KerasTensor(latent_shape))
    except Exception as error:  # any build failure names the shape below
        raise ValueError(
            f"The generator cannot take latents of shape {latent_shape}: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(images, keras.KerasTensor) or len(images.shape) != 4:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(
            f"The generator must map {latent_shape} to images "
            f"(batch, height, width, channels); it outputs {shape}. End it "
            "with a layer emitting a rank-4 tensor (e.g. Conv2D)."
        )
    image_shape = tuple(images.shape[1:])
    if any(dim is None for dim in image_shape):
        raise ValueError(
            f"The generator's image shape {image_shape} must be fully "
            "known; give every layer a fixed output size."
        )
    try:
        logits = discriminator(keras.KerasTensor((None,) + image_shape))
    except Exception as error:
        raise ValueError(
            "The discriminator cannot take the generator's images of shape "
            f"{(None,) + image_shape}: {type(error).__name__}: {error}"
        ) from error
    if (not isinstance(logits, keras.KerasTensor)
            or tuple(logits.shape[1:]) != (1,)):
        shape = getattr(logits, "shape", type(logits).__name__)
        raise ValueError(
            "The discriminator must output one logit per image, shape "
            f"(batch, 1); it outputs {shape} for images of shape "
            f"{(None,) + image_shape}. End it with Dense(1)."
        )
    return image_shape


def _is_number(value):
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(value))


# ----------------------------------------------------------------------------
# Budgeted training


@dataclasses.dataclass(frozen=True)
class TrainReport:
    """What happened when a candidate was trained for its budget.

    Args:
        status: `"ok"` (ran its steps, or stopped at the time limit),
            `"nan"` (a loss became NaN or infinite), `"diverged"` (a loss
            exceeded the divergence threshold) or `"error"` (an exception).
        reason: Why it stopped early; for `"error"`, the exception type and
            message. Empty when training ran all its steps.
        steps: Train steps completed.
        seconds: Wall time of the whole `fit` call.
        compile_seconds: Time of the first step (which includes tracing and
            XLA compilation) minus the median later step; the whole first
            step if only one ran. None if no step ran.
        step_seconds: Median time of the steps after the first. None if
            fewer than two steps ran.
        logs: The last logged values (`d_loss`, `g_loss`, ...) as floats;
            Keras reports running means over the run.
    """

    status: str
    reason: str = ""
    steps: int = 0
    seconds: float = 0.0
    compile_seconds: float | None = None
    step_seconds: float | None = None
    logs: dict = dataclasses.field(default_factory=dict)


class _BudgetMonitor(keras.callbacks.Callback):
    """Times each step and stops on NaN, divergence or the time limit."""

    def __init__(self, seconds, divergence_threshold):
        super().__init__()
        self.seconds = seconds
        self.divergence_threshold = divergence_threshold
        self.status = "ok"
        self.reason = ""
        self.steps = 0
        self.step_times = []
        self.logs = {}
        self._start = None
        self._step_start = None

    def on_train_begin(self, logs=None):
        self._start = None

    def on_train_batch_begin(self, batch, logs=None):
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # Converting to floats waits for the device, so the timing is real.
        values = {key: _to_float(value) for key, value in (logs or {}).items()}
        now = time.perf_counter()
        self.step_times.append(now - self._step_start)
        self.steps = batch + 1
        self.logs = values
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        big = sorted(k for k, v in values.items()
                     if math.isfinite(v) and abs(v) > self.divergence_threshold)
        if bad:
            self._stop("nan", f"non-finite {', '.join(bad)} at step "
                              f"{self.steps}")
        elif big:
            self._stop("diverged", f"|{', '.join(big)}| > "
                                   f"{self.divergence_threshold:g} at step "
                                   f"{self.steps}")
        elif self._start is None:
            # The time budget starts after the first step, which holds the XLA
            # compilation: a slow compile (a loaded machine) must not eat the
            # candidate's training time.
            self._start = now
        elif self.seconds is not None and now - self._start >= self.seconds:
            self._stop("ok", f"time budget of {self.seconds:g} s reached "
                             f"after {self.steps} steps")

    def _stop(self, status, reason):
        self.status = status
        self.reason = reason
        self.model.stop_training = True


def _to_float(value):
    try:
        return float(np.asarray(ops.convert_to_numpy(value)).reshape(()))
    except (TypeError, ValueError):
        return float("nan")


def train_for_budget(gan, inputs, *, steps, seconds=None,
                     divergence_threshold=1e4, callbacks=None):
    """Trains a compiled GAN for a step (and optional time) budget.

    A failing candidate never raises: NaN losses, divergence and exceptions
    raised while training are all reported in the returned `TrainReport`.

    Args:
        gan: A compiled `GAN` (or any compiled `keras.Model`).
        inputs: What `fit` takes as `x` and that yields at least `steps`
            batches: an infinite `tf.data.Dataset` or a
            `keras.utils.PyDataset` of fixed-size batches (a changing batch
            size recompiles the XLA step).
        steps: Number of train steps (>= 1).
        seconds: Optional wall-time limit on training, counted from the end
            of the first step (which holds the XLA compilation); training
            stops (status `"ok"`) after the first step that ends past it.
            Defaults to None.
        divergence_threshold: A loss whose magnitude exceeds this stops
            training with status `"diverged"`. Defaults to 1e4.
        callbacks: Optional list of extra Keras callbacks for `fit` (an
            exception they raise is reported as status `"error"`).

    Returns:
        A `TrainReport`. After `"error"` the model keeps the weights it had
        before the failing step.

    Raises:
        TypeError: if `gan` is not a Keras model.
        ValueError: if `gan` is not compiled, or `steps`, `seconds` or
            `divergence_threshold` are invalid. (These are caller errors,
            not candidate failures.)
    """
    if not isinstance(gan, keras.Model):
        raise TypeError(f"gan must be a keras.Model, got {type(gan).__name__}.")
    if not getattr(gan, "compiled", False):
        raise ValueError("Call gan.compile(...) before train_for_budget.")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}.")
    if seconds is not None and (not _is_number(seconds) or seconds <= 0):
        raise ValueError(
            f"seconds must be a positive number or None, got {seconds!r}."
        )
    if not _is_number(divergence_threshold) or divergence_threshold <= 0:
        raise ValueError(
            "divergence_threshold must be a positive number, got "
            f"{divergence_threshold!r}."
        )

    monitor = _BudgetMonitor(seconds, float(divergence_threshold))
    status, reason = None, ""
    snapshot = _state_snapshot(gan)
    start = time.perf_counter()
    try:
        # The inputs shuffle themselves; shuffle=False keeps fit from warning.
        gan.fit(inputs, epochs=1, steps_per_epoch=int(steps), verbose=0,
                shuffle=False, callbacks=[monitor] + list(callbacks or []))
    except Exception as error:  # a candidate's failure is data
        status, reason = "error", f"{type(error).__name__}: {error}"
        _restore_detached(snapshot)
    total = time.perf_counter() - start
    if status is None:
        status, reason = monitor.status, monitor.reason
        if status == "ok" and not reason and monitor.steps < steps:
            reason = f"input ran out after {monitor.steps} steps"
    compile_seconds, step_seconds = _split_compile_time(monitor.step_times)
    return TrainReport(
        status=status,
        reason=reason,
        steps=monitor.steps,
        seconds=total,
        compile_seconds=compile_seconds,
        step_seconds=step_seconds,
        logs=dict(monitor.logs),
    )


def _state_snapshot(gan):
    """(variable, value) pairs of everything the JAX trainer detaches."""
    if keras.backend.backend() != "jax":
        return []
    variables = list(gan.variables) + list(gan.metrics_variables)
    optimizer = getattr(gan, "optimizer", None)
    if optimizer is not None:
        variables += list(optimizer.variables)
    return [(v, v.value) for v in variables]


def _restore_detached(snapshot):
    """Re-attaches values the JAX trainer detached before a failed step.

    Keras' JAX `fit` detaches variable values while it trains (it sets the
    private `_value` to None, see `JAXTrainer._purge_model_variables`) and
    attaches the latest ones at the end; when the first step raises there
    are none, and the model would be left without weights. JAX arrays are
    immutable, so the values from before `fit` are still valid then.
    """
    for variable, value in snapshot:
        if getattr(variable, "_value", True) is None:
            variable.assign(value)


def _split_compile_time(step_times):
    """(compile seconds, median step seconds) from per-step wall times."""
    if not step_times:
        return None, None
    if len(step_times) == 1:
        return step_times[0], None
    step = statistics.median(step_times[1:])
    return max(step_times[0] - step, 0.0), step
