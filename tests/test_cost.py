"""The MAC cost model (`kgan_nas.core.cost`): hand counts, invariants, and XLA's own count."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas.core import cost
from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import ConditioningGenes
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.shapes import Step
from kgan_nas.core.space import SearchSpace

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")

# A small space and genome whose every MAC is counted by hand below.
SMALL = SearchSpace(
    image_shape=(8, 8, 1),
    latent_dim=16,
    filters=(8, 16),
    units=(32,),
    kernel_sizes=(3,),
    activations=("relu", "elu"),
    discriminator_normalizations=("none", "spectral"),
    losses=("non_saturating", "wasserstein_gp"),
    r1_weights=(0.0, 1.0),
    d_steps=(1, 2),
    augment_policies=("none", "translation"),
)
SMALL_GENOME = Genome(
    generator=(
        LayerGene("dense", size=32, activation="relu"),
        LayerGene("upsample_conv2d", size=8, kernel=3, activation="relu"),
    ),
    discriminator=(
        LayerGene("conv2d", size=8, kernel=3, stride=2, activation="relu"),
        LayerGene("dense", size=32, activation="relu"),
    ),
)
# Generator: z(16) -> dense 32: 16 * 32; project 32 -> (4, 4, 8): 32 * 128;
# 2x upsampling then a 3x3 "same" conv 8 -> 8 on 8x8: 22 of the 24
# (output, tap) pairs per axis read a real pixel, so 22 * 22 * 8 * 8; the
# output conv 8 -> 1 likewise 22 * 22 * 8.
SMALL_G = 16 * 32 + 32 * 128 + 22 * 22 * 8 * 8 + 22 * 22 * 8
# Discriminator: stride-2 3x3 conv 1 -> 8 on 8x8 -> 4x4: 11 pairs per axis
# (the last output's last tap falls in the padding); dense 128 -> 32; logit.
SMALL_D = 11 * 11 * 8 + 128 * 32 + 32


def test_the_small_genome_counts_by_hand():
    assert SMALL.problems(SMALL_GENOME) == []
    assert cost.generator_macs(SMALL_GENOME, SMALL) == SMALL_G == 39456
    assert cost.discriminator_macs(SMALL_GENOME, SMALL) == SMALL_D == 5096


def test_a_dense_layer_costs_inputs_times_units():
    """Dense(64 -> 128) is 8192 MACs: XLA's 2 * 64 * 128 FLOPs halved (bias not counted)."""
    step = Step("gene", LayerGene("dense", size=128), (64,), (128,), 64 * 128 + 128)
    assert cost.plan_macs([step]) == [8192]


@pytest.mark.parametrize(
    "size, kernel, stride, pairs",
    [
        # Measured with XLA's cost analysis of keras Conv2D (JAX backend).
        (7, 3, 1, 19),
        (7, 5, 1, 29),
        (7, 5, 2, 16),
        (8, 3, 2, 11),
        (8, 1, 1, 8),
        (4, 3, 1, 10),
    ],
)
def test_same_convolutions_skip_the_padding_taps(size, kernel, stride, pairs):
    assert cost.axis_taps(size, kernel, stride) == pairs
    assert cost.conv_macs((size, size, 16), 32, kernel, stride) == pairs * pairs * 16 * 32


@pytest.mark.parametrize(
    "size, kernel, stride, pairs",
    # 7 -> 14 with a 5x5 kernel: 32 per axis, as XLA counts Conv2DTranspose.
    [(7, 5, 2, 32), (4, 3, 2, 11), (7, 3, 1, 19), (4, 4, 2, 14), (3, 1, 2, 3)],
)
def test_transposed_convolutions_skip_the_taps_outside_the_output(size, kernel, stride, pairs):
    assert cost.axis_transposed_taps(size, kernel, stride) == pairs
    assert cost.transposed_conv_macs((size, size, 16), 32, kernel, stride) == (
        pairs * pairs * 16 * 32
    )


def test_residual_blocks_count_both_convolutions_and_the_shortcut():
    up = LayerGene("residual_up", size=16, kernel=3, activation="relu", norm="batch")
    # (4, 4, 8) -> (8, 8, 16): conv1 on the upsampled 8x8x8, conv2 16 -> 16, 1x1 shortcut.
    step = Step("gene", up, (4, 4, 8), (8, 8, 16), 0)
    assert [op.macs for op in cost.step_ops(step)] == [
        22 * 22 * 8 * 16,
        22 * 22 * 16 * 16,
        8 * 8 * 8 * 16,
    ]
    down = LayerGene("residual_down", size=16, kernel=3, activation="relu")
    # (7, 7, 4) -> (4, 4, 16): both convolutions at 7x7 (19 pairs per axis), pooled after.
    step = Step("gene", down, (7, 7, 4), (4, 4, 16), 0)
    assert cost.plan_macs([step]) == [19 * 19 * 4 * 16 + 19 * 19 * 16 * 16 + 7 * 7 * 4 * 16]


def test_transposed_and_upsampling_generator_layers():
    tconv = LayerGene("conv2d_transpose", size=32, kernel=5, stride=2)
    up = LayerGene("upsample_conv2d", size=32, kernel=5)
    assert cost.plan_macs([Step("gene", tconv, (7, 7, 16), (14, 14, 32), 0)]) == [32 * 32 * 16 * 32]
    # Upsampling first, then a 5x5 "same" conv on 14x14: 14 * 5 - 6 = 64 pairs per axis.
    assert cost.plan_macs([Step("gene", up, (7, 7, 16), (14, 14, 32), 0)]) == [64 * 64 * 16 * 32]


def test_weightless_layers_cost_nothing_but_widen_what_follows():
    recipe = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, filters=(8,), kernel_sizes=(3,))
    recipe = recipe.with_recipe()
    conv = LayerGene("conv2d", size=8, kernel=3, stride=2, activation="relu")
    plain = SMALL_GENOME.replace(discriminator=(conv,))
    stacked = SMALL_GENOME.replace(
        discriminator=(LayerGene("minibatch_std"), conv, LayerGene("dropout", rate=0.25))
    )
    steps = recipe.discriminator_plan(stacked)
    assert cost.plan_macs(steps)[0] == 0  # minibatch_std
    assert cost.plan_macs(steps)[2] == 0  # dropout
    # The extra channel doubles the first convolution's input.
    assert cost.discriminator_macs(stacked, recipe) - cost.discriminator_macs(plain, recipe) == (
        11 * 11 * 8
    )


def test_conditioning_costs_its_products_not_its_embeddings():
    space = SearchSpace(
        image_shape=(8, 8, 1),
        latent_dim=16,
        filters=(8, 16),
        units=(32,),
        kernel_sizes=(3,),
        num_classes=10,
    )
    concat = SMALL_GENOME.replace(conditioning=ConditioningGenes("concat", "projection", 8))
    # The dense layer reads the latent and the 8-wide label embedding.
    assert cost.generator_macs(concat, space) == SMALL_G + 8 * 32
    # The projection term: one dot product with the 32 last features.
    assert cost.discriminator_macs(concat, space) == SMALL_D + 32
    # In the discriminator's update, the projection term reads the images'
    # features as the logit does: with nothing trained before them (dropout
    # only), neither needs an input gradient; the generator's update does.
    dropout = Genome(
        SMALL_GENOME.generator,
        (LayerGene("dropout", rate=0.25),),
        conditioning=ConditioningGenes("multiply", "projection", 0),
    )
    assert cost.discriminator_macs(dropout, space) == 64 + 64
    assert cost.train_step_cost(dropout, space).discriminator == 2 * (2 * 128) + 2 * 128
    channel = SMALL_GENOME.replace(conditioning=ConditioningGenes("multiply", "concat", 0))
    assert cost.generator_macs(channel, space) == SMALL_G  # an elementwise product
    # The label map is one more image channel for the first convolution.
    assert cost.discriminator_macs(channel, space) == SMALL_D + 11 * 11 * 8


def test_the_small_train_step_by_hand():
    """The passes of `jax_step.train_step`, each counted by hand for the small genome."""
    # Generator: the fakes of the discriminator update (forward), then its own
    # update: forward, weight gradients, input gradients less the first
    # dense layer's (the latents are not differentiated).
    generator = SMALL_G + 2 * SMALL_G + (SMALL_G - 16 * 32)
    # Discriminator: real and fake passes (forward, weight gradients, input
    # gradients less the first convolution's), then forward and input
    # gradients in the generator's update.
    d_pass = 2 * SMALL_D + (SMALL_D - 11 * 11 * 8)
    discriminator = 2 * d_pass + 2 * SMALL_D
    parts = cost.train_step_cost(SMALL_GENOME, SMALL)
    assert (parts.generator, parts.discriminator, parts.penalty, parts.augment) == (
        generator,
        discriminator,
        0,
        0,
    )
    assert cost.train_step_macs(SMALL_GENOME, SMALL) == generator + discriminator == 196144

    def with_training(**genes):
        return SMALL_GENOME.replace(training=TrainingGenes(**genes))

    # R1: the input gradient (D), its weight gradients (D) and input
    # gradients (D less the logit, whose output gradient is a constant).
    r1 = cost.train_step_cost(with_training(r1_weight=1.0), SMALL)
    assert r1.penalty == 3 * SMALL_D - 32
    # WGAN-GP: a forward pass at the interpolates plus the same; relu and no
    # norm: the second derivative does not reach back into the forward pass.
    gp = cost.train_step_cost(with_training(loss="wasserstein_gp"), SMALL)
    assert gp.penalty == 4 * SMALL_D - 32
    # With elu after the convolution it does, through that convolution's
    # weight gradient (its input gradient is on the images: skipped).
    smooth = with_training(loss="wasserstein_gp").replace(
        discriminator=(SMALL_GENOME.discriminator[0].replace(activation="elu"),)
        + SMALL_GENOME.discriminator[1:]
    )
    assert cost.train_step_cost(smooth, SMALL).penalty == 4 * SMALL_D - 32 + 11 * 11 * 8
    two = cost.train_step_cost(with_training(d_steps=2), SMALL)
    assert two.generator == generator + SMALL_G
    assert two.discriminator == discriminator + 2 * d_pass
    # Translation: two one-hot products of 8*8*(8+8) MACs on the real and
    # fake images of the discriminator update, forward and backward on the
    # fakes of the generator's.
    shifted = cost.train_step_cost(with_training(augment="translation"), SMALL)
    assert shifted.augment == 4 * 8 * 8 * 16


def test_spectral_normalisation_is_a_cost_per_call_spread_over_the_batch():
    genome = SMALL_GENOME.replace(
        discriminator=(SMALL_GENOME.discriminator[0].replace(norm="spectral"),)
        + SMALL_GENOME.discriminator[1:]
    )
    assert cost.train_step_cost(genome, SMALL).spectral == 0
    # Kernel 3*3*1*8 = 72 weights, 8 units; 3 training calls (real, fake,
    # generator update): 3 * 72 + 8 each, and 72 + 8 for the gradient in the
    # two calls of the discriminator update; over 4 images.
    assert cost.train_step_cost(genome, SMALL, batch_size=4).spectral == (
        (3 * (3 * 72 + 8) + 2 * (72 + 8)) / 4
    )
    with pytest.raises(ValueError, match="batch_size"):
        cost.train_step_macs(genome, SMALL, batch_size=0)


def test_an_unknown_plan_step_is_refused():
    with pytest.raises(ValueError, match="role"):
        cost.step_ops(Step("mystery", None, (4,), (4,), 0))


def test_the_cost_module_imports_no_framework():
    code = (
        "import sys, kgan_nas.core.cost; "
        "print(','.join(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


# -- properties -----------------------------------------------------------------

SPACES = [
    SearchSpace(image_shape=(8, 8, 1)),
    SearchSpace(image_shape=(28, 28, 1)).with_recipe(),
    SearchSpace(image_shape=(32, 32, 3), num_classes=10).with_recipe(),
]
spaces = st.sampled_from(SPACES)
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(space=spaces, seed=seeds)
def test_costs_are_positive_and_a_step_costs_at_least_three_forward_passes(space, seed):
    genome = space.sample(np.random.default_rng(seed))
    g = cost.generator_macs(genome, space)
    d = cost.discriminator_macs(genome, space)
    assert isinstance(g, int) and isinstance(d, int) and g > 0 and d > 0
    assert sum(cost.plan_macs(space.generator_plan(genome))) == g
    step = cost.train_step_macs(genome, space)
    # At least: the generator's forward and backward (3 G), the discriminator
    # forward and backward on real and fake images (>= 4 D) and in the
    # generator's update (2 D).
    assert step >= 3 * g + 6 * d
    assert cost.train_step_macs(genome, space, batch_size=64) >= step


@settings(max_examples=80, deadline=None)
@given(space=spaces, seed=seeds, data=st.data())
def test_wider_layers_and_kernels_never_cost_less(space, seed, data):
    genome = space.sample(np.random.default_rng(seed))
    network = data.draw(st.sampled_from(["generator", "discriminator"]))
    genes = list(getattr(genome, network))
    sized = [i for i, gene in enumerate(genes) if gene.size > 0]
    if not sized:
        return
    index = data.draw(st.sampled_from(sized))
    gene = genes[index]
    changes = {"size": gene.size + data.draw(st.integers(1, 64))}
    if gene.is_conv:
        changes["kernel"] = gene.kernel + data.draw(st.integers(0, 2))
    genes[index] = gene.replace(**changes)
    wider = genome.replace(**{network: tuple(genes)})
    for count in (cost.generator_macs, cost.discriminator_macs, cost.train_step_macs):
        assert count(wider, space) >= count(genome, space)
    mine = cost.generator_macs if network == "generator" else cost.discriminator_macs
    assert mine(wider, space) > mine(genome, space)


def _brute_axis_taps(size, kernel, stride):
    out = -(-size // stride)
    pad = max((out - 1) * stride + kernel - size, 0) // 2
    return sum(0 <= o * stride + t - pad < size for o in range(out) for t in range(kernel))


def _brute_transposed_taps(size, kernel, stride):
    """As XLA counts a transposed conv: a stride-1 conv over the dilated, padded input."""
    pad_len = stride + kernel - 2
    left = min(pad_len // 2 + pad_len % 2, kernel - 1)
    count = 0
    for o in range(size * stride):
        for t in range(kernel):
            dilated = o - left + t
            if dilated % stride == 0 and 0 <= dilated // stride < size:
                count += 1
    return count


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 64), kernel=st.integers(1, 9), stride=st.integers(1, 2))
def test_tap_counts_match_enumerating_every_pair(size, kernel, stride):
    assert cost.axis_taps(size, kernel, stride) == _brute_axis_taps(size, kernel, stride)
    assert cost.axis_transposed_taps(size, kernel, stride) == _brute_transposed_taps(
        size, kernel, stride
    )
    assert cost.axis_taps(size, kernel, stride) <= -(-size // stride) * kernel


# -- against the compiler -------------------------------------------------------------


def _xla_rows(cases):
    """`benchmarks/cost_model.py`'s measurement of `cases`: for each genome, the relative
    errors of the model's counts against the compiler's (forward passes and a train step)."""
    sys.path.insert(0, BENCHMARKS)
    try:
        import cost_model
    finally:
        sys.path.remove(BENCHMARKS)
    counter = cost_model.MacOpCounter()
    rows = []
    for case in cases:
        space = SearchSpace.from_dict(case["space"])
        genome = Genome.from_dict(case["genome"])
        forward = cost_model.measure_forward(genome, space, 8, counter)
        step = cost_model.measure_train_step(genome, space, 8, counter)
        rows.append(
            {
                "genome": genome.describe(),
                "forward": {
                    name: (forward[name]["error_total"], forward[name]["error_mac_ops"])
                    for name in forward
                },
                "train_step_mac_ops": step["error_mac_ops"],
            }
        )
    return rows


def _xla_cases():
    layer = LayerGene
    recipe = SearchSpace(image_shape=(28, 28, 1)).with_recipe()
    conditional = SearchSpace(
        image_shape=(8, 8, 1),
        num_classes=10,
        discriminator_normalizations=("none", "layer", "spectral"),
    ).with_recipe()
    residual = Genome(
        (
            layer("dense", 128, activation="relu", norm="batch"),
            layer("upsample_conv2d", 64, 3, activation="relu", norm="batch"),
            layer("residual_up", 32, 3, activation="relu", norm="batch"),
        ),
        (
            layer("conv2d", 32, 3, 2, activation="leaky_relu"),
            layer("residual_down", 64, 3, activation="leaky_relu", norm="spectral"),
            layer("minibatch_std"),
            layer("dense", 128, activation="leaky_relu"),
            layer("dropout", rate=0.25),
        ),
        TrainingGenes(
            loss="hinge", r1_weight=1.0, d_steps=2, augment="translation,cutout", ema_decay=0.999
        ),
    )
    projection = Genome(
        (
            layer("conv2d_transpose", 64, 3, 2, activation="relu", norm="batch"),
            layer("conv2d", 32, 5, activation="swish", norm="layer"),
            layer("dropout", rate=0.1),
        ),
        (
            layer("conv2d", 64, 3, activation="elu", norm="layer"),
            layer("residual_down", 64, 3, activation="swish"),
            layer("dense", 64, activation="leaky_relu", norm="spectral"),
        ),
        TrainingGenes(loss="wasserstein_gp"),
        ConditioningGenes("concat", "projection", 16),
    )
    multiply = Genome(
        (
            layer("dense", 128, activation="tanh"),
            layer("conv2d_transpose", 32, 5, activation="elu"),
            layer("upsample_conv2d", 32, 3, activation="relu"),
        ),
        (
            layer("conv2d", 32, 3, 2, activation="relu"),
            layer("conv2d", 64, 5, 2, activation="relu", norm="spectral"),
        ),
        TrainingGenes(),
        ConditioningGenes("multiply", "concat", 0),
    )
    cases = [(recipe, residual), (conditional, projection), (conditional, multiply)]
    for space, genome in cases:
        assert space.problems(genome) == []
    return [{"space": space.to_dict(), "genome": genome.to_dict()} for space, genome in cases]


@pytest.mark.keras
@pytest.mark.backend
def test_the_counts_match_xla_cost_analysis():
    """Against `jax.jit(...).lower(...).compile().cost_analysis()` of the decoded models.

    Every layer kind and conditioning is in one of the genomes. The whole
    forward pass's `flops / 2` is within 2 % (the rest is elementwise work the
    model counts as 0); the compiler's FLOPs of just the dots and convolutions,
    of the forward passes and of a real JAX train step (R1, two discriminator
    steps, translation, the gradient penalty with smooth nonlinearities,
    spectral normalisation), equal the model's exactly. It needs Keras on JAX,
    so it runs in the suite's JAX re-run (in process, not in a process of its own).
    """
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(
            "compares with XLA's cost analysis under JAX: the JAX re-run runs it "
            "(alone: KERAS_BACKEND=jax pytest tests/test_cost.py -k xla)"
        )
    rows = _xla_rows(_xla_cases())
    assert len(rows) == 3
    for row in rows:
        for network, (total, mac_ops) in row["forward"].items():
            assert 0 <= total <= 0.02, (row["genome"], network, total)
            assert abs(mac_ops) < 1e-9, (row["genome"], network, mac_ops)
        assert abs(row["train_step_mac_ops"]) < 1e-9, row
    kinds = {
        gene.kind
        for case in _xla_cases()
        for part in ("generator", "discriminator")
        for gene in Genome.from_dict(case["genome"]).__getattribute__(part)
    }
    assert kinds == set(genome_lib.LAYER_KINDS)


def test_generator_macs_is_an_objective_stored_only_when_measured():
    from kgan_nas.core.fitness import Fitness
    from kgan_nas.core.objectives import get_objective

    assert get_objective("generator_macs").direction == "min"
    measured = Fitness(fid=3.0, generator_macs=1200)
    assert measured.objective("generator_macs") == 1200
    assert measured.metrics()["generator_macs"] == 1200
    assert Fitness.from_dict(measured.to_dict()) == measured
    # Records without it (older runs, custom evaluators) keep their JSON and never lead.
    unmeasured = Fitness(fid=3.0)
    assert "generator_macs" not in unmeasured.to_dict()
    assert "generator_macs" not in unmeasured.metrics()
    assert unmeasured.objective("generator_macs") == float("inf")


@pytest.mark.keras
@pytest.mark.slow
def test_a_search_trades_quality_against_generator_macs(tmp_path, cache_dir):
    """Every candidate records its generator's MACs from the cost model, the front is
    over (FID, MACs), and the report weighs quality against them."""
    from tiny_runs import TINY_SPACE
    from tiny_runs import tiny_real_search

    from kgan_nas.report.page import write_html_report

    result = tiny_real_search(tmp_path / "run", population=3, objectives=("fid", "generator_macs"))
    ok = [r for r in result.history if r["status"] == "ok"]
    assert ok, [r["reason"] for r in result.history]
    for record in result.history:
        genome = Genome.from_dict(record["genome"])
        assert record["fitness"]["generator_macs"] == cost.generator_macs(genome, TINY_SPACE)
    front = result.pareto_front()
    assert front and all(r["generator_macs"] > 0 for r in front)
    page = open(write_html_report(result), encoding="utf-8").read()
    assert "Quality against generator MACs per image" in page


def test_generator_latency_is_the_median_of_timed_calls_after_warm_up(monkeypatch):
    from kgan_nas.evaluation import latency

    calls = []

    class Generator:
        def predict_on_batch(self, inputs):
            calls.append(inputs)

    ticks = iter(range(100))
    monkeypatch.setattr(latency.time, "perf_counter", lambda: float(next(ticks)) ** 2)
    seconds = latency.generator_latency(Generator(), latent_dim=4, batch_size=3)
    assert len(calls) == latency.WARMUP_CALLS + latency.TIMED_CALLS
    assert calls[0].shape == (3, 4)
    # Call i is timed from tick 2i to 2i+1: (2i+1)^2 - (2i)^2 = 4i + 1; median of i = 0..6.
    assert seconds == 13.0
    conditional = []
    Generator.predict_on_batch = lambda self, inputs: conditional.append(inputs)
    latency.generator_latency(Generator(), latent_dim=4, batch_size=5, num_classes=2)
    assert list(conditional[0][1]) == [0, 1, 0, 1, 0]


@pytest.mark.keras
@pytest.mark.slow
def test_a_search_on_generator_latency_times_every_trained_generator(tmp_path, cache_dir):
    from tiny_runs import tiny_real_search

    from kgan_nas.report.page import write_html_report

    result = tiny_real_search(
        tmp_path / "run", population=2, objectives=("fid", "generator_latency")
    )
    assert result.config["evaluation"]["latency_batch"] == 16  # the training batch
    ok = [r for r in result.history if r["status"] == "ok"]
    assert ok, [r["reason"] for r in result.history]
    assert all(r["fitness"]["generator_latency"] > 0 for r in ok)
    page = open(write_html_report(result), encoding="utf-8").read()
    assert "Quality against generator seconds per batch" in page
    # A search that does not optimise it times nothing and stores no setting.
    plain = tiny_real_search(tmp_path / "plain", population=2)
    assert "latency_batch" not in plain.config["evaluation"]
    assert all("generator_latency" not in r["fitness"] for r in plain.history)
