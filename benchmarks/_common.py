"""Shared set-up of the benchmark scripts: machine description, result files,
and a digits evaluation set-up for executor-level benchmarks."""

import json
import math
import os
import platform
import subprocess
import sys
import time

from kgan_nas.store.atomic import atomic_write_text

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def git_state():
    """The commit the numbers were measured on, and whether the tree had changes.

    `BENCHMARK_GIT_COMMIT`, when set, names the commit instead: a copy of the
    tree on another machine (a device machine) may hold no `.git`, or one
    that is not the copied tree's (seen on the GPU machine: the session's
    first commit, with the later files as "changes").
    """
    copied = os.environ.get("BENCHMARK_GIT_COMMIT")
    if copied:
        return {"commit": copied, "copied_tree": True}
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "uncommitted_changes": bool(status.strip())}


def machine_info():
    """Where the numbers come from; the load average matters on a shared machine."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1_5_15min": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        "git": git_state(),
        # Thread caps change CPU timings as much as the code does.
        "thread_env": {
            name: os.environ[name]
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if name in os.environ
        },
    }
    for module in ("numpy", "scipy", "jax", "tensorflow"):
        if module in sys.modules:  # only what the benchmark imported; importing costs seconds
            info[module] = getattr(sys.modules[module], "__version__", None)
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        info["keras"] = keras.__version__
        info["backend"] = keras.backend.backend()
        if info["backend"] == "jax":
            import jax

            info["devices"] = [str(device) for device in jax.devices()]
        elif info["backend"] == "tensorflow":
            import tensorflow as tf

            info["devices"] = [device.name for device in tf.config.list_physical_devices()]
    return info


DOCS_PAGE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "benchmarks.md"
)


def docs_block(markers, path=None):
    """The text between a benchmark's `(start, end)` markers in `docs/benchmarks.md`."""
    with open(path or DOCS_PAGE, encoding="utf-8") as stream:
        page = stream.read()
    return page[page.index(markers[0]) + len(markers[0]) : page.index(markers[1])]


def expected_block(name, render):
    """What `docs_block` must hold for results `name`: "\n" + `render(json)`, or None
    while `benchmarks/results/<name>.json` does not exist (the block is then empty)."""
    report = read_result(name)
    return None if report is None else "\n" + render(report)


def read_result(name):
    """`benchmarks/results/<name>.json` as a dict, or None while it does not exist."""
    path = os.path.join(RESULTS, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def docs_text(path=None):
    """`docs/benchmarks.md` with its whitespace runs made single spaces (prose wraps)."""
    with open(path or DOCS_PAGE, encoding="utf-8") as stream:
        return " ".join(stream.read().split())


def write_docs_block(markers, text, path=None):
    """Puts `text` (rendered from a results JSON) between `markers` in `docs/benchmarks.md`.

    A test of each such benchmark holds the page to its JSON (`docs_block`).
    """
    path = path or DOCS_PAGE
    with open(path, encoding="utf-8") as stream:
        page = stream.read()
    start, end = page.index(markers[0]) + len(markers[0]), page.index(markers[1])
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(page[:start] + "\n" + text + page[end:])


def write_result(name, report, path=None):
    """Writes `report` (plus `machine`) as JSON.

    Args:
        name: file name without `.json`, under `benchmarks/results/`.
        report: JSON-serialisable dict.
        path: explicit output path instead (a script's `--output`).

    Returns:
        The path written.
    """
    path = os.fspath(path) if path else os.path.join(RESULTS, f"{name}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    report = standard_json(dict(report, machine=machine_info()))
    # Atomic: a kill mid-write leaves the old results, never half of a file.
    atomic_write_text(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(f"wrote {os.path.relpath(path)}")
    return path


def standard_json(value):
    """`value` with every non-finite float as None: standard JSON, which strict
    readers (jq, JavaScript) parse; Python's `Infinity` is not."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: standard_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [standard_json(item) for item in value]
    return value


def digits_setup(run_dir_path, config, max_params, num_genomes, seed=0, backend=None):
    """A run directory, worker spec and sampled genomes for digits.

    Returns:
        `(worker_spec, genomes, space)`, ready for `kgan_nas.executors.get_executor`.
    """
    import numpy as np

    from kgan_nas import data as data_lib
    from kgan_nas.core.space import SearchSpace
    from kgan_nas.engine.inputs import prepare_worker_files
    from kgan_nas.store.run_dir import RunDir

    data = data_lib.load_dataset("digits", seed=seed)
    space = SearchSpace(image_shape=data.image_shape, max_params=max_params)
    run_dir = RunDir(run_dir_path)
    run_dir.open({"benchmark": os.path.basename(run_dir_path)}, overwrite=True)
    spec = prepare_worker_files(
        run_dir, data, space, config, "domain", backend, [], say=lambda *args: None
    )
    rng = np.random.default_rng(seed)
    genomes = []
    while len(genomes) < num_genomes:  # distinct genomes: none is compiled twice
        genome = space.sample(rng)
        if genome.key() not in {g.key() for g in genomes}:
            genomes.append(genome)
    return spec, genomes, space
