"""Compute cost of a genome in multiply-accumulates (MACs), in pure Python.

The parameter count (`kgan_nas.core.shapes`) says how big a candidate is;
this module says how much arithmetic it costs to run and to train. Like the
parameter count it is computed from `generator_plan` / `discriminator_plan`,
the same plans `kgan_nas.evaluation.decode` builds the Keras models from, so
the count cannot drift from the built networks.

Conventions:

* One MAC is one multiply and one add of a matrix product or a convolution:
  a `Dense(n -> m)` costs `n * m` MACs per image, which is half of what
  XLA's cost analysis counts as the FLOPs of that product (`2 * n * m`).
* Convolutions count only the kernel taps that land on a real input value,
  which is exactly what XLA counts: a "same" convolution's taps on the zero
  padding, and a transposed convolution's taps on the holes between its
  (dilated) inputs, are not multiply-accumulates. On small maps this
  matters: a 3x3 "same" convolution of a 7x7 map makes 19 * 19 tap-output
  pairs, not 7 * 7 * 9 = 21 * 21.
* Elementwise work counts 0 MACs: biases, activations, batch / layer
  normalisation, dropout, nearest upsampling, average pooling, residual
  additions, `minibatch_std`, label embeddings (a table look-up) and the
  `"multiply"` conditioning of the latent. XLA counts some of it as FLOPs
  (a bias add is one FLOP per output value, layer normalisation about 9),
  so its `flops / 2` for a whole pass runs above these counts: on sampled
  28x28x1 and 8x8x1 genomes by a median 0.5 % for generators and 1.4 % for
  discriminators, and by more where a layer makes few MACs per output value
  (a first convolution over a 1-channel image: 9 MACs per value) or the
  network has hardly any (`benchmarks/cost_model.py`,
  `benchmarks/results/cost_model.json`). The dots and convolutions alone
  match XLA's count exactly. Elementwise work is memory-bound, so its FLOPs
  would not predict its time anyway.
* Counts are per image. A projection discriminator's class term is one dot
  product of the last features with the class embedding (`features` MACs).

`train_step_macs` counts one `kgan_nas.GAN` train step the way
`kgan_nas.training.jax_step` runs it (see `train_step_cost`).
"""

import dataclasses

from kgan_nas.core import genome as genome_lib
from kgan_nas.core import shapes as plan_lib

# Power iterations of Keras' SpectralNormalization (its default, which the
# decoder keeps).
SPECTRAL_POWER_ITERATIONS = 1
# Nonlinearities with a second derivative that is not zero everywhere: a
# gradient penalty differentiates the discriminator's backward pass, and
# only through these does that reach back into the forward pass (JAX's
# derivative of relu / leaky relu is a select on the sign, which has none).
SMOOTH_ACTIVATIONS = ("elu", "swish", "gelu", "tanh")
SMOOTH_NORMS = ("batch", "layer")


@dataclasses.dataclass(frozen=True)
class Op:
    """One matrix product or convolution of a planned step.

    Args:
        name: What it is within its step: `"dense"`, `"conv"`, `"project"`,
            `"output"`, `"conv1"`, `"conv2"`, `"shortcut"` or
            `"projection"`.
        macs: Multiply-accumulates per image of its forward pass.
        reads_input: Whether it reads its step's input with no trainable
            weight in between (a residual block's shortcut does; its second
            convolution does not). When nothing before the step is trained
            (a discriminator's first layer in its own update), the gradient
            with respect to that input is never computed.
        kernel_weights: Number of kernel weights it normalises spectrally
            (a `norm="spectral"` discriminator layer), else 0.
        kernel_units: Output units of that kernel (its last axis), else 0.
        feeds_smooth: Whether its output goes through a smooth nonlinearity
            (`SMOOTH_ACTIVATIONS`, `SMOOTH_NORMS`) within its step.
    """

    name: str
    macs: int
    reads_input: bool = False
    kernel_weights: int = 0
    kernel_units: int = 0
    feeds_smooth: bool = False


def axis_taps(size, kernel, stride):
    """Tap-output pairs along one axis of a "same" convolution that read a real input.

    Args:
        size: Input length along the axis.
        kernel: Kernel length.
        stride: 1 or 2; the output is `ceil(size / stride)` long.

    Returns:
        The number of `(output position, kernel tap)` pairs whose input
        position lies inside the input (not in the padding).
    """
    out = -(-size // stride)
    # "same" padding as TensorFlow and JAX place it: the smaller half first.
    pad = max((out - 1) * stride + kernel - size, 0) // 2
    return sum(_positions(out, stride, tap - pad, size) for tap in range(kernel))


def axis_transposed_taps(size, kernel, stride):
    """Input-tap pairs along one axis of a "same" transposed convolution that hit the output.

    A "same" transposed convolution with stride `s` makes `size * s`
    outputs; input `i` reaches output `i * s + tap - crop` through each
    tap, where `crop` is what Keras cuts off the leading side of the full
    `(size - 1) * s + kernel` output. Pairs that fall outside the output are
    not computed (and XLA does not count them).

    Args:
        size: Input length along the axis.
        kernel: Kernel length.
        stride: 1 or 2.

    Returns:
        The number of `(input position, kernel tap)` pairs that land on an
        output position.
    """
    # Keras' JAX backend pads the dilated input by `left` on the leading
    # side (keras.src.backend.common.backend_utils); cropping `crop` off the
    # full transposed output is the same thing seen from the output.
    pad_len = stride + kernel - 2
    left = min(pad_len // 2 + pad_len % 2, kernel - 1)
    crop = kernel - 1 - left
    return sum(_positions(size, stride, tap - crop, size * stride) for tap in range(kernel))


def _positions(count, stride, offset, limit):
    """How many `j` in `[0, count)` have `0 <= j * stride + offset < limit`."""
    # The first j reaching 0 is ceil(-offset / stride) for a negative offset.
    low = -(offset // stride) if offset < 0 else 0
    high = min(count - 1, (limit - 1 - offset) // stride)
    return max(0, high - low + 1)


def conv_macs(in_shape, out_channels, kernel, stride=1):
    """MACs per image of a "same" `Conv2D` (padding taps excluded).

    Args:
        in_shape: `(H, W, C)` input.
        out_channels: Filters.
        kernel: Square kernel size.
        stride: 1 or 2.

    Returns:
        An int.
    """
    height, width, channels = in_shape
    taps = axis_taps(height, kernel, stride) * axis_taps(width, kernel, stride)
    return taps * channels * out_channels


def transposed_conv_macs(in_shape, out_channels, kernel, stride=1):
    """MACs per image of a "same" `Conv2DTranspose` (taps outside the output excluded).

    Args:
        in_shape: `(H, W, C)` input.
        out_channels: Filters.
        kernel: Square kernel size.
        stride: 1 or 2 (the output is `stride` times larger).

    Returns:
        An int.
    """
    height, width, channels = in_shape
    taps = axis_transposed_taps(height, kernel, stride) * axis_transposed_taps(
        width, kernel, stride
    )
    return taps * channels * out_channels


def translation_macs(image_shape):
    """MACs per image of DiffAugment's translation (`kgan_nas.training.augment.translate`).

    It shifts an image by two one-hot matrix products (rows, then columns),
    which are real products: `H * H * W * C + W * W * H * C`.

    Args:
        image_shape: `(H, W, C)`.

    Returns:
        An int.
    """
    height, width, channels = image_shape
    return height * width * channels * (height + width)


def step_ops(step):
    """The matrix products and convolutions of one planned step.

    Args:
        step: A `kgan_nas.core.shapes.Step` of `generator_plan` or
            `discriminator_plan`.

    Returns:
        A tuple of `Op`s (empty for steps without any: dropout,
        `minibatch_std`, label embeddings).

    Raises:
        ValueError: for a step this module does not know (a new layer kind
            must get a cost here, or it would silently count 0).
    """
    if step.role == "project":
        units = step.output_shape[0] * step.output_shape[1] * step.output_shape[2]
        return (Op("project", step.input_shape[0] * units, True),)
    if step.role == "output":
        if len(step.input_shape) == 1:
            # The discriminator's logit: Dense(features -> 1).
            return (Op("output", step.input_shape[0] * step.output_shape[0], True),)
        # The generator's image: a 3x3 "same" convolution.
        macs = conv_macs(step.input_shape, step.output_shape[-1], plan_lib.OUTPUT_KERNEL)
        return (Op("output", macs, True),)
    if step.role == "condition":
        if is_projection(step):
            # <embedding(class), features>, added to the logit.
            return (Op("projection", step.input_shape[0], True),)
        # An embedding look-up, concatenated or multiplied: elementwise.
        return ()
    if step.role != "gene":
        raise ValueError(f"Unknown plan step role {step.role!r}.")
    return _gene_ops(step.gene, step.input_shape, step.output_shape)


def is_projection(step):
    """Whether a plan step is a projection discriminator's class term."""
    return step.role == "condition" and tuple(step.output_shape) == (1,)


def _gene_ops(gene, in_shape, out_shape):
    kind = gene.kind
    spectral = gene.norm == "spectral"
    smooth = gene.activation in SMOOTH_ACTIVATIONS or gene.norm in SMOOTH_NORMS
    if kind in (genome_lib.DROPOUT, genome_lib.MINIBATCH_STD):
        return ()
    if kind == genome_lib.DENSE:
        weights = in_shape[0] * gene.size
        return (Op("dense", weights, True, *_spectral(spectral, weights, gene.size), smooth),)
    size, kernel = gene.size, gene.kernel
    channels = in_shape[-1]
    conv_weights = kernel * kernel * channels * size
    if kind == genome_lib.CONV2D:
        macs = conv_macs(in_shape, size, kernel, gene.stride)
        return (Op("conv", macs, True, *_spectral(spectral, conv_weights, size), smooth),)
    if kind == genome_lib.CONV2D_TRANSPOSE:
        macs = transposed_conv_macs(in_shape, size, kernel, gene.stride)
        return (Op("conv", macs, True, 0, 0, smooth),)
    if kind == genome_lib.UPSAMPLE_CONV2D:
        upsampled = (2 * in_shape[0], 2 * in_shape[1], channels)
        return (Op("conv", conv_macs(upsampled, size, kernel), True, 0, 0, smooth),)
    if kind == genome_lib.RESIDUAL_UP:
        height, width, _ = out_shape
        upsampled = (height, width, channels)
        # The first convolution reads the input through a batch / layer norm,
        # whose scale and offset are trained: its input gradient is needed.
        direct = gene.norm not in ("batch", "layer")
        return (
            Op("conv1", conv_macs(upsampled, size, kernel), direct, 0, 0, smooth),
            Op("conv2", conv_macs((height, width, size), size, kernel)),
            Op("shortcut", height * width * channels * size, True),
        )
    if kind == genome_lib.RESIDUAL_DOWN:
        height, width, _ = in_shape
        second = conv_macs((height, width, size), size, kernel)
        shortcut = height * width * channels * size
        # conv1 -> norm1 -> act2 -> conv2 -> norm2; the shortcut is linear.
        return (
            Op(
                "conv1",
                conv_macs(in_shape, size, kernel),
                True,
                *_spectral(spectral, conv_weights, size),
                smooth,
            ),
            Op(
                "conv2",
                second,
                False,
                *_spectral(spectral, kernel * kernel * size * size, size),
                gene.norm in SMOOTH_NORMS,
            ),
            Op("shortcut", shortcut, True, *_spectral(spectral, channels * size, size)),
        )
    raise ValueError(f"No cost model for layer kind {kind!r}.")


def _spectral(spectral, weights, units):
    """`(kernel_weights, kernel_units)` of an `Op`: zeros unless normalised spectrally."""
    return (weights, units) if spectral else (0, 0)


def _smooth_at_input(step):
    """Whether a step puts its input through a smooth nonlinearity before any product."""
    if step.role != "gene":
        return False
    gene = step.gene
    if gene.kind == genome_lib.MINIBATCH_STD:
        return True  # a standard deviation over the batch
    if gene.kind == genome_lib.RESIDUAL_DOWN:
        return gene.activation in SMOOTH_ACTIVATIONS  # its pre-activation
    if gene.kind == genome_lib.RESIDUAL_UP:
        return gene.activation in SMOOTH_ACTIVATIONS or gene.norm in SMOOTH_NORMS
    return False


def plan_macs(steps):
    """Forward MACs per image of each step of a plan.

    Args:
        steps: A list of `kgan_nas.core.shapes.Step`s.

    Returns:
        A list of ints, one per step.
    """
    return [sum(op.macs for op in step_ops(step)) for step in steps]


def generator_macs(genome, space):
    """MACs of one generator forward pass for one image.

    Args:
        genome: A `Genome` in section order (as `SearchSpace.repair` leaves it).
        space: The `SearchSpace` (image shape, latent size, classes).

    Returns:
        An int: the multiply-accumulates of its dense layers and
        convolutions (see the module docstring for the conventions).

    Raises:
        ValueError: if the genome cannot be planned in `space` (see
            `kgan_nas.core.shapes.generator_plan`).
    """
    return sum(plan_macs(space.generator_plan(genome)))


def discriminator_macs(genome, space):
    """MACs of one discriminator forward pass for one image.

    Args:
        genome: A `Genome` in section order (as `SearchSpace.repair` leaves it).
        space: The `SearchSpace` (image shape, classes).

    Returns:
        An int (see the module docstring for the conventions).

    Raises:
        ValueError: if the genome cannot be planned in `space` (see
            `kgan_nas.core.shapes.discriminator_plan`).
    """
    return sum(plan_macs(space.discriminator_plan(genome)))


@dataclasses.dataclass(frozen=True)
class NetworkCost:
    """The per-image MACs of one network's passes.

    Args:
        forward: One forward pass.
        input_grads_frozen_input: The gradients with respect to every
            layer's input, except those the backward pass skips when the
            network's input is not differentiated (images in the
            discriminator's own update, latents in the generator's): those
            of the products that read the network's input directly, when no
            trained weight (an embedding) comes before them. With the
            network's input differentiated (the discriminator in the
            generator's update, a penalty's input gradient) the input
            gradients cost `forward`, and so do the weight gradients always
            (each product's weight gradient pairs the same values).
        top: The products whose output gradient is a constant in a
            penalty's input gradient (the logit and a projection term):
            differentiating that gradient needs no product for them.
        smooth_weight_grads: Weight gradients of the products whose output
            reaches a smooth nonlinearity (`SMOOTH_ACTIVATIONS`,
            `SMOOTH_NORMS`, `minibatch_std`) in the forward pass: where a
            penalty's second derivative flows back into it.
        smooth_input_grads_frozen_input: Input gradients of those products,
            skipping the ones on an undifferentiated network input.
        spectral_weights: Kernel weights normalised spectrally, per call
            rather than per image.
        spectral_units: Output units of those kernels, likewise.
    """

    forward: int
    input_grads_frozen_input: int
    top: int
    smooth_weight_grads: int
    smooth_input_grads_frozen_input: int
    spectral_weights: int
    spectral_units: int


def network_cost(steps):
    """The `NetworkCost` of a plan (generator or discriminator).

    Args:
        steps: A list of `kgan_nas.core.shapes.Step`s.

    Returns:
        A `NetworkCost`.
    """
    ops_by_step = [step_ops(step) for step in steps]
    # A product's output reaches a smooth nonlinearity when one follows it
    # in its step or comes in any later step (each step feeds the next).
    smooth_later = [False] * len(steps)
    later = False
    for index in reversed(range(len(steps))):
        smooth_later[index] = later
        step_smooth = _smooth_at_input(steps[index]) or any(
            op.feeds_smooth for op in ops_by_step[index]
        )
        later = later or step_smooth
    forward = frozen = top = smooth_weights = smooth_frozen = spectral = units = 0
    trained_before = at_features = False
    for step, ops, after in zip(steps, ops_by_step, smooth_later):
        if step.role == "output":
            at_features = trained_before
        elif is_projection(step):
            # The projection term reads the last features, as the logit does,
            # not the logit.
            trained_before = at_features
        for op in ops:
            forward += op.macs
            spectral += op.kernel_weights
            units += op.kernel_units
            needs_input_grad = trained_before or not op.reads_input
            frozen += op.macs if needs_input_grad else 0
            if step.role == "output" or is_projection(step):
                top += op.macs
            if after or op.feeds_smooth:
                smooth_weights += op.macs
                smooth_frozen += op.macs if needs_input_grad else 0
        # After a step with weights (an embedding included), every value
        # depends on trained weights.
        trained_before = trained_before or step.params > 0
    return NetworkCost(forward, frozen, top, smooth_weights, smooth_frozen, spectral, units)


@dataclasses.dataclass(frozen=True)
class TrainStepCost:
    """MACs per image of one training step, by part.

    Args:
        generator: The generator's passes (its forward passes in the
            discriminator updates, and its forward and backward passes in
            its own update).
        discriminator: The discriminator's passes on real and generated
            images, forward and backward, in both updates.
        penalty: The extra passes of the R1 or gradient penalty.
        augment: DiffAugment's translation (its one-hot products).
        spectral: Spectral normalisation's power iterations, spread over
            the batch (0 without a `batch_size`).
    """

    generator: int
    discriminator: int
    penalty: int
    augment: int
    spectral: float

    @property
    def total(self):
        return self.generator + self.discriminator + self.penalty + self.augment + self.spectral


def train_step_cost(genome, space, batch_size=None):
    """The MACs per image of one `kgan_nas.GAN` train step, by part.

    The step (`kgan_nas.training.jax_step`; `tf_step` makes the same passes,
    but only the JAX step is checked against the compiler) makes `d_steps`
    discriminator updates, then one generator update. With `G`
    and `D` a forward pass of each network, a backward pass costs one
    forward pass for the weight gradients plus one for the input gradients
    ("backward = 2 x forward"), less the input gradients nothing needs. It
    counts:

    * each discriminator update: `G` to generate the fakes (no gradient),
      and for the real and for the fake images `D` forward and `2 D`
      backward (less the input gradient of the products reading the
      images);
    * `r1_weight > 0`: about `3 D` more per update: the gradient with
      respect to the real images (`D`), then differentiating it with
      respect to the weights (`D` for the weight gradients of that backward
      pass, `D` less the logit for the gradients of its inputs); going
      back into the forward pass shares the real images' backward pass;
    * `"wasserstein_gp"`: the same `3 D` at the
      interpolates plus their forward pass `D`, and the forward pass's
      backward up to the last smooth nonlinearity (up to `2 D`; none for a
      relu / leaky relu discriminator without normalisation);
    * the generator update: `G + D` forward, the discriminator's input
      gradients `D` (not its weight gradients), and the generator's
      backward `2 G` (less the input gradient of the products reading the
      latents);
    * `"translation"` augmentation: its two one-hot products on the real
      and the fake images of each discriminator update, and forward and
      backward on the fakes of the generator update;
    * with `batch_size`, spectral normalisation's power iteration: `3 K + N`
      MACs per training call of the discriminator for each normalised
      kernel of `K` weights and `N` output units, plus `K + N` for its
      gradient in the discriminator's updates, divided by `batch_size`.

    EMA, cutout and color augmentation, losses and optimizer updates are
    elementwise: 0.

    Args:
        genome: A `Genome` in section order.
        space: The `SearchSpace`.
        batch_size: Images per step, to spread the per-call spectral
            normalisation cost over; None leaves it out (it shrinks as
            `1 / batch_size`).

    Returns:
        A `TrainStepCost`.

    Raises:
        ValueError: if the genome cannot be planned in `space`, or
            `batch_size` is not a positive integer.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    g = network_cost(space.generator_plan(genome))
    d = network_cost(space.discriminator_plan(genome))
    genes = genome.training
    steps = genes.d_steps
    # A discriminator pass on images it does not differentiate: forward,
    # weight gradients, input gradients.
    d_update_pass = 2 * d.forward + d.input_grads_frozen_input
    discriminator = steps * 2 * d_update_pass + 2 * d.forward
    generator = steps * g.forward + 2 * g.forward + g.input_grads_frozen_input
    # The input gradient, and differentiating it: its weight gradients and
    # its input gradients (none for the top products).
    second_order = 3 * d.forward - d.top
    penalty = 0
    d_calls = 2 * steps + 1
    if genes.r1_weight > 0:
        penalty += steps * second_order
    # The step computes the gradient penalty whatever the GAN's gp_weight
    # (a weight of 0 multiplies it, and its gradient, by zero).
    if genes.loss == "wasserstein_gp":
        smooth_backward = d.smooth_weight_grads + d.smooth_input_grads_frozen_input
        penalty += steps * (d.forward + second_order + smooth_backward)
        d_calls += steps
    augment = 0
    if "translation" in genome_lib.augment_operations(genes.augment):
        augment = (2 * steps + 2) * translation_macs(space.image_shape)
    spectral = 0.0
    if batch_size is not None and d.spectral_weights:
        # Forward: (2 * power_iterations + 1) vector-matrix products and
        # sigma's dot product per call; backward (discriminator updates
        # only, u and v being constants): sigma's gradient, one of each.
        per_call = (2 * SPECTRAL_POWER_ITERATIONS + 1) * d.spectral_weights + d.spectral_units
        backward = d.spectral_weights + d.spectral_units
        spectral = (d_calls * per_call + (d_calls - 1) * backward) / batch_size
    return TrainStepCost(generator, discriminator, penalty, augment, spectral)


def train_step_macs(genome, space, batch_size=None):
    """MACs per image of one training step: both networks, forward and backward.

    Args:
        genome: A `Genome` in section order.
        space: The `SearchSpace`.
        batch_size: Images per step (see `train_step_cost`); None leaves the
            per-call spectral normalisation cost out.

    Returns:
        An int, or a float when a `batch_size` spreads a per-call cost that
        does not divide evenly.

    Raises:
        ValueError: if the genome cannot be planned in `space`, or
            `batch_size` is not a positive integer.
    """
    total = train_step_cost(genome, space, batch_size).total
    return int(total) if float(total).is_integer() else total
