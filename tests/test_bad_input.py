"""Bad input: every user mistake gets a clear error naming the problem and the fix.

Each case checks the exception type, that the message names the problem and
the fix, that it comes before any training (the worker set-up is replaced by
a function that fails the test if it is reached), and, where a run directory
already exists, that every file in it is byte-identical afterwards. A new run
directory is never created, nor a `candidates/` folder or `history.jsonl`. The CLI
turns the same mistakes into one `kgan-nas CMD: error: ...` line on stderr
and exit code 2, never a traceback.
"""

import json
import os
import sys

import numpy as np
import pytest
from tiny_runs import SCRIPTED_SPACE
from tiny_runs import TrainingStarted
from tiny_runs import finished_scripted_run
from tiny_runs import forbid_training
from tiny_runs import scripted_search
from tiny_runs import skip_worker_files

import kgan_nas
from kgan_nas import api as search_api
from kgan_nas import data as data_lib
from kgan_nas.cli import commands as cli
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.store.run_dir import RunDirectoryError


def _is_lock_file(name):
    # Taking the run directory's lock may leave its (empty) lock file behind; that
    # is no change to the run.
    return name == ".lock" or name.endswith(".lock")


def _snapshot(path):
    """Every file under `path` (or the file itself) with its bytes, lock files aside."""
    if os.path.isfile(path):
        with open(path, "rb") as stream:
            return {"": stream.read()}
    files = {}
    for folder, _, names in os.walk(path):
        for name in names:
            if _is_lock_file(name):
                continue
            full = os.path.join(folder, name)
            with open(full, "rb") as stream:
                files[os.path.relpath(full, path)] = stream.read()
    return files


def _assert_no_training_in(directory):
    """No trace of a started search: no candidate models and no history record."""
    assert not os.path.exists(os.path.join(directory, "candidates")), "candidates/ created"
    assert not os.path.exists(os.path.join(directory, "history.jsonl")), "history written"


def _assert_names(message, problem, fix):
    assert problem.lower() in message.lower(), f"problem {problem!r} not named in: {message}"
    assert fix.lower() in message.lower(), f"fix {fix!r} not named in: {message}"


# ----------------------------------------------------------------------------
# Python API: data, space and budget mistakes
# ----------------------------------------------------------------------------

_RNG = np.random.default_rng(0)
_IMAGES = _RNG.uniform(-1, 1, size=(200, 8, 8, 1)).astype("float32")
_WITH_NAN = _IMAGES.copy()
_WITH_NAN[3, 1, 1, 0] = np.nan
_WITH_INF = _IMAGES.copy()
_WITH_INF[5, 0, 0, 0] = np.inf


def _empty_folder(tmp_path):
    folder = tmp_path / "images"
    (folder / "class_a").mkdir(parents=True)
    (folder / "class_a" / "notes.txt").write_text("not an image")
    return str(folder)


# (id, call(tmp_path, directory), exception, words naming the problem, words naming the fix)
API_CASES = [
    (
        "rank 2 (flattened images)",
        lambda tmp, d: scripted_search(d, _IMAGES.reshape(200, 64)),
        ValueError,
        "rank 2",
        "reshape it to (N, H, W)",
    ),
    (
        "rank 5",
        lambda tmp, d: scripted_search(d, _IMAGES[None]),
        ValueError,
        "rank 5",
        "np.squeeze",
    ),
    (
        "rank 5 through load_dataset",
        lambda tmp, d: data_lib.load_dataset(_IMAGES[None]),
        ValueError,
        "rank 5",
        "np.squeeze",
    ),
    (
        "channel mismatch between space and data",
        lambda tmp, d: scripted_search(d, space=kgan_nas.SearchSpace(image_shape=(8, 8, 3))),
        ValueError,
        "shape (8, 8, 3) but the data set has shape (8, 8, 1)",
        "SearchSpace(image_shape=(8, 8, 1)",
    ),
    (
        "channels-first array",
        lambda tmp, d: scripted_search(d, np.zeros((20, 3, 16, 16), "float32")),
        ValueError,
        "got 16 channels",
        "np.transpose(x, (0, 2, 3, 1))",
    ),
    (
        "NaN pixel",
        lambda tmp, d: scripted_search(d, _WITH_NAN),
        ValueError,
        "1 NaN or infinite value",
        "np.nan_to_num",
    ),
    (
        "inf pixel",
        lambda tmp, d: scripted_search(d, _WITH_INF),
        ValueError,
        "1 NaN or infinite value",
        "remove or repair",
    ),
    (
        "empty dataset",
        lambda tmp, d: scripted_search(d, np.zeros((0, 8, 8, 1), "float32")),
        ValueError,
        "dataset is empty",
        "at least 4 images",
    ),
    (
        "fewer images than two batches",
        lambda tmp, d: scripted_search(d, _IMAGES[:20], batch_size=16),
        ValueError,
        "Too few images",
        "lower the batch size",
    ),
    (
        "0-255 floats where [-1, 1] is expected",
        lambda tmp, d: scripted_search(d, (_IMAGES + 1) * 127.5),
        ValueError,
        "looks like 0-255 data",
        "x / 127.5 - 1",
    ),
    (
        "0-255 floats through load_dataset",
        lambda tmp, d: data_lib.load_dataset((_IMAGES + 1) * 127.5),
        ValueError,
        "looks like 0-255 data",
        "value_range=(0, 255)",
    ),
    (
        "folder with no images",
        lambda tmp, d: scripted_search(d, _empty_folder(tmp)),
        ValueError,
        "No PNG/JPEG images found",
        "Pass the folder that holds the images",
    ),
    (
        "unknown dataset name",
        lambda tmp, d: scripted_search(d, "mnsit"),
        ValueError,
        "Unknown dataset name 'mnsit'",
        "Did you mean 'mnist'",
    ),
    (
        "list instead of an array",
        lambda tmp, d: scripted_search(d, list(_IMAGES)),
        TypeError,
        "from a list",
        "np.stack(images)",
    ),
    (
        "labels of the wrong length",
        lambda tmp, d: scripted_search(d, _IMAGES, labels=np.zeros(5, int)),
        ValueError,
        "Labels have shape (5,)",
        "one integer label per image",
    ),
    (
        "unknown layer type in a SearchSpace",
        lambda tmp, d: kgan_nas.SearchSpace(generator_layer_types=("dense", "lstm")),
        ValueError,
        "unknown choice(s) ['lstm']",
        "choose from",
    ),
    (
        "image rank wrong in a SearchSpace",
        lambda tmp, d: kgan_nas.SearchSpace(image_shape=(28, 28)),
        ValueError,
        "(height, width, channels)",
        "e.g. (28, 28, 1)",
    ),
    (
        "space with too few layers to reach the image",
        lambda tmp, d: kgan_nas.SearchSpace(image_shape=(28, 28, 1), generator_layers=(1, 1)),
        ValueError,
        "needs 2 upsampling layer(s) to reach 28x28",
        "generator_layers=(min, >= 2)",
    ),
    (
        "space without upsampling layers",
        lambda tmp, d: kgan_nas.SearchSpace(
            image_shape=(28, 28, 1), generator_layer_types=("dense", "conv2d")
        ),
        ValueError,
        "has neither 'upsample_conv2d' nor 'conv2d_transpose'",
        "Add one",
    ),
    (
        "space too small for any genome (max_params)",
        lambda tmp, d: scripted_search(
            d, space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), max_params=10)
        ),
        InvalidGenomeError,
        "exceed max_params=10",
        "raise max_params",
    ),
    (
        "zero generations",
        lambda tmp, d: scripted_search(d, generations=0),
        ValueError,
        "got 0",
        "generations must be a positive integer",
    ),
    (
        "negative steps per candidate",
        lambda tmp, d: scripted_search(d, steps_per_candidate=-5),
        ValueError,
        "got -5",
        "steps_per_candidate must be a positive integer",
    ),
    (
        "zero batch size",
        lambda tmp, d: scripted_search(d, batch_size=0),
        ValueError,
        "got 0",
        "batch_size must be a positive integer",
    ),
    (
        "zero timeout",
        lambda tmp, d: scripted_search(d, timeout=0),
        ValueError,
        "got 0",
        "timeout must be a positive number of seconds, or None",
    ),
    (
        "negative time per candidate",
        lambda tmp, d: scripted_search(d, seconds_per_candidate=-1),
        ValueError,
        "got -1",
        "seconds_per_candidate must be a positive number",
    ),
    (
        "zero candidates per worker",
        lambda tmp, d: scripted_search(d, max_candidates_per_worker=0),
        ValueError,
        "got 0",
        "max_candidates_per_worker must be a positive integer",
    ),
    (
        "population of one",
        lambda tmp, d: scripted_search(d, population=1),
        ValueError,
        "got 1",
        "population must be at least 2",
    ),
    (
        "seed that is not an integer",
        lambda tmp, d: scripted_search(d, seed="abc"),
        ValueError,
        "got 'abc'",
        "seed must be a non-negative integer",
    ),
    (
        "unknown executor",
        lambda tmp, d: scripted_search(d, executor="threads"),
        ValueError,
        "Unknown executor 'threads'",
        "choose one of",
    ),
    (
        "misspelt executor option",
        lambda tmp, d: scripted_search(d, executor="subprocess", executor_options={"gpu": [0]}),
        ValueError,
        "executor_options ['gpu']",
        "accepts ['candidates_per_gpu'",
    ),
    (
        "space given as a dict",
        lambda tmp, d: scripted_search(d, space=SCRIPTED_SPACE.to_dict()),
        TypeError,
        "got a dict",
        "SearchSpace.from_dict",
    ),
    (
        "unknown objective",
        lambda tmp, d: scripted_search(d, objectives=("fid", "speed")),
        ValueError,
        "Unknown objective(s) ['speed']",
        "choose from",
    ),
]


@pytest.mark.parametrize("case", API_CASES, ids=[case[0] for case in API_CASES])
def test_bad_python_input_fails_before_training_and_names_the_fix(case, tmp_path, monkeypatch):
    """Each mistake raises its exception type naming problem and fix, writes no run
    directory, and never reaches the worker set-up (where training starts)."""
    _, call, exception, problem, fix = case
    forbid_training(monkeypatch)
    cache = tmp_path / "cache"
    monkeypatch.setenv("KGAN_NAS_CACHE", str(cache))
    directory = tmp_path / "run"
    with pytest.raises(exception) as error:
        call(tmp_path, directory)
    assert not isinstance(error.value, TrainingStarted)
    _assert_names(str(error.value), problem, fix)
    assert not directory.exists()
    # The data set and the feature extractor are cached when training is prepared.
    assert not cache.exists()


def test_missing_ray_is_reported_before_training(tmp_path, monkeypatch, capsys):
    """executor="ray" without Ray installed says how to install it, up front, in
    Python and as one CLI line."""
    forbid_training(monkeypatch)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    with pytest.raises(ImportError) as error:
        scripted_search(tmp_path / "run", executor="ray")
    _assert_names(str(error.value), "needs Ray", 'pip install "kgan_nas[distributed]"')
    assert not (tmp_path / "run").exists()
    assert cli.main(["search", "--executor", "ray", "--directory", str(tmp_path / "run")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "error: executor='ray' needs Ray" in lines[0], lines
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------
# Python API: run directory mistakes (nothing in the directory may change)
# ----------------------------------------------------------------------------


def test_directory_that_is_a_file(tmp_path, monkeypatch):
    """A file given as the run directory is refused and kept byte for byte."""
    forbid_training(monkeypatch)
    path = tmp_path / "notes.txt"
    path.write_bytes(b"keep me\x00\xff")
    with pytest.raises(RunDirectoryError) as error:
        scripted_search(path)
    _assert_names(str(error.value), "is a file", "Pass a directory path")
    # Nothing written next to it either (no temporary file, no directory).
    assert _snapshot(tmp_path) == {"notes.txt": b"keep me\x00\xff"}


def test_directory_that_is_not_a_run_is_never_used_or_deleted(tmp_path, monkeypatch):
    """A non-empty folder that is not a run is refused, also with overwrite=True."""
    forbid_training(monkeypatch)
    directory = tmp_path / "photos"
    directory.mkdir()
    (directory / "holiday.txt").write_text("precious")
    before = _snapshot(directory)
    for overwrite in (False, True):
        with pytest.raises(RunDirectoryError) as error:
            scripted_search(directory, overwrite=overwrite)
        _assert_names(str(error.value), "is not a kgan_nas run", "Choose a")
        assert _snapshot(directory) == before
        _assert_no_training_in(directory)


def test_existing_run_with_another_config_is_refused_byte_identical(tmp_path, monkeypatch):
    """Another configuration in an existing run directory is refused, naming each
    differing setting (nested ones by their path); no file changes."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    before = _snapshot(directory)
    assert {"config.json", "history.jsonl", "checkpoint.json"} <= set(before)
    other_space = kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=100_000)
    with pytest.raises(RunDirectoryError) as error:
        scripted_search(directory, space=other_space, strategy="random")
    message = str(error.value)
    _assert_names(message, "different configuration", "Pass overwrite=True")
    assert "space.latent_dim: stored 8, now 16" in message
    assert "strategy: stored 'GeneticSearch', now 'RandomSearch'" in message
    assert "max_start_size" not in message  # unchanged settings are not listed
    assert _snapshot(directory) == before
    assert not (directory / "candidates").exists()  # the fast evaluator saves no models


def _permissions_enforced(tmp_path):
    """False for root (or a process allowed to override file permissions)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        (probe / "file").write_text("x")
    except PermissionError:
        return True
    finally:
        probe.chmod(0o755)
    return False


@pytest.mark.parametrize("existing_run", [False, True], ids=["new run", "resume"])
def test_unwritable_directory_by_permissions(tmp_path, monkeypatch, existing_run):
    """A read-only directory (chmod) gives a clear error and stays unchanged."""
    if not _permissions_enforced(tmp_path):
        pytest.skip("file permissions are not enforced for this user (root)")
    if existing_run:
        directory = finished_scripted_run(monkeypatch, tmp_path)
    else:
        forbid_training(monkeypatch)
        directory = tmp_path / "readonly"
        directory.mkdir()
    before = _snapshot(directory)
    directory.chmod(0o555)
    try:
        with pytest.raises(RunDirectoryError) as error:
            scripted_search(directory)
    finally:
        directory.chmod(0o755)
    _assert_names(str(error.value), "Cannot use the run directory", "fix its permissions")
    assert _snapshot(directory) == before


@pytest.mark.parametrize("existing_run", [False, True], ids=["new run", "resume"])
def test_unwritable_directory_reported_when_the_os_refuses(tmp_path, monkeypatch, existing_run):
    """However the OS refuses a write (here simulated, so it also runs as root), the
    user gets a RunDirectoryError, not an OSError traceback; nothing changes."""
    import kgan_nas.store.atomic

    if existing_run:
        directory = finished_scripted_run(monkeypatch, tmp_path)
    else:
        forbid_training(monkeypatch)
        directory = tmp_path / "readonly"
        directory.mkdir()
    before = _snapshot(directory)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(kgan_nas.store.atomic, "_create_temporary", refuse)
    with pytest.raises(RunDirectoryError) as error:
        scripted_search(directory)
    _assert_names(str(error.value), "Permission denied", "fix its permissions")
    assert _snapshot(directory) == before


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"generation": 1, "pend', "checkpoint.json is corrupted"),
        ("[1, 2]", "holds a JSON list"),
        ('{"generation": -1, "pending": null, "strategy": {}}', "expected 'generation' >= 0"),
        ('{"generation": 1, "pending": "x", "strategy": {}}', "'pending' genomes or null"),
        # A parent key is a folder name under candidates/: nothing else may get through.
        (
            '{"generation": 1, "pending": null, "strategy": {}, '
            '"pending_parents": {"0123456789abcdef": "../../elsewhere"}}',
            "'pending_parents'",
        ),
    ],
    ids=["truncated", "not an object", "negative generation", "bad pending", "bad parent"],
)
def test_corrupted_checkpoint_is_refused_before_training(tmp_path, monkeypatch, content, problem):
    """A damaged checkpoint.json is named with the way to recover; nothing changes."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    (directory / "checkpoint.json").write_text(content)
    before = _snapshot(directory)
    with pytest.raises(RunDirectoryError) as error:
        scripted_search(directory, generations=2)
    _assert_names(str(error.value), problem, "Delete checkpoint.json to resume from history")
    assert _snapshot(directory) == before


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"format": 1, "sea', "config.json is corrupted"),
        ('"just a string"', "holds a JSON str"),
        ('{"format": 1}', "no 'search' settings"),
    ],
    ids=["truncated", "not an object", "no search settings"],
)
def test_corrupted_config_is_refused(tmp_path, monkeypatch, capsys, content, problem):
    """A damaged config.json stops search and report with the fix; nothing changes."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    (directory / "config.json").write_text(content)
    before = _snapshot(directory)
    with pytest.raises(RunDirectoryError) as error:
        scripted_search(directory)
    _assert_names(str(error.value), problem, "overwrite=True")
    assert _snapshot(directory) == before
    # Reading the run for a report (Python and CLI) stops the same way.
    with pytest.raises(RunDirectoryError) as error:
        kgan_nas.SearchResult(str(directory))
    _assert_names(str(error.value), problem, "overwrite=True")
    capsys.readouterr()
    assert cli.main(["report", str(directory)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not even a partial summary table
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    _assert_names(lines[0], problem, "overwrite=True")
    assert _snapshot(directory) == before  # no report/ folder, no report.html


def test_damaged_history_lines_are_skipped_with_a_warning(tmp_path, monkeypatch):
    """A garbage line and a truncated last line are reported by line number and
    skipped; the search resumes, and every existing byte of the history is kept."""
    directory = finished_scripted_run(monkeypatch, tmp_path)
    history = directory / "history.jsonl"
    lines = history.read_text().splitlines()
    assert len(lines) == 4
    damaged = "\n".join(
        [
            lines[0],
            "not json at all",
            lines[1],
            json.dumps({"key": "x"}),
            lines[2],
            lines[3][: len(lines[3]) // 2],
        ]
    )
    history.write_text(damaged)
    skip_worker_files(monkeypatch, tmp_path)
    with pytest.warns(UserWarning) as warnings_seen:
        result = scripted_search(directory, generations=2)
    messages = " ".join(str(w.message) for w in warnings_seen)
    for number in (2, 4, 6):
        assert f"damaged line {number} of" in messages
    assert "cut short by a kill" in messages
    assert history.read_text().startswith(damaged)  # appended to, never rewritten
    # 3 intact records of generation 1 + 4 new ones of generation 2; the truncated
    # candidate of the finished generation 1 is not re-run.
    assert [r["generation"] for r in result.history] == [1, 1, 1, 2, 2, 2, 2]


# ----------------------------------------------------------------------------
# CLI: one line on stderr, exit code 2, never a traceback
# ----------------------------------------------------------------------------


def _write_npz(tmp_path, images):
    path = tmp_path / "images.npz"
    np.savez(path, x=images)
    return str(path)


# (id, argv(tmp_path, run directory), words naming the problem, words naming the fix)
CLI_CASES = [
    (
        "unknown dataset name",
        lambda tmp, run: ["search", "--dataset", "mnsit", "--directory", str(tmp / "new")],
        "Unknown dataset name 'mnsit'",
        "Did you mean 'mnist'",
    ),
    (
        "folder with no images",
        lambda tmp, run: [
            "search",
            "--dataset",
            _empty_folder(tmp),
            "--directory",
            str(tmp / "new"),
        ],
        "No PNG/JPEG images found",
        "Pass the folder",
    ),
    (
        "0-255 floats in a .npz",
        lambda tmp, run: [
            "search",
            "--dataset",
            _write_npz(tmp, (_IMAGES + 1) * 127.5),
            "--directory",
            str(tmp / "new"),
        ],
        "looks like 0-255 data",
        "x / 127.5 - 1",
    ),
    (
        "NaN pixels in a .npz",
        lambda tmp, run: [
            "search",
            "--dataset",
            _write_npz(tmp, _WITH_NAN),
            "--directory",
            str(tmp / "new"),
        ],
        "NaN or infinite",
        "np.nan_to_num",
    ),
    (
        "fewer images than two batches",
        lambda tmp, run: [
            "search",
            "--dataset",
            _write_npz(tmp, _IMAGES[:20]),
            "--batch-size",
            "16",
            "--directory",
            str(tmp / "new"),
        ],
        "Too few images",
        "lower the batch size",
    ),
    (
        "population of one",
        lambda tmp, run: ["search", "--population", "1", "--directory", str(tmp / "new")],
        "got 1",
        "population must be at least 2",
    ),
    (
        "directory that is a file",
        lambda tmp, run: ["search", "--directory", str(run / "config.json")],
        "is a file",
        "Pass a directory path",
    ),
    (
        "existing run with another config",
        lambda tmp, run: ["search", "--dataset", "digits", "--directory", str(run)],
        "different configuration",
        "overwrite",
    ),
    (
        "resume with a corrupted checkpoint",
        lambda tmp, run: (run.joinpath("checkpoint.json").write_text("{"), ["resume", str(run)])[1],
        "checkpoint.json is corrupted",
        "Delete checkpoint.json",
    ),
    (
        "report with a corrupted config",
        lambda tmp, run: (run.joinpath("config.json").write_text("[]"), ["report", str(run)])[1],
        "config.json is corrupted",
        "overwrite=True",
    ),
    (
        "report with a config missing its settings",
        lambda tmp, run: (
            run.joinpath("config.json").write_text('{"format": 1}'),
            ["report", str(run)],
        )[1],
        "no 'search' settings",
        "overwrite=True",
    ),
    (
        "weight-inheritance flag with random search",
        lambda tmp, run: [
            "search",
            "--strategy",
            "random",
            "--no-inherit-weights",
            "--directory",
            str(tmp / "other"),
        ],
        "--no-inherit-weights applies to --strategy genetic only",
        "never inherits",
    ),
    (
        "supernet steps without the gradient-based search",
        lambda tmp, run: [
            "search",
            "--strategy",
            "pso",
            "--supernet-steps",
            "100",
            "--directory",
            str(tmp / "other"),
        ],
        "--supernet-steps applies to --strategy differentiable only",
        "add --strategy differentiable",
    ),
    (
        "sample from a folder that does not exist",
        lambda tmp, run: ["sample", str(tmp / "nothing")],
        "does not exist",
        "Pass the directory a search wrote to",
    ),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[case[0] for case in CLI_CASES])
def test_cli_bad_input_prints_one_error_line(case, tmp_path, monkeypatch, capsys):
    """The CLI answers a mistake with exit code 2 and one `error:` line naming problem
    and fix; no traceback, no training, and the existing run is left as it was
    (apart from the file the case itself damaged)."""
    _, make_argv, problem, fix = case
    run = finished_scripted_run(monkeypatch, tmp_path)
    argv = make_argv(tmp_path, run)
    # Every file of the test, the existing run and the data the case wrote included:
    # a new run directory or a written cache would show up here.
    before = _snapshot(tmp_path)
    assert "run/history.jsonl" in before
    capsys.readouterr()
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kgan-nas {argv[0]}: error: "), captured.err
    assert lines[0].endswith("(add --debug for the traceback)")
    assert "Traceback" not in captured.err + captured.out
    _assert_names(lines[0], problem, fix)
    assert _snapshot(tmp_path) == before
    for new_directory in ("new", "other"):
        assert not (tmp_path / new_directory).exists()


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["search", "--generations", "0"], "argument --generations: expected a positive integer"),
        (["search", "--steps-per-candidate", "-3"], "expected a positive integer, got -3"),
        (["search", "--timeout", "0"], "argument --timeout: expected a positive number"),
        (["search", "--metric", "fid_clip"], "invalid choice: 'fid_clip'"),
    ],
)
def test_cli_rejects_bad_budgets_while_parsing(argv, problem, tmp_path, monkeypatch, capsys):
    """Zero or negative budgets stop in the argument parser: exit 2 and one
    `error:` line naming the argument and `--help`; no traceback, `kgan_nas.search` is never
    called, and the default run directory (relative to the working directory) is
    not created."""
    forbid_training(monkeypatch)

    def search_not_expected(*args, **kwargs):
        raise TrainingStarted("the parser let the bad budget through to kgan_nas.search")

    monkeypatch.setattr(search_api, "search", search_not_expected)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("kgan-nas search: error: ") and len(err.strip().splitlines()) == 1
    assert problem in err and "kgan-nas search --help" in err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_cli_unwritable_directory_is_one_line(tmp_path, monkeypatch, capsys):
    """An OS refusal to write becomes one error line, not an OSError traceback."""
    import kgan_nas.store.atomic

    forbid_training(monkeypatch)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(kgan_nas.store.atomic, "_create_temporary", refuse)
    assert cli.main(["search", "--directory", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Cannot use the run directory" in err
    assert err.startswith("kgan-nas search: error: ") and "Traceback" not in err
    assert _snapshot(tmp_path) == {}  # no file written anywhere
