"""The Ray executor on a local Ray instance (skipped only when Ray is absent)."""

import os

import pytest

ray = pytest.importorskip("ray")

import scripted_evaluators as scripted  # noqa: E402
from test_executors import SPACE  # noqa: E402
from test_executors import _genomes  # noqa: E402
from test_executors import check_parents_reach_the_evaluator  # noqa: E402
from tiny_runs import scripted_spec  # noqa: E402
from tiny_runs import tiny_real_search  # noqa: E402

from kgan_nas.executors.ray import RayExecutor  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray instance for the module; workers can import the test helpers."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": TESTS_DIR, "TF_CPP_MIN_LOG_LEVEL": "2"}},
    )
    yield
    ray.shutdown()


def test_ray_records_faults_and_finishes_the_rest(local_ray):
    """On Ray too: raise, NaN, self-kill and hang are recorded; ok candidates score."""
    rates = [scripted.OK, scripted.RAISE, scripted.NAN, scripted.KILL, scripted.HANG]
    genomes = _genomes(rates)
    executor = RayExecutor(scripted_spec("fault", SPACE), workers=2, timeout=15, max_retries=0)
    results = dict(executor.run(genomes))
    executor.close()
    assert [results[i].status for i in range(5)] == ["ok", "error", "nan", "crashed", "timeout"]
    assert results[0].fid == pytest.approx(scripted.synthetic_fid(genomes[0], SPACE))


def test_ray_ships_the_parent_models(local_ray, tmp_path):
    """Weight inheritance on Ray: the parent's models travel from the driver with the task."""
    check_parents_reach_the_evaluator(lambda spec: RayExecutor(spec, workers=1), tmp_path)


@pytest.mark.keras
@pytest.mark.slow
def test_tiny_real_search_on_ray(local_ray, tmp_path):
    """A real (tiny) search with executor='ray' trains, scores and saves the best model."""
    import kgan_nas

    result = tiny_real_search(
        tmp_path / "run",
        space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=40_000),
        population=2,
        executor="ray",
        workers=2,
        jit_compile="auto",
    )
    assert len(result.history) == 2
    assert any(r["status"] == "ok" for r in result.history), [r["reason"] for r in result.history]
    assert (tmp_path / "run" / "best" / "generator.keras").is_file()
    assert result.best_generator().output_shape == (None, 8, 8, 1)
