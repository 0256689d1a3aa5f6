"""The `kgan-nas` command line: search, resume, report, sample."""

import argparse
import os
import sys

from kgan_nas import driver as search_lib


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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kgan-nas",
        description="Evolutionary architecture search for GANs (Keras 3, XLA).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser(
        "search", help="run (or resume) a search",
        description="Search GAN architectures on a data set and write a run directory.")
    search.add_argument("--dataset", default="digits",
                        help="digits (offline), mnist, fashion_mnist, cifar10, FILE.npz or "
                             "FOLDER of images (default: digits)")
    search.add_argument("--directory", default="runs/kgan_nas",
                        help="run directory; an existing run there is resumed "
                             "(default: runs/kgan_nas)")
    search.add_argument("--preset", default="default", choices=sorted(search_lib.PRESETS),
                        help="budget preset for options left unset (default: default)")
    search.add_argument("--strategy", default="genetic", choices=["genetic", "random"])
    search.add_argument("--no-inherit-weights", action="store_true",
                        help="genetic: train every child from scratch instead of starting it "
                             "from its parent's trained weights")
    search.add_argument("--generations", type=_positive_int)
    search.add_argument("--population", type=_positive_int)
    search.add_argument("--steps-per-candidate", type=_positive_int)
    search.add_argument("--batch-size", type=_positive_int)
    search.add_argument("--num-samples", type=_positive_int,
                        help="generated images scored per candidate")
    search.add_argument("--metric", default="fid_domain", choices=search_lib.METRICS)
    search.add_argument("--objectives", nargs="+", metavar="NAME",
                        help="e.g. --objectives fid params for a Pareto front")
    search.add_argument("--executor", default="subprocess",
                        choices=["subprocess", "inprocess", "ray"])
    search.add_argument("--workers", type=_positive_int)
    search.add_argument("--gpus", nargs="+", type=int, metavar="ID",
                        help="GPU ids for subprocess workers (one candidate per GPU)")
    search.add_argument("--timeout", type=_positive_float,
                        help="seconds one candidate may take before it is stopped")
    search.add_argument("--backend", choices=["tensorflow", "jax"],
                        help="Keras backend of the workers (default: current)")
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--overwrite", action="store_true",
                        help="delete an existing run in --directory first")
    search.add_argument("--no-xla", action="store_true", help="disable XLA compilation")
    search.add_argument("--quiet", action="store_true", help="print nothing")

    resume = commands.add_parser("resume", help="resume a stopped search",
                                 description="Resume the search stored in DIRECTORY.")
    resume.add_argument("directory")
    resume.add_argument("--generations", type=_positive_int,
                        help="raise the number of generations")
    resume.add_argument("--workers", type=_positive_int)
    resume.add_argument("--quiet", action="store_true")

    report = commands.add_parser(
        "report", help="summary table, plots and an HTML report of a run",
        description="Print the summary table, write PNG plots into DIRECTORY/report and a "
                    "self-contained page, DIRECTORY/report.html (nothing is trained).")
    report.add_argument("directory")
    report.add_argument("--top", type=_positive_int, default=10,
                        help="rows in the tables of best candidates (default: 10)")
    report.add_argument("--samples", type=_positive_int, default=4, metavar="K",
                        help="sample grids of the K best generators in the page (default: 4)")

    sample = commands.add_parser(
        "sample", help="generate images with a run's best generator",
        description="Write a PNG grid of images from the best generator of DIRECTORY.")
    sample.add_argument("directory")
    sample.add_argument("--n", type=_positive_int, default=64, help="number of images")
    sample.add_argument("--out", default="grid.png", help="output PNG path")
    sample.add_argument("--seed", type=int, default=0)
    return parser


def _search(args):
    if args.backend:
        os.environ.setdefault("KERAS_BACKEND", args.backend)
    if args.no_inherit_weights and args.strategy != "genetic":
        raise ValueError("--no-inherit-weights applies to --strategy genetic only: random "
                         "search never inherits weights.")
    result = search_lib.search(
        args.dataset, strategy=args.strategy, preset=args.preset,
        generations=args.generations, population=args.population,
        steps_per_candidate=args.steps_per_candidate, batch_size=args.batch_size,
        num_samples=args.num_samples, metric=args.metric, objectives=args.objectives,
        executor=args.executor, workers=args.workers, directory=args.directory,
        overwrite=args.overwrite, seed=args.seed, verbose=0 if args.quiet else 1,
        timeout=args.timeout, backend=args.backend, jit_compile=not args.no_xla,
        executor_options={"gpus": args.gpus} if args.gpus else None,
        strategy_options={"inherit_weights": False} if args.no_inherit_weights else None)
    if not args.quiet:
        print(result.summary())
    return 0


def resume_search(directory, generations=None, workers=None, verbose=1):
    """Resumes the search stored in `directory` with its own settings.

    Returns:
        The `SearchResult`.
    """
    from kgan_nas.data import KNOWN_DATASETS
    from kgan_nas.run import RunDirectoryError
    from kgan_nas.space import SearchSpace

    config = search_lib.SearchResult(directory).config
    missing = sorted({"dataset", "evaluation", "strategy", "space", "generations", "population",
                      "metric", "objectives", "seed", "strategy_options"} - set(config))
    if missing:
        raise RunDirectoryError(
            f"{directory}/config.json lacks {missing}, so the run cannot be resumed from its "
            "config; call kgan_nas.search with the original settings and directory instead.")
    evaluation = config["evaluation"]
    strategy = {"GeneticSearch": "genetic", "RandomSearch": "random"}.get(config["strategy"])
    if strategy is None:
        raise ValueError(
            f"The run used a custom strategy ({config['strategy']}); resume it from Python "
            "by calling kgan_nas.search with the same strategy object and directory.")
    dataset = config["dataset"]
    # Only a dataset *name* is taken from the config: a path stored there is never
    # opened (it could point anywhere); the user names the data again instead.
    if dataset not in KNOWN_DATASETS:
        raise ValueError(
            f"The run in {directory} searched the data set {dataset!r}, which is not a "
            f"named dataset ({', '.join(KNOWN_DATASETS)}), so `resume` cannot reload it. "
            f"Resume with `kgan-nas search --dataset PATH --directory {directory}` and the "
            "original settings, or kgan_nas.search(data, directory=...) in Python.")
    return search_lib.search(
        dataset, space=SearchSpace.from_dict(config["space"]), strategy=strategy,
        generations=generations or config["generations"], population=config["population"],
        steps_per_candidate=evaluation["steps"], batch_size=evaluation["batch_size"],
        num_samples=evaluation["num_samples"], metric=config["metric"],
        objectives=config["objectives"], directory=directory, seed=config["seed"],
        workers=workers, verbose=verbose, jit_compile=evaluation["jit_compile"],
        seconds_per_candidate=evaluation["seconds"],
        strategy_options=config["strategy_options"])


def _resume(args):
    result = resume_search(args.directory, args.generations, args.workers,
                           verbose=0 if args.quiet else 1)
    if not args.quiet:
        print(result.summary())
    return 0


def _report(args):
    from kgan_nas import html_report
    from kgan_nas import report

    result = search_lib.SearchResult(args.directory)
    print(result.summary(num_trials=args.top))
    plots = report.write_report(result)
    page = html_report.write_html_report(result, plots=plots, top_k=args.samples,
                                         num_rows=args.top)
    for path in plots + [page]:
        print(f"wrote {path}")
    return 0


def _sample(args):
    from kgan_nas import data

    result = search_lib.SearchResult(args.directory)
    images = result.sample(args.n, seed=args.seed)
    data.save_image_grid(images, args.out)
    print(f"wrote {args.out} ({args.n} images from candidate {result.best_record['key']})")
    return 0


def main(argv=None):
    """Entry point of the `kgan-nas` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"search": _search, "resume": _resume, "report": _report, "sample": _sample}
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as exc:
        # User mistakes get one clear line, not a traceback from deep inside.
        print(f"kgan-nas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = ("; run the same command again to resume (completed candidates are kept)"
                if args.command in ("search", "resume") else "")
        print(f"kgan-nas {args.command}: interrupted{hint}.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
