"""The one custom Keras layer a decoded network may hold: `MinibatchStd`.

Every other layer of a decoded genome is a standard Keras layer. This one
is registered as `"kgan_nas>MinibatchStd"`, so a discriminator holding it
saves to `.keras` and loads with `keras.saving.load_model(path,
safe_mode=True)` without `custom_objects` once this module is imported
(`kgan_nas.evaluation.decode` imports it, and so do kgan_nas' own loaders:
`SearchResult`'s models and weight inheritance).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan_nas")
class MinibatchStd(keras.layers.Layer):
    """Appends the minibatch standard deviation as one more channel (ProGAN).

    For inputs `(batch, H, W, C)` it computes, at every position and
    channel, the standard deviation over the whole batch (one group: the
    batch as the discriminator sees it), averages it over positions and
    channels into one number, and appends that number as a constant
    `(batch, H, W, 1)` channel. A discriminator can then tell a batch of
    near-identical (collapsed) images from a varied real one. It has no
    weights.

    Args:
        epsilon: Added to the variance before the square root. Defaults to
            1e-8.
        **kwargs: Passed to `keras.layers.Layer` (e.g. `name`).

    Raises:
        ValueError: if `epsilon` is not a number > 0.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"MinibatchStd epsilon must be a number > 0, got {epsilon!r}.")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        mean = ops.mean(inputs, axis=0, keepdims=True)
        variance = ops.mean(ops.square(inputs - mean), axis=0)
        spread = ops.mean(ops.sqrt(variance + self.epsilon))
        channel = ops.zeros_like(inputs[..., :1]) + ops.cast(spread, inputs.dtype)
        return ops.concatenate([inputs, channel], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if channels is None else channels + 1,)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
