"""Callbacks: Keras callbacks for GAN `fit` pipelines, and search-level hooks.

Keras callbacks, for the `fit` of any GAN model that has a `generator`
(`kgan_nas.GAN`, or a keras.io-style `keras.Model` subclass):

- `GANMetrics` writes FID / KID / IS into `logs` at epoch end (`fid_domain`,
  ...), so `EarlyStopping`, `ModelCheckpoint`, `TensorBoard` and `CSVLogger`
  use them unchanged.
- `SampleGrid` saves PNG grids from a fixed latent batch.
- `EvolveArchitecture` searches architectures inside `fit`: it mutates the
  model's genome, trains and scores the children, and swaps in a better one
  (`inherit_weights` carries the trained weights over).

Search-level hooks are `SearchCallback`s passed to
`kgan_nas.search(..., callbacks=[...])`: `ProgressPrinter` (what `verbose`
shows) and `SearchTensorBoard` are built on them. They live in
`kgan_nas.hooks` (no Keras import) and are re-exported here. Keras callbacks passed
there go into every candidate's `fit`, pickled to the worker processes and
deep-copied per candidate, as KerasTuner does.
"""

from kgan_nas.callbacks.evolve import EvolveArchitecture
from kgan_nas.callbacks.gan_metrics import GANMetrics
from kgan_nas.callbacks.gan_metrics import SampleGrid
from kgan_nas.evaluation.inherit import inherit_weights
from kgan_nas.hooks import ProgressPrinter
from kgan_nas.hooks import SearchCallback
from kgan_nas.hooks import SearchTensorBoard
from kgan_nas.hooks import split_callbacks

__all__ = [
    "EvolveArchitecture",
    "GANMetrics",
    "ProgressPrinter",
    "SampleGrid",
    "SearchCallback",
    "SearchTensorBoard",
    "inherit_weights",
    "split_callbacks",
]
