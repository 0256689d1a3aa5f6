"""Benchmark: what DiffAugment and R1 add to a GAN train step.

For the Keras backend named by KERAS_BACKEND (TensorFlow by default), this
builds the DCGANs of `train_step.py` once per recipe, in one process: plain,
`augment=` (the whole policy the images allow), `r1_weight=` and both. After
each one's first (compiling) step, it trains them in turns, `--rounds` rounds
of `--steps` steps each, so that a busy machine slows every recipe alike, and
reports per recipe the median over rounds of the median step time, and the
median over rounds of its step time relative to the plain recipe's in the
same round.

Usage:

    python benchmarks/recipe_step.py
    KERAS_BACKEND=jax python benchmarks/recipe_step.py --steps 20 --sizes medium_dcgan

It prints a table and writes `benchmarks/results/recipe_step_<backend>.json`
with the numbers and the machine they were measured on.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import write_result  # noqa: E402
from train_step import SIZES  # noqa: E402
from train_step import RandomBatches  # noqa: E402
from train_step import _timed_fit  # noqa: E402

from kgan_nas import training  # noqa: E402

R1_WEIGHT = 0.2


def recipes(channels):
    """The recipes compared: name -> GAN keyword arguments."""
    policy = "color,translation,cutout" if channels == 3 else "translation,cutout"
    return {
        "plain": {},
        "augment": {"augment": policy},
        "r1": {"r1_weight": R1_WEIGHT},
        "augment+r1": {"augment": policy, "r1_weight": R1_WEIGHT},
    }


def build(size, recipe, args):
    """A fresh, compiled GAN of `size` with `recipe`."""
    keras.utils.set_random_seed(0)
    generator, discriminator = SIZES[size]()
    gan = training.GAN(generator, discriminator, seed=0, **recipe)
    gan.compile(
        g_optimizer=training.make_optimizer("adam", 2e-4),
        d_optimizer=training.make_optimizer("adam", 2e-4),
        loss=args.loss,
        jit_compile=not args.no_xla,
    )
    return gan


def measure_size(size, args):
    """Rows for every recipe of `size`: compile once, then time the recipes in turns."""
    keras.utils.clear_session()
    channels = SIZES[size]()[0].output_shape[-1]
    runs = {}
    for name, recipe in recipes(channels).items():
        gan = build(size, recipe, args)
        data = RandomBatches(gan.image_shape, args.batch_size)
        first = _timed_fit(gan, data, 2, f"{size} {name}", not args.no_xla)
        runs[name] = (gan, data, recipe, first["first_step_overhead_s"], [])
    for round_ in range(args.rounds):
        names = list(runs)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in names:
            gan, data, *_, times = runs[name]
            times.append(_timed_fit(gan, data, args.steps, name, not args.no_xla)["median_step_s"])
    plain = runs["plain"][-1]
    rows = []
    for name, (_, _, recipe, overhead, times) in runs.items():
        ratios = [t / p for t, p in zip(times, plain)]
        rows.append(
            {
                "size": size,
                "recipe": name,
                "settings": recipe,
                "first_step_overhead_s": overhead,
                "round_median_step_s": times,
                "median_step_s": float(np.median(times)),
                "vs_plain": float(np.median(ratios)),
            }
        )
        print(f"{size} {name}: {1000 * rows[-1]['median_step_s']:.1f} ms/step", flush=True)
    return rows


def format_table(rows):
    """One line per size and recipe, with the step time relative to the plain recipe."""
    header = f"{'size':<14}{'recipe':<12}{'median step ms':>16}{'vs plain':>10}"
    lines = [header + f"{'first step s':>14}"]
    for row in rows:
        lines.append(
            f"{row['size']:<14}{row['recipe']:<12}{1000 * row['median_step_s']:>16.1f}"
            f"{row['vs_plain']:>10.2f}{row['first_step_overhead_s']:>14.1f}"
        )
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["medium_dcgan", "large_dcgan"],
        choices=sorted(SIZES),
        help="GANs to measure (default: medium_dcgan large_dcgan)",
    )
    parser.add_argument("--steps", type=int, default=10, help="steps per round (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of turns (default 5)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument(
        "--loss", default="non_saturating", choices=["non_saturating", "hinge"], help="GAN loss"
    )
    parser.add_argument("--no-xla", action="store_true", help="jit_compile=False")
    parser.add_argument("--output", help="result file (default benchmarks/results/...)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    rows = []
    for size in args.sizes:
        rows += measure_size(size, args)
    table = format_table(rows)
    print()
    print(table)
    write_result(
        f"recipe_step_{keras.backend.backend()}",
        {
            "benchmark": "recipe_step",
            "settings": {
                "steps_per_round": args.steps,
                "rounds": args.rounds,
                "batch_size": args.batch_size,
                "loss": args.loss,
                "jit_compile": not args.no_xla,
                "r1_weight": R1_WEIGHT,
            },
            "results": rows,
            "table": table,
        },
        path=args.output,
    )


if __name__ == "__main__":
    main()
