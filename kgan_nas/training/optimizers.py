"""Optimizers: GAN-friendly defaults, and the pair Keras' trainers see as one.

`make_optimizer` creates one of the `OPTIMIZERS` a genome can carry.
`_OptimizerPair` shows the generator and discriminator optimizers to Keras
as the single `model.optimizer` its trainers expect.
"""

import keras

from kgan_nas import validate

OPTIMIZERS = ("adam", "rmsprop", "sgd")


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
        raise ValueError(f"Unknown optimizer {name!r}. Use one of: {', '.join(OPTIMIZERS)}.")
    if not validate.is_finite_number(learning_rate) or not learning_rate > 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2)
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
        self.g_optimizer.finalize_variable_values(self._generator.trainable_variables)
        self.d_optimizer.finalize_variable_values(self._discriminator.trainable_variables)
