"""Re-runs the backend-neutral tests (marked `backend`) under KERAS_BACKEND=jax.

The main pytest session runs on one Keras backend (the backend is fixed per
process), so the JAX run happens in a child pytest process. The child starts
as soon as collection ends (`start_jax_rerun`, called from conftest.py), and
the test that checks it (`test_jax_rerun.py`, a file of its own, so that
xdist hands it out last) is moved to the end of the session, so the child
runs beside the main session's tests instead of after them. The test then
waits for it and checks its result.

The suite runs on pytest-xdist workers (setup.cfg's `-n`). Every worker
collects the same tests; the first to claim the shared folder that the
controller names in `RERUN_DIR_ENV` starts the child, which writes its output
and exit code there, so the worker that runs the check (any of them) reads
them, and the controller stops a child still running when the session ends.
In one process (`-n 0`) the session starts, waits for and stops the child
itself.
"""

import atexit
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
RERUN_TIMEOUT = 900
# The folder the controller shares with its xdist workers (set before they start).
RERUN_DIR_ENV = "KGAN_NAS_TEST_JAX_RERUN_DIR"
_rerun = {}


def _command():
    return [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "backend",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",  # the child is one lane beside the xdist workers, not a controller of more
        "--rootdir",
        os.path.dirname(TESTS_DIR),
        TESTS_DIR,
    ]


def _shared_folder():
    """The folder shared with the other xdist workers, or None outside xdist."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    folder = os.environ.get(RERUN_DIR_ENV)
    # A folder that is gone (its session ended) shares nothing: run as one process.
    return folder if folder and os.path.isdir(folder) else None


def _claim(folder):
    """Whether this worker is the first to claim `folder`'s child (atomic)."""
    try:
        os.close(os.open(os.path.join(folder, "claimed"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


# Runs the child and writes its exit code to a file (atomically), so a worker
# other than the one that started it can wait for it.
_WRAPPER = (
    "import os, subprocess, sys; code = subprocess.call(sys.argv[2:]); path = sys.argv[1]; "
    "open(path + '.tmp', 'w').write(str(code)); os.replace(path + '.tmp', path)"
)


def start_jax_rerun():
    """Starts the child JAX session (once), unless JAX is missing or this session is JAX's."""
    if _rerun or os.environ.get("KERAS_BACKEND") == "jax":
        return
    try:
        import jax  # noqa: F401
    except ImportError:
        return
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTEST_XDIST_WORKER", None)  # the child is a plain session
    folder = _shared_folder()
    if folder is not None:
        if not _claim(folder):
            return
        output = open(os.path.join(folder, "output"), "w+")  # noqa: SIM115 (the child writes it)
        command = [sys.executable, "-c", _WRAPPER, os.path.join(folder, "returncode"), *_command()]
    else:
        # Files, not pipes: a child that writes more than a pipe holds would block.
        output = tempfile.TemporaryFile(mode="w+")
        command = _command()
    # Its own process group, so that stopping it stops its workers too.
    process = subprocess.Popen(
        command,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    _rerun.update(process=process, output=output)
    if folder is not None:
        # The controller stops it if the session ends first: this worker may end
        # before the worker that runs the check has waited for it.
        path = os.path.join(folder, "pid")
        with open(path + ".tmp", "w") as stream:
            stream.write(str(process.pid))
        os.replace(path + ".tmp", path)
        return
    # A session cut short (Ctrl-C, -x) must not leave the child running;
    # conftest.py stops it at the session's end, this covers an abrupt exit.
    atexit.register(stop_jax_rerun)


def stop_jax_rerun():
    """Stops the child JAX session and its workers if this process started it and it runs."""
    if _shared_folder() is not None:
        return  # the controller stops it (`stop_shared_rerun`)
    process = _rerun.get("process")
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def stop_shared_rerun(folder):
    """The xdist controller's end of session: stops a child the workers left running."""
    try:
        with open(os.path.join(folder, "pid")) as stream:
            pid = int(stream.read())
    except (OSError, ValueError):
        return
    if not os.path.exists(os.path.join(folder, "returncode")):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for_jax_rerun():
    """`(returncode, output)` of the child JAX session, once it ends.

    Raises:
        TimeoutError or subprocess.TimeoutExpired: past `RERUN_TIMEOUT` (the
            child is stopped).
    """
    start_jax_rerun()  # already running when conftest.py started it
    folder = _shared_folder()
    if folder is not None:
        return _wait_for_shared(folder)
    process, output = _rerun["process"], _rerun["output"]
    try:
        returncode = process.wait(timeout=RERUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_jax_rerun()
        raise
    output.seek(0)
    return returncode, output.read()


def _wait_for_shared(folder):
    """`(returncode, output)` of the child another worker started, once it ends."""
    path = os.path.join(folder, "returncode")
    deadline = time.monotonic() + RERUN_TIMEOUT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            stop_shared_rerun(folder)
            raise TimeoutError(f"the JAX re-run did not end within {RERUN_TIMEOUT} s")
        time.sleep(0.5)
    with open(path) as stream:
        returncode = int(stream.read())
    with open(os.path.join(folder, "output")) as stream:
        return returncode, stream.read()


def test_importing_kgan_nas_under_jax_does_not_import_tensorflow():
    """With KERAS_BACKEND=jax, kgan_nas and its training engine leave TensorFlow unloaded."""
    pytest.importorskip("jax")
    code = (
        "import sys, kgan_nas; kgan_nas.GAN; import kgan_nas.training, kgan_nas.evaluation.decode, "
        "kgan_nas.data, kgan_nas.features, kgan_nas.evaluation.evaluator, kgan_nas.api; "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, KERAS_BACKEND="jax"),
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "False"
