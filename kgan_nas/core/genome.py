"""Genomes: immutable, JSON-serialisable descriptions of a GAN candidate.

A `Genome` holds three parts:

* `generator`: a variable-length tuple of `LayerGene`s,
* `discriminator`: a variable-length tuple of `LayerGene`s,
* `training`: the `TrainingGenes` (optimizer, learning rates, betas, loss).

This module is pure Python (no TensorFlow, no Keras): genomes are created,
mutated, hashed and stored by the search driver, which never needs a
deep-learning framework. Whether a genome is *valid* for an image shape is
the business of `kgan_nas.core.space.SearchSpace`.
"""

import dataclasses
import hashlib
import json

# Layer kinds. "Spatial" kinds work on (H, W, C) feature maps, "vector" kinds
# on flat features; dropout works in either section.
DENSE = "dense"
CONV2D = "conv2d"
CONV2D_TRANSPOSE = "conv2d_transpose"
UPSAMPLE_CONV2D = "upsample_conv2d"
DROPOUT = "dropout"
# Residual blocks (BigGAN-style, pre-activation) and ProGAN's minibatch
# standard deviation channel.
RESIDUAL_UP = "residual_up"
RESIDUAL_DOWN = "residual_down"
MINIBATCH_STD = "minibatch_std"

LAYER_KINDS = (
    DENSE,
    CONV2D,
    CONV2D_TRANSPOSE,
    UPSAMPLE_CONV2D,
    DROPOUT,
    RESIDUAL_UP,
    RESIDUAL_DOWN,
    MINIBATCH_STD,
)
CONV_KINDS = (CONV2D, CONV2D_TRANSPOSE, UPSAMPLE_CONV2D, RESIDUAL_UP, RESIDUAL_DOWN)
RESIDUAL_KINDS = (RESIDUAL_UP, RESIDUAL_DOWN)
# Kinds that only work on (H, W, C) feature maps (a dropout gene follows the
# section it stands in).
SPATIAL_KINDS = CONV_KINDS + (MINIBATCH_STD,)
GENERATOR_KINDS = (DENSE, CONV2D, CONV2D_TRANSPOSE, UPSAMPLE_CONV2D, DROPOUT, RESIDUAL_UP)
DISCRIMINATOR_KINDS = (DENSE, CONV2D, DROPOUT, RESIDUAL_DOWN, MINIBATCH_STD)
# What a SearchSpace allows unless told otherwise (the kinds of earlier
# versions, so a default space samples what it always sampled).
DEFAULT_GENERATOR_KINDS = (DENSE, CONV2D, CONV2D_TRANSPOSE, UPSAMPLE_CONV2D, DROPOUT)
DEFAULT_DISCRIMINATOR_KINDS = (DENSE, CONV2D, DROPOUT)

ACTIVATIONS = ("relu", "leaky_relu", "elu", "swish", "gelu", "tanh", "linear")
NORMALIZATIONS = ("none", "batch", "layer", "spectral")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
LOSSES = ("non_saturating", "hinge", "wasserstein_gp")
# How a conditional generator takes its class: the label's embedding
# concatenated to the latent, or multiplied into it (one latent-sized
# embedding per class).
GENERATOR_CONDITIONINGS = ("concat", "multiply")
# How a conditional discriminator takes its class: a learned per-class
# (H, W, 1) map concatenated to the image's channels, or a projection
# discriminator (the logit plus the inner product of a class embedding with
# the last features, Miyato & Koyama 2018).
DISCRIMINATOR_CONDITIONINGS = ("concat", "projection")
# DiffAugment's operations (Zhao et al. 2020); a policy is "none" or some
# of them joined by commas, applied in that order, e.g. "translation,cutout".
AUGMENT_OPERATIONS = ("color", "translation", "cutout")
NO_AUGMENT = "none"

GENOME_FORMAT_VERSION = 1


class _FlatRecord:
    """`replace` / `to_dict` / `from_dict` for the flat gene dataclasses."""

    _WHAT = "record"

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config):
        _check_keys(cls, config, cls._WHAT)
        return cls(**config)


@dataclasses.dataclass(frozen=True)
class LayerGene(_FlatRecord):
    """One layer of a generator or discriminator.

    Fields that do not apply to a kind hold neutral values (a dropout gene
    has `size=0`, `kernel=0`, `stride=1`, `activation="linear"`,
    `norm="none"`; a `minibatch_std` gene has only its kind), so that equal
    layers always have equal genes and equal `Genome.key()`s.
    `SearchSpace.repair` enforces this.

    Args:
        kind: One of `"dense"`, `"conv2d"`, `"conv2d_transpose"`,
            `"upsample_conv2d"` (2x nearest upsampling then a convolution),
            `"dropout"`, `"residual_up"` (generator: a residual block that
            doubles H and W: norm, activation, 2x nearest upsampling,
            convolution, norm, activation, convolution, plus a shortcut of
            upsampling and a 1x1 convolution), `"residual_down"`
            (discriminator: a residual block that halves H and W:
            activation, convolution, activation, convolution, 2x2 average
            pooling, plus a shortcut of a 1x1 convolution and pooling) or
            `"minibatch_std"` (discriminator: appends one channel holding
            the mean over channels and positions of the per-position
            standard deviation over the whole batch, `kgan_nas.training.layers`).
        size: Units (dense) or filters (convolutions, residual blocks). 0
            for dropout and minibatch_std.
        kernel: Square kernel size of a convolution or of a residual
            block's two convolutions; 0 otherwise.
        stride: 1 or 2. A stride-2 `conv2d` halves the spatial size
            (discriminator), a stride-2 `conv2d_transpose` doubles it
            (generator). Always 1 for other kinds.
        activation: Activation after the (normalised) layer; inside a
            residual block, the activation of its pre-activation steps.
        norm: `"none"`, `"batch"`, `"layer"` or `"spectral"` (spectral
            normalisation wraps the layer's kernel; discriminator only). A
            residual block normalises before each of its convolutions
            (generator) or after them (discriminator; spectral wraps all
            three of its convolutions).
        rate: Dropout rate; 0.0 for other kinds.
    """

    _WHAT = "layer gene"

    kind: str
    size: int = 0
    kernel: int = 0
    stride: int = 1
    activation: str = "linear"
    norm: str = "none"
    rate: float = 0.0

    def __post_init__(self):
        if self.kind not in LAYER_KINDS:
            raise ValueError(
                f"Unknown layer kind {self.kind!r}. Known kinds: {', '.join(LAYER_KINDS)}."
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {self.activation!r}. Known activations: "
                f"{', '.join(ACTIVATIONS)}."
            )
        if self.norm not in NORMALIZATIONS:
            raise ValueError(
                f"Unknown normalization {self.norm!r}. Known normalizations: "
                f"{', '.join(NORMALIZATIONS)}."
            )
        if self.stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {self.stride!r}.")

    @property
    def is_conv(self):
        return self.kind in CONV_KINDS

    @property
    def is_spatial(self):
        """Whether this layer works on (H, W, C) maps only (dropout goes anywhere)."""
        return self.kind in SPATIAL_KINDS

    @property
    def upsamples(self):
        """Whether this layer doubles the spatial size (generator side)."""
        return self.kind in (UPSAMPLE_CONV2D, RESIDUAL_UP) or (
            self.kind == CONV2D_TRANSPOSE and self.stride == 2
        )

    @property
    def downsamples(self):
        """Whether this layer halves the spatial size (discriminator side)."""
        return self.kind == RESIDUAL_DOWN or (self.kind == CONV2D and self.stride == 2)


@dataclasses.dataclass(frozen=True)
class TrainingGenes(_FlatRecord):
    """Genes that configure how a candidate is trained.

    The recipe genes (`ema_decay` to `d_steps`) default to off, and
    `to_dict()` leaves out each one that holds its default, so genomes
    without them keep the JSON and `Genome.key()` of earlier versions.

    Args:
        optimizer: `"adam"`, `"rmsprop"` or `"sgd"` (for both networks).
        g_learning_rate: Generator learning rate.
        d_learning_rate: Discriminator learning rate.
        beta_1: Adam's first-moment decay (ignored by other optimizers).
        beta_2: Adam's second-moment decay (ignored by other optimizers).
        loss: `"non_saturating"`, `"hinge"` or `"wasserstein_gp"`.
        ema_decay: Decay of the generator's weight average, in [0, 1); 0.0
            (the default) keeps none. With one, the candidate is scored and
            saved with the averaged generator.
        augment: DiffAugment policy applied to every image the
            discriminator sees: `"none"` (the default) or operations from
            `"color"`, `"translation"`, `"cutout"` joined by commas, e.g.
            `"translation,cutout"`.
        augment_probability: Probability that a batch is augmented, in
            (0, 1]; 1.0 (the default, and the neutral value when `augment`
            is `"none"`).
        r1_weight: Weight of the R1 penalty on the discriminator's gradient
            at real images, >= 0; 0.0 (the default) for none. Always 0.0
            with `"wasserstein_gp"`, which has its own penalty.
        d_steps: Discriminator updates per generator update, >= 1; 1 (the
            default).
    """

    _WHAT = "training genes"

    optimizer: str = "adam"
    g_learning_rate: float = 2e-4
    d_learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    loss: str = "non_saturating"
    ema_decay: float = 0.0
    augment: str = NO_AUGMENT
    augment_probability: float = 1.0
    r1_weight: float = 0.0
    d_steps: int = 1

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer {self.optimizer!r}. Known optimizers: {', '.join(OPTIMIZERS)}."
            )
        if self.loss not in LOSSES:
            raise ValueError(f"Unknown loss {self.loss!r}. Known losses: {', '.join(LOSSES)}.")
        for name in ("g_learning_rate", "d_learning_rate"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}.")
        _check_recipe(self)

    def to_dict(self):
        """The fields as a dict, without the recipe genes that hold their default."""
        config = dataclasses.asdict(self)
        for name in RECIPE_FIELDS:
            if config[name] == RECIPE_DEFAULTS[name]:
                del config[name]
        return config

    def describe(self):
        """The recipe genes that are on, e.g. `ema=0.999 aug=translation@0.5 r1=1 d2`."""
        parts = []
        if self.ema_decay:
            parts.append(f"ema={self.ema_decay:g}")
        if self.augment != NO_AUGMENT:
            probability = f"@{self.augment_probability:g}" if self.augment_probability != 1 else ""
            parts.append(f"aug={self.augment}{probability}")
        if self.r1_weight:
            parts.append(f"r1={self.r1_weight:g}")
        if self.d_steps != 1:
            parts.append(f"d{self.d_steps}")
        return " ".join(parts)


# The training-recipe genes and their off values (left out of the JSON).
RECIPE_DEFAULTS = {
    "ema_decay": 0.0,
    "augment": NO_AUGMENT,
    "augment_probability": 1.0,
    "r1_weight": 0.0,
    "d_steps": 1,
}
RECIPE_FIELDS = tuple(RECIPE_DEFAULTS)


def augment_operations(policy):
    """The operations of a DiffAugment policy string (`()` for `"none"`).

    Args:
        policy: `"none"` or operations from `AUGMENT_OPERATIONS` joined by
            commas, e.g. `"translation,cutout"`.

    Returns:
        A tuple of operation names, in order.

    Raises:
        ValueError: if `policy` is not a string, names an unknown operation
            or repeats one.
    """
    if not isinstance(policy, str):
        raise ValueError(f"An augment policy must be a string, got {policy!r}.")
    if policy == NO_AUGMENT:
        return ()
    operations = tuple(policy.split(","))
    unknown = [name for name in operations if name not in AUGMENT_OPERATIONS]
    if unknown or len(set(operations)) != len(operations):
        raise ValueError(
            f"Invalid augment policy {policy!r}: use 'none' or operations from "
            f"{', '.join(AUGMENT_OPERATIONS)} joined by commas, each once, without "
            "spaces, e.g. 'translation,cutout'."
        )
    return operations


def _check_recipe(genes):
    """Raises ValueError naming the first recipe gene of `genes` out of range."""
    if not (_is_real(genes.ema_decay) and 0 <= genes.ema_decay < 1):
        raise ValueError(f"ema_decay must be in [0, 1) (0 for none), got {genes.ema_decay!r}.")
    augment_operations(genes.augment)
    probability = genes.augment_probability
    if not (_is_real(probability) and 0 < probability <= 1):
        raise ValueError(f"augment_probability must be in (0, 1], got {probability!r}.")
    if not (_is_real(genes.r1_weight) and genes.r1_weight >= 0):
        raise ValueError(f"r1_weight must be a number >= 0, got {genes.r1_weight!r}.")
    steps = genes.d_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"d_steps must be an integer >= 1, got {steps!r}.")


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class ConditioningGenes(_FlatRecord):
    """How a class-conditional GAN takes its class labels.

    A genome with these genes decodes to a generator taking `(z, class)`
    and a discriminator taking `(image, class)`; a genome without them
    (`Genome.conditioning is None`) is unconditional.

    Args:
        generator: `"concat"` (a learned embedding of the class,
            `embedding_dim` wide, concatenated to the latent) or
            `"multiply"` (a learned latent-sized embedding multiplied into
            the latent).
        discriminator: `"concat"` (a learned `(H, W, 1)` map per class
            concatenated to the image's channels) or `"projection"` (the
            logit plus the inner product of a learned class embedding with
            the discriminator's last features).
        embedding_dim: Width of the generator's embedding for `"concat"`;
            0 for `"multiply"` (its width is the latent size), so that equal
            networks have equal genes.
    """

    _WHAT = "conditioning genes"

    generator: str = "concat"
    discriminator: str = "projection"
    embedding_dim: int = 16

    def __post_init__(self):
        if self.generator not in GENERATOR_CONDITIONINGS:
            raise ValueError(
                f"Unknown generator conditioning {self.generator!r}. Known: "
                f"{', '.join(GENERATOR_CONDITIONINGS)}."
            )
        if self.discriminator not in DISCRIMINATOR_CONDITIONINGS:
            raise ValueError(
                f"Unknown discriminator conditioning {self.discriminator!r}. Known: "
                f"{', '.join(DISCRIMINATOR_CONDITIONINGS)}."
            )
        size = self.embedding_dim
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"embedding_dim must be an integer >= 0, got {size!r}.")
        if self.generator == "concat" and size == 0:
            raise ValueError(
                "embedding_dim must be positive for generator='concat' (the width of "
                "the label embedding concatenated to the latent)."
            )

    def describe(self):
        """A short summary, e.g. `concat16/projection`."""
        width = f"{self.embedding_dim}" if self.generator == "concat" else ""
        return f"{self.generator}{width}/{self.discriminator}"


@dataclasses.dataclass(frozen=True)
class Genome:
    """A GAN candidate: generator layers, discriminator layers, training genes.

    Genomes are immutable values. Use `key()` to identify them (stable across
    processes and Python versions, unlike the built-in `hash()`), and
    `to_json()` / `Genome.from_json()` to store them.

    Example:

    ```python
    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1))
    genome = space.sample(numpy.random.default_rng(0))
    assert Genome.from_json(genome.to_json()) == genome
    print(genome.key(), genome.describe())
    ```

    Args:
        generator: Tuple of `LayerGene`s between the latent projection and
            the output convolution.
        discriminator: Tuple of `LayerGene`s between the input image and the
            output logit.
        training: `TrainingGenes`.
        conditioning: `ConditioningGenes` of a class-conditional GAN, or
            None (the default) for an unconditional one. Unconditional
            genomes store no `"conditioning"` key, so their JSON and `key()`
            are those of earlier versions.
    """

    generator: tuple
    discriminator: tuple
    training: TrainingGenes = TrainingGenes()
    conditioning: ConditioningGenes | None = None

    def __post_init__(self):
        # Accept lists for convenience but store tuples, so genomes stay
        # hashable and immutable.
        object.__setattr__(self, "generator", tuple(self.generator))
        object.__setattr__(self, "discriminator", tuple(self.discriminator))
        for part in ("generator", "discriminator"):
            for gene in getattr(self, part):
                if not isinstance(gene, LayerGene):
                    raise TypeError(
                        f"Genome.{part} must hold LayerGene objects, got {type(gene).__name__}."
                    )
        if not isinstance(self.training, TrainingGenes):
            raise TypeError(
                f"Genome.training must be a TrainingGenes, got {type(self.training).__name__}."
            )
        if self.conditioning is not None and not isinstance(self.conditioning, ConditioningGenes):
            raise TypeError(
                "Genome.conditioning must be a ConditioningGenes or None, got "
                f"{type(self.conditioning).__name__}."
            )

    @property
    def conditional(self):
        """Whether this genome decodes to a class-conditional GAN."""
        return self.conditioning is not None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        config = {
            "format": GENOME_FORMAT_VERSION,
            "generator": [gene.to_dict() for gene in self.generator],
            "discriminator": [gene.to_dict() for gene in self.discriminator],
            "training": self.training.to_dict(),
        }
        if self.conditioning is not None:
            config["conditioning"] = self.conditioning.to_dict()
        return config

    @classmethod
    def from_dict(cls, config):
        """Rebuilds a genome from `to_dict()` output.

        Raises:
            ValueError: if the dict is not a genome (missing or unknown keys,
                unknown layer kinds, or a newer format version).
        """
        if not isinstance(config, dict):
            raise ValueError(f"A genome must be a dict, got {type(config).__name__}.")
        version = config.get("format", GENOME_FORMAT_VERSION)
        if version != GENOME_FORMAT_VERSION:
            raise ValueError(
                f"Genome format {version} is not supported by this version of "
                f"kgan_nas (format {GENOME_FORMAT_VERSION}); upgrade kgan_nas."
            )
        missing = {"generator", "discriminator", "training"} - set(config)
        if missing:
            raise ValueError(f"Genome dict is missing keys: {sorted(missing)}.")
        conditioning = config.get("conditioning")
        if conditioning is not None:
            conditioning = ConditioningGenes.from_dict(conditioning)
        return cls(
            generator=tuple(LayerGene.from_dict(g) for g in config["generator"]),
            discriminator=tuple(LayerGene.from_dict(g) for g in config["discriminator"]),
            training=TrainingGenes.from_dict(config["training"]),
            conditioning=conditioning,
        )

    def to_json(self):
        """Canonical JSON text (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def key(self):
        """A stable 16-hex-digit identifier of this genome's content."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()[:16]

    def describe(self):
        """A one-line human summary, e.g. `G[dense256 up64 conv32] D[...]`."""
        return (
            f"G[{' '.join(_short(g) for g in self.generator)}] "
            f"D[{' '.join(_short(g) for g in self.discriminator)}] "
            f"{self.training.loss} {self.training.optimizer} "
            f"lr={self.training.g_learning_rate:g}/{self.training.d_learning_rate:g}"
            + (f" {self.training.describe()}" if self.training.describe() else "")
            + (f" cond={self.conditioning.describe()}" if self.conditioning else "")
        )


def _short(gene):
    if gene.kind == DROPOUT:
        return f"drop{gene.rate:g}"
    if gene.kind == MINIBATCH_STD:
        return "mbstd"
    names = {
        DENSE: "dense",
        CONV2D: "conv" if gene.stride == 1 else "down",
        CONV2D_TRANSPOSE: "tconv" if gene.stride == 1 else "tup",
        UPSAMPLE_CONV2D: "up",
        RESIDUAL_UP: "resup",
        RESIDUAL_DOWN: "resdown",
    }
    text = f"{names[gene.kind]}{gene.size}"
    if gene.is_conv:
        text += f"k{gene.kernel}"
    if gene.norm != "none":
        text += f"/{gene.norm[:2]}"
    return text


def _check_keys(cls, config, what):
    if not isinstance(config, dict):
        raise ValueError(f"A {what} must be a dict, got {type(config).__name__}.")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = set(config) - known
    if unknown:
        raise ValueError(
            f"Unknown {what} field(s) {sorted(unknown)}; known fields: {sorted(known)}."
        )
