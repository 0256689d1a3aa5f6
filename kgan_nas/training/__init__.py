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
imported only inside their own branch, so this package works under
`KERAS_BACKEND=jax` on a machine without TensorFlow.

`train_for_budget` runs a candidate for a fixed number of steps (or seconds)
and turns every failure into a `TrainReport` instead of an exception: in a
search, a candidate that diverges or crashes is data.

The package's modules, one job each:

* `losses`: `discriminator_loss`, `generator_loss`, `gradient_penalty`,
  `r1_penalty`;
* `optimizers`: `make_optimizer` and the optimizer pair Keras sees as one;
* `gan`: the `GAN` model (compile, metrics, generate, config);
* `tf_step` / `jax_step`: the backend-specific train steps `GAN` delegates to;
* `noise`: the latents the steps draw, and `generate_images`;
* `augment`: differentiable augmentation (DiffAugment) of the images the
  discriminator sees (`GAN(augment=...)`);
* `budget`: `train_for_budget` and `TrainReport`;
* `packed`: K GANs of one shape trained as one vmapped JAX program (`train_packed`);
* `compile_choice`: `jit_compile="auto"`, whether a candidate's step is XLA-compiled;
* `conditional`: class-conditional (two-input) networks: checks, labels, sampling;
* `validation`: the argument and network-shape checks they share.
"""

from kgan_nas.core.fitness import TRAINING_STATUSES as STATUSES
from kgan_nas.training.budget import TrainReport
from kgan_nas.training.budget import train_for_budget
from kgan_nas.training.gan import GAN
from kgan_nas.training.losses import LOSSES
from kgan_nas.training.losses import discriminator_loss
from kgan_nas.training.losses import generator_loss
from kgan_nas.training.losses import gradient_penalty
from kgan_nas.training.noise import _bits_to_open_uniform as _bits_to_open_uniform
from kgan_nas.training.noise import generate_images
from kgan_nas.training.optimizers import OPTIMIZERS
from kgan_nas.training.optimizers import make_optimizer

__all__ = [
    "GAN",
    "LOSSES",
    "OPTIMIZERS",
    "STATUSES",
    "TrainReport",
    "discriminator_loss",
    "generate_images",
    "generator_loss",
    "gradient_penalty",
    "make_optimizer",
    "train_for_budget",
]
