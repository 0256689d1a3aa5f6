"""kgan_nas.search end to end: run directory, resume (also after SIGKILL), CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from tiny_runs import scripted_search
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas.callbacks import SearchCallback
from kgan_nas.cli import commands as cli
from kgan_nas.store.run_dir import RunDirectoryError
from kgan_nas.training.compile_choice import resolve_jit_compile

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def _keys_by_generation(history):
    keys = {}
    for record in history:
        keys.setdefault(record["generation"], []).append(record["key"])
    return {g: sorted(k) for g, k in keys.items()}


class _Recorder(SearchCallback):
    def __init__(self):
        self.candidates, self.generations, self.ended = [], [], None

    def on_candidate_end(self, record):
        self.candidates.append(record["key"])

    def on_generation_end(self, generation, logs=None):
        self.generations.append((generation, logs))

    def on_search_end(self, result):
        self.ended = result


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.slow
def test_real_search_writes_a_complete_run_directory(tmp_path, cache_dir):
    """A real (tiny) search trains, scores, and leaves every promised file."""
    directory = tmp_path / "run"
    recorder = _Recorder()
    result = tiny_real_search(
        directory,
        space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=60_000),
        population=2,
        steps_per_candidate=20,
        batch_size=32,
        num_samples=200,
        jit_compile="auto",
        callbacks=[recorder],
    )
    for name in (
        "config.json",
        "history.jsonl",
        "checkpoint.json",
        "extractor.keras",
        "real_features.npy",
        "baselines.json",
        "protocol.json",
    ):
        assert (directory / name).is_file(), name
    assert len(result.history) == 2
    assert sorted(recorder.candidates) == sorted(r["key"] for r in result.history)
    assert recorder.generations[0][0] == 1 and recorder.ended is not None
    ok = [r for r in result.history if r["status"] == "ok"]
    assert ok, [r["reason"] for r in result.history]
    # jit_compile="auto" (the default) decided per candidate, and the record says how.
    xla = resolve_jit_compile("auto", 20)
    assert all(r["fitness"]["jit_compile"] is xla for r in result.history)
    for record in result.history:
        assert {"generation", "genome", "key", "fitness", "status", "reason"} <= set(record)
        seconds = record["fitness"]["seconds"]
        assert set(seconds) >= {"build", "total"}
        if record["status"] == "ok":
            # Disjoint phases: together they never exceed the total.
            phases = ("build", "compile", "train", "metric", "save")
            assert set(phases) <= set(seconds)
            assert sum(seconds[p] for p in phases) <= seconds["total"] + 1e-3
    assert (directory / "best" / "generator.keras").is_file()
    assert (directory / "samples" / "generation_001.png").is_file()
    generator = result.best_generator()
    assert generator.output_shape == (None, 8, 8, 1)
    images = result.sample(5)
    assert images.shape == (5, 8, 8, 1) and np.all(np.abs(images) <= 1)
    assert result.best_genome.key() == result.best_record["key"]
    assert "fid_domain" in result.summary()
    # CLI on the finished run.
    assert cli.main(["report", str(directory)]) == 0
    assert (directory / "report" / "fitness.png").is_file()
    out = tmp_path / "grid.png"
    assert cli.main(["sample", str(directory), "--n", "9", "--out", str(out)]) == 0
    assert out.is_file()


def _parents(history):
    return {record["key"]: record["parent"] for record in history}


def test_inherit_weights_hands_each_child_its_parents_models(tmp_path, cache_dir):
    """By default every bred child's record names an earlier candidate, and the
    evaluator received that candidate's saved models; the first generation has none."""
    # Inheritance is the default.
    result = scripted_search(tmp_path / "run", evaluator="lineage", generations=3)
    seen = set()
    named = 0
    for record in result.history:
        if record["generation"] == 1:
            assert record["parent"] is None
        if record["parent"] is not None:
            named += 1
            assert record["parent"] in seen
            assert record["reason"] == f"parent={record['parent']}"
        seen.add(record["key"])
    assert named >= 4
    plain = scripted_search(
        tmp_path / "plain",
        evaluator="lineage",
        generations=3,
        strategy_options={"inherit_weights": False},
    )
    assert all(record["parent"] is None for record in plain.history)
    # Inheritance changes what a child starts from, not which genomes are tried.
    assert [r["key"] for r in plain.history] == [r["key"] for r in result.history]


@pytest.mark.keras
@pytest.mark.slow
def test_real_children_start_from_their_parents_weights(tmp_path, cache_dir):
    """A real two-generation search: children of saved parents load their weights."""
    result = tiny_real_search(
        tmp_path / "run",
        space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=40_000),
        generations=2,
        steps_per_candidate=5,
    )
    records = {record["key"]: record for record in result.history}
    children = [r for r in result.history if r["generation"] == 2 and r["status"] == "ok"]
    assert children and all(r["parent"] in records for r in children)
    inheriting = [r for r in children if records[r["parent"]]["status"] == "ok"]
    assert all(r["fitness"]["seconds"]["inherit"] > 0 for r in inheriting)
    # A child bred by crossover may share no layer with its first parent, but mutants do.
    assert any(r["fitness"]["inherited_layers"] > 0 for r in inheriting)


class _StopAfter(SearchCallback):
    """Interrupts the search after `count` candidates (like Ctrl-C mid-generation)."""

    def __init__(self, count):
        self.count = count

    def on_candidate_end(self, record):
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def test_parents_of_an_interrupted_generation_survive_resume(tmp_path, cache_dir):
    options = {"evaluator": "lineage", "generations": 3}
    whole = scripted_search(tmp_path / "whole", **options)
    directory = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        scripted_search(directory, callbacks=[_StopAfter(6)], **options)
    resumed = scripted_search(directory, **options)
    assert _parents(resumed.history) == _parents(whole.history)


def test_same_seed_same_search_and_resume_extends(tmp_path, cache_dir):
    """Two runs with one seed evaluate the same genomes; a resume adds generations."""
    first = scripted_search(tmp_path / "a", generations=2)
    second = scripted_search(tmp_path / "b", generations=2)
    assert [r["key"] for r in first.history] == [r["key"] for r in second.history]
    longer = scripted_search(tmp_path / "a", generations=3)
    assert len(longer.history) == 12
    assert [r["key"] for r in longer.history[:8]] == [r["key"] for r in first.history]
    assert _keys_by_generation(longer.history) == _keys_by_generation(
        scripted_search(tmp_path / "c", generations=3).history
    )


def test_different_config_in_existing_directory_is_refused(tmp_path, cache_dir):
    """An existing run with another configuration is an error unless overwrite=True."""
    scripted_search(tmp_path / "run", generations=1)
    before = (tmp_path / "run" / "history.jsonl").read_text()
    with pytest.raises(RunDirectoryError, match="different configuration"):
        scripted_search(tmp_path / "run", generations=1, strategy="random")
    assert (tmp_path / "run" / "history.jsonl").read_text() == before
    result = scripted_search(tmp_path / "run", generations=1, strategy="random", overwrite=True)
    assert result.config["strategy"] == "RandomSearch"


def test_truncated_history_line_is_tolerated(tmp_path, cache_dir):
    """A last history line cut short by a kill is skipped and that candidate redone."""
    directory = tmp_path / "run"
    scripted_search(directory, generations=1)
    history = directory / "history.jsonl"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    checkpoint = json.loads((directory / "checkpoint.json").read_text())
    assert checkpoint["generation"] == 1
    with pytest.warns(UserWarning, match="damaged line"):
        result = scripted_search(directory, generations=2)
    assert len(result.history) == 7  # 3 intact + 4 of generation 2


def test_sigkill_mid_generation_then_resume_continues_identically(tmp_path, cache_dir):
    """Kill -9 a running search; the resumed run loses nothing completed and evaluates
    exactly the genomes an uninterrupted run evaluates."""
    reference = scripted_search(tmp_path / "reference", generations=4)
    directory = tmp_path / "killed"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import tiny_runs; tiny_runs.scripted_search(sys.argv[2], generations=4)"
    )
    env = dict(os.environ, SCRIPTED_DELAY="0.4", KGAN_NAS_CACHE=str(cache_dir))
    process = subprocess.Popen(
        [sys.executable, "-c", code, TESTS_DIR, str(directory)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    history = directory / "history.jsonl"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if history.exists() and len(history.read_text().splitlines()) >= 6:
                break
            assert process.poll() is None, "the search ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("the search did not reach generation 2 in time")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    completed = [
        json.loads(line)["key"] for line in history.read_text().splitlines() if line.strip()
    ]
    assert 6 <= len(completed) < 16
    resumed = scripted_search(directory, generations=4)
    keys = [r["key"] for r in resumed.history]
    assert keys[: len(completed)] == completed  # nothing completed was lost or redone
    assert len(keys) == len(set(keys)) == 16
    assert _keys_by_generation(resumed.history) == _keys_by_generation(reference.history)
    assert resumed.best_record["key"] == reference.best_record["key"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"population": 1}, "population must be at least 2"),
        ({"generations": 0}, "generations must be a positive integer"),
        ({"steps_per_candidate": -5}, "steps_per_candidate"),
        ({"metric": "fid_clip"}, "Unknown metric"),
        ({"preset": "huge"}, "Unknown preset"),
        ({"objectives": ("params", "fid")}, "first objective"),
        ({"strategy": "annealing"}, "annealing"),
        ({"space": kgan_nas.SearchSpace(image_shape=(28, 28, 1))}, r"shape \(8, 8, 1\)"),
        ({"callbacks": [object()]}, "callbacks must be"),
    ],
)
def test_bad_search_arguments_fail_before_training(tmp_path, monkeypatch, kwargs, message):
    """Invalid arguments raise a clear error before any training: the worker set-up
    (data and extractor cache, then the executor) is never reached, and no run
    directory, candidate folder or history is created."""
    from kgan_nas.engine import inputs as prepare

    def training_not_expected(*args, **kwargs):
        # An AssertionError: pytest.raises below does not catch it, so the test fails.
        raise AssertionError("the search got past validation and started preparing workers")

    monkeypatch.setattr(prepare, "prepare_worker_files", training_not_expected)
    monkeypatch.setattr("kgan_nas.executors.get_executor", training_not_expected)
    cache = tmp_path / "cache"
    monkeypatch.setenv("KGAN_NAS_CACHE", str(cache))
    directory = tmp_path / "run"
    with pytest.raises((ValueError, TypeError), match=message):
        kgan_nas.search("digits", directory=str(directory), verbose=0, **kwargs)
    assert not directory.exists()  # so no candidates/ folder and no history.jsonl
    assert not cache.exists()  # the data set and extractor are cached when training starts


def test_directory_that_is_a_file_is_refused(tmp_path, cache_dir):
    """A run directory path that is a file gets an error saying so; the file is kept."""
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    with pytest.raises(RunDirectoryError, match="is a file"):
        scripted_search(path, generations=1)
    assert path.read_text() == "keep me"


def test_cli_help_and_errors(capsys):
    """Every command answers --help; a user mistake prints one line and exits 2."""
    for command in ([], ["search"], ["resume"], ["report"], ["sample"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(command + ["--help"])
        assert exit_info.value.code == 0
        assert "--debug" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["search", "--help"])
    assert "--dataset" in capsys.readouterr().out
    assert cli.main(["report", "/nonexistent/run"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kgan-nas report: error: "), captured.err
    assert "'/nonexistent/run' does not exist" in lines[0] and "--debug" in lines[0]
    assert captured.out == ""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["search", "--population", "0"])
    assert exit_info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
