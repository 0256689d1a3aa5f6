"""kgan_nas: evolutionary architecture search for GANs on Keras 3.

The public API is small: `kgan_nas.search`, `kgan_nas.SearchSpace`,
`kgan_nas.callbacks` and `kgan_nas.metrics`. Heavy modules (Keras, the
training engine) are imported lazily, so `import kgan_nas` is cheap and the
genome / search-space code can be used without TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "SearchSpace": ("kgan_nas.space", "SearchSpace"),
    "Genome": ("kgan_nas.genome", "Genome"),
    "LayerGene": ("kgan_nas.genome", "LayerGene"),
    "TrainingGenes": ("kgan_nas.genome", "TrainingGenes"),
    "Fitness": ("kgan_nas.fitness", "Fitness"),
    "GAN": ("kgan_nas.training", "GAN"),
    "Objective": ("kgan_nas.objectives", "Objective"),
    "search": ("kgan_nas.search_api", "search"),
    "resume": ("kgan_nas.search_api", "resume"),
    "finalize": ("kgan_nas.final", "finalize"),
    "FinalConfig": ("kgan_nas.final", "FinalConfig"),
    "SearchResult": ("kgan_nas.results", "SearchResult"),
    "SearchConfig": ("kgan_nas.config", "SearchConfig"),
    "SuccessiveHalving": ("kgan_nas.fidelity", "SuccessiveHalving"),
}
_SUBMODULES = (
    "callbacks",
    "hooks",
    "metrics",
    "strategies",
    "executors",
    "features",
    "data",
    "decode",
    "layers",
    "training",
)

__all__ = sorted(list(_LAZY) + list(_SUBMODULES))


def __getattr__(name):
    if name in _LAZY:
        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"kgan_nas.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kgan_nas' has no attribute {name!r}")
