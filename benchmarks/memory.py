"""Driver and worker memory (RSS) across many candidates, per executor.

Keras and XLA keep per-model state in a process even after clear_session(),
so evaluating candidates in the driver grows it; recycled worker processes
should keep the driver flat (goal: <= 2 MB per candidate).

    python benchmarks/memory.py --candidates 50 --steps 20
"""

import argparse
import tempfile
import time

import numpy as np
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


def slope(values):
    """MB per candidate: least-squares slope over the second half (after warm-up)."""
    values = np.asarray(values[len(values) // 2:], dtype=float)
    if len(values) < 2:
        return float("nan")
    return float(np.polyfit(np.arange(len(values)), values, 1)[0])


def measure(executor_name, candidates, steps, workers):
    import kgan_nas
    from kgan_nas.evaluate import EvaluationConfig
    from kgan_nas.executors import get_executor

    config = EvaluationConfig(steps=steps, batch_size=32, num_samples=200, kid_subset_size=200)
    spec, genomes, _ = digits_setup(
        tempfile.mkdtemp(prefix=f"kgan_nas_memory_{executor_name}_"), config,
        max_params=100_000, num_genomes=candidates)
    driver_rss, worker_rss, statuses = [], [], []
    started = time.perf_counter()
    with get_executor(executor_name, spec, workers=workers,
                      max_candidates_per_worker=8) as executor:
        for _, fitness in executor.run(genomes):
            statuses.append(fitness.status)
            driver_rss.append(rss_mb())
            pids = [w.process.pid for w in getattr(executor, "_workers", [])]
            worker_rss.append(max([rss_mb(p) or 0 for p in pids], default=None))
    return {
        "executor": executor_name, "candidates": candidates, "steps": steps,
        "seconds": round(time.perf_counter() - started, 1),
        "ok": statuses.count("ok"),
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
    parser.add_argument("--executors", nargs="+", default=["inprocess", "subprocess"])
    args = parser.parse_args(argv)
    rows = [measure(name, args.candidates, args.steps, args.workers) for name in args.executors]
    print(f"{'executor':12}{'candidates':>11}{'ok':>5}{'seconds':>9}{'driver start MB':>16}"
          f"{'driver end MB':>14}{'MB/candidate':>13}")
    for row in rows:
        print(f"{row['executor']:12}{row['candidates']:>11}{row['ok']:>5}{row['seconds']:>9}"
              f"{row['driver_rss_mb'][0]:>16}{row['driver_rss_mb'][-1]:>14}"
              f"{row['driver_growth_mb_per_candidate']:>13}")
    write_result("memory", {"benchmark": "memory", "results": rows})


if __name__ == "__main__":
    main()
