"""What a new user meets first: the whole job's budget, a quiet console, errors that say
what to do, one vocabulary.

Each test stands for one finding of a first-contact study: a tiny Python search
that ran a final stage 80x its size without saying so; TensorFlow's start-up lines
on a plain script's stderr; errors that pointed at arguments that do not exist;
20 lines of usage before the one line that mattered; a different word for the same
thing in the CLI, Python and the report.
"""

import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from tiny_runs import finished_scripted_run
from tiny_runs import flat_search_keywords
from tiny_runs import scripted_search
from tiny_runs import skip_worker_files

import kgan_nas
from kgan_nas import config as config_lib
from kgan_nas.cli import commands as cli
from kgan_nas.final import stage as final_lib

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(REPOSITORY, "tests")
NOISE = re.compile(r"^[IWE]\d{4} |oneDNN|cuInit|absl::InitializeLog", re.MULTILINE)


# ----------------------------------------------------------------------------
# The whole job's budget, up front
# ----------------------------------------------------------------------------


def test_a_small_search_gets_a_final_stage_no_larger_than_itself():
    preset_final = final_lib.FinalConfig(**config_lib.FINAL_PRESETS["default"])
    tiny = config_lib.resolve_budget(
        "default", generations=1, population=2, steps_per_candidate=100
    )
    final, note = final_lib.proportionate(preset_final, tiny)
    assert final is None and "40x this search" in note and "final=" in note
    # Big enough for shorter runs that still train longer than a candidate did.
    medium = config_lib.resolve_budget(
        "default", generations=2, population=6, steps_per_candidate=300
    )
    final, note = final_lib.proportionate(preset_final, medium)
    assert final.steps == 2 * 6 * 300 // 4 and "cut" in note
    assert final.top_k == preset_final.top_k and final.seeds == preset_final.seeds
    # The presets' own searches keep their final stages whole.
    for preset, settings in config_lib.FINAL_PRESETS.items():
        preset_config = final_lib.FinalConfig(**settings)
        kept, note = final_lib.proportionate(preset_config, config_lib.resolve_budget(preset))
        assert kept == preset_config and note is None


def test_budget_lines_state_steps_time_and_how_to_change_them():
    budget = config_lib.resolve_budget("mnist_cpu")
    lines = config_lib.budget_lines("mnist_cpu", budget, config_lib.FINAL_PRESETS["mnist_cpu"])
    assert lines[0] == (
        "Budget: search 5 generations x 6 candidates x 300 steps (9,000 steps); "
        "final stage: top 2 x 2 seeds x 2,000 steps (8,000 steps)"
    )
    assert lines[1].startswith("Time: about ") and "preset_sizing_mnist_cpu.json" in lines[1]
    assert "--no-final" in lines[2] and "final=" in lines[2]
    one = config_lib.resolve_budget("default", generations=1, population=2, steps_per_candidate=1)
    line = config_lib.budget_lines("default", one, None, "why")[0]
    assert "1 generation x 2 candidates x 1 step (2 steps); no final stage (why)" in line
    assert "not measured" in config_lib.budget_lines("default", one, None)[1]


def test_the_time_estimate_grows_with_the_budget_and_shrinks_with_cores():
    small = config_lib.estimated_minutes("quick", 1000, 0, workers=2, cores=2)
    assert config_lib.estimated_minutes("quick", 2000, 0, workers=2, cores=2) == 2 * small
    assert config_lib.estimated_minutes("quick", 1000, 0, workers=1, cores=2) == 2 * small
    assert config_lib.estimated_minutes("default", 1000, 0, workers=2, cores=2) is None


@pytest.mark.parametrize("preset", sorted(config_lib.PRESET_MEASURED_COST))
def test_measured_costs_are_the_preset_sizing_results(preset):
    """The budget line's cost per step is the one the sizing benchmark wrote."""
    measured = config_lib.PRESET_MEASURED_COST[preset]
    with open(os.path.join(REPOSITORY, measured["source"])) as stream:
        result = json.load(stream)
    assert result["args"]["preset"] == preset and result["args"]["dataset"] == measured["dataset"]
    per_step = (
        result["summary"]["cpu_seconds_per_candidate"] / result["budget"]["steps_per_candidate"]
    )
    assert measured["cpu_seconds_per_step"] == pytest.approx(per_step, rel=1e-3)
    # The preset's own budget, measured: projected search minutes on the idle cores.
    search = config_lib.preset_minutes(preset, cores=result["summary"]["idle_cores"])
    final = config_lib.FINAL_PRESETS.get(preset)
    final_steps = final["top_k"] * final["seeds"] * final["steps"] if final else 0
    final_minutes = final_steps * per_step / result["summary"]["idle_cores"] / 60
    assert search - final_minutes == pytest.approx(
        result["summary"]["projected_search_minutes_idle"], rel=0.05
    )


def test_the_budget_comes_before_any_candidate(monkeypatch, tmp_path, capsys):
    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(tmp_path / "run", verbose=2, population=2)
    out = capsys.readouterr().out.splitlines()
    budget = next(i for i, line in enumerate(out) if line.startswith("Budget: search"))
    first = next(i for i, line in enumerate(out) if line.lstrip().startswith("[1/"))
    assert out[0].startswith("Starting ") and budget == 1 and budget < first
    assert "no final stage" in out[budget]
    # And a finished search says what to do next.
    assert out[-1].startswith(f"Next: kgan-nas report {tmp_path / 'run'}")


def test_an_explicit_final_stage_is_never_cut(monkeypatch, tmp_path):
    skip_worker_files(monkeypatch, tmp_path)
    seen = {}

    def stop(run_dir, config, data, say=print):
        seen.update(config.final)

    monkeypatch.setattr(final_lib, "run_final_stage", stop)
    final = {"top_k": 1, "seeds": 1, "steps": 5000}
    scripted_search(tmp_path / "run", population=2, final=final, evaluator="fast")
    assert seen["steps"] == 5000


# ----------------------------------------------------------------------------
# A quiet console in Python too
# ----------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.slow
def test_a_plain_script_prints_no_tensorflow_line(tmp_path):
    """A tiny real search from a plain script (as a user writes it): nothing of
    TensorFlow's start-up chatter reaches stderr."""
    script = tmp_path / "user_script.py"
    script.write_text(
        "import kgan_nas\n"
        "from tiny_runs import TINY_SPACE\n"
        f"kgan_nas.search('digits', space=TINY_SPACE, generations=1, population=2,\n"
        f"    steps_per_candidate=5, directory={str(tmp_path / 'run')!r}, verbose=0,\n"
        "    options=kgan_nas.SearchOptions(batch_size=16, num_samples=100, jit_compile=False),\n"
        "    run=kgan_nas.RunSettings(workers=1))\n"
    )
    environment = dict(os.environ, KGAN_NAS_CACHE=str(tmp_path / "cache"))
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as for a user who set nothing
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [REPOSITORY, TESTS, os.environ.get("PYTHONPATH")])
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert NOISE.findall(result.stderr) == [], result.stderr
    assert (tmp_path / "run" / "history.jsonl").exists()


# ----------------------------------------------------------------------------
# Errors a user can act on
# ----------------------------------------------------------------------------


def test_quieting_the_libraries_quiets_tensorflows_python_logger_too(monkeypatch):
    """Retracing warnings (`WARNING:tensorflow:...`) come through Python's logging."""
    import logging

    from kgan_nas.hooks import library_logs

    logger = logging.getLogger("tensorflow")
    monkeypatch.setattr(logger, "filters", [])  # restored after the test

    def passes(level):
        return bool(logger.filter(logging.LogRecord("tensorflow", level, "", 0, "m", (), None)))

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "")  # restored after the test
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    library_logs.quiet_libraries()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    # A filter, so TensorFlow resetting the level (it does in interactive sessions) keeps it.
    logger.setLevel(logging.INFO)
    assert not passes(logging.WARNING) and passes(logging.ERROR)
    library_logs.quiet_libraries()
    assert len(logger.filters) == 1
    # A user's own TF_CPP_MIN_LOG_LEVEL: the logger is left alone.
    logger.filters.clear()
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    library_logs.quiet_libraries()
    assert passes(logging.WARNING)


def test_an_offline_download_is_one_line_naming_the_offline_datasets(monkeypatch, capsys):
    keras = pytest.importorskip("keras")

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example/mnist.npz: [Errno -3]")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    assert cli.main(["search", "--dataset", "mnist", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kgan-nas search: error: ")
    assert "'mnist_5k'" in err[0] and "'digits'" in err[0] and "internal error" not in err[0]


def test_a_text_file_named_npz_is_not_called_pickled(tmp_path):
    from kgan_nas.data import load_dataset

    path = tmp_path / "images.npz"
    path.write_text("these are not images\n")
    with pytest.raises(ValueError, match="is not a numpy file") as raised:
        load_dataset(str(path))
    assert "pickle" not in str(raised.value)


def test_value_range_and_eval_fraction_are_search_options(monkeypatch, tmp_path):
    """The data warnings and errors point at value_range and eval_fraction: both exist
    in SearchOptions and as flags, and reach load_dataset."""
    images = np.random.default_rng(0).random((120, 8, 8)).astype("float32")  # in [0, 1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kgan_nas.data.load_dataset(images)
    [warning] = [w for w in caught if "value_range" in str(w.message)]
    assert "SearchOptions(value_range=(0, 1))" in str(warning.message)
    assert "--value-range 0 1" in str(warning.message)
    assert warning.filename == __file__  # the user's line, not kgan_nas's

    skip_worker_files(monkeypatch, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = scripted_search(
            tmp_path / "run",
            images,
            population=2,
            options=kgan_nas.SearchOptions(
                value_range=(0, 1), eval_fraction=0.25, batch_size=16, num_samples=100
            ),
            batch_size=None,
            num_samples=None,
        )
    assert not [w for w in caught if "value_range" in str(w.message)]
    assert result.config["eval_fraction"] == 0.25
    data = kgan_nas.data.load_dataset(
        images,
        value_range=(0, 1),
        eval_fraction=0.25,
        holdout_fraction=result.config["holdout_fraction"],
        seed=7,
    )
    assert result.config["data_fingerprint"] == data.fingerprint()


def test_value_range_and_eval_fraction_flags_reach_search(monkeypatch, tmp_path):
    seen = {}

    def capture(*args, **kwargs):
        seen.update(flat_search_keywords(kwargs))
        return type("Result", (), {"summary": lambda self: ""})()

    monkeypatch.setattr(cli.search_api, "search", capture)
    monkeypatch.chdir(tmp_path)
    argv = ["search", "--quiet", "--value-range", "0", "255", "--eval-fraction", "0.3"]
    assert cli.main(argv) == 0
    assert seen["value_range"] == (0.0, 255.0) and seen["eval_fraction"] == 0.3
    assert cli.main(["search", "--quiet"]) == 0
    assert seen["value_range"] == "auto" and seen["eval_fraction"] == 0.2


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["search", "--population", "-3"], "--population"),
        (["search", "--preset", "fast"], "invalid choice: 'fast'"),
        (["sample", "run", "--num-images", "0"], "expected a positive integer"),
    ],
)
def test_usage_errors_are_one_line_with_a_help_hint(argv, problem, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0]
    assert f"`kgan-nas {argv[0]} --help` lists the options" in err[0]


def test_a_run_with_no_evaluated_candidate_says_so(monkeypatch, tmp_path, capsys):
    """`sample` and `report` on a run whose search has evaluated nothing yet: one line
    saying so (not "no candidate succeeded"), and report exits non-zero."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    (directory / "history.jsonl").write_text("")
    assert cli.main(["report", str(directory)]) == 2
    err = capsys.readouterr().err
    assert "has been evaluated yet" in err and len(err.strip().splitlines()) == 1
    assert not (directory / "report.html").exists()
    assert cli.main(["sample", str(directory), "--out", str(tmp_path / "g.png")]) == 2
    assert "has been evaluated yet" in capsys.readouterr().err


def test_a_path_that_does_not_exist_is_called_so(tmp_path, capsys):
    missing = tmp_path / "typo"
    assert cli.main(["report", str(missing)]) == 2
    assert f"'{missing}' does not exist" in capsys.readouterr().err
    missing.mkdir()
    assert cli.main(["report", str(missing)]) == 2
    assert "is not a kgan_nas run directory" in capsys.readouterr().err


def test_warnings_on_the_command_line_are_one_line(monkeypatch, tmp_path, capsys):
    path = tmp_path / "unit.npz"
    np.savez(path, x=np.random.default_rng(0).random((40, 8, 8)).astype("float32"))

    def stop_after_loading(*args, **kwargs):
        kgan_nas.data.load_dataset(str(path))
        raise ValueError("stop here")

    monkeypatch.setattr(cli.search_api, "search", stop_after_loading)
    assert cli.main(["search", "--dataset", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("kgan-nas search: warning: The images lie in [")
    assert "--value-range 0 1" in err[0] and len(err) == 2


# ----------------------------------------------------------------------------
# One vocabulary, old flags kept
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "new, old, dest, value",
    [
        (["report", "run", "--top-k", "3"], ["report", "run", "--top", "3"], "top", 3),
        (["report", "run", "--grids", "2"], ["report", "run", "--samples", "2"], "samples", 2),
        (["sample", "run", "--num-images", "9"], ["sample", "run", "--n", "9"], "n", 9),
        (["sample", "run", "--labels", "4"], ["sample", "run", "--class", "4"], "label", 4),
    ],
)
def test_new_flags_and_their_old_names_mean_the_same(new, old, dest, value):
    from kgan_nas.cli.parser import build_parser

    parser = build_parser()
    assert getattr(parser.parse_args(new), dest) == value
    assert getattr(parser.parse_args(old), dest) == value


def test_library_logs_is_its_own_flag():
    from kgan_nas.cli import console
    from kgan_nas.cli.parser import build_parser

    parser = build_parser()

    def shows(argv):
        return console.shows_library_logs(parser.parse_args(argv))

    assert not shows(["search"]) and not shows(["search", "--verbose"])
    assert shows(["search", "--library-logs"]) and shows(["--library-logs", "search"])
    assert shows(["sample", "run", "--verbose"])  # its old meaning on other commands
    assert shows(["report", "run", "--debug"])


def test_the_top_help_names_every_strategy(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "Evolutionary" not in out and "genetic, random, particle-swarm or" in out


def test_the_summary_table_fits_100_columns(monkeypatch, tmp_path):
    from kgan_nas.results.search_result import SearchResult

    directory = finished_scripted_run(monkeypatch, tmp_path)
    text = SearchResult(str(directory)).summary()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "generation 1" in text
