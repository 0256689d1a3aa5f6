"""Search-level hooks for `kgan_nas.search(callbacks=[...])`, apart from Keras `fit` callbacks.

`SearchCallback` is the base; `ProgressPrinter` (what `verbose` shows) and
`SearchTensorBoard` are built on it. `kgan_nas.callbacks` re-exports them.
`library_logs` keeps TensorFlow's start-up lines off the console.
"""

from kgan_nas.hooks.base import SearchCallback
from kgan_nas.hooks.base import split_callbacks
from kgan_nas.hooks.progress import ProgressPrinter
from kgan_nas.hooks.tensorboard import SearchTensorBoard

__all__ = ["ProgressPrinter", "SearchCallback", "SearchTensorBoard", "split_callbacks"]
