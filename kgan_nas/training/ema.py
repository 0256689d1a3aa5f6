"""An exponential moving average (EMA) of a generator's weights, kept in the train step.

GAN samples are usually better from an average of the generator's recent
weights than from its latest ones (Karras et al., "Progressive Growing of
GANs", 2018; Yazici et al., "The Unusual Effectiveness of Averaging in GAN
Training", 2019). `GeneratorEMA` holds non-trainable copies of a
generator's trainable weights and a step count; `ema_update` is the pure
update both train steps call under XLA (the TensorFlow step assigns its
result, the JAX step carries it in the trainer's state), so the average is
never read from stale host copies. `ema_model` returns a clone of the
generator that carries the averaged weights.

The decay warms up like `tf.train.ExponentialMovingAverage(num_updates=...)`:
update `t` (0-based) uses `min(decay, (1 + t) / (10 + t))`, so the random
initial weights are forgotten within a few hundred steps even at 0.999.
"""

import keras
import numpy as np
from keras import ops

from kgan_nas import validate


def check_ema_decay(ema_decay):
    """Returns `ema_decay` as a float in [0, 1), or None.

    Raises:
        ValueError: for anything else.
    """
    if ema_decay is None:
        return None
    if not validate.is_finite_number(ema_decay) or not 0 <= ema_decay < 1:
        raise ValueError(
            f"ema_decay must be a number in [0, 1) (e.g. 0.999) or None for no EMA, "
            f"got {ema_decay!r}."
        )
    return float(ema_decay)


def decay_at(step, decay):
    """The decay of update number `step` (0-based): `min(decay, (1 + step) / (10 + step))`.

    Works on Python numbers and on backend tensors.
    """
    return ops.minimum(decay, (1.0 + step) / (10.0 + step))


def ema_update(averages, count, weights, decay):
    """One EMA update, as a pure function (no variable is assigned).

    Args:
        averages: The current averages, one tensor per weight.
        count: How many updates came before (a float scalar).
        weights: The weights just after the optimizer step, same order.
        decay: The target decay in [0, 1).

    Returns:
        `(new_averages, count + 1)`: each average becomes
        `d * average + (1 - d) * weight` with `d = decay_at(count, decay)`.
    """
    d = ops.cast(decay_at(count, decay), "float32")
    new = [
        ops.cast(d, a.dtype) * a + ops.cast(1.0 - d, a.dtype) * ops.cast(w, a.dtype)
        for a, w in zip(averages, weights)
    ]
    return new, count + 1.0


class GeneratorEMA(keras.layers.Layer):
    """Non-trainable averages of a model's trainable weights, and their update count.

    A layer so that a `keras.Model` holding it tracks its variables (as
    non-trainable state that the JAX trainer carries and `save` writes).
    It starts equal to the model's current weights. Its owner rebuilds it
    from the decay (e.g. `GAN(ema_decay=...)`); it has no config of its own.

    Args:
        model: The model whose trainable weights are averaged (built).
        decay: The target decay in [0, 1).
        **kwargs: Passed to `keras.layers.Layer` (e.g. `name`).

    Raises:
        ValueError: if `decay` is not in [0, 1).
    """

    def __init__(self, model, decay, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.decay = check_ema_decay(decay)
        if self.decay is None:
            raise ValueError("GeneratorEMA needs a decay in [0, 1); got None.")
        self.averages = [
            self.add_weight(
                shape=tuple(v.shape),
                dtype=v.dtype,
                initializer="zeros",
                trainable=False,
                name=f"ema_{i}",
            )
            for i, v in enumerate(model.trainable_variables)
        ]
        for average, v in zip(self.averages, model.trainable_variables):
            # A copy: on JAX two variables sharing one buffer break buffer donation.
            average.assign(_copy(v))
        self.count = self.add_weight(
            shape=(), dtype="float32", initializer="zeros", trainable=False, name="ema_count"
        )
        self.built = True

    def reset(self, model):
        """Starts the average again from `model`'s current weights (count 0).

        For weights set after the GAN was built (e.g. a final job continuing
        its search candidate's weights), so the average holds no trace of the
        fresh initialisation.
        """
        for average, v in zip(self.averages, model.trainable_variables):
            average.assign(_copy(v))
        self.count.assign(0.0)

    def update(self, weights):
        """Assigns one EMA step towards `weights` (for the TensorFlow train step)."""
        values = [a.value for a in self.averages]
        new, count = ema_update(values, self.count.value, weights, self.decay)
        for variable, value in zip(self.averages, new):
            variable.assign(value)
        self.count.assign(count)


def ema_model(model, ema):
    """A clone of `model` whose trainable weights are `ema`'s averages.

    Non-trainable state (batch-norm statistics, spectral-norm vectors) is
    copied from `model` as it is.

    Args:
        model: The live model (e.g. the GAN's generator).
        ema: Its `GeneratorEMA`.

    Returns:
        A new `keras.Model` with the same architecture and name.
    """
    clone = keras.models.clone_model(model)
    averages = {id(v): a for v, a in zip(model.trainable_variables, ema.averages)}
    for source, target in zip(model.weights, clone.weights):
        target.assign(_copy(averages.get(id(source), source)))
    return clone


def recompute_batch_norm(generator, *, latent_dim=None, num_samples=2048, batch_size=256, seed=0):
    """Sets each batch-norm layer's statistics to those of this generator's own activations.

    A weight average carries the live generator's batch-norm statistics
    (`ema_model` copies non-trainable state), which were measured on other
    weights: in inference mode the averaged generator then normalises with
    the wrong means and variances. This measures them again, as stochastic
    weight averaging does ("Averaging Weights Leads to Wider Optima and
    Better Generalization", Izmailov et al., 2018): layer by layer in graph
    order, the input of each batch-norm layer is computed in inference mode
    (earlier layers already updated) over `num_samples` fixed latents, and
    its mean and (biased) variance become the layer's moving statistics.

    Args:
        generator: A single-input Keras functional generator from latents;
            its `BatchNormalization` layers are updated in place.
        latent_dim: Size of the latent vector. Defaults to None: the last
            axis of `generator.input_shape`.
        num_samples: Latents the statistics are measured on. Defaults to 2048.
        batch_size: Latents per call. Defaults to 256.
        seed: Seed of the latents. Defaults to 0.

    Returns:
        The number of batch-norm layers updated (0 leaves the model as it was).

    Raises:
        ValueError: for a generator with several inputs (a class-conditional
            one), or a non-positive `num_samples` or `batch_size`.
    """
    from kgan_nas.training.networks import _infer_latent_dim

    validate.check_positive_int(num_samples, "num_samples")
    validate.check_positive_int(batch_size, "batch_size")
    layers = [
        layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    if not layers:
        return 0
    if len(generator.inputs) != 1:
        raise ValueError(
            f"recompute_batch_norm takes a generator with one input (latents); "
            f"{generator.name!r} has {len(generator.inputs)}."
        )
    latent_dim = _infer_latent_dim(generator, latent_dim)
    z = keras.random.normal((int(num_samples), latent_dim), seed=seed)
    for layer in layers:
        upstream = keras.Model(generator.inputs, layer.input)
        axis = layer.axis % len(layer.input.shape)
        total = total_squares = 0.0
        count = 0
        for start in range(0, int(num_samples), int(batch_size)):
            x = ops.convert_to_numpy(upstream(z[start : start + int(batch_size)], training=False))
            x = np.moveaxis(x.astype("float64"), axis, -1).reshape(-1, x.shape[axis])
            total = total + x.sum(axis=0)
            total_squares = total_squares + (x**2).sum(axis=0)
            count += len(x)
        mean = total / count
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        variance = np.maximum(total_squares / count - mean**2, 0.0)
        layer.moving_variance.assign(variance.astype(layer.moving_variance.dtype))
    return len(layers)


def _copy(variable):
    return np.array(ops.convert_to_numpy(variable.value))
