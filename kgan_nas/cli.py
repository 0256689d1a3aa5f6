"""The `kgan-nas` command line: search, resume, report, sample.

Parsing only: every action is a library call (`kgan_nas.search`,
`kgan_nas.resume`, `SearchResult`, `kgan_nas.report`). What the terminal shows
besides (TensorFlow's start-up lines, a closed pipe) is `kgan_nas.console`'s.
"""

import argparse
import os
import sys
import textwrap

from kgan_nas import __version__
from kgan_nas import config as config_lib
from kgan_nas import console
from kgan_nas import search_api
from kgan_nas.objectives import METRICS
from kgan_nas.objectives import OBJECTIVES
from kgan_nas.objectives import metric_name
from kgan_nas.objectives import parse_metric


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _thread_count(text):
    """`auto` or a positive integer (`SubprocessExecutor`'s `threads_per_worker`)."""
    return text if text == "auto" else _positive_int(text)


_LIBRARY_OUTPUT = "TensorFlow's and CUDA's start-up messages (hidden otherwise)"
_VERBOSE_HELP = f"also show {_LIBRARY_OUTPUT}"
_VERBOSE_SEARCH_HELP = f"a line per candidate instead of the progress bar, and {_LIBRARY_OUTPUT}"
# What each preset is for; its numbers are read from config.PRESETS.
_PRESET_PURPOSES = {
    "quick": "a few minutes on 2 CPU cores for digits",
    "mnist_cpu": "about 20 minutes on 2 CPU cores for 28x28 images such as mnist_5k",
    "default": "a first real search",
    "paper": "one GPU, a few hours",
}
_KEYS_HINT = "the `key` column of `kgan-nas report {directory}`"


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, without breaking lines inside `--steps-per-candidate`."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _option(key):
    """`steps_per_candidate` -> `--steps-per-candidate`."""
    return "--" + key.replace("_", "-")


def _presets_help():
    """`--preset`'s help: each preset as the options it stands for."""
    described = []
    for name, budget in config_lib.PRESETS.items():
        options = " ".join(f"{_option(key)} {value}" for key, value in budget.items())
        purpose = _PRESET_PURPOSES.get(name)
        described.append(f"{name} ({purpose}): {options}" if purpose else f"{name}: {options}")
    return (
        "budgets for the options left unset; "
        + "; ".join(described)
        + ". Budgets are steps, not seconds (default: default)"
    )


def _from_presets(text, key):
    """`text` followed by the value of `key` under each preset."""
    values = ", ".join(f"{name} {budget[key]}" for name, budget in config_lib.PRESETS.items())
    return f"{text} (preset: {values})"


def build_parser():
    """Builds the argument parser of the `kgan-nas` command line.

    `--debug` and `--verbose` are accepted before the command (`kgan-nas
    --debug search ...`) and after it (`kgan-nas search --debug ...`).

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog="kgan-nas",
        formatter_class=_HelpFormatter,
        description="Evolutionary architecture search for GANs (Keras 3, XLA). "
        "Run `kgan-nas COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"kgan-nas {__version__}",
        help="print the version of kgan_nas and exit",
    )
    console.add_console_flags(
        parser,
        f"show {_LIBRARY_OUTPUT}; with search and resume, also a line per candidate",
        command_level=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_search_command(commands)
    _add_resume_command(commands)
    _add_report_command(commands)
    _add_sample_command(commands)
    return parser


def _add_search_command(commands):
    search = commands.add_parser(
        "search",
        formatter_class=_HelpFormatter,
        help="run (or resume) a search",
        description="Search GAN architectures on a data set and write a run directory. "
        "Running the same command again resumes the run.",
    )
    data = search.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        help="digits (offline), mnist_5k (offline, 5,000 real 28x28 MNIST digits; "
        'pip install "kgan_nas[data]"), mnist, fashion_mnist, cifar10, FILE.npz or '
        "FOLDER of images (default: digits)",
    )
    strategy = search.add_argument_group("search strategy")
    strategy.add_argument(
        "--strategy",
        default="genetic",
        choices=["genetic", "random"],
        help="genetic: mutate and cross the best genomes; random: sample every genome "
        "afresh (default: genetic)",
    )
    strategy.add_argument(
        "--no-inherit-weights",
        action="store_true",
        help="genetic: train every child from scratch instead of starting it "
        "from its parent's trained weights",
    )
    strategy.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the genomes, the data split and the training (default: 0)",
    )
    _add_budget_options(search.add_argument_group("budget"))
    _add_scoring_options(search.add_argument_group("scoring"))
    _add_execution_options(search.add_argument_group("execution"))
    output = search.add_argument_group("output")
    output.add_argument(
        "--directory",
        default="runs/kgan_nas",
        help="run directory; an existing run there is resumed (default: runs/kgan_nas)",
    )
    output.add_argument(
        "--overwrite", action="store_true", help="delete an existing run in --directory first"
    )
    _add_progress_options(output)


def _add_budget_options(budget):
    budget.add_argument(
        "--preset", default="default", choices=list(config_lib.PRESETS), help=_presets_help()
    )
    for key, text in (
        ("generations", "generations to run"),
        ("population", "genomes per generation (at least 2)"),
        ("steps_per_candidate", "training steps per candidate"),
        ("batch_size", "training batch size"),
        ("num_samples", "generated images scored per candidate"),
        ("max_params", "most parameters (generator and discriminator) a genome may have"),
    ):
        budget.add_argument(
            _option(key), type=_positive_int, metavar="N", help=_from_presets(text, key)
        )
    budget.add_argument(
        "--seconds-per-candidate",
        type=_positive_float,
        metavar="SECONDS",
        help="also stop a candidate's training after this long (not counting the first, "
        "compiling step); it records the steps it trained (default: no limit)",
    )


def _add_scoring_options(scoring):
    scoring.add_argument(
        "--metric",
        default="fid_domain",
        choices=METRICS,
        metavar="METRIC",
        help=f"fitness, one of {', '.join(METRICS)}: FID, KID or Inception Score under the "
        "domain extractor (a classifier trained on the data itself; not comparable to "
        "published FID) or InceptionV3 (needs its weights) (default: fid_domain)",
    )
    scoring.add_argument(
        "--objectives",
        nargs="+",
        metavar="NAME",
        choices=tuple(OBJECTIVES) + METRICS,
        help=f"objectives of a Pareto front, the metric's first: e.g. fid params. A metric "
        f"name stands for the objective it measures (fid_domain params = fid params). "
        f"Names: {', '.join(OBJECTIVES)} (default: the metric alone)",
    )


def _add_execution_options(execution):
    execution.add_argument(
        "--executor",
        default="subprocess",
        choices=["subprocess", "inprocess", "ray"],
        help="where candidates train: recycled worker processes, this process, or Ray "
        "tasks (default: subprocess)",
    )
    execution.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help=_from_presets("candidates trained at the same time", "workers"),
    )
    execution.add_argument(
        "--gpus",
        nargs="+",
        type=int,
        metavar="ID",
        help="GPU ids for subprocess workers (one candidate per GPU)",
    )
    execution.add_argument(
        "--threads-per-worker",
        type=_thread_count,
        metavar="N",
        help="subprocess: CPU threads each worker may use, or auto for cores / workers "
        "(default: the libraries' own, every core per worker)",
    )
    execution.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="seconds one candidate may take before it is stopped (default: no limit)",
    )
    execution.add_argument(
        "--max-candidates-per-worker",
        type=_positive_int,
        default=config_lib.RunSettings.max_candidates_per_worker,
        metavar="N",
        help="replace a worker process after this many candidates, bounding its memory "
        f"(default: {config_lib.RunSettings.max_candidates_per_worker})",
    )
    execution.add_argument(
        "--max-consecutive-failures",
        type=_positive_int,
        metavar="N",
        help="stop the search when this many candidates in a row fail the same way "
        "(default: three times the workers; 3 in process)",
    )
    execution.add_argument(
        "--backend",
        choices=["tensorflow", "jax"],
        help="Keras backend of the workers (default: current)",
    )
    execution.add_argument("--no-xla", action="store_true", help="disable XLA compilation")


def _add_progress_options(group):
    """What a search shows and where else it writes (search and resume)."""
    group.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write each candidate's genes and fitness as TensorBoard runs into DIR",
    )
    group.add_argument("--quiet", action="store_true", help="print nothing")
    console.add_console_flags(group, _VERBOSE_SEARCH_HELP)


def _add_resume_command(commands):
    resume = commands.add_parser(
        "resume",
        formatter_class=_HelpFormatter,
        help="resume a stopped search",
        description="Resume the search stored in DIRECTORY with its own settings.",
    )
    resume.add_argument("directory", help="the run directory of the search")
    resume.add_argument(
        "--generations", type=_positive_int, metavar="N", help="raise the number of generations"
    )
    resume.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="candidates trained at the same time (default: the stored number)",
    )
    _add_progress_options(resume)


def _add_report_command(commands):
    report = commands.add_parser(
        "report",
        formatter_class=_HelpFormatter,
        help="summary table, plots and an HTML report of a run",
        description="Print the summary table, write PNG plots into DIRECTORY/report and a "
        "self-contained page, DIRECTORY/report.html (nothing is trained).",
    )
    report.add_argument("directory", help="the run directory of a search")
    report.add_argument(
        "--top",
        type=_positive_int,
        default=10,
        help="rows in the tables of best candidates (default: 10)",
    )
    report.add_argument(
        "--samples",
        type=_positive_int,
        default=4,
        metavar="K",
        help="sample grids of the K best generators in the page (default: 4)",
    )
    console.add_console_flags(report, _VERBOSE_HELP)


def _add_sample_command(commands):
    sample = commands.add_parser(
        "sample",
        formatter_class=_HelpFormatter,
        help="generate images with a run's best generator (or another candidate's)",
        description="Write a PNG grid of images from the best generator of DIRECTORY, or "
        "from the candidate given by --key.",
    )
    sample.add_argument("directory", help="the run directory of a search")
    sample.add_argument(
        "--key",
        help="the candidate whose generator to use: "
        + _KEYS_HINT.format(directory="DIRECTORY")
        + " (default: the best candidate)",
    )
    sample.add_argument("--n", type=_positive_int, default=64, help="number of images")
    sample.add_argument("--out", default="grid.png", help="output PNG path (default: grid.png)")
    sample.add_argument(
        "--seed", type=int, default=0, help="seed of the latent vectors (default: 0)"
    )
    console.add_console_flags(sample, _VERBOSE_HELP)


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
    """The search space for `--max-params`, or None for the preset's (`kgan_nas.search`'s)."""
    if args.max_params is None:
        return None
    from kgan_nas.data import load_dataset
    from kgan_nas.space import SearchSpace

    # The space depends on the images' shape, so the data is read here once more;
    # the space is built as kgan_nas.search builds its own, so a run started with
    # `--preset P` resumes with `--preset P --max-params <P's max_params>` too.
    image_shape = load_dataset(args.dataset, seed=args.seed).image_shape
    return SearchSpace(image_shape=tuple(image_shape), max_params=args.max_params)


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
        os.environ.setdefault("KERAS_BACKEND", args.backend)
    if args.no_inherit_weights and args.strategy != "genetic":
        raise ValueError(
            "--no-inherit-weights applies to --strategy genetic only: random "
            "search never inherits weights."
        )
    result = search_api.search(
        args.dataset,
        space=_space_for(args),
        strategy=args.strategy,
        preset=args.preset,
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps_per_candidate,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
        metric=args.metric,
        objectives=_objective_names(args.objectives, args.metric),
        executor=args.executor,
        workers=args.workers,
        directory=args.directory,
        overwrite=args.overwrite,
        seed=args.seed,
        callbacks=_callbacks(args),
        verbose=_verbosity(args),
        timeout=args.timeout,
        backend=args.backend,
        jit_compile=not args.no_xla,
        max_candidates_per_worker=args.max_candidates_per_worker,
        seconds_per_candidate=args.seconds_per_candidate,
        executor_options=_executor_options(args),
        strategy_options={"inherit_weights": False} if args.no_inherit_weights else None,
        max_consecutive_failures=args.max_consecutive_failures,
    )
    if not args.quiet:
        print(result.summary())
    return 0


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
    from kgan_nas.results import SearchResult

    return SearchResult(directory)


def _report(args):
    from kgan_nas import report

    result = _result(args.directory)
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
    where = _KEYS_HINT.format(directory=result.directory)
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
    if args.key is None:
        images = result.sample(args.n, seed=args.seed)
        key = result.best_record["key"]
    else:
        import keras
        import numpy as np

        generator = _candidate_generator(result, args.key)
        # The latent vectors SearchResult.sample draws for the best generator.
        latent = np.random.default_rng(args.seed).normal(size=(args.n, generator.input_shape[-1]))
        images = keras.ops.convert_to_numpy(generator.predict(latent.astype("float32"), verbose=0))
        key = args.key
    data.save_image_grid(images, args.out)
    print(f"wrote {args.out} ({args.n} images from candidate {key})")
    return 0


def _run_command(args):
    """Runs the command's handler; returns the exit code (see `main`)."""
    # Looked up on each call, so that a test can replace a command's handler.
    handlers = {"search": _search, "resume": _resume, "report": _report, "sample": _sample}
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

    Unless `--verbose` or `--debug` is given, TensorFlow's start-up messages
    are hidden (`kgan_nas.console.quiet_libraries`).

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
    if not (args.verbose or args.debug):
        console.quiet_libraries()
    return _run_command(args)


if __name__ == "__main__":
    sys.exit(main())
