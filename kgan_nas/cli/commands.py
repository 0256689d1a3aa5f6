"""The `kgan-nas` command line: search, resume, report, sample.

The parser is `kgan_nas.cli.parser`'s; here every action is a library call
(`kgan_nas.search`, `kgan_nas.resume`, `SearchResult`, `kgan_nas.report`).
What the terminal shows besides (TensorFlow's start-up lines, a closed pipe)
is `kgan_nas.cli.console`'s.
"""

import os
import sys

from kgan_nas import api as search_api
from kgan_nas import config as config_lib
from kgan_nas.cli import console
from kgan_nas.cli import finalize as cli_final
from kgan_nas.cli.parser import KEYS_HINT
from kgan_nas.cli.parser import build_parser
from kgan_nas.core.class_labels import sample_grid_labels
from kgan_nas.core.objectives import METRICS
from kgan_nas.core.objectives import metric_name
from kgan_nas.core.objectives import parse_metric
from kgan_nas.engine import settings as run_options


def _verbosity(args):
    """`kgan_nas.search`'s `verbose`: 0 with --quiet, 2 with --verbose, else 1."""
    if args.quiet:
        return 0
    return 2 if args.verbose else 1


def _objective_names(names, metric):
    """`--objectives` as objective names: a metric name stands for the objective it measures.

    Raises:
        ValueError: for a metric name measured under another extractor than `metric`'s.
    """
    if not names:
        return None
    _, extractor = parse_metric(metric)
    objectives = []
    for name in names:
        if name in METRICS:
            objective, measured_with = parse_metric(name)
            if measured_with != extractor:
                raise ValueError(
                    f"--objectives {name}: every objective is measured with the feature "
                    f"extractor of --metric {metric} ({extractor}); write "
                    f"{metric_name(objective, extractor)} or {objective.name} instead."
                )
            name = objective.name
        objectives.append(name)
    return tuple(objectives)


def _space_for(args):
    """The search space for `--max-params` / `--recipe`, or None for the preset's."""
    if args.max_params is None and not args.recipe:
        return None
    from kgan_nas import config as config_lib
    from kgan_nas.core.space import SearchSpace
    from kgan_nas.data import load_dataset

    # The space depends on the images' shape, so the data is read here once more;
    # the space is built as kgan_nas.search builds its own, so a run started with
    # `--preset P` resumes with `--preset P --max-params <P's max_params>` too.
    image_shape = load_dataset(args.dataset, seed=args.seed).image_shape
    max_params = config_lib.resolve_budget(args.preset, max_params=args.max_params)["max_params"]
    space = SearchSpace(image_shape=tuple(image_shape), max_params=max_params)
    return space.with_recipe() if args.recipe else space


def _executor_options(args):
    options = {}
    if args.gpus:
        options["gpus"] = args.gpus
    if args.threads_per_worker is not None:
        options["threads_per_worker"] = args.threads_per_worker
    return options or None


def _callbacks(args):
    if not args.tensorboard:
        return None
    from kgan_nas.hooks import SearchTensorBoard

    return [SearchTensorBoard(args.tensorboard)]


def _search(args):
    if args.backend:
        args.backend = run_options.resolve_backend(args.backend)
        os.environ.setdefault("KERAS_BACKEND", args.backend)
    strategy = args.strategy
    if args.no_inherit_weights:
        if strategy not in (None, "genetic"):
            raise ValueError(
                f"--no-inherit-weights applies to --strategy genetic only: {strategy} "
                "search never inherits weights."
            )
        strategy = "genetic"  # the only strategy it applies to, whatever the preset's
    for option, value in (
        ("--supernet-steps", args.supernet_steps),
        ("--supernet-training", args.supernet_training),
        ("--path-finetune-steps", args.path_finetune_steps),
    ):
        if value is not None and strategy != "differentiable":
            raise ValueError(
                f"{option} applies to --strategy differentiable only (the one that "
                "trains a supernet); add --strategy differentiable or leave it out."
            )
    result = search_api.search(
        args.dataset,
        space=_space_for(args),
        strategy=strategy,
        preset=args.preset,
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps_per_candidate,
        final=None if args.no_final else "preset",
        options=config_lib.SearchOptions(
            metric=args.metric,
            objectives=_objective_names(args.objectives, args.metric),
            batch_size=args.batch_size,
            num_samples=args.num_samples,
            holdout_fraction=args.holdout_fraction,
            seconds_per_candidate=args.seconds_per_candidate,
            jit_compile={"auto": "auto", "on": True, "off": False}[args.xla],
            fidelity=_fidelity(args),
            conditional=args.conditional,
            value_range=tuple(args.value_range) if args.value_range else "auto",
            eval_fraction=0.2 if args.eval_fraction is None else args.eval_fraction,
            stop_at=dict(args.stop_at) if args.stop_at else None,
            strategy_options=_strategy_options(args),
            zoo=False if args.no_zoo else args.zoo,
        ),
        run=config_lib.RunSettings(
            executor=args.executor,
            workers=args.workers,
            backend=args.backend,
            timeout=args.timeout,
            max_candidates_per_worker=args.max_candidates_per_worker,
            executor_options=_executor_options(args),
            max_consecutive_failures=args.max_consecutive_failures,
            overwrite=args.overwrite,
        ),
        directory=args.directory,
        seed=args.seed,
        callbacks=_callbacks(args),
        verbose=_verbosity(args),
    )
    if not args.quiet:
        print(result.summary())
    return 0


def _strategy_options(args):
    """The strategy's own options the command line sets, or None."""
    options = {}
    if args.no_inherit_weights:
        options["inherit_weights"] = False
    if args.supernet_steps is not None:
        options["supernet_steps"] = args.supernet_steps
    if args.supernet_training is not None:
        options["supernet_training"] = args.supernet_training
    if args.path_finetune_steps is not None:
        options["path_finetune_steps"] = args.path_finetune_steps
    return options or None


def _fidelity(args):
    """`search`'s `fidelity` from --fidelity, --rungs and --eta."""
    if args.fidelity == "none":
        given = [flag for flag, value in (("--rungs", args.rungs), ("--eta", args.eta)) if value]
        if given:
            raise ValueError(
                f"{' and '.join(given)} need --fidelity successive_halving (without it every "
                "candidate trains --steps-per-candidate steps)."
            )
        return None
    if args.rungs is None and args.eta is None:
        return args.fidelity
    if args.rungs is None:
        raise ValueError(
            "--eta needs --rungs too, e.g. --rungs 100 300 900 --eta 3 (or drop both for "
            "rungs of 1/9, 1/3 and all of --steps-per-candidate)."
        )
    fidelity = {"kind": args.fidelity, "rungs": tuple(args.rungs)}
    if args.eta is not None:
        fidelity["eta"] = args.eta
    return fidelity


def _resume(args):
    result = search_api.resume(
        args.directory,
        generations=args.generations,
        workers=args.workers,
        verbose=_verbosity(args),
        callbacks=_callbacks(args),
    )
    if not args.quiet:
        print(result.summary())
    return 0


def _result(directory):
    from kgan_nas.results.search_result import SearchResult

    return SearchResult(directory)


def _report(args):
    from kgan_nas import report

    result = _result(args.directory)
    if not result.history:
        raise ValueError(
            f"No candidate of the search in {args.directory!r} has been evaluated yet, so "
            "there is nothing to report; run (or resume) the search first "
            f"(kgan-nas resume {args.directory})."
        )
    print(result.summary(num_trials=args.top))
    plots = report.write_report(result)
    page = report.write_html_report(result, plots=plots, top_k=args.samples, num_rows=args.top)
    for path in plots + [page]:
        print(f"wrote {path}")
    return 0


def _candidate_generator(result, key):
    """The trained generator of candidate `key` of `result`.

    Raises:
        ValueError: for a key that is not in the run, or a candidate that failed.
        FileNotFoundError: if the candidate's model file is missing.
    """
    record = next((record for record in result.history if record["key"] == key), None)
    where = KEYS_HINT.format(directory=result.directory)
    if record is None:
        raise ValueError(
            f"No candidate with key {key!r} in {result.directory}; the keys are {where} "
            '(or the "key" of each line of its history.jsonl).'
        )
    if record["status"] != "ok":
        raise ValueError(
            f"Candidate {key} did not train successfully (status {record['status']!r}), "
            f"so it has no generator; pick a candidate listed in {where}."
        )
    return result.generator(key)


def _sample(args):
    from kgan_nas import data

    result = _result(args.directory)
    labels, nrow = sample_grid_labels(result.num_classes, args.n, args.label)
    generator = None if args.key is None else _candidate_generator(result, args.key)
    images = result.sample(args.n, seed=args.seed, labels=labels, generator=generator)
    # Read after sampling: the final stage's generator, or the search's best.
    source = f"candidate {args.key}" if args.key else result.best_generator_source
    data.save_image_grid(images, args.out, nrow=nrow)
    print(f"wrote {args.out} ({args.n} images from {source})")
    return 0


def _run_command(args):
    """Runs the command's handler; returns the exit code (see `main`)."""
    # Looked up on each call, so that a test can replace a command's handler.
    handlers = {"search": _search, "resume": _resume, "report": _report, "sample": _sample}
    handlers["finalize"] = cli_final.finalize_command
    try:
        with console.tolerate_closed_stdout():
            code = handlers[args.command](args)
            sys.stdout.flush()  # a reader that went away shows here, not at exit
        return code
    except KeyboardInterrupt:
        if args.debug:
            raise
        return console.report_interrupt(args.command)
    except Exception as exc:  # noqa: BLE001 - every error gets a message and an exit code
        if isinstance(exc, BrokenPipeError) and console.stdout_closed():
            # Something wrote to the closed pipe around sys.stdout: no message, as the
            # Python docs recommend, and 1, Python's code for a command cut short by EPIPE.
            console.discard_stdout()
            return 1
        if args.debug:
            raise
        return console.report_error(exc, args.command)


def main(argv=None):
    """Entry point of the `kgan-nas` console script.

    Unless `--library-logs` or `--debug` is given, TensorFlow's start-up
    messages are hidden (`kgan_nas.hooks.library_logs.quiet_libraries`).

    Args:
        argv: The arguments after the program name; `sys.argv[1:]` when None.

    Returns:
        The exit code: 0 on success, 2 for a mistake in the input or the
        environment (one line on stderr), 1 for an internal error (its traceback
        and one line on stderr), 130 when interrupted. A command whose reader
        goes away (`| head`) finishes its work with its output discarded. With
        `--debug`, every exception propagates with its traceback instead.

    Raises:
        SystemExit: for `--help` and `--version` (code 0) and arguments the
            parser rejects (code 2).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False) and args.verbose:
        parser.error(f"{args.command}: --quiet and --verbose contradict each other; pass one")
    if not console.shows_library_logs(args):
        console.quiet_libraries()
    if not args.debug:
        console.one_line_warnings(args.command)
    return _run_command(args)


if __name__ == "__main__":
    sys.exit(main())
