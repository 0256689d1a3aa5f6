import os

import pytest

# Keep TensorFlow quiet and deterministic enough for tests; the backend is
# whatever KERAS_BACKEND says (TensorFlow by default).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One extractor/data cache per test module (`KGAN_NAS_CACHE`), so the digits
    extractor trains once per module and never touches the user's cache."""
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("KGAN_NAS_CACHE")
    os.environ["KGAN_NAS_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("KGAN_NAS_CACHE")
    else:
        os.environ["KGAN_NAS_CACHE"] = old


def pytest_collection_finish(session):
    """Starts the JAX re-run of the `backend` tests beside this session when it is selected."""
    if any(item.nodeid.endswith("::test_backend_tests_pass_under_jax") for item in session.items):
        from test_backends import start_jax_rerun

        start_jax_rerun()
