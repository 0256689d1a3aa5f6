"""Running a checked search: open the run directory, prepare the inputs, loop.

`kgan_nas.search` checks every argument and gathers what the run needs into
one `SearchJob`; `run_search` opens (and locks) the run directory, prepares
the inputs every worker shares (`kgan_nas.engine.inputs`), writes the
protocol card and hands the generations to `SearchLoop`. The final stage
runs after it, from the run directory (`final.stage.run_stored_final_stage`).
"""

import dataclasses

from kgan_nas.engine import settings as run_options
from kgan_nas.engine.loop import SearchLoop
from kgan_nas.engine.signals import sigterm_as_interrupt
from kgan_nas.store import protocol
from kgan_nas.store import run_dir as run_lib


@dataclasses.dataclass(frozen=True)
class SearchJob:
    """Everything a checked search runs with.

    Args:
        config: The `SearchConfig` (what the search is; stored, compared).
        settings: The stored `RunSettings` (how it runs).
        directory: The run directory.
        overwrite: Delete an existing run there first.
        data: The `ImageData`.
        space: The `SearchSpace`.
        evaluation: The candidates' `EvaluationConfig`.
        extractor: The feature extractor's name.
        strategy: The `Strategy` object.
        search_callbacks: `SearchCallback`s.
        keras_callbacks: Keras callbacks for every candidate's `fit`.
        verbose: 0, 1 or 2.
        executor: The executor's name or an `Executor` object.
        budget_lines: What the whole job trains and about how long it takes
            (`config.budget_lines`), shown before any training.
        preset: The preset's name, recorded (never compared) so that a resume
            estimates its time from the same preset; None if unknown.
    """

    config: object
    settings: object
    directory: str
    overwrite: bool
    data: object
    space: object
    evaluation: object
    extractor: str
    strategy: object
    search_callbacks: list
    keras_callbacks: list
    verbose: int
    executor: object
    budget_lines: tuple = ()
    preset: str = None


def run_search(job):
    """Opens (and locks) the run directory, prepares the inputs, runs the loop.

    The final stage, if the search has one, runs after this returns
    (`kgan_nas.final.stage.run_stored_final_stage`), as do the hooks'
    `on_search_end`.

    Args:
        job: The `SearchJob`.
    """
    from kgan_nas.engine.inputs import prepare_worker_files
    from kgan_nas.executors import get_executor

    config, settings, search_callbacks = job.config, job.settings, job.search_callbacks
    say = print if job.verbose else (lambda *args, **kwargs: None)
    # What config.json records beside the compared settings, gathered before the
    # directory is opened: nothing below needs the data again but the workers' inputs.
    details = dict(_run_details(job.strategy, settings), data=protocol.data_details(job.data))
    if job.preset is not None:
        details["preset"] = job.preset
    run_dir = run_lib.RunDir(job.directory)
    resumed = run_dir.open(
        config.to_dict(),
        overwrite=job.overwrite,
        resumable_keys=config.RESUMABLE,
        added_later=config.ADDED_LATER,
        run_settings=settings.to_dict(),
        details=details,
    )
    with run_dir, sigterm_as_interrupt():
        for callback in search_callbacks:
            callback.on_search_begin(
                dict(
                    config.to_dict(),
                    directory=run_dir.path,
                    resumed=resumed,
                    budget=list(job.budget_lines),
                )
            )
        worker_spec = prepare_worker_files(
            run_dir,
            job.data,
            job.space,
            job.evaluation,
            job.extractor,
            settings.backend,
            job.keras_callbacks,
            say=say,
        )
        protocol.write_protocol_card(run_dir)  # after the extractor, which it names
        if settings.evaluator is not None:
            worker_spec = dataclasses.replace(worker_spec, evaluator_factory=settings.evaluator)
        if getattr(job.strategy, "needs_supernet", False):
            # A custom evaluator scores candidates its own way: the standard
            # scoring of the supernet's paths would not compare with it.
            scoring = None if settings.evaluator is not None else worker_spec
            _train_supernet(run_dir, job, config, say, scoring)
        loop = SearchLoop(
            run_dir,
            job.strategy,
            config,
            search_callbacks,
            settings.max_consecutive_failures,
            say=say,
        )
        with get_executor(
            job.executor,
            worker_spec,
            workers=settings.workers,
            timeout=settings.timeout,
            max_candidates_per_worker=settings.max_candidates_per_worker,
            **dict(settings.executor_options or {}),
        ) as runner:
            loop.run(runner, config.generations)


def _train_supernet(run_dir, job, config, say, worker_spec):
    """Gradient-based search's first phase: the space's supernet, trained once per run.

    Its derived genomes go to the strategy (`DifferentiableSearch.use_supernet`),
    which evaluates them first; each is also scored as a path of the supernet,
    by the candidates' own scoring (`worker_spec`; None, under a custom
    evaluator, scores no path), so the run can say how well weight sharing
    predicts stand-alone training. The result is kept in
    `supernet.json`, so a resumed search reads it back instead of training again.
    """
    from kgan_nas.supernet.search import run_supernet
    from kgan_nas.training.compile_choice import resolve_jit_compile

    strategy = job.strategy
    steps = strategy.supernet_steps or config.population * config.evaluation["steps"]
    result = run_supernet(
        run_dir.path,
        job.space,
        job.data.train,
        steps=steps,
        batch_size=config.evaluation["batch_size"],
        seed=config.seed,
        jit_compile=resolve_jit_compile(config.evaluation["jit_compile"], steps),
        top=strategy.derived or config.population,
        say=say,
        score=worker_spec and _path_scorer(worker_spec, job.space, config.evaluation, config.seed),
        single_path=strategy.supernet_training == "single_path",
        path_samples=strategy.path_samples,
        path_finetune_steps=strategy.path_finetune_steps,
        finetune_jit_compile=resolve_jit_compile(
            config.evaluation["jit_compile"], strategy.path_finetune_steps or steps
        ),
    )
    strategy.use_supernet(result)


def _path_scorer(worker_spec, space, evaluation, seed):
    """`score(generator) -> FID`: the candidates' scoring (the standard `Evaluator`'s
    extractor, real features and sample count) of a supernet path's images."""
    import numpy as np

    from kgan_nas.executors.base import build_evaluator

    evaluators = []  # built at the first score: a resumed run reads supernet.json instead

    def score(generator):
        if not evaluators:
            evaluators.append(
                build_evaluator(dataclasses.replace(worker_spec, evaluator_factory=None))
            )
        evaluator = evaluators[0]
        latents = np.random.default_rng(seed).standard_normal(
            (evaluation["num_samples"], space.latent_dim)
        )
        images = generator.predict(latents.astype("float32"), batch_size=256, verbose=0)
        return evaluator.score_images(images, seed=seed)["fid"]

    return score


def _run_details(strategy, settings):
    """What config.json records beside the compared settings (never compared).

    The strategy's whole configuration, defaults included (the compared
    `strategy_options` hold only what was passed, so e.g. the default
    `inherit_weights=True` is recorded only here), the backend and the
    versions of the libraries this session runs on.
    """
    import platform

    import kgan_nas
    from kgan_nas.engine.inputs import current_backend

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
