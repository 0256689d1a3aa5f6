"""The check of the JAX re-run of the `backend` tests (`test_backends.py` starts it).

A file of its own, holding this one test: xdist's `--dist loadfile` hands out
whole files, the files with the most tests first and, among files of equal
size, in the order collected; conftest.py collects this test last, so the
worker that waits for the child does so only once everything else is handed
out. Another test added here would move the wait earlier.
"""

import os

import pytest
from test_backends import wait_for_jax_rerun


def test_backend_tests_pass_under_jax():
    """Every `backend`-marked test also passes with KERAS_BACKEND=jax."""
    pytest.importorskip("jax")
    if os.environ.get("KERAS_BACKEND") == "jax":
        pytest.skip("this session already runs on JAX")
    returncode, text = wait_for_jax_rerun()
    tail = text[-6000:]
    assert returncode == 0, tail
    assert " passed" in text and " failed" not in text, tail
