"""Gradient-based search: the supernet's derived genomes first, then random samples.

`DifferentiableSearch` (`strategy="differentiable"`) is the pure-Python half
of gradient-based architecture search. Before its first generation the
search trains the space's supernet once (`kgan_nas.supernet`, which needs
Keras) and hands the strategy the genomes derived from its learnt
architecture weights (`use_supernet`); they are evaluated first, as ordinary
candidates, and the rest of the budget samples the space at random, so a
supernet that learnt nothing useful costs no more than its own training.

With `supernet_training="single_path"` the supernet learns no architecture
weights: it is trained one uniformly drawn path at a time, and the genomes
evaluated first are the best of `path_samples` random paths scored with its
shared weights (weight-sharing evaluation: many genomes judged for the cost
of generating their images, the best few trained); with
`path_finetune_steps` each path's genome is first fine-tuned briefly from
the supernet's weights.
"""

from kgan_nas import validate
from kgan_nas.core import supernet_slots
from kgan_nas.core.genome import Genome
from kgan_nas.strategies.random import RandomSearch

# How the supernet is trained: by its softmax mixture, or one random path per network call.
SUPERNET_TRAININGS = ("mixture", "single_path")


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
            plus the number of slots of both networks; under
            `"single_path"`, the best-scored paths), evaluated first
            after any known designs the search queues (`SearchOptions.zoo`);
            None (the default) takes up to a generation's worth.
        supernet_training: `"mixture"` (the default): every slot mixes its
            operations by learnt weights, and the strongest derive genomes;
            `"single_path"`: one uniformly drawn operation per slot and network call
            (Guo et al., 2020), then genomes chosen by scoring random paths
            with the shared weights.
        path_samples: With `"single_path"`: how many random paths to score
            (unused by the mixture). Defaults to 64.
        path_finetune_steps: With `"single_path"`: fine-tune each drawn
            path's genome this many steps, starting from the supernet's
            weights, before scoring it (weight sharing with a short
            fine-tune); it costs about `path_samples` short trainings. None
            (the default) scores the shared weights as they are.

    Raises:
        ValueError: for a non-positive `supernet_steps`, `derived` or
            `path_samples`, an unknown `supernet_training`, a
            class-conditional space, or a space whose networks have no layer
            kind that doubles or halves the map (nothing for a supernet to mix).
    """

    # The search trains the supernet before the first generation when this is set.
    needs_supernet = True

    def __init__(
        self,
        space,
        *,
        objectives=("fid",),
        seed=0,
        supernet_steps=None,
        derived=None,
        supernet_training="mixture",
        path_samples=64,
        path_finetune_steps=None,
    ):
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
        validate.check_positive_int(path_samples, "path_samples")
        if path_finetune_steps is not None:
            validate.check_positive_int(path_finetune_steps, "path_finetune_steps")
            if supernet_training != "single_path":
                raise ValueError(
                    "path_finetune_steps fine-tunes the paths of a single-path supernet: add "
                    "supernet_training='single_path' (CLI: --supernet-training single_path) "
                    "or leave it out."
                )
        if supernet_training not in SUPERNET_TRAININGS:
            raise ValueError(
                f"supernet_training={supernet_training!r} is not one of {list(SUPERNET_TRAININGS)}."
            )
        self.supernet_steps = supernet_steps
        self.derived = derived
        self.supernet_training = supernet_training
        self.path_samples = path_samples
        self.path_finetune_steps = path_finetune_steps
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

    def _options_added_later(self):
        # Runs stored before these options trained the mixture, with no fine-tune.
        return {"supernet_training": "mixture", "path_samples": 64, "path_finetune_steps": None}

    def _config(self):
        return {
            "supernet_steps": self.supernet_steps,
            "derived": self.derived,
            "supernet_training": self.supernet_training,
            "path_samples": self.path_samples,
            "path_finetune_steps": self.path_finetune_steps,
        }

    def _extra_state(self):
        return {"supernet": self.supernet}

    def _load_extra_state(self, extra, results):
        self.supernet = extra.get("supernet")
