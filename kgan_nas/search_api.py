"""`kgan_nas.search` and `kgan_nas.resume`: the public entry points of a search.

`search` checks its arguments before anything is written, turns them into a
`SearchConfig` (what the search is) and `RunSettings` (how it runs), opens
and locks the run directory, prepares the shared inputs (`kgan_nas.prepare`)
and hands the generations to `SearchLoop`. `resume` reads both back from a
run directory and calls `search` with them, so a resumed run keeps its
executor, backend and time limits.
"""

import dataclasses

from kgan_nas import config as config_lib
from kgan_nas import final as final_lib
from kgan_nas import protocol
from kgan_nas import run as run_lib
from kgan_nas import run_options
from kgan_nas import validate
from kgan_nas.conditional_search import check_objectives
from kgan_nas.conditional_search import conditional_space
from kgan_nas.evaluate import EvaluationConfig
from kgan_nas.objectives import parse_metric
from kgan_nas.results import SearchResult
from kgan_nas.search_loop import SearchLoop
from kgan_nas.signals import sigterm_as_interrupt


def search(
    dataset="digits",
    *,
    space=None,
    strategy=None,
    preset="default",
    generations=None,
    population=None,
    steps_per_candidate=None,
    batch_size=None,
    num_samples=None,
    metric="fid_domain",
    objectives=None,
    executor="subprocess",
    workers=None,
    directory="runs/kgan_nas",
    overwrite=False,
    seed=0,
    callbacks=None,
    verbose=1,
    labels=None,
    timeout=None,
    backend=None,
    jit_compile="auto",
    max_candidates_per_worker=8,
    seconds_per_candidate=None,
    strategy_options=None,
    evaluator=None,
    executor_options=None,
    max_consecutive_failures=None,
    holdout_fraction=None,
    final="preset",
    conditional=False,
    fidelity=None,
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
        strategy: `"genetic"`, `"random"` or a `kgan_nas.strategies.Strategy`.
            None (default) resumes a run in `directory` with its own; a new
            search with a final stage takes the preset's
            (`config.PRESET_STRATEGIES`: `"random"` for `"mnist_cpu"`), any
            other search `"genetic"`.
        preset: `"quick"`, `"mnist_cpu"`, `"default"` or `"paper"`: budgets
            for the arguments left as None (`kgan_nas.config.PRESETS`).
        generations: Generations to run (may be raised when resuming).
        population: Genomes per generation.
        steps_per_candidate: Training steps per candidate.
        batch_size: Training batch size.
        num_samples: Generated images scored per candidate.
        metric: Fitness metric: `"fid_domain"` (default; a classifier trained
            on the data itself, NOT comparable to published FID),
            `"fid_inception"` (Keras InceptionV3; needs its weights), or the
            `kid_*` / `is_*` variants.
        objectives: Objectives to optimise, e.g. `("fid", "params")` for a
            Pareto front of quality against generator size. Defaults to the
            metric alone.
        executor: `"subprocess"` (default), `"inprocess"`, `"ray"` or an
            `Executor`.
        workers: Parallel candidate evaluations.
        directory: Run directory (created; resumed if it holds this run).
        overwrite: Delete an existing run in `directory` first.
        seed: Seed of everything random; the same seed gives the same genomes.
        callbacks: `kgan_nas.callbacks.SearchCallback`s and/or Keras callbacks
            (the latter go into every candidate's `fit`).
        verbose: 0 silent, 1 a progress bar and a line per generation, 2 a
            line per candidate instead of the bar (`callbacks.ProgressPrinter`).
        labels: Optional labels for an array dataset (the domain extractor
            uses them).
        timeout: Seconds one candidate may take before it is stopped.
        backend: Keras backend of the workers (`"tensorflow"`, `"jax"`, or
            `"auto"`: TensorFlow when installed, else JAX, see
            `run_options.resolve_backend`); defaults to the current one.
        jit_compile: XLA-compile train steps: True, False, or `"auto"` (XLA
            where it pays off for the backend, device and step budget).
        max_candidates_per_worker: Recycle worker processes after this many.
        seconds_per_candidate: Optional training time limit per candidate,
            counted after the first (compiling) step; None (the default, under
            every preset) trains every candidate for its full step budget. A
            candidate stopped by it records how many steps it trained.
        strategy_options: Extra keyword arguments for the strategy (e.g.
            `{"mutation_rate": 0.1}`).
        evaluator: Optional `"module:function"` returning a custom evaluator
            in each worker (see `kgan_nas.executors.WorkerSpec`).
        executor_options: Extra keyword arguments for the executor, e.g.
            `{"gpus": [0, 1], "candidates_per_gpu": 2}` (subprocess) or
            `{"address": "auto", "num_gpus": 1}` (ray).
        max_consecutive_failures: Stop the search with a
            `RepeatedFailureError` once this many candidates in a row fail
            with the same kind of error (an exception of the same type, or
            a crashed worker): that points at the set-up, not at the
            genomes. NaN, diverged and timed-out candidates never count.
            Defaults to
            None: three times the number of workers (3 in process).
        holdout_fraction: Share of the images kept out of training and of
            selection, where final scores are reported (`ImageData.holdout`);
            None takes the preset's (0 for `"quick"`, 0.15 otherwise).
        final: The final stage, run once the generations are done: the top
            genomes retrained from scratch, longer, with several seeds and a
            moving average of the generator's weights, scored on the
            held-out split (`kgan_nas.final`). `"preset"` (default) takes the
            preset's (`config.FINAL_PRESETS`; `"quick"` has none), None
            turns it off, and a dict overrides `top_k`, `seeds`, `steps`,
            `ema_decay`, `num_samples` or `distinct_lineages` (e.g.
            `{"steps": 5000}`). With a
            custom `evaluator`, or for a conditional search (the final stage
            does not train class-conditional GANs yet), `"preset"` means none.
        conditional: Search class-conditional GANs: generators take
            `(z, class)`, discriminators `(image, class)`, the conditioning
            is a gene, and candidates also get `class_accuracy` and
            `fid_per_class` (usable as objectives). Needs labelled data.
            Implied by a `space` with `num_classes`. Defaults to False.
        fidelity: Multi-fidelity evaluation within each generation: a
            `kgan_nas.SuccessiveHalving(rungs=(100, 300, 900), eta=3)`, the
            same as a dict `{"kind": "successive_halving", "rungs": ...,
            "eta": ...}`, or `"successive_halving"` (rungs of 1/9, 1/3 and
            all of `steps_per_candidate`, eta 3). Every candidate trains to
            the first rung; the best 1/eta continue from their own models
            to the next (see `kgan_nas.fidelity`). The last rung is the
            candidates' step budget, so `steps_per_candidate`, when given,
            must equal it. Defaults to None: every candidate trains
            `steps_per_candidate` steps.

    Returns:
        A `SearchResult`.

    Raises:
        ValueError: for invalid arguments or data, before any training starts.
        TypeError: for a dataset, space or callback of the wrong kind.
        ImportError: for `executor="ray"` without Ray installed.
        kgan_nas.run.RunDirectoryError: for a directory that cannot be used
            (a file, unwritable, damaged, holding another configuration, or in
            use by another running search).
        RepeatedFailureError: when `max_consecutive_failures` candidates in a
            row failed the same way (the message quotes the first one).
    """
    budget = config_lib.resolve_budget(
        preset,
        generations=generations,
        population=population,
        steps_per_candidate=steps_per_candidate,
        batch_size=batch_size,
        num_samples=num_samples,
        workers=workers,
        holdout_fraction=holdout_fraction,
    )
    _check_space_type(space)
    # The final stage trains with the built-in trainer; a custom evaluator
    # scores candidates its own way, so only an explicit `final` runs it then.
    # The final stage does not train class-conditional GANs (yet): the preset's
    # is dropped for them, and asking for one explicitly is an error.
    validate.check_choice(conditional, "conditional", (True, False))
    is_conditional = conditional or bool(space is not None and space.conditional)
    builtin_final = evaluator is None and not is_conditional
    preset_final = config_lib.FINAL_PRESETS.get(preset) if builtin_final else None
    final_config = final_lib.resolve_final(final, preset_final, budget["num_samples"])
    strategy = _resolve_strategy(
        strategy, preset, final_config is not None, directory, overwrite, strategy_options
    )
    final_lib.check_final_for_conditional(final_config, is_conditional)
    settings = run_options.run_settings(
        executor=executor,
        workers=budget["workers"],
        backend=backend,
        timeout=timeout,
        max_candidates_per_worker=max_candidates_per_worker,
        executor_options=executor_options,
        evaluator=evaluator,
        max_consecutive_failures=max_consecutive_failures,
    )
    _check_evaluation_arguments(seed, seconds_per_candidate)
    fidelity = _fidelity_and_steps(fidelity, steps_per_candidate, budget)
    objectives, extractor = _objectives_for(metric, objectives)
    validate.check_choice(verbose, "verbose", (0, 1, 2))
    check_objectives(objectives, is_conditional, extractor)
    # Imported after the cheap checks: kgan_nas.data (and the callbacks a user
    # passes) bring in TensorFlow, which a mistyped argument should not wait for.
    from kgan_nas.hooks import ProgressPrinter
    from kgan_nas.hooks import split_callbacks

    search_callbacks, keras_callbacks = split_callbacks(callbacks)
    evaluation = EvaluationConfig(
        steps=budget["steps_per_candidate"],
        batch_size=budget["batch_size"],
        num_samples=budget["num_samples"],
        seconds=seconds_per_candidate,
        jit_compile=jit_compile,
        seed=seed,
        kid_subset_size=min(500, budget["num_samples"]),
    )
    data, space = _data_and_space(dataset, labels, seed, budget, space, conditional)
    strategy_object, config = _strategy_and_config(
        strategy, strategy_options, space, data, objectives, metric, budget, evaluation, seed
    )
    config = dataclasses.replace(
        config,
        final=final_config and final_config.to_dict(),
        fidelity=fidelity and fidelity.to_dict(),
    )
    if verbose:
        search_callbacks.insert(0, ProgressPrinter(verbose))
    return _run(
        config,
        settings,
        directory,
        overwrite,
        data,
        space,
        evaluation,
        extractor,
        strategy_object,
        search_callbacks,
        keras_callbacks,
        verbose,
        executor,
    )


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
        kgan_nas.run.RunDirectoryError: for a directory without a run, or
            one whose configuration lacks settings.
        ValueError: for a run on a custom strategy or on unnamed data (the
            message says how to resume it from Python instead).
    """
    from kgan_nas.data import KNOWN_DATASETS
    from kgan_nas.space import SearchSpace

    run = run_lib.RunDir(directory)
    result = SearchResult(directory)  # fails clearly if there is no run
    try:
        config = config_lib.SearchConfig.from_dict(result.config)
    except ValueError as exc:
        raise run_lib.RunDirectoryError(f"{directory}/config.json: {exc}") from None
    stored_settings = run.run_settings()  # {} for runs made before settings were stored
    settings = config_lib.RunSettings.from_dict(stored_settings)
    strategy = config_lib.STRATEGY_NAMES.get(config.strategy)
    if strategy is None:
        raise ValueError(
            f"The run used a custom strategy ({config.strategy}); resume it from Python "
            "by calling kgan_nas.search with the same strategy object and directory."
        )
    if config.dataset not in KNOWN_DATASETS:
        raise ValueError(
            f"The run in {directory} searched the data set {config.dataset!r}, which is not "
            f"a named dataset ({', '.join(KNOWN_DATASETS)}), so `resume` cannot reload it. "
            f"Resume with `kgan-nas search --dataset PATH --directory {directory}` and the "
            "original settings, or kgan_nas.search(data, directory=...) in Python."
        )
    evaluation = config.evaluation
    return search(
        config.dataset,
        space=SearchSpace.from_dict(config.space),
        strategy=strategy,
        generations=generations or config.generations,
        population=config.population,
        steps_per_candidate=evaluation["steps"],
        batch_size=evaluation["batch_size"],
        num_samples=evaluation["num_samples"],
        metric=config.metric,
        objectives=config.objectives,
        directory=directory,
        seed=config.seed,
        workers=workers or (settings.workers if stored_settings else None),
        verbose=verbose,
        jit_compile=evaluation["jit_compile"],
        seconds_per_candidate=evaluation["seconds"],
        strategy_options=config.strategy_options,
        callbacks=callbacks,
        holdout_fraction=config.holdout_fraction,
        final=config.final,
        fidelity=config.fidelity,
        **_stored_run_options(settings),
    )


def _stored_run_options(settings):
    """`search` arguments from stored `RunSettings` (a custom executor runs as the default)."""
    options = dict(
        backend=settings.backend,
        timeout=settings.timeout,
        max_candidates_per_worker=settings.max_candidates_per_worker,
        evaluator=settings.evaluator,
        max_consecutive_failures=settings.max_consecutive_failures,
    )
    if settings.executor in ("subprocess", "inprocess", "ray"):
        options.update(executor=settings.executor, executor_options=settings.executor_options)
    return options


def _run(
    config,
    settings,
    directory,
    overwrite,
    data,
    space,
    evaluation,
    extractor,
    strategy,
    search_callbacks,
    keras_callbacks,
    verbose,
    executor,
):
    """Opens (and locks) the run directory, prepares the inputs, runs the loop."""
    from kgan_nas.executors import get_executor
    from kgan_nas.prepare import prepare_worker_files

    say = print if verbose else (lambda *args, **kwargs: None)
    run_dir = run_lib.RunDir(directory)
    resumed = run_dir.open(
        config.to_dict(),
        overwrite=overwrite,
        resumable_keys=config.RESUMABLE,
        added_later=config.ADDED_LATER,
        run_settings=settings.to_dict(),
        details=dict(_run_details(strategy, settings), data=protocol.data_details(data)),
    )
    with run_dir, sigterm_as_interrupt():
        for callback in search_callbacks:
            callback.on_search_begin(
                dict(config.to_dict(), directory=run_dir.path, resumed=resumed)
            )
        worker_spec = prepare_worker_files(
            run_dir, data, space, evaluation, extractor, settings.backend, keras_callbacks, say=say
        )
        protocol.write_protocol_card(run_dir)  # after the extractor, which it names
        if settings.evaluator is not None:
            worker_spec = dataclasses.replace(worker_spec, evaluator_factory=settings.evaluator)
        loop = SearchLoop(
            run_dir, strategy, config, search_callbacks, settings.max_consecutive_failures, say=say
        )
        with get_executor(
            executor,
            worker_spec,
            workers=settings.workers,
            timeout=settings.timeout,
            max_candidates_per_worker=settings.max_candidates_per_worker,
            **dict(settings.executor_options or {}),
        ) as runner:
            loop.run(runner, config.generations)
        if config.final is not None:
            final_lib.run_final_stage(run_dir, config, data, say=say)
    result = SearchResult(run_dir.path)
    for callback in search_callbacks:
        callback.on_search_end(result)
    return result


def _run_details(strategy, settings):
    """What config.json records beside the compared settings (never compared).

    The strategy's whole configuration, defaults included (the compared
    `strategy_options` hold only what was passed, so e.g. the default
    `inherit_weights=True` is recorded only here), the backend and the
    versions of the libraries this session runs on.
    """
    import platform

    import kgan_nas
    from kgan_nas.prepare import current_backend

    backend = settings.backend or current_backend()
    get_config = getattr(strategy, "get_config", None)
    libraries = ("keras", "numpy") + (("jax", "jaxlib") if backend == "jax" else ("tensorflow",))
    return {
        "strategy": type(strategy).__name__,
        "strategy_config": run_options.json_or_none(get_config() if callable(get_config) else None),
        "backend": backend,
        "versions": {
            "kgan_nas": kgan_nas.__version__,
            "python": platform.python_version(),
            **{name: _library_version(name) for name in libraries},
        },
    }


def _library_version(name):
    """The installed version of `name` (its distribution, else its loaded module), or None."""
    import sys
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:  # e.g. installed as tensorflow-cpu
        return getattr(sys.modules.get(name), "__version__", None)


def _check_space_type(space):
    from kgan_nas.space import SearchSpace

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


def _data_and_space(dataset, labels, seed, budget, space, conditional=False):
    """Loads and checks the data; the space for it (checked to hold a genome)."""
    import numpy as np

    from kgan_nas import data as data_lib

    data = data_lib.load_dataset(
        dataset,
        labels=labels,
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
    space = conditional_space(data, space, conditional, budget["max_params"])
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


def _strategy_and_config(
    strategy, strategy_options, space, data, objectives, metric, budget, evaluation, seed
):
    """Builds the strategy and the `SearchConfig` that describes the search."""
    from kgan_nas import strategies as strategies_lib

    strategy_options = strategies_lib.with_population(
        strategy, strategy_options, budget["population"]
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
        metric=metric,
        generations=budget["generations"],
        population=budget["population"],
        evaluation=evaluation.to_dict(),
        seed=seed,
        holdout_fraction=float(budget["holdout_fraction"]),
    )
    return strategy_object, config


def _fidelity_and_steps(fidelity, steps_per_candidate, budget):
    """The checked fidelity; with rungs, the candidates' step budget becomes the last rung."""
    from kgan_nas.fidelity import resolve_fidelity

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
