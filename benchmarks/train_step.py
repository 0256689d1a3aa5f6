"""Benchmark: GAN train-step time and compile time, XLA on vs off.

For the Keras backend named by KERAS_BACKEND (TensorFlow by default), this
trains three GAN sizes with `kgan_nas.training.GAN`, once with
`jit_compile=True` and once with `jit_compile=False`, side by side in one
process, and reports for each the first-step overhead (tracing + XLA compile,
minus a normal step) and the median step time, as measured by
`train_for_budget`.

With `--genomes N` it measures N genomes sampled from the digits search space
instead (built by `decode.build_gan`, as a search builds them), records each
one's multiply-adds per step (`step_macs`) and, on JAX, the compile phases JAX reports
(tracing, lowering, XLA compilation): the evidence behind `jit_compile="auto"`.

Usage:

    KERAS_BACKEND=tensorflow python benchmarks/train_step.py
    KERAS_BACKEND=jax python benchmarks/train_step.py --steps 10
    python benchmarks/train_step.py --genomes 8 --steps 40

It prints a table and writes `benchmarks/results/train_step_<backend>.json`
(`train_step_genomes_<backend>.json` with `--genomes`) with the numbers and the
machine they were measured on.
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import write_result  # noqa: E402

from kgan_nas import training  # noqa: E402

LATENT_DIM = 64


def small_mlp():
    """An MLP GAN on 28x28x1 images."""
    shape = (28, 28, 1)
    g = keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(int(np.prod(shape)), activation="tanh"),
            keras.layers.Reshape(shape),
        ],
        name="generator",
    )
    d = keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Flatten(),
            keras.layers.Dense(256),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    return g, d


def medium_dcgan():
    """A DCGAN on 28x28x1 images (7 -> 14 -> 28)."""
    g = keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(7 * 7 * 128),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Reshape((7, 7, 128)),
            keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
        ],
        name="generator",
    )
    d = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(64, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(128, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    return g, d


def large_dcgan():
    """A DCGAN on 32x32x3 images (4 -> 8 -> 16 -> 32)."""
    g = keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(4 * 4 * 256),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Reshape((4, 4, 256)),
            keras.layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh"),
        ],
        name="generator",
    )
    d = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(64, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(128, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(256, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )
    return g, d


SIZES = {"small_mlp": small_mlp, "medium_dcgan": medium_dcgan, "large_dcgan": large_dcgan}


class RandomBatches(keras.utils.PyDataset):
    """An endless stream of fixed-size batches cycling over random images."""

    def __init__(self, image_shape, batch_size, num_batches=4, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.batches = rng.uniform(-1, 1, (num_batches, batch_size) + tuple(image_shape)).astype(
            "float32"
        )

    def __len__(self):
        return 1_000_000

    def __getitem__(self, index):
        return self.batches[index % len(self.batches)]


def measure(size, jit_compile, args):
    """Trains one fresh GAN of `size`; returns its timings as a dict."""
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    generator, discriminator = SIZES[size]()
    gan = training.GAN(generator, discriminator, seed=0)
    gan.compile(
        g_optimizer=training.make_optimizer("adam", 2e-4),
        d_optimizer=training.make_optimizer("adam", 2e-4),
        loss=args.loss,
        jit_compile=jit_compile,
    )
    data = RandomBatches(gan.image_shape, args.batch_size)
    return _timed_fit(gan, data, args.steps, size, jit_compile) | {
        "size": size,
        "params": generator.count_params() + discriminator.count_params(),
    }


def measure_genome(genome, space, images, jit_compile, steps, batch_size):
    """Trains the GAN a search would build for `genome`; returns its timings."""
    from kgan_nas import data as data_lib
    from kgan_nas.evaluation import decode

    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    with _CompileEvents() as build_events:
        gan = decode.build_gan(genome, space, seed=0, jit_compile=jit_compile)
    inputs = data_lib.train_input(images, batch_size, seed=0)
    with _CompileEvents() as fit_events:
        row = _timed_fit(gan, inputs, steps, genome.key(), jit_compile)
    return row | {
        "size": genome.key(),
        "params": space.params(genome),
        "macs_per_step": step_macs(genome, space, batch_size),
        "kinds": sorted({gene.kind for gene in genome.generator + genome.discriminator}),
        "build_jax_compile_events_s": build_events.seconds,
        "fit_jax_compile_events_s": fit_events.seconds,
    }


def step_macs(genome, space, batch_size):
    """Multiply-adds of one forward pass of both networks over a batch: a size of the work.

    The sum over the planned layers of weights times the positions each
    weight is applied at (1 for dense layers), times `batch_size`.
    """
    from kgan_nas.core import genome as genome_lib

    total = 0
    for step in space.generator_plan(genome) + space.discriminator_plan(genome):
        if len(step.output_shape) != 3 or step.role == "project":
            total += step.params
            continue
        transpose = step.gene is not None and step.gene.kind == genome_lib.CONV2D_TRANSPOSE
        # A transposed convolution applies its kernel at every input position.
        height, width = (step.input_shape if transpose else step.output_shape)[:2]
        total += step.params * height * width
    return batch_size * total


def _timed_fit(gan, data, steps, name, jit_compile):
    report = training.train_for_budget(gan, data, steps=steps)
    if report.status != "ok":
        raise RuntimeError(f"{name} (jit_compile={jit_compile}): {report}")
    return {
        "jit_compile": jit_compile,
        "steps": report.steps,
        "first_step_overhead_s": report.compile_seconds,
        "median_step_s": report.step_seconds,
        "fit_seconds": report.seconds,
    }


class _CompileEvents:
    """Sums JAX's compile-phase durations (trace, lower to MLIR, XLA compile) in a block.

    Empty on TensorFlow, which reports no such events.
    """

    _active = []
    _listening = False

    def __enter__(self):
        self.seconds = {}
        if keras.backend.backend() == "jax" and not _CompileEvents._listening:
            import jax

            jax.monitoring.register_event_duration_secs_listener(_CompileEvents._listen)
            _CompileEvents._listening = True
        _CompileEvents._active.append(self)
        return self

    def __exit__(self, *exc):
        _CompileEvents._active.remove(self)
        self.seconds = {key: round(value, 4) for key, value in self.seconds.items()}

    @staticmethod
    def _listen(event, duration, **kwargs):
        if "/jax/core/compile/" in event:
            for block in _CompileEvents._active:
                name = event.rsplit("/", 1)[-1].removesuffix("_duration")
                block.seconds[name] = block.seconds.get(name, 0.0) + duration


def format_table(rows):
    """A plain-text table with one line per size, XLA next to non-XLA."""
    by_key = {(r["size"], r["jit_compile"]): r for r in rows}
    header = (
        f"{'size':<17} {'params':>9}  {'XLA 1st-step s':>14} "
        f"{'XLA step ms':>11}  {'no-XLA 1st-step s':>17} "
        f"{'no-XLA step ms':>14}  {'step speedup':>12}"
    )
    lines = [header, "-" * len(header)]
    for size in dict.fromkeys(r["size"] for r in rows):
        xla, plain = by_key[(size, True)], by_key[(size, False)]
        speedup = plain["median_step_s"] / xla["median_step_s"]
        lines.append(
            f"{size:<17} {xla['params']:>9,}  "
            f"{xla['first_step_overhead_s']:>14.2f} "
            f"{1e3 * xla['median_step_s']:>11.2f}  "
            f"{plain['first_step_overhead_s']:>17.2f} "
            f"{1e3 * plain['median_step_s']:>14.2f}  {speedup:>11.2f}x"
        )
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        choices=sorted(SIZES),
        default=list(SIZES),
        help="model sizes to measure",
    )
    parser.add_argument(
        "--steps", type=int, default=8, help="train steps per run (>= 2; default 8)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument(
        "--loss", choices=training.LOSSES, default="non_saturating", help="GAN loss"
    )
    parser.add_argument(
        "--genomes",
        type=int,
        default=0,
        help="measure this many genomes sampled from the digits space instead of --sizes",
    )
    parser.add_argument(
        "--max-params", type=int, default=150_000, help="the genomes' space (quick preset's)"
    )
    parser.add_argument(
        "--no-xla-steps",
        type=int,
        default=None,
        help="steps of the runs without XLA (default --steps; JAX runs them eagerly, slowly)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the genome sampling")
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=None,
        help="JSON path (default: benchmarks/results/train_step_<backend>.json)",
    )
    args = parser.parse_args(argv)
    if args.steps < 2 or (args.no_xla_steps is not None and args.no_xla_steps < 2):
        parser.error("--steps and --no-xla-steps must be >= 2 to separate compile from step time")
    return args


def measure_genomes(args):
    """Rows for `args.genomes` distinct genomes, XLA and no XLA side by side."""
    from kgan_nas import data as data_lib
    from kgan_nas.core.space import SearchSpace

    data = data_lib.load_dataset("digits", seed=0)
    space = SearchSpace(image_shape=data.image_shape, max_params=args.max_params)
    rng = np.random.default_rng(args.seed)
    genomes = {}
    while len(genomes) < args.genomes:
        genome = space.sample(rng)
        genomes.setdefault(genome.key(), genome)
    rows = []
    for genome in genomes.values():
        for jit_compile in (True, False):
            steps = args.steps if jit_compile else (args.no_xla_steps or args.steps)
            row = measure_genome(genome, space, data, jit_compile, steps, args.batch_size)
            rows.append(row)
            _say(row)
    return rows


def _say(row):
    print(
        f"measured {row['size']} jit_compile={row['jit_compile']}: "
        f"first step overhead {row['first_step_overhead_s']:.2f} s, "
        f"median step {1e3 * row['median_step_s']:.2f} ms",
        flush=True,
    )


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    backend = keras.backend.backend()
    rows = []
    if args.genomes:
        rows = measure_genomes(args)
    for size in [] if args.genomes else args.sizes:
        for jit_compile in (True, False):
            rows.append(measure(size, jit_compile, args))
            _say(rows[-1])
    table = format_table(rows)
    print()
    print(table)
    write_result(
        f"train_step_genomes_{backend}" if args.genomes else f"train_step_{backend}",
        {
            "benchmark": "train_step",
            "settings": {
                "steps": args.steps,
                "no_xla_steps": args.no_xla_steps or args.steps,
                "genomes": args.genomes,
                "max_params": args.max_params if args.genomes else None,
                "batch_size": args.batch_size,
                "loss": args.loss,
                "latent_dim": LATENT_DIM,
            },
            "results": rows,
            "table": table,
        },
        path=args.output,
    )


if __name__ == "__main__":
    main()
