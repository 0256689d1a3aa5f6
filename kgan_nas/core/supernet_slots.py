"""The slots of a space's supernet and their candidate operations (pure Python).

Gradient-based search (`kgan_nas.supernet`, `strategy="differentiable"`)
trains a supernet whose layer slots mix candidate operations; each candidate
is a layer gene of the space, so the derived architecture is an ordinary
genome. This module says which genes, in how many slots: the strategy checks
a space with it before any Keras is imported.
"""

from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes

# The activation of every candidate: the one the zoo's DCGANs use, if the
# space offers it. Mixing activations too would multiply the operations.
PREFERRED_ACTIVATION = "leaky_relu"
_GENERATOR_KINDS = (genome_lib.CONV2D_TRANSPOSE, genome_lib.UPSAMPLE_CONV2D, genome_lib.RESIDUAL_UP)
_DISCRIMINATOR_KINDS = (genome_lib.CONV2D, genome_lib.RESIDUAL_DOWN)


def _activation(space):
    return (
        PREFERRED_ACTIVATION if PREFERRED_ACTIVATION in space.activations else space.activations[0]
    )


def slot_width(space):
    """The filters of every slot: the middle choice of the space's filters."""
    filters = sorted(space.filters)
    return filters[(len(filters) - 1) // 2]


def slot_count(space):
    """Upsampling (and downsampling) slots: the fewest upsamplings the space allows."""
    return max(1, space.upsample_range()[0])


def candidates(space, network):
    """The candidate operations of one slot of `network`, as `LayerGene`s.

    Every kind of the space that changes the map size by 2 (up in the
    generator, down in the discriminator) with every kernel size and every
    normalisation of that network, at `slot_width(space)` filters.

    Args:
        space: The `SearchSpace`.
        network: `"generator"` or `"discriminator"`.

    Returns:
        A list of `LayerGene`s; empty when the space has no such kind.
    """
    generator = network == "generator"
    allowed = space.generator_layer_types if generator else space.discriminator_layer_types
    kinds = [k for k in (_GENERATOR_KINDS if generator else _DISCRIMINATOR_KINDS) if k in allowed]
    norms = space.generator_normalizations if generator else space.discriminator_normalizations
    genes = []
    for kind in kinds:
        # A transposed or plain convolution changes the size by its stride;
        # the upsampling convolution and the residual blocks by themselves.
        stride = 2 if kind in (genome_lib.CONV2D_TRANSPOSE, genome_lib.CONV2D) else 1
        for kernel in space.kernel_sizes:
            for norm in norms:
                genes.append(
                    LayerGene(
                        kind,
                        size=slot_width(space),
                        kernel=kernel,
                        stride=stride,
                        activation=_activation(space),
                        norm=norm,
                    )
                )
    return genes


def skeleton(space):
    """`(generator candidates, discriminator candidates, slots)`, checked.

    Raises:
        ValueError: when a network has no candidate operation (the space
            offers no kind that changes the map size).
    """
    if space.upsample_range()[1] < 1:
        raise ValueError(
            f"A {space.image_shape[0]}x{space.image_shape[1]} image cannot be reached by "
            "doubling a start map (no valid generator upsamples), so a supernet of "
            "up- and downsampling slots does not fit this space; use another strategy."
        )
    generator, discriminator = candidates(space, "generator"), candidates(space, "discriminator")
    for name, found in (("generator", generator), ("discriminator", discriminator)):
        if not found:
            raise ValueError(
                f"The space gives the {name} no layer kind that halves or doubles the map "
                "size, so a supernet has nothing to choose from; add e.g. "
                f"{'conv2d_transpose' if name == 'generator' else 'conv2d'} to its layer types."
            )
    return generator, discriminator, slot_count(space)


def genome_of(space, generator_genes, discriminator_genes, training=None):
    """The genome whose slots hold the given genes (not repaired)."""
    return Genome(list(generator_genes), list(discriminator_genes), training or TrainingGenes())
