"""Re-runs the backend-neutral tests (marked `backend`) under KERAS_BACKEND=jax.

The main pytest session runs on one Keras backend (the backend is fixed per
process), so the JAX run happens in a child pytest process. The child starts
as soon as collection ends (`start_jax_rerun`, called from conftest.py), so
it runs beside the main session instead of after it: the suite's wall time
falls by most of the child's, on two cores as on more. The test then waits
for it and checks its result.
"""

import atexit
import os
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
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    _rerun.update(process=process, output=output)
    # A session cut short (Ctrl-C, -x) must not leave the child running.
    atexit.register(lambda: process.poll() is None and process.kill())


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
        process.kill()
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
