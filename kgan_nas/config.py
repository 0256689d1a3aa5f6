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
# `holdout_fraction` keeps images out of training and selection, for scores
# free of the winner's curse (the final stage reports there); `quick` keeps
# every image for the search, as it has no final stage (FINAL_PRESETS).
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
        holdout_fraction=0.0,
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
        holdout_fraction=0.15,
    ),
    "default": dict(
        generations=10,
        population=12,
        steps_per_candidate=1000,
        batch_size=64,
        num_samples=1000,
        workers=2,
        max_params=2_000_000,
        holdout_fraction=0.15,
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
        holdout_fraction=0.15,
    ),
}
# The final stage of each preset (`kgan_nas.final.FinalConfig` fields); a
# preset without one (quick) has none. Retraining the search's top genomes
# longer and with several seeds is what makes a search's answer reliable:
# the order of two winners can change between 200 and 2,000 steps
# (docs/benchmarks.md). `default` is sized for about 20 CPU-minutes on 2
# cores; `num_samples` None means twice the search's.
FINAL_PRESETS = {
    # 4 runs of 2,000 steps: under 20 minutes on 2 idle CPU cores for mnist_5k's
    # 150k-parameter genomes (a candidate took 64 CPU-s for 300 steps, all phases
    # included: results/preset_sizing_mnist_cpu.json).
    "mnist_cpu": dict(top_k=2, seeds=2, steps=2000, ema_decay=0.999, num_samples=None),
    "default": dict(top_k=2, seeds=2, steps=2000, ema_decay=0.999, num_samples=None),
    "paper": dict(top_k=3, seeds=3, steps=20000, ema_decay=0.999, num_samples=None),
}
# The strategy of a preset for a new search with a final stage that names none
# ("genetic" for the others, and without a final stage: search_api._resolve_strategy).
# `mnist_cpu` searches at random: at its 30 candidates, the genetic search's
# winners retrained from scratch were no better than random search's (1 of 3
# mnist_5k seeds, 4 of 10 digits seeds), and random search plus the final stage
# beat the best hand-designed baseline in 2 of 2 seeds, the genetic search in 1 of 2
# (docs/benchmarks.md, the final study).
PRESET_STRATEGIES = {"mnist_cpu": "random"}
# The built-in strategies' classes by the names `search(strategy=...)` takes.
STRATEGY_NAMES = {"GeneticSearch": "genetic", "RandomSearch": "random"}
BUDGET_KEYS = (
    "generations",
    "population",
    "steps_per_candidate",
    "batch_size",
    "num_samples",
    "workers",
)


def preset_strategy(preset):
    """The strategy name of a new search under `preset` with a final stage that names none."""
    return PRESET_STRATEGIES.get(preset, "genetic")


def resolve_budget(preset, **given):
    """The preset's budgets with every argument that is not None put over them.

    Args:
        preset: A name in `PRESETS`.
        **given: `BUDGET_KEYS` values and `holdout_fraction`; None keeps
            the preset's.

    Returns:
        A dict with every `BUDGET_KEYS` entry, `max_params` and
        `holdout_fraction`.

    Raises:
        ValueError: for an unknown preset, a budget that is not a positive
            integer, a population below 2, or a `holdout_fraction` outside
            [0, 1).
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
    budget = dict(PRESETS[preset])
    budget.update({key: value for key, value in given.items() if value is not None})
    for key in BUDGET_KEYS:
        budget[key] = validate.check_positive_int(budget[key], key)
    budget["holdout_fraction"] = validate.check_fraction(
        budget["holdout_fraction"],
        "holdout_fraction",
        hint="It is the share of images kept out of training and selection; 0 for none.",
    )
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
        holdout_fraction: Share of the images held out of training and
            selection (`ImageData.holdout`); 0 for runs stored before it
            existed.
        final: The final stage's settings (`kgan_nas.final.FinalConfig` as
            a dict), or None for none (also for runs stored before it
            existed). A resume may change it.
        fidelity: Multi-fidelity evaluation
            (`kgan_nas.fidelity.SuccessiveHalving.to_dict()`), or None:
            every candidate trains `evaluation["steps"]` (also for runs
            stored before it existed).
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
    holdout_fraction: float = 0.0
    final: dict = None
    fidelity: dict = None

    # Settings a resume may change; the stored value is replaced.
    RESUMABLE = ("generations", "final")
    # Settings added after runs were first stored, with the value a run that
    # lacks them had: such a run resumes, and reads back, as having that value.
    ADDED_LATER = {"holdout_fraction": 0.0, "final": None, "fidelity": None}

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
        config = {**cls.ADDED_LATER, **config}
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
