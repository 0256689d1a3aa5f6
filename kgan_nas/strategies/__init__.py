"""Search strategies: ask/tell algorithms that propose genomes (pure Python).

`RandomSearch` is the baseline; `GeneticSearch` is the genetic algorithm
(NSGA-II with several objectives); `ParticleSwarmSearch` is particle swarm
optimisation; `DifferentiableSearch` trains a supernet first; `DesignTuning`
tunes the training genes of known designs. `get_strategy` turns a name into one.
No module here imports TensorFlow or Keras.
"""

import inspect

from kgan_nas.core import pareto
from kgan_nas.strategies.base import Strategy
from kgan_nas.strategies.differentiable import DifferentiableSearch
from kgan_nas.strategies.genetic import GeneticSearch
from kgan_nas.strategies.pso import ParticleSwarmSearch
from kgan_nas.strategies.random import RandomSearch
from kgan_nas.strategies.tune import DesignTuning

STRATEGIES = {
    "differentiable": DifferentiableSearch,
    "genetic": GeneticSearch,
    "pso": ParticleSwarmSearch,
    "random": RandomSearch,
    "tune": DesignTuning,
}

__all__ = [
    "DesignTuning",
    "DifferentiableSearch",
    "GeneticSearch",
    "ParticleSwarmSearch",
    "RandomSearch",
    "STRATEGIES",
    "Strategy",
    "get_strategy",
    "pareto",
    "with_population",
]


def with_population(spec, options, population):
    """`options` plus the named strategy's population option set to `population`.

    A strategy class that breeds a population of its own size says which
    option that is (`POPULATION_OPTION`, e.g. `"population_size"` for
    `GeneticSearch`, `"swarm_size"` for `ParticleSwarmSearch`), so the search's
    `population` reaches it unless the user set the option; other strategies
    (and `Strategy` instances) are left alone.

    Args:
        spec: A strategy name or a `Strategy` instance.
        options: The user's `strategy_options` (a dict, or None).
        population: Genomes per generation.

    Returns:
        A new dict of options.
    """
    options = dict(options or {})
    cls = STRATEGIES.get(spec.strip().lower()) if isinstance(spec, str) else None
    option = getattr(cls, "POPULATION_OPTION", None)
    if option is not None:
        options.setdefault(option, population)
    return options


def get_strategy(spec, space, *, objectives=("fid",), seed=0, **kwargs):
    """Returns the strategy named by `spec`, or `spec` itself if it is one.

    Example:

    ```python
    strategy = get_strategy("genetic", space, seed=0, population_size=8)
    ```

    Args:
        spec: `"genetic"`, `"random"`, `"pso"` (particle swarm),
            `"differentiable"`, `"tune"` (known designs, tuned), or a
            `Strategy` instance (returned as is; it keeps its own seed).
        space: The `kgan_nas.SearchSpace` to search.
        objectives: Objective names, e.g. `("fid",)` or `("fid", "params")`.
            Defaults to `("fid",)`.
        seed: Integer seed for a strategy built here. Defaults to 0.
        **kwargs: Hyperparameters of the named strategy, e.g.
            `population_size` for `"genetic"` or `swarm_size` for `"pso"`.

    Returns:
        A `Strategy`.

    Raises:
        ValueError: for an unknown name; for a `Strategy` instance given
            with hyperparameters, or whose space or objectives differ from
            `space` and `objectives`.
        ValueError: if a named strategy does not take one of `kwargs`.
    """
    if isinstance(spec, Strategy):
        if kwargs:
            raise ValueError(
                f"Hyperparameters {sorted(kwargs)} cannot be applied to an existing "
                f"{type(spec).__name__}; pass them to its constructor instead."
            )
        if spec.space != space:
            raise ValueError(
                f"The given {type(spec).__name__} searches a different SearchSpace "
                "than the search; build it with the same space."
            )
        if tuple(spec.objectives) != tuple(objectives):
            raise ValueError(
                f"The given {type(spec).__name__} optimises {spec.objectives}, but "
                f"the search asks for objectives {tuple(objectives)}; make them agree."
            )
        return spec
    if not isinstance(spec, str) or spec.strip().lower() not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {spec!r}; choose one of {sorted(STRATEGIES)} or pass "
            "a kgan_nas.strategies.Strategy instance."
        )
    cls = STRATEGIES[spec.strip().lower()]
    accepted = [
        name
        for name in inspect.signature(cls).parameters
        if name not in ("space", "objectives", "seed")
    ]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no option(s) {unknown}; it accepts {accepted} "
            "(check the spelling in strategy_options)."
        )
    return cls(space, objectives=objectives, seed=seed, **kwargs)
