"""Re-runs the backend-neutral tests (marked `backend`) under KERAS_BACKEND=jax.

The main pytest session runs on one Keras backend (the backend is fixed per
process), so the JAX run happens in a child pytest process.
"""

import os
import subprocess
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def test_backend_tests_pass_under_jax():
    """Every `backend`-marked test also passes with KERAS_BACKEND=jax."""
    pytest.importorskip("jax")
    if os.environ.get("KERAS_BACKEND") == "jax":
        pytest.skip("this session already runs on JAX")
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [
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
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and " failed" not in result.stdout, tail


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
