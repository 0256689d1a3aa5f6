"""A genome as a point of a box of reals, and back: the particle swarm's coordinates.

`SwarmEncoding` maps the genomes of a `SearchSpace` to points of a box (the
two networks' layer counts, every gene of every layer slot, the training
genes) and a point back to a valid genome: categorical coordinates floor to
an index, numeric ones snap to the nearest of the space's choices, and the
space's own repair finishes the genome (pure Python and numpy).
"""

import math

import numpy as np

from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import ConditioningGenes
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes

# Coordinate kinds. A "choice" coordinate covers [0, n] and floors to the
# index of one of n choices; "log" and "linear" coordinates cover the span of
# numeric choices (on a log scale for learning rates) and snap to the nearest.
_CHOICE = "choice"
_LOG = "log"
_LINEAR = "linear"

# The coordinates of one layer slot, each with the space's choices for it.
_SLOT_FIELDS = ("kind", "units", "filters", "kernel", "stride", "activation", "norm", "rate")
_NETWORKS = ("generator", "discriminator")


class SwarmEncoding:
    """Maps genomes of a `SearchSpace` to points of a box of reals and back.

    The coordinates, in order (`names`):

    * `generator.layers`, `discriminator.layers`: the layer counts, as
      choices among the space's bounds (the generator's lower bound raised to
      the upsampling layers the image needs).
    * For each layer slot of each network, up to the space's maximum layers
      (`generator[0].kind`, ...): the layer kind, dense units, convolution
      filters, kernel, stride (1 or 2), activation, normalisation and
      dropout rate. Only the first `layers` slots decode; a field the slot's
      kind does not use (the filters of a dense layer) is carried along
      unused, so a particle can switch kinds and find its other genes again.
    * The training genes: optimizer, learning rates on a log scale, betas,
      loss and the recipe genes (`training.ema_decay`, ...), plus the
      conditioning genes (`conditioning.generator`, ...) of a conditional
      space.

    A categorical coordinate covers `[0, n]` for `n` choices and floors to
    an index (`n` itself is the last choice); ordered choices (sizes,
    kernels, rates, layer counts) are sorted so that neighbouring positions
    are similar genes. Learning rates and betas are continuous over the
    span of their choices and snap to the nearest choice (in log space for
    learning rates), which is what the space's repair does to any value.

    Args:
        space: The `kgan_nas.SearchSpace`.

    Attributes:
        names: The coordinate names, one per dimension.
        low: Lower bounds, a float64 array.
        high: Upper bounds, a float64 array.
    """

    def __init__(self, space):
        self.space = space
        self._dims = []  # (name, kind, choices), choices sorted where ordered.
        low_up, _ = space.upsample_range()
        g_low, g_high = space.generator_layers
        d_low, d_high = space.discriminator_layers
        # The sampler never builds fewer generator layers than the upsampling
        # path needs; repair would add them anyway.
        g_low = min(max(g_low, low_up), g_high)
        self._add_choice("generator.layers", range(g_low, g_high + 1), ordered=True)
        self._add_choice("discriminator.layers", range(d_low, d_high + 1), ordered=True)
        self._slots = {"generator": [], "discriminator": []}
        for network, count in (("generator", g_high), ("discriminator", d_high)):
            kinds = (
                space.generator_layer_types
                if network == "generator"
                else space.discriminator_layer_types
            )
            norms = (
                space.generator_normalizations
                if network == "generator"
                else space.discriminator_normalizations
            )
            choices = {
                "kind": (kinds, False),
                "units": (space.units, True),
                "filters": (space.filters, True),
                "kernel": (space.kernel_sizes, True),
                "stride": ((1, 2), True),
                "activation": (space.activations, False),
                "norm": (norms, False),
                "rate": (space.dropout_rates, True),
            }
            for slot in range(count):
                first = len(self._dims)
                for field in _SLOT_FIELDS:
                    values, ordered = choices[field]
                    self._add_choice(f"{network}[{slot}].{field}", values, ordered)
                self._slots[network].append(first)
        self._training = len(self._dims)
        self._add_choice("training.optimizer", space.optimizers)
        self._add_numeric("training.g_learning_rate", space.learning_rates, _LOG)
        self._add_numeric("training.d_learning_rate", space.learning_rates, _LOG)
        self._add_numeric("training.beta_1", space.beta_1, _LINEAR)
        self._add_numeric("training.beta_2", space.beta_2, _LINEAR)
        self._add_choice("training.loss", space.losses)
        self._add_choice("training.ema_decay", space.ema_decays, ordered=True)
        self._add_choice("training.augment", space.augment_policies)
        self._add_choice("training.augment_probability", space.augment_probabilities, ordered=True)
        self._add_choice("training.r1_weight", space.r1_weights, ordered=True)
        self._add_choice("training.d_steps", space.d_steps, ordered=True)
        if space.conditional:
            self._add_choice("conditioning.generator", space.generator_conditionings)
            self._add_choice("conditioning.discriminator", space.discriminator_conditionings)
            self._add_choice("conditioning.embedding_dim", space.embedding_dims, ordered=True)
        self.names = tuple(name for name, _, _ in self._dims)
        self._index = {name: i for i, name in enumerate(self.names)}
        self.low = np.array([self._bounds(kind, c)[0] for _, kind, c in self._dims])
        self.high = np.array([self._bounds(kind, c)[1] for _, kind, c in self._dims])

    def _add_choice(self, name, values, ordered=False):
        values = tuple(values)
        self._dims.append((name, _CHOICE, tuple(sorted(values)) if ordered else values))

    def _add_numeric(self, name, values, kind):
        self._dims.append((name, kind, tuple(sorted(values))))

    @staticmethod
    def _bounds(kind, choices):
        if kind == _CHOICE:
            return (0.0, float(len(choices)))
        if kind == _LOG:
            return (math.log(choices[0]), math.log(choices[-1]))
        return (float(choices[0]), float(choices[-1]))

    @property
    def size(self):
        """The number of coordinates."""
        return len(self._dims)

    # ------------------------------------------------------------------
    # Decoding
    # ------------------------------------------------------------------

    def decode(self, position):
        """The valid genome at `position`.

        Args:
            position: A sequence of `size` reals (clipped into the box).

        Returns:
            A `Genome`, repaired by the space (`SearchSpace.repair`), so
            valid in it.

        Raises:
            ValueError: if `position` has the wrong length.
            kgan_nas.core.space.InvalidGenomeError: if the space cannot repair
                the decoded genome (e.g. `max_params` too small for it).
        """
        position = np.asarray(position, dtype=float)
        if position.shape != (self.size,):
            raise ValueError(f"A position has {self.size} coordinates, got shape {position.shape}.")
        position = np.clip(position, self.low, self.high)
        value = lambda i: self._value(i, position[i])  # noqa: E731
        networks = {}
        for n, network in enumerate(_NETWORKS):
            count = value(n)
            networks[network] = tuple(
                self._gene(network, [value(first + k) for k in range(len(_SLOT_FIELDS))])
                for first in self._slots[network][:count]
            )
        t = self._training
        training = TrainingGenes(
            optimizer=value(t),
            g_learning_rate=value(t + 1),
            d_learning_rate=value(t + 2),
            beta_1=value(t + 3),
            beta_2=value(t + 4),
            loss=value(t + 5),
            ema_decay=value(t + 6),
            augment=value(t + 7),
            augment_probability=value(t + 8),
            r1_weight=value(t + 9),
            d_steps=value(t + 10),
        )
        conditioning = None
        if self.space.conditional:
            c = t + 11
            conditioning = ConditioningGenes(value(c), value(c + 1), value(c + 2))
        genome = Genome(networks["generator"], networks["discriminator"], training, conditioning)
        return self.space.repair(genome)

    def _value(self, i, x):
        _, kind, choices = self._dims[i]
        if kind == _CHOICE:
            return choices[min(max(int(math.floor(x)), 0), len(choices) - 1)]
        if kind == _LOG:
            return min(choices, key=lambda c: abs(math.log(c) - x))
        return min(choices, key=lambda c: abs(c - x))

    @staticmethod
    def _gene(network, values):
        kind, units, filters, kernel, stride, activation, norm, rate = values
        if kind == genome_lib.DROPOUT:
            return LayerGene(kind, rate=rate)
        if kind == genome_lib.MINIBATCH_STD:
            return LayerGene(kind)
        if kind == genome_lib.DENSE:
            return LayerGene(kind, size=units, activation=activation, norm=norm)
        if not _has_stride(kind, network):
            stride = 1
        return LayerGene(
            kind, size=filters, kernel=kernel, stride=stride, activation=activation, norm=norm
        )

    # ------------------------------------------------------------------
    # Encoding
    # ------------------------------------------------------------------

    def encode(self, genome, fill=None):
        """A position that decodes to `genome` when `genome` is valid in the space.

        Each gene goes to the middle of its choice's cell (the choice's
        value for learning rates and betas). Coordinates the genome does not
        determine (slots beyond its layer counts, fields its layers' kinds
        do not use, values outside the space's choices) are taken from
        `fill`.

        Args:
            genome: A `Genome`.
            fill: The position to take undetermined coordinates from; None
                takes the middle of the box.

        Returns:
            A float64 array of `size` coordinates within the bounds.
        """
        if fill is None:
            position = (self.low + self.high) / 2
        else:
            position = np.clip(np.array(fill, dtype=float), self.low, self.high)
        for n, network in enumerate(_NETWORKS):
            genes = getattr(genome, network)[: len(self._slots[network])]
            self._set(position, n, len(genes))
            for gene, first in zip(genes, self._slots[network]):
                fields = {"kind": gene.kind}
                if gene.kind == genome_lib.DROPOUT:
                    fields["rate"] = gene.rate
                elif gene.kind == genome_lib.DENSE:
                    fields.update(units=gene.size, activation=gene.activation, norm=gene.norm)
                elif gene.kind != genome_lib.MINIBATCH_STD:
                    fields.update(
                        filters=gene.size,
                        kernel=gene.kernel,
                        activation=gene.activation,
                        norm=gene.norm,
                    )
                    if _has_stride(gene.kind, network):
                        fields["stride"] = gene.stride
                for k, field in enumerate(_SLOT_FIELDS):
                    if field in fields:
                        self._set(position, first + k, fields[field])
        training = genome.training
        t = self._training
        for k, field in enumerate(
            (
                "optimizer",
                "g_learning_rate",
                "d_learning_rate",
                "beta_1",
                "beta_2",
                "loss",
                "ema_decay",
                "augment",
                "augment_probability",
                "r1_weight",
                "d_steps",
            )
        ):
            self._set(position, t + k, getattr(training, field))
        if self.space.conditional and genome.conditioning is not None:
            for k, field in enumerate(("generator", "discriminator", "embedding_dim")):
                self._set(position, t + 11 + k, getattr(genome.conditioning, field))
        return position

    def _set(self, position, i, value):
        """Puts coordinate `i` in the cell of `value` (unchanged for a value not a choice)."""
        _, kind, choices = self._dims[i]
        if value not in choices:
            return
        if kind == _CHOICE:
            position[i] = choices.index(value) + 0.5
        elif kind == _LOG:
            position[i] = math.log(value)
        else:
            position[i] = float(value)


def _has_stride(kind, network):
    """Whether a layer's stride is a gene (the others are always 1)."""
    if network == "generator":
        return kind == genome_lib.CONV2D_TRANSPOSE
    return kind == genome_lib.CONV2D
