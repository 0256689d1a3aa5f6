"""The `kgan-nas` command line: search, resume, report, sample."""

import argparse
import errno
import os
import sys
import traceback

from kgan_nas import config as config_lib
from kgan_nas import search_api
from kgan_nas.objectives import METRICS


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


_DEBUG_HELP = "on any error, show the full traceback instead of a one-line message"
_DEBUG_HINT = "(add --debug for the traceback)"
# A full disk (or an exhausted quota) is not a mistake in the input: it gets its own line.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# Commands whose run directory keeps completed candidates, so running them again resumes.
_RESUMABLE_COMMANDS = ("search", "resume")


def build_parser():
    """Builds the argument parser of the `kgan-nas` command line.

    `--debug` is accepted before the command (`kgan-nas --debug search ...`) and
    after it (`kgan-nas search --debug ...`).

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog="kgan-nas", description="Evolutionary architecture search for GANs (Keras 3, XLA)."
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    # The commands' own --debug has no default: a default would overwrite the value
    # of `kgan-nas --debug COMMAND` when the subparser fills in its namespace.
    debug_after_command = argparse.ArgumentParser(add_help=False)
    debug_after_command.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_search_command(commands, debug_after_command)
    _add_run_commands(commands, debug_after_command)
    return parser


def _add_search_command(commands, debug_after_command):
    search = commands.add_parser(
        "search",
        help="run (or resume) a search",
        parents=[debug_after_command],
        description="Search GAN architectures on a data set and write a run directory.",
    )
    search.add_argument(
        "--dataset",
        default="digits",
        help="digits (offline), mnist, fashion_mnist, cifar10, FILE.npz or "
        "FOLDER of images (default: digits)",
    )
    search.add_argument(
        "--directory",
        default="runs/kgan_nas",
        help="run directory; an existing run there is resumed (default: runs/kgan_nas)",
    )
    search.add_argument(
        "--preset",
        default="default",
        choices=sorted(config_lib.PRESETS),
        help="budget preset for options left unset (default: default)",
    )
    search.add_argument("--strategy", default="genetic", choices=["genetic", "random"])
    search.add_argument(
        "--no-inherit-weights",
        action="store_true",
        help="genetic: train every child from scratch instead of starting it "
        "from its parent's trained weights",
    )
    search.add_argument("--generations", type=_positive_int)
    search.add_argument("--population", type=_positive_int)
    search.add_argument("--steps-per-candidate", type=_positive_int)
    search.add_argument("--batch-size", type=_positive_int)
    search.add_argument(
        "--num-samples", type=_positive_int, help="generated images scored per candidate"
    )
    search.add_argument("--metric", default="fid_domain", choices=METRICS)
    search.add_argument(
        "--objectives",
        nargs="+",
        metavar="NAME",
        help="e.g. --objectives fid params for a Pareto front",
    )
    search.add_argument(
        "--executor", default="subprocess", choices=["subprocess", "inprocess", "ray"]
    )
    search.add_argument("--workers", type=_positive_int)
    search.add_argument(
        "--gpus",
        nargs="+",
        type=int,
        metavar="ID",
        help="GPU ids for subprocess workers (one candidate per GPU)",
    )
    search.add_argument(
        "--timeout",
        type=_positive_float,
        help="seconds one candidate may take before it is stopped",
    )
    search.add_argument(
        "--backend",
        choices=["tensorflow", "jax"],
        help="Keras backend of the workers (default: current)",
    )
    search.add_argument("--seed", type=int, default=0)
    search.add_argument(
        "--overwrite", action="store_true", help="delete an existing run in --directory first"
    )
    search.add_argument("--no-xla", action="store_true", help="disable XLA compilation")
    search.add_argument("--quiet", action="store_true", help="print nothing")


def _add_run_commands(commands, debug_after_command):
    """`resume`, `report` and `sample`: the commands on an existing run directory."""
    resume = commands.add_parser(
        "resume",
        help="resume a stopped search",
        parents=[debug_after_command],
        description="Resume the search stored in DIRECTORY.",
    )
    resume.add_argument("directory")
    resume.add_argument("--generations", type=_positive_int, help="raise the number of generations")
    resume.add_argument("--workers", type=_positive_int)
    resume.add_argument("--quiet", action="store_true")

    report = commands.add_parser(
        "report",
        help="summary table, plots and an HTML report of a run",
        parents=[debug_after_command],
        description="Print the summary table, write PNG plots into DIRECTORY/report and a "
        "self-contained page, DIRECTORY/report.html (nothing is trained).",
    )
    report.add_argument("directory")
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

    sample = commands.add_parser(
        "sample",
        help="generate images with a run's best generator",
        parents=[debug_after_command],
        description="Write a PNG grid of images from the best generator of DIRECTORY.",
    )
    sample.add_argument("directory")
    sample.add_argument("--n", type=_positive_int, default=64, help="number of images")
    sample.add_argument("--out", default="grid.png", help="output PNG path")
    sample.add_argument("--seed", type=int, default=0)


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
        strategy=args.strategy,
        preset=args.preset,
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps_per_candidate,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
        metric=args.metric,
        objectives=args.objectives,
        executor=args.executor,
        workers=args.workers,
        directory=args.directory,
        overwrite=args.overwrite,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
        timeout=args.timeout,
        backend=args.backend,
        jit_compile=not args.no_xla,
        executor_options={"gpus": args.gpus} if args.gpus else None,
        strategy_options={"inherit_weights": False} if args.no_inherit_weights else None,
    )
    if not args.quiet:
        print(result.summary())
    return 0


def _resume(args):
    result = search_api.resume(
        args.directory,
        generations=args.generations,
        workers=args.workers,
        verbose=0 if args.quiet else 1,
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


def _sample(args):
    from kgan_nas import data

    result = _result(args.directory)
    images = result.sample(args.n, seed=args.seed)
    data.save_image_grid(images, args.out)
    print(f"wrote {args.out} ({args.n} images from candidate {result.best_record['key']})")
    return 0


def _user_error_types():
    """The exception types that report a mistake in the user's input or set-up.

    `WorkerStartError` and `RepeatedFailureError` are `RuntimeError`s whose
    messages say what to fix; every other `RuntimeError` is a bug. Their modules
    are imported only here, when an error is being reported, so that
    `kgan-nas --help` does not pay for them.
    """
    from kgan_nas.run import RunDirectoryError  # a ValueError: listed for the reader

    user_errors = [ValueError, TypeError, ImportError, RunDirectoryError]
    try:
        from kgan_nas.executors import WorkerStartError
    except ImportError:
        # A broken import here must not hide the error being reported; and a
        # WorkerStartError cannot have been raised if its module cannot be imported.
        pass
    else:
        user_errors.append(WorkerStartError)
    from kgan_nas.search_loop import RepeatedFailureError

    user_errors.append(RepeatedFailureError)
    return tuple(user_errors)


def _disk_full_message(exc, command):
    """The line for an `OSError` saying the disk (or the quota) is full."""
    where = f" while writing {exc.filename}" if exc.filename else ""
    message = f"the disk is full ({exc.strerror or exc}){where}. Free some space"
    if command in _RESUMABLE_COMMANDS:
        return (
            f"{message} and run the same command again: the run resumes "
            "(completed candidates are kept)."
        )
    return f"{message} and run the same command again."


def _report_error(exc, command):
    """Prints what went wrong for an exception from a command; returns the exit code.

    Args:
        exc: The exception the command raised (not a `KeyboardInterrupt`).
        command: The command's name, e.g. `"search"`.

    Returns:
        2 for a mistake in the input or the environment (a full disk included),
        1 for an internal error of kgan_nas.
    """
    prefix = f"kgan-nas {command}: error:"
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        # No traceback and no --debug hint: nothing in it would help free space.
        print(f"{prefix} {_disk_full_message(exc, command)}", file=sys.stderr)
        return 2
    if isinstance(exc, _user_error_types() + (OSError,)):
        # Each of these messages says what is wrong and how to fix it; a traceback from
        # deep inside would only bury it.
        print(f"{prefix} {str(exc) or type(exc).__name__} {_DEBUG_HINT}", file=sys.stderr)
        return 2
    # Anything else (AttributeError, KeyError, a plain RuntimeError...) is a bug:
    # hiding its traceback would hide where it is.
    traceback.print_exception(exc, file=sys.stderr)
    print(
        f"kgan-nas {command}: internal error: {type(exc).__name__}: {exc}. This is a "
        "bug in kgan_nas, not a mistake in your input; please report it with the "
        "traceback above.",
        file=sys.stderr,
    )
    return 1


def main(argv=None):
    """Entry point of the `kgan-nas` console script.

    Args:
        argv: The arguments after the program name; `sys.argv[1:]` when None.

    Returns:
        The exit code: 0 on success, 2 for a mistake in the input or the
        environment (one line on stderr), 1 for an internal error (its traceback
        and one line on stderr), 130 when interrupted. With `--debug`, every
        exception propagates with its traceback instead.

    Raises:
        SystemExit: for `--help` (code 0) and arguments the parser rejects (code 2).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"search": _search, "resume": _resume, "report": _report, "sample": _sample}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        hint = (
            "; run the same command again to resume (completed candidates are kept)"
            if args.command in _RESUMABLE_COMMANDS
            else ""
        )
        print(f"kgan-nas {args.command}: interrupted{hint}.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every error gets a message and an exit code
        if args.debug:
            raise
        return _report_error(exc, args.command)


if __name__ == "__main__":
    sys.exit(main())
