"""Times the metric maths of kgan_nas.metrics on random features.

Usage:
    python benchmarks/metrics.py --n 10000 --dim 2048 --repeats 3

Measures, on random `(n, dim)` float32 features (the shape of Inception
`pool_3` features for a 10k-sample evaluation):

- `fid/statistics`: `FeatureStatistics().update(features)` for ONE set;
- `fid/frechet_distance`: the distance between two fitted Gaussians (the
  Cholesky route), and the same through the eigen route alone, with the
  ratio of the two printed;
- `kid`: `kernel_inception_distance` with its defaults (100 x 1000), and
  again with `matmul_dtype="float32"`, and the per-subset loop it replaced
  (`loop_kid`, kept here as the reference), side by side;
- `inception_score`: 10 splits over `n` rows of 1000-class probabilities.

Then the same at the size of one search candidate (`--candidate-*`; the
defaults are the quick preset on digits: 500 generated samples, the 359
held-out and 1438 training images, 64-d domain features, KID 20 x 500): FID,
its bootstrap interval (`fid_confidence_interval`, 100 resamples), KID
vectorised and as the loop, and the memorisation score, with the cost of
each statistic relative to the FID itself.

Prints a table and writes `benchmarks/results/metrics.json` with the
timings and the machine they were taken on.
"""

import argparse
import pathlib
import statistics
import time

import numpy as np
from _common import write_result

from kgan_nas import metrics
from kgan_nas.metrics import frechet as frechet_lib


def time_call(fn, repeats):
    """Runs `fn` `repeats` times; returns (seconds per run, last result)."""
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def eigen_route_distance(mu1, sigma1, mu2, sigma2):
    """`frechet_distance` with the Cholesky route turned off."""
    original = frechet_lib._cholesky_factor
    frechet_lib._cholesky_factor = lambda sigma: None
    try:
        return metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    finally:
        frechet_lib._cholesky_factor = original


def loop_kid(real, fake, subsets=100, subset_size=1000, seed=0, matmul_dtype="float64"):
    """KID as it was computed before vectorisation: one kernel matrix per subset, in a loop.

    The same subsets (same seed) and kernel as `kernel_inception_distance`,
    so its values equal the vectorised ones to round-off.
    """
    real = np.asarray(real, dtype=matmul_dtype)
    fake = np.asarray(fake, dtype=matmul_dtype)
    gamma = 1.0 / real.shape[1]
    size = min(subset_size, len(real), len(fake))

    def kernel(a, b):
        base = (a @ b.T).astype(np.float64, copy=False)
        base *= gamma
        base += 1.0
        result = base * base
        result *= base
        return result

    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    pairs = size * (size - 1)
    for i in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        estimates[i] = (
            (kxx.sum() - np.trace(kxx)) / pairs
            + (kyy.sum() - np.trace(kyy)) / pairs
            - 2.0 * kxy.sum() / (size * size)
        )
    return float(estimates.mean()), float(estimates.std())


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def run(n, dim, repeats, num_classes, seed):
    rng = np.random.default_rng(seed)
    # Non-negative like post-ReLU pooled features, in float32 like extractor
    # outputs, so the float64 conversion cost is included.
    real = rng.gamma(2.0, 0.2, size=(n, dim)).astype(np.float32)
    fake = (rng.gamma(2.0, 0.2, size=(n, dim)) * 1.1).astype(np.float32)
    probabilities = softmax(rng.standard_normal((n, num_classes)) * 3.0).astype(np.float32)

    rows = []

    secs, real_stats = time_call(lambda: metrics.FeatureStatistics().update(real), repeats)
    rows.append(("fid/statistics (one set)", secs, None))
    fake_stats = metrics.FeatureStatistics().update(fake)
    mu1, sigma1 = real_stats.mean, real_stats.covariance
    mu2, sigma2 = fake_stats.mean, fake_stats.covariance

    secs, value = time_call(lambda: metrics.frechet_distance(mu1, sigma1, mu2, sigma2), repeats)
    rows.append(("fid/frechet_distance", secs, value))
    # The same distance through the eigen route alone (the route before the
    # Cholesky factor, still the fallback for a singular sigma1), side by side.
    secs, value = time_call(lambda: eigen_route_distance(mu1, sigma1, mu2, sigma2), repeats)
    rows.append(("fid/frechet_distance (eigen route)", secs, value))

    secs, value = time_call(lambda: metrics.kernel_inception_distance(real, fake), repeats)
    rows.append(("kid (100 x 1000)", secs, list(value)))
    secs, value = time_call(lambda: loop_kid(real, fake), repeats)
    rows.append(("kid (100 x 1000, per-subset loop)", secs, list(value)))

    secs, value = time_call(
        lambda: metrics.kernel_inception_distance(real, fake, matmul_dtype="float32"),
        repeats,
    )
    rows.append(("kid (100 x 1000, float32 matmul)", secs, list(value)))

    secs, value = time_call(lambda: metrics.inception_score(probabilities, splits=10), repeats)
    rows.append((f"inception_score (10 splits, {num_classes} classes)", secs, list(value)))
    return rows


def run_candidate(num_real, num_fake, num_train, dim, repeats, seed):
    """The metrics and their statistics at the size of one search candidate."""
    rng = np.random.default_rng(seed + 1)
    train = rng.gamma(2.0, 0.2, size=(num_train, dim))
    real = rng.gamma(2.0, 0.2, size=(num_real, dim))
    fake = rng.gamma(2.0, 0.2, size=(num_fake, dim)) * 1.1
    # As the evaluator does: the real statistics are computed once per search.
    real_stats = metrics.FeatureStatistics().update(real)
    kid_options = dict(subsets=20, subset_size=500, seed=seed)
    calls = [
        ("candidate/fid", lambda: metrics.fid(real_stats, fake)),
        (
            "candidate/fid_confidence_interval (100 resamples)",
            lambda: list(metrics.fid_confidence_interval(real_stats, fake, resamples=100)),
        ),
        (
            "candidate/kid (20 x 500, vectorised, with standard error)",
            lambda: list(
                metrics.kernel_inception_distance(real, fake, standard_error=True, **kid_options)
            ),
        ),
        (
            "candidate/kid (20 x 500, per-subset loop)",
            lambda: list(loop_kid(real, fake, **kid_options)),
        ),
        (
            "candidate/memorisation_score",
            lambda: list(metrics.memorisation_score(train, real, fake)),
        ),
    ]
    rows = []
    for name, call in calls:
        secs, value = time_call(call, repeats)
        rows.append((name, secs, value))
    return rows


def ratios(timings, values):
    """The side-by-side ratios the docs quote, from one run's median timings."""

    def relative(a, b):
        return abs(values[a] - values[b]) / max(abs(values[b]), 1e-300)

    kid = "kid (100 x 1000)"
    kid_loop = "kid (100 x 1000, per-subset loop)"
    candidate_kid = "candidate/kid (20 x 500, vectorised, with standard error)"
    candidate_loop = "candidate/kid (20 x 500, per-subset loop)"
    fid = timings["candidate/fid"]
    return {
        "fid_cholesky_speedup": timings["fid/frechet_distance (eigen route)"]
        / timings["fid/frechet_distance"],
        "fid_routes_relative_difference": relative(
            "fid/frechet_distance", "fid/frechet_distance (eigen route)"
        ),
        "kid_vectorised_speedup": timings[kid_loop] / timings[kid],
        "kid_vectorised_relative_difference": abs(values[kid][0] - values[kid_loop][0])
        / max(abs(values[kid_loop][0]), 1e-300),
        "candidate_kid_vectorised_speedup": timings[candidate_loop] / timings[candidate_kid],
        "candidate_kid_relative_difference": abs(
            values[candidate_kid][0] - values[candidate_loop][0]
        )
        / max(abs(values[candidate_loop][0]), 1e-300),
        "candidate_fid_interval_cost_over_fid": timings[
            "candidate/fid_confidence_interval (100 resamples)"
        ]
        / fid,
        "candidate_memorisation_cost_over_fid": timings["candidate/memorisation_score"] / fid,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="samples per set (default 10000)")
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension (default 2048)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per metric (default 3)")
    parser.add_argument(
        "--classes", type=int, default=1000, help="classes for the Inception Score (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--candidate-real", type=int, default=359, help="held-out real features (default 359)"
    )
    parser.add_argument(
        "--candidate-fake", type=int, default=500, help="generated features (default 500)"
    )
    parser.add_argument(
        "--candidate-train", type=int, default=1438, help="training features (default 1438)"
    )
    parser.add_argument(
        "--candidate-dim", type=int, default=64, help="candidate feature dimension (default 64)"
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=None,
        help="JSON path (default: benchmarks/results/metrics.json)",
    )
    args = parser.parse_args(argv)

    rows = run(args.n, args.dim, args.repeats, args.classes, args.seed)
    rows += run_candidate(
        args.candidate_real,
        args.candidate_fake,
        args.candidate_train,
        args.candidate_dim,
        args.repeats,
        args.seed,
    )

    name_width = max(len(name) for name, _, _ in rows)
    print(f"n={args.n} dim={args.dim} repeats={args.repeats}")
    print(f"{'metric':<{name_width}}  {'median s':>9}  {'min s':>8}  {'max s':>8}  value")
    for name, secs, value in rows:
        print(
            f"{name:<{name_width}}  {statistics.median(secs):9.4f}  "
            f"{min(secs):8.4f}  {max(secs):8.4f}  {value}"
        )
    timings = {name: statistics.median(secs) for name, secs, _ in rows}
    values = {name: value for name, _, value in rows}
    found = ratios(timings, values)
    print(
        f"FID: Cholesky route {found['fid_cholesky_speedup']:.2f}x faster than the eigen route, "
        f"values equal to {found['fid_routes_relative_difference']:.1e} relative"
    )
    print(
        f"KID: vectorised {found['kid_vectorised_speedup']:.2f}x faster than the loop "
        f"({args.n} x {args.dim}), {found['candidate_kid_vectorised_speedup']:.2f}x at the "
        f"candidate size; values equal to {found['kid_vectorised_relative_difference']:.1e} "
        f"and {found['candidate_kid_relative_difference']:.1e} relative"
    )
    print(
        f"Candidate: FID interval costs {found['candidate_fid_interval_cost_over_fid']:.1f}x "
        f"the FID, memorisation {found['candidate_memorisation_cost_over_fid']:.1f}x"
    )

    write_result(
        "metrics",
        {
            "benchmark": "metrics",
            "config": {
                "n": args.n,
                "dim": args.dim,
                "repeats": args.repeats,
                "classes": args.classes,
                "seed": args.seed,
                "candidate_real": args.candidate_real,
                "candidate_fake": args.candidate_fake,
                "candidate_train": args.candidate_train,
                "candidate_dim": args.candidate_dim,
            },
            **found,
            "results": [
                {
                    "metric": name,
                    "seconds": secs,
                    "median_seconds": statistics.median(secs),
                    "value": value,
                }
                for name, secs, value in rows
            ],
        },
        path=args.output,
    )


if __name__ == "__main__":
    main()
