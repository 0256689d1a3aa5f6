"""Finished hand-designed baselines scored again at another sample count, without training.

FID depends on how many generated images it is computed from, so values are
comparable only at one sample count. `benchmarks/baselines.py` scores its
runs at the final stage's count (2,000 in `final_study.py`); a study that
retrains winners at another count (`search_quality.py` on `mnist_5k`: 1,000)
needs the baselines at that count for its reference lines. This script loads
each finished run's saved generator (`generator.keras`, the weight
average), generates `--num-samples` images from the run's own latent seed,
and scores them on the same held-out split with the same extractor
(`baselines.data_and_reference`, so `--run` and the runs folder's extractor
check apply). Nothing is trained and no run folder is written.

    python benchmarks/rescore_baselines.py --run runs/final_study/mnist_5k_seed0 \
        --runs runs/final_study/baselines_mnist_5k_seed0 --num-samples 1000 \
        --output results/baselines_mnist_5k_seed0_1000.json

Writes a `baselines.py`-shaped report (`source`, `protocol`, `rows`, `best`)
to `--output`, so `search_quality.py --baselines` can draw it.
"""

import argparse
import glob
import json
import os

import baselines
from _common import write_result


def finished_runs(runs, steps, seeds):
    """The `(folder, record)` of every plain baseline run in `runs` that trained `steps` steps.

    Variants (runs with training-recipe options) are left out: the reference
    lines are the baselines as `baselines.py` trains them by default. So are
    seeds past the first `seeds`, which another study may have added to the
    folder: each (model, rate) keeps the protocol's number of seeds.
    """
    found = []
    for path in sorted(glob.glob(os.path.join(runs, "*", "record.json"))):
        with open(path) as stream:
            record = json.load(stream)
        if record.get("options") or record.get("steps") != steps or record.get("status") != "ok":
            continue
        if record.get("seed_index", 0) >= seeds:
            continue
        found.append((os.path.dirname(path), record))
    return found


def rescore(folder, record, reference, num_samples):
    """The run's record with its scores recomputed from `num_samples` images."""
    import keras

    from kgan_nas import training
    from kgan_nas.final.job import score_on_reference

    generator = keras.saving.load_model(
        os.path.join(folder, "generator.keras"), compile=False, safe_mode=True
    )
    seed = record["training_seed"]
    images = training.generate_images(generator, num_samples, seed=seed)
    scores = score_on_reference(images, reference, seed)
    keras.backend.clear_session()
    return dict(
        record,
        num_samples=num_samples,
        scored_from=os.path.basename(folder),
        fid=scores["fid"],
        fid_live=None,  # the last, non-averaged weights are not saved
        fid_at_training=record.get("fid"),
    )


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--run", help="a search's run directory: its data split and extractor")
    arguments.add_argument("--dataset", default="mnist_5k", help="without --run: the data")
    arguments.add_argument("--seed", type=int, default=0, help="without --run: the split's seed")
    arguments.add_argument("--holdout-fraction", type=float, default=0.15)
    arguments.add_argument("--runs", required=True, help="the baselines' runs folder")
    arguments.add_argument("--steps", type=int, default=2000)
    arguments.add_argument("--seeds", type=int, default=2, help="the first N seeds of each rate")
    arguments.add_argument("--num-samples", type=int, default=1000)
    arguments.add_argument("--output", required=True)
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    data, reference, source = baselines.data_and_reference(args)
    records = []
    for folder, record in finished_runs(args.runs, args.steps, args.seeds):
        records.append(rescore(folder, record, reference, args.num_samples))
        print(
            f"{os.path.basename(folder)}: FID {records[-1]['fid']:.2f} at {args.num_samples} "
            f"samples ({record['fid']:.2f} at {record['num_samples']})",
            flush=True,
        )
    if not records:
        raise SystemExit(f"No finished {args.steps}-step baseline runs in {args.runs}.")
    rows, best = baselines.summarise(records)
    protocol = {"steps": args.steps, "seeds": args.seeds, "num_samples": args.num_samples}
    protocol["rescored"] = True
    protocol.update(reference="holdout", extractor="domain")
    report = {"source": source, "protocol": protocol, "rows": rows, "best": best}
    write_result("rescored_baselines", report, args.output)
    return report


if __name__ == "__main__":
    main()
