"""`kgan_nas.search` and `kgan_nas.resume`: the public entry points of a search.

`search` checks its arguments before anything is written, turns them into a
`SearchConfig` (what the search is) and `RunSettings` (how it runs), opens
and locks the run directory, prepares the shared inputs (`kgan_nas.engine.inputs`)
and hands the generations to `SearchLoop`. `resume` reads both back from a
run directory and calls `search` with them, so a resumed run keeps its
executor, backend and time limits.
"""

import dataclasses

from kgan_nas import config as config_lib
from kgan_nas import validate
from kgan_nas.core.objectives import check_targets
from kgan_nas.core.objectives import check_targets_measured
from kgan_nas.core.objectives import parse_metric
from kgan_nas.engine import settings as run_options
from kgan_nas.engine import warm_start
from kgan_nas.engine.conditional import check_objectives
from kgan_nas.engine.conditional import conditional_space
from kgan_nas.engine.orchestrate import SearchJob
from kgan_nas.engine.orchestrate import run_search
from kgan_nas.engine.signals import sigterm_as_interrupt
from kgan_nas.evaluation.evaluator import EvaluationConfig
from kgan_nas.final import stage as final_lib
from kgan_nas.hooks.library_logs import quiet_libraries
from kgan_nas.results.search_result import SearchResult
from kgan_nas.store import run_dir as run_lib


def search(
    dataset="digits",
    *,
    space=None,
    strategy=None,
    preset="default",
    generations=None,
    population=None,
    steps_per_candidate=None,
    final="preset",
    options=None,
    run=None,
    directory="runs/kgan_nas",
    seed=0,
    callbacks=None,
    verbose=1,
    **moved,
):
    """Searches GAN architectures for `dataset`.

    Each generation, the strategy proposes `population` genomes; each is
    decoded into a generator and a discriminator, trained for
    `steps_per_candidate` XLA-compiled steps, and scored (FID, KID and IS under
    the chosen feature extractor). Everything is recorded in `directory`;
    calling `search` again with the same directory resumes the run.

    Example:

    ```python
    result = kgan_nas.search("digits", preset="quick", directory="runs/digits")
    print(result.summary())
    generator = result.best_generator()        # a keras.Model
    images = result.sample(16)                  # numpy, in [-1, 1]
    ```

    Args:
        dataset: `"digits"`, `"mnist_5k"` (offline; the latter needs the `[data]` extra),
            `"mnist"`, `"fashion_mnist"`, `"cifar10"`, a `.npz` path, an image folder, a
            numpy array or a `tf.data.Dataset` (see `kgan_nas.data.load_dataset`).
        space: A `SearchSpace`; by default one for the data's image shape.
        strategy: `"genetic"`, `"random"`, `"pso"` (particle swarm),
            `"differentiable"` (a supernet trained once, its derived genomes
            evaluated first: `kgan_nas.supernet`), `"tune"` (no architecture
            search: the known designs of `kgan_nas.core.zoo` with their
            training genes tuned) or a `kgan_nas.strategies.Strategy`.
            None (default) resumes a run in `directory` with its own; a new
            search with a final stage takes the preset's
            (`config.PRESET_STRATEGIES`: `"random"` for `"mnist_cpu"`), any
            other search `"genetic"`.
        preset: `"quick"`, `"mnist_cpu"`, `"default"` or `"paper"`: budgets
            for the arguments left as None (`kgan_nas.config.PRESETS`).
        generations: Generations to run (may be raised when resuming).
        population: Genomes per generation.
        steps_per_candidate: Training steps per candidate.
        final: The final stage, run once the generations are done: the top
            genomes retrained from scratch, longer, with several seeds and a
            moving average of the generator's weights, scored on the
            held-out split (`kgan_nas.final.stage`). `"preset"` (default) takes the
            preset's (`config.FINAL_PRESETS`; `"quick"` has none), None
            turns it off, and a dict overrides `top_k`, `seeds`, `steps`,
            `ema_decay`, `num_samples` or `distinct_lineages` (e.g.
            `{"steps": 5000}`). With a
            custom `evaluator`, or for a conditional search (the final stage
            does not train class-conditional GANs yet), `"preset"` means none.
        options: A `kgan_nas.SearchOptions`: the rest of what the search is:
            the metric (default `"fid_domain"`, a classifier trained on the
            data itself, NOT comparable to published FID) and objectives,
            batch size, images scored, held-out share, time limit per
            candidate, XLA, multi-fidelity rungs, class-conditional search,
            labels, strategy options. None: the preset's and the defaults.
        run: A `kgan_nas.RunSettings`: how the search runs (executor,
            workers, backend, timeouts, worker recycling, a custom
            evaluator, the failure streak that stops it, `overwrite`).
            None: in worker processes, the preset's workers.
        directory: Run directory (created; resumed if it holds this run).
        seed: Seed of everything random; the same seed gives the same genomes.
        callbacks: `kgan_nas.callbacks.SearchCallback`s and/or Keras callbacks
            (the latter go into every candidate's `fit`).
        verbose: 0 silent, 1 a progress bar and a line per generation, 2 a
            line per candidate instead of the bar (`callbacks.ProgressPrinter`).
        **moved: The keywords `search` took before they were grouped
            (`batch_size=`, `executor=`, `workers=`, ...): each still works,
            with a `DeprecationWarning` naming its place in `options` or `run`
            (`kgan_nas.config.MOVED_SEARCH_ARGUMENTS`).

    Returns:
        A `SearchResult`.

    Raises:
        ValueError: for invalid arguments or data, before any training starts.
        TypeError: for a dataset, space or callback of the wrong kind.
        ImportError: for `executor="ray"` without Ray installed.
        kgan_nas.store.run_dir.RunDirectoryError: for a directory that cannot be used
            (a file, unwritable, damaged, holding another configuration, or in
            use by another running search).
        RepeatedFailureError: when `max_consecutive_failures` candidates in a
            row failed the same way (the message quotes the first one).
    """
    # TensorFlow's start-up lines read like failures; a user's TF_CPP_MIN_LOG_LEVEL wins.
    quiet_libraries()
    options, run = config_lib.group_search_arguments(options, run, moved, _warn_moved)
    budget = config_lib.resolve_budget(
        preset,
        generations=generations,
        population=population,
        steps_per_candidate=steps_per_candidate,
        batch_size=options.batch_size,
        num_samples=options.num_samples,
        workers=run.workers,
        holdout_fraction=options.holdout_fraction,
    )
    _check_space_type(space)
    validate.check_choice(options.conditional, "conditional", (True, False))
    is_conditional = options.conditional or bool(space is not None and space.conditional)
    final_config, final_note = _final_stage(final, preset, budget, run, is_conditional)
    strategy = _resolve_strategy(
        strategy,
        preset,
        final_config is not None,
        directory,
        run.overwrite,
        options.strategy_options,
    )
    final_lib.check_final_for_conditional(final_config, is_conditional)
    settings = run_options.run_settings(run, budget["workers"])
    _check_evaluation_arguments(seed, options.seconds_per_candidate)
    fidelity = _fidelity_and_steps(options.fidelity, steps_per_candidate, budget)
    objectives, extractor = _objectives_for(options.metric, options.objectives)
    validate.check_choice(verbose, "verbose", (0, 1, 2))
    check_objectives(objectives, is_conditional, extractor)
    check_targets(options.stop_at)  # before the data loads: a typo should not wait
    check_objectives(tuple(options.stop_at or ()), is_conditional, extractor, "stop_at target(s)")
    check_targets_measured(options.stop_at, objectives, extractor)
    zoo_option = warm_start.check_zoo_option(options.zoo)
    # Imported after the cheap checks: kgan_nas.data (and the callbacks a user
    # passes) bring in TensorFlow, which a mistyped argument should not wait for.
    from kgan_nas.hooks import ProgressPrinter
    from kgan_nas.hooks import split_callbacks

    search_callbacks, keras_callbacks = split_callbacks(callbacks)
    evaluation = _evaluation_config(budget, options, seed, objectives)
    data, space = _data_and_space(dataset, options, seed, budget, space)
    strategy_object, config = _strategy_and_config(
        strategy, options, space, data, objectives, budget, evaluation, seed
    )
    zoo, zoo_lines = _start_from_zoo(
        strategy_object, space, zoo_option, final_config is not None, directory, run.overwrite
    )
    zoo_lines = zoo_lines + warm_start.unevaluated_line(zoo, budget)
    config = dataclasses.replace(
        config,
        final=final_config and final_config.to_dict(),
        fidelity=fidelity and fidelity.to_dict(),
        zoo=zoo,
    )
    if verbose:
        search_callbacks.insert(0, ProgressPrinter(verbose))
    run_search(
        SearchJob(
            config=config,
            settings=settings,
            directory=directory,
            overwrite=run.overwrite,
            data=data,
            space=space,
            evaluation=evaluation,
            extractor=extractor,
            strategy=strategy_object,
            search_callbacks=search_callbacks,
            keras_callbacks=keras_callbacks,
            verbose=verbose,
            executor=run.executor,
            budget_lines=_budget_lines(preset, budget, config, final_note, strategy_object)
            + tuple(zoo_lines),
            preset=preset,
        )
    )
    return _finish(directory, config, search_callbacks, verbose)


def _start_from_zoo(strategy, space, zoo_option, has_final, directory, overwrite):
    """Queues the known designs the search starts from; `(names, lines to print)`."""
    names = warm_start.zoo_names(
        zoo_option,
        has_final,
        directory,
        overwrite,
        # strategy="tune" narrowed to some designs starts from those as written.
        default=getattr(strategy, "design_names", None),
    )
    return warm_start.start_from_zoo(strategy, space, names)


def _budget_lines(preset, budget, config, final_note, strategy):
    """The lines that say, before the search starts, what its budget buys."""
    return tuple(
        config_lib.budget_lines(
            preset,
            budget,
            config.final,
            final_note,
            supernet_steps=_supernet_steps(strategy, budget),
        )
    )


def _supernet_steps(strategy, budget):
    """The steps a gradient-based search's supernet trains first, else None (the
    engine's rule: the strategy's `supernet_steps`, or one generation's worth)."""
    if not getattr(strategy, "needs_supernet", False):
        return None
    return strategy.supernet_steps or budget["population"] * budget["steps_per_candidate"]


def _finish(directory, config, search_callbacks, verbose):
    """Runs the final stage, if any, then tells the hooks; returns the `SearchResult`.

    The final stage is that of the run stored in `directory`, on the data it
    saved: the one way a final stage runs, after a search or by
    `kgan_nas.finalize`.
    """
    if config.final is not None:
        with sigterm_as_interrupt():
            final_lib.run_stored_final_stage(directory, say=print if verbose else _silent)
    result = SearchResult(directory)
    for callback in search_callbacks:
        callback.on_search_end(result)
    return result


def resume(directory, *, generations=None, workers=None, verbose=1, callbacks=None):
    """Resumes the search stored in `directory` with its own settings.

    A run whose generations are done but whose final stage is not (or that
    was killed inside it) goes on with the final stage, keeping every
    finished (genome, seed) run.

    The data set is reloaded by name; the configuration (space, strategy,
    budgets, seed) and the run settings (executor, backend, time limits) come
    from the run directory. Only a dataset *name* is taken from it: a path
    stored there is never opened (it could point anywhere).

    Args:
        directory: A run directory written by `kgan_nas.search`.
        generations: Raise the number of generations; None keeps it.
        workers: Parallel evaluations; None keeps the stored number.
        verbose: 0, 1 or 2, as in `search`.
        callbacks: Search hooks and Keras callbacks, as in `search`.

    Returns:
        The `SearchResult`.

    Raises:
        kgan_nas.store.run_dir.RunDirectoryError: for a directory without a run, or
            one whose configuration lacks settings.
        ValueError: for a run on a custom strategy or on unnamed data (the
            message says how to resume it from Python instead).
    """
    from kgan_nas.core.space import SearchSpace
    from kgan_nas.data import KNOWN_DATASETS

    run = run_lib.RunDir(directory)
    result = SearchResult(directory)  # fails clearly if there is no run
    try:
        config = config_lib.SearchConfig.from_dict(result.config)
    except ValueError as exc:
        raise run_lib.RunDirectoryError(f"{directory}/config.json: {exc}") from None
    # {} for runs made before settings were stored: the defaults, the preset's workers.
    settings = config_lib.RunSettings.from_dict(run.run_settings())
    strategy = config_lib.STRATEGY_NAMES.get(config.strategy)
    if strategy is None:
        raise ValueError(
            f"The run used a custom strategy ({config.strategy}); resume it from Python "
            "by calling kgan_nas.search with the same strategy object and directory."
        )
    if config.dataset not in KNOWN_DATASETS:
        # Data given as an object (an array, a tf.data.Dataset) has no path to give again.
        in_memory = config.dataset in ("array", "tf.data")
        again = (
            ""
            if in_memory
            else f"`kgan-nas search --dataset PATH --directory {directory}` (PATH: the folder "
            f"or file the run recorded as {config.dataset!r}) and the original settings, or "
        )
        raise ValueError(
            f"The run in {directory} searched "
            + (
                f"data passed as {'an array' if config.dataset == 'array' else 'a tf.data.Dataset'}"
                if in_memory
                else f"the data set {config.dataset!r}, which is not a named dataset "
                f"({', '.join(KNOWN_DATASETS)})"
            )
            + f", so `resume` cannot reload it. Resume it with {again}kgan_nas.search(the same "
            f"data, directory={str(directory)!r}, ...) in Python with the original settings."
        )
    evaluation = config.evaluation
    return search(
        config.dataset,
        space=SearchSpace.from_dict(config.space),
        strategy=strategy,
        # The preset only names the time estimate here: every budget is passed below.
        preset=_stored_preset(run),
        generations=generations or config.generations,
        population=config.population,
        steps_per_candidate=evaluation["steps"],
        final=config.final,
        options=config_lib.SearchOptions(
            metric=config.metric,
            objectives=config.objectives,
            batch_size=evaluation["batch_size"],
            num_samples=evaluation["num_samples"],
            holdout_fraction=config.holdout_fraction,
            seconds_per_candidate=evaluation["seconds"],
            jit_compile=evaluation["jit_compile"],
            fidelity=config.fidelity,
            eval_fraction=config.eval_fraction,
            stop_at=config.stop_at,
            strategy_options=config.strategy_options,
            zoo=config.zoo,
        ),
        run=_stored_run_settings(settings, workers or settings.workers),
        directory=directory,
        seed=config.seed,
        callbacks=callbacks,
        verbose=verbose,
    )


def _stored_preset(run):
    """The preset a stored run was started with (`"default"` for runs that predate
    recording it, or for a name this version does not know)."""
    preset = run.details().get("preset")
    return preset if preset in config_lib.PRESETS else "default"


def _stored_run_settings(settings, workers):
    """The `RunSettings` a resume runs with (a custom executor runs as the default)."""
    if settings.executor not in ("subprocess", "inprocess", "ray"):
        settings = dataclasses.replace(settings, executor="subprocess", executor_options=None)
    return dataclasses.replace(settings, workers=workers)


def _silent(*args, **kwargs):
    """`say` for `verbose=0`: prints nothing."""


def _warn_moved(message):
    from kgan_nas.errors import warn

    warn(message, DeprecationWarning)


def _final_stage(final, preset, budget, run, is_conditional):
    """The final stage a search runs with, and why it differs from the preset's.

    The final stage trains with the built-in trainer; a custom evaluator
    scores candidates its own way, so only an explicit `final` runs it then.
    It does not train class-conditional GANs (yet): the preset's is dropped for
    them, and asking for one explicitly is an error. The preset's is sized to
    the search asked for (`final.stage.proportionate`); an explicit one never.

    Returns:
        `(FinalConfig or None, note or None)`.
    """
    builtin_final = run.evaluator is None and not is_conditional
    preset_final = config_lib.FINAL_PRESETS.get(preset) if builtin_final else None
    final_config = final_lib.resolve_final(final, preset_final, budget["num_samples"])
    if isinstance(final, str):  # "preset"
        return final_lib.proportionate(final_config, budget)
    return final_config, None


def _evaluation_config(budget, options, seed, objectives=()):
    """How every candidate is trained and scored (`EvaluationConfig`).

    A search that optimises `"generator_latency"` times each trained
    generator on batches of the training batch size.
    """
    timed = "generator_latency" in objectives
    return EvaluationConfig(
        steps=budget["steps_per_candidate"],
        batch_size=budget["batch_size"],
        num_samples=budget["num_samples"],
        seconds=options.seconds_per_candidate,
        jit_compile=options.jit_compile,
        seed=seed,
        kid_subset_size=min(500, budget["num_samples"]),
        latency_batch=budget["batch_size"] if timed else None,
    )


def _check_space_type(space):
    from kgan_nas.core.space import SearchSpace

    if space is not None and not isinstance(space, SearchSpace):
        raise TypeError(
            f"space must be a kgan_nas.SearchSpace, got a {type(space).__name__}; build one "
            "with kgan_nas.SearchSpace(...) (or SearchSpace.from_dict for a dict)."
        )


def _objectives_for(metric, objectives):
    """The objective names (the metric's first) and the extractor's name."""
    objective, extractor = parse_metric(metric)
    objectives = tuple(objectives) if objectives else (objective.name,)
    if objectives[0] != objective.name:
        raise ValueError(
            f"The first objective must be the metric's ({objective.name!r} for "
            f"metric={metric!r}), got {objectives!r}."
        )
    return objectives, extractor


def _data_and_space(dataset, options, seed, budget, space):
    """Loads and checks the data; the space for it (checked to hold a genome)."""
    import numpy as np

    from kgan_nas import data as data_lib

    data = data_lib.load_dataset(
        dataset,
        labels=options.labels,
        value_range=options.value_range,
        eval_fraction=options.eval_fraction,
        seed=seed,
        min_images=2 * budget["batch_size"],
        holdout_fraction=budget["holdout_fraction"],
    )
    if tuple((space or data).image_shape) != tuple(data.image_shape):
        raise ValueError(
            f"The search space is for images of shape {tuple(space.image_shape)} but the "
            f"data set has shape {data.image_shape}. Create the space with "
            f"SearchSpace(image_shape={data.image_shape}, ...)."
        )
    space = conditional_space(data, space, options.conditional, budget)
    # A space too tight for any genome (e.g. max_params) fails here, before any
    # file is written or the extractor trains; the strategy keeps its own RNG.
    space.sample(np.random.default_rng(seed))
    return data, space


def _resolve_strategy(strategy, preset, has_final, directory, overwrite, strategy_options):
    """The strategy a search runs with when it names none (`strategy=None`).

    A run already stored in `directory` resumes with its own strategy (so the
    command that started it resumes it, whatever the preset's is today).
    Otherwise the preset's (`config.PRESET_STRATEGIES`) applies only when the
    search has a final stage, the reason for it: the final stage retrains
    from scratch, which throws away the training a genetic winner inherited.
    Without one, the search's own best is the answer, and the genetic
    search's inherited training is worth keeping.

    Raises:
        ValueError: for `strategy_options` given to a strategy the preset
            chose, which may not be the one they were written for.
    """
    if strategy is not None:
        return strategy
    run = run_lib.RunDir(directory)
    if not overwrite and run.exists:
        stored = config_lib.STRATEGY_NAMES.get(run.config().get("strategy"))
        if stored is not None:
            return stored
    chosen = config_lib.preset_strategy(preset) if has_final else "genetic"
    if strategy_options and chosen != "genetic":
        raise ValueError(
            f"strategy_options {sorted(strategy_options)} were given without a strategy, and "
            f"the {preset!r} preset searches with {chosen!r} search; pass strategy='genetic' "
            f"(or strategy={chosen!r}) with them."
        )
    return chosen


def _strategy_and_config(strategy, options, space, data, objectives, budget, evaluation, seed):
    """Builds the strategy and the `SearchConfig` that describes the search."""
    from kgan_nas import strategies as strategies_lib

    strategy_options = strategies_lib.with_population(
        strategy, options.strategy_options, budget["population"]
    )
    strategy_object = strategies_lib.get_strategy(
        strategy, space, objectives=objectives, seed=seed, **strategy_options
    )
    config = config_lib.SearchConfig(
        dataset=data.name,
        data_fingerprint=data.fingerprint(),
        image_shape=tuple(data.image_shape),
        space=space.to_dict(),
        strategy=type(strategy_object).__name__,
        strategy_options=strategy_options,
        objectives=tuple(objectives),
        metric=options.metric,
        generations=budget["generations"],
        population=budget["population"],
        evaluation=evaluation.to_dict(),
        seed=seed,
        holdout_fraction=float(budget["holdout_fraction"]),
        eval_fraction=float(options.eval_fraction),
        stop_at=check_targets(options.stop_at),
    )
    return strategy_object, config


def _fidelity_and_steps(fidelity, steps_per_candidate, budget):
    """The checked fidelity; with rungs, the candidates' step budget becomes the last rung."""
    from kgan_nas.core.fidelity import resolve_fidelity

    fidelity = resolve_fidelity(fidelity, budget["steps_per_candidate"])
    if fidelity is None:
        return None
    top = fidelity.rungs[-1]
    if steps_per_candidate is not None and steps_per_candidate != top:
        raise ValueError(
            f"With fidelity, the rungs set the training steps: steps_per_candidate="
            f"{steps_per_candidate} differs from the last rung ({top}). Drop "
            "steps_per_candidate or make it the last rung."
        )
    budget["steps_per_candidate"] = top
    return fidelity


def _check_evaluation_arguments(seed, seconds_per_candidate):
    validate.check_non_negative_int(seed, "seed")
    validate.check_positive_number(
        seconds_per_candidate, "seconds_per_candidate", allow_none=True, unit="seconds"
    )
