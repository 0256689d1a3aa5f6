"""Evaluate candidates in a pool of recycled worker processes (the default).

Why processes: building and training many Keras models in one process grows
its memory (about 18 MB per candidate here, even with `clear_session()`), and
a bad candidate can crash or hang the process that runs it. Each worker is a
fresh interpreter (`kgan_nas.executors.worker`, which never imports the
caller's `__main__`) that evaluates at most `max_candidates_per_worker`
candidates and then exits, returning its memory to the OS. A worker that dies
(SIGKILL, out of memory, a segfault) marks its candidate `crashed`; one that
runs past `timeout` is killed and its candidate marked `timeout`; in both
cases a new worker takes its place and the generation goes on.
"""

import collections
import multiprocessing.connection
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from kgan_nas import validate
from kgan_nas.core.fitness import Fitness
from kgan_nas.errors import WorkerStartError
from kgan_nas.executors import worker as worker_lib
from kgan_nas.executors.base import Executor
from kgan_nas.executors.base import parents_for
from kgan_nas.executors.base import steps_for

_POLL_SECONDS = 0.2
_MAX_FAILED_STARTS = 3
_OUTPUT_TAIL_LINES = 15


def _package_root():
    """The folder holding the `kgan_nas` package, for the worker's import path."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _output_tail(stream, lines=_OUTPUT_TAIL_LINES):
    """The last `lines` lines a worker wrote to `stream` (its output file)."""
    try:
        stream.flush()
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(max(0, size - 16384))
        text = stream.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


class _Worker:
    """One worker process (`kgan_nas.executors.worker`) and its end of the pipe.

    Its stdout and stderr go to `<log_dir>/worker-<pid>.log` when the run has
    a log folder, else to an anonymous temporary file; either way the last
    lines can be quoted when the worker dies.
    """

    def __init__(self, spec, max_tasks, environment):
        self.log_path = None
        if spec.log_dir:
            os.makedirs(spec.log_dir, exist_ok=True)
            self.log_path = os.path.join(
                spec.log_dir, f"worker-starting-{os.getpid()}-{time.monotonic_ns()}.log"
            )
            self.output = open(self.log_path, "w+b")
        else:
            self.output = tempfile.TemporaryFile()
        driver_end, worker_end = socket.socketpair()
        variables = dict(os.environ)
        variables.update(environment)
        # Output reaches the log as it is written, so a dying worker's last
        # words are there to quote.
        variables["PYTHONUNBUFFERED"] = "1"
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    worker_lib.BOOTSTRAP,
                    str(os.getpid()),
                    str(worker_end.fileno()),
                    spec.log_dir or "-",
                    _package_root(),
                ],
                env=variables,
                stdin=subprocess.DEVNULL,
                stdout=self.output,
                stderr=subprocess.STDOUT,
                pass_fds=(worker_end.fileno(),),
                close_fds=True,
            )
        except BaseException:  # e.g. no interpreter: leave no handle or file behind
            driver_end.close()
            self.output.close()
            if self.log_path:
                os.unlink(self.log_path)
            raise
        finally:
            worker_end.close()
        if self.log_path:
            named = os.path.join(spec.log_dir, f"worker-{self.process.pid}.log")
            os.replace(self.log_path, named)
            self.log_path = named
        self.connection = multiprocessing.connection.Connection(driver_end.detach())
        self.devices = environment.get("CUDA_VISIBLE_DEVICES")
        self.ready = False
        self.closed = False  # its end of the socket reached EOF (exiting or dead)
        self.job = None  # (index, started_at)
        self.done = 0
        try:
            self.connection.send(("init", list(sys.path), spec, max_tasks, spec.log_dir))
        except OSError:
            pass  # Died at once; `run` sees it and reports its output.

    def is_alive(self):
        return self.process.poll() is None

    @property
    def exitcode(self):
        return self.process.poll()

    def output_tail(self):
        return _output_tail(self.output)

    def kill(self):
        if self.is_alive():
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.connection.close()
        self.output.close()


def _threads_per_worker(value, workers, gpus):
    """The thread cap for each worker (see `SubprocessExecutor`), or None for no cap."""
    if value == "auto":
        if workers < 2 or gpus:
            return None
        return max(1, (os.cpu_count() or 1) // workers)
    if value is None:
        return None
    if not validate.is_integer(value) or value < 1:
        raise ValueError(
            f"threads_per_worker must be 'auto', None or a positive integer, got {value!r}."
        )
    return value


def _death_reason(exitcode):
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed, often by the OS for running out of memory)" if name == "SIGKILL" else ""
        return f"worker process died with {name}{hint}"
    return f"worker process exited with code {exitcode}"


class SubprocessExecutor(Executor):
    """Evaluates candidates in `workers` spawned, recycled processes.

    Args:
        spec: A `WorkerSpec` (the data set travels as a file path, once per
            worker).
        workers: Number of worker processes. Each runs one candidate at a
            time; on a 2-core machine, 1 or 2.
        max_candidates_per_worker: A worker exits after this many candidates
            and a fresh one replaces it, so memory growth is bounded.
        timeout: Seconds a single candidate may take (training and scoring,
            not worker start-up) before it is killed and marked `timeout`;
            None for no limit.
        environment: Extra environment variables for the workers.
        gpus: GPU ids to spread workers over, e.g. `[0, 1]`. Worker `i` sees
            only `gpus[i % len(gpus)]` (`CUDA_VISIBLE_DEVICES`), so by default
            one candidate runs per GPU. None leaves devices alone.
        candidates_per_gpu: With `gpus`, how many workers (candidates) share
            each GPU; `workers` becomes `len(gpus) * candidates_per_gpu`.
            GPU memory is claimed as needed (TensorFlow memory growth, no JAX
            preallocation), so small candidates can share a large GPU.
        threads_per_worker: CPU threads each worker's TensorFlow (intra-op
            pool, XLA's CPU kernels) and OpenMP may use, so that workers do
            not oversubscribe the cores. `"auto"` gives each worker
            `cpu_count // workers` (at least 1) when there are two or more
            workers and no GPUs; an integer sets it; None (the default)
            leaves the libraries' defaults (every core per worker).
            Variables already in `environment` win. JAX's CPU backend has
            no such setting.

    Raises:
        ValueError: for a non-positive `workers`, `max_candidates_per_worker`
            or `threads_per_worker`.
    """

    def __init__(
        self,
        spec,
        workers=1,
        max_candidates_per_worker=8,
        timeout=None,
        environment=None,
        gpus=None,
        candidates_per_gpu=1,
        threads_per_worker=None,
    ):
        validate.check_positive_int(workers, "workers")
        validate.check_positive_int(max_candidates_per_worker, "max_candidates_per_worker")
        validate.check_positive_number(timeout, "timeout", allow_none=True, unit="seconds")
        self.gpus = [str(gpu) for gpu in gpus] if gpus else []
        if self.gpus:
            validate.check_positive_int(candidates_per_gpu, "candidates_per_gpu")
            workers = len(self.gpus) * candidates_per_gpu
        self.spec = spec
        self.num_workers = workers
        self.max_candidates_per_worker = max_candidates_per_worker
        self.timeout = timeout
        self.environment = dict(environment or {})
        if spec.backend:
            self.environment.setdefault("KERAS_BACKEND", spec.backend)
        self.environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # Claim GPU memory as needed, so workers sharing a GPU can coexist.
        self.environment.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        self.environment.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        self.threads_per_worker = _threads_per_worker(threads_per_worker, workers, self.gpus)
        if self.threads_per_worker is not None:
            for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
                self.environment.setdefault(name, str(self.threads_per_worker))
        self._workers = []
        self._failed_starts = 0
        self.workers_started = 0

    def _start_worker(self, slot):
        environment = dict(self.environment)
        if self.gpus:
            environment["CUDA_VISIBLE_DEVICES"] = self.gpus[slot % len(self.gpus)]
        worker = _Worker(self.spec, self.max_candidates_per_worker, environment)
        self.workers_started += 1
        return worker

    @property
    def worker_devices(self):
        """`CUDA_VISIBLE_DEVICES` of each running worker (None where unset)."""
        return [worker.devices for worker in self._workers]

    def run(self, genomes, parents=None, steps=None):
        genomes = list(genomes)
        parents = parents_for(genomes, parents)
        steps = steps_for(genomes, steps)
        queue = collections.deque(range(len(genomes)))
        while len(self._workers) < min(self.num_workers, max(len(genomes), 1)):
            self._workers.append(self._start_worker(len(self._workers)))
        remaining = len(genomes)
        while remaining:
            for worker in self._workers:
                # A worker that has done its share is about to exit; `_replace`
                # starts its successor.
                if (
                    worker.ready
                    and worker.job is None
                    and queue
                    and worker.done < self.max_candidates_per_worker
                ):
                    index = queue.popleft()
                    try:
                        worker.connection.send(
                            (
                                "evaluate",
                                index,
                                genomes[index].to_json(),
                                parents[index],
                                steps[index],
                            )
                        )
                    except OSError:  # Died between polls: the job goes back.
                        queue.appendleft(index)
                        continue
                    worker.job = (index, time.monotonic())
            # A worker's death closes its end of the socket, which wakes this
            # wait as well as a message does.
            # One that closed it but is still exiting is not waited on (its EOF
            # would wake the wait at once, again and again); the poll catches it.
            multiprocessing.connection.wait(
                [w.connection for w in self._workers if not w.closed], timeout=_POLL_SECONDS
            )
            for position, worker in enumerate(list(self._workers)):
                # Check for death before draining the pipe, so a result sent
                # just before a normal exit is never mistaken for a crash.
                alive = worker.is_alive()
                for result in self._poll(worker, genomes):
                    remaining -= 1
                    yield result
                if not alive:
                    replacement = self._replace(worker, position, genomes)
                    if replacement is not None:
                        remaining -= 1
                        yield replacement
                elif worker.job is not None and self.timeout is not None:
                    index, started = worker.job
                    if time.monotonic() - started > self.timeout:
                        worker.job = None
                        self._workers[position] = self._start_worker(position)
                        worker.kill()
                        remaining -= 1
                        yield (
                            index,
                            Fitness.failed(
                                "timeout",
                                f"candidate ran past its {self.timeout:g} s limit and was stopped",
                                params=_params(self.spec, genomes[index]),
                                seconds={"total": round(time.monotonic() - started, 4)},
                            ),
                        )

    def _poll(self, worker, genomes):
        results = []
        try:
            while worker.connection.poll():
                message = worker.connection.recv()
                if message[0] == "ready":
                    worker.ready = True
                    self._failed_starts = 0
                elif message[0] == "fatal":
                    self.close()
                    raise WorkerStartError(
                        "A worker process could not set up the evaluator, so no candidate "
                        "can run. Its error:\n" + message[1]
                    )
                elif message[0] == "result":
                    _, index, fitness = message
                    worker.job = None
                    worker.done += 1
                    results.append((index, Fitness.from_dict(fitness)))
        except (EOFError, OSError):
            worker.closed = True  # The worker is gone or going; `run` replaces it.
        return results

    def _replace(self, worker, position, genomes):
        """Replaces a dead worker; returns a `crashed` result if it had a job."""
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        exitcode = worker.exitcode
        output = worker.output_tail()
        log_path = worker.log_path
        worker.kill()
        if not worker.ready:
            self._failed_starts += 1
            if self._failed_starts >= _MAX_FAILED_STARTS:
                self.close()
                where = f"Its whole output is in {log_path}. " if log_path else ""
                raise WorkerStartError(
                    f"{self._failed_starts} worker processes in a row died while starting "
                    f"({_death_reason(exitcode)}). The last one's output ended with:\n"
                    f"{_indented(output) or '    (no output)'}\n{where}"
                    "Try executor='inprocess' to debug in this process."
                )
        self._workers[position] = self._start_worker(position)
        if worker.job is None:
            return None  # Recycled after max_candidates_per_worker.
        index, started = worker.job
        reason = _death_reason(exitcode)
        if output:
            reason += "; its output ended with:\n" + _indented(output)
        return index, Fitness.failed(
            "crashed",
            reason[:2000],
            params=_params(self.spec, genomes[index]),
            seconds={"total": round(time.monotonic() - started, 4)},
        )

    def close(self):
        for worker in self._workers:
            try:
                if worker.is_alive() and worker.job is None and worker.ready:
                    worker.connection.send(("stop",))
                    worker.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            worker.kill()
        self._workers = []


def _indented(text):
    return "\n".join("    " + line for line in text.splitlines())


def _params(spec, genome):
    from kgan_nas.core.space import SearchSpace

    try:
        return SearchSpace.from_dict(spec.space).generator_params(genome)
    except ValueError:
        return 0
