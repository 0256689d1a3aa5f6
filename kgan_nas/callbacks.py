"""Callbacks: search-level hooks, and Keras callbacks for GAN `fit` pipelines.

Search-level hooks are `SearchCallback` objects passed to
`kgan_nas.search(..., callbacks=[...])`; Keras callbacks passed there go into
every candidate's `fit` (copied per candidate, as KerasTuner does).
"""


class SearchCallback:
    """Base class for hooks into `kgan_nas.search`.

    Override any of the methods; each gets JSON-able values only, so a hook
    never holds on to Keras models. The methods run in the driver process.

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
        """Called once before the first candidate; `logs` holds the config."""

    def on_generation_begin(self, generation, logs=None):
        """Called when a generation's genomes are known."""

    def on_candidate_end(self, record):
        """Called with each candidate's history record as soon as it is scored."""

    def on_generation_end(self, generation, logs=None):
        """Called after a generation with a flat dict such as
        `{"best_fid": ..., "median_fid": ..., "failed": ...}`."""

    def on_search_end(self, result):
        """Called with the `SearchResult` when the search finishes."""


def split_callbacks(callbacks):
    """Separates `SearchCallback`s from Keras callbacks.

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
