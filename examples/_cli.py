"""The command line the search examples share: one set of budget flags, one way to pass them on."""

import argparse

import kgan_nas
from kgan_nas.config import PRESETS


def add_search_arguments(parser, directory, preset="default", max_params=None):
    """Adds the run-directory, preset, budget and executor flags every search example takes.

    Args:
        parser: an `argparse.ArgumentParser`.
        directory: default run directory.
        preset: default preset, a name in `kgan_nas.config.PRESETS`.
        max_params: default bound on generator + discriminator parameters (None: no bound).

    Returns:
        The parser, for chaining.
    """
    parser.add_argument("--directory", default=directory, help="run directory")
    parser.add_argument("--preset", default=preset, choices=list(PRESETS))
    parser.add_argument(
        "--no-final", action="store_true", help="skip the final training of the top genomes"
    )
    parser.add_argument("--generations", type=int)
    parser.add_argument("--population", type=int)
    parser.add_argument("--steps", type=int, help="training steps per candidate")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--num-samples", type=int, help="generated images scored per candidate")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--executor", default="subprocess", choices=["subprocess", "inprocess"])
    parser.add_argument(
        "--no-xla", action="store_true", help="skip XLA compilation (faster start, slower steps)"
    )
    parser.add_argument(
        "--max-params",
        type=int,
        default=max_params,
        help="bound on generator + discriminator parameters"
        + ("" if max_params else " (default: none)"),
    )
    return parser


def search_options(args):
    """The `kgan_nas.search` keyword arguments named by the flags of `add_search_arguments`."""
    return dict(
        preset=args.preset,
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
        workers=args.workers,
        executor=args.executor,
        jit_compile=False if args.no_xla else "auto",
        directory=args.directory,
        final=None if args.no_final else "preset",
    )


def run_named_dataset(dataset, image_shape, description, argv=None, offline=None):
    """Command line of the MNIST / Fashion-MNIST / CIFAR-10 examples: parse, search, summarise.

    `offline` names a dataset of the same image shape that needs no download
    (for MNIST: `"mnist_5k"`), mentioned in `--data`'s help.
    """
    parser = add_search_arguments(
        argparse.ArgumentParser(description=description), directory=f"runs/{dataset}"
    )
    parser.add_argument(
        "--data",
        default=dataset,
        help=f"{dataset!r} downloads through keras.datasets (needs internet); "
        + (f"{offline!r} needs no download; " if offline else "")
        + "or pass a local .npz (e.g. the file keras.datasets downloads, "
        "with x_train/y_train/x_test/y_test) or an image folder",
    )
    parser.add_argument("--metric", default="fid_domain", choices=["fid_domain", "fid_inception"])
    args = parser.parse_args(argv)
    try:
        space = kgan_nas.SearchSpace(image_shape=image_shape, max_params=args.max_params)
        result = kgan_nas.search(args.data, space=space, metric=args.metric, **search_options(args))
    except (RuntimeError, ValueError, FileNotFoundError, ImportError) as exc:
        # Offline, a wrong file, a wrong image shape, a missing extra: the message says
        # what to do.
        parser.exit(2, f"error: {exc}\n")
    print(result.summary())
    return result
