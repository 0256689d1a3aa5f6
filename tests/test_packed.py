"""Packed training (`kgan_nas.training.packed`): K same-shape GANs as one vmapped JAX program.

Most tests need the JAX backend: they are marked `backend`, so the main
(TensorFlow) session skips them and `tests/test_backends.py` runs them in
its JAX child session. What must hold on TensorFlow (packing refused there)
runs in the main session; the final stage on TensorFlow trains one by one
under the default `pack_seeds="auto"`, which tests/test_final.py runs.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas import data
from kgan_nas import training
from kgan_nas.training import packed

pytestmark = pytest.mark.keras

ON_JAX = keras.backend.backend() == "jax"
on_jax = pytest.mark.skipif(not ON_JAX, reason="packed training runs on JAX (the JAX re-run)")

STEPS = 20
# Packing reorders floating-point sums (batched instead of single products):
# after 20 steps the members' values agree with training alone to ~1e-7
# (measured); this bound leaves room for other CPUs' kernels.
TOLERANCE = 2e-5


def _images(seed=0, count=64):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 8, 8, 1)).astype("float32")


def _gan(
    seed,
    *,
    lr=2e-4,
    beta_1=0.5,
    beta_2=0.999,
    r1=0.5,
    ema=0.99,
    loss="non_saturating",
    width=16,
    activation="relu",
):
    """A small dense GAN with dropout, DiffAugment, R1 and EMA: every kind of per-member state."""
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(width, activation=activation),
            layers.Dense(64, activation="tanh"),
            layers.Reshape((8, 8, 1)),
        ]
    )
    discriminator = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Flatten(),
            layers.Dense(width),
            layers.LeakyReLU(0.2),
            layers.Dropout(0.3),
            layers.Dense(1),
        ]
    )
    gan = training.GAN(
        generator, discriminator, seed=seed, ema_decay=ema, r1_weight=r1, augment="translation"
    )
    gan.compile(
        g_optimizer=training.make_optimizer("adam", lr, beta_1=beta_1, beta_2=beta_2),
        d_optimizer=training.make_optimizer("adam", 2 * lr, beta_1=beta_1, beta_2=beta_2),
        loss=loss,
    )
    return gan


def _values(gan):
    """Everything a member's training changes: weights, EMA, optimizer and noise state."""
    variables = list(gan.variables) + list(gan.optimizer.variables)
    return [np.asarray(v.value) for v in variables]


def _inputs(settings, images):
    return [data.train_input(images, 16, seed=s["seed"]) for s in settings]


# Members that differ in everything a pack lets them: initial weights, noise,
# data order, learning rates, Adam's betas, R1 weight and EMA decay.
MEMBERS = [
    dict(seed=1, lr=2e-4, beta_1=0.5, beta_2=0.999, r1=0.5, ema=0.99),
    dict(seed=2, lr=1e-3, beta_1=0.9, beta_2=0.99, r1=2.0, ema=0.9),
    dict(seed=3, lr=5e-4, beta_1=0.0, beta_2=0.9, r1=1.0, ema=0.95),
]


@pytest.mark.backend
@on_jax
def test_a_packed_member_trains_like_the_same_member_alone():
    images = _images()
    alone = []
    for member in MEMBERS:
        gan = _gan(**member)
        report = training.train_for_budget(gan, _inputs([member], images)[0], steps=STEPS)
        alone.append((_values(gan), report))
    gans = [_gan(**member) for member in MEMBERS]
    reports = packed.train_packed(gans, _inputs(MEMBERS, images), steps=STEPS)
    for (values, report), gan, packed_report in zip(alone, gans, reports):
        assert (packed_report.status, packed_report.reason) == ("ok", "")
        assert packed_report.steps == STEPS
        assert packed_report.curve.keys() == report.curve.keys()
        for name, points in report.curve.items():
            assert packed_report.curve[name] == pytest.approx(points, rel=1e-4)
        for name, value in report.logs.items():
            assert packed_report.logs[name] == pytest.approx(value, rel=1e-4)
        for expected, got in zip(values, _values(gan)):
            np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    # The members really differ, so the match is not one trajectory twice.
    first, second = (_values(gan) for gan in gans[:2])
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(first, second)) > 1e-2


@pytest.mark.backend
@on_jax
def test_a_member_that_goes_nan_fails_alone_and_the_others_go_on():
    images = _images()
    broken = np.full_like(images, np.nan)
    steps = 5
    healthy = _gan(**MEMBERS[0])
    training.train_for_budget(healthy, _inputs(MEMBERS[:1], images)[0], steps=steps)
    gans = [_gan(**member) for member in MEMBERS[:2]]
    inputs = [_inputs(MEMBERS, images)[0], data.train_input(broken, 16, seed=2)]
    reports = packed.train_packed(gans, inputs, steps=steps)
    assert (reports[0].status, reports[0].steps, reports[0].reason) == ("ok", steps, "")
    assert (reports[1].status, reports[1].steps) == ("nan", 1)
    assert reports[1].reason.startswith("non-finite") and reports[1].reason.endswith("at step 1")
    for expected, got in zip(_values(healthy), _values(gans[0])):
        np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    # The failed member was frozen after its failing step: its step count stayed at 1.
    assert int(gans[1].optimizer.iterations.value) == 1


@pytest.mark.backend
@on_jax
def test_divergence_and_a_short_input_end_members_as_they_end_one_alone():
    images = _images()
    # Every loss is above a threshold of 1e-6: each member diverges at step 1.
    gans = [_gan(**member) for member in MEMBERS[:2]]
    reports = packed.train_packed(
        gans, _inputs(MEMBERS[:2], images), steps=3, divergence_threshold=1e-6
    )
    alone = _gan(**MEMBERS[0])
    single = training.train_for_budget(
        alone, _inputs(MEMBERS[:1], images)[0], steps=3, divergence_threshold=1e-6
    )
    assert [(r.status, r.steps) for r in reports] == [("diverged", 1)] * 2
    assert reports[0].reason == single.reason
    # A finite input ends the pack where it runs out, as fit stops there.
    gans = [_gan(**member) for member in MEMBERS[:2]]
    finite = [[images[:16]] * 3, [images[16:32]] * 3]
    reports = packed.train_packed(gans, finite, steps=5)
    assert [(r.status, r.steps, r.reason) for r in reports] == [
        ("ok", 3, "input ran out after 3 steps")
    ] * 2
    assert int(gans[0].optimizer.iterations.value) == 3


@pytest.mark.backend
@on_jax
def test_a_packed_member_saves_and_loads_like_any_model(tmp_path):
    gans = [_gan(**member) for member in MEMBERS[:2]]
    packed.train_packed(gans, _inputs(MEMBERS[:2], _images()), steps=3)
    averaged = gans[1].ema_generator()
    path = str(tmp_path / "generator.keras")
    averaged.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    z = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(z)), np.asarray(averaged(z)), atol=1e-6, rtol=0)


@pytest.mark.backend
@on_jax
@pytest.mark.parametrize(
    "change, named",
    [
        (dict(width=8), "generator weights"),
        (dict(activation="tanh"), "generator layers"),
        (dict(loss="hinge"), "loss"),
        (dict(r1=0.0), "whether R1 is on"),
        (dict(ema=None), "whether EMA is on"),
    ],
)
def test_members_that_differ_in_their_program_are_refused_by_name(change, named):
    gans = [_gan(**MEMBERS[0]), _gan(**dict(MEMBERS[1], **change))]
    assert packed.pack_problem(gans) == f"GAN 1 differs from GAN 0 in {named}"
    with pytest.raises(ValueError, match=f"Cannot pack these GANs: GAN 1 differs .*{named}"):
        packed.train_packed(gans, _inputs(MEMBERS[:2], _images()), steps=2)


@pytest.mark.backend
@on_jax
def test_bad_pack_arguments_name_the_problem():
    import jax

    # "auto" packs with an accelerator only: on a CPU the packed convolutions are slower.
    assert packed.packing_pays() == (jax.default_backend() != "cpu")
    gans = [_gan(**member) for member in MEMBERS[:2]]
    with pytest.raises(ValueError, match="Give one input per GAN: got 1 for 2 GANs"):
        packed.train_packed(gans, _inputs(MEMBERS[:1], _images()), steps=2)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        packed.train_packed(gans, _inputs(MEMBERS[:2], _images()), steps=0)
    assert packed.pack_problem([gans[0], gans[0]]).startswith("two members share a GAN")
    uncompiled = training.GAN(gans[0].generator, gans[0].discriminator)
    assert packed.pack_problem([uncompiled]) == "GAN 0 is not compiled (call compile(...) first)"


@pytest.mark.skipif(ON_JAX, reason="checks the refusal on TensorFlow")
def test_packing_is_refused_on_tensorflow_with_the_backend_named():
    assert not packed.packing_pays()
    gans = [_gan(**member) for member in MEMBERS[:2]]
    problem = packed.pack_problem(gans)
    assert problem == "packed training needs the JAX backend, not 'tensorflow'"
    with pytest.raises(ValueError, match="Train them one by one instead"):
        packed.train_packed(gans, _inputs(MEMBERS[:2], _images()), steps=2)


@pytest.mark.backend
@pytest.mark.slow
@on_jax
def test_the_final_stage_packs_a_genome_s_seeds_on_jax_with_the_same_scores(
    tmp_path, cache_dir, capsys
):
    """Two seeds of one finalist train as one pack; unpacked, the same jobs score the same."""
    # pack_seeds=True: "auto" packs only with an accelerator, and this runs on a CPU.
    final = {"top_k": 1, "seeds": 2, "steps": 5, "pack_seeds": True}
    directory = tmp_path / "run"
    result = tiny_real_search(
        directory,
        population=2,
        final=final,
        options=kgan_nas.SearchOptions(holdout_fraction=0.15, zoo=False),
        jit_compile=True,
        verbose=1,
    )
    assert "together (5 steps, packed)..." in capsys.readouterr().out
    jobs = sorted(j for j in os.listdir(directory / "final") if j.endswith(("seed0", "seed1")))
    records = [_read(directory / "final" / job / "record.json") for job in jobs]
    assert [r["packed"] for r in records] == [2, 2]
    assert [r["status"] for r in records] == ["ok", "ok"]
    unpacked_dir = tmp_path / "unpacked"
    shutil.copytree(directory, unpacked_dir)
    for job in jobs:
        shutil.rmtree(unpacked_dir / "final" / job)
    unpacked = kgan_nas.finalize(str(unpacked_dir), pack_seeds=False, verbose=0)
    again = [_read(unpacked_dir / "final" / job / "record.json") for job in jobs]
    assert all("packed" not in r for r in again)
    for packed_record, alone in zip(records, again):
        assert packed_record["training_seed"] == alone["training_seed"]
        assert packed_record["fid"] == pytest.approx(alone["fid"], rel=1e-3)
    assert unpacked.final_summary()["chosen"]["key"] == result.final_summary()["chosen"]["key"]


def _read(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)
