"""XLA per candidate (`jit_compile="auto"`) and the workers' persistent compilation caches."""

import os

import pytest
from tiny_runs import flat_search_keywords
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas.cli import commands as cli
from kgan_nas.evaluation.evaluator import EvaluationConfig
from kgan_nas.executors.worker import enable_compile_caches
from kgan_nas.training import compile_choice
from kgan_nas.training.compile_choice import TF_CPU_XLA_MIN_STEPS
from kgan_nas.training.compile_choice import choose_jit_compile


@pytest.mark.parametrize(
    "backend, device, steps, expected",
    [
        ("jax", "cpu", 1, True),  # eager JAX is far slower than any compile
        ("jax", "gpu", 300, True),
        ("tensorflow", "gpu", 300, True),
        ("tensorflow", "cpu", 300, False),  # the quick preset's budget
        ("tensorflow", "cpu", 1000, False),  # the default preset's budget
        ("tensorflow", "cpu", TF_CPU_XLA_MIN_STEPS - 1, False),
        ("tensorflow", "cpu", TF_CPU_XLA_MIN_STEPS, True),
        ("tensorflow", "cpu", 5000, True),  # the paper preset's budget
    ],
)
def test_auto_rule_compiles_where_the_budget_repays_it(backend, device, steps, expected):
    assert choose_jit_compile(backend, device, steps) is expected


def test_resolve_keeps_an_explicit_choice_and_decides_auto():
    assert compile_choice.resolve_jit_compile(True, 1) is True
    assert compile_choice.resolve_jit_compile(False, 10**6) is False
    import keras

    backend = keras.backend.backend()
    device = compile_choice._device_kind(backend)
    for steps in (10, 10**6):
        assert compile_choice.resolve_jit_compile("auto", steps) is choose_jit_compile(
            backend, device, steps
        )


@pytest.mark.parametrize("value", ["yes", "AUTO", 1, None, "true"])
def test_other_jit_compile_values_are_refused_with_the_choices(value):
    with pytest.raises(ValueError, match="True, False or 'auto'"):
        EvaluationConfig(jit_compile=value)
    with pytest.raises(ValueError, match="True, False or 'auto'"):
        compile_choice.resolve_jit_compile(value, 300)


def test_auto_is_the_default_and_survives_the_stored_config():
    config = EvaluationConfig()
    assert config.jit_compile == "auto"
    assert EvaluationConfig.from_dict(config.to_dict()).jit_compile == "auto"
    assert EvaluationConfig(jit_compile=False).jit_compile is False


def test_compile_caches_go_under_the_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path))
    environ = {}
    folder = enable_compile_caches(environ)
    assert folder == os.path.join(str(tmp_path), "xla")
    assert environ["JAX_COMPILATION_CACHE_DIR"] == os.path.join(folder, "jax")
    assert environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    assert int(environ["JAX_COMPILATION_CACHE_MAX_SIZE"]) > 0
    tf_flag = f"--tf_xla_persistent_cache_directory={os.path.join(folder, 'tensorflow')}"
    assert environ["TF_XLA_FLAGS"] == tf_flag
    enable_compile_caches(environ)  # a second call adds nothing
    assert environ["TF_XLA_FLAGS"] == tf_flag


def test_compile_caches_leave_a_users_settings_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path))
    mine = "--tf_xla_persistent_cache_directory=/elsewhere"
    environ = {"JAX_COMPILATION_CACHE_DIR": "/mine", "TF_XLA_FLAGS": mine}
    enable_compile_caches(environ)
    assert environ["JAX_COMPILATION_CACHE_DIR"] == "/mine"
    assert environ["TF_XLA_FLAGS"] == mine
    environ = {"TF_XLA_FLAGS": "--tf_xla_auto_jit=2"}
    enable_compile_caches(environ)
    assert environ["TF_XLA_FLAGS"].startswith("--tf_xla_auto_jit=2 --tf_xla_persistent_cache")


class _Captured:
    def __call__(self, *args, **kwargs):
        self.kwargs = flat_search_keywords(kwargs)


@pytest.mark.parametrize(
    "argv, expected",
    [([], "auto"), (["--xla", "auto"], "auto"), (["--xla", "on"], True)]
    + [(["--xla", "off"], False), (["--no-xla"], False)],
)
def test_cli_xla_option_reaches_search(argv, expected, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    captured = _Captured()
    monkeypatch.setattr(cli.search_api, "search", captured)
    assert cli.main(["search", "--quiet", *argv]) == 0
    assert captured.kwargs["jit_compile"] == expected
    assert type(captured.kwargs["jit_compile"]) is type(expected)


@pytest.mark.keras
@pytest.mark.slow
def test_a_worker_records_its_choice_and_fills_the_compile_cache(tmp_path, cache_dir):
    """Real candidates in a worker process, XLA on: the compiled steps land in the cache."""
    import keras

    result = tiny_real_search(
        tmp_path / "run",
        space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=20_000),
        population=2,
        steps_per_candidate=3,
        executor="subprocess",
        workers=1,
        jit_compile=True,
    )
    assert [record["status"] for record in result.history] == ["ok", "ok"], result.history
    assert all(record["fitness"]["jit_compile"] is True for record in result.history)
    backend = "jax" if keras.backend.backend() == "jax" else "tensorflow"
    assert os.listdir(cache_dir / "xla" / backend)


def _cache_file(folder, name, size, used):
    path = folder / name
    path.write_bytes(b"x" * size)
    os.utime(path, (used, used))
    return path


def test_prune_folder_deletes_the_least_recently_used_files_first(tmp_path):
    from kgan_nas.store.cache import prune_folder

    old = _cache_file(tmp_path, "old.pb", 400, 1_000)
    middle = _cache_file(tmp_path, "middle.pb", 400, 2_000)
    new = _cache_file(tmp_path, "new.pb", 400, 3_000)
    (tmp_path / "sub").mkdir()  # folders are not the cache's files
    assert prune_folder(tmp_path, 1_200) == 0  # at the bound: nothing to do
    assert prune_folder(tmp_path, 500) == 800
    assert (old.exists(), middle.exists(), new.exists()) == (False, False, True)
    assert (tmp_path / "sub").is_dir()
    assert prune_folder(tmp_path / "missing", 0) == 0


def test_workers_bound_the_tensorflow_cache_but_not_a_users(monkeypatch, tmp_path):
    from kgan_nas.executors import worker

    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path))
    monkeypatch.setattr(worker, "_TF_CACHE_BYTES", 1_000)
    ours = tmp_path / "xla" / "tensorflow"
    ours.mkdir(parents=True)
    stale = _cache_file(ours, "stale.pb", 800, 1_000)
    fresh = _cache_file(ours, "fresh.pb", 800, 2_000)
    enable_compile_caches({})
    assert not stale.exists() and fresh.exists()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    kept = [_cache_file(theirs, f"{n}.pb", 800, 1_000 + n) for n in range(2)]
    fresh_too = _cache_file(ours, "fresh_too.pb", 800, 3_000)
    enable_compile_caches({"TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={theirs}"})
    assert all(path.exists() for path in kept) and fresh.exists() and fresh_too.exists()


def test_prune_folder_counts_what_another_process_deleted(monkeypatch, tmp_path):
    from kgan_nas.store import cache

    old = _cache_file(tmp_path, "old.pb", 400, 1_000)
    new = _cache_file(tmp_path, "new.pb", 400, 2_000)
    real_remove = os.remove

    def raced(path):  # another worker pruned the same file a moment before
        real_remove(path)
        raise FileNotFoundError(path)

    monkeypatch.setattr(cache.os, "remove", raced)
    # The oldest file's going is enough: the newer one stays, and this call deleted nothing.
    assert cache.prune_folder(tmp_path, 500) == 0
    assert not old.exists() and new.exists()


def test_a_cache_that_cannot_be_pruned_does_not_stop_a_worker(monkeypatch, tmp_path):
    from kgan_nas.store import cache

    def refuse(folder, max_bytes):
        raise PermissionError(13, "Permission denied", folder)

    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "prune_folder", refuse)
    environ = {}
    with pytest.warns(UserWarning, match="Could not prune the XLA cache"):
        folder = enable_compile_caches(environ)
    assert environ["TF_XLA_FLAGS"].endswith(os.path.join(folder, "tensorflow"))
