"""Gradient-based search: the supernet's derived genomes first, then random samples.

`DifferentiableSearch` (`strategy="differentiable"`) is the pure-Python half
of gradient-based architecture search. Before its first generation the
search trains the space's supernet once (`kgan_nas.supernet`, which needs
Keras) and hands the strategy the genomes derived from its learnt
architecture weights (`use_supernet`); they are evaluated first, as ordinary
candidates, and the rest of the budget samples the space at random, so a
supernet that learnt nothing useful costs no more than its own training.
"""

from kgan_nas import validate
from kgan_nas.core import supernet_slots
from kgan_nas.core.genome import Genome
from kgan_nas.strategies.random import RandomSearch


class DifferentiableSearch(RandomSearch):
    """Evaluates the genomes a trained supernet derives, then samples at random.

    Args:
        space: The `kgan_nas.SearchSpace` (unconditional).
        objectives: Objective names, as for `Strategy`.
        seed: Integer seed (of the random samples; the supernet trains with
            the search's seed).
        supernet_steps: Training steps of the supernet; None (the default)
            takes one generation's worth, `population x steps_per_candidate`.
        derived: How many genomes to derive from it at most (the strongest
            operation per slot, then single-slot runner-ups: at most one
            plus the number of slots of both networks), evaluated first
            after any known designs the search queues (`SearchOptions.zoo`);
            None (the default) takes up to a generation's worth.

    Raises:
        ValueError: for a non-positive `supernet_steps` or `derived`, a
            class-conditional space, or a space whose networks have no layer
            kind that doubles or halves the map (nothing for a supernet to mix).
    """

    # The search trains the supernet before the first generation when this is set.
    needs_supernet = True

    def __init__(self, space, *, objectives=("fid",), seed=0, supernet_steps=None, derived=None):
        super().__init__(space, objectives=objectives, seed=seed)
        if space.num_classes is not None:
            raise ValueError(
                "strategy='differentiable' searches unconditional spaces only; use "
                "'random', 'genetic' or 'pso' for a class-conditional search."
            )
        supernet_slots.skeleton(space)  # fails now, before any data loads or training
        for name, value in (("supernet_steps", supernet_steps), ("derived", derived)):
            if value is not None:
                validate.check_positive_int(value, name)
        self.supernet_steps = supernet_steps
        self.derived = derived
        self.supernet = None  # What the supernet cost and found, once trained.
        self._fresh = []  # The genomes `use_supernet` queued in this process.

    def use_supernet(self, result):
        """Queues the genomes a supernet derived (a `train_supernet` result dict).

        Args:
            result: The dict of `kgan_nas.supernet.search.train_supernet`.
        """
        self.supernet = {key: result.get(key) for key in ("status", "reason", "steps", "seconds")}
        genomes = [Genome.from_dict(g) for g in result.get("derived", [])]
        self.supernet["derived"] = [genome.key() for genome in genomes]
        self._fresh = genomes
        self.start_from(genomes)

    def load_state_dict(self, state):
        """Restores a checkpoint; a supernet that failed before it and trained now is kept.

        The search trains the supernet before it loads the checkpoint, and a
        failed supernet is tried again on resume (only a trained one is kept
        on disk): its derived genomes then still go first.
        """
        fresh, genomes = self.supernet, list(self._fresh)
        super().load_state_dict(state)
        trained_now = (fresh or {}).get("status") == "ok"
        if trained_now and (self.supernet or {}).get("status") != "ok":
            self.supernet = fresh
            self.start_from(genomes)

    def _config(self):
        return {"supernet_steps": self.supernet_steps, "derived": self.derived}

    def _extra_state(self):
        return {"supernet": self.supernet}

    def _load_extra_state(self, extra, results):
        self.supernet = extra.get("supernet")
