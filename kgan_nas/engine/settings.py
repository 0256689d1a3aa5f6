"""How a search is to run: checks `search`'s run arguments and builds `RunSettings`.

The executor, its options, the evaluator factory, the backend and the time
limits change nothing a search records, so they are checked here, apart
from what defines the search (`search_api`), and stored as `RunSettings`.
"""

import inspect
import json
import math
import os

from kgan_nas import config as config_lib
from kgan_nas import validate


def resolve_backend(backend):
    """The Keras backend `backend` names: `"auto"` picks one, anything else is kept.

    `"auto"` is TensorFlow when it is installed, else JAX. Measured side by side
    on a 2-core CPU at the `quick` budget, a candidate on TensorFlow (with
    `jit_compile="auto"`) cost 0.35–0.49 of one on JAX, which compiles every
    candidate with XLA (`benchmarks/results/candidate_time_quick.json`); where
    TensorFlow is missing, as on a JAX-only GPU machine, JAX is the backend there
    is.

    Args:
        backend: None (the current backend), `"tensorflow"`, `"jax"` or `"auto"`.

    Returns:
        None, `"tensorflow"` or `"jax"`.

    Raises:
        ValueError: for another name, or `"auto"` with neither installed.
    """
    import importlib.util

    validate.check_choice(backend, "backend", (None, "tensorflow", "jax", "auto"))
    if backend != "auto":
        return backend
    for name in ("tensorflow", "jax"):
        if importlib.util.find_spec(name) is not None:
            return name
    raise ValueError(
        'backend="auto" found neither TensorFlow nor JAX installed; install one '
        '(pip install tensorflow, or pip install "jax[cuda12]" for a GPU).'
    )


def run_settings(run, workers):
    """Checks how the search is to run; returns the `RunSettings` to store.

    Args:
        run: The `RunSettings` a user gave (`executor` may be an `Executor`).
        workers: The resolved number of workers (the preset's when `run` has none).

    Returns:
        `RunSettings` of plain JSON values.

    Raises:
        ValueError: naming the argument and what it accepts.
        ImportError: for `executor="ray"` when Ray is not installed.
    """
    executor, timeout = run.executor, run.timeout
    validate.check_positive_number(timeout, "timeout", allow_none=True, unit="seconds")
    validate.check_positive_int(run.max_candidates_per_worker, "max_candidates_per_worker")
    backend = resolve_backend(run.backend)
    _check_evaluator(run.evaluator, executor)
    _check_executor(executor, run.executor_options)
    max_consecutive_failures = run.max_consecutive_failures
    if max_consecutive_failures is None:
        # Three rounds of every worker failing alike; in process, one worker.
        max_consecutive_failures = 3 * (1 if executor == "inprocess" else workers)
    validate.check_positive_int(
        max_consecutive_failures,
        "max_consecutive_failures",
        hint="Or None for three times the workers.",
    )
    # Stored as plain JSON numbers: numpy scalars and inf are valid arguments.
    return config_lib.RunSettings(
        executor=executor if isinstance(executor, str) else "custom",
        workers=int(workers),
        backend=backend,
        timeout=None if timeout is None or math.isinf(timeout) else float(timeout),
        max_candidates_per_worker=int(run.max_candidates_per_worker),
        executor_options=json_or_none(run.executor_options),
        evaluator=run.evaluator,
        max_consecutive_failures=int(max_consecutive_failures),
    )


def _check_evaluator(evaluator, executor):
    """Rejects an evaluator factory that worker processes could not import."""
    if evaluator is None:
        return
    if not isinstance(evaluator, str) or evaluator.count(":") != 1:
        raise ValueError(f"evaluator must be a 'module:function' string, got {evaluator!r}.")
    if evaluator.startswith("__main__:") and executor != "inprocess":
        raise ValueError(
            f"evaluator={evaluator!r} names your main script, which worker processes do not "
            "import (they never re-run it). Move the factory into a module of its own and "
            "name it as 'module:function', or use executor='inprocess'."
        )


def json_or_none(value):
    """`value` if it can be stored as JSON, else None (it is then not restored on resume)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def _check_executor(executor, executor_options):
    """Rejects an unknown executor or options it does not take, before any work."""
    from kgan_nas import executors as executors_lib

    if isinstance(executor, executors_lib.Executor):
        return
    if executor == "subprocess" and os.name == "nt":
        raise ValueError(
            "executor='subprocess' needs POSIX (it hands workers an inherited socket); on "
            "Windows use executor='inprocess' or executor='ray'."
        )
    if executor not in executors_lib.EXECUTORS:
        raise ValueError(
            f"Unknown executor {executor!r}; choose one of {executors_lib.EXECUTORS} or pass "
            "an Executor."
        )
    if executor_options is not None and not isinstance(executor_options, dict):
        raise ValueError(f"executor_options must be a dict, got {executor_options!r}.")
    if executor == "ray":
        from kgan_nas.executors.ray import RayExecutor as executor_class
        from kgan_nas.executors.ray import _import_ray

        _import_ray()  # a missing Ray install is reported now, not after set-up
    else:
        executor_class = {
            "inprocess": executors_lib.InProcessExecutor,
            "subprocess": executors_lib.SubprocessExecutor,
        }[executor]
    # search() sets these itself; the executor takes the rest as options.
    reserved = {"self", "spec", "workers", "timeout", "max_candidates_per_worker"}
    accepted = sorted(set(inspect.signature(executor_class.__init__).parameters) - reserved)
    unknown = sorted(set(executor_options or {}) - set(accepted))
    if unknown:
        raise ValueError(
            f"executor_options {unknown} are not options of executor={executor!r}; it "
            f"accepts {accepted or 'none'} (workers, timeout and max_candidates_per_worker "
            "are arguments of search itself)."
        )
