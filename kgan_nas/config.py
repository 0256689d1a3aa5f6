"""The search configuration: presets, `SearchConfig`, `SearchOptions` and `RunSettings` (pure).

`SearchConfig` is what defines a search: the data, the space, the strategy,
the objectives, the budgets and the seed. It is stored in the run
directory's `config.json`, a resume must match it (only `generations` may
grow), and the resume, the CLI and the search hooks all read it from there
through this one class.

`SearchOptions` holds the rest of what a search is, beyond the common
arguments of `kgan_nas.search` (objectives, batch size, samples, fidelity,
...). `RunSettings` is how a search is run: executor, workers, backend, time
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
    # 28x28 grayscale (mnist_5k, MNIST-sized data) on 2 CPU cores: the search in about
    # 16 minutes, about 30 with its final stage (preset_minutes; sized with
    # benchmarks/preset_sizing.py; docs/benchmarks.md).
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
# The final stage of each preset (`kgan_nas.final.stage.FinalConfig` fields); a
# preset without one (quick) has none. Retraining the search's top genomes
# longer and with several seeds is what makes a search's answer reliable:
# the order of two winners can change between 200 and 2,000 steps
# (docs/benchmarks.md). `default` is sized for about 20 CPU-minutes on 2
# cores; `num_samples` None means twice the search's.
FINAL_PRESETS = {
    # 4 runs of 2,000 steps: about 14 minutes on 2 idle CPU cores for mnist_5k's
    # 150k-parameter genomes at the measured cost (a candidate took 64 CPU-s for 300
    # steps, all phases included: results/preset_sizing_mnist_cpu.json).
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
STRATEGY_NAMES = {
    "DifferentiableSearch": "differentiable",
    "GeneticSearch": "genetic",
    "RandomSearch": "random",
    "ParticleSwarmSearch": "pso",
    "DesignTuning": "tune",
}
# What a preset's candidates cost where it was measured: CPU seconds per training
# step of a candidate, every phase included (build, compile, train, score, save),
# from `benchmarks/preset_sizing.py`'s `cpu_seconds_per_candidate` over the
# preset's `steps_per_candidate` (tests/test_search_arguments.py reads it back).
# The search's budget line turns it into an estimate of the whole job's time.
PRESET_MEASURED_COST = {
    "quick": dict(
        dataset="digits",
        cpu_seconds_per_step=15.47 / 300,
        source="benchmarks/results/preset_sizing_quick_digits.json",
    ),
    "mnist_cpu": dict(
        dataset="mnist_5k",
        cpu_seconds_per_step=64.04 / 300,
        source="benchmarks/results/preset_sizing_mnist_cpu.json",
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
        final: The final stage's settings (`kgan_nas.final.stage.FinalConfig` as
            a dict), or None for none (also for runs stored before it
            existed). A resume may change it.
        fidelity: Multi-fidelity evaluation
            (`kgan_nas.core.fidelity.SuccessiveHalving.to_dict()`), or None:
            every candidate trains `evaluation["steps"]` (also for runs
            stored before it existed).
        eval_fraction: Share of the images that score candidates (0.2 for
            runs stored before it was a setting).
        stop_at: Targets that end the search once a candidate meets them
            (`SearchOptions.stop_at`), or None.
        zoo: Names of the known designs queued for the first generation
            (`kgan_nas.core.zoo`), those that fit the space; empty for none
            (also for runs stored before the zoo existed).
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
    eval_fraction: float = 0.2
    stop_at: dict = None
    zoo: tuple = ()

    # Settings a resume may change; the stored value is replaced.
    RESUMABLE = ("generations", "final", "stop_at")
    # Settings added after runs were first stored, with the value a run that
    # lacks them had: such a run resumes, and reads back, as having that value.
    ADDED_LATER = {
        "holdout_fraction": 0.0,
        "final": None,
        "fidelity": None,
        "eval_fraction": 0.2,
        "stop_at": None,
        "zoo": [],
    }

    def to_dict(self):
        """The JSON form stored in `config.json` (lists, not tuples)."""
        config = dataclasses.asdict(self)
        config["image_shape"] = list(self.image_shape)
        config["objectives"] = list(self.objectives)
        config["zoo"] = list(self.zoo)
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
        values["zoo"] = tuple(values["zoo"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """How a search runs: executor, workers, backend, time limits.

    Pass one to `kgan_nas.search(..., run=RunSettings(...))`; a search stores
    the settings it ran with as `config.json`'s `"run"` (never compared on
    resume), and `kgan_nas.resume` starts the run again with them.

    Args:
        executor: `"subprocess"` (default), `"inprocess"`, `"ray"`, or an
            `Executor` object (stored as `"custom"`, which cannot be restored).
        workers: Parallel candidate evaluations; None takes the preset's.
        backend: Keras backend of the workers (`"tensorflow"`, `"jax"`, or
            `"auto"`); None keeps the current one.
        timeout: Seconds one candidate may take before it is stopped, or None.
        max_candidates_per_worker: Recycle worker processes after this many.
        executor_options: Extra keyword arguments for the executor, e.g.
            `{"gpus": [0, 1]}` (subprocess) or `{"address": "auto"}` (ray).
        evaluator: `"module:function"` returning a custom evaluator in each
            worker (see `kgan_nas.executors.WorkerSpec`), or None.
        max_consecutive_failures: Stop the search with a
            `RepeatedFailureError` once this many candidates in a row fail the
            same systemic way; None: three times the workers (3 in process).
        overwrite: Delete an existing run in the directory first. It acts on
            this call only and is never stored.
    """

    executor: object = "subprocess"
    workers: int = None
    backend: str = None
    timeout: float = None
    max_candidates_per_worker: int = 8
    executor_options: dict = None
    evaluator: str = None
    max_consecutive_failures: int = None
    overwrite: bool = False

    def to_dict(self):
        """The stored settings (`overwrite` acts once and is left out)."""
        stored = dataclasses.asdict(self)
        stored.pop("overwrite")
        return stored

    @classmethod
    def from_dict(cls, settings):
        """Rebuilds stored settings; unknown keys (a newer version's) are ignored."""
        names = {field.name for field in dataclasses.fields(cls)} - {"overwrite"}
        return cls(**{key: value for key, value in (settings or {}).items() if key in names})


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """What a search is, beyond the common arguments of `kgan_nas.search`.

    Every field is part of the search's definition (stored in `config.json`
    and compared on resume, except `labels`, which is data). None takes the
    preset's value or the default.

    Args:
        metric: Fitness metric: `"fid_domain"` (default; a classifier trained
            on the data itself, NOT comparable to published FID),
            `"fid_inception"` (Keras InceptionV3; needs its weights), or the
            `kid_*` / `is_*` variants.
        objectives: Objectives to optimise, e.g. `("fid", "params")` for a
            Pareto front of quality against generator size, or
            `("fid", "generator_macs")` against what sampling one image
            costs; the first must be the metric's. None: the metric alone.
        batch_size: Training batch size.
        num_samples: Generated images scored per candidate.
        holdout_fraction: Share of the images kept out of training and of
            selection, where final scores are reported.
        seconds_per_candidate: Optional training time limit per candidate,
            counted after the first (compiling) step; None trains every
            candidate for its full step budget.
        jit_compile: XLA-compile train steps: True, False, or `"auto"`.
        fidelity: Multi-fidelity evaluation: a `kgan_nas.SuccessiveHalving`,
            its dict, or `"successive_halving"`; None trains every candidate
            `steps_per_candidate` steps.
        conditional: Search class-conditional GANs (needs labelled data).
        labels: Labels for an array dataset, or None.
        value_range: The range the images' values come in, e.g. `(0, 1)` or
            `(0, 255)`, rescaled to [-1, 1]; `"auto"` (default) takes uint8 as
            0-255 and floats in [-1, 1] as they are.
        eval_fraction: Share of the images held out to score candidates.
        stop_at: A target to stop at, e.g. `{"fid_domain": 20.0}`: the search
            ends after the generation in which a candidate meets every target
            (`"params"`, `"class_accuracy"` and `"fid_per_class"` may be targets
            too). A resume may change it.
        strategy_options: Extra keyword arguments for the strategy (e.g.
            `{"mutation_rate": 0.1}`).
        zoo: Known designs the first generation starts from
            (`kgan_nas.core.zoo`: the TensorFlow tutorial's DCGAN, a
            flattening-discriminator DCGAN, the MLP GAN, each also with the
            training recipe), adapted to the space; those that do not fit
            are left out. True: every design; False: none; a list of names
            (`kgan_nas.core.zoo.DESIGNS`): those. None (default): every
            design when the search has a final stage (which then retrains
            the best of them, `FinalConfig.zoo_finalist`, when its `top_k`
            is 2 or more), none otherwise.
    """

    metric: str = "fid_domain"
    objectives: tuple = None
    batch_size: int = None
    num_samples: int = None
    holdout_fraction: float = None
    seconds_per_candidate: float = None
    jit_compile: object = "auto"
    fidelity: object = None
    conditional: bool = False
    labels: object = None
    value_range: object = "auto"
    eval_fraction: float = 0.2
    stop_at: dict = None
    strategy_options: dict = None
    zoo: object = None


# Where each keyword that `kgan_nas.search` took before its arguments were
# grouped now lives: "options" (`SearchOptions`) or "run" (`RunSettings`).
MOVED_SEARCH_ARGUMENTS = {
    **{field.name: "options" for field in dataclasses.fields(SearchOptions)},
    **{field.name: "run" for field in dataclasses.fields(RunSettings)},
}


def group_search_arguments(options, run, moved, warn):
    """Folds old-style keywords into `SearchOptions` and `RunSettings`.

    Args:
        options: The `SearchOptions` given, or None.
        run: The `RunSettings` given, or None.
        moved: Keywords passed to `search` by their old names.
        warn: Called with one deprecation message per old name.

    Returns:
        `(SearchOptions, RunSettings)`.

    Raises:
        TypeError: for an unknown keyword, a value of the wrong type for
            `options` / `run`, or a setting given both ways.
    """
    options = SearchOptions() if options is None else options
    run = RunSettings() if run is None else run
    if not isinstance(options, SearchOptions):
        raise TypeError(
            f"options must be a kgan_nas.SearchOptions, got a {type(options).__name__}; "
            "build one with kgan_nas.SearchOptions(batch_size=..., ...)."
        )
    if not isinstance(run, RunSettings):
        raise TypeError(
            f"run must be a kgan_nas.RunSettings, got a {type(run).__name__}; "
            "build one with kgan_nas.RunSettings(executor=..., workers=...)."
        )
    unknown = sorted(set(moved) - set(MOVED_SEARCH_ARGUMENTS))
    if unknown:
        raise TypeError(f"search() got unexpected keyword argument(s) {unknown}.")
    grouped = {"options": {}, "run": {}}
    for name, value in moved.items():
        group = MOVED_SEARCH_ARGUMENTS[name]
        holder = options if group == "options" else run
        if _same(value, type(holder).__dataclass_fields__[name].default):
            continue  # the old default, passed by name: it says nothing
        if not _is_default(holder, name):
            raise TypeError(
                f"search() got {name} both as a keyword and in {group}=; give it once, in {group}."
            )
        cls = "SearchOptions" if group == "options" else "RunSettings"
        warn(
            f"kgan_nas.search({name}=...) is deprecated; pass "
            f"{group}=kgan_nas.{cls}({name}=...) instead."
        )
        grouped[group][name] = value
    return (
        dataclasses.replace(options, **grouped["options"]),
        dataclasses.replace(run, **grouped["run"]),
    )


def _plural(count, word):
    """`1 step`, `2,000 steps`."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _is_default(holder, name):
    """Whether `holder`'s field `name` still holds its default (arrays never do)."""
    return _same(getattr(holder, name), type(holder).__dataclass_fields__[name].default)


def _same(value, default):
    """`value == default` for plain values; an array or object is never a default."""
    if value is default:
        return True
    return isinstance(value, (str, int, float, bool)) and value == default


def total_search_steps(budget):
    """Training steps of a whole search: generations x population x steps per candidate."""
    return budget["generations"] * budget["population"] * budget["steps_per_candidate"]


def estimated_minutes(preset, search_steps, final_steps, workers, cores):
    """Minutes a job takes at the preset's measured cost per step, or None if unmeasured.

    The search's candidates run `min(cores, workers)` at a time; the final
    stage's runs one after the other, each on every core.

    Args:
        preset: The preset's name (`PRESET_MEASURED_COST`).
        search_steps: Training steps of the whole search.
        final_steps: Training steps of the whole final stage.
        workers: Candidates trained at a time.
        cores: CPU cores.

    Returns:
        A float, or None for a preset whose cost was not measured.
    """
    measured = PRESET_MEASURED_COST.get(preset)
    if measured is None:
        return None
    per_step = measured["cpu_seconds_per_step"]
    return (search_steps * per_step / min(cores, workers) + final_steps * per_step / cores) / 60


def preset_minutes(preset, cores=2):
    """`estimated_minutes` of a preset's own search and final stage on `cores` cores."""
    budget = PRESETS[preset]
    final = FINAL_PRESETS.get(preset)
    search_steps = total_search_steps(budget)
    final_steps = final["top_k"] * final["seeds"] * final["steps"] if final else 0
    return estimated_minutes(preset, search_steps, final_steps, budget["workers"], cores)


def budget_lines(preset, budget, final, final_note=None, cores=None, supernet_steps=None):
    """What the whole job will train, and about how long it takes, before it starts.

    Args:
        preset: The preset's name.
        budget: The resolved budget (`resolve_budget`): generations,
            population, steps_per_candidate, workers.
        final: The final stage's settings as a dict (`FinalConfig.to_dict()`),
            or None for none.
        final_note: Why the final stage differs from the preset's, or None.
        cores: CPU cores to estimate with (default: this machine's).
        supernet_steps: Steps of the supernet a gradient-based search trains
            first (`strategy="differentiable"`), or None.

    Returns:
        A list of lines: the search's (and its supernet's) and the final stage's budgets in
        training steps, an estimate of the time where the preset's cost was
        measured, and how to change them (Python arguments and CLI flags).
    """
    import os

    search_steps = total_search_steps(budget)
    lines = [
        f"Budget: search {_plural(budget['generations'], 'generation')} x "
        f"{_plural(budget['population'], 'candidate')} x "
        f"{_plural(budget['steps_per_candidate'], 'step')} ({search_steps:,} steps)"
    ]
    if supernet_steps:
        # A supernet step runs every candidate operation: the estimate leaves it out.
        lines[0] += f", after a supernet of {supernet_steps:,} steps (not in the time estimate)"
    final_steps = 0
    if final is None:
        lines[0] += "; no final stage"
    else:
        probes = final.get("probes", 0)
        final_steps = (final["top_k"] * final["seeds"] + probes) * final["steps"]
        lines[0] += (
            f"; final stage: top {final['top_k']} x {_plural(final['seeds'], 'seed')} x "
            f"{_plural(final['steps'], 'step')}"
            + (f" + {_plural(probes, 'probe')}" if probes else "")
            + f" ({final_steps:,} steps)"
        )
    if final_note:
        lines[0] += f" ({final_note})"
    measured = PRESET_MEASURED_COST.get(preset)
    if measured is None:
        lines.append(f"Time: not measured for the {preset!r} preset.")
    else:
        cores = max(1, cores or os.cpu_count() or 1)
        minutes = estimated_minutes(preset, search_steps, final_steps, budget["workers"], cores)
        lines.append(
            f"Time: about {max(1, round(minutes))} min on {cores} CPU core"
            f"{'s' if cores > 1 else ''}, from the {preset!r} preset's cost measured on "
            f"{measured['dataset']} ({measured['source']}); other data, shapes and "
            "machines differ."
        )
    lines.append(
        "Change: generations=, population=, steps_per_candidate=, final= (CLI: "
        "--generations, --population, --steps-per-candidate, --no-final), or another preset."
    )
    return lines
