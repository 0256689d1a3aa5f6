"""Train a GAN on 8x8 digits with model.fit and kgan_nas callbacks (offline, a few minutes on CPU).

    python examples/fit_with_callbacks.py --output runs/fit-digits --epochs 10

kgan_nas.callbacks.GANMetrics writes the domain FID / KID / IS into the epoch logs, so
plain Keras callbacks use them: EarlyStopping and ModelCheckpoint monitor `fid_domain`,
CSVLogger (and TensorBoard, when installed) record it. SampleGrid saves a grid of the
same latents every epoch, and EvolveArchitecture tries mutated architectures every few
epochs and swaps in a child that scores better. Everything lands in --output:
metrics.csv, best.keras, samples/epoch_*.png, tensorboard/.
"""

import argparse
import importlib.util
import os
import time

import numpy as np

import kgan_nas
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes


def starting_genome():
    """A small DCGAN for 8x8: 2x2 projection, two upsample + conv blocks; strided-conv D."""
    return Genome(
        generator=(
            LayerGene("upsample_conv2d", 64, 3, activation="relu", norm="layer"),
            LayerGene("upsample_conv2d", 32, 3, activation="relu", norm="layer"),
        ),
        discriminator=(
            LayerGene("conv2d", 64, 3, stride=2, activation="leaky_relu"),
            LayerGene("conv2d", 128, 3, stride=2, activation="leaky_relu"),
        ),
        training=TrainingGenes("adam", 2e-4, 2e-4, 0.5, 0.999, "non_saturating"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        default="runs/fit-with-callbacks",
        help="folder for the checkpoint, CSV log, sample grids and TensorBoard",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--num-samples", type=int, default=1000, help="generated images per FID measurement"
    )
    parser.add_argument(
        "--patience", type=int, default=4, help="EarlyStopping patience, in measured epochs"
    )
    parser.add_argument(
        "--evolve-every",
        type=int,
        default=4,
        help="EvolveArchitecture period in epochs (0: no architecture search)",
    )
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--steps-per-child", type=int, default=150)
    parser.add_argument(
        "--no-xla",
        action="store_true",
        help="train without XLA (compiles faster; steps run slower)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from kgan_nas import callbacks as kcallbacks
    from kgan_nas import data as data_lib
    from kgan_nas import training
    from kgan_nas.evaluation import decode

    started = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    data = data_lib.load_dataset("digits", seed=args.seed)
    space = kgan_nas.SearchSpace(
        image_shape=data.image_shape, latent_dim=32, max_start_size=2, max_params=300_000
    )
    genome = space.repair(starting_genome())
    gan = kgan_nas.GAN(*decode.build_models(genome, space), seed=args.seed)
    genes = genome.training
    gan.compile(
        g_optimizer=training.make_optimizer(genes.optimizer, genes.g_learning_rate),
        d_optimizer=training.make_optimizer(genes.optimizer, genes.d_learning_rate),
        loss=genes.loss,
        jit_compile=not args.no_xla,
    )

    os.makedirs(args.output, exist_ok=True)
    callbacks = []
    if args.evolve_every:
        # First, so the callbacks after it see the architecture that goes on training.
        callbacks.append(
            kcallbacks.EvolveArchitecture(
                space,
                genome,
                data,
                every_n_epochs=args.evolve_every,
                children=args.children,
                steps_per_child=args.steps_per_child,
                batch_size=args.batch_size,
                num_samples=args.num_samples,
                seed=args.seed,
            )
        )
    callbacks += [
        kcallbacks.GANMetrics(data, num_samples=args.num_samples, seed=args.seed),
        kcallbacks.SampleGrid(os.path.join(args.output, "samples"), n=64, seed=args.seed),
        keras.callbacks.EarlyStopping(monitor="fid_domain", mode="min", patience=args.patience),
        keras.callbacks.ModelCheckpoint(
            os.path.join(args.output, "best.keras"),
            monitor="fid_domain",
            mode="min",
            save_best_only=True,
        ),
        keras.callbacks.CSVLogger(os.path.join(args.output, "metrics.csv")),
    ]
    if importlib.util.find_spec("tensorboard") is None:  # Keras' TensorBoard callback needs it
        print(
            "tensorboard is not installed: skipping the TensorBoard callback "
            "(pip install tensorboard)."
        )
    else:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(args.output, "tensorboard")))

    history = gan.fit(
        data_lib.train_input(data.train, args.batch_size, seed=args.seed),
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        callbacks=callbacks,
        verbose=2,
        shuffle=False,
    )

    logs = history.history
    print(
        f"\n{'epoch':>5}  {'fid_domain':>10}  {'kid_domain':>10}  {'is_domain':>9}"
        + ("  arch_generation" if "arch_generation" in logs else "")
    )
    measured = iter(zip(logs["fid_domain"], logs["kid_domain"], logs["is_domain"]))
    for index, epoch in enumerate(history.epoch):
        # Every epoch is measured here (every_n_epochs=1), so the lists line up.
        fid, kid, inception = next(measured)
        line = f"{epoch + 1:>5}  {fid:>10.3f}  {kid:>10.4f}  {inception:>9.3f}"
        if "arch_generation" in logs:
            line += f"  {logs['arch_generation'][index]:>15}"
        print(line)
    best = int(np.argmin(logs["fid_domain"]))
    print(
        f"Best fid_domain {logs['fid_domain'][best]:.3f} after epoch {best + 1}, saved in "
        f"{os.path.join(args.output, 'best.keras')}; architecture now "
        f"{callbacks[0].genome.describe() if args.evolve_every else genome.describe()}"
    )
    print(f"Wall time {time.perf_counter() - started:.0f} s")
    return history


if __name__ == "__main__":
    main()
