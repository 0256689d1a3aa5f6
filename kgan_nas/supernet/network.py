"""A supernet of a search space: every layer slot holds the space's candidate operations.

Gradient-based architecture search (DARTS, Liu et al. 2019; for GANs,
AdversarialNAS, Gao et al. 2020) relaxes the choice of an operation into a
softmax-weighted mixture: each slot computes all its candidate operations
and sums them with weights `softmax(alpha)`, and the architecture
parameters `alpha` are learnt by gradient descent with the networks'
weights. Here a candidate operation is a layer gene of the space (a kind, a
kernel size and a normalisation at the slot's width), built by the decoder's
own `gene_layers`, so the derived architecture (each slot's strongest
operation) is an ordinary genome.

The skeleton follows the space's plans: the generator projects the latent
to the start map of `u` upsampling slots (u the fewest the space allows) and
ends in the decoder's fixed output convolution; the discriminator has as
many downsampling slots, then the flatten and logit of every genome.
"""

import keras
from keras import ops

from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.shapes import OUTPUT_KERNEL

# The activation of every candidate: the one the zoo's DCGANs use, if the
# space offers it. Mixing activations too would multiply the operations.
PREFERRED_ACTIVATION = "leaky_relu"
# The mixture weights are softmax(alpha / TEMPERATURE). Adam moves a weight by
# about its learning rate per step whatever the gradient's scale, so at a GAN's
# 2e-4 the alphas would hardly move in a few thousand steps; dividing by 0.1
# makes them learn ten times faster (DARTS gives its alphas their own, larger
# rate; here they share each network's optimizer).
TEMPERATURE = 0.1
_GENERATOR_KINDS = (genome_lib.CONV2D_TRANSPOSE, genome_lib.UPSAMPLE_CONV2D, genome_lib.RESIDUAL_UP)
_DISCRIMINATOR_KINDS = (genome_lib.CONV2D, genome_lib.RESIDUAL_DOWN)


@keras.saving.register_keras_serializable(package="kgan_nas")
class ArchitectureMix(keras.layers.Layer):
    """Sums its inputs weighted by `softmax(alpha / TEMPERATURE)`; `alpha` is trainable.

    Args:
        candidates: How many inputs (candidate operations) it mixes.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(self, candidates, **kwargs):
        super().__init__(**kwargs)
        self.candidates = int(candidates)

    def build(self, input_shape):
        # Zeros: every operation starts with the same weight.
        self.alpha = self.add_weight(
            shape=(self.candidates,), initializer="zeros", trainable=True, name="alpha"
        )

    def call(self, inputs):
        weights = ops.softmax(self.alpha / TEMPERATURE)
        return sum(weights[i] * ops.cast(x, weights.dtype) for i, x in enumerate(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return dict(super().get_config(), candidates=self.candidates)


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


def build_supernet(space):
    """The supernet's generator and discriminator.

    Args:
        space: The `SearchSpace` (unconditional).

    Returns:
        `(generator, discriminator)` Keras models with the interfaces of a
        decoded genome's; their `ArchitectureMix` layers are named
        `g_slot{i}` and `d_slot{i}`.

    Raises:
        ValueError: for a conditional space, or one without candidates.
    """
    from kgan_nas.evaluation.decode import gene_layers

    if space.num_classes is not None:
        raise ValueError("The supernet searches unconditional spaces only (num_classes=None).")
    g_genes, d_genes, slots = skeleton(space)
    plan = space.generator_plan(genome_of(space, [g_genes[0]] * slots, [d_genes[0]] * slots))
    project = next(step for step in plan if step.role == "project")
    output = plan[-1]
    latent = keras.Input(shape=(space.latent_dim,), name="latent")
    x = keras.layers.Dense(_units(project.output_shape), name="project")(latent)
    x = keras.layers.Activation("relu", name="project_relu")(x)
    x = keras.layers.Reshape(project.output_shape, name="project_reshape")(x)
    for slot in range(slots):
        branches = [gene_layers(g, x, f"g{slot}_op{i}") for i, g in enumerate(g_genes)]
        x = ArchitectureMix(len(branches), name=f"g_slot{slot}")(branches)
    x = keras.layers.Conv2D(
        output.output_shape[-1], OUTPUT_KERNEL, padding="same", activation="tanh", name="image"
    )(x)
    generator = keras.Model(latent, x, name="supernet_generator")

    image = keras.Input(shape=space.image_shape, name="image")
    x = image
    for slot in range(slots):
        branches = [gene_layers(g, x, f"d{slot}_op{i}") for i, g in enumerate(d_genes)]
        x = ArchitectureMix(len(branches), name=f"d_slot{slot}")(branches)
    x = keras.layers.Flatten(name="flatten")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    discriminator = keras.Model(image, logit, name="supernet_discriminator")
    return generator, discriminator


def _units(shape):
    size = 1
    for dim in shape:
        size *= dim
    return size


def architecture_weights(model, prefix):
    """Each slot's mixture weights (`softmax(alpha / TEMPERATURE)`), slots `prefix{i}` in order."""
    mixes = sorted(
        (layer for layer in model.layers if isinstance(layer, ArchitectureMix)),
        key=lambda layer: int(layer.name.removeprefix(prefix)),
    )
    return [
        [float(w) for w in ops.convert_to_numpy(ops.softmax(layer.alpha.value / TEMPERATURE))]
        for layer in mixes
    ]
