"""The example scripts answer --help and fail clearly offline."""

import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
SCRIPTS = sorted(name for name in os.listdir(EXAMPLES)
                 if name.endswith(".py") and not name.startswith("_"))


def _run(*args, **env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          cwd=EXAMPLES, timeout=300, env=dict(os.environ, **env))


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_answers_help(script):
    """Each example prints its usage for --help and exits 0."""
    result = _run(script, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


def test_generate_images_from_a_run(tmp_path):
    """generate_images.py writes a PNG from a run directory's best generator."""
    import numpy as np

    import kgan_nas

    directory = tmp_path / "run"
    kgan_nas.search("digits", space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8,
                                                         max_params=60_000),
                    generations=1, population=2, steps_per_candidate=5, batch_size=16,
                    num_samples=50, executor="inprocess", directory=str(directory),
                    verbose=0, seed=1)
    out = tmp_path / "grid.png"
    result = _run("generate_images.py", str(directory), "--n", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    assert np.asarray(Image.open(out)).size > 0
