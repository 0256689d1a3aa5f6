"""The `kgan-nas finalize` command: its options and its call of `kgan_nas.finalize`.

Kept beside `cli.py` (which holds the other commands) so that each module
stays small; like `cli.py` it parses arguments and nothing else.
"""

import argparse

from kgan_nas import config as config_lib


def final_help():
    """`--no-final`'s help: what the final stage is under each preset."""
    described = "; ".join(
        f"{name}: top {final['top_k']} x {final['seeds']} seeds x {final['steps']} steps"
        for name, final in config_lib.FINAL_PRESETS.items()
    )
    return (
        "skip the final stage: the search's top genomes retrained longer with several "
        f"seeds and a weight average, scored on held-out images ({described}; other "
        "presets: none)"
    )


def add_finalize_command(
    commands, formatter_class, positive_int, non_negative_int, fraction, console_flags
):
    """Adds `finalize` to the `kgan-nas` sub-commands.

    Args:
        commands: The sub-parsers object of the main parser.
        formatter_class: The help formatter of the other commands.
        positive_int: The argparse type of a positive integer.
        non_negative_int: The argparse type of an integer >= 0.
        fraction: The argparse type of a number in [0, 1).
        console_flags: Adds `--verbose` / `--debug` to a parser.
    """
    finalize = commands.add_parser(
        "finalize",
        formatter_class=formatter_class,
        help="retrain a run's top genomes longer and score them on held-out images",
        description="Run (or finish) the final stage on DIRECTORY: the top genomes of the "
        "search retrained from scratch with several seeds and a moving average of the "
        "generator's weights, scored on the held-out split; writes DIRECTORY/final/. "
        "Options left out keep the run's stored final stage (or the default preset's). "
        "Running it again resumes: finished runs with the same settings are kept.",
    )
    finalize.add_argument("directory", help="the run directory of a search")
    for option, text in (
        ("--top-k", "genomes to retrain, the search's best first"),
        ("--seeds", "training runs per genome"),
        ("--steps", "training steps per run"),
        ("--num-samples", "generated images scored per run (default: 2x the search's)"),
    ):
        finalize.add_argument(option, type=positive_int, metavar="N", help=text)
    finalize.add_argument(
        "--ema-decay", type=fraction, metavar="D", help="decay of the generator's weight average"
    )
    finalize.add_argument(
        "--distinct-lineages",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="retrain each weight lineage's best genome first instead of the plain top "
        "genomes (default: the run's stored setting, else off)",
    )
    finalize.add_argument(
        "--probes",
        type=non_negative_int,
        metavar="N",
        help="genomes retrained once each beside the finalists, at evenly spaced places of "
        "the search's ranking, to measure how well the search's score predicts the final "
        "one (Spearman, in the summary and the report; never the answer; default: 0)",
    )
    finalize.add_argument(
        "--pack-seeds",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train a genome's seeds together as one packed program where the backend "
        "allows it (KERAS_BACKEND=jax), or never (--no-pack-seeds); default: the run's "
        "stored setting, else 'auto', which packs only with an accelerator",
    )
    finalize.add_argument(
        "--continue-training",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start each finalist from the weights its search candidate ended with and "
        "train the rest of --steps (equal steps in all), instead of from scratch; "
        "default: the run's stored setting, else off",
    )
    finalize.add_argument("--quiet", action="store_true", help="print nothing")
    console_flags(finalize)


def finalize_command(args):
    """Runs `kgan_nas.finalize` for parsed `finalize` arguments; returns 0."""
    from kgan_nas.final.stage import finalize

    finalize(
        args.directory,
        top_k=args.top_k,
        seeds=args.seeds,
        steps=args.steps,
        ema_decay=args.ema_decay,
        num_samples=args.num_samples,
        distinct_lineages=args.distinct_lineages,
        probes=args.probes,
        pack_seeds=args.pack_seeds,
        continue_training=args.continue_training,
        verbose=0 if args.quiet else 1,
    )
    return 0
