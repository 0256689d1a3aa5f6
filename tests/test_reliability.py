"""Faults and security: failed writes, kills, time limits, and untrusted run directories.

The resume-after-SIGKILL test (a search killed mid-generation continues with
exactly the genomes of an uninterrupted run) is
`tests/test_search.py::test_sigkill_mid_generation_then_resume_continues_identically`;
the tests here cover what it does not: a kill or an error in the middle of a
file write, a lost checkpoint, a candidate past its time limit, and loading a
run directory that someone else crafted.
"""

import ast
import functools
import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import time

import pytest
import scripted_evaluators as scripted
from test_bad_input import _snapshot
from tiny_runs import finished_scripted_run
from tiny_runs import scripted_search
from tiny_runs import scripted_space
from tiny_runs import skip_worker_files
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas import config as config_lib
from kgan_nas.cli import commands as cli
from kgan_nas.store import atomic
from kgan_nas.store.run_dir import RunDir
from kgan_nas.store.run_dir import RunDirectoryError

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = pathlib.Path(kgan_nas.__file__).parent


def _temporary_files(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp") or ".tmp-" in name]


# ----------------------------------------------------------------------------
# Atomic writes: a failed or killed write never damages the existing file
# ----------------------------------------------------------------------------


def _fail_halfway(stream):
    stream.write(b'{"half": ')
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    "write, error",
    [
        (lambda path: atomic.atomic_write(path, _fail_halfway), OSError),
        (lambda path: atomic.atomic_write_json(path, {"loss": float("nan")}), ValueError),
        (lambda path: atomic.atomic_write_text(path, "new\udc00"), UnicodeEncodeError),
    ],
    ids=["disk full mid-write", "NaN in JSON", "unencodable text"],
)
def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, write, error):
    """Whatever fails during a write, the old content survives byte for byte and
    the temporary file is removed."""
    path = tmp_path / "checkpoint.json"
    path.write_bytes(b'{"generation": 3}')
    with pytest.raises(error):
        write(path)
    assert path.read_bytes() == b'{"generation": 3}'
    assert _temporary_files(tmp_path) == []


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    """If the final rename fails, the old file stays and the temporary is removed."""
    path = tmp_path / "config.json"
    path.write_text("old")

    def refuse(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic.atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert _temporary_files(tmp_path) == []


def test_failed_model_save_keeps_the_old_model(tmp_path):
    """A model whose save fails half-way leaves the old `.keras` file in place."""

    class BrokenModel:
        def save(self, path):
            with open(path, "wb") as stream:
                stream.write(b"PK\x03\x04 half a zip")
            raise RuntimeError("saving failed")

    path = tmp_path / "generator.keras"
    path.write_bytes(b"the old model")
    with pytest.raises(RuntimeError, match="saving failed"):
        atomic.atomic_save_model(BrokenModel(), path)
    assert path.read_bytes() == b"the old model"
    assert _temporary_files(tmp_path) == []


def test_sigkill_during_a_write_leaves_the_old_file_whole(tmp_path):
    """kill -9 while a large file is being written: the destination still holds the
    complete old content (the half-written data only ever sat in a temporary)."""
    path = tmp_path / "real_features.npy"
    old = os.urandom(1024)
    path.write_bytes(old)
    code = (
        "import sys, time\n"
        "from kgan_nas.store.atomic import atomic_write\n"
        "def slow(stream):\n"
        "    for _ in range(400):\n"
        "        stream.write(b'x' * 65536); stream.flush(); time.sleep(0.01)\n"
        "atomic_write(sys.argv[1], slow)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(path)])
    try:
        deadline = time.monotonic() + 60
        while not any(
            os.path.getsize(tmp_path / name) > 65536 for name in _temporary_files(tmp_path)
        ):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert path.read_bytes() == old


def test_interrupted_best_swap_is_completed_on_resume(tmp_path):
    """A kill between the two renames of the `best/` swap leaves no `best/`; the
    next open finishes the swap with the complete new folder."""
    run = RunDir(tmp_path / "run")
    run.open({"seed": 0})
    staging = pathlib.Path(run.file(".best-staging"))
    staging.mkdir()
    (staging / "generator.keras").write_bytes(b"new best")
    (staging / "record.json").write_text("{}")
    old = pathlib.Path(run.file(".best-old"))
    old.mkdir()
    (old / "generator.keras").write_bytes(b"old best")
    assert run.open({"seed": 0}) is True
    assert (tmp_path / "run" / "best" / "generator.keras").read_bytes() == b"new best"
    assert not staging.exists()


def test_incomplete_staging_falls_back_to_the_previous_best(tmp_path):
    """Without its record.json a staging folder is incomplete: the old best is restored."""
    run = RunDir(tmp_path / "run")
    run.open({"seed": 0})
    pathlib.Path(run.file(".best-staging")).mkdir()
    old = pathlib.Path(run.file(".best-old"))
    old.mkdir()
    (old / "generator.keras").write_bytes(b"old best")
    run.open({"seed": 0})
    assert (tmp_path / "run" / "best" / "generator.keras").read_bytes() == b"old best"


# ----------------------------------------------------------------------------
# Resume
# ----------------------------------------------------------------------------


def _keys_by_generation(history):
    keys = {}
    for record in history:
        keys.setdefault(record["generation"], []).append(record["key"])
    return keys


def test_lost_checkpoint_replays_from_history_without_reevaluating(tmp_path, monkeypatch):
    """With checkpoint.json deleted (the fix a damaged one's error suggests), a resume
    replays the finished generations from the seed, reuses every recorded result
    and continues exactly like an uninterrupted run."""
    skip_worker_files(monkeypatch, tmp_path)
    reference = scripted_search(tmp_path / "reference", generations=3)
    directory = tmp_path / "run"
    scripted_search(directory, generations=2)
    history = directory / "history.jsonl"
    before = history.read_text()
    (directory / "checkpoint.json").unlink()
    resumed = scripted_search(directory, generations=3)
    assert history.read_text().startswith(before)
    assert len(resumed.history) == 12  # 8 reused + 4 new: nothing evaluated twice
    assert _keys_by_generation(resumed.history) == _keys_by_generation(reference.history)
    assert json.loads((directory / "checkpoint.json").read_text())["generation"] == 3


def test_candidate_past_its_time_limit_is_stopped_and_recorded(tmp_path, monkeypatch):
    """Candidates that hang are killed at `timeout` and recorded as `timeout` in
    history.jsonl; the others score and the search finishes its generation."""
    skip_worker_files(monkeypatch, tmp_path)
    hung = tmp_path / "hung"  # each hanging candidate's worker leaves its pid here
    hung.mkdir()
    result = scripted_search(
        tmp_path / "run",
        evaluator="fault",
        space=scripted_space(learning_rates=(scripted.OK, scripted.HANG)),
        population=4,
        workers=2,
        timeout=2,
        executor="subprocess",
        executor_options={"environment": {"PYTHONPATH": TESTS_DIR, "SCRIPTED_HANG_DIR": str(hung)}},
    )
    statuses = {}
    for record in result.history:
        hangs = record["genome"]["training"]["g_learning_rate"] == scripted.HANG
        assert record["status"] == ("timeout" if hangs else "ok"), record
        if hangs:
            assert "2 s limit" in record["reason"]
            assert record["fitness"]["seconds"]["total"] >= 2  # not stopped before its limit
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    assert statuses.get("timeout", 0) >= 1 and statuses.get("ok", 0) >= 1, statuses
    assert len(result.history) == 4
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert checkpoint["generation"] == 1 and checkpoint["pending"] is None
    # Stopped, not waited for nor left behind: each hanging candidate ran in a worker of
    # its own, which was killed in its 600 s sleep and is gone once the search returns.
    pids = [int(name) for name in os.listdir(hung)]
    assert len(pids) == statuses["timeout"]
    assert [pid for pid in pids if _running(pid)] == []


def _running(pid):
    """True if process `pid` exists (a killed worker is reaped by its executor)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cli_interrupt_is_one_line_with_the_resume_hint(monkeypatch, capsys):
    """Ctrl-C in `kgan-nas search` exits 130 with how to resume, not a traceback."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.search_api, "search", interrupted)
    try:
        code = cli.main(["search"])
    except KeyboardInterrupt:  # would otherwise stop the whole test session
        pytest.fail("KeyboardInterrupt escaped cli.main")
    assert code == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run the same command again to resume" in err


# ----------------------------------------------------------------------------
# Security: a run directory is data, never code, and never a way out
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [
        ("..", "..", "etc", "passwd"),
        ("candidates", "../../../outside"),
        ("/etc/passwd",),
    ],
    ids=["dot-dot", "key with dot-dot", "absolute"],
)
def test_paths_cannot_escape_the_run_directory(tmp_path, parts):
    """Relative climbs and absolute paths are refused by RunDir.file."""
    with pytest.raises(RunDirectoryError, match="escapes the run directory"):
        RunDir(tmp_path / "run").file(*parts)


def test_symlink_planted_in_a_run_directory_cannot_redirect_writes(tmp_path, monkeypatch):
    """A history.jsonl that is a link to a file elsewhere is neither appended to nor
    read: the search refuses the path and the outside file is unchanged."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    outside = tmp_path / "bashrc"
    outside.write_text("export PATH=/usr/bin\n")
    (directory / "history.jsonl").unlink()
    (directory / "history.jsonl").symlink_to(outside)
    with pytest.raises(RunDirectoryError, match="escapes the run directory"):
        RunDir(directory).append_history({"key": "0" * 16})
    with pytest.raises(RunDirectoryError, match="escapes the run directory"):
        kgan_nas.SearchResult(str(directory))
    assert outside.read_text() == "export PATH=/usr/bin\n"


def test_history_keys_that_are_not_genome_keys_are_ignored(tmp_path, monkeypatch):
    """A history record whose key could act as a path (`../..`) is skipped as damaged,
    so no reader can build a path from it; asking for it by key is refused."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    history = directory / "history.jsonl"
    record = json.loads(history.read_text().splitlines()[0])
    record["key"] = "../../../../etc"
    with history.open("a") as stream:
        stream.write(json.dumps(record) + "\n")
    with pytest.warns(UserWarning, match="damaged line 5"):
        result = kgan_nas.SearchResult(str(directory))
    assert len(result.history) == 4
    assert all(len(r["key"]) == 16 for r in result.history)
    with pytest.raises(RunDirectoryError, match="escapes the run directory"):
        result.generator("../../../../etc")


def test_resume_never_opens_a_data_path_stored_in_the_config(tmp_path, monkeypatch, capsys):
    """`kgan-nas resume` takes only a dataset *name* from config.json; a path there
    (which could point anywhere) is refused before anything is loaded."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    config = json.loads((directory / "config.json").read_text())
    config["search"]["dataset"] = "../../../../etc/passwd"
    (directory / "config.json").write_text(json.dumps(config))

    def load_dataset(*args, **kwargs):
        raise AssertionError(f"load_dataset was called with {args}")

    monkeypatch.setattr(kgan_nas.data, "load_dataset", load_dataset)
    before = _snapshot(directory)
    assert cli.main(["resume", str(directory)]) == 2
    err = capsys.readouterr().err
    assert "is not a named dataset" in err and "--dataset PATH" in err
    assert _snapshot(directory) == before
    # Data passed as an array has no path: only the Python way is offered.
    config["search"]["dataset"] = "array"
    (directory / "config.json").write_text(json.dumps(config))
    assert cli.main(["resume", str(directory)]) == 2
    err = capsys.readouterr().err
    assert "searched data passed as an array" in err and "--dataset" not in err
    assert "kgan_nas.search(the same data, directory=" in err


@pytest.mark.keras
def test_model_with_code_is_refused_in_safe_mode(tmp_path, monkeypatch, capsys):
    """A `.keras` file holding a Python lambda (arbitrary code) is refused by
    `best_generator()` and by `kgan-nas sample`, naming safe_mode and the way out."""
    import keras

    directory = finished_scripted_run(monkeypatch, tmp_path)
    inputs = keras.Input((8,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    atomic.atomic_save_model(keras.Model(inputs, outputs), directory / "best" / "generator.keras")
    result = kgan_nas.SearchResult(str(directory))
    with pytest.raises(RunDirectoryError) as error:
        result.best_generator()
    assert "Refusing to load" in str(error.value)
    assert "safe_mode=False" in str(error.value)
    out = tmp_path / "grid.png"
    assert cli.main(["sample", str(directory), "--out", str(out)]) == 2
    assert "Refusing to load" in capsys.readouterr().err
    assert not out.exists()


def test_reading_and_resuming_a_run_never_unpickles(tmp_path, monkeypatch):
    """With every unpickling entry point made to fail, a run directory can still be
    read (summary, Pareto front, checkpoint) and resumed: only JSON is parsed."""
    directory = finished_scripted_run(monkeypatch, tmp_path)

    def forbidden(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    result = kgan_nas.SearchResult(str(directory))
    assert "Evaluated 4 candidates" in result.summary()
    assert result.pareto_front()
    assert RunDir(directory).checkpoint()["generation"] == 1
    skip_worker_files(monkeypatch, tmp_path)
    assert len(scripted_search(directory, generations=2).history) == 8


@functools.cache
def _all_calls():
    """(file, dotted name, call) for every call in the package's source."""
    calls = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                calls.append(
                    (path.relative_to(PACKAGE_DIR).as_posix(), ast.unparse(node.func), node)
                )
    return calls


def _calls(name_suffixes):
    """(file, call) for every call whose dotted name ends with one of `name_suffixes`."""
    for path, name, call in _all_calls():
        if any(name == s or name.endswith("." + s) for s in name_suffixes):
            yield path, call


def _keyword(call, name):
    value = next((k.value for k in call.keywords if k.arg == name), None)
    return value.value if isinstance(value, ast.Constant) else value


def test_source_loads_files_only_without_pickle_and_in_safe_mode():
    """Every file kgan_nas reads is parsed without pickle: numpy with
    allow_pickle=False, Keras models with safe_mode=True, and no pickle.load or
    unsafe deserializer anywhere. The one pickle.loads reads the Keras callbacks a
    search hands its own workers in memory (WorkerSpec), never a file."""
    numpy_loads = list(_calls(["np.load", "numpy.load"]))
    assert numpy_loads
    for path, call in numpy_loads:
        assert _keyword(call, "allow_pickle") is False, f"{path}:{call.lineno}"
    model_loads = list(_calls(["saving.load_model", "keras.models.load_model"]))
    assert model_loads
    for path, call in model_loads:
        assert _keyword(call, "safe_mode") is True, f"{path}:{call.lineno}"
    for path, call in _calls(["np.save"]):
        assert _keyword(call, "allow_pickle") is False, f"{path}:{call.lineno}"
    unsafe = [
        "pickle.load",
        "pickle.Unpickler",
        "pickle.dump",
        "marshal.loads",
        "yaml.load",
        "enable_unsafe_deserialization",
    ]
    assert [f"{path}:{call.lineno}" for path, call in _calls(unsafe)] == []
    builtins = [
        f"{path}:{call.lineno}"
        for path, call in _calls(["eval", "exec"])
        if ast.unparse(call.func) in ("eval", "exec")
    ]
    assert builtins == []
    loads = [(path, ast.unparse(call.args[0])) for path, call in _calls(["pickle.loads"])]
    assert loads == [("executors/base.py", "spec.keras_callbacks")]
    assert list(_calls(["pickle.dumps"])) == []
    # The callbacks go to the search's own workers in memory, by value (cloudpickle).
    cloud = [(path, ast.unparse(call.args[0])) for path, call in _calls(["cloudpickle.dumps"])]
    assert cloud == [("engine/inputs.py", "keras_callbacks")]


def _event_spy(monkeypatch):
    """Records os.replace targets and whether each os.fsync was of a folder."""
    import stat

    events = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(source, destination):
        real_replace(source, destination)
        events.append(("replace", os.fspath(destination)))

    def fsync(descriptor):
        real_fsync(descriptor)
        events.append(
            ("fsync-folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "fsync-file", None)
        )

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    return events


def test_atomic_writes_sync_the_file_then_the_folder_after_the_rename(tmp_path, monkeypatch):
    """A crash of the machine keeps the new file: its content is synced before the
    rename and its folder's entry after it (docs/reliability.md promises both)."""
    events = _event_spy(monkeypatch)
    path = str(tmp_path / "config.json")
    atomic.atomic_write_json(path, {"a": 1})
    assert events == [("fsync-file", None), ("replace", path), ("fsync-folder", None)]


@pytest.mark.keras
def test_model_saves_sync_the_file_then_the_folder(tmp_path, monkeypatch):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    events = _event_spy(monkeypatch)
    path = str(tmp_path / "generator.keras")
    atomic.atomic_save_model(model, path)
    assert events[-3:] == [("fsync-file", None), ("replace", path), ("fsync-folder", None)]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_users_umask(tmp_path, umask, mode):
    """Files are created as `open()` would (0666 less the umask), so a colleague can
    read report.html under the usual umask 022; never the 0600 of mkstemp."""
    old = os.umask(umask)
    try:
        path = atomic.atomic_write_text(tmp_path / "report.html", "<html></html>")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == mode


@pytest.mark.parametrize("preset", sorted(config_lib.PRESETS))
def test_no_preset_sets_a_time_limit_and_none_means_none(tmp_path, monkeypatch, preset):
    """Budgets are steps: under every preset, seconds_per_candidate=None (the
    default) stores no time limit, and a given limit is stored as given."""
    skip_worker_files(monkeypatch, tmp_path)
    for seconds in (None, 7.5):
        directory = tmp_path / f"run-{seconds}"
        scripted_search(
            directory, preset=preset, generations=1, population=2, seconds_per_candidate=seconds
        )
        stored = json.loads((directory / "config.json").read_text())
        assert stored["search"]["evaluation"]["seconds"] == seconds


@pytest.mark.keras
@pytest.mark.slow
def test_time_limited_candidate_records_how_many_steps_it_trained(tmp_path, cache_dir):
    """A candidate stopped by its time limit is still "ok", and its record says
    after how many of its steps it stopped (and `steps` holds that number)."""
    result = tiny_real_search(
        tmp_path / "run", population=2, steps_per_candidate=100_000, seconds_per_candidate=1.0
    )
    for record in result.history:
        assert record["status"] == "ok", record["reason"]
        steps = record["fitness"]["steps"]
        assert 0 < steps < 100_000
        assert f"after {steps} steps of 100000" in record["reason"]


def test_full_disk_while_opening_a_run_is_reported_as_a_full_disk(tmp_path, monkeypatch, capsys):
    """ENOSPC is not turned into advice about permissions: the OSError reaches the
    CLI, which says the disk is full and that the same command resumes."""
    import errno

    from kgan_nas.store import run_dir as run_lib

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    skip_worker_files(monkeypatch, tmp_path)
    monkeypatch.setattr(run_lib, "atomic_write_json", full)
    with pytest.raises(OSError) as raised:
        scripted_search(tmp_path / "run")
    assert raised.value.errno == errno.ENOSPC and not isinstance(raised.value, RunDirectoryError)
    code = cli.main(["search", "--directory", str(tmp_path / "cli-run"), "--generations", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "disk is full" in err and "Traceback" not in err


def test_runs_written_with_0_based_generations_read_1_based_and_resume(tmp_path, monkeypatch):
    """Runs made before generations were numbered from 1 (config format 1, history
    generations from 0) read like new ones, and a resume appends in the run's own
    numbering, so the file stays consistent and nothing is evaluated twice."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory)  # one generation of 4
    config_path = directory / "config.json"
    stored = json.loads(config_path.read_text())
    stored["format"] = 1
    config_path.write_text(json.dumps(stored))
    history_path = directory / "history.jsonl"
    old_lines = [json.loads(line) for line in history_path.read_text().splitlines()]
    history_path.write_text(
        "".join(json.dumps(dict(r, generation=r["generation"] - 1)) + "\n" for r in old_lines)
    )
    assert [r["generation"] for r in RunDir(directory).history()] == [1] * 4
    result = scripted_search(directory, generations=2)
    assert [r["generation"] for r in result.history] == [1] * 4 + [2] * 4
    on_disk = [json.loads(line)["generation"] for line in history_path.read_text().splitlines()]
    assert on_disk == [0] * 4 + [1] * 4
    assert len({r["key"] for r in result.history}) == 8
