"""Known designs, tuned: what a Keras user does instead of an architecture search.

`DesignTuning` (`strategy="tune"`) searches no architecture. Every genome it
proposes is a known design of the zoo (`kgan_nas.core.zoo`: the TensorFlow
tutorial's DCGAN, a flattening-discriminator DCGAN, the MLP GAN), adapted to
the space, with its training genes (optimizer, both learning rates, both
betas, the loss and any recipe genes) drawn at random from the space's
choices: random-search hyperparameter tuning, as KerasTuner's
`RandomSearch` would do it over the same choices. It is the bar an
architecture search has to clear (docs/benchmarks.md, the principal study),
and a strategy in its own right where a known design is all one needs.
"""

from kgan_nas.core import zoo
from kgan_nas.strategies.random import RandomSearch


class DesignTuning(RandomSearch):
    """Proposes the zoo's known designs with training genes drawn from the space.

    Each proposal picks a design uniformly, then each training gene
    uniformly from the space's choices (the same draw `SearchSpace.sample`
    makes); a combination the space rejects (e.g. an R1 weight with the
    `"wasserstein_gp"` loss) is repaired into the space. Repeats are dropped,
    and no random architecture fills in for them, so a space with few
    training-gene choices runs out of new genomes (the search then ends its
    generation short).

    Example:

    ```python
    result = kgan_nas.search("mnist_5k", strategy="tune", preset="mnist_cpu")
    ```

    Args:
        space: The `kgan_nas.SearchSpace`; the designs are adapted to it.
        objectives: Objective names, as for `Strategy`. Defaults to `("fid",)`.
        seed: Integer seed. Defaults to 0.
        designs: Names of the designs to tune (`kgan_nas.core.zoo.DESIGNS`);
            None (the default): every design that fits the space.

    Raises:
        ValueError: for an unknown design name, or when none of the designs
            fits the space (with each one's reason).
    """

    # Only known designs: never top a generation up with random architectures.
    fills_with_samples = False

    def __init__(self, space, *, objectives=("fid",), seed=0, designs=None):
        super().__init__(space, objectives=objectives, seed=seed)
        names = zoo.DESIGNS if designs is None else zoo.check_names(designs)
        entries = zoo.fit(space, names)
        self.designs = {entry.name: entry.genome for entry in entries if entry.fits}
        if not self.designs:
            reasons = "; ".join(f"{entry.name}: {entry.reason}" for entry in entries)
            raise ValueError(
                f"No known design fits this space, so strategy='tune' has nothing to tune "
                f"({reasons}); widen the space or use strategy='random'."
            )
        self.design_names = designs

    def _ask(self, n):
        # The base class repairs a combination the space rejects.
        designs = list(self.designs.values())
        return [
            designs[int(self._rng.integers(len(designs)))].replace(
                training=self.space.random_training_genes(self._rng)
            )
            for _ in range(n)
        ]

    def _config(self):
        return {"designs": None if self.design_names is None else list(self.design_names)}
