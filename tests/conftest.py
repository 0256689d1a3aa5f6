import os

import pytest

# Keep TensorFlow quiet and deterministic enough for tests; the backend is
# whatever KERAS_BACKEND says (TensorFlow by default).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    """One extractor/data cache for the session (`KGAN_NAS_CACHE`), so the digits
    extractor trains once (not once per module: about 4 s each) and never touches
    the user's cache. Used by every test (autouse): on xdist a file's tests run in
    whichever worker gets it, so no test may count on another file having set it.
    Tests of the cache itself set their own."""
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("KGAN_NAS_CACHE")
    os.environ["KGAN_NAS_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("KGAN_NAS_CACHE")
    else:
        os.environ["KGAN_NAS_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_real_run(tmp_path_factory, cache_dir):
    """The directory of one tiny real in-process search (`tiny_runs.tiny_real_search`'s
    defaults, models saved), shared by the modules that only read a run (results, CLI):
    each used to train the same run again. Tests must not write into it."""
    from tiny_runs import tiny_real_search

    directory = tmp_path_factory.mktemp("tiny_real_run") / "run"
    tiny_real_search(directory)
    return directory


RERUN_TEST = "::test_backend_tests_pass_under_jax"


def pytest_collection_modifyitems(config, items):
    """Runs the JAX re-run's check last, so the main session's tests run while the child does."""
    items.sort(key=lambda item: item.nodeid.endswith(RERUN_TEST))


def pytest_configure(config):
    """The controller of an xdist session names the folder its workers share the JAX
    re-run through (they inherit the environment when they start)."""
    if not hasattr(config, "workerinput") and "KGAN_NAS_TEST_JAX_RERUN_DIR" not in os.environ:
        import tempfile

        folder = tempfile.mkdtemp(prefix="kgan_nas_jax_rerun_")
        os.environ["KGAN_NAS_TEST_JAX_RERUN_DIR"] = folder
        config._jax_rerun_folder = folder  # this process made it: it removes it


def pytest_unconfigure(config):
    """Removes the shared folder this process made (also after `--help` or `--markers`,
    which start no session) and forgets it, so a later session in this process makes
    its own."""
    folder = getattr(config, "_jax_rerun_folder", None)
    if folder is not None:
        import shutil

        from test_backends import stop_shared_rerun

        stop_shared_rerun(folder)
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("KGAN_NAS_TEST_JAX_RERUN_DIR", None)


def pytest_collection_finish(session):
    """Starts the JAX re-run of the `backend` tests beside this session when it is selected
    (on xdist, the first worker to collect starts it for all)."""
    config = session.config
    if config.option.collectonly:
        return
    if any(item.nodeid.endswith(RERUN_TEST) for item in session.items):
        from test_backends import start_jax_rerun

        start_jax_rerun()


def pytest_sessionfinish(session):
    """Stops the JAX re-run if the session ends before its check waited for it (the
    xdist controller stops a shared one in `pytest_unconfigure`)."""
    from test_backends import stop_jax_rerun

    stop_jax_rerun()
