"""Benchmark: what DiffAugment and R1 add to a GAN train step.

For the Keras backend named by KERAS_BACKEND (TensorFlow by default), this
trains the DCGANs of `train_step.py` once per recipe, side by side in one
process: plain, `augment=` (the whole policy the images allow), `r1_weight=`
and both, and reports each one's median step time, its first-step overhead
(tracing + XLA compile) and its step time relative to the plain recipe.

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


def measure(size, name, recipe, args):
    """Trains one fresh GAN of `size` with `recipe`; returns its timings as a dict."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    generator, discriminator = SIZES[size]()
    gan = training.GAN(generator, discriminator, seed=0, **recipe)
    gan.compile(
        g_optimizer=training.make_optimizer("adam", 2e-4),
        d_optimizer=training.make_optimizer("adam", 2e-4),
        loss=args.loss,
        jit_compile=not args.no_xla,
    )
    data = RandomBatches(gan.image_shape, args.batch_size)
    row = _timed_fit(gan, data, args.steps, f"{size} {name}", not args.no_xla)
    return row | {"size": size, "recipe": name, "settings": recipe}


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
    parser.add_argument("--steps", type=int, default=30, help="train steps per run (default 30)")
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
        channels = SIZES[size]()[0].output_shape[-1]
        plain = None
        for name, recipe in recipes(channels).items():
            row = measure(size, name, recipe, args)
            plain = plain or row["median_step_s"]
            row["vs_plain"] = row["median_step_s"] / plain
            rows.append(row)
            print(f"{size} {name}: {1000 * row['median_step_s']:.1f} ms/step", flush=True)
    table = format_table(rows)
    print()
    print(table)
    write_result(
        f"recipe_step_{keras.backend.backend()}",
        {
            "benchmark": "recipe_step",
            "settings": {
                "steps": args.steps,
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
