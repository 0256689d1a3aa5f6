"""The worker process of `SubprocessExecutor`, started as a fresh interpreter.

Why not `multiprocessing`: its spawn start method re-imports the caller's main
module in every child, so a user's script without an `if __name__ ==
"__main__":` guard runs again in each worker (and a script on stdin or a
notebook cell cannot be re-imported at all). A worker here is started with
`python -c` running `main()` below: it imports kgan_nas and the evaluator, and
never the caller's `__main__`.

The driver and the worker talk over a socket pair (the worker's end is an
inherited file descriptor) with `multiprocessing.connection` framing:

    driver -> worker   ("init", sys_path, WorkerSpec, max_tasks, label)
                       ("evaluate", index, genome_json, parent_key, steps) | ("stop",)
    worker -> driver   ("ready", pid) | ("fatal", traceback)
                       ("result", index, fitness_dict)

A worker never outlives its driver: on Linux the kernel sends it SIGKILL when
the driver dies (`PR_SET_PDEATHSIG`), and on every platform a watchdog thread
exits the process within a second of the driver's death.
"""

import os
import signal
import sys
import threading
import time
import traceback

from kgan_nas.errors import warn

# The command line that starts a worker; argv: driver pid, socket fd, label, and
# the folder holding the driver's kgan_nas. That folder is added to the import
# path only when it is not there already (a source checkout), and at the end, so
# it never shadows the standard library. The label (the run's log folder) makes
# a run's workers easy to find in `ps`.
BOOTSTRAP = (
    "import sys; root = sys.argv[4]; "
    "sys.path.append(root) if root not in sys.path else None; "
    "from kgan_nas.executors.worker import main; main()"
)
_PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1
# Bound of each compilation cache. JAX drops its least recently used entries
# itself; TensorFlow's cache has no bound, so a worker prunes it on start.
_JAX_CACHE_BYTES = 2 * 1024**3
_TF_CACHE_BYTES = 2 * 1024**3


def enable_compile_caches(environ=None):
    """Points JAX's and TensorFlow's persistent XLA compilation caches under the cache root.

    A program compiled once is then loaded from disk by every later worker
    that compiles it again: the same genome retrained (another seed, a
    resumed candidate) and, on JAX, the small programs that initialise
    layers of shapes seen before. Both libraries read these variables when
    they are imported, so this runs before the worker imports Keras.
    Variables the user set already are left alone. Each cache is bounded
    to about 2 GiB: JAX's by its own setting, TensorFlow's (which has none)
    by deleting its least recently used programs here, as each worker
    starts (it may grow past the bound until the next worker starts).

    Args:
        environ: The environment to update. Defaults to `os.environ`.

    Returns:
        The cache folder, `<cache root>/xla`.
    """
    from kgan_nas.store.cache import cache_root
    from kgan_nas.store.cache import prune_folder

    environ = os.environ if environ is None else environ
    folder = os.path.join(cache_root(), "xla")
    environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(folder, "jax"))
    # Every program, however quick to compile: initialisers add up on JAX.
    environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(_JAX_CACHE_BYTES))
    flags = environ.get("TF_XLA_FLAGS", "")
    tf_folder = os.path.join(folder, "tensorflow")
    tf_flag = f"--tf_xla_persistent_cache_directory={tf_folder}"
    if "--tf_xla_persistent_cache_directory" not in flags:
        environ["TF_XLA_FLAGS"] = f"{flags} {tf_flag}".strip()
    if tf_flag in environ["TF_XLA_FLAGS"].split():  # ours only: a user's folder is theirs
        try:
            prune_folder(tf_folder, _TF_CACHE_BYTES)
        except OSError as error:  # housekeeping: a worker must start all the same
            warn(f"Could not prune the XLA cache {tf_folder}: {error}")
    return folder


def _die_with_parent(parent_pid):
    """Makes this process exit as soon as `parent_pid` (the driver) is gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # The watchdog below still covers it.
    if os.getppid() != parent_pid:  # The driver died before prctl took effect.
        os._exit(1)

    def watch():
        while True:
            time.sleep(_PARENT_POLL_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="kgan-nas-parent-watchdog", daemon=True).start()


def _serve(connection):
    message = connection.recv()
    # The spec's own classes are kgan_nas's; the pickled Keras callbacks in it
    # are unpickled only in `build_evaluator`, after the import path is set.
    _, sys_path, spec, max_tasks, _ = message
    # The driver's import path, so evaluator factories and callbacks that the
    # driver can import are importable here too (as multiprocessing does).
    sys.path[:0] = [entry for entry in sys_path if entry not in sys.path]
    try:
        enable_compile_caches()
        from kgan_nas.executors.base import build_evaluator

        evaluator = build_evaluator(spec)
    except BaseException:
        connection.send(("fatal", traceback.format_exc()))
        return
    from kgan_nas.core.genome import Genome
    from kgan_nas.executors.base import evaluate_candidate
    from kgan_nas.executors.base import parent_dir_for
    from kgan_nas.executors.base import save_dir_for

    connection.send(("ready", os.getpid()))
    for _ in range(max_tasks):
        try:
            message = connection.recv()
        except EOFError:
            return
        if message[0] == "stop":
            return
        _, index, genome_json, parent_key, steps = message
        genome = Genome.from_json(genome_json)
        fitness = evaluate_candidate(
            evaluator,
            genome,
            save_dir_for(spec, genome),
            parent_dir_for(spec, parent_key),
            steps,
        )
        connection.send(("result", index, fitness.to_dict()))


def main():
    """Runs one worker: `python -c BOOTSTRAP DRIVER_PID SOCKET_FD LABEL PACKAGE_ROOT`."""
    import multiprocessing.connection

    parent_pid, descriptor = int(sys.argv[1]), int(sys.argv[2])
    _die_with_parent(parent_pid)
    # Ctrl-C in a terminal reaches the whole process group; the driver decides
    # what happens to running candidates (it stops its workers on the way out).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = multiprocessing.connection.Connection(descriptor)
    try:
        _serve(connection)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # The driver closed the connection: nothing left to do.
    finally:
        connection.close()
