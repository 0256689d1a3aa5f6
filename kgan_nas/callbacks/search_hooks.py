"""Search-level hooks: `SearchCallback` and the hooks built on it
(`ProgressPrinter`, what `verbose` shows, and `SearchTensorBoard`).
"""

import json
import math
import os
import time

import keras


class SearchCallback:
    """Base class for hooks into `kgan_nas.search`.

    Override any of the methods; each gets JSON-able values only, so a hook
    never holds on to Keras models. The methods run in the driver process,
    for every candidate, failed ones included.

    Example:

    ```python
    class PrintFailures(kgan_nas.callbacks.SearchCallback):
        def on_candidate_end(self, record):
            if record["status"] != "ok":
                print(record["key"], record["reason"])

    kgan_nas.search("digits", callbacks=[PrintFailures()])
    ```
    """

    def on_search_begin(self, logs=None):
        """Called once before the first candidate.

        Args:
            logs: The search configuration (as in `config.json`) plus
                `directory` and `resumed`.
        """

    def on_generation_begin(self, generation, logs=None):
        """Called when a generation's genomes are known.

        Args:
            generation: 0-based generation number.
            logs: `{"genomes": [keys], "evaluated": how many of them a
                resumed run had already scored, "best_so_far": best
                objective value so far (inf if none)}`.
        """

    def on_candidate_end(self, record):
        """Called with each candidate's history record as soon as it is scored.

        Args:
            record: The `history.jsonl` line: `generation`, `key`, `genome`,
                `status`, `reason`, `objective` (None if failed), `fitness`
                and the metrics (`fid_domain`, ...).
        """

    def on_generation_end(self, generation, logs=None):
        """Called after a generation.

        Args:
            generation: 0-based generation number.
            logs: A flat dict: `generation`, `best`, `median`, `best_so_far`,
                `failed`, `evaluated`.
        """

    def on_search_end(self, result):
        """Called with the `SearchResult` when the search finishes."""


def split_callbacks(callbacks):
    """Separates `SearchCallback`s from Keras callbacks.

    Args:
        callbacks: A list of `SearchCallback` and Keras callback objects, or
            None.

    Returns:
        `(search_callbacks, keras_callbacks)`, two lists.

    Raises:
        TypeError: for an object that is neither.
    """
    search_callbacks, keras_callbacks = [], []
    for callback in callbacks or []:
        if isinstance(callback, SearchCallback):
            search_callbacks.append(callback)
        elif hasattr(callback, "on_train_batch_end") and hasattr(callback, "set_model"):
            keras_callbacks.append(callback)
        else:
            raise TypeError(
                f"callbacks must be kgan_nas.callbacks.SearchCallback or "
                f"keras.callbacks.Callback objects, got {type(callback).__name__}.")
    return search_callbacks, keras_callbacks


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
            self._bar = keras.utils.Progbar(self._total, unit_name="candidate",
                                            stateful_metrics=["best", "failed"])
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
            score = (f"{self._objective}={objective:.4g}" if objective is not None
                     else f"{record['status']}: {record['reason'][:80]}")
            print(f"  [{self._count}/{self._total}] {record['key']}  {score}  "
                  f"{Genome.from_dict(record['genome']).describe()}", flush=True)

    def on_generation_end(self, generation, logs=None):
        logs = logs or {}
        print(f"Generation {generation + 1}: best {self._objective} {logs['best']:.4g} "
              f"(so far {logs['best_so_far']:.4g}), median {logs['median']:.4g}, "
              f"failed {logs['failed']}/{self._total}, "
              f"elapsed {_format_seconds(time.monotonic() - self._started)}", flush=True)

    def on_search_end(self, result):
        print(f"Done: {len(result.history)} candidates in {result.directory}", flush=True)


class SearchTensorBoard(SearchCallback):
    """Writes each candidate's genes and fitness to TensorBoard event files.

    Each candidate gets a run `<log_dir>/candidates/gen001-<key>` holding its
    genes as TensorBoard HParams (training genes, layer counts, the one-line
    architecture, the status) with its metrics as scalars (`fid_domain`,
    `kid_domain`, `is_domain`, `params`; absent for a failed candidate), so
    the HParams dashboard plots genes against fitness. The root run holds
    per-generation scalars (`generation/best`, `generation/median`,
    `generation/best_so_far`, `generation/failed`) and the configuration as
    text.

    Example:

    ```python
    kgan_nas.search("digits", callbacks=[kgan_nas.callbacks.SearchTensorBoard("tb")])
    # then: tensorboard --logdir tb
    ```

    Args:
        log_dir: Folder for the event files.

    Raises:
        ImportError: if TensorFlow or TensorBoard is not installed (they
            write the files; a search under JAX does not need them otherwise).
    """

    def __init__(self, log_dir):
        try:
            import tensorboard  # noqa: F401  (tf.summary needs it)
            import tensorflow  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "SearchTensorBoard writes event files with tf.summary, which needs "
                "TensorFlow and TensorBoard: pip install tensorflow tensorboard "
                f"({error}).") from error
        self.log_dir = os.fspath(log_dir)
        self._metric_names = ()
        self._root = None

    def _write(self, run, write):
        """Writes one candidate's run: its own writer, closed at once."""
        import tensorflow as tf

        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        with writer.as_default():
            write(tf)
        writer.close()

    def _write_root(self, write):
        import tensorflow as tf

        if self._root is None:
            self._root = tf.summary.create_file_writer(self.log_dir)
        with self._root.as_default():
            write(tf)
        self._root.flush()

    def on_search_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hparams

        logs = dict(logs or {})
        suffix = str(logs.get("metric", "fid_domain")).split("_", 1)[-1]
        self._metric_names = (f"fid_{suffix}", f"kid_{suffix}", f"is_{suffix}", "params")

        def write(tf):
            hparams.hparams_config(
                hparams=[hparams.HParam(name) for name in _HPARAM_NAMES],
                metrics=[hparams.Metric(name) for name in self._metric_names])
            tf.summary.text("config", json.dumps(logs, indent=2, sort_keys=True, default=str),
                            step=0)

        self._write_root(write)

    def on_candidate_end(self, record):
        from tensorboard.plugins.hparams import api as hparams

        from kgan_nas.genome import Genome

        genome = Genome.from_dict(record["genome"])
        genes = _hparam_values(genome, record)
        generation = int(record["generation"])

        def write(tf):
            hparams.hparams(genes, trial_id=record["key"])
            for name in self._metric_names:
                value = record.get(name)
                if value is not None and math.isfinite(value):
                    tf.summary.scalar(name, value, step=generation)
            tf.summary.text("genome", genome.to_json(), step=generation)

        self._write(os.path.join("candidates", f"gen{generation + 1:03d}-{record['key']}"),
                    write)

    def on_generation_end(self, generation, logs=None):
        logs = logs or {}

        def write(tf):
            for name in ("best", "median", "best_so_far", "failed"):
                value = logs.get(name)
                if value is not None and math.isfinite(value):
                    tf.summary.scalar(f"generation/{name}", value, step=generation)

        self._write_root(write)

    def on_search_end(self, result):
        if self._root is not None:
            self._root.close()
            self._root = None


_HPARAM_NAMES = ("generation", "status", "architecture", "g_layers", "d_layers", "optimizer",
                 "loss", "g_learning_rate", "d_learning_rate", "beta_1", "beta_2")


def _hparam_values(genome, record):
    """A candidate's genes as flat HParams values."""
    genes = genome.training
    values = {
        "generation": int(record["generation"]),
        "status": record["status"],
        "architecture": genome.describe(),
        "g_layers": len(genome.generator),
        "d_layers": len(genome.discriminator),
        "optimizer": genes.optimizer,
        "loss": genes.loss,
        "g_learning_rate": float(genes.g_learning_rate),
        "d_learning_rate": float(genes.d_learning_rate),
        "beta_1": float(genes.beta_1),
        "beta_2": float(genes.beta_2),
    }
    return values
