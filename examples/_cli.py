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
    parser.add_argument(
        "--steps-per-candidate",
        "--steps",
        dest="steps",
        type=int,
        help="training steps per candidate (--steps is its old name)",
    )
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--num-samples", type=int, help="generated images scored per candidate")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--executor", default="subprocess", choices=["subprocess", "inprocess"])
    # The words of `kgan-nas search` (docs/vocabulary.md): --xla auto|on|off, and
    # --no-xla for --xla off.
    parser.add_argument(
        "--xla",
        choices=["auto", "on", "off"],
        default="auto",
        help="XLA-compile train steps: auto (default) decides per candidate",
    )
    parser.add_argument(
        "--no-xla", dest="xla", action="store_const", const="off", help="same as --xla off"
    )
    parser.add_argument(
        "--max-params",
        type=int,
        default=max_params,
        help="bound on generator + discriminator parameters"
        + ("" if max_params else " (default: none)"),
    )
    return parser


def search_options(args, **options):
    """The `kgan_nas.search` keyword arguments named by the flags of `add_search_arguments`.

    `options` are further `kgan_nas.SearchOptions` fields (e.g. `metric`).
    """
    return dict(
        preset=args.preset,
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps,
        directory=args.directory,
        final=None if args.no_final else "preset",
        options=kgan_nas.SearchOptions(
            batch_size=args.batch_size,
            num_samples=args.num_samples,
            jit_compile={"auto": "auto", "on": True, "off": False}[args.xla],
            **options,
        ),
        run=kgan_nas.RunSettings(workers=args.workers, executor=args.executor),
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
        result = kgan_nas.search(args.data, space=space, **search_options(args, metric=args.metric))
    except (RuntimeError, ValueError, FileNotFoundError, ImportError) as exc:
        # Offline, a wrong file, a wrong image shape, a missing extra: the message says
        # what to do.
        parser.exit(2, f"error: {exc}\n")
    print(result.summary())
    return result
