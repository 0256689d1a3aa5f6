"""The search configuration: budgets (presets), `SearchConfig` and `RunSettings` (pure Python).

`SearchConfig` is what defines a search: the data, the space, the strategy,
the objectives, the budgets and the seed. It is stored in the run
directory's `config.json`, a resume must match it (only `generations` may
grow), and the resume, the CLI and the search hooks all read it from there
through this one class.

`RunSettings` is how a search is run: executor, workers, backend, time
limits. They change nothing in the results a search records, so they are
stored beside the configuration (`config.json`'s `"run"`), not compared on
resume, and `kgan_nas.resume` starts the run again with them.
"""

import dataclasses

from kgan_nas import validate

# Budgets are steps, never wall clock, so a result does not depend on how
# loaded the machine is; `seconds_per_candidate` adds a time limit on request.
PRESETS = {
    # digits on 2 CPU cores in a few minutes.
    "quick": dict(
        generations=4,
        population=6,
        steps_per_candidate=300,
        batch_size=64,
        num_samples=500,
        workers=2,
        max_params=150_000,
    ),
    # 28x28 grayscale (mnist_5k, MNIST-sized data) on 2 CPU cores in about 20 minutes
    # (sized with benchmarks/preset_sizing.py; docs/benchmarks.md).
    "mnist_cpu": dict(
        generations=5,
        population=6,
        steps_per_candidate=300,
        batch_size=64,
        num_samples=1000,
        workers=2,
        max_params=150_000,
    ),
    "default": dict(
        generations=10,
        population=12,
        steps_per_candidate=1000,
        batch_size=64,
        num_samples=1000,
        workers=2,
        max_params=2_000_000,
    ),
    # Sized for one GPU: a few hours.
    "paper": dict(
        generations=30,
        population=20,
        steps_per_candidate=5000,
        batch_size=64,
        num_samples=10000,
        workers=1,
        max_params=20_000_000,
    ),
}
BUDGET_KEYS = (
    "generations",
    "population",
    "steps_per_candidate",
    "batch_size",
    "num_samples",
    "workers",
)


def resolve_budget(preset, **given):
    """The preset's budgets with every argument that is not None put over them.

    Args:
        preset: A name in `PRESETS`.
        **given: `BUDGET_KEYS` values; None keeps the preset's.

    Returns:
        A dict with every `BUDGET_KEYS` entry and `max_params`.

    Raises:
        ValueError: for an unknown preset, a budget that is not a positive
            integer, or a population below 2.
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
    budget = dict(PRESETS[preset])
    budget.update({key: value for key, value in given.items() if value is not None})
    for key in BUDGET_KEYS:
        budget[key] = validate.check_positive_int(budget[key], key)
    if budget["population"] < 2:
        raise ValueError(
            f"population must be at least 2 (selection needs two genomes), got "
            f"{budget['population']}."
        )
    return budget


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """What defines a search; stored as `config.json`'s `"search"`.

    Args:
        dataset: The data set's name (a named set, a path, or `"array"`).
        data_fingerprint: Content hash of the data (`ImageData.fingerprint`).
        image_shape: `(height, width, channels)`.
        space: `SearchSpace.to_dict()`.
        strategy: The strategy's class name, e.g. `"GeneticSearch"`.
        strategy_options: Keyword arguments the strategy was built with.
        objectives: Objective names, the first one the metric's.
        metric: The search metric, e.g. `"fid_domain"`.
        generations: Generations to run (may grow on resume).
        population: Genomes per generation.
        evaluation: `EvaluationConfig.to_dict()`: steps, batch size,
            samples, time limit, XLA, seed.
        seed: Seed of the strategy and of every candidate's training.
    """

    dataset: str
    data_fingerprint: str
    image_shape: tuple
    space: dict
    strategy: str
    strategy_options: dict
    objectives: tuple
    metric: str
    generations: int
    population: int
    evaluation: dict
    seed: int

    # Settings a resume may change; the stored value is replaced.
    RESUMABLE = ("generations",)

    def to_dict(self):
        """The JSON form stored in `config.json` (lists, not tuples)."""
        config = dataclasses.asdict(self)
        config["image_shape"] = list(self.image_shape)
        config["objectives"] = list(self.objectives)
        return config

    @classmethod
    def from_dict(cls, config):
        """Rebuilds a `SearchConfig` from `to_dict()` output.

        Raises:
            ValueError: naming the missing settings (a run written by a
                much older kgan_nas, or a damaged file).
        """
        names = [field.name for field in dataclasses.fields(cls)]
        missing = sorted(set(names) - set(config))
        if missing:
            raise ValueError(
                f"The stored search configuration lacks {missing}, so it cannot be used "
                "to resume; call kgan_nas.search with the original settings and directory."
            )
        values = {name: config[name] for name in names}
        values["image_shape"] = tuple(values["image_shape"])
        values["objectives"] = tuple(values["objectives"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """How a search was run; stored as `config.json`'s `"run"`, never compared.

    Args:
        executor: `"subprocess"`, `"inprocess"`, `"ray"`, or `"custom"` for
            an `Executor` object (which cannot be stored).
        workers: Parallel candidate evaluations.
        backend: Keras backend of the workers.
        timeout: Per-candidate time limit in seconds, or None.
        max_candidates_per_worker: Worker recycling.
        executor_options: JSON-able executor options, or None.
        evaluator: `"module:function"` of a custom evaluator, or None.
        max_consecutive_failures: The failure streak that stops the search.
    """

    executor: str = "subprocess"
    workers: int = 1
    backend: str = None
    timeout: float = None
    max_candidates_per_worker: int = 8
    executor_options: dict = None
    evaluator: str = None
    max_consecutive_failures: int = None

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, settings):
        """Rebuilds stored settings; unknown keys (a newer version's) are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in (settings or {}).items() if key in names})
