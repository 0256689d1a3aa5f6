"""Shape and parameter arithmetic of a genome, in pure Python.

`generator_plan` and `discriminator_plan` turn a genome into the list of
layers Keras will build, with every input/output shape and parameter count.
`kgan_nas.evaluation.decode` builds the Keras models from these same plans, so the
search-side estimates (used for `max_params` and the "params" objective)
cannot drift from what Keras counts; a test checks they are equal.

Fixed parts around the evolved genes:

* generator: `z -> [vector genes] -> Dense(h0*w0*c0) + ReLU -> reshape ->
  [spatial genes] -> Conv2D(C, 3) + tanh`, where `h0 = H / 2**u` for `u`
  upsampling genes and `c0` is the width of the first convolution gene (the
  smallest filter choice when there is none);
* discriminator: `x -> [spatial genes] -> flatten -> [vector genes] ->
  Dense(1)` (a logit).

A conditional genome (`genome.conditioning` set) adds one `"condition"`
step to each network, holding the label embedding's `num_classes * width`
weights: in the generator before the first gene (the latent grows by the
embedding for `"concat"`), in the discriminator before the first gene for
`"concat"` (the image gains one channel) or after the logit for
`"projection"` (an embedding as wide as the last features).

A residual block is one step (its main path and its shortcut's 1x1
convolution together); `minibatch_std` adds one channel and no weights.
"""

import dataclasses
import math

from kgan_nas.core import genome as genome_lib

OUTPUT_KERNEL = 3


@dataclasses.dataclass(frozen=True)
class Step:
    """One planned layer (or fixed block) of a network.

    Args:
        role: `"gene"` for an evolved layer, `"project"` for the generator's
            latent projection, `"output"` for the fixed output layer,
            `"condition"` for a conditional network's label embedding.
        gene: The `LayerGene` for `role == "gene"`, the `ConditioningGenes`
            for `"condition"`, else None.
        input_shape: Shape without the batch axis.
        output_shape: Shape without the batch axis.
        params: Number of Keras weights (trainable and not) of this step.
    """

    role: str
    gene: object
    input_shape: tuple
    output_shape: tuple
    params: int


def norm_params(norm, channels):
    """Weights added by a normalisation over `channels` features."""
    return {"none": 0, "batch": 4 * channels, "layer": 2 * channels, "spectral": channels}[norm]


def start_size(image_shape, upsamples):
    """Spatial size of the generator's projection for `upsamples` 2x steps."""
    height, width, _ = image_shape
    return height // 2**upsamples, width // 2**upsamples


def first_conv_size(genes, default):
    for gene in genes:
        if gene.is_conv:
            return gene.size
    return default


def generator_plan(genome, image_shape, latent_dim, default_filters, num_classes=None):
    """Plans the generator of `genome`.

    Args:
        genome: A `Genome` whose generator genes are in section order
            (vector genes first), as `SearchSpace.repair` leaves them.
        image_shape: `(H, W, C)` the generator must produce.
        latent_dim: Size of the latent input.
        default_filters: Projection channels when no convolution gene exists.
        num_classes: Classes of a conditional genome; None otherwise.

    Returns:
        A list of `Step`s.

    Raises:
        ValueError: if the upsampling genes do not divide the image size, or
            a conditional genome comes without `num_classes`.
    """
    height, width, channels = image_shape
    genes = genome.generator
    upsamples = sum(gene.upsamples for gene in genes)
    if height % 2**upsamples or width % 2**upsamples:
        raise ValueError(
            f"{upsamples} upsampling layers cannot produce a {height}x{width} "
            "image: both sides must be divisible by 2**upsamples."
        )
    steps = []
    shape = (latent_dim,)
    condition = genome.conditioning
    if condition is not None:
        classes = _checked_classes(num_classes)
        # The embedding's size; not `width`, which is the image's (it was, once, and
        # the output step then said 32x64 for a 32x32 image).
        embedded = condition.embedding_dim if condition.generator == "concat" else latent_dim
        if condition.generator == "concat":
            shape = (latent_dim + embedded,)
        steps.append(Step("condition", condition, (latent_dim,), shape, classes * embedded))
    index = 0
    while index < len(genes) and _in_vector_section(genes, index, vector_first=True):
        gene = genes[index]
        out = (gene.size,) if gene.kind == genome_lib.DENSE else shape
        steps.append(Step("gene", gene, shape, out, _gene_params(gene, shape, out)))
        shape = out
        index += 1
    h0, w0 = start_size(image_shape, upsamples)
    c0 = first_conv_size(genes[index:], default_filters)
    projected = (h0, w0, c0)
    units = h0 * w0 * c0
    steps.append(Step("project", None, shape, projected, shape[0] * units + units))
    shape = projected
    for gene in genes[index:]:
        out = _spatial_output(gene, shape)
        steps.append(Step("gene", gene, shape, out, _gene_params(gene, shape, out)))
        shape = out
    out = (height, width, channels)
    fan_in = OUTPUT_KERNEL * OUTPUT_KERNEL * shape[2]
    steps.append(Step("output", None, shape, out, fan_in * channels + channels))
    return steps


def discriminator_plan(genome, image_shape, num_classes=None):
    """Plans the discriminator of `genome` (spatial genes first).

    Args:
        genome: A `Genome` in section order (see `SearchSpace.repair`).
        image_shape: `(H, W, C)` of the images it judges.
        num_classes: Classes of a conditional genome; None otherwise.

    Returns:
        A list of `Step`s; the 1-unit output layer is the last one, or the
        one before the `"condition"` step of a projection discriminator.

    Raises:
        ValueError: if the genes are out of section order, or a conditional
            genome comes without `num_classes`.
    """
    genes = genome.discriminator
    steps = []
    shape = tuple(image_shape)
    condition = genome.conditioning
    if condition is not None:
        classes = _checked_classes(num_classes)
    if condition is not None and condition.discriminator == "concat":
        height, width, channels = shape
        out = (height, width, channels + 1)
        steps.append(Step("condition", condition, shape, out, classes * height * width))
        shape = out
    index = 0
    while index < len(genes) and not _in_vector_section(genes, index, vector_first=False):
        gene = genes[index]
        out = _spatial_output(gene, shape)
        steps.append(Step("gene", gene, shape, out, _gene_params(gene, shape, out)))
        shape = out
        index += 1
    shape = (math.prod(shape),)
    for gene in genes[index:]:
        if gene.is_spatial:
            raise ValueError(
                "A convolution gene follows a dense gene in the discriminator; "
                "call SearchSpace.repair(genome) first."
            )
        out = (gene.size,) if gene.kind == genome_lib.DENSE else shape
        steps.append(Step("gene", gene, shape, out, _gene_params(gene, shape, out)))
        shape = out
    steps.append(Step("output", None, shape, (1,), shape[0] + 1))
    if condition is not None and condition.discriminator == "projection":
        steps.append(Step("condition", condition, shape, (1,), classes * shape[0]))
    return steps


def _checked_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"A conditional genome needs num_classes >= 2, got {num_classes!r}; build "
            "the SearchSpace with num_classes= (or search with conditional=True)."
        )
    return num_classes


def count_params(steps):
    return sum(step.params for step in steps)


def section_of(genes, vector_first):
    """Section (`"vector"` or `"spatial"`) of every gene, in order.

    Dense genes are vector; convolutions, residual blocks and minibatch_std
    spatial; a dropout gene belongs to the section of the gene before it
    (the first section when it leads).
    """
    first = "vector" if vector_first else "spatial"
    sections = []
    current = first
    for gene in genes:
        if gene.kind == genome_lib.DENSE:
            current = "vector"
        elif gene.is_spatial:
            current = "spatial"
        sections.append(current)
    return sections


def _in_vector_section(genes, index, vector_first):
    return section_of(genes[: index + 1], vector_first)[index] == "vector"


def _spatial_output(gene, shape):
    height, width, channels = shape
    if gene.kind == genome_lib.DENSE:
        raise ValueError(
            "A dense gene stands among the convolutions; genes must be in "
            "section order. Call SearchSpace.repair(genome) first."
        )
    if gene.kind == genome_lib.DROPOUT:
        return shape
    if gene.kind == genome_lib.MINIBATCH_STD:
        return (height, width, channels + 1)
    if gene.kind in (genome_lib.CONV2D, genome_lib.RESIDUAL_DOWN):
        # "same" padding (of the stride-2 convolution or of the 2x2
        # pooling): ceil division by 2.
        factor = 2 if gene.downsamples else 1
        return (-(-height // factor), -(-width // factor), gene.size)
    factor = 2 if gene.upsamples else 1
    return (height * factor, width * factor, gene.size)


def _gene_params(gene, in_shape, out_shape):
    if gene.kind in (genome_lib.DROPOUT, genome_lib.MINIBATCH_STD):
        return 0
    if gene.kind in genome_lib.RESIDUAL_KINDS:
        return _residual_params(gene, in_shape[-1])
    if gene.kind == genome_lib.DENSE:
        weights = in_shape[0] * gene.size + gene.size
    else:
        weights = gene.kernel * gene.kernel * in_shape[-1] * gene.size + gene.size
    return weights + norm_params(gene.norm, out_shape[-1])


def _residual_params(gene, channels):
    """Weights of a residual block from `channels` to `gene.size` channels.

    Two k x k convolutions (the first from `channels`), a 1x1 shortcut
    convolution, and the norms: the generator's block normalises its input
    and its first convolution's output; the discriminator's normalises both
    convolutions' outputs, or wraps all three convolutions (spectral).
    """
    size, kernel = gene.size, gene.kernel
    weights = (kernel * kernel * channels * size + size) + (kernel * kernel * size * size + size)
    weights += channels * size + size
    if gene.kind == genome_lib.RESIDUAL_UP:
        return weights + norm_params(gene.norm, channels) + norm_params(gene.norm, size)
    if gene.norm == "spectral":
        return weights + 3 * norm_params("spectral", size)
    return weights + 2 * norm_params(gene.norm, size)


def start_size_hint(image_shape, max_start_size, max_upsamplings=10):
    """Why a generator of these images must start from a large map, and the nearest size that
    would not; "" when some start map is at most `max_start_size`.

    A generator doubles its start map, so the image's sides must halve, a
    whole number of times, down to `max_start_size` or less. Sides such as 30
    (15 after one halving) cannot; the space then starts from the smallest map
    the sides allow, whose projection layer alone can exceed a parameter bound.

    Args:
        image_shape: `(H, W, C)`.
        max_start_size: `SearchSpace.max_start_size`.
        max_upsamplings: The most upsampling layers a generator may have (the
            space's `generator_layers` maximum): a suggested size needs no more.

    Returns:
        A sentence naming the start map and the closest resize that fits (up
        or down), or "".
    """
    height, width = image_shape[0], image_shape[1]
    if _start_halvings(height, width, max_start_size, 10):
        return ""
    halvings = [u for u in range(0, 11) if height % 2**u == 0 and width % 2**u == 0]
    u = max(v for v in halvings if min(height, width) // 2**v >= min(2, height, width))
    start = f"{height // 2**u} x {width // 2**u}"
    # The closest sizes, rounded up or down, whose sides halve together down to
    # max_start_size or less within the generator's layers.
    sizes = set()
    for v in range(1, max_upsamplings + 1):
        step, largest = 2**v, max_start_size * 2**v
        for new_h in {-(-height // step) * step, height // step * step, largest}:
            for new_w in {-(-width // step) * step, width // step * step, largest}:
                if new_h and new_w and _start_halvings(new_h, new_w, max_start_size, v):
                    # Closest first, then the least distorted, then the larger.
                    change = (new_h / height - 1) ** 2 + (new_w / width - 1) ** 2
                    distortion = abs(new_h / new_w - height / width)
                    sizes.add(
                        (round(change, 9), round(distortion, 9), -new_h * new_w, new_h, new_w)
                    )
    resize = " Resize the images"
    if sizes:
        *_, new_h, new_w = min(sizes)
        resize += f" to {new_h} x {new_w} (e.g. `keras.layers.Resizing`)"
    return (
        f"A generator of {height} x {width} images starts from a {start} map at the "
        f"smallest (the sides halve to whole numbers only that far), over "
        f"max_start_size={max_start_size}, so every generator projects its latent onto "
        f"that large map.{resize}, or raise the parameter bound."
    )


def _start_halvings(height, width, max_start_size, most):
    """The halvings, up to `most`, that leave a start map of at most `max_start_size`
    on its longest side and at least 2 (or the image's side) on its shortest."""
    smallest = min(2, height, width)
    return [
        u
        for u in range(0, most + 1)
        if height % 2**u == 0
        and width % 2**u == 0
        and min(height, width) // 2**u >= smallest
        and max(height, width) // 2**u <= max_start_size
    ]
