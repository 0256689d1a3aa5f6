"""How FID and KID depend on the number of samples: real vs real and noise vs real.

Usage:
    python benchmarks/fid_sample_bias.py [--draws 5] [--sizes 50 100 200 400 800]

On the digits (split with seed 0, as a `--preset quick` run splits them) and
under the domain extractor a search trains for them (64-d features; taken
from the kgan_nas cache, trained once if missing), draws `n` training images
(and `n` uniform-noise images) `--draws` times for each `n`, and scores them
against the fixed evaluation images: FID (biased: it falls with `n` even
between identical distributions) and KID (unbiased). `docs/concepts.md`'s
table of the sample-count bias is this script's output.

Writes `benchmarks/results/fid_sample_bias.json`.
"""

import argparse
import os

import numpy as np
from _common import write_result

from kgan_nas import data as data_lib
from kgan_nas import features
from kgan_nas import metrics
from kgan_nas.store.cache import cache_root


def _mean_std(values):
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400, 800])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="result path (default: results/)")
    args = parser.parse_args()

    digits = data_lib.load_dataset("digits", seed=0)
    extractor = features.DomainExtractor.for_data(
        digits.train,
        digits.train_labels,
        cache_dir=os.path.join(cache_root(), "extractors"),
        fingerprint=digits.fingerprint(),
    )
    train = extractor.features(digits.train)
    real = extractor.features(digits.eval)
    rng = np.random.default_rng(args.seed)
    rows = []
    print(f"{'n':>5} {'real vs real FID':>18} {'noise vs real FID':>18} {'real vs real KID':>18}")
    for n in args.sizes:
        fid_real, fid_noise, kid_real = [], [], []
        for _ in range(args.draws):
            picks = rng.choice(len(train), size=n, replace=False)
            noise = rng.uniform(-1, 1, size=(n,) + digits.image_shape).astype("float32")
            fid_real.append(metrics.fid(train[picks], real))
            fid_noise.append(metrics.fid(extractor.features(noise), real))
            size = min(n, len(real), 500)
            kid, _ = metrics.kernel_inception_distance(
                real, train[picks], subsets=20, subset_size=size, seed=args.seed
            )
            kid_real.append(kid)
        row = {
            "n": n,
            "fid_real_vs_real": _mean_std(fid_real),
            "fid_noise_vs_real": _mean_std(fid_noise),
            "kid_real_vs_real": _mean_std(kid_real),
        }
        rows.append(row)
        print(
            f"{n:>5} {row['fid_real_vs_real']['mean']:>10.2f} ± "
            f"{row['fid_real_vs_real']['std']:<5.2f}"
            f"{row['fid_noise_vs_real']['mean']:>10.1f} ± {row['fid_noise_vs_real']['std']:<5.1f}"
            f"{row['kid_real_vs_real']['mean']:>10.2f} ± {row['kid_real_vs_real']['std']:<5.2f}"
        )
    write_result(
        "fid_sample_bias",
        {
            "data": "digits, split with seed 0",
            "num_eval_images": int(len(real)),
            "feature_dim": int(real.shape[1]),
            "extractor_accuracy": float(extractor.accuracy),
            "draws": args.draws,
            "kid": "20 subsets of min(n, 500) images, polynomial kernel (degree 3)",
            "rows": rows,
        },
        args.output,
    )


if __name__ == "__main__":
    main()
