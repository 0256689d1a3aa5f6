"""The final-training stage (`kgan_nas.final.stage`): settings, summary, files, resume, SIGKILL.

The pure parts (settings, summary arithmetic, the table) are checked without
Keras; the rest on one tiny real search of digits whose final stage trains
the top 2 genomes x 2 seeds for a few steps without XLA.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import hypothesis
import pytest
from hypothesis import strategies as st
from tiny_runs import scripted_search
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas import config as config_lib
from kgan_nas.final import stage as final_lib
from kgan_nas.results import final_summary
from kgan_nas.results.records import lineage
from kgan_nas.store import run_dir as run_lib

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
FINAL = {"top_k": 2, "seeds": 2, "steps": 5}

# ----------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------


def test_preset_final_stage_doubles_the_search_samples():
    final = final_lib.resolve_final("preset", config_lib.FINAL_PRESETS["default"], 1000)
    assert (final.top_k, final.seeds, final.steps, final.ema_decay) == (2, 2, 2000, 0.999)
    assert final.num_samples == 2000


def test_quick_has_no_final_stage_and_none_turns_it_off():
    assert "quick" not in config_lib.FINAL_PRESETS
    assert final_lib.resolve_final("preset", None, 500) is None
    assert final_lib.resolve_final(None, config_lib.FINAL_PRESETS["default"], 500) is None


def test_a_dict_overrides_the_preset_field_by_field():
    final = final_lib.resolve_final(
        {"steps": 50, "num_samples": 300}, config_lib.FINAL_PRESETS["paper"], 1000
    )
    assert (final.top_k, final.seeds, final.steps, final.num_samples) == (3, 3, 50, 300)
    # Without a preset stage, a dict is put over the FinalConfig defaults.
    assert final_lib.resolve_final({"seeds": 1}, None, 10).to_dict() == {
        "top_k": 2,
        "seeds": 1,
        "steps": 2000,
        "ema_decay": 0.999,
        "num_samples": 20,
        "distinct_lineages": False,
        "zoo_finalist": True,
        "probes": 0,
        "pack_seeds": "auto",
        "continue_training": False,
    }


@pytest.mark.parametrize(
    "final, error, message",
    [
        ({"step": 10}, ValueError, r"Unknown final-stage settings \['step'\]"),
        ({"seeds": 0}, ValueError, "seeds must be a positive integer"),
        ({"ema_decay": 1.0}, ValueError, r"ema_decay must be a number in \[0, 1\)"),
        ({"top_k": 2.5}, ValueError, "top_k must be a positive integer"),
        ({"distinct_lineages": "yes"}, ValueError, "distinct_lineages must be True or False"),
        ({"pack_seeds": "on"}, ValueError, "pack_seeds must be True, False or 'auto'"),
        ({"continue_training": 1}, ValueError, "continue_training must be True or False"),
        ("on", ValueError, "final must be 'preset', None, a dict"),
        (3, TypeError, "final must be 'preset', None, a dict"),
    ],
)
def test_bad_final_settings_name_the_problem(final, error, message):
    with pytest.raises(error, match=message):
        final_lib.resolve_final(final, config_lib.FINAL_PRESETS["default"], 100)


def test_bad_final_settings_fail_before_the_search_writes_anything(tmp_path):
    with pytest.raises(ValueError, match="Unknown final-stage settings"):
        kgan_nas.search("digits", directory=str(tmp_path / "run"), final={"rounds": 2})
    assert not (tmp_path / "run").exists()


def test_budget_line_says_what_is_scored_and_warns_without_a_holdout():
    final = final_lib.FinalConfig(top_k=2, seeds=3, steps=2000, num_samples=600)
    line = final_lib.budget_line(final, "holdout", 270)
    assert line == (
        "Final training: top 2 genomes x 3 seeds x 2,000 steps, EMA 0.999, 600 samples "
        "scored on 270 held-out images"
    )
    assert "WARNING" not in line
    lineages = dataclasses.replace(final, distinct_lineages=True)
    assert final_lib.budget_line(lineages, "holdout", 270).startswith(
        "Final training: top 2 genomes of distinct lineages x 3 seeds"
    )
    warned = final_lib.budget_line(final, "eval", 270)
    assert "270 eval images" in warned and "selection used" in warned


# ----------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------


def _record(key, seed_index, fid, status="ok"):
    return {
        "key": key,
        "seed_index": seed_index,
        "status": status,
        "reason": "" if status == "ok" else "non-finite g_loss at step 3",
        "fid": fid,
        "fid_live": None if fid is None else fid + 1.0,
        "genome": {"key": key},
    }


def test_summary_means_stds_and_the_choice():
    """Genome B wins on its mean though A has the single best run; B's best seed is chosen."""
    records = [
        _record("a" * 16, 0, 1.0),
        _record("a" * 16, 1, 9.0),
        _record("b" * 16, 1, 4.0),
        _record("b" * 16, 0, 2.0),
    ]
    summary = final_summary.summarise(records, ["a" * 16, "b" * 16], {"steps": 5})
    first, second = summary["genomes"]
    assert (first["search_rank"], first["fid_mean"], first["fids"]) == (1, 5.0, [1.0, 9.0])
    assert first["fid_std"] == pytest.approx(5.656854, rel=1e-6)  # sample std of (1, 9)
    assert (second["fid_mean"], second["fid_std"]) == (3.0, pytest.approx(1.414214, rel=1e-6))
    assert second["fid_live_mean"] == 4.0
    assert summary["chosen"] == {
        "key": "b" * 16,
        "seed_index": 0,
        "job": f"{'b' * 16}_seed0",
        "fid": 2.0,
        "fid_mean": 3.0,
        "fid_std": pytest.approx(1.414214, rel=1e-6),
        "precision_mean": None,  # records from before precision and recall were measured
        "recall_mean": None,
    }
    assert summary["protocol"] == {"steps": 5}


def test_precision_and_recall_are_averaged_and_shown_beside_fid():
    records = [
        dict(_record("a" * 16, 0, 2.0), precision=0.6, recall=0.9),
        dict(_record("a" * 16, 1, 4.0), precision=0.8, recall=0.7),
        dict(_record("b" * 16, 0, None, status="nan"), precision=None, recall=None),
    ]
    summary = final_summary.summarise(records, ["a" * 16, "b" * 16], {})
    first, second = summary["genomes"]
    assert (first["precision_mean"], first["recall_mean"]) == pytest.approx((0.7, 0.8))
    assert (second["precision_mean"], second["recall_mean"]) == (None, None)
    assert summary["chosen"]["precision_mean"] == pytest.approx(0.7)
    protocol = dict(
        top_k=2,
        seeds=2,
        steps=5,
        ema_decay=0.999,
        num_samples=200,
        reference="holdout",
        reference_images=300,
    )
    lines = final_summary.final_table(dict(summary, protocol=protocol), "fid_domain")
    assert any("precision  recall" in line for line in lines)
    assert any(
        line.startswith("          1  " + "a" * 16) and line.endswith("0.700   0.800")
        for line in lines
    )


def test_failed_runs_are_left_out_and_listed():
    records = [
        _record("a" * 16, 0, None, status="nan"),
        _record("a" * 16, 1, 3.0),
        _record("b" * 16, 0, None, status="diverged"),
    ]
    summary = final_summary.summarise(records, ["a" * 16, "b" * 16], {})
    first, second = summary["genomes"]
    assert (first["runs"], first["fid_mean"], first["fid_std"]) == (1, 3.0, 0.0)
    assert first["failed"] == ["seed 0: nan non-finite g_loss at step 3"]
    assert (second["runs"], second["fid_mean"]) == (0, None)
    assert summary["chosen"]["key"] == "a" * 16
    lines = final_summary.final_table(
        dict(
            summary,
            protocol=dict(
                top_k=2,
                seeds=2,
                steps=5,
                ema_decay=0.999,
                num_samples=200,
                reference="eval",
                reference_images=300,
            ),
        ),
        "fid_domain",
    )
    assert any("eval split that selection used" in line for line in lines)
    assert any(line.rstrip().endswith("failed     0") for line in lines)


def test_a_genome_with_a_failed_run_loses_to_one_whose_runs_all_succeeded():
    records = [
        _record("a" * 16, 0, 1.0),
        _record("a" * 16, 1, None, status="diverged"),
        _record("b" * 16, 0, 5.0),
        _record("b" * 16, 1, 6.0),
    ]
    summary = final_summary.summarise(records, ["a" * 16, "b" * 16], {})
    assert summary["genomes"][0]["fid_mean"] == 1.0  # better mean, but over one run of two
    assert (summary["chosen"]["key"], summary["chosen"]["seed_index"]) == ("b" * 16, 0)


def test_no_successful_run_chooses_nothing():
    summary = final_summary.summarise([_record("a" * 16, 0, None, "nan")], ["a" * 16], {})
    assert summary["chosen"] is None


@pytest.mark.slow
def test_a_custom_evaluator_runs_no_final_stage_unless_asked(tmp_path, cache_dir):
    """With a scripted evaluator, the preset's final stage is off (it would train for real)."""
    # The preset's own budget and seed (None and 0), as a user's search would have.
    result = scripted_search(
        tmp_path / "run",
        population=2,
        steps_per_candidate=None,
        batch_size=None,
        num_samples=None,
        seed=0,
    )
    assert result.config["final"] is None
    assert not (tmp_path / "run" / "final").exists()
    assert result.final_summary() is None


# ----------------------------------------------------------------------------
# Which genomes the stage retrains
# ----------------------------------------------------------------------------


def _searched(key, objective, parent=None, generation=1):
    return {
        "key": key,
        "objective": objective,
        "parent": parent,
        "generation": generation,
        "genome": {"key": key},
        "status": "ok",
    }


# Lineage a: a (gen 1) -> a2 -> a3; lineage b: b (gen 1) -> b2; c alone. a3 and a2 lead.
_HISTORY = [
    _searched("a", 50.0),
    _searched("b", 60.0),
    _searched("c", 70.0),
    _searched("a2", 20.0, parent="a", generation=2),
    _searched("b2", 40.0, parent="b", generation=2),
    _searched("a3", 10.0, parent="a2", generation=3),
]


def test_finalists_take_each_lineage_s_best_first():
    assert [r["key"] for r in final_lib.finalists(_HISTORY, 2, True)] == ["a3", "b2"]
    assert [r["key"] for r in final_lib.finalists(_HISTORY, 3, True)] == ["a3", "b2", "c"]
    assert [r["key"] for r in final_lib.finalists(_HISTORY, 2, False)] == ["a3", "a2"]


def test_finalists_fill_up_from_any_lineage_in_the_search_s_order():
    # Three lineages (a3, b2, c), five asked: the two left are the next best, a2 and a;
    # all five in the search's order.
    keys = [r["key"] for r in final_lib.finalists(_HISTORY, 5, True)]
    assert keys == ["a3", "a2", "b2", "a", "c"]


def test_finalists_skip_failures_and_repeated_genomes():
    history = [
        *_HISTORY,
        dict(_searched("d", None), status="nan"),
        _searched("a3", 30.0, parent="a2", generation=4),  # re-evaluated: its best counts
    ]
    keys = [r["key"] for r in final_lib.finalists(history, 10, True)]
    assert keys == ["a3", "a2", "b2", "a", "b", "c"]


def test_a_child_of_a_failed_parent_starts_its_own_lineage():
    # e failed, so it saved no weights: e2 trained from scratch (results.lineage).
    history = [
        *_HISTORY,
        dict(_searched("e", None), status="nan"),
        _searched("e2", 30.0, parent="e", generation=2),
    ]
    keys = [r["key"] for r in final_lib.finalists(history, 3, True)]
    assert keys == ["a3", "e2", "b2"]


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(
    parents=st.lists(st.integers(min_value=-1, max_value=30), min_size=1, max_size=30),
    objectives=st.lists(st.floats(0, 1000, allow_nan=False), min_size=30, max_size=30),
    top_k=st.integers(1, 8),
)
def test_finalists_properties(parents, objectives, top_k):
    # Genome i's parent is an earlier genome (or none), as a search records them.
    history = [
        _searched(f"g{i}", objectives[i], parent=f"g{p}" if 0 <= p < i else None, generation=i)
        for i, p in enumerate(parents)
    ]
    ranked = [r["key"] for r in final_lib.finalists(history, len(history), False)]
    chosen = [r["key"] for r in final_lib.finalists(history, top_k, True)]

    def root_of(key):
        return lineage(history, key)[0]["key"]

    roots = [root_of(key) for key in chosen]
    lineages = {root_of(key) for key in ranked}
    assert len(chosen) == min(top_k, len(history)) == len(set(chosen))
    assert chosen == sorted(chosen, key=ranked.index)  # the search's order
    assert chosen[0] == ranked[0]  # the search's best is always retrained
    # As many lineages as there is room for, each by its best genome.
    assert len(set(roots)) == min(top_k, len(lineages))
    for key, root in zip(chosen, roots):
        if roots.count(root) == 1:
            assert key == next(k for k in ranked if root_of(k) == root)


# ----------------------------------------------------------------------------
# A real final stage
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def final_run(tmp_path_factory, cache_dir):
    """A tiny real search of digits (held-out split 0.15) with a 2 x 2 x 5-step final stage."""
    directory = tmp_path_factory.mktemp("final") / "run"
    tiny_real_search(directory, population=3, final=FINAL)
    return directory


def _jobs(directory):
    folder = os.path.join(directory, "final")
    return sorted(name for name in os.listdir(folder) if final_summary.JOB_NAME.fullmatch(name))


def _read(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


@pytest.mark.keras
@pytest.mark.slow
def test_final_stage_writes_every_job_the_summary_and_the_chosen_generator(final_run):
    result = kgan_nas.SearchResult(str(final_run))
    assert result.config["final"] == dict(
        FINAL,
        ema_decay=0.999,
        num_samples=200,
        distinct_lineages=False,
        zoo_finalist=True,
        probes=0,
        pack_seeds="auto",
        continue_training=False,
    )
    top = []
    for record in result.ranked():
        if record["key"] not in top:
            top.append(record["key"])
    # The search started from the zoo (on with a final stage): the best known
    # design is a finalist, the search's best the other.
    zoo = [key for key in top if any(r.get("zoo") for r in result.history if r["key"] == key)]
    assert zoo, "a final-stage search starts from the known designs that fit its space"
    finalists = top[:2] if zoo[0] in top[:2] else [top[0], zoo[0]]
    assert _jobs(final_run) == sorted(f"{k}_seed{s}" for k in finalists for s in (0, 1))
    for job in _jobs(final_run):
        folder = os.path.join(final_run, "final", job)
        assert run_lib.check_candidate(folder) == []
        assert {"generator.keras", "discriminator.keras", "samples.png", "record.json"} <= set(
            os.listdir(folder)
        )
        record = _read(os.path.join(folder, "record.json"))
        assert (record["steps_trained"], record["num_samples"], record["status"]) == (5, 200, "ok")
        # Fidelity and coverage beside FID, on the held-out features.
        assert 0.0 <= record["precision"] <= 1.0 and 0.0 <= record["recall"] <= 1.0
    summary = result.final_summary()
    protocol = summary["protocol"]
    assert (protocol["reference"], protocol["extractor"]) == ("holdout", "domain")
    assert protocol["reference_images"] == 270  # 15% of the 1,797 digits
    assert [g["key"] for g in summary["genomes"]] == top[:2]
    chosen = summary["chosen"]
    with open(os.path.join(final_run, "final", chosen["job"], "generator.keras"), "rb") as one:
        with open(os.path.join(final_run, "final", "generator.keras"), "rb") as two:
            assert one.read() == two.read()
    assert 0.0 <= chosen["precision_mean"] <= 1.0 and 0.0 <= chosen["recall_mean"] <= 1.0
    from kgan_nas.report import final_view

    section = final_view.final_section(result)
    assert "retrained from scratch" in section and ">precision<" in section
    text = result.summary()
    assert "Final training: top 2 x 2 seeds x 5 steps" in text
    assert "±" in text and "precision  recall" in text


@pytest.mark.keras
@pytest.mark.slow
def test_best_generator_is_the_finalized_one_and_says_so(final_run):
    import numpy as np

    result = kgan_nas.SearchResult(str(final_run))
    chosen = result.final_summary()["chosen"]
    # Before any call it already says which one best_generator() returns.
    assert result.best_generator_source.startswith(f"final stage: genome {chosen['key']}")
    generator = result.best_generator()
    assert result.best_generator_source.startswith(
        f"final stage: genome {chosen['key']} seed {chosen['seed_index']}, 5 steps, EMA 0.999"
    )
    saved = result._run.load_model("final", chosen["job"], "generator.keras")
    for a, b in zip(generator.weights, saved.weights):
        np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value))
    result.best_generator(final=False)
    assert result.best_generator_source.startswith(f"search: candidate {result.best_record['key']}")
    # The discriminator pairs with the generator: the chosen run's, or the search's best.
    discriminator = result.best_discriminator()
    trained_beside = result._run.load_model("final", chosen["job"], "discriminator.keras")
    for a, b in zip(discriminator.weights, trained_beside.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value))
    searched = result.best_discriminator(final=False)
    best = result.discriminator(result.best_record["key"])
    for a, b in zip(searched.weights, best.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value))


def _counting(monkeypatch):
    from kgan_nas.final import job as final_training

    trained = []
    original = final_training.train_final_job

    def counting(genome, space, images, job, reference, save_dir, **options):
        trained.append(final_summary.job_name(job["key"], job["seed_index"]))
        return original(genome, space, images, job, reference, save_dir, **options)

    monkeypatch.setattr(final_training, "train_final_job", counting)
    return trained


@pytest.mark.keras
@pytest.mark.slow
def test_finalize_trains_only_the_missing_jobs(final_run, tmp_path, monkeypatch):
    """A lost job folder and summary: finalize trains that job alone and keeps the others."""
    directory = tmp_path / "run"
    shutil.copytree(final_run, directory)
    jobs = _jobs(directory)
    shutil.rmtree(directory / "final" / jobs[1])
    os.unlink(directory / "final" / "summary.json")
    # A staging folder a kill left behind is cleared, never published.
    (directory / "final" / f".staging-{jobs[1]}-1-abc").mkdir()
    kept = [job for job in jobs if job != jobs[1]]
    before = {job: (directory / "final" / job / "record.json").read_bytes() for job in kept}
    trained = _counting(monkeypatch)
    result = kgan_nas.finalize(str(directory), verbose=0)
    assert trained == [jobs[1]]
    for job in kept:
        assert (directory / "final" / job / "record.json").read_bytes() == before[job]
    assert sorted(os.listdir(directory / "final")) == sorted(
        jobs + ["generator.keras", "summary.json"]
    )
    assert sum(g["runs"] for g in result.final_summary()["genomes"]) == 4


@pytest.mark.keras
@pytest.mark.slow
def test_continued_jobs_start_from_the_candidates_weights_and_end_at_equal_steps(
    final_run, tmp_path
):
    """`continue_training`: each job starts from its search candidate's saved networks
    (and a weight average restarted from them) and trains the rest of the steps; the
    summary made from scratch is replaced, and every job is trained again."""
    import numpy as np

    from kgan_nas.core.genome import Genome
    from kgan_nas.final import job as final_job
    from kgan_nas.results.records import total_steps

    directory = tmp_path / "run"
    shutil.copytree(final_run, directory)
    result = kgan_nas.SearchResult(str(directory))
    key = result.final_summary()["genomes"][0]["key"]
    record = next(r for r in result.history if r["key"] == key)
    job = {"key": key, "seed": 0, "seed_index": 0, "jit_compile": False, "ema_decay": 0.999}
    folder = result._run.candidate_dir(key)
    gan, _ = final_job._build_job_gan(
        Genome.from_dict(record["genome"]), result.space, job, start_weights=folder
    )
    saved = result._run.load_model("candidates", key, "generator.keras")
    for mine, theirs in zip(gan.generator.weights, saved.weights):
        np.testing.assert_array_equal(np.asarray(mine.value), np.asarray(theirs.value))
    for average, weight in zip(gan.ema.averages, gan.generator.trainable_variables):
        np.testing.assert_array_equal(np.asarray(average.value), np.asarray(weight.value))
    assert float(gan.ema.count.value) == 0.0

    steps = 14
    continued = kgan_nas.finalize(
        str(directory), steps=steps, top_k=1, seeds=1, continue_training=True, verbose=0
    )
    summary = continued.final_summary()
    assert summary["protocol"]["continue_training"] is True
    from kgan_nas.report import final_view

    assert "continued from its search weights" in final_view.final_section(continued)
    (genome,) = summary["genomes"]
    for job_folder in [final_summary.job_name(genome["key"], 0)]:
        job_record = _read(os.path.join(directory, "final", job_folder, "record.json"))
        before = total_steps(continued.history, job_record["key"])
        assert before == 10  # the tiny search's steps per candidate
        assert job_record["continued_from_steps"] == before
        assert job_record["steps_trained"] == steps - before
    with pytest.raises(ValueError, match="no saved networks"):
        final_job._build_job_gan(
            Genome.from_dict(record["genome"]), result.space, job, start_weights=str(tmp_path)
        )
    # A candidate that already trained the whole budget is retrained from scratch:
    # no job trains more than `steps` in all.
    again = kgan_nas.finalize(
        str(directory), steps=8, top_k=1, seeds=1, continue_training=True, verbose=0
    )
    (genome,) = again.final_summary()["genomes"]
    job_record = _read(
        os.path.join(directory, "final", final_summary.job_name(genome["key"], 0), "record.json")
    )
    assert (job_record["continued_from_steps"], job_record["steps_trained"]) == (0, 8)


@pytest.mark.keras
@pytest.mark.slow
def test_resume_finishes_an_unfinished_final_stage(final_run, tmp_path, monkeypatch):
    """`kgan_nas.resume` on a run whose generations are done but whose final stage is
    not trains the missing runs only, with the stored final settings."""
    directory = tmp_path / "run"
    shutil.copytree(final_run, directory)
    jobs = _jobs(directory)
    shutil.rmtree(directory / "final" / jobs[0])
    os.unlink(directory / "final" / "summary.json")
    history = (directory / "history.jsonl").read_text()
    trained = _counting(monkeypatch)
    result = kgan_nas.resume(str(directory), verbose=0)
    assert trained == [jobs[0]]
    assert (directory / "history.jsonl").read_text() == history  # no candidate re-run
    assert result.final_summary()["protocol"]["steps"] == FINAL["steps"]
    # Before any load it says which generator best_generator() would return.
    assert result.best_generator_source.startswith("final stage:")
    result.best_generator()
    assert result.best_generator_source.startswith("final stage:")


@pytest.mark.keras
@pytest.mark.slow
def test_a_run_stored_before_the_final_stage_loads_reports_and_resumes(final_run, tmp_path):
    """An old run (no `final` in config.json, no final/) reads as having no final stage,
    and resuming it trains no final stage."""
    directory = tmp_path / "run"
    shutil.copytree(final_run, directory)
    shutil.rmtree(directory / "final")
    stored = _read(directory / "config.json")
    del stored["search"]["final"]
    (directory / "config.json").write_text(json.dumps(stored))
    result = kgan_nas.SearchResult(str(directory))
    assert result.final_summary() is None and "Final training" not in result.summary()
    result.best_generator()
    assert result.best_generator_source.startswith("search: candidate")
    resumed = kgan_nas.resume(str(directory), verbose=0)
    assert resumed.config["final"] is None and not (directory / "final").exists()
    assert len(resumed.history) == len(result.history)


@pytest.mark.keras
@pytest.mark.slow
def test_sigkill_during_finalize_then_resume_keeps_every_finished_job(
    final_run, tmp_path, monkeypatch
):
    """Kill -9 a finalize after its first job is published; running it again trains
    only the jobs that were not published, and the summary holds all four."""
    directory = tmp_path / "run"
    shutil.copytree(final_run, directory)
    code = "import sys, kgan_nas; kgan_nas.finalize(sys.argv[1], steps=40, verbose=0)"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(directory)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def finished():
        done = []
        try:
            jobs = _jobs(directory)
        except FileNotFoundError:  # no final/ folder yet
            return done
        for job in jobs:
            # A job's folder exists before its record is published (and the previous
            # stage's folders go while the new one starts): no record, not finished.
            try:
                record = _read(directory / "final" / job / "record.json")
            except FileNotFoundError:
                continue
            if record["steps"] == 40:
                done.append(job)
        return done

    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and not finished():
            assert process.poll() is None, "finalize ended before it could be killed"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    done = finished()
    assert 1 <= len(done) < 4, done
    # The 5-step stage's summary went when the 40-step one began: an unfinished
    # stage never reads as finished, and best_generator() is the search's meanwhile.
    assert not (directory / "final" / "summary.json").exists()
    assert not (directory / "final" / "generator.keras").exists()
    before = {job: (directory / "final" / job / "record.json").read_bytes() for job in done}
    trained = _counting(monkeypatch)
    kgan_nas.finalize(str(directory), steps=40, verbose=0)
    assert sorted(trained + done) == _jobs(directory)  # each job trained once in all
    for job in done:
        assert (directory / "final" / job / "record.json").read_bytes() == before[job]
    summary = _read(directory / "final" / "summary.json")
    assert summary["protocol"]["steps"] == 40
    assert sum(g["runs"] for g in summary["genomes"]) == 4
    assert kgan_nas.SearchResult(str(directory)).config["final"]["steps"] == 40


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------


class _Calls:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self

    def summary(self):
        return "summary"


@pytest.mark.parametrize("argv, final", [([], "preset"), (["--no-final"], None)])
def test_search_no_final_reaches_search(argv, final, monkeypatch, tmp_path):
    from kgan_nas.cli import commands as cli

    monkeypatch.chdir(tmp_path)
    fake = _Calls()
    monkeypatch.setattr(cli.search_api, "search", fake)
    assert cli.main(["search", "--quiet", *argv]) == 0
    assert fake.calls[0][1]["final"] == final


def test_finalize_options_reach_finalize(monkeypatch):
    from kgan_nas.cli import commands as cli

    fake = _Calls()
    monkeypatch.setattr(final_lib, "finalize", fake)
    argv = ["finalize", "RUN", "--top-k", "3", "--steps", "5000", "--seeds", "3"]
    assert cli.main(argv + ["--ema-decay", "0.99", "--quiet"]) == 0
    assert fake.calls == [
        (
            ("RUN",),
            dict(
                top_k=3,
                seeds=3,
                steps=5000,
                ema_decay=0.99,
                num_samples=None,
                distinct_lineages=None,
                probes=None,
                pack_seeds=None,
                continue_training=None,
                verbose=0,
            ),
        )
    ]
    assert cli.main(["finalize", "RUN", "--distinct-lineages", "--quiet"]) == 0
    assert cli.main(["finalize", "RUN", "--no-distinct-lineages", "--quiet"]) == 0
    assert [call[1]["distinct_lineages"] for call in fake.calls[1:]] == [True, False]
    assert cli.main(["finalize", "RUN", "--probes", "3", "--quiet"]) == 0
    assert fake.calls[-1][1]["probes"] == 3
    assert cli.main(["finalize", "RUN", "--no-pack-seeds", "--quiet"]) == 0
    assert fake.calls[-1][1]["pack_seeds"] is False
    assert cli.main(["finalize", "RUN", "--continue-training", "--quiet"]) == 0
    assert fake.calls[-1][1]["continue_training"] is True


@pytest.mark.parametrize("argv", [["--ema-decay", "1"], ["--steps", "0"], ["--seeds", "x"]])
def test_bad_finalize_options_are_refused_by_the_parser(argv, capsys):
    from kgan_nas.cli import commands as cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["finalize", "RUN", *argv])
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_finalize_on_a_directory_without_a_run_is_one_error_line(tmp_path, capsys):
    from kgan_nas.cli import commands as cli

    assert cli.main(["finalize", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a kgan_nas run directory" in err and len(err.strip().splitlines()) == 1
