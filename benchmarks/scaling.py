"""Candidates per hour with 1 vs 2 worker processes (subprocess executor).

The same distinct genomes are evaluated once per setting, side by side in one
run, at a fixed step budget (no time limit), so the ratio is meaningful even
where absolute times are not. A setting is `W` (W workers, every library
using all cores) or `WxT` (W workers capped at T threads each, the executor's
`threads_per_worker`). On a GPU machine pass `--gpus 0 1 ...` to spread
workers over devices (one candidate per GPU by default).

    python benchmarks/scaling.py --candidates 12 --workers 1 2 2x1
    KERAS_BACKEND=jax python benchmarks/scaling.py --backend jax --gpus 0 --workers 1 2

Writes `benchmarks/results/scaling.json` (or `scaling_<tag>.json`).
"""

import argparse
import statistics
import tempfile
import time

from _common import digits_setup
from _common import write_result


def parse_setting(text):
    """`"2"` -> (2, None); `"2x1"` -> (2, 1)."""
    workers, _, threads = text.partition("x")
    return int(workers), (int(threads) if threads else None)


def measure(setting, genomes, spec, args):
    from kgan_nas.executors import get_executor

    workers, threads = parse_setting(setting)
    options = (
        {"gpus": args.gpus, "candidates_per_gpu": args.candidates_per_gpu} if args.gpus else {}
    )
    options["threads_per_worker"] = threads
    statuses, totals = [], []
    started = time.perf_counter()
    with get_executor(
        "subprocess",
        spec,
        workers=workers,
        max_candidates_per_worker=args.max_candidates_per_worker,
        **options,
    ) as executor:
        for _, fitness in executor.run(genomes):
            statuses.append(fitness.status)
            totals.append(fitness.seconds.get("total", 0.0))
    wall = time.perf_counter() - started
    return {
        "setting": setting,
        "workers": workers,
        "threads_per_worker": threads,
        "candidates": len(genomes),
        "ok": statuses.count("ok"),
        "wall_seconds": round(wall, 1),
        "candidates_per_hour": round(len(genomes) / wall * 3600, 1),
        "median_candidate_seconds": round(statistics.median(totals), 2),
    }


def main(argv=None):
    from kgan_nas.evaluation.evaluator import EvaluationConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument(
        "--workers",
        nargs="+",
        default=["1", "2", "2x1"],
        help="settings: W workers, or WxT for W workers of T threads each",
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--max-params", type=int, default=150_000)
    parser.add_argument("--max-candidates-per-worker", type=int, default=8)
    parser.add_argument("--backend", default=None, help="workers' Keras backend")
    parser.add_argument("--gpus", type=int, nargs="*", default=None)
    parser.add_argument("--candidates-per-gpu", type=int, default=1)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)

    config = EvaluationConfig(
        steps=args.steps,
        batch_size=64,
        num_samples=args.num_samples,
        kid_subset_size=min(500, args.num_samples),
    )
    run_dir = tempfile.TemporaryDirectory(prefix="kgan_nas_scaling_")
    spec, genomes, _ = digits_setup(
        run_dir.name,
        config,
        max_params=args.max_params,
        num_genomes=args.candidates,
        backend=args.backend,
    )
    for setting in args.workers:
        parse_setting(setting)  # fail on a typo before any candidate runs
    rows = [measure(setting, genomes, spec, args) for setting in args.workers]
    run_dir.cleanup()
    base = rows[0]["candidates_per_hour"]
    print(
        f"{'setting':>8}{'ok':>5}{'wall s':>9}{'candidates/h':>14}{'speed-up':>10}"
        f"{'median candidate s':>20}"
    )
    for row in rows:
        row["speedup"] = round(row["candidates_per_hour"] / base, 3)
        print(
            f"{row['setting']:>8}{row['ok']:>5}{row['wall_seconds']:>9}"
            f"{row['candidates_per_hour']:>14}{row['speedup']:>10}"
            f"{row['median_candidate_seconds']:>20}"
        )
    write_result(
        "scaling" + (f"_{args.tag}" if args.tag else ""),
        {"benchmark": "scaling", "args": vars(args), "results": rows},
    )


if __name__ == "__main__":
    main()
