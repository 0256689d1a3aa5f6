"""Weight sharing with a short fine-tune: a path copied into its genome, trained briefly."""

import dataclasses
import json

import numpy as np
import pytest

import kgan_nas
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.strategies import DifferentiableSearch
from tests.tiny_runs import TINY_SPACE
from tests.tiny_runs import captured_search_arguments

# Two slots per network (16 = 4 x 2 x 2), so a path's choices differ by slot.
SPACE_16 = kgan_nas.SearchSpace(
    image_shape=(16, 16, 1), latent_dim=8, max_params=60_000, max_start_size=4
)


def _perturbed_supernet(space, seed):
    """A supernet whose weights and batch-norm statistics are all away from their initial values."""
    from kgan_nas.supernet import network

    generator, discriminator = network.build_supernet(space, sample_paths=True, seed=seed)
    rng = np.random.default_rng(seed)
    for model in (generator, discriminator):
        for layer in model.layers:
            if layer.weights and not isinstance(layer, network.ArchitectureMix):
                weights = layer.get_weights()
                layer.set_weights(
                    [w + rng.normal(0.0, 0.1, w.shape).astype(w.dtype) ** 2 for w in weights]
                )
    return generator, discriminator


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize(
    "space",
    [TINY_SPACE, SPACE_16, SPACE_16.with_recipe()],
    ids=["one_slot", "two_slots", "residual_and_spectral"],
)
def test_a_copied_path_computes_what_the_supernet_computes_on_that_path(space):
    from kgan_nas.evaluation import decode
    from kgan_nas.supernet import network
    from kgan_nas.supernet.search import random_paths

    supernet_g, supernet_d = _perturbed_supernet(space, seed=3)
    latents = np.random.default_rng(0).standard_normal((4, space.latent_dim)).astype("float32")
    images = np.random.default_rng(1).uniform(-1, 1, (4, *space.image_shape)).astype("float32")
    paths = random_paths(space, TrainingGenes(), 6, seed=5)
    assert len({tuple(p["generator"]) for p in paths}) == len(paths) > 1
    for path in paths:
        generator, discriminator = decode.build_models(path["genome"], space)
        network.copy_path(supernet_g, path["generator"], generator)
        network.copy_path(supernet_d, path["discriminator"], discriminator)
        network.select_path(supernet_g, "g_slot", path["generator"])
        network.select_path(supernet_d, "d_slot", path["discriminator"])
        # Inference mode: the batch-norm statistics came along with the weights.
        np.testing.assert_allclose(
            np.asarray(generator(latents, training=False)),
            np.asarray(supernet_g(latents, training=False)),
            rtol=1e-4,
            atol=1e-5,
        )
        np.testing.assert_allclose(
            np.asarray(discriminator(images, training=False)),
            np.asarray(supernet_d(images, training=False)),
            rtol=1e-4,
            atol=1e-4,
        )


@pytest.mark.keras
def test_copying_a_path_into_another_network_is_refused():
    from kgan_nas.core import supernet_slots
    from kgan_nas.evaluation import decode
    from kgan_nas.supernet import network
    from kgan_nas.supernet.search import random_paths

    assert supernet_slots.slot_count(SPACE_16) == 2
    supernet_g, _ = network.build_supernet(SPACE_16)
    path = random_paths(SPACE_16, TrainingGenes(), 1, seed=0)[0]
    generator, discriminator = decode.build_models(path["genome"], SPACE_16)
    with pytest.raises(ValueError, match="is not the path"):
        network.copy_path(supernet_g, path["generator"], discriminator)
    with pytest.raises(ValueError, match="1 choices for 2 slots"):
        network.copy_path(supernet_g, path["generator"][:1], generator)


@pytest.mark.keras
@pytest.mark.backend
def test_fine_tuned_paths_are_ranked_by_their_fine_tuned_scores(monkeypatch):
    from kgan_nas import data as data_lib
    from kgan_nas import training
    from kgan_nas.supernet.search import train_supernet

    images = data_lib.load_dataset("digits", seed=0).train[:256]
    trained, supernets = [], []
    real_train = training.train_for_budget

    def train_for_budget(gan, inputs, *, steps, **kwargs):
        trained.append(steps)
        if len(trained) == 1:
            supernets.append(gan)
        else:  # a fine-tune starts from the supernet's output layer, not a fresh one
            supernet_kernel = supernets[0].generator.get_layer("image").kernel.value
            np.testing.assert_array_equal(
                np.asarray(gan.generator.get_layer("image").kernel.value),
                np.asarray(supernet_kernel),
            )
        report = real_train(gan, inputs, steps=steps, **kwargs)
        # The third fine-tune diverges: recorded, and the others go on.
        if len(trained) == 4:
            return dataclasses.replace(report, status="diverged", reason="loss 1e5")
        return report

    monkeypatch.setattr(training, "train_for_budget", train_for_budget)

    def score(generator):
        # Depends on the trained weights, so the fine-tune changes it.
        return float(np.abs(np.asarray(generator.get_layer("image").kernel.value)).mean())

    result = train_supernet(
        TINY_SPACE,
        images,
        steps=3,
        batch_size=16,
        seed=0,
        jit_compile=False,
        top=2,
        score=score,
        single_path=True,
        path_samples=4,
        path_finetune_steps=2,
    )
    assert result["status"] == "ok" and result["path_finetune_steps"] == 2
    assert trained == [3, 2, 2, 2, 2]  # the supernet, then one fine-tune per path
    rows = result["path_scores"]
    assert len(rows) == 4 and all(row["shared_fid"] is not None for row in rows)
    failed = [row for row in rows if row["fid"] is None]
    assert len(failed) == 1 and failed[0]["reason"] == "fine-tune diverged: loss 1e5"
    finite = [row for row in rows if row["fid"] is not None]
    assert any(row["fid"] != row["shared_fid"] for row in finite)
    assert [r["fid"] for r in result["subnet_scores"]] == sorted(r["fid"] for r in finite)[:2]
    assert all(row["seconds"] >= 0 for row in rows)
    json.dumps(result, allow_nan=False)


def test_without_a_score_there_is_nothing_to_fine_tune_for(monkeypatch):
    from kgan_nas.supernet import search as supernet_search

    called = []
    ranked = supernet_search.ranked_paths(
        TINY_SPACE, None, TrainingGenes(), 3, 2, 0, None, finetune=called.append
    )
    assert not called and len(ranked["derived"]) == 2


def test_the_strategy_checks_and_records_its_fine_tune():
    strategy = DifferentiableSearch(
        TINY_SPACE, supernet_training="single_path", path_finetune_steps=50
    )
    assert strategy.get_config()["path_finetune_steps"] == 50
    assert DifferentiableSearch(TINY_SPACE).get_config()["path_finetune_steps"] is None
    with pytest.raises(ValueError, match="supernet_training='single_path'"):
        DifferentiableSearch(TINY_SPACE, path_finetune_steps=50)
    with pytest.raises(ValueError, match="path_finetune_steps"):
        DifferentiableSearch(TINY_SPACE, supernet_training="single_path", path_finetune_steps=0)
    # A run stored before the option existed resumes without a fine-tune...
    state = json.loads(json.dumps(DifferentiableSearch(TINY_SPACE, seed=1).state_dict()))
    del state["config"]["path_finetune_steps"]
    DifferentiableSearch(TINY_SPACE, seed=1).load_state_dict(state)
    # ...and is refused by a fine-tuning strategy (it never fine-tuned).
    single = DifferentiableSearch(TINY_SPACE, seed=1, supernet_training="single_path")
    old_single = json.loads(json.dumps(single.state_dict()))
    del old_single["config"]["path_finetune_steps"]
    finetuning = DifferentiableSearch(
        TINY_SPACE, seed=1, supernet_training="single_path", path_finetune_steps=60
    )
    with pytest.raises(ValueError, match="path_finetune_steps"):
        finetuning.load_state_dict(old_single)


def test_the_search_and_the_command_line_hand_the_fine_tune_on(tmp_path, monkeypatch):
    from tiny_runs import skip_worker_files
    from tiny_runs import supernet_search_arguments

    from kgan_nas.cli import commands as cli

    skip_worker_files(monkeypatch, tmp_path)
    options = {"supernet_training": "single_path", "path_finetune_steps": 7}
    asked, _, _ = supernet_search_arguments(tmp_path / "run", monkeypatch, options)
    assert asked["path_finetune_steps"] == 7
    assert isinstance(asked["finetune_jit_compile"], bool)

    seen = captured_search_arguments(monkeypatch)
    argv = ["search", "--strategy", "differentiable", "--supernet-training", "single_path"]
    assert cli.main(argv + ["--path-finetune-steps", "7", "--quiet"]) != 0
    assert seen["options"].strategy_options == options
    seen.clear()
    assert cli.main(["search", "--path-finetune-steps", "7", "--quiet"]) != 0
    assert not seen  # refused before any search


def test_the_check_reads_fine_tuned_and_shared_path_scores_apart():
    from kgan_nas.results.supernet_check import check_line
    from kgan_nas.results.supernet_check import supernet_check

    # Fine-tuned scores rank like training alone; the shared weights' reverse it.
    rows = [
        {"key": key, "fid": fid, "shared_fid": shared, "exact": True}
        for key, fid, shared in (("a", 1.0, 9.0), ("b", 2.0, 5.0), ("c", 3.0, 1.0))
    ]
    history = [
        {"key": key, "status": "ok", "fitness": {"fid": fid}}
        for key, fid in (("a", 10.0), ("b", 20.0), ("c", 30.0))
    ]
    check = supernet_check({"subnet_scores": rows, "path_scores": rows}, history)
    assert check["spearman"] == pytest.approx(1.0)
    assert check["shared_spearman"] == pytest.approx(-1.0)
    assert [row["shared_path_fid"] for row in check["rows"]] == [9.0, 5.0, 1.0]
    assert "fine-tuned before its score (shared weights alone: -1.000)" in check_line(check)
    plain = supernet_check({"subnet_scores": [{k: v for k, v in r.items() if k != "shared_fid"}
                                               for r in rows]}, history)  # fmt: skip
    assert "shared_spearman" not in plain and "fine-tuned" not in check_line(plain)
