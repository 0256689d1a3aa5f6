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
  again with `matmul_dtype="float32"`;
- `inception_score`: 10 splits over `n` rows of 1000-class probabilities.

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

    secs, value = time_call(
        lambda: metrics.kernel_inception_distance(real, fake, matmul_dtype="float32"),
        repeats,
    )
    rows.append(("kid (100 x 1000, float32 matmul)", secs, list(value)))

    secs, value = time_call(lambda: metrics.inception_score(probabilities, splits=10), repeats)
    rows.append((f"inception_score (10 splits, {num_classes} classes)", secs, list(value)))
    return rows


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
        "--output",
        type=pathlib.Path,
        default=None,
        help="JSON path (default: benchmarks/results/metrics.json)",
    )
    args = parser.parse_args(argv)

    rows = run(args.n, args.dim, args.repeats, args.classes, args.seed)

    name_width = max(len(name) for name, _, _ in rows)
    print(f"n={args.n} dim={args.dim} repeats={args.repeats}")
    print(f"{'metric':<{name_width}}  {'median s':>9}  {'min s':>8}  {'max s':>8}  value")
    for name, secs, value in rows:
        print(
            f"{name:<{name_width}}  {statistics.median(secs):9.3f}  "
            f"{min(secs):8.3f}  {max(secs):8.3f}  {value}"
        )
    timings = {name: statistics.median(secs) for name, secs, _ in rows}
    values = {name: value for name, _, value in rows}
    speedup = timings["fid/frechet_distance (eigen route)"] / timings["fid/frechet_distance"]
    relative = abs(
        values["fid/frechet_distance"] - values["fid/frechet_distance (eigen route)"]
    ) / max(abs(values["fid/frechet_distance (eigen route)"]), 1e-300)
    print(
        f"FID: Cholesky route {speedup:.2f}x faster than the eigen route, values equal to "
        f"{relative:.1e} relative"
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
            },
            "fid_cholesky_speedup": speedup,
            "fid_routes_relative_difference": relative,
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
