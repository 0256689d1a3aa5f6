"""The `kgan-nas` command line explains itself and keeps the terminal clean.

Every option has help, `search`'s options are grouped, the presets are
described with their numbers (read from `config.PRESETS`), `--version` works,
every preset field and the budget options reach `kgan_nas.search`, metric names
are accepted as objectives, `sample --key` picks a candidate, a closed pipe
ends quietly, and TensorFlow's start-up lines stay hidden unless `--verbose`.
"""

import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from tiny_runs import flat_search_keywords

import kgan_nas
from kgan_nas.cli import commands as cli
from kgan_nas.cli import console
from kgan_nas.config import PRESETS
from kgan_nas.config import RunSettings
from kgan_nas.core.objectives import METRICS
from kgan_nas.core.objectives import parse_metric
from kgan_nas.hooks import library_logs

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(REPOSITORY, "tests")
COMMANDS = ("search", "resume", "report", "sample", "finalize")
# What TensorFlow, absl and CUDA print while starting, e.g.
# `E0000 00:00:1796035885.092875   32493 cuda_platform.cc:52] failed call to cuInit`.
NOISE = re.compile(r"^[IWE]\d{4} |oneDNN|cuInit|absl::InitializeLog", re.MULTILINE)


def _subcommands():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, action


def _command_parser(name):
    return _subcommands()[1].choices[name]


def _option_strings(parser):
    return {option for action in parser._actions for option in action.option_strings}


def _help_text(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse's line breaks undone


class _Captured:
    """Stands in for `kgan_nas.search` / `resume`: records the keyword arguments."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self

    def summary(self):
        return "summary"

    @property
    def kwargs(self):
        """The one call's keywords, with `options` and `run` spread out by field name."""
        assert len(self.calls) == 1, self.calls
        return flat_search_keywords(self.calls[0][1])


@pytest.fixture
def captured_search(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    fake = _Captured()
    monkeypatch.setattr(cli.search_api, "search", fake)
    monkeypatch.setattr(cli.search_api, "resume", fake)
    return fake


# ----------------------------------------------------------------------------
# Help, groups, presets, --version
# ----------------------------------------------------------------------------


def test_every_option_of_every_command_has_help():
    """Walks the parsers: an option (or positional argument, or command) added
    without help text fails here."""
    parser, commands = _subcommands()
    assert set(commands.choices) == set(COMMANDS)
    for choice in commands._choices_actions:
        assert choice.help and choice.help.strip(), f"command {choice.dest} has no help"
    for name, command in [("kgan-nas", parser)] + list(commands.choices.items()):
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, f"{label} has no help"
            assert action.help.strip(), f"{label} has empty help"


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kgan-nas {kgan_nas.__version__}"


def test_search_options_are_grouped():
    """`kgan-nas search --help` shows its options in groups, each option in the
    group that names what it is about."""
    groups = {
        group.title: {option for action in group._group_actions for option in action.option_strings}
        for group in _command_parser("search")._action_groups
    }
    expected = {
        "data": {"--dataset"},
        "search strategy": {"--strategy", "--no-inherit-weights", "--recipe", "--seed"},
        "budget": {"--preset", "--generations", "--max-params", "--seconds-per-candidate"},
        "scoring": {"--metric", "--objectives"},
        "execution": {"--executor", "--workers", "--threads-per-worker", "--timeout"},
        "output": {"--directory", "--overwrite", "--tensorboard", "--quiet", "--verbose"},
    }
    for title, options in expected.items():
        assert title in groups, sorted(groups)
        assert options <= groups[title], (title, groups[title])


def test_every_preset_field_is_an_option():
    options = _option_strings(_command_parser("search"))
    for preset in PRESETS.values():
        for key in preset:
            assert "--" + key.replace("_", "-") in options, key


def test_preset_help_lists_the_numbers_of_every_preset(capsys):
    """The --preset help spells out each preset as the options it stands for, and
    each budget option names its value under every preset (all read from PRESETS)."""
    text = _help_text(capsys, ["search", "--help"])
    for name, preset in PRESETS.items():
        options = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in preset.items())
        assert options in text, (name, options)
    for key in PRESETS["quick"]:
        values = ", ".join(f"{name} {preset[key]}" for name, preset in PRESETS.items())
        assert f"(preset: {values})" in text, key


def test_help_says_metric_names_are_accepted_as_objectives(capsys):
    text = _help_text(capsys, ["search", "--help"])
    assert "fid_domain params = fid params" in text


# ----------------------------------------------------------------------------
# Options reach kgan_nas.search
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric, given, expected",
    [
        ("fid_domain", ["fid_domain", "params"], ("fid", "params")),
        ("fid_domain", ["fid", "params"], ("fid", "params")),
        ("kid_domain", ["kid_domain", "params"], ("kid", "params")),
        ("is_inception", ["is_inception", "params"], ("inception_score", "params")),
    ],
)
def test_objectives_accept_metric_names(metric, given, expected, captured_search):
    assert cli.main(["search", "--quiet", "--metric", metric, "--objectives", *given]) == 0
    assert captured_search.kwargs["objectives"] == expected
    assert captured_search.kwargs["metric"] == metric


def test_objective_of_another_extractor_is_one_error_line(captured_search, capsys):
    """`--objectives fid_inception` under `--metric fid_domain` would measure with
    another extractor than the search uses: refused, naming what to write."""
    argv = ["search", "--quiet", "--objectives", "fid_inception", "params"]
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kgan-nas search: error: "), lines
    assert "fid_domain or fid" in lines[0]
    assert captured_search.calls == []


def test_every_metric_is_a_valid_objective_name(captured_search):
    """Each metric name, as the first objective under that metric, reaches search as
    the objective the metric measures."""
    for metric in METRICS:
        captured_search.calls.clear()
        assert cli.main(["search", "--quiet", "--metric", metric, "--objectives", metric]) == 0
        assert captured_search.kwargs["objectives"] == (parse_metric(metric)[0].name,)


@pytest.mark.parametrize(
    "argv, keyword, value",
    [
        (["--seconds-per-candidate", "30"], "seconds_per_candidate", 30.0),
        (["--max-candidates-per-worker", "3"], "max_candidates_per_worker", 3),
        (["--max-consecutive-failures", "5"], "max_consecutive_failures", 5),
        (["--threads-per-worker", "2"], "executor_options", {"threads_per_worker": 2}),
        (["--threads-per-worker", "auto"], "executor_options", {"threads_per_worker": "auto"}),
        (
            ["--gpus", "0", "1", "--threads-per-worker", "4"],
            "executor_options",
            {"gpus": [0, 1], "threads_per_worker": 4},
        ),
        (["--generations", "7"], "generations", 7),
        (["--num-samples", "123"], "num_samples", 123),
        (["--preset", "quick"], "preset", "quick"),
    ],
)
def test_budget_and_execution_options_reach_search(argv, keyword, value, captured_search):
    assert cli.main(["search", "--quiet", *argv]) == 0
    assert captured_search.kwargs[keyword] == value


def test_unset_options_leave_search_its_defaults(captured_search):
    assert cli.main(["search", "--quiet"]) == 0
    kwargs = captured_search.kwargs
    assert kwargs["seconds_per_candidate"] is None
    assert kwargs["max_consecutive_failures"] is None
    assert kwargs["max_candidates_per_worker"] == RunSettings.max_candidates_per_worker
    assert kwargs["executor_options"] is None
    assert kwargs["space"] is None  # the preset's max_params, inside kgan_nas.search
    assert kwargs["callbacks"] is None


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_thread_count_is_refused_while_parsing(value, captured_search, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["search", "--threads-per-worker", value])
    assert exit_info.value.code == 2
    assert "argument --threads-per-worker" in capsys.readouterr().err.splitlines()[-1]
    assert captured_search.calls == []


def test_max_params_builds_the_space_for_the_data(captured_search):
    from kgan_nas.data import load_dataset

    assert cli.main(["search", "--quiet", "--max-params", "12345"]) == 0
    space = captured_search.kwargs["space"]
    assert space.max_params == 12345
    assert tuple(space.image_shape) == tuple(load_dataset("digits").image_shape)


def test_recipe_searches_the_presets_space_with_the_recipe_genes(captured_search):
    from kgan_nas.config import PRESETS
    from kgan_nas.core.space import SearchSpace

    assert cli.main(["search", "--quiet", "--preset", "quick", "--recipe"]) == 0
    space = captured_search.kwargs["space"]
    plain = SearchSpace(image_shape=space.image_shape, max_params=PRESETS["quick"]["max_params"])
    assert space == plain.with_recipe()
    assert cli.main(["search", "--quiet", "--recipe", "--max-params", "12345"]) == 0
    _, kwargs = captured_search.calls[-1]
    assert kwargs["space"].max_params == 12345
    assert kwargs["space"].r1_weights == (0.0, 0.1, 1.0, 10.0)


def test_max_params_is_stored_in_the_run_configuration(tmp_path, monkeypatch):
    """A real (scripted, instant) search started by the CLI records --max-params in
    config.json, and a preset's own value otherwise gives the same space."""
    from tiny_runs import scripted_evaluator
    from tiny_runs import skip_worker_files

    from kgan_nas.results.search_result import SearchResult

    skip_worker_files(monkeypatch, tmp_path)
    real_search = cli.search_api.search
    monkeypatch.setattr(
        cli.search_api,
        "search",
        lambda *args, **kwargs: real_search(*args, evaluator=scripted_evaluator("fast"), **kwargs),
    )
    common = ["--preset", "quick", "--generations", "1", "--population", "2"]
    common += ["--executor", "inprocess", "--quiet"]
    limit = PRESETS["quick"]["max_params"] // 2
    given = tmp_path / "given"
    assert cli.main(["search", *common, "--max-params", str(limit), "--directory", str(given)]) == 0
    assert SearchResult(str(given)).config["space"]["max_params"] == limit
    preset = tmp_path / "preset"
    assert cli.main(["search", *common, "--directory", str(preset)]) == 0
    stored = SearchResult(str(preset)).config["space"]
    assert stored["max_params"] == PRESETS["quick"]["max_params"]
    # The same run resumes when the preset's value is spelled out.
    spelled_out = ["--max-params", str(PRESETS["quick"]["max_params"])]
    assert cli.main(["search", *common, *spelled_out, "--directory", str(preset)]) == 0


@pytest.mark.parametrize(
    "argv, verbose",
    [
        (["search"], 1),
        (["search", "--quiet"], 0),
        (["search", "--verbose"], 2),
        (["--verbose", "search"], 2),
        (["resume", "run"], 1),
        (["resume", "run", "--verbose"], 2),
        (["resume", "run", "--quiet"], 0),
    ],
)
def test_quiet_and_verbose_choose_the_verbosity(argv, verbose, captured_search, monkeypatch):
    # In this test process the library messages stay as they are.
    monkeypatch.setattr(console, "quiet_libraries", lambda: None)
    assert cli.main(argv) == 0
    assert captured_search.kwargs["verbose"] == verbose


def test_quiet_and_verbose_together_are_refused(captured_search, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["search", "--quiet", "--verbose"])
    assert exit_info.value.code == 2
    assert "--quiet and --verbose" in capsys.readouterr().err
    assert captured_search.calls == []


@pytest.mark.keras
@pytest.mark.parametrize("command", [["search"], ["resume", "run"]])
def test_tensorboard_passes_a_search_tensorboard_hook(command, captured_search, tmp_path):
    from kgan_nas.hooks import SearchTensorBoard

    log_dir = str(tmp_path / "tb")
    assert cli.main([*command, "--quiet", "--tensorboard", log_dir]) == 0
    (hook,) = captured_search.kwargs["callbacks"]
    assert isinstance(hook, SearchTensorBoard) and hook.log_dir == log_dir


# ----------------------------------------------------------------------------
# sample --key
# ----------------------------------------------------------------------------


@pytest.fixture
def fast_run(tmp_path, monkeypatch):
    """A finished scripted run (no models saved, nothing trained)."""
    from tiny_runs import finished_scripted_run

    return finished_scripted_run(monkeypatch, tmp_path)


def test_sample_with_an_unknown_key_says_where_keys_are(fast_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli.main(["sample", str(fast_run), "--key", "0123456789abcdef", "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "No candidate with key '0123456789abcdef'" in lines[0]
    assert f"kgan-nas report {fast_run}" in lines[0] and "history.jsonl" in lines[0]
    assert not out.exists()


def test_sample_of_a_candidate_without_a_model_is_one_line(fast_run, tmp_path, capsys):
    """The scripted evaluator saves no models: a real key then names the missing file."""
    from kgan_nas.results.search_result import SearchResult

    key = SearchResult(str(fast_run)).ranked()[0]["key"]
    assert cli.main(["sample", str(fast_run), "--key", key, "--out", str(tmp_path / "g.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "No model at" in lines[0] and key in lines[0], lines


def test_sample_of_a_failed_candidate_says_it_failed(fast_run, tmp_path, capsys):
    from kgan_nas.store import run_dir as run_lib

    history = fast_run / "history.jsonl"
    records = run_lib.RunDir(str(fast_run)).history()
    records[0].update(status="nan", reason="non-finite g_loss")
    history.write_text("".join(json.dumps(record) + "\n" for record in records))
    key = records[0]["key"]
    assert cli.main(["sample", str(fast_run), "--key", key, "--out", str(tmp_path / "g.png")]) == 2
    line = capsys.readouterr().err.strip()
    assert f"Candidate {key} did not train successfully (status 'nan')" in line


@pytest.fixture(scope="module")
def real_run(tiny_real_run):
    """A tiny real in-process search (models saved), shared with tests/test_results.py."""
    return tiny_real_run


@pytest.mark.keras
@pytest.mark.slow
def test_sample_key_draws_from_that_candidates_generator(real_run, tmp_path, capsys):
    """`sample --key K` writes the grid of candidate K's generator (the same latent
    vectors as for the best one), not the best generator's."""
    from kgan_nas import data
    from kgan_nas.results.search_result import SearchResult

    result = SearchResult(str(real_run))
    ranked = result.ranked()
    assert len(ranked) >= 2, [r["reason"] for r in result.history]
    key = ranked[1]["key"]
    out = tmp_path / "key.png"
    argv = ["sample", str(real_run), "--key", key, "--n", "4", "--seed", "3", "--out", str(out)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (4 images from candidate {key})"

    generator = result.generator(key)
    latent = np.random.default_rng(3).normal(size=(4, generator.input_shape[-1]))
    expected = tmp_path / "expected.png"
    data.save_image_grid(generator.predict(latent.astype("float32"), verbose=0), str(expected))
    assert out.read_bytes() == expected.read_bytes()

    best = tmp_path / "best.png"
    assert cli.main(["sample", str(real_run), "--n", "4", "--seed", "3", "--out", str(best)]) == 0
    assert ranked[0]["key"] in capsys.readouterr().out
    assert best.read_bytes() != out.read_bytes()


# ----------------------------------------------------------------------------
# A closed pipe and a quiet console, in processes of their own
# ----------------------------------------------------------------------------


def _environment(**changes):
    environment = dict(os.environ)
    # As for a user who set nothing: the tests' own conftest sets a log level.
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [REPOSITORY, TESTS, os.environ.get("PYTHONPATH")])
    )
    environment.update(changes)
    return environment


def test_report_into_head_ends_quietly_and_finishes(fast_run):
    """`kgan-nas report RUN | head -1`: the first line, no 'Broken pipe' message, exit
    status 0, and the report is still written (Python unbuffered, so every print
    after head exits hits the closed pipe)."""
    command = (
        f"{sys.executable} -m kgan_nas.cli.commands report {fast_run} | head -1; "
        'echo "status=${PIPESTATUS[0]}"'
    )
    result = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env=_environment(PYTHONUNBUFFERED="1"),
        timeout=300,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == f"Results in {fast_run}", result.stdout
    assert lines[-1] == "status=0", (result.stdout, result.stderr)
    assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert (fast_run / "report.html").is_file()


def test_report_to_a_pipe_nobody_reads_ends_quietly(fast_run):
    """The reader closed before anything was written (buffered output): exit 0 and
    nothing on stderr about the pipe."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kgan_nas.cli.commands", "report", str(fast_run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(PYTHONUNBUFFERED=""),
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, stderr
    assert "Broken pipe" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert (fast_run / "report.html").is_file()


def test_library_noise_filter_keeps_everything_else(capfd, monkeypatch):
    """While a noisy library loads, its log lines below the level are dropped and
    every other line written to file descriptor 2 is kept, in order."""
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written\n",
        b"I0000 00:00:1796035882.707450   32493 port.cc:153] oneDNN custom operations\n",
        b"a line of the program\n",
        b"W0312 14:03:05.123456 12345 file.cc:12] a warning\n",
        b"E0000 00:00:1796035885.092875   32493 cuda_platform.cc:52] failed call to cuInit\n",
        b"another line\n",
    ]
    monkeypatch.setenv(console.LOG_LEVEL_VARIABLE, "2")  # hide INFO and WARNING lines
    with library_logs._stderr_without_noise():
        for line in lines:
            os.write(2, line)
    kept = capfd.readouterr().err
    assert kept == "a line of the program\nE0000 00:00:1796035885.092875   32493 " + (
        "cuda_platform.cc:52] failed call to cuInit\nanother line\n"
    )


def test_quiet_import_filters_a_noisy_package_while_it_loads(tmp_path, monkeypatch, capfd):
    package = tmp_path / "noisy_native_library"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'I0000 00:00:1.5  7 loader.cc:1] loaded the shared library\\n')\n"
        "os.write(2, b'kept: a real warning\\n')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setenv(console.LOG_LEVEL_VARIABLE, "3")
    hook = library_logs._QuietImport("noisy_native_library")
    sys.meta_path.insert(0, hook)
    import noisy_native_library

    assert capfd.readouterr().err == "kept: a real warning\n"
    assert hook not in sys.meta_path  # only the first import is filtered
    assert type(noisy_native_library.__loader__).__name__ == "SourceFileLoader"
    monkeypatch.delitem(sys.modules, "noisy_native_library")


def test_quiet_libraries_leaves_a_users_level_alone(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setenv(console.LOG_LEVEL_VARIABLE, "1")
    console.quiet_libraries()
    assert os.environ[console.LOG_LEVEL_VARIABLE] == "1"
    monkeypatch.delenv(console.LOG_LEVEL_VARIABLE)
    console.quiet_libraries()
    assert os.environ[console.LOG_LEVEL_VARIABLE] == console.QUIET_LOG_LEVEL


def _noise_lines(text):
    return [line for line in text.splitlines() if NOISE.search(line)]


@pytest.mark.keras
@pytest.mark.slow
def test_console_shows_no_library_noise_unless_verbose(real_run, tmp_path):
    """`kgan-nas sample` loads Keras and TensorFlow and runs a generator: without
    --verbose no start-up line of theirs reaches stderr; with --verbose the lines
    this machine's TensorFlow prints (if any) are all there."""

    def start(command):
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(),
        )

    def finish(process):
        stdout, stderr = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    # The three processes start together: each spends its time importing TensorFlow.
    cli = [sys.executable, "-m", "kgan_nas.cli.commands"]
    sample = ["sample", str(real_run), "--n", "4", "--out"]
    running = [
        start([*cli, *sample, str(tmp_path / "quiet.png")]),
        start([sys.executable, "-c", "import tensorflow as tf; tf.config.list_physical_devices()"]),
        start([*cli, "--verbose", *sample, str(tmp_path / "verbose.png")]),
    ]
    quiet, baseline, verbose = (finish(process) for process in running)
    assert quiet.returncode == 0, quiet.stderr
    assert _noise_lines(quiet.stderr) == [], quiet.stderr
    assert quiet.stdout.startswith("wrote ")
    assert verbose.returncode == 0, verbose.stderr
    if _noise_lines(baseline.stderr):
        assert _noise_lines(verbose.stderr), (baseline.stderr, verbose.stderr)


def test_cli_reference_page_lists_every_option():
    """docs/api/cli.md names every option of every command (the parser is the source)."""
    with open(os.path.join(REPOSITORY, "docs", "api", "cli.md"), encoding="utf-8") as stream:
        page = stream.read()
    parser, commands = _subcommands()
    for name, command in commands.choices.items():
        assert f"## `kgan-nas {name}`" in page, name
        for option in _option_strings(command) - {"-h", "--help"}:
            assert f"`{option}" in page or f", {option}" in page, (name, option)
    for option in _option_strings(parser) - {"-h", "--help"}:
        assert option in page, option


def test_conditional_flag_and_class_objectives_reach_search(captured_search):
    """`--conditional` asks kgan_nas.search for a class-conditional search; without it,
    search is called with conditional=False (the unconditional default)."""
    args = ["search", "--quiet", "--conditional", "--objectives", "fid", "class_accuracy"]
    assert cli.main(args) == 0
    assert captured_search.kwargs["conditional"] is True
    assert captured_search.kwargs["objectives"] == ("fid", "class_accuracy")
    captured_search.calls.clear()
    assert cli.main(["search", "--quiet"]) == 0
    assert captured_search.kwargs["conditional"] is False
