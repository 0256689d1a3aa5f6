"""Re-runs the backend-neutral tests (marked `backend`) under KERAS_BACKEND=jax.

The main pytest session runs on one Keras backend (the backend is fixed per
process), so the JAX run happens in a child pytest process. The child starts
as soon as collection ends (`start_jax_rerun`, called from conftest.py), and
the test that checks it is moved to the end of the session, so the child
runs beside the main session's tests instead of after them. The test then
waits for it and checks its result.
"""

import atexit
import os
import signal
import subprocess
import sys
import tempfile

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
RERUN_TIMEOUT = 900
_rerun = {}


def start_jax_rerun():
    """Starts the child JAX session (once), unless JAX is missing or this session is JAX's."""
    if _rerun or os.environ.get("KERAS_BACKEND") == "jax":
        return
    try:
        import jax  # noqa: F401
    except ImportError:
        return
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    # Files, not pipes: a child that writes more than a pipe holds would block.
    output = tempfile.TemporaryFile(mode="w+")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "backend",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        os.path.dirname(TESTS_DIR),
        TESTS_DIR,
    ]
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
    # A session cut short (Ctrl-C, -x) must not leave the child running;
    # conftest.py stops it at the session's end, this covers an abrupt exit.
    atexit.register(stop_jax_rerun)


def stop_jax_rerun():
    """Stops the child JAX session and its workers if it is still running."""
    process = _rerun.get("process")
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def test_backend_tests_pass_under_jax():
    """Every `backend`-marked test also passes with KERAS_BACKEND=jax."""
    pytest.importorskip("jax")
    if os.environ.get("KERAS_BACKEND") == "jax":
        pytest.skip("this session already runs on JAX")
    start_jax_rerun()  # already running when conftest.py started it
    process, output = _rerun["process"], _rerun["output"]
    try:
        returncode = process.wait(timeout=RERUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_jax_rerun()
        raise
    output.seek(0)
    text = output.read()
    tail = text[-6000:]
    assert returncode == 0, tail
    assert " passed" in text and " failed" not in text, tail


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
