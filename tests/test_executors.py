"""Executors: faults are recorded per candidate and the rest completes."""

import os
import time

import numpy as np
import pytest
import scripted_evaluators as scripted
from tiny_runs import scripted_space
from tiny_runs import scripted_spec

from kgan_nas.executors import InProcessExecutor
from kgan_nas.executors import SubprocessExecutor
from kgan_nas.executors import get_executor
from kgan_nas.executors.subprocess import WorkerStartError

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SPACE = scripted_space(learning_rates=scripted.FAULT_LEARNING_RATES)


def _spec(evaluator="fault"):
    return scripted_spec(evaluator, SPACE)


def _genomes(rates):
    rng = np.random.default_rng(0)
    genomes = []
    for rate in rates:
        genome = SPACE.sample(rng)
        genomes.append(genome.replace(training=genome.training.replace(g_learning_rate=rate)))
    return genomes


def _environment():
    return {"PYTHONPATH": os.pathsep.join(filter(None, [TESTS_DIR, os.environ.get("PYTHONPATH")]))}


def test_subprocess_records_each_fault_and_finishes_the_rest():
    """Raise, NaN, self-kill and hang are each recorded with a reason; ok ones score."""
    rates = [scripted.OK, scripted.RAISE, scripted.NAN, scripted.KILL, scripted.HANG, scripted.OK]
    genomes = _genomes(rates)
    with SubprocessExecutor(_spec(), workers=2, timeout=8, environment=_environment()) as executor:
        results = dict(executor.run(genomes))
    assert sorted(results) == list(range(len(genomes)))
    statuses = [results[i].status for i in range(len(genomes))]
    assert statuses == ["ok", "error", "nan", "crashed", "timeout", "ok"]
    assert "scripted failure" in results[1].reason
    assert "SIGKILL" in results[3].reason
    assert "scripted last words before SIGKILL" in results[3].reason  # the worker's output
    assert "8 s limit" in results[4].reason
    assert results[0].fid == pytest.approx(scripted.synthetic_fid(genomes[0], SPACE))


def test_workers_are_recycled_after_their_share():
    """With max_candidates_per_worker=2, five candidates need three worker processes."""
    genomes = _genomes([scripted.OK] * 5)
    genomes = [g.replace(discriminator=g.discriminator[:1]) for g in genomes]
    with SubprocessExecutor(
        _spec("fast"),
        workers=1,
        max_candidates_per_worker=2,
        environment=_environment(),
    ) as executor:
        results = dict(executor.run(genomes))
    assert all(results[i].ok for i in range(5))
    assert executor.workers_started >= 3


def test_inprocess_and_subprocess_agree():
    """The same genomes get the same fitness whatever the executor."""
    genomes = _genomes([scripted.OK, scripted.NAN, scripted.OK])
    spec = _spec()
    inprocess = dict(InProcessExecutor(spec).run(genomes))
    with SubprocessExecutor(spec, workers=1, environment=_environment()) as executor:
        subprocess_results = dict(executor.run(genomes))
    for index in range(len(genomes)):
        assert inprocess[index].status == subprocess_results[index].status
        assert inprocess[index].fid == subprocess_results[index].fid


def test_broken_worker_setup_fails_fast_with_the_error():
    """A worker that cannot build its evaluator stops the run with its traceback."""
    spec = _spec("scripted_evaluators:no_such_factory")
    started = time.monotonic()
    with pytest.raises(WorkerStartError, match="no_such_factory"):
        with SubprocessExecutor(spec, workers=1, environment=_environment()) as executor:
            list(executor.run(_genomes([scripted.OK])))
    assert time.monotonic() - started < 120


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"workers": 0}, "workers"),
        ({"max_candidates_per_worker": 0}, "max_candidates_per_worker"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_invalid_executor_settings(kwargs, message):
    """Bad executor settings raise ValueError naming the setting."""
    with pytest.raises(ValueError, match=message):
        SubprocessExecutor(_spec(), **kwargs)


def test_unknown_executor_name():
    """An unknown executor name lists the choices."""
    with pytest.raises(ValueError, match="inprocess"):
        get_executor("threads", _spec())


def test_gpus_are_spread_one_per_worker():
    """With gpus=[0, 1] and candidates_per_gpu=2, four workers see GPUs 0, 1, 0, 1."""
    genomes = _genomes([scripted.OK] * 4)
    with SubprocessExecutor(
        _spec("device"),
        gpus=[0, 1],
        candidates_per_gpu=2,
        environment=_environment(),
    ) as executor:
        assert executor.num_workers == 4
        results = dict(executor.run(genomes))
        assert executor.worker_devices == ["0", "1", "0", "1"]
    assert {results[i].reason for i in range(4)} <= {"devices=0", "devices=1"}


@pytest.mark.parametrize(
    "workers, threads_per_worker, extra, expected",
    [
        # Two workers share the cores instead of each using all of them.
        (
            2,
            "auto",
            {},
            lambda cores: (
                f"TF_NUM_INTRAOP_THREADS={max(1, cores // 2)} OMP_NUM_THREADS={max(1, cores // 2)}"
            ),
        ),
        (1, "auto", {}, lambda cores: "TF_NUM_INTRAOP_THREADS=unset OMP_NUM_THREADS=unset"),
        (2, None, {}, lambda cores: "TF_NUM_INTRAOP_THREADS=unset OMP_NUM_THREADS=unset"),
        ("default", None, {}, lambda cores: "TF_NUM_INTRAOP_THREADS=unset OMP_NUM_THREADS=unset"),
        (1, 3, {}, lambda cores: "TF_NUM_INTRAOP_THREADS=3 OMP_NUM_THREADS=3"),
        # A variable the user set in `environment` wins over the cap.
        (
            2,
            1,
            {"OMP_NUM_THREADS": "4"},
            lambda cores: "TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=4",
        ),
    ],
)
def test_threads_per_worker_caps_each_worker(
    monkeypatch, workers, threads_per_worker, extra, expected
):
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    options = {} if workers == "default" else {"threads_per_worker": threads_per_worker}
    workers = 2 if workers == "default" else workers  # the default leaves threads alone
    with SubprocessExecutor(
        _spec("threads"),
        workers=workers,
        environment=dict(_environment(), **extra),
        **options,
    ) as executor:
        results = dict(executor.run(_genomes([scripted.OK] * workers)))
    assert {fitness.reason for fitness in results.values()} == {expected(os.cpu_count())}


@pytest.mark.parametrize("value", [0, -2, 1.5, "all", True])
def test_invalid_threads_per_worker(value):
    with pytest.raises(ValueError, match="threads_per_worker"):
        SubprocessExecutor(_spec(), workers=2, threads_per_worker=value)


def _lineage_spec(models_dir, evaluator="lineage"):
    return scripted_spec(evaluator, SPACE, models_dir=str(models_dir))


def check_parents_reach_the_evaluator(make_executor, models_dir):
    """A child gets its parent's saved models; no parent, or one never saved, means none."""
    parent, child, orphan = _genomes([scripted.OK] * 3)
    missing = "0123456789abcdef"
    with make_executor(_lineage_spec(models_dir)) as executor:
        first = dict(executor.run([parent]))
        assert first[0].reason == "parent=none"
        results = dict(executor.run([child, orphan], parents=[parent.key(), missing]))
    assert results[0].reason == f"parent={parent.key()}"
    assert results[1].reason == "parent=none"


@pytest.mark.parametrize("name", ["inprocess", "subprocess"])
def test_parents_reach_the_evaluator(name, tmp_path):
    if name == "inprocess":
        check_parents_reach_the_evaluator(InProcessExecutor, tmp_path)
    else:
        check_parents_reach_the_evaluator(
            lambda spec: SubprocessExecutor(spec, environment=_environment()), tmp_path
        )


def test_evaluators_without_inheritance_ignore_parents(tmp_path):
    """Custom evaluators whose evaluate() has no inherit_from still run (from scratch)."""
    genomes = _genomes([scripted.OK, scripted.OK])
    spec = _lineage_spec(tmp_path, evaluator="fault")
    with InProcessExecutor(spec) as executor:
        results = dict(executor.run(genomes, parents=[None, genomes[0].key()]))
    assert [results[i].status for i in range(2)] == ["ok", "ok"]


@pytest.mark.parametrize("name", ["inprocess", "subprocess"])
def test_parents_of_another_length_are_refused(name, tmp_path):
    """One parent entry per genome: a shorter list names both lengths and the fix."""
    make = (
        InProcessExecutor
        if name == "inprocess"
        else (lambda spec: SubprocessExecutor(spec, environment=_environment()))
    )
    with make(_lineage_spec(tmp_path)) as executor:
        with pytest.raises(ValueError, match=r"one entry per genome \(2\), got 1.*None"):
            list(executor.run(_genomes([scripted.OK] * 2), parents=[None]))
