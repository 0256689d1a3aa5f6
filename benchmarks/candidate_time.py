"""Where a candidate's time goes: build, compile, train, metric, save, overhead.

Evaluates distinct genomes one after another in one recycled worker process
(subprocess executor, 1 worker) at the `default` preset's budget (1000 steps,
batch 64, 1000 samples scored). A candidate's wall time is the time between two
results reaching the driver; overhead is what is left after build, compile,
train and metric: saving the models, worker start-up (amortised over
`--max-candidates-per-worker`), IPC and data input set-up. Goal: overhead at
most 20 % of a candidate's time.

    python benchmarks/candidate_time.py --candidates 8

Writes `benchmarks/results/candidate_time.json`.
"""

import argparse
import statistics
import tempfile
import time

from _common import digits_setup
from _common import write_result

PHASES = ("build", "compile", "train", "metric", "save")


def main(argv=None):
    from kgan_nas.evaluate import EvaluationConfig
    from kgan_nas.executors import get_executor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--max-params", type=int, default=2_000_000)
    parser.add_argument("--max-candidates-per-worker", type=int, default=8)
    parser.add_argument("--backend", default=None, help="the worker's Keras backend")
    args = parser.parse_args(argv)

    config = EvaluationConfig(
        steps=args.steps,
        batch_size=64,
        num_samples=args.num_samples,
        kid_subset_size=min(500, args.num_samples),
    )
    with tempfile.TemporaryDirectory(prefix="kgan_nas_candidate_time_") as run_dir:
        spec, genomes, space = digits_setup(
            run_dir,
            config,
            max_params=args.max_params,
            num_genomes=args.candidates,
            backend=args.backend,
        )
        rows = []
        with get_executor(
            "subprocess", spec, workers=1, max_candidates_per_worker=args.max_candidates_per_worker
        ) as executor:
            last = time.perf_counter()  # the first candidate pays the worker's start-up
            for index, fitness in executor.run(genomes):
                now = time.perf_counter()
                row = {phase: fitness.seconds.get(phase, 0.0) for phase in PHASES}
                row.update(
                    key=genomes[index].key(),
                    status=fitness.status,
                    steps=fitness.steps,
                    params=space.generator_params(genomes[index]),
                    wall=round(now - last, 3),
                )
                row["overhead"] = round(row["wall"] - sum(row[p] for p in PHASES[:4]), 3)
                rows.append(row)
                last = now

    columns = PHASES + ("overhead", "wall")
    totals = {column: sum(row[column] for row in rows) for column in columns}
    print(f"{'candidate':>17}{'params':>9}" + "".join(f"{c:>10}" for c in columns))
    for row in rows:
        print(
            f"{row['key']:>17}{row['params']:>9}"
            + "".join(f"{row[c]:>10.2f}" for c in columns)
            + f"  {row['status']}"
        )
    share = {column: round(totals[column] / totals["wall"], 4) for column in columns}
    print(f"{'share of wall':>26}" + "".join(f"{share[c]:>10.1%}" for c in columns))
    overhead_share = (totals["overhead"]) / totals["wall"]
    print(
        f"overhead (save, worker start-up, IPC, input set-up): {overhead_share:.1%} of candidate "
        f"time (goal <= 20%); median wall {statistics.median(r['wall'] for r in rows):.1f} s"
    )
    write_result(
        "candidate_time",
        {
            "benchmark": "candidate_time",
            "args": vars(args),
            "candidates": rows,
            "totals": totals,
            "share": share,
        },
    )


if __name__ == "__main__":
    main()
