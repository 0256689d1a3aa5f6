"""Candidates per hour with 1 vs 2 worker processes (subprocess executor).

The same distinct genomes are evaluated once per worker count, side by side in
one run, at a fixed step budget (no time limit), so the ratio is meaningful even
where absolute times are not. On a GPU machine pass `--gpus 0 1 ...` to spread
workers over devices (one candidate per GPU by default).

    python benchmarks/scaling.py --candidates 12 --workers 1 2
    KERAS_BACKEND=jax python benchmarks/scaling.py --backend jax --gpus 0 --workers 1 2

Writes `benchmarks/results/scaling.json` (or `scaling_<tag>.json`).
"""

import argparse
import statistics
import tempfile
import time

from _common import digits_setup
from _common import write_result


def measure(workers, genomes, spec, args):
    from kgan_nas.executors import get_executor

    options = {"gpus": args.gpus, "candidates_per_gpu": args.candidates_per_gpu} \
        if args.gpus else {}
    statuses, totals = [], []
    started = time.perf_counter()
    with get_executor("subprocess", spec, workers=workers,
                      max_candidates_per_worker=args.max_candidates_per_worker,
                      **options) as executor:
        for _, fitness in executor.run(genomes):
            statuses.append(fitness.status)
            totals.append(fitness.seconds.get("total", 0.0))
    wall = time.perf_counter() - started
    return {"workers": workers, "candidates": len(genomes), "ok": statuses.count("ok"),
            "wall_seconds": round(wall, 1),
            "candidates_per_hour": round(len(genomes) / wall * 3600, 1),
            "median_candidate_seconds": round(statistics.median(totals), 2)}


def main(argv=None):
    from kgan_nas.evaluate import EvaluationConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--max-params", type=int, default=150_000)
    parser.add_argument("--max-candidates-per-worker", type=int, default=8)
    parser.add_argument("--backend", default=None, help="workers' Keras backend")
    parser.add_argument("--gpus", type=int, nargs="*", default=None)
    parser.add_argument("--candidates-per-gpu", type=int, default=1)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)

    config = EvaluationConfig(steps=args.steps, batch_size=64, num_samples=args.num_samples,
                              kid_subset_size=min(500, args.num_samples))
    spec, genomes, _ = digits_setup(tempfile.mkdtemp(prefix="kgan_nas_scaling_"), config,
                                    max_params=args.max_params, num_genomes=args.candidates,
                                    backend=args.backend)
    rows = [measure(workers, genomes, spec, args) for workers in args.workers]
    base = rows[0]["candidates_per_hour"]
    print(f"{'workers':>8}{'ok':>5}{'wall s':>9}{'candidates/h':>14}{'speed-up':>10}"
          f"{'median candidate s':>20}")
    for row in rows:
        row["speedup"] = round(row["candidates_per_hour"] / base, 3)
        print(f"{row['workers']:>8}{row['ok']:>5}{row['wall_seconds']:>9}"
              f"{row['candidates_per_hour']:>14}{row['speedup']:>10}"
              f"{row['median_candidate_seconds']:>20}")
    write_result("scaling" + (f"_{args.tag}" if args.tag else ""),
                 {"benchmark": "scaling", "args": vars(args), "results": rows})


if __name__ == "__main__":
    main()
