"""Evaluate candidates in the calling process (tests and debugging)."""

from kgan_nas.executors.base import Executor
from kgan_nas.executors.base import build_evaluator
from kgan_nas.executors.base import evaluate_candidate
from kgan_nas.executors.base import parent_dir_for
from kgan_nas.executors.base import parents_for
from kgan_nas.executors.base import save_dir_for
from kgan_nas.executors.base import steps_for


class InProcessExecutor(Executor):
    """Runs each candidate in this process, one after another.

    Simple and debuggable, but memory grows with every candidate (Keras and
    XLA keep per-model state even after `clear_session()`), and a crash in a
    candidate takes the search down. Use `"subprocess"` for real searches.

    Args:
        spec: A `WorkerSpec`.
    """

    def __init__(self, spec):
        self.spec = spec
        self._evaluator = None

    def run(self, genomes, parents=None, steps=None):
        genomes = list(genomes)
        parents = parents_for(genomes, parents)
        steps = steps_for(genomes, steps)
        if self._evaluator is None:
            self._evaluator = build_evaluator(self.spec)
        for index, genome in enumerate(genomes):
            yield (
                index,
                evaluate_candidate(
                    self._evaluator,
                    genome,
                    save_dir_for(self.spec, genome),
                    parent_dir_for(self.spec, parents[index]),
                    steps[index],
                ),
            )
