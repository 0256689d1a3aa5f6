"""Known GAN designs as genomes: the zoo a search can start from (pure Python).

What a Keras user would do instead of searching is take a known design and
train it. The zoo holds those designs as ordinary genomes, so a search can
put them in its first generation (`kgan_nas.SearchOptions(zoo=...)`) and
the final stage can weigh them like any candidate: a search that starts
from the zoo hands back a known design whenever nothing it found does
better on the held-out score.

Every design is written in the genome's fixed frame
(`kgan_nas.core.shapes`): the generator's latent projection is
`Dense(h0*w0*c0) + ReLU` and its output a 3x3 convolution with tanh; the
discriminator flattens its feature maps and ends in one logit. So a zoo
design is the known design's layer stack inside that frame, not a line by
line copy; each design's docstring says where they differ.

`fit(space)` adapts each design to a search space: the number of
upsampling layers follows the image shape (`SearchSpace.upsample_range`),
widths narrow uniformly (by halves) until the space's cost bounds hold,
and every gene snaps to the space's nearest choice (`SearchSpace.repair`).
A design fits when that keeps its layer stack (the same kinds and strides
in the same order, the same loss and optimizer); otherwise it is left out,
with the reason.
"""

import dataclasses

from kgan_nas import validate
from kgan_nas.core import genome as genome_lib
from kgan_nas.core import recipe as recipe_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.errors import InvalidGenomeError

# The training recipe measured on `mnist_5k` (benchmarks/recipe_ablation.py):
# DiffAugment, an R1 penalty, two discriminator steps and a weight average.
RECIPE = dict(augment="translation,cutout", r1_weight=1.0, d_steps=2, ema_decay=0.999)
RECIPE_SUFFIX = "+recipe"
# Narrowing steps tried, widest first: every width is multiplied by this
# factor (1, 1/2, 1/4, ...) before the space snaps it to its choices.
_WIDTH_SCALES = (1.0, 0.5, 0.25, 0.125, 0.0625)
_LEAKY = "leaky_relu"


def _conv(kind, size, kernel, stride=1, norm="none", activation=_LEAKY):
    return LayerGene(
        kind, size=size, kernel=kernel, stride=stride, activation=activation, norm=norm
    )


def _dense(size, activation=_LEAKY):
    return LayerGene(genome_lib.DENSE, size=size, activation=activation)


def _dropout(rate):
    return LayerGene(genome_lib.DROPOUT, rate=rate)


def _width(size, scale):
    return max(1, int(round(size * scale)))


def tf_dcgan(upsamplings, scale=1.0):
    """The TensorFlow DCGAN tutorial's networks.

    Generator: a stride-1 5x5 transposed convolution with 128 filters, then
    5x5 stride-2 transposed convolutions halving the filters (64, 32, ...),
    each with batch norm and LeakyReLU. Discriminator: two 5x5 stride-2
    convolutions (64, 128) with LeakyReLU, each followed by dropout 0.3,
    flattened to one logit. Adam at 1e-4 for both networks. In the frame,
    the tutorial's projection (256 maps, batch norm, LeakyReLU) is the
    fixed `Dense + ReLU` projection to the first convolution's 128 maps, and
    its last transposed convolution (to the image's channels, tanh) is the
    last upsampling layer followed by the fixed 3x3 output convolution.
    The tutorial's Adam keeps beta_1 = 0.9.
    """
    generator = [_conv(genome_lib.CONV2D_TRANSPOSE, _width(128, scale), 5, norm="batch")]
    for i in range(upsamplings):
        filters = _width(max(16, 64 // 2**i), scale)
        generator.append(_conv(genome_lib.CONV2D_TRANSPOSE, filters, 5, stride=2, norm="batch"))
    discriminator = [
        _conv(genome_lib.CONV2D, _width(64, scale), 5, stride=2),
        _dropout(0.3),
        _conv(genome_lib.CONV2D, _width(128, scale), 5, stride=2),
        _dropout(0.3),
    ]
    training = TrainingGenes(g_learning_rate=1e-4, d_learning_rate=1e-4, beta_1=0.9)
    return Genome(generator, discriminator, training)


def dcgan(upsamplings, scale=1.0):
    """A DCGAN with a flattening discriminator (the keras.io DCGAN family).

    Generator: 4x4 stride-2 transposed convolutions with 128 filters and
    LeakyReLU (as keras.io's MNIST GAN), without normalisation.
    Discriminator: 4x4 stride-2 convolutions (64, 128, 128) with LeakyReLU,
    flattened, dropout 0.2, one logit (as keras.io's DCGAN for faces).
    Adam at 2e-4 with beta_1 = 0.5 (Radford et al. 2016). keras.io's MNIST
    GAN pools its discriminator's maps with `GlobalMaxPooling2D`, which the
    genome cannot express; it scored worse than the MLP GAN on `mnist_5k`
    (docs/benchmarks.md), and this flattening variant stands for it.
    """
    generator = [
        _conv(genome_lib.CONV2D_TRANSPOSE, _width(128, scale), 4, stride=2)
        for _ in range(upsamplings)
    ]
    if not generator:
        generator = [_conv(genome_lib.CONV2D, _width(128, scale), 4)]
    discriminator = [
        _conv(genome_lib.CONV2D, _width(size, scale), 4, stride=2) for size in (64, 128, 128)
    ]
    discriminator.append(_dropout(0.2))
    return Genome(generator, discriminator, TrainingGenes())


def mlp_gan(upsamplings, scale=1.0):
    """The fully connected GAN (Goodfellow et al. 2014, as in many tutorials).

    Generator: Dense 256 and 512 with LeakyReLU. Discriminator: Dense 512
    and 256 with LeakyReLU, on the flattened image. Adam at 2e-4 with
    beta_1 = 0.5. In the frame, the MLP's last `Dense(H*W*C) + tanh` is the
    fixed projection to the full image size followed by the 3x3 output
    convolution, so the design only fits a space whose generator may start
    at full size (`max_start_size` at least the image's longest side);
    with upsampling it would not be an MLP.
    """
    if upsamplings:
        raise ValueError(
            "an MLP generator has no upsampling layers: it needs SearchSpace.max_start_size "
            "at least the image's longest side"
        )
    generator = [_dense(_width(256, scale)), _dense(_width(512, scale))]
    discriminator = [_dense(_width(512, scale)), _dense(_width(256, scale))]
    return Genome(generator, discriminator, TrainingGenes())


# name -> (builder, how many upsampling layers the design prefers, or None
# for the fewest the space allows). The DCGANs double their maps twice, as
# their 28x28 originals do from 7x7.
_BUILDERS = {
    "tf_dcgan": (tf_dcgan, 2),
    "dcgan": (dcgan, 2),
    "mlp_gan": (mlp_gan, None),
}
DESIGNS = tuple(_BUILDERS) + tuple(name + RECIPE_SUFFIX for name in _BUILDERS)


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A zoo design as adapted to one search space.

    Args:
        name: The design's name, e.g. `"tf_dcgan"` or `"tf_dcgan+recipe"`.
        genome: The design as a valid genome of the space, or None when it
            does not fit.
        changes: What the adaptation changed, in words (empty when the
            space holds the design as written).
        reason: Why the design does not fit, or None when it does.
    """

    name: str
    genome: Genome | None
    changes: tuple = ()
    reason: str | None = None

    @property
    def fits(self):
        return self.genome is not None


def check_names(names):
    """Checks zoo design names; returns them as a tuple.

    Raises:
        ValueError: naming an unknown design and listing the known ones.
    """
    if isinstance(names, str):
        names = (names,)
    return validate.check_known_names(names, "zoo design(s)", DESIGNS)


def fit(space, names=DESIGNS):
    """Adapts zoo designs to a search space.

    Args:
        space: The `kgan_nas.SearchSpace`.
        names: Design names, from `DESIGNS`. Defaults to all of them.

    Returns:
        A list of `ZooEntry`, one per name, in order. A design whose genome
        equals an earlier entry's (e.g. a `+recipe` variant in a space
        whose recipe genes are all off) is left out with that reason.

    Raises:
        ValueError: for an unknown design name.
    """
    entries = []
    seen = {}
    for name in check_names(names):
        entry = _fit_one(space, name)
        if entry.fits:
            key = entry.genome.key()
            if key in seen:
                entry = ZooEntry(
                    name, None, reason=f"the space makes it the same genome as {seen[key]}"
                )
            else:
                seen[key] = name
        entries.append(entry)
    return entries


def genomes(space, names=DESIGNS):
    """The zoo designs that fit `space`, as `{name: genome}` in `names` order."""
    return {entry.name: entry.genome for entry in fit(space, names) if entry.fits}


def _fit_one(space, name):
    base = name.removesuffix(RECIPE_SUFFIX)
    builder, preferred = _BUILDERS[base]
    if base != name and not _has_recipe_genes(space):
        return ZooEntry(name, None, reason=_NO_RECIPE)
    low, high = space.upsample_range()
    upsamplings = low if preferred is None else min(max(preferred, low), high)
    # Snapping alone (the space without its cost bounds) keeps every width
    # the nearest choice; the bounds are then met by narrowing uniformly.
    unbounded = dataclasses.replace(
        space, max_params=None, max_generator_macs=None, max_train_macs=None
    )
    reason = None
    for scale in _WIDTH_SCALES:
        try:
            design = builder(upsamplings, scale)
        except ValueError as error:
            return ZooEntry(name, None, reason=str(error))
        if base != name:
            design = _with_recipe(design)
        try:
            adapted = unbounded.repair(design)
        except InvalidGenomeError as error:
            return ZooEntry(name, None, reason=f"no genome of the space is near it ({error})")
        reason = _lost_structure(design, adapted)
        if reason is not None:
            if base != name and genome_lib.MINIBATCH_STD not in space.discriminator_layer_types:
                reason += " (SearchSpace.with_recipe() adds minibatch_std)"
            return ZooEntry(name, None, reason=reason)
        if not space.problems(adapted):
            return ZooEntry(name, adapted, changes=tuple(_changes(design, adapted, scale)))
        reason = "; ".join(space.problems(adapted))
    return ZooEntry(
        name,
        None,
        reason=f"even at widths x{_WIDTH_SCALES[-1]:g} it breaks the space's bounds ({reason})",
    )


_NO_RECIPE = (
    "the space has no training-recipe genes (its EMA, DiffAugment, R1 and discriminator-step "
    "choices are all off); SearchSpace.with_recipe() adds them"
)


def _has_recipe_genes(space):
    """Whether the space lets any recipe gene be on (not only its off choice)."""
    return any(
        len(getattr(space, field)) > 1 or getattr(space, field)[0] != default[0]
        for field, (_, default) in recipe_lib.SPACE_FIELDS.items()
    )


def _with_recipe(design):
    """The design with the recipe, and a minibatch-std channel after a conv discriminator's maps."""
    discriminator = list(design.discriminator)
    convs = [i for i, gene in enumerate(discriminator) if gene.is_conv]
    if convs:
        discriminator.insert(convs[-1] + 1, LayerGene(genome_lib.MINIBATCH_STD))
    return design.replace(discriminator=discriminator, training=design.training.replace(**RECIPE))


def _structure(genome):
    return (
        tuple((gene.kind, gene.stride) for gene in genome.generator),
        tuple((gene.kind, gene.stride) for gene in genome.discriminator),
        genome.training.loss,
        genome.training.optimizer,
    )


def _lost_structure(design, adapted):
    """Why `adapted` is no longer the design (in words), or None when it still is."""
    before, after = _structure(design), _structure(adapted)
    if before == after:
        return None
    labels = ("generator layers", "discriminator layers", "loss", "optimizer")
    for label, old, new in zip(labels, before, after):
        if old != new:
            return f"the space cannot hold its {label} ({_describe(old)} became {_describe(new)})"
    return None  # pragma: no cover - the tuples differ in one of the four parts.


def _describe(part):
    if isinstance(part, str):
        return part
    return "[" + " ".join(f"{kind}/{stride}" for kind, stride in part) + "]" if part else "none"


def _changes(design, adapted, scale):
    """The adaptation's changes in words: the narrowing, then each snapped field."""
    changes = []
    if scale != 1.0:
        changes.append(f"widths x{scale:g} to meet the space's cost bounds")
    for network in ("generator", "discriminator"):
        for i, (old, new) in enumerate(zip(getattr(design, network), getattr(adapted, network))):
            for field in ("size", "kernel", "activation", "norm", "rate"):
                if getattr(old, field) != getattr(new, field):
                    changes.append(
                        f"{network} layer {i} {field} {getattr(old, field)!r} -> "
                        f"{getattr(new, field)!r}"
                    )
    old_training, new_training = design.training.to_dict(), adapted.training.to_dict()
    for field in sorted(set(old_training) | set(new_training)):
        old = getattr(design.training, field)
        new = getattr(adapted.training, field)
        if old != new:
            changes.append(f"{field} {old!r} -> {new!r}")
    return changes


def architecture_key(genome):
    """The key of `genome`'s layers (and conditioning): its key with default training genes."""
    return genome.replace(training=TrainingGenes()).key()


def design_architectures(space):
    """`{architecture key: design name}` of every design fitted to `space`.

    A genome with one of these architectures is that known design whatever
    its training genes (e.g. tuned by `strategy="tune"`). A `+recipe`
    variant whose layers are its design's (the MLP GAN's) is named by the
    design; one with its own layers (a minibatch-std layer) by itself.
    """
    return {
        architecture_key(genome): name for name, genome in reversed(list(genomes(space).items()))
    }


def design_label(record):
    """How a history record names its known design: `"zoo: NAME"` as written
    (the warm start), `"tuned: NAME"` for its layers with other training genes,
    None for any other genome."""
    if record.get("zoo"):
        return f"zoo: {record['zoo']}"
    return f"tuned: {record['design']}" if record.get("design") else None
