"""Driver and worker memory (RSS) across many candidates, per executor.

Keras and XLA keep per-model state in a process even after clear_session(),
so evaluating candidates in the driver grows it; recycled worker processes
should keep the driver flat (goal: <= 2 MB per candidate).

    python benchmarks/memory.py --candidates 50 --steps 20
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


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
    from kgan_nas import data as data_lib
    from kgan_nas import driver
    from kgan_nas.evaluate import EvaluationConfig
    from kgan_nas.executors import get_executor
    from kgan_nas.run import RunDir
    from kgan_nas.space import SearchSpace

    data = data_lib.load_dataset("digits")
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=100_000)
    config = EvaluationConfig(steps=steps, batch_size=32, num_samples=200, kid_subset_size=200)
    run_dir = RunDir(tempfile.mkdtemp(prefix=f"kgan_nas_memory_{executor_name}_"))
    run_dir.open({"benchmark": "memory"})
    spec = driver._prepare_worker_files(run_dir, data, space, config, "domain", None, [],
                                        driver._Printer(0))
    rng = np.random.default_rng(0)
    genomes = [space.sample(rng) for _ in range(candidates)]
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
    os.makedirs(RESULTS, exist_ok=True)
    result = {"benchmark": "memory", "date": time.strftime("%Y-%m-%d"),
              "command": "python benchmarks/memory.py " + " ".join(argv or []),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "backend": os.environ.get("KERAS_BACKEND", "tensorflow")},
              "results": rows}
    with open(os.path.join(RESULTS, "memory.json"), "w") as stream:
        json.dump(result, stream, indent=2)


if __name__ == "__main__":
    main()
