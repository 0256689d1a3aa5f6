"""Hand-designed GANs trained and scored exactly like the final stage of a search.

Two baselines, each at a listed set of learning rates:

* `dcgan`: the keras.io DCGAN for MNIST ("GAN overriding `Model.train_step`"):
  G = Dense(s*s*128) -> LeakyReLU -> Reshape -> 2 x [Conv2DTranspose(128, 4,
  stride 2) -> LeakyReLU(0.2)] -> Conv2D(C, 7, tanh), starting at a quarter
  of the image side (7x7 for 28x28); D = Conv2D(64, 3, stride 2) ->
  LeakyReLU(0.2) -> Conv2D(128, 3, stride 2) -> LeakyReLU(0.2) ->
  GlobalMaxPooling2D -> Dense(1); latent 128.
* `mlp`: G = Dense(256) -> LeakyReLU -> Dense(512) -> LeakyReLU ->
  Dense(H*W*C, tanh); D = Dense(512) -> LeakyReLU -> Dense(256) ->
  LeakyReLU -> Dense(1); latent 64.

Both use the non-saturating loss and Adam(beta_1=0.5) at the same rate for G
and D. Each (model, rate, seed) trains through `kgan_nas.final.job.
train_and_score`, the final stage's own path: same steps, batch size,
weight average (EMA), number of scored samples, held-out reference split
and feature extractor. With `--run RUN_DIR` the data split and extractor
are that search's; otherwise `--dataset` is split with `--seed` as a search
with that seed splits it. The rate with the lowest mean held-out FID is
each model's result (among the rates with the most successful runs); it is
chosen on the held-out split, which favours the
baselines (a searched genome's rate was chosen on the eval split).

With `--recipe-dcgan-lrs` / `--recipe-mlp-lrs`, each model is also trained
with the training recipe that `recipe_ablation.py` measured (`RECIPE`:
DiffAugment, R1, two discriminator steps and, for the DCGAN, a minibatch-std
channel), reported as `dcgan+recipe` / `mlp+recipe`: the hand-designed bar
for a search in `SearchSpace.with_recipe()`.

Finished runs are kept under `--runs` and reused when the script runs again.

    python benchmarks/baselines.py --dataset mnist_5k --steps 2000 --seeds 2
    python benchmarks/baselines.py --run runs/study/mnist_5k_seed0 --steps 2000

Writes `benchmarks/results/baselines.json` (or `--output`).
"""

import argparse
import glob
import json
import os
import statistics

from _common import write_result

from kgan_nas.core import zoo

MODELS = ("dcgan", "mlp")
LEARNING_RATES = {"dcgan": (1e-4, 2e-4, 5e-4), "mlp": (2e-4, 1e-3)}
# The four levers that together cut the DCGAN's held-out FID by a third in
# 10 of 10 seeds (results/recipe_ablation_gpu.json, lever `all`). The first
# three are the README's recommended `kgan_nas.GAN` arguments; minibatch std
# is a discriminator layer; the weight average (EMA) is `--ema-decay`. The
# zoo's recipe (`kgan_nas.core.zoo.RECIPE`) without its EMA, plus minibatch std.
RECIPE = dict(
    {key: value for key, value in zoo.RECIPE.items() if key != "ema_decay"}, minibatch_std=True
)


def recipe_options(model):
    """`RECIPE` as `train_one` options for `model`.

    The MLP's discriminator flattens the image first, so it has no feature
    map for a minibatch-std channel: it gets the other three levers.
    """
    if model == "dcgan":
        return dict(RECIPE)
    return {key: value for key, value in RECIPE.items() if key != "minibatch_std"}


def dcgan(image_shape, minibatch_std=False):
    """The keras.io MNIST DCGAN pair for `image_shape` (sides divisible by 4).

    With `minibatch_std`, the discriminator gets ProGAN's minibatch
    standard-deviation channel before its pooling (`recipe_ablation.py`).
    """
    import keras
    from keras import layers

    height, width, channels = image_shape
    if height % 4 or width % 4:
        raise ValueError(f"dcgan needs image sides divisible by 4, got {image_shape}.")
    extra = []
    if minibatch_std:
        from kgan_nas.training.layers import MinibatchStd

        extra = [MinibatchStd()]
    latent = 128
    generator = keras.Sequential(
        [
            keras.Input((latent,)),
            layers.Dense(height // 4 * width // 4 * 128),
            layers.LeakyReLU(0.2),
            layers.Reshape((height // 4, width // 4, 128)),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(channels, 7, padding="same", activation="tanh"),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input(image_shape),
            layers.Conv2D(64, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(128, 3, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            *extra,
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )
    return generator, discriminator


def mlp(image_shape):
    """A fully connected GAN pair for `image_shape`."""
    import keras
    from keras import layers

    size = image_shape[0] * image_shape[1] * image_shape[2]
    generator = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(256),
            layers.LeakyReLU(0.2),
            layers.Dense(512),
            layers.LeakyReLU(0.2),
            layers.Dense(size, activation="tanh"),
            layers.Reshape(image_shape),
        ],
        name="generator",
    )
    discriminator = keras.Sequential(
        [
            keras.Input(image_shape),
            layers.Flatten(),
            layers.Dense(512),
            layers.LeakyReLU(0.2),
            layers.Dense(256),
            layers.LeakyReLU(0.2),
            layers.Dense(1),
        ],
        name="discriminator",
    )
    return generator, discriminator


def data_and_reference(args):
    """The data, the reference (held-out features) and a label of where they came from."""
    from kgan_nas import features
    from kgan_nas.config import SearchConfig
    from kgan_nas.final.job import make_reference
    from kgan_nas.final.stage import run_data
    from kgan_nas.store.cache import cache_root
    from kgan_nas.store.run_dir import RunDir

    if args.run:
        run = RunDir(args.run)
        config = SearchConfig.from_dict(run.config())
        data = run_data(config)
        extractor = features.DomainExtractor.load(run.file("extractor.keras"))
        source = {"run": args.run, "dataset": config.dataset, "seed": config.seed}
    else:
        from kgan_nas import data as data_lib

        data = data_lib.load_dataset(
            args.dataset, seed=args.seed, holdout_fraction=args.holdout_fraction
        )
        extractor = features.DomainExtractor.for_data(
            data.train,
            data.train_labels,
            cache_dir=os.path.join(cache_root(), "extractors"),
            fingerprint=data.fingerprint(),
        )
        source = {"dataset": args.dataset, "seed": args.seed}
    if data.holdout is None:
        raise SystemExit("The data has no held-out split; use --holdout-fraction > 0.")
    source.update(
        fingerprint=data.fingerprint(),
        holdout_images=int(len(data.holdout)),
        extractor=extractor_id(extractor),
    )
    check_extractor(args.runs, source["extractor"])
    return data, make_reference(extractor, data.holdout, args.num_samples, seed=0), source


def train_one(
    model, rate, seed_index, data, reference, args, options=None, variant=None, train=True
):
    """One (model, rate, seed) run: reused from `--runs` when it finished before.

    Args:
        model, rate, seed_index: Which baseline, its learning rate, which seed.
        data, reference: From `data_and_reference`.
        args: The parsed options (`steps`, `batch_size`, `ema_decay`, ...).
        options: Training-recipe options (`recipe_ablation.py`): `kgan_nas.GAN`
            arguments (`augment`, `augment_probability`, `r1_weight`,
            `d_steps`) and `minibatch_std` for the DCGAN's discriminator.
            A run with options records them; one without keeps the record
            (and reuse) it had before they existed.
        variant: A name for `options`, appended to the run's folder. The
            seed, hence the data order and the generator's initial weights,
            do not depend on it, so variants of one seed start from the same
            point (the discriminator too, unless `minibatch_std` changes
            its shapes).
        train: False to only read back a finished run (None when there is
            none), e.g. to report what a device machine finished in time.
    """
    import keras

    import kgan_nas
    from kgan_nas.evaluation.evaluator import candidate_seed
    from kgan_nas.final.job import train_and_score
    from kgan_nas.training import make_optimizer

    options = dict(options or {})
    base_name = f"{model}_lr{rate:g}_seed{seed_index}"
    name = base_name + (f"_{variant}" if variant else "")
    folder = os.path.join(args.runs, name)
    job = {
        "model": model,
        "learning_rate": rate,
        "seed_index": seed_index,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "ema_decay": args.ema_decay,
        "num_samples": args.num_samples,
        "fingerprint": data.fingerprint(),
    }
    if options:
        job["options"] = options
    path = os.path.join(folder, "record.json")
    if os.path.isfile(path):
        with open(path) as stream:
            record = json.load(stream)
        if all(record.get(key) == value for key, value in job.items()):
            return record
    if not train:
        return None
    seed = candidate_seed(f"baseline-{seed_index}", base_name)
    keras.utils.set_random_seed(seed)
    gan_options = {key: value for key, value in options.items() if key != "minibatch_std"}
    if options.get("minibatch_std"):
        if model != "dcgan":
            raise ValueError(f"minibatch_std is a DCGAN option; {model!r} has no feature map.")
        generator, discriminator = dcgan(data.image_shape, minibatch_std=True)
    else:
        generator, discriminator = {"dcgan": dcgan, "mlp": mlp}[model](data.image_shape)
    gan = kgan_nas.GAN(generator, discriminator, seed=seed, ema_decay=args.ema_decay, **gan_options)
    gan.compile(
        g_optimizer=make_optimizer("adam", rate, beta_1=0.5),
        d_optimizer=make_optimizer("adam", rate, beta_1=0.5),
        loss="non_saturating",
        jit_compile=jit_compile_for(args),
    )
    record = train_and_score(gan, data.train, dict(job, training_seed=seed), reference, folder)
    print(f"  {name}: {record['status']}, held-out FID {record.get('fid')}", flush=True)
    return record


def extractor_id(extractor):
    """A fingerprint of the extractor's weights: equal only for the same extractor."""
    from kgan_nas.store.cache import arrays_fingerprint

    weights = extractor.classifier.get_weights()
    return arrays_fingerprint([(f"w{index}", w, "<f4") for index, w in enumerate(weights)])


def check_extractor(runs, identity):
    """Refuses to mix FIDs of two extractors in one `--runs` folder.

    Finished runs are reused by their training facts, which do not name the
    extractor that scored them; two searches of one data split (say, in the
    plain and the recipe space) share an extractor only when its weights are
    the same. The first use of an empty folder writes `<runs>/extractor.json`
    (the weights' fingerprint); a later use with other weights stops with
    the fix, and so does a folder with runs but no such file.

    Args:
        runs: The `--runs` folder.
        identity: `extractor_id` of the extractor that scores this time.

    Raises:
        SystemExit: when the folder's runs were, or may have been, scored
            with another extractor.
    """
    path = os.path.join(runs, "extractor.json")
    if os.path.isfile(path):
        with open(path) as stream:
            known = json.load(stream).get("weights")
        if known != identity:
            raise SystemExit(
                f"{runs} holds baseline runs scored by the extractor {known}, but this data's "
                f"extractor is {identity}: their FIDs are not comparable. Use another --runs "
                "folder."
            )
        return
    if glob.glob(os.path.join(runs, "*", "record.json")):
        raise SystemExit(
            f"{runs} holds baseline runs but no extractor.json, so which extractor scored "
            f"them is unknown. If it was this one, write {path} as "
            f'{{"weights": "{identity}"}}; otherwise use another --runs folder.'
        )
    from kgan_nas.store.atomic import atomic_write_json

    os.makedirs(runs, exist_ok=True)
    atomic_write_json(path, {"weights": identity})


def jit_compile_for(args):
    """`--xla` as the bool `GAN.compile` receives (`auto` by kgan_nas's own rule)."""
    from kgan_nas.training.compile_choice import resolve_jit_compile

    return resolve_jit_compile({"auto": "auto", "on": True, "off": False}[args.xla], args.steps)


def summarise(records):
    """Per (model, rate): mean ± std of the held-out FID; per model: its best rate.

    The best rate is chosen as the final stage chooses a genome: the most
    successful runs first, then the lowest mean.
    """
    groups = {}
    for record in records:
        groups.setdefault((record["model"], record["learning_rate"]), []).append(record)
    rows = []
    for (model, rate), runs in sorted(groups.items()):
        ok = [r for r in runs if r["status"] == "ok" and r.get("fid") is not None]
        fids = [r["fid"] for r in ok]
        live = [r["fid_live"] for r in ok if r.get("fid_live") is not None]
        rows.append(
            {
                "model": model,
                "learning_rate": rate,
                "fids": fids,
                "failed": len(runs) - len(fids),
                "fid_mean": statistics.fmean(fids) if fids else None,
                "fid_std": statistics.stdev(fids) if len(fids) > 1 else (0.0 if fids else None),
                # The same runs' last weights, without the average (EMA's effect).
                "fids_live": live,
                "fid_live_mean": statistics.fmean(live) if live else None,
                "seconds": [r.get("seconds") for r in runs],
            }
        )
    best = {}
    for row in rows:
        if row["fid_mean"] is None:
            continue
        rank = (-len(row["fids"]), row["fid_mean"])  # as the final stage ranks genomes
        other = best.get(row["model"])
        if other is None or rank < (-len(other["fids"]), other["fid_mean"]):
            best[row["model"]] = row
    return rows, best


def run_baselines(args):
    """Trains every (model, rate, seed) not finished yet; returns the report dict.

    `args.recipe_learning_rates` (model -> rates, may be empty) adds each
    model with `recipe_options`, summarised as `<model>+recipe`.
    """
    data, reference, source = data_and_reference(args)
    records = []
    for model in args.models:
        for rate in args.learning_rates.get(model, LEARNING_RATES[model]):
            for seed_index in range(args.seeds):
                records.append(train_one(model, rate, seed_index, data, reference, args))
        for rate in args.recipe_learning_rates.get(model, ()):
            for seed_index in range(args.seeds):
                record = train_one(
                    model, rate, seed_index, data, reference, args, recipe_options(model), "recipe"
                )
                records.append(dict(record, model=f"{model}+recipe"))
    rows, best = summarise(records)
    protocol = {key: getattr(args, key) for key in ("steps", "seeds", "batch_size", "ema_decay")}
    protocol.update(num_samples=args.num_samples, reference="holdout", extractor="domain")
    return {"source": source, "protocol": protocol, "rows": rows, "best": best}


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--run", help="a search's run directory: its data split and extractor")
    arguments.add_argument("--dataset", default="mnist_5k")
    arguments.add_argument("--seed", type=int, default=0, help="the data split's seed")
    arguments.add_argument("--holdout-fraction", type=float, default=0.15)
    arguments.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    arguments.add_argument(
        "--dcgan-lrs", type=float, nargs="+", default=list(LEARNING_RATES["dcgan"])
    )
    arguments.add_argument("--mlp-lrs", type=float, nargs="+", default=list(LEARNING_RATES["mlp"]))
    for model in MODELS:
        arguments.add_argument(
            f"--recipe-{model}-lrs",
            type=float,
            nargs="*",
            default=[],
            help=f"also train {model} with RECIPE at these rates (default: none)",
        )
    arguments.add_argument("--steps", type=int, default=2000, help="the final stage's steps")
    arguments.add_argument("--seeds", type=int, default=2)
    arguments.add_argument("--batch-size", type=int, default=64)
    arguments.add_argument("--ema-decay", type=float, default=0.999)
    arguments.add_argument("--num-samples", type=int, default=2000)
    arguments.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA for the train step; `auto` is kgan_nas's rule (off for TensorFlow on a CPU "
        "below 5000 steps). It changes speed, not what is learned, so records are reused "
        "across it.",
    )
    arguments.add_argument("--no-xla", dest="xla", action="store_const", const="off")
    arguments.add_argument("--runs", default="runs/baselines")
    arguments.add_argument("--output", help="results JSON (default: results/baselines.json)")
    return arguments


def parse_args(argv=None):
    """`parser()`'s options, with the rates gathered per model as `run_baselines` reads them."""
    args = parser().parse_args(argv)
    args.learning_rates = {model: getattr(args, f"{model}_lrs") for model in MODELS}
    args.recipe_learning_rates = {model: getattr(args, f"recipe_{model}_lrs") for model in MODELS}
    return args


def main(argv=None):
    args = parse_args(argv)
    report = run_baselines(args)
    for row in report["rows"]:
        score = (
            "failed"
            if row["fid_mean"] is None
            else (f"{row['fid_mean']:.3f} ± {row['fid_std']:.3f}")
        )
        print(f"{row['model']:6} lr {row['learning_rate']:<8g} held-out FID {score}")
    write_result("baselines", report, args.output)
    return report


if __name__ == "__main__":
    main()
