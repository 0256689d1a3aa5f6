"""A class-conditional search: does the best generator make the class asked for?

Runs `kgan_nas.search(dataset, conditional=True)` (`--dataset`: digits by
default, or mnist_5k, the 5,000 real 28x28 MNIST digits) with objectives
`("fid", "class_accuracy")`, then measures the best generators again on
fresh samples, `--per-class` images of every class: class accuracy (the
share the run's domain classifier assigns to the requested class) against
chance (1 / number of classes), per class, and the domain FID. It copies the
best generator's per-class grid (one row per class) next to the results.

    python benchmarks/conditional_digits.py
    python benchmarks/conditional_digits.py --dataset mnist_5k
    python benchmarks/conditional_digits.py --generations 2 --population 2 --steps 20

Writes `benchmarks/results/conditional_<dataset>.json` and the grid beside it.
"""

import argparse
import os
import shutil
import time

import numpy as np
from _common import RESULTS
from _common import write_result

import kgan_nas
from kgan_nas import data as data_lib
from kgan_nas import features
from kgan_nas import metrics
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.genome import Genome
from kgan_nas.evaluation.class_scores import class_scores
from kgan_nas.results.search_result import SearchResult


def remeasure(result, dataset, per_class, seed):
    """Class accuracy (overall, per class) and FIDs of the best generators on fresh samples."""
    import keras

    extractor = features.DomainExtractor.load(os.path.join(result.directory, "extractor.keras"))
    # The quick preset holds nothing out, so this is the split the search used.
    data = data_lib.load_dataset(dataset, seed=result.config["seed"])
    real = extractor.features(data.eval)
    labels = np.repeat(np.arange(result.num_classes), per_class)
    best = {}
    for objective in ("fid", "class_accuracy"):
        record = min(
            (r for r in result.history if r["status"] == "ok"),
            key=lambda r, name=objective: Fitness.from_dict(r["fitness"]).objective(name),
        )
        generator = result.generator(record["key"])
        latent_dim = generator.inputs[0].shape[-1]
        latent = np.random.default_rng(seed).normal(size=(len(labels), latent_dim))
        latent = latent.astype("float32")
        images = keras.ops.convert_to_numpy(
            generator.predict([latent, labels.reshape(-1, 1).astype("int32")], verbose=0)
        )
        predicted = np.argmax(extractor.probabilities(images), axis=1)
        scores = class_scores(images, labels, extractor, real, data.eval_labels)
        best[objective] = {
            "key": record["key"],
            "genome": Genome.from_dict(record["genome"]).describe(),
            "search_fitness": {
                k: record["fitness"].get(k) for k in ("fid", "class_accuracy", "fid_per_class")
            },
            "class_accuracy": scores["class_accuracy"],
            "fid_per_class": scores["fid_per_class"],
            "fid": float(metrics.fid(real, extractor.features(images))),
            "accuracy_per_class": [
                float(np.mean(predicted[labels == k] == k)) for k in range(result.num_classes)
            ],
        }
    return best, extractor.accuracy


def _search(args):
    """A new conditional search in `args.directory` (an earlier one there is replaced)."""
    kgan_nas.search(
        args.dataset,
        preset="quick",
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps,
        seed=args.seed,
        directory=args.directory,
        verbose=2,
        options=kgan_nas.SearchOptions(
            conditional=True, objectives=("fid", "class_accuracy"), num_samples=args.num_samples
        ),
        run=kgan_nas.RunSettings(workers=args.workers, overwrite=True),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist_5k"])
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", help="run directory (default: runs/conditional_DATASET)")
    parser.add_argument("--output", default=None, help="results JSON (default: results/)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the search in --directory up to --generations (it keeps its settings)",
    )
    args = parser.parse_args(argv)
    args.directory = args.directory or f"runs/conditional_{args.dataset}"

    start = time.perf_counter()
    if args.resume:
        kgan_nas.resume(args.directory, generations=args.generations, verbose=2)
    else:
        _search(args)
    search_seconds = time.perf_counter() - start
    result = SearchResult(args.directory)
    best, extractor_accuracy = remeasure(result, args.dataset, args.per_class, args.seed)
    output = args.output or os.path.join(RESULTS, f"conditional_{args.dataset}.json")
    grid = os.path.splitext(output)[0] + "_grid.png"
    os.makedirs(os.path.dirname(os.path.abspath(grid)), exist_ok=True)
    shutil.copyfile(
        os.path.join(result.directory, "candidates", best["class_accuracy"]["key"], "samples.png"),
        grid,
    )
    report = {
        "what": f"class-conditional search on {args.dataset} "
        f"({'x'.join(map(str, result.config['image_shape'][:2]))}, {result.num_classes} classes)",
        "settings": vars(args),
        "chance_class_accuracy": 1 / result.num_classes,
        "extractor_holdout_accuracy": extractor_accuracy,
        "candidates": len(result.history),
        "failed": sum(r["status"] != "ok" for r in result.history),
        "search_seconds": round(search_seconds, 1),
        "resumed": args.resume,
        "best_by_fid": best["fid"],
        "best_by_class_accuracy": best["class_accuracy"],
        "grid_of_best_by_class_accuracy": os.path.relpath(grid),
    }
    write_result("conditional_digits", report, output)
    for name in ("fid", "class_accuracy"):
        entry = best[name]
        print(
            f"best by {name}: class accuracy {entry['class_accuracy']:.3f} (chance "
            f"{1 / result.num_classes:.3f}), fid {entry['fid']:.2f}, "
            f"per-class fid {entry['fid_per_class']:.2f}  {entry['genome']}"
        )


if __name__ == "__main__":
    main()
