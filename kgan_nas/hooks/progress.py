"""`ProgressPrinter`: what `kgan_nas.search(verbose=1 or 2)` prints."""

import math
import time

from kgan_nas.hooks.base import SearchCallback


def _format_seconds(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


class ProgressPrinter(SearchCallback):
    """Prints a search's progress; `kgan_nas.search(verbose=1 or 2)` adds one.

    With `verbose=1`, a progress bar per generation (`keras.utils.Progbar`,
    with the number of failed candidates and the best objective so far);
    with `verbose=2`, one line per candidate instead (better in log files).
    Both print where the run is, a summary line after each generation and
    the total at the end.

    Args:
        verbose: 1 or 2. Defaults to 1.

    Raises:
        ValueError: for another `verbose`.
    """

    def __init__(self, verbose=1):
        if verbose not in (1, 2):
            raise ValueError(f"ProgressPrinter: verbose must be 1 or 2, got {verbose!r}.")
        self.verbose = verbose
        self._started = time.monotonic()
        self._objective = "objective"
        self._bar = None
        self._total = self._count = self._failed = 0
        self._best = math.inf

    def on_search_begin(self, logs=None):
        logs = logs or {}
        self._started = time.monotonic()
        self._objective = (logs.get("objectives") or [self._objective])[0]
        if logs.get("directory"):
            verb = "Resuming" if logs.get("resumed") else "Starting"
            print(f"{verb} search in {logs['directory']}", flush=True)

    def on_generation_begin(self, generation, logs=None):
        logs = logs or {}
        self._total = len(logs.get("genomes", ()))
        self._count = int(logs.get("evaluated", 0))
        self._failed = 0
        self._best = logs.get("best_so_far", math.inf)
        self._bar = None
        if self.verbose == 1:
            import keras  # only for the bar: the search loop itself never needs Keras

            self._bar = keras.utils.Progbar(
                self._total, unit_name="candidate", stateful_metrics=["best", "failed"]
            )
            if self._count:
                self._bar.update(self._count)

    def on_candidate_end(self, record):
        from kgan_nas.genome import Genome

        self._count += 1
        objective = record.get("objective")
        if record["status"] != "ok" or objective is None:
            self._failed += 1
        elif objective < self._best:
            self._best = objective
        if self._bar is not None:
            values = [("failed", self._failed)]
            if math.isfinite(self._best):
                values.append(("best", self._best))
            self._bar.update(self._count, values=values)
        elif self.verbose == 2:
            score = (
                f"{self._objective}={objective:.4g}"
                if objective is not None
                else f"{record['status']}: {record['reason'][:80]}"
            )
            print(
                f"  [{self._count}/{self._total}] {record['key']}  {score}  "
                f"{Genome.from_dict(record['genome']).describe()}",
                flush=True,
            )

    def on_generation_end(self, generation, logs=None):
        logs = logs or {}
        print(
            f"Generation {generation + 1}: best {self._objective} {logs['best']:.4g} "
            f"(so far {logs['best_so_far']:.4g}), median {logs['median']:.4g}, "
            f"failed {logs['failed']}/{self._total}, "
            f"elapsed {_format_seconds(time.monotonic() - self._started)}",
            flush=True,
        )

    def on_search_end(self, result):
        print(f"Done: {len(result.history)} candidates in {result.directory}", flush=True)
