"""`SearchTensorBoard`: a search's candidates and generations as TensorBoard runs."""

import json
import math
import os

from kgan_nas.hooks.base import SearchCallback


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
                f"({error})."
            ) from error
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
                metrics=[hparams.Metric(name) for name in self._metric_names],
            )
            tf.summary.text(
                "config", json.dumps(logs, indent=2, sort_keys=True, default=str), step=0
            )

        self._write_root(write)

    def on_candidate_end(self, record):
        from tensorboard.plugins.hparams import api as hparams

        from kgan_nas.core.genome import Genome

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

        self._write(os.path.join("candidates", f"gen{generation:03d}-{record['key']}"), write)

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


_HPARAM_NAMES = (
    "generation",
    "status",
    "architecture",
    "g_layers",
    "d_layers",
    "optimizer",
    "loss",
    "g_learning_rate",
    "d_learning_rate",
    "beta_1",
    "beta_2",
)


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
