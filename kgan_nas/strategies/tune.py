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
from kgan_nas.errors import InvalidGenomeError
from kgan_nas.strategies.random import RandomSearch

# Draws per wanted genome before `_ask` returns fewer (draws repair may take off-design).
_DRAWS_PER_GENOME = 20


class DesignTuning(RandomSearch):
    """Proposes the zoo's known designs with training genes drawn from the space.

    Each proposal picks a design uniformly, then each training gene
    uniformly from the space's choices (the same draw `SearchSpace.sample`
    makes); a combination the space rejects (e.g. an R1 weight with the
    `"wasserstein_gp"` loss) is repaired into the space, and a draw whose
    repair would change the design's layers (e.g. two discriminator steps
    over a `max_train_macs` bound) is drawn again, so every genome is a
    design. Repeats are dropped, and no random architecture fills in for
    them, so a space with few training-gene choices runs out of new genomes
    (the search then ends early, saying so). In a class-conditional space
    the designs keep the conditioning the zoo fits them with.

    Example:

    ```python
    result = kgan_nas.search("mnist_5k", strategy="tune", preset="mnist_cpu")
    ```

    Args:
        space: The `kgan_nas.SearchSpace`; the designs are adapted to it.
        objectives: Objective names, as for `Strategy`. Defaults to `("fid",)`.
        seed: Integer seed. Defaults to 0.
        designs: Names of the designs to tune (`kgan_nas.core.zoo.DESIGNS`);
            None (the default): every design that fits the space. With a
            final stage, the known designs the search starts from as written
            (`SearchOptions.zoo`, by default) are then these too.

    Raises:
        ValueError: for an empty list or an unknown design name, or when
            none of the designs fits the space (with each one's reason).
    """

    # Only known designs: never top a generation up with random architectures.
    fills_with_samples = False

    def __init__(self, space, *, objectives=("fid",), seed=0, designs=None):
        super().__init__(space, objectives=objectives, seed=seed)
        names = zoo.DESIGNS if designs is None else zoo.check_names(designs)
        if not names:
            raise ValueError(
                "designs=[] leaves nothing to tune; name designs from "
                f"{list(zoo.DESIGNS)}, or leave it out for every design that fits."
            )
        entries = zoo.fit(space, names)
        self.designs = {entry.name: entry.genome for entry in entries if entry.fits}
        if not self.designs:
            reasons = "; ".join(f"{entry.name}: {entry.reason}" for entry in entries)
            raise ValueError(
                f"No known design fits this space, so strategy='tune' has nothing to tune "
                f"({reasons}); widen the space or use strategy='random'."
            )
        self.design_names = None if designs is None else list(names)

    def _ask(self, n):
        designs = list(self.designs.values())
        proposals = []
        for _ in range(_DRAWS_PER_GENOME * n):
            if len(proposals) == n:
                break
            design = designs[int(self._rng.integers(len(designs)))]
            genome = design.replace(training=self.space.random_training_genes(self._rng))
            if self.space.problems(genome):
                try:
                    genome = self.space.repair(genome)
                except InvalidGenomeError:
                    continue
            # Repair may narrow layers to meet a cost bound: then it is no longer the design.
            if zoo.architecture_key(genome) == zoo.architecture_key(design):
                proposals.append(genome)
        return proposals

    def exhausted(self):
        """What the search says when every drawn training setting has been tried."""
        return (
            "Every training setting drawn for the known designs has been tried "
            "(the space offers few choices); stopping."
        )

    def _config(self):
        return {"designs": None if self.design_names is None else list(self.design_names)}
