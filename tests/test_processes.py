"""Worker processes and the run directory's owner: how searches start and stop.

- Workers never import the caller's `__main__`: a script without a main guard,
  with one, `python -c`, a script on stdin, IPython, and pytest itself.
- A worker that dies while starting is reported with its own last words.
- No orphans: SIGKILL, SIGTERM or SIGINT to the driver ends its workers within
  seconds, they write nothing afterwards, and a resume finds every candidate
  folder whole (one process's files, per its manifest).
- One process per run directory, a stale lock is taken over.
- A systemic failure stops the search; NaN candidates do not.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
from test_bad_input import _snapshot
from tiny_runs import SCRIPTED_SPACE
from tiny_runs import scripted_search
from tiny_runs import scripted_space
from tiny_runs import scripted_spec
from tiny_runs import skip_worker_files
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas.core.genome import Genome
from kgan_nas.errors import RepeatedFailureError
from kgan_nas.errors import RunDirectoryInUse
from kgan_nas.executors import SubprocessExecutor
from kgan_nas.executors import WorkerSpec
from kgan_nas.executors import WorkerStartError
from kgan_nas.store import run_dir as run_lib
from kgan_nas.store.lock import RunLock

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

# A user's script: it counts how often its top level runs, then searches with the
# default (subprocess) executor. The extractor and data files are skipped (the
# scripted evaluator needs none), so the script runs in seconds.
_USER_SCRIPT = """\
import sys
sys.path.insert(0, {tests_dir!r})
with open({marker!r}, "a") as stream:
    stream.write("top level ran\\n")
import kgan_nas
from kgan_nas.engine import inputs as prepare_lib
from kgan_nas.executors import WorkerSpec

def prepare(run_dir, data, space, evaluation, *args, **kwargs):
    return WorkerSpec(data_path="", extractor_path="", real_features_path="",
                      space=space.to_dict(), config=evaluation.to_dict(),
                      log_dir=run_dir.file("logs"), models_dir=run_dir.file("candidates"))

prepare_lib.prepare_worker_files = prepare
result = kgan_nas.search(
    "digits", space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8,
                                         max_params=100_000),
    generations=1, population=2, steps_per_candidate=10, batch_size=16, num_samples=100,
    workers=2, evaluator="scripted_evaluators:make_slow_save_evaluator",
    directory={directory!r}, verbose=0, seed=3)
print("statuses:", ",".join(sorted(record["status"] for record in result.history)))
"""


def _user_script(tmp_path, guarded):
    code = _USER_SCRIPT.format(
        tests_dir=TESTS_DIR, marker=str(tmp_path / "marker.txt"), directory=str(tmp_path / "run")
    )
    if guarded:
        code = "if __name__ == '__main__':\n" + textwrap.indent(code, "    ")
    return code


def _launch(mode, tmp_path):
    """Runs the user script the way `mode` says; returns the CompletedProcess."""
    environment = dict(os.environ, KGAN_NAS_CACHE=str(tmp_path / "cache"))
    code = _user_script(tmp_path, guarded=(mode == "script with main guard"))
    script = tmp_path / "search_digits.py"
    script.write_text(code)
    command, stdin = {
        "script without main guard": ([sys.executable, str(script)], None),
        "script with main guard": ([sys.executable, str(script)], None),
        "python -c": ([sys.executable, "-c", code], None),
        "script on stdin": ([sys.executable, "-"], code),
        "ipython": (
            [
                sys.executable,
                "-m",
                "IPython",
                "--quick",
                "--no-banner",
                "--colors=NoColor",
                "-c",
                code,
            ],
            None,
        ),
    }[mode]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=environment,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode",
    [
        "script without main guard",
        "script with main guard",
        "python -c",
        "script on stdin",
        "ipython",
    ],
)
def test_workers_never_rerun_the_callers_main_module(mode, tmp_path):
    """The default executor works however the user's code is run, and the user's
    top level runs exactly once (workers do not re-import `__main__`)."""
    if mode == "ipython":
        pytest.importorskip("IPython")
    completed = _launch(mode, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "statuses: ok,ok" in completed.stdout, completed.stdout + completed.stderr[-3000:]
    assert (tmp_path / "marker.txt").read_text().splitlines() == ["top level ran"]
    assert list((tmp_path / "run" / "logs").glob("worker-*.log"))


def test_workers_run_inside_pytest(tmp_path, monkeypatch):
    """Inside pytest (whose `__main__` is pytest's), subprocess workers evaluate
    candidates that the driver hands them, with the driver's import path."""
    skip_worker_files(monkeypatch, tmp_path)
    result = scripted_search(tmp_path / "run", executor="subprocess", workers=2)
    assert [r["status"] for r in result.history] == ["ok"] * 4


def _genomes(count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [SCRIPTED_SPACE.sample(rng) for _ in range(count)]


@pytest.mark.parametrize("log_dir", [True, False], ids=["run-logs", "no-log-folder"])
def test_worker_start_failure_quotes_the_workers_own_output(tmp_path, log_dir):
    """Workers that die while starting are reported with the last lines they wrote;
    the log folder named in the message exists, and none is named without one."""
    spec = scripted_spec(
        "dying", SCRIPTED_SPACE, log_dir=str(tmp_path / "logs") if log_dir else None
    )
    with SubprocessExecutor(spec, workers=1) as executor:
        with pytest.raises(WorkerStartError) as raised:
            list(executor.run(_genomes(2)))
    message = str(raised.value)
    assert "libfoo.so not found" in message
    assert "exited with code 3" in message
    if log_dir:
        logs = sorted((tmp_path / "logs").glob("worker-*.log"))
        assert len(logs) == 3
        assert str(logs[-1]) in message
        assert "libfoo.so not found" in logs[-1].read_text()
    else:
        assert not (tmp_path / "logs").exists()
        assert "logs" not in message.replace("libfoo", "")


def _children_of(pid):
    """PIDs of the live (non-zombie) child processes of `pid`."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _alive(int(entry)):
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    parent = int(stream.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                children.append(int(entry))
    return children


def _alive(pid):
    """True if `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_until_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


def _tree(directory):
    """{relative path: (size, mtime)} of every file under `directory`, lock aside."""
    files = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            if name == ".lock":
                continue
            path = os.path.join(folder, name)
            try:
                status = os.stat(path)
            except FileNotFoundError:
                continue
            files[os.path.relpath(path, directory)] = (status.st_size, status.st_mtime_ns)
    return files


_DRIVER_SCRIPT = """\
import sys
sys.path.insert(0, {tests_dir!r})
import kgan_nas
import test_processes
test_processes.slow_search({directory!r}, generations=3)
"""


def slow_search(directory, generations):
    """A search whose candidates take ~1 s and save their two files 0.5 s apart."""
    from kgan_nas.engine import inputs as prepare_lib

    def prepare(run_dir, data, space, evaluation, *args, **kwargs):
        return WorkerSpec(
            data_path="",
            extractor_path="",
            real_features_path="",
            space=space.to_dict(),
            config=evaluation.to_dict(),
            log_dir=run_dir.file("logs"),
            models_dir=run_dir.file("candidates"),
        )

    prepare_lib.prepare_worker_files = prepare
    return scripted_search(
        directory,
        evaluator="slow_save",
        generations=generations,
        executor="subprocess",
        workers=2,
        seed=11,
        executor_options={"environment": {"SCRIPTED_DELAY": "0.5"}},
    )


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "stop_signal",
    [signal.SIGKILL, signal.SIGTERM, signal.SIGINT],
    ids=["SIGKILL", "SIGTERM", "SIGINT"],
)
def test_stopped_driver_leaves_no_worker_and_a_consistent_run(stop_signal, tmp_path, monkeypatch):
    """Stop the driver mid-candidate: within 10 s none of its workers is alive and
    nothing more is written; a resume completes the run, and every candidate folder
    holds one process's complete set of files."""
    directory = str(tmp_path / "run")
    environment = dict(os.environ, KGAN_NAS_CACHE=str(tmp_path / "cache"))
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER_SCRIPT.format(tests_dir=TESTS_DIR, directory=directory)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    history = os.path.join(directory, "history.jsonl")
    deadline = time.monotonic() + 120
    try:
        # Mid-candidate: at least one result recorded, and workers busy on the next.
        while time.monotonic() < deadline:
            workers = _children_of(driver.pid)
            if (
                os.path.exists(history)
                and len(open(history).read().splitlines()) >= 2
                and len(workers) >= 2
            ):
                break
            assert driver.poll() is None, driver.stderr.read().decode()[-3000:]
            time.sleep(0.05)
        else:
            pytest.fail("the search did not get going in time")
        driver.send_signal(stop_signal)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert _wait_until_gone(workers, 10) == [], "workers outlived their driver by 10 s"
    before = _tree(directory)
    time.sleep(1.5)
    assert _tree(directory) == before, "something wrote into the run after the driver died"

    skip_worker_files(monkeypatch, tmp_path)
    result = slow_search(directory, generations=3)
    assert len(result.history) == 12
    candidates = os.path.join(directory, "candidates")
    assert not [name for name in os.listdir(candidates) if name.startswith(".")]
    for record in result.history:
        folder = os.path.join(candidates, record["key"])
        assert run_lib.check_candidate(folder) == [], record["key"]
        writers = {
            open(os.path.join(folder, name)).read()
            for name in ("generator.keras", "discriminator.keras")
        }
        assert len(writers) == 1, f"{record['key']} mixes files of {writers}"
        manifest = json.loads(open(os.path.join(folder, "manifest.json")).read())
        assert writers == {f"{record['key']}:{manifest['pid']}"}


def test_publish_replaces_a_candidate_whole_and_recovery_restores_a_cut_swap(tmp_path):
    """A re-evaluated candidate replaces the old folder as a unit; a swap cut between
    its renames (old folder in the trash, no new one) is undone on resume, and a
    staging folder left by a killed writer is dropped."""
    candidates = tmp_path / "candidates"
    key = "0123456789abcdef"
    final = candidates / key
    for content in ("first", "second"):
        staging = run_lib.staging_dir_for(str(final))
        os.makedirs(staging)
        for name in ("generator.keras", "discriminator.keras"):
            with open(os.path.join(staging, name), "w") as stream:
                stream.write(content)
        assert run_lib.publish_candidate(staging, str(final))
        assert (final / "generator.keras").read_text() == content
        assert run_lib.check_candidate(str(final)) == []
    assert sorted(os.listdir(candidates)) == [key]
    (final / "discriminator.keras").write_text("from another process")
    assert run_lib.check_candidate(str(final))  # a mixed folder is detected
    # A cut swap, and a dead writer's staging folder.
    os.replace(final, candidates / f".trash-{key}-123-abcd")
    os.makedirs(candidates / f".staging-{key}-456-ef01")
    run = run_lib.RunDir(tmp_path)
    run._recover_candidates()
    assert sorted(os.listdir(candidates)) == [key]


_LOCK_HOLDER = """\
import sys, time
from kgan_nas.store.lock import RunLock
RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(300)
"""


def _hold_lock(directory):
    holder = subprocess.Popen(
        [sys.executable, "-c", _LOCK_HOLDER, str(directory)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


class _LockAttempts:
    """`fcntl` for `kgan_nas.store.lock`, recording the flags of each `flock`; a try
    that would wait for the lock fails the test instead of waiting."""

    def __init__(self):
        self.flags = []

    def flock(self, descriptor, flags):
        self.flags.append(flags)
        if flags & fcntl.LOCK_EX and not flags & fcntl.LOCK_NB:
            raise AssertionError("the search waits for the lock instead of failing at once")
        return fcntl.flock(descriptor, flags)

    def __getattr__(self, name):
        return getattr(fcntl, name)


@pytest.mark.skipif(fcntl is None, reason="no advisory locks on this platform")
def test_one_process_per_run_directory_and_stale_locks_are_taken_over(tmp_path, monkeypatch):
    """A second search on a directory in use fails at once, naming the other process,
    and changes nothing (not even with overwrite=True); once that process is killed,
    its lock is stale and the next search takes it over."""
    from kgan_nas.store import lock as lock_lib

    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory)
    before = _snapshot(str(directory))
    holder = _hold_lock(directory)
    try:
        for overwrite in (False, True):
            # At once: a single try at the lock, one that does not wait for it.
            attempts = _LockAttempts()
            with monkeypatch.context() as patched:
                patched.setattr(lock_lib, "fcntl", attempts)
                with pytest.raises(RunDirectoryInUse, match=f"in use by process {holder.pid}"):
                    scripted_search(directory, generations=2, overwrite=overwrite)
            assert attempts.flags == [fcntl.LOCK_EX | fcntl.LOCK_NB]
            assert _snapshot(str(directory)) == before
    finally:
        holder.kill()
        holder.wait()
    assert len(scripted_search(directory, generations=2).history) == 8


def test_lock_is_released_when_the_search_ends_or_fails(tmp_path, monkeypatch):
    """The lock lives as long as the search: after it returns or raises, the same
    process (or another) can use the directory again."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory)
    with RunLock(directory):
        pass  # free after a finished search
    with pytest.raises(RepeatedFailureError):
        scripted_search(directory, evaluator="always_raising", generations=2)
    with RunLock(directory):
        pass  # free after a failed one


def test_repeated_identical_failures_stop_the_search(tmp_path, monkeypatch):
    """Three times the workers in a row failing with the same error is a set-up
    problem: the search stops, quoting the first failure and how to debug."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    with pytest.raises(RepeatedFailureError) as raised:
        scripted_search(
            directory,
            generations=3,
            population=6,
            evaluator="always_raising",
        )
    message = str(raised.value)
    records = run_lib.RunDir(directory).history()
    assert len(records) == 3  # 3 x 1 worker, then it stopped
    assert records[0]["key"] in message and "scripted systemic failure" in message
    assert "executor='inprocess'" in message and "max_consecutive_failures" in message
    with pytest.raises(RepeatedFailureError):
        scripted_search(
            tmp_path / "other",
            generations=3,
            population=6,
            max_consecutive_failures=5,
            evaluator="always_raising",
        )
    assert len(run_lib.RunDir(tmp_path / "other").history()) == 5


def test_nan_candidates_never_stop_the_search(tmp_path, monkeypatch):
    """NaN results are a genome's outcome, not a set-up problem: the search runs
    every generation even with a limit of two."""
    import scripted_evaluators as scripted

    skip_worker_files(monkeypatch, tmp_path)
    result = scripted_search(
        tmp_path / "nan",
        evaluator="fault",
        space=scripted_space(learning_rates=(scripted.NAN,)),
        generations=2,
        population=4,
        max_consecutive_failures=2,
    )
    assert [r["status"] for r in result.history] == ["nan"] * 8


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_invalid_max_consecutive_failures(tmp_path, value):
    with pytest.raises(ValueError, match="max_consecutive_failures"):
        kgan_nas.search(
            "digits", directory=str(tmp_path / "run"), verbose=0, max_consecutive_failures=value
        )
    assert not (tmp_path / "run").exists()


def test_failures_of_different_kinds_do_not_add_up():
    """Only a streak of one kind stops the search; another kind or a success restarts
    the count."""
    from kgan_nas.engine.history import _FailureStreak

    streak = _FailureStreak(3, "run")
    kinds = [
        ("error", "TypeError: x"),
        ("error", "TypeError: y"),
        ("crashed", "SIGKILL"),
        ("error", "TypeError: z"),
        ("error", "ValueError: v"),
        ("ok", ""),
        ("crashed", "SIGKILL"),
        ("timeout", "limit"),  # not systemic: ends the crash streak
        ("crashed", "SIGKILL"),
        ("crashed", "SIGSEGV"),
    ]
    for number, (status, reason) in enumerate(kinds):
        streak.add({"status": status, "reason": reason, "key": f"{number:016x}"})
    with pytest.raises(RepeatedFailureError, match="0000000000000008"):
        streak.add({"status": "crashed", "reason": "SIGKILL", "key": "f" * 16})


def test_failure_kind_groups_errors_by_exception_type():
    from kgan_nas.engine.history import _failure_kind

    assert (
        _failure_kind({"status": "error", "reason": "TypeError: bad (at x.py:3)"})
        == "error: TypeError"
    )
    assert _failure_kind({"status": "crashed", "reason": "SIGKILL"}) == "crashed"
    assert _failure_kind({"status": "nan", "reason": "non-finite"}) is None
    assert _failure_kind({"status": "ok", "reason": ""}) is None


def test_genome_round_trip_for_worker_protocol():
    """Genomes cross the pipe as JSON; the worker rebuilds an equal genome."""
    genome = _genomes(1, seed=5)[0]
    assert Genome.from_json(genome.to_json()).key() == genome.key()


_REAL_SPACE = dict(
    image_shape=(8, 8, 1),
    latent_dim=8,
    max_params=20_000,
    generator_layers=(1, 2),
    discriminator_layers=(1, 2),
)


def real_search(directory, **kwargs):
    """A real (tiny) genetic search with weight inheritance in subprocess workers, XLA
    as chosen by default."""
    return tiny_real_search(
        directory,
        space=kgan_nas.SearchSpace(**_REAL_SPACE),
        strategy="genetic",
        generations=2,
        steps_per_candidate=30,
        executor="subprocess",
        workers=1,
        seed=5,
        jit_compile="auto",
        executor_options={"environment": {"TF_DETERMINISTIC_OPS": "1"}},
        **kwargs,
    )


_REAL_DRIVER = """\
import sys
sys.path.insert(0, {tests_dir!r})
import test_processes
test_processes.real_search({directory!r})
"""


@pytest.mark.keras
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_real_search_killed_mid_generation_resumes_like_an_uninterrupted_one(tmp_path, cache_dir):
    """The real path: subprocess workers, real training with XLA, weight inheritance,
    fixed steps. SIGKILL the driver in generation 2, resume: every candidate finished
    before the kill is kept as it was (record, files), and the run evaluates the same
    genomes with the same parents as an uninterrupted run with the same seed."""
    directory = tmp_path / "killed"
    history = directory / "history.jsonl"
    driver = subprocess.Popen(
        [sys.executable, "-c", _REAL_DRIVER.format(tests_dir=TESTS_DIR, directory=str(directory))],
        env=dict(os.environ, KGAN_NAS_CACHE=str(cache_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = {"workers": [], "reached": False}
    stop = threading.Event()

    def kill_in_generation_two():
        # The killed run shares the CPUs with the reference: a generous deadline.
        deadline = time.monotonic() + 480
        try:
            while time.monotonic() < deadline and driver.poll() is None and not stop.is_set():
                seen["workers"] = _children_of(driver.pid)
                if history.exists() and len(history.read_text().splitlines()) >= 4:
                    seen["reached"] = True  # generation 2 is under way: one child done
                    break
                time.sleep(0.05)
        finally:
            driver.send_signal(signal.SIGKILL)
            driver.wait()

    watcher = threading.Thread(target=kill_in_generation_two)
    watcher.start()
    try:
        # The uninterrupted reference runs meanwhile, in its own directory and worker:
        # the kill is timed by the killed run's history, not by the clock.
        reference = real_search(tmp_path / "reference")
    except BaseException:
        stop.set()  # a failed reference ends the killed run at once, not in 8 minutes
        raise
    finally:
        watcher.join()
    assert seen["reached"], driver.stderr.read().decode()[-3000:]
    workers = seen["workers"]
    assert workers and _wait_until_gone(workers, 10) == []
    before = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
    assert 4 <= len(before) < 6
    files_before = {
        r["key"]: _snapshot(str(directory / "candidates" / r["key"]))
        for r in before
        if r["status"] == "ok"
    }

    resumed = real_search(directory)
    assert resumed.history[: len(before)] == before  # nothing finished was redone
    assert [(r["generation"], r["key"], r["parent"]) for r in resumed.history] == [
        (r["generation"], r["key"], r["parent"]) for r in reference.history
    ]
    assert all(r["status"] == "ok" for r in resumed.history), [r["reason"] for r in resumed.history]
    assert any(r["parent"] for r in resumed.history)  # inheritance was exercised
    for record in resumed.history:
        folder = directory / "candidates" / record["key"]
        assert run_lib.check_candidate(str(folder)) == []
        if record["key"] in files_before:
            assert _snapshot(str(folder)) == files_before[record["key"]]
        assert resumed.generator(record["key"]).output_shape == (None, 8, 8, 1)


_SCRIPT_WITH_CALLBACK = """\
import sys
sys.path.insert(0, {tests_dir!r})
import keras
import kgan_nas
from kgan_nas.engine import inputs as prepare_lib
from kgan_nas.executors import WorkerSpec


class CountBatches(keras.callbacks.Callback):  # defined in the user's script
    pass


real_prepare = prepare_lib.prepare_worker_files


def prepare(run_dir, data, space, evaluation, extractor, backend, keras_callbacks, **kwargs):
    import cloudpickle
    return WorkerSpec(data_path="", extractor_path="", real_features_path="",
                      space=space.to_dict(), config=evaluation.to_dict(),
                      log_dir=run_dir.file("logs"),
                      keras_callbacks=cloudpickle.dumps(keras_callbacks))


prepare_lib.prepare_worker_files = prepare
result = kgan_nas.search(
    "digits", space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8,
                                         max_params=100_000),
    generations=1, population=2, steps_per_candidate=10, batch_size=16, num_samples=100,
    workers=1, evaluator="scripted_evaluators:make_callback_names_evaluator",
    callbacks=[CountBatches()], directory={directory!r}, verbose=0, seed=3)
print("reasons:", sorted(record["reason"] for record in result.history))
"""


@pytest.mark.slow
def test_callbacks_defined_in_the_users_script_reach_the_workers(tmp_path):
    """A Keras callback class defined in the user's main script (no main guard)
    reaches the worker processes, which never import that script: it travels by
    value."""
    code = _SCRIPT_WITH_CALLBACK.format(tests_dir=TESTS_DIR, directory=str(tmp_path / "run"))
    script = tmp_path / "user_script.py"
    script.write_text(code)
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=dict(os.environ, KGAN_NAS_CACHE=str(tmp_path / "cache")),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "reasons: ['callbacks=CountBatches', 'callbacks=CountBatches']" in completed.stdout


def test_main_module_evaluator_is_refused_for_worker_processes(tmp_path):
    """Workers never import the main script, so an evaluator named there is refused
    before anything runs, with the fix."""
    with pytest.raises(ValueError, match="module of its own"):
        kgan_nas.search(
            "digits",
            directory=str(tmp_path / "run"),
            verbose=0,
            evaluator="__main__:make_evaluator",
        )
    assert not (tmp_path / "run").exists()


def test_planted_lock_symlink_is_never_written_through(tmp_path, monkeypatch):
    """`.lock` planted as a link to a file outside the run is refused; the target
    is untouched."""
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    scripted_search(directory)
    target = tmp_path / "bashrc"
    target.write_text("precious")
    (directory / ".lock").unlink()
    (directory / ".lock").symlink_to(target)
    with pytest.raises(run_lib.RunDirectoryError, match="symbolic link"):
        scripted_search(directory, generations=2)
    assert target.read_text() == "precious"


def test_lock_is_not_kept_when_recording_the_holder_fails(tmp_path, monkeypatch):
    """A full disk while writing the holder record releases the lock at once, so the
    next try (after freeing space) is not refused by this very process."""
    import errno

    from kgan_nas.store import lock as lock_lib

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lock_lib, "_write_holder", full)
    with pytest.raises(OSError):
        RunLock(tmp_path).acquire()
    monkeypatch.undo()
    with RunLock(tmp_path):
        pass


def test_numpy_and_infinite_run_settings_are_stored_as_json(tmp_path, monkeypatch):
    """Numpy integers and an infinite timeout are valid arguments; config.json stores
    plain numbers (inf as no limit)."""
    import numpy as np

    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(tmp_path / "run", timeout=float("inf"), max_candidates_per_worker=np.int64(4))
    settings = run_lib.RunDir(tmp_path / "run").run_settings()
    assert settings["timeout"] is None and settings["max_candidates_per_worker"] == 4


def test_timeouts_do_not_count_as_a_systemic_failure():
    """A timeout is the user's budget pruning slow architectures, not a set-up fault."""
    from kgan_nas.engine.history import _failure_kind
    from kgan_nas.engine.history import _FailureStreak

    timeout = {"status": "timeout", "reason": "candidate ran past its 2 s limit"}
    assert _failure_kind(timeout) is None
    streak = _FailureStreak(2, "run")
    for number in range(5):  # far past the limit of 2, and nothing counted
        streak.add(dict(timeout, key=f"{number:016x}"))
        assert streak.count == 0
    # The same limit does stop two crashes in a row.
    streak.add({"status": "crashed", "reason": "SIGKILL", "key": "5" * 16})
    assert streak.count == 1
    with pytest.raises(RepeatedFailureError, match=r"2 candidates in a row.*\(crashed\)"):
        streak.add({"status": "crashed", "reason": "SIGKILL", "key": "6" * 16})
