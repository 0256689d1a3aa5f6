"""How candidates are evaluated: in process, in recycled subprocesses, or on Ray."""

from kgan_nas.errors import WorkerStartError
from kgan_nas.executors.base import Executor
from kgan_nas.executors.base import WorkerSpec
from kgan_nas.executors.inprocess import InProcessExecutor
from kgan_nas.executors.subprocess import SubprocessExecutor

EXECUTORS = ("inprocess", "subprocess", "ray")


def get_executor(
    spec, worker_spec, *, workers=1, timeout=None, max_candidates_per_worker=8, **kwargs
):
    """Creates an executor from a name or returns an `Executor` as is.

    Args:
        spec: `"inprocess"`, `"subprocess"`, `"ray"` or an `Executor`.
        worker_spec: The `WorkerSpec` workers build their evaluator from.
        workers: Parallel workers (subprocess, ray).
        timeout: Per-candidate time limit in seconds, or None.
        max_candidates_per_worker: Recycle a worker after this many.
        **kwargs: Passed to the executor (e.g. `address=` for Ray).

    Returns:
        An `Executor`.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(spec, Executor):
        return spec
    if spec == "inprocess":
        return InProcessExecutor(worker_spec)
    if spec == "subprocess":
        return SubprocessExecutor(
            worker_spec,
            workers=workers,
            timeout=timeout,
            max_candidates_per_worker=max_candidates_per_worker,
            **kwargs,
        )
    if spec == "ray":
        from kgan_nas.executors.ray import RayExecutor

        return RayExecutor(
            worker_spec,
            workers=workers,
            timeout=timeout,
            max_candidates_per_worker=max_candidates_per_worker,
            **kwargs,
        )
    raise ValueError(f"Unknown executor {spec!r}; choose one of {EXECUTORS} or pass an Executor.")


__all__ = [
    "Executor",
    "WorkerSpec",
    "InProcessExecutor",
    "SubprocessExecutor",
    "WorkerStartError",
    "get_executor",
    "EXECUTORS",
]
