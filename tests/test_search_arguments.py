"""`kgan_nas.search`'s grouped arguments, the one record path, and the history check.

`search` takes its common arguments by name and the rest in two typed
objects, `SearchOptions` (what the search is) and `RunSettings` (how it
runs); the keywords it took before still work, each with a
`DeprecationWarning`.
"""

import ast
import dataclasses
import importlib.util
import inspect
import json
import pathlib
import sys
import warnings

import pytest

import kgan_nas
from kgan_nas import config as config_lib

PACKAGE_DIR = pathlib.Path(kgan_nas.__file__).parent
BENCHMARKS = PACKAGE_DIR.parent / "benchmarks"


def test_search_takes_at_most_fifteen_parameters():
    parameters = inspect.signature(kgan_nas.search).parameters
    assert len(parameters) <= 15
    # Every keyword search took before the grouping has a place in one group.
    moved = set(config_lib.MOVED_SEARCH_ARGUMENTS)
    assert not moved & set(parameters)
    assert {"batch_size", "num_samples", "workers", "executor", "metric", "overwrite"} <= moved


def test_old_keywords_land_in_their_group_with_a_deprecation_warning():
    messages = []
    options, run = config_lib.group_search_arguments(
        None,
        None,
        {"batch_size": 16, "metric": "kid_domain", "workers": 3, "overwrite": True},
        messages.append,
    )
    assert options.batch_size == 16 and options.metric == "kid_domain"
    assert run.workers == 3 and run.overwrite is True
    assert len(messages) == 4
    assert any("options=kgan_nas.SearchOptions(batch_size=...)" in m for m in messages)
    assert any("run=kgan_nas.RunSettings(workers=...)" in m for m in messages)


def test_old_keywords_merge_into_given_groups():
    options, run = config_lib.group_search_arguments(
        kgan_nas.SearchOptions(num_samples=50),
        kgan_nas.RunSettings(executor="inprocess"),
        {"batch_size": 8, "timeout": 30.0},
        lambda message: None,
    )
    assert (options.num_samples, options.batch_size) == (50, 8)
    assert (run.executor, run.timeout) == ("inprocess", 30.0)


def test_a_setting_given_twice_or_unknown_is_a_type_error():
    with pytest.raises(TypeError, match="both as a keyword and in options="):
        config_lib.group_search_arguments(
            kgan_nas.SearchOptions(batch_size=32), None, {"batch_size": 16}, print
        )
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        config_lib.group_search_arguments(None, None, {"batchsize": 16}, print)
    with pytest.raises(TypeError, match="options must be a kgan_nas.SearchOptions"):
        config_lib.group_search_arguments({"batch_size": 16}, None, {}, print)
    with pytest.raises(TypeError, match="run must be a kgan_nas.RunSettings"):
        config_lib.group_search_arguments(None, {"workers": 2}, {}, print)


def test_labels_arrays_count_as_given():
    np = pytest.importorskip("numpy")
    labels = np.arange(4)
    with pytest.raises(TypeError, match="both"):
        config_lib.group_search_arguments(
            kgan_nas.SearchOptions(labels=labels), None, {"labels": labels}, print
        )


def test_search_warns_for_an_old_keyword_before_any_work(tmp_path):
    # An invalid value after the warning: the search stops at its checks.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="timeout"):
            kgan_nas.search("digits", directory=str(tmp_path / "run"), timeout=-1)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [str(w.message) for w in deprecations] == [
        "kgan_nas.search(timeout=...) is deprecated; pass "
        "run=kgan_nas.RunSettings(timeout=...) instead."
    ]
    # Pointed at the caller's line, not at kgan_nas.
    assert deprecations[0].filename == __file__
    assert not (tmp_path / "run").exists()


def test_run_settings_never_store_overwrite():
    settings = kgan_nas.RunSettings(executor="inprocess", workers=2, overwrite=True)
    stored = settings.to_dict()
    assert "overwrite" not in stored
    assert config_lib.RunSettings.from_dict(dict(stored, overwrite=True)).overwrite is False
    assert config_lib.RunSettings.from_dict(stored) == dataclasses.replace(
        settings, overwrite=False
    )


def _calls_named(name):
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("." + name):
                yield path.relative_to(PACKAGE_DIR).as_posix()


def test_history_add_is_the_one_writer_of_history_records():
    """One record path: only `History.add` appends to `history.jsonl`."""
    assert sorted(set(_calls_named("append_history"))) == ["engine/history.py"]
    assert sorted(set(_calls_named("promote_best"))) == ["engine/history.py"]


def _same_history_module():
    spec = importlib.util.spec_from_file_location(
        "same_history", BENCHMARKS / "same_history.py", submodule_search_locations=[]
    )
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_same_history_ignores_timings_only(tmp_path):
    same_history = _same_history_module()
    record = {
        "key": "a",
        "time": 1.0,
        "fitness": {"fid": 3.0, "seconds": {"train": 2.0}, "curve": {"step": [1]}},
    }
    retimed = json.loads(json.dumps(record))
    retimed["time"], retimed["fitness"]["seconds"]["train"] = 9.0, 7.0
    changed = json.loads(json.dumps(record))
    changed["fitness"]["fid"] = 3.5
    for name, records in (("a", [record]), ("b", [retimed]), ("c", [changed])):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    assert same_history.compare(tmp_path / "a", tmp_path / "b")["identical"]
    report = same_history.compare(tmp_path / "a", tmp_path / "c")
    assert not report["identical"] and report["differing_records"] == [0]
    (tmp_path / "d").write_text("")
    assert not same_history.compare(tmp_path / "a", tmp_path / "d")["identical"]


def test_a_budgets_cost_bounds_reach_the_default_space():
    """A preset may bound training cost as well as parameters (`SPACE_BOUNDS`)."""
    import types

    from kgan_nas.engine.conditional import conditional_space

    data = types.SimpleNamespace(image_shape=(28, 28, 1))
    budget = {"max_params": 2_000_000, "max_train_macs": 15_000_000, "workers": 2}
    space = conditional_space(data, None, False, budget)
    assert (space.max_params, space.max_train_macs, space.max_generator_macs) == (
        2_000_000,
        15_000_000,
        None,
    )
    assert conditional_space(data, None, False, {"max_params": 5}).max_train_macs is None
