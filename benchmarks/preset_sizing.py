"""Sizing a preset by measurement: time per candidate on a named data set, projected to a search.

Samples distinct genomes from the default search space for the data set (with
the preset's `max_params`), evaluates them at the preset's step budget and
sample count with the subprocess executor and the preset's workers, and
projects the search's time as set-up (data, domain extractor, real features)
plus `generations x population` candidates, twice over:

- at the measured wall-clock throughput (as loaded as the machine was), and
- for idle cores: the CPU seconds the worker processes used (start-up, build,
  compile, train, score), spread over `--idle-cores` cores. CPU time hardly
  depends on what else runs, so this projects a loaded machine's measurement
  onto an idle one; contention still inflates it a little, so it errs long.

The projection counts every candidate as new (the genetic search re-uses the
result of a repeated genome), so it errs long too. Each candidate's wall time is
split into build, compile, train (the steps) and metric.

    python benchmarks/preset_sizing.py --preset mnist --candidates 8
    python benchmarks/preset_sizing.py --dataset digits --preset quick --tag quick_digits

Writes `benchmarks/results/preset_sizing_<tag>.json` (tag: the preset's name).
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time

from _common import write_result

PHASES = ("build", "compile", "train", "metric", "save")


def parse_args(argv=None):
    from kgan_nas.config import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist_5k")
    parser.add_argument("--preset", default="mnist", choices=sorted(PRESETS))
    parser.add_argument("--candidates", type=int, default=8, help="distinct genomes to time")
    for name in ("steps-per-candidate", "num-samples", "max-params", "workers", "batch-size"):
        parser.add_argument(f"--{name}", type=int, default=None, help="overrides the preset's")
    parser.add_argument("--idle-cores", type=int, default=2, help="cores of the idle projection")
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="use $KGAN_NAS_CACHE (a cached extractor) instead of a fresh, empty cache",
    )
    parser.add_argument(
        "--keep-run", default=None, help="copy the run directory here (its sample grids)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default=None, help="result file suffix (default: the preset)")
    parser.add_argument("--output", default=None, help="explicit result path")
    return parser.parse_args(argv)


def budget_from(args):
    """The preset's budget with the command line's overrides."""
    from kgan_nas.config import resolve_budget

    return resolve_budget(
        args.preset,
        steps_per_candidate=args.steps_per_candidate,
        num_samples=args.num_samples,
        workers=args.workers,
        batch_size=args.batch_size,
    ) | ({"max_params": args.max_params} if args.max_params else {})


def setup(run_dir_path, args, budget):
    """Loads the data, prepares the worker files (timed) and samples distinct genomes."""
    import numpy as np

    from kgan_nas import data as data_lib
    from kgan_nas.engine.conditional import conditional_space
    from kgan_nas.engine.inputs import prepare_worker_files
    from kgan_nas.evaluation.evaluator import EvaluationConfig
    from kgan_nas.store.run_dir import RunDir

    config = EvaluationConfig(
        steps=budget["steps_per_candidate"],
        batch_size=budget["batch_size"],
        num_samples=budget["num_samples"],
        kid_subset_size=min(500, budget["num_samples"]),
        seed=args.seed,
    )
    started, cpu_started = time.perf_counter(), _cpu_seconds(resource.RUSAGE_SELF)
    data = data_lib.load_dataset(args.dataset, seed=args.seed)
    # The preset's bounds (parameters, and training cost where it sets one).
    space = conditional_space(data, None, False, budget)
    run_dir = RunDir(run_dir_path)
    run_dir.open({"benchmark": "preset_sizing"}, overwrite=True)
    print(f"Preparing {data.name}: data file, domain extractor, real features...")
    spec = prepare_worker_files(run_dir, data, space, config, "domain", None, [], say=print)
    setup_seconds = time.perf_counter() - started
    setup_cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_started
    rng = np.random.default_rng(args.seed)
    genomes, keys = [], set()
    while len(genomes) < args.candidates:  # distinct genomes: none is compiled twice
        genome = space.sample(rng)
        if genome.key() not in keys:
            keys.add(genome.key())
            genomes.append(genome)
    facts = {
        "dataset": data.name,
        "image_shape": list(data.image_shape),
        "train_images": len(data.train),
        "eval_images": len(data.eval),
        "setup_seconds": round(setup_seconds, 1),
        "setup_cpu_seconds": round(setup_cpu, 1),
        "fresh_cache": not args.warm_cache,
        "extractor": _extractor_facts(spec.extractor_path),
    }
    return spec, genomes, space, facts


def _extractor_facts(path):
    """The domain extractor's held-out accuracy and cache key, from its sidecar."""
    with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as stream:
        sidecar = json.load(stream)
    metadata = sidecar.get("metadata") or {}
    return {
        "accuracy": sidecar.get("accuracy"),
        "num_holdout": metadata.get("num_holdout"),
        "epochs": metadata.get("epochs"),
        "cache_key": metadata.get("cache_key"),
    }


def evaluate_all(spec, genomes, space, workers):
    """Runs the genomes.

    Returns:
        `(rows, wall_seconds, worker_cpu_seconds)`: one row per candidate, and the
        workers' CPU time (counted once they have exited and been waited for).
    """
    from kgan_nas.executors import get_executor

    rows = []
    started, cpu_started = time.perf_counter(), _cpu_seconds(resource.RUSAGE_CHILDREN)
    with get_executor("subprocess", spec, workers=workers) as executor:
        for index, fitness in executor.run(genomes):
            row = {phase: round(fitness.seconds.get(phase, 0.0), 2) for phase in PHASES}
            row.update(
                key=genomes[index].key(),
                status=fitness.status,
                steps=fitness.steps,
                params=space.generator_params(genomes[index]),
                total=round(fitness.seconds.get("total", 0.0), 2),
                fid=fitness.fid if fitness.ok else None,
            )
            rows.append(row)
            print(
                f"{row['key']} {row['params']:>8} params  total {row['total']:6.1f} s  "
                f"train {row['train']:6.1f} s  {row['status']}"
            )
    wall = time.perf_counter() - started
    return rows, wall, _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_started


def _cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def project(rows, wall, worker_cpu, facts, budget, idle_cores):
    """The measured times per candidate, and the search's time projected from them."""
    seconds_per_candidate = wall / len(rows)  # throughput with the preset's workers
    cpu_per_candidate = worker_cpu / len(rows)
    train = [row["train"] / row["steps"] for row in rows if row["steps"]]
    candidates = budget["generations"] * budget["population"]
    as_measured = facts["setup_seconds"] + candidates * seconds_per_candidate
    idle = (facts["setup_cpu_seconds"] + candidates * cpu_per_candidate) / idle_cores
    return {
        "candidates_timed": len(rows),
        "ok": sum(row["status"] == "ok" for row in rows),
        "wall_seconds": round(wall, 1),
        "seconds_per_candidate_at_workers": round(seconds_per_candidate, 2),
        "worker_cpu_seconds": round(worker_cpu, 1),
        "cpu_seconds_per_candidate": round(cpu_per_candidate, 2),
        "median_candidate_total_seconds": statistics.median(row["total"] for row in rows),
        "median_train_seconds_per_step": round(statistics.median(train), 4) if train else None,
        "search_candidates": candidates,
        "projected_search_minutes_as_measured": round(as_measured / 60, 1),
        "projected_search_minutes_idle": round(idle / 60, 1),
        "idle_cores": idle_cores,
    }


def main(argv=None):
    args = parse_args(argv)
    budget = budget_from(args)
    with (
        tempfile.TemporaryDirectory(prefix="kgan_nas_preset_sizing_") as run_dir,
        tempfile.TemporaryDirectory(prefix="kgan_nas_preset_sizing_cache_") as cache,
    ):
        if not args.warm_cache:  # set-up then includes training the domain extractor
            os.environ["KGAN_NAS_CACHE"] = cache
        spec, genomes, space, facts = setup(run_dir, args, budget)
        rows, wall, worker_cpu = evaluate_all(spec, genomes, space, budget["workers"])
        if args.keep_run:
            shutil.copytree(run_dir, args.keep_run, dirs_exist_ok=True)
    summary = project(rows, wall, worker_cpu, facts, budget, args.idle_cores)
    print(
        f"{facts['dataset']} preset {args.preset!r}, {budget['workers']} workers: "
        f"{summary['seconds_per_candidate_at_workers']:.1f} s per candidate at load "
        f"{os.getloadavg()[0]:.1f} -> {summary['projected_search_minutes_as_measured']:.1f} min; "
        f"{summary['cpu_seconds_per_candidate']:.1f} CPU s per candidate -> "
        f"{summary['projected_search_minutes_idle']:.1f} min on {args.idle_cores} idle cores"
    )
    write_result(
        f"preset_sizing_{args.tag or args.preset}",
        {
            "benchmark": "preset_sizing",
            "args": vars(args),
            "budget": budget,
            "data": facts,
            "summary": summary,
            "candidates": rows,
            "cache": os.environ.get("KGAN_NAS_CACHE"),
        },
        path=args.output,
    )


if __name__ == "__main__":
    main()
