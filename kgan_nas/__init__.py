"""kgan_nas: architecture search for GANs on Keras 3.

The public API is small: `kgan_nas.search` (with `SearchOptions` and
`RunSettings` for its less common settings), `kgan_nas.SearchSpace`,
`kgan_nas.callbacks` and `kgan_nas.metrics`. Heavy modules (Keras, the
training engine) are imported lazily, so `import kgan_nas` is cheap and the
genome / search-space code can be used without TensorFlow.
"""

import importlib
import sys

__version__ = "0.1.0"

_LAZY = {
    "SearchSpace": ("kgan_nas.core.space", "SearchSpace"),
    "Genome": ("kgan_nas.core.genome", "Genome"),
    "LayerGene": ("kgan_nas.core.genome", "LayerGene"),
    "TrainingGenes": ("kgan_nas.core.genome", "TrainingGenes"),
    "Fitness": ("kgan_nas.core.fitness", "Fitness"),
    "GAN": ("kgan_nas.training", "GAN"),
    "Objective": ("kgan_nas.core.objectives", "Objective"),
    "search": ("kgan_nas.api", "search"),
    "resume": ("kgan_nas.api", "resume"),
    "finalize": ("kgan_nas.final.stage", "finalize"),
    "FinalConfig": ("kgan_nas.final.stage", "FinalConfig"),
    "SearchResult": ("kgan_nas.results.search_result", "SearchResult"),
    "SearchConfig": ("kgan_nas.config", "SearchConfig"),
    "SearchOptions": ("kgan_nas.config", "SearchOptions"),
    "RunSettings": ("kgan_nas.config", "RunSettings"),
    "SuccessiveHalving": ("kgan_nas.core.fidelity", "SuccessiveHalving"),
}
# Public subpackages and the two modules a user reaches by their short names
# (`kgan_nas.decode.build_models`, `kgan_nas.layers.MinibatchStd`).
_SUBMODULES = {
    "callbacks": "kgan_nas.callbacks",
    "hooks": "kgan_nas.hooks",
    "metrics": "kgan_nas.metrics",
    "strategies": "kgan_nas.strategies",
    "executors": "kgan_nas.executors",
    "features": "kgan_nas.features",
    "data": "kgan_nas.data",
    "decode": "kgan_nas.evaluation.decode",
    "layers": "kgan_nas.training.layers",
    "training": "kgan_nas.training",
}

__all__ = sorted(list(_LAZY) + list(_SUBMODULES))


def __getattr__(name):
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(_SUBMODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kgan_nas' has no attribute {name!r}")


def _register_keras_objects():
    """Registers the Keras classes that saved models name (`kgan_nas>GAN`,
    `kgan_nas>MinibatchStd`), so `keras.saving.load_model` finds them: Keras
    imports only its own packages to look a class up, and kgan_nas' lazy import
    would otherwise define them only once `kgan_nas.GAN` is touched."""
    for name in ("kgan_nas.training.layers", "kgan_nas.training.gan"):
        importlib.import_module(name)


# Where Keras is already loaded (`import keras, kgan_nas`), registering costs
# little; otherwise `import kgan_nas` stays free of Keras and TensorFlow, and
# the classes register when kgan_nas first touches Keras.
if "keras" in sys.modules:
    _register_keras_objects()
