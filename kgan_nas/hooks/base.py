"""Search-level hooks: `SearchCallback`, and how `search(callbacks=...)` splits its list.

A `SearchCallback` hears about the search (begin, each generation, each
candidate, end); Keras callbacks in the same list go into every candidate's
`fit` instead. Nothing here imports Keras, so the search loop can call hooks
without loading TensorFlow.
"""


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
            generation: The generation number, counted from 1 (as in
                `history.jsonl`, the sample files and every report).
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
            generation: The generation number, counted from 1 (as in
                `history.jsonl`, the sample files and every report).
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
                f"keras.callbacks.Callback objects, got {type(callback).__name__}."
            )
    return search_callbacks, keras_callbacks
