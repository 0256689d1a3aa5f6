"""Where a candidate's time goes: build, compile, train, metric, overhead; XLA modes side by side.

For each backend, step budget and `jit_compile` mode asked for, evaluates the
same distinct genomes one after another in one recycled worker process
(subprocess executor, 1 worker), batch 64, and reports each phase's seconds:
*build* (models and optimizers; on JAX it includes compiling the layers'
initialisers), *compile* (the first step's tracing and compilation), *train*
(the other steps), *metric* (generating and scoring), *overhead* (what is left
of the wall time between two results: saving the models, worker start-up
amortised over `--max-candidates-per-worker`, IPC, input set-up).

Every configuration starts with empty XLA compilation caches (its own folders,
so the genomes compiled by one configuration are not found by the next);
`--warm-cache` then runs the first mode of each backend and budget once more
with the caches it filled: what a retrained genome (another seed, a resumed
candidate) costs.

    python benchmarks/candidate_time.py --backends tensorflow jax --steps 300 1000 \\
        --modes true auto --candidates 5 --warm-cache

Writes `benchmarks/results/candidate_time.json` (or `--output`).
"""

import argparse
import os
import statistics
import tempfile
import time

from _common import digits_setup
from _common import write_result

PHASES = ("build", "compile", "train", "metric", "save")
COLUMNS = ("build", "compile", "train", "metric", "overhead", "wall")
MODES = {"true": True, "false": False, "auto": "auto"}


def run_configuration(args, backend, steps, mode, cache_dir):
    """Evaluates the genomes under one setting; returns its rows (one per candidate)."""
    from kgan_nas.evaluation.evaluator import EvaluationConfig
    from kgan_nas.executors import get_executor

    config = EvaluationConfig(
        steps=steps,
        batch_size=64,
        num_samples=args.num_samples,
        kid_subset_size=min(500, args.num_samples),
        jit_compile=MODES[mode],
    )
    environment = {
        "JAX_COMPILATION_CACHE_DIR": os.path.join(cache_dir, "jax"),
        "TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={os.path.join(cache_dir, 'tf')}",
    }
    with tempfile.TemporaryDirectory(prefix="kgan_nas_candidate_time_") as run_dir:
        spec, genomes, space = digits_setup(
            run_dir,
            config,
            max_params=args.max_params,
            num_genomes=args.candidates,
            backend=backend,
        )
        rows = []
        with get_executor(
            "subprocess",
            spec,
            workers=1,
            max_candidates_per_worker=args.max_candidates_per_worker,
            environment=environment,
        ) as executor:
            last = time.perf_counter()  # the first candidate pays the worker's start-up
            for index, fitness in executor.run(genomes):
                now = time.perf_counter()
                row = {phase: fitness.seconds.get(phase, 0.0) for phase in PHASES}
                row.update(
                    key=genomes[index].key(),
                    status=fitness.status,
                    steps=fitness.steps,
                    jit_compile=fitness.jit_compile,
                    params=space.generator_params(genomes[index]),
                    wall=round(now - last, 3),
                )
                row["overhead"] = round(row["wall"] - sum(row[p] for p in PHASES[:4]), 3)
                rows.append(row)
                last = now
    return rows


def summarise(label, rows):
    """Totals, shares of the wall time and the per-candidate table of one configuration."""
    totals = {column: round(sum(row[column] for row in rows), 3) for column in COLUMNS}
    share = {column: round(totals[column] / totals["wall"], 4) for column in COLUMNS}
    print(f"\n{label}")
    print(f"{'candidate':>17}{'params':>9}{'xla':>6}" + "".join(f"{c:>10}" for c in COLUMNS))
    for row in rows:
        print(
            f"{row['key']:>17}{row['params']:>9}{str(row['jit_compile']):>6}"
            + "".join(f"{row[c]:>10.2f}" for c in COLUMNS)
            + f"  {row['status']}"
        )
    print(f"{'share of wall':>32}" + "".join(f"{share[c]:>10.1%}" for c in COLUMNS))
    return {
        "label": label,
        "candidates": rows,
        "totals": totals,
        "share": share,
        "median_wall": statistics.median(row["wall"] for row in rows),
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--steps", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--backends", nargs="+", default=["tensorflow"])
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["true", "auto"])
    parser.add_argument("--warm-cache", action="store_true")
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--max-params", type=int, default=150_000)
    parser.add_argument("--max-candidates-per-worker", type=int, default=8)
    parser.add_argument("--output", default=None, help="JSON path instead of the default")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="kgan_nas_xla_caches_") as caches:
        for backend in args.backends:
            for steps in args.steps:
                runs = [(mode, mode) for mode in args.modes]
                if args.warm_cache:
                    runs.append((args.modes[0], f"{args.modes[0]}, warm cache"))
                for mode, name in runs:
                    cache_dir = os.path.join(caches, f"{backend}-{steps}-{mode}")
                    rows = run_configuration(args, backend, steps, mode, cache_dir)
                    label = f"{backend}, {steps} steps, jit_compile={name}"
                    summary = summarise(label, rows)
                    summary.update(backend=backend, steps=steps, mode=name)
                    results.append(summary)
    print(
        f"\n{'configuration':<52}{'compile':>9}{'wall':>9}{'compile share':>15}{'wall ratio':>12}"
    )
    for summary in results:
        first = next(
            s
            for s in results
            if (s["backend"], s["steps"]) == (summary["backend"], summary["steps"])
        )
        totals = summary["totals"]
        print(
            f"{summary['label']:<52}{totals['compile']:>9.1f}{totals['wall']:>9.1f}"
            f"{summary['share']['compile']:>15.1%}{totals['wall'] / first['totals']['wall']:>12.2f}"
        )
    write_result(
        "candidate_time",
        {"benchmark": "candidate_time", "args": vars(args), "configurations": results},
        path=args.output,
    )


if __name__ == "__main__":
    main()
