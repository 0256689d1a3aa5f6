"""Driver and worker memory (RSS) across many candidates, per executor.

Keras and XLA keep per-model state in a process even after clear_session(),
so evaluating candidates in the driver grows it; recycled worker processes
should keep the driver flat (goal: <= 2 MB per candidate).

Each executor is measured in a fresh driver process of its own, so one
executor's leftovers do not raise the next one's level.

    python benchmarks/memory.py --candidates 50 --steps 20
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import RESULTS
from _common import digits_setup
from _common import write_result


def rss_mb(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def ray_worker_pids():
    """Ray names its worker processes `ray::<task>` (or `ray::IDLE`) in their command line."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as stream:
                if stream.read(5) == b"ray::":
                    pids.append(int(entry))
        except OSError:
            continue  # the process ended while we looked
    return pids


def slope(values):
    """MB per candidate: least-squares slope over the second half (after warm-up)."""
    values = np.asarray(values[len(values) // 2 :], dtype=float)
    if len(values) < 2:
        return float("nan")
    return float(np.polyfit(np.arange(len(values)), values, 1)[0])


def measure(executor_name, candidates, steps, workers):
    import kgan_nas
    from kgan_nas.evaluation.evaluator import EvaluationConfig
    from kgan_nas.executors import get_executor

    config = EvaluationConfig(steps=steps, batch_size=32, num_samples=200, kid_subset_size=200)
    run_dir = tempfile.TemporaryDirectory(prefix=f"kgan_nas_memory_{executor_name}_")
    spec, genomes, _ = digits_setup(
        run_dir.name, config, max_params=100_000, num_genomes=candidates
    )
    driver_rss, worker_rss, statuses = [], [], []
    started = time.perf_counter()
    with get_executor(
        executor_name, spec, workers=workers, max_candidates_per_worker=8
    ) as executor:
        driver_start = rss_mb()
        for _, fitness in executor.run(genomes):
            statuses.append(fitness.status)
            driver_rss.append(rss_mb())
            if executor_name == "ray":
                pids = ray_worker_pids()
            else:
                pids = [w.process.pid for w in getattr(executor, "_workers", [])]
            worker_rss.append(max([rss_mb(p) or 0 for p in pids], default=None))
    run_dir.cleanup()
    return {
        "executor": executor_name,
        "candidates": candidates,
        "steps": steps,
        "workers": workers,
        "max_candidates_per_worker": 8,
        # Rows may come from separate runs (see merged_rows): each keeps its context.
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_at_end": list(os.getloadavg()),
        "seconds": round(time.perf_counter() - started, 1),
        "ok": statuses.count("ok"),
        "driver_start_rss_mb": round(driver_start, 1),
        "driver_rss_mb": [round(v, 1) for v in driver_rss],
        "driver_growth_mb_per_candidate": round(slope(driver_rss), 3),
        "worker_rss_mb": [round(v, 1) if v else None for v in worker_rss],
        "kgan_nas": kgan_nas.__version__,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    default_executors = ["inprocess", "subprocess"] + (
        ["ray"] if importlib.util.find_spec("ray") else []
    )
    parser.add_argument(
        "--executors",
        nargs="+",
        default=default_executors,
        choices=["inprocess", "subprocess", "ray"],
    )
    parser.add_argument("--row-output", help=argparse.SUPPRESS)  # internal: one executor's row
    args = parser.parse_args(argv)
    if args.row_output:
        row = measure(args.executors[0], args.candidates, args.steps, args.workers)
        with open(args.row_output, "w") as stream:
            json.dump(row, stream)
        return
    rows = []
    for name in args.executors:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "row.json")
            subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--executors",
                    name,
                    "--candidates",
                    str(args.candidates),
                    "--steps",
                    str(args.steps),
                    "--workers",
                    str(args.workers),
                    "--row-output",
                    path,
                ],
                check=True,
            )
            with open(path) as stream:
                rows.append(json.load(stream))
    print(
        f"{'executor':12}{'candidates':>11}{'ok':>5}{'seconds':>9}{'driver start MB':>16}"
        f"{'driver end MB':>14}{'MB/candidate':>13}{'worker max MB':>14}"
    )
    for row in rows:
        worker_max = max((v for v in row["worker_rss_mb"] if v), default=None)
        print(
            f"{row['executor']:12}{row['candidates']:>11}{row['ok']:>5}{row['seconds']:>9}"
            f"{row['driver_start_rss_mb']:>16}{row['driver_rss_mb'][-1]:>14}"
            f"{row['driver_growth_mb_per_candidate']:>13}{str(worker_max):>14}"
        )
    write_result("memory", {"benchmark": "memory", "results": merged_rows(rows)})


def merged_rows(rows):
    """The new rows plus earlier results of executors not measured this time, so one
    executor can be re-measured (e.g. Ray on a quiet machine) without losing the others."""
    path = os.path.join(RESULTS, "memory.json")
    measured = {row["executor"] for row in rows}
    try:
        with open(path) as stream:
            earlier = json.load(stream).get("results", [])
    except (OSError, ValueError):
        earlier = []
    kept = [row for row in earlier if row.get("executor") not in measured]
    return kept + rows


if __name__ == "__main__":
    main()
