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

import re

import keras
from keras import ops

from kgan_nas.core.shapes import OUTPUT_KERNEL
from kgan_nas.core.supernet_slots import genome_of
from kgan_nas.core.supernet_slots import skeleton

# The mixture weights are softmax(alpha / TEMPERATURE). Adam moves a weight by
# about its learning rate per step whatever the gradient's scale, so at a GAN's
# 2e-4 the alphas would hardly move in a few thousand steps; dividing by 0.1
# makes them learn ten times faster (DARTS gives its alphas their own, larger
# rate; here they share each network's optimizer).
TEMPERATURE = 0.1


@keras.saving.register_keras_serializable(package="kgan_nas")
class ArchitectureMix(keras.layers.Layer):
    """Sums its inputs weighted by `softmax(alpha / TEMPERATURE)`; `alpha` is trainable.

    With `sample_paths`, a call in training mode instead passes one input
    drawn uniformly at random (a fresh draw per call): the uniform
    single-path training of one-shot search (Guo et al., "Single Path One-Shot
    Neural Architecture Search with Uniform Sampling", ECCV 2020), in which
    every operation learns to work in every path, so that any path can later
    be scored with the shared weights. The draw happens inside the compiled
    step, so the supernet compiles once on every backend.

    Args:
        candidates: How many inputs (candidate operations) it mixes.
        sample_paths: Train one uniformly drawn operation per call instead
            of the mixture (the alphas are then not trained). Inference
            always uses the alphas (`select_path` fixes one). Defaults to False.
        seed: Seed of the draws (with `sample_paths`). Defaults to None.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(self, candidates, sample_paths=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.candidates = int(candidates)
        self.sample_paths = bool(sample_paths)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.sample_paths else None

    def build(self, input_shape):
        # Zeros: every operation starts with the same weight. Drawn paths never
        # use the alphas in training, so they are not trained then.
        self.alpha = self.add_weight(
            shape=(self.candidates,),
            initializer="zeros",
            trainable=not self.sample_paths,
            name="alpha",
        )

    def call(self, inputs, training=None):
        if self.sample_paths and training:
            choice = keras.random.randint((), 0, self.candidates, seed=self.seed_generator)
            weights = ops.one_hot(choice, self.candidates, dtype=self.alpha.dtype)
        else:
            weights = ops.softmax(self.alpha / TEMPERATURE)
        # A weight of exactly 0 (a selected path, or an underflow) leaves its
        # operation out entirely: 0 * inf would be NaN and poison the sum.
        return sum(
            ops.where(weights[i] > 0, weights[i] * ops.cast(x, weights.dtype), 0.0)
            for i, x in enumerate(inputs)
        )

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return dict(
            super().get_config(),
            candidates=self.candidates,
            sample_paths=self.sample_paths,
            seed=self.seed,
        )


def build_supernet(space, sample_paths=False, seed=None):
    """The supernet's generator and discriminator.

    Args:
        space: The `SearchSpace` (unconditional).
        sample_paths: Uniform single-path training (see `ArchitectureMix`)
            instead of the softmax mixture. Defaults to False.
        seed: Seed of the single-path draws (each slot gets its own stream).

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
        x = ArchitectureMix(
            len(branches), sample_paths, _slot_seed(seed, slot), name=f"g_slot{slot}"
        )(branches)
    x = keras.layers.Conv2D(
        output.output_shape[-1], OUTPUT_KERNEL, padding="same", activation="tanh", name="image"
    )(x)
    generator = keras.Model(latent, x, name="supernet_generator")

    image = keras.Input(shape=space.image_shape, name="image")
    x = image
    for slot in range(slots):
        branches = [gene_layers(g, x, f"d{slot}_op{i}") for i, g in enumerate(d_genes)]
        x = ArchitectureMix(
            len(branches), sample_paths, _slot_seed(seed, slots + slot), name=f"d_slot{slot}"
        )(branches)
    x = keras.layers.Flatten(name="flatten")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    discriminator = keras.Model(image, logit, name="supernet_discriminator")
    return generator, discriminator


def _slot_seed(seed, slot):
    # Distinct streams per slot: equal seeds would draw the same index in every slot.
    return None if seed is None else int(seed) * 1000 + slot


def _units(shape):
    size = 1
    for dim in shape:
        size *= dim
    return size


def _mixes(model, prefix):
    """The model's `ArchitectureMix` slots `prefix{i}`, in slot order."""
    return sorted(
        (layer for layer in model.layers if isinstance(layer, ArchitectureMix)),
        key=lambda layer: int(layer.name.removeprefix(prefix)),
    )


def architecture_weights(model, prefix):
    """Each slot's mixture weights (`softmax(alpha / TEMPERATURE)`), slots `prefix{i}` in order."""
    return [
        [float(w) for w in ops.convert_to_numpy(ops.softmax(layer.alpha.value / TEMPERATURE))]
        for layer in _mixes(model, prefix)
    ]


# |alpha| of a fixed path: softmax(±PATH_ALPHA / TEMPERATURE) is exactly one-hot in float32.
PATH_ALPHA = 100.0


def select_path(model, prefix, choices):
    """Makes each slot pass one operation: slot i only `choices[i]`, the others weighted 0.

    The supernet then computes one subnet, with the weights it learnt (the
    weight-sharing evaluation of one-shot search); the alphas are
    overwritten, so read `architecture_weights` first.

    Args:
        model: A supernet generator or discriminator (`build_supernet`).
        prefix: Its slots' name prefix, `"g_slot"` or `"d_slot"`.
        choices: One candidate index per slot.

    Raises:
        ValueError: for a wrong number of choices, or an index out of range.
    """
    mixes = _mixes(model, prefix)
    if len(choices) != len(mixes):
        raise ValueError(f"{len(choices)} choices for {len(mixes)} slots {prefix}*")
    for layer, choice in zip(mixes, choices):
        if not 0 <= choice < layer.candidates:
            raise ValueError(f"slot {layer.name} has {layer.candidates} candidates, not {choice}")
        alpha = [-PATH_ALPHA] * layer.candidates
        alpha[choice] = PATH_ALPHA
        layer.alpha.assign(ops.convert_to_tensor(alpha, dtype=layer.alpha.dtype))


# The name of a candidate operation's layer: `g{slot}_op{index}_...` (`gene_layers`' prefix).
_OPERATION = re.compile(r"^[gd](\d+)_op(\d+)_")
# The name of a decoded genome's gene layer: `g{index}_...` (`decode.build_generator`).
_GENE = re.compile(r"^[gd]\d+_")


def path_layers(model, choices):
    """The layers with weights that one path of a supernet network computes, in graph order.

    The network's own layers (the generator's projection and output
    convolution, the discriminator's logit) and, in each slot, the layers of
    its chosen operation; the architecture weights are left out. These are
    the layers, in order, of the genome the path is (`decode.build_generator`
    or `build_discriminator`), so `copy_path` can pair them one to one.

    Args:
        model: A supernet generator or discriminator (`build_supernet`).
        choices: One candidate index per slot.

    Returns:
        A list of Keras layers.
    """
    chosen = []
    for layer in model.layers:
        if not layer.weights or isinstance(layer, ArchitectureMix):
            continue
        match = _OPERATION.match(layer.name)
        if match is None or int(match[2]) == choices[int(match[1])]:
            chosen.append(layer)
    return chosen


def copy_path(model, choices, target):
    """Gives `target`, the decoded genome of a path, the supernet's weights of that path.

    Weight-sharing evaluation with a fine-tune starts the genome's own
    networks from what the supernet learnt, then trains them briefly. The
    batch-norm statistics are copied as the supernet holds them (the last
    path it measured them for, after `subnet_scores`).

    Args:
        model: A supernet generator or discriminator (`build_supernet`).
        choices: The path: one candidate index per slot.
        target: The network decoded from the path's genome (same role).

    Raises:
        ValueError: when `target` is not the path's network (its layers with
            weights differ from the path's in number or in shapes).
    """
    from kgan_nas.evaluation.inherit import layer_signature

    slots = len(_mixes(model, "g_slot" if model.name.endswith("generator") else "d_slot"))
    if len(choices) != slots:
        raise ValueError(f"{len(choices)} choices for {slots} slots of {model.name}")
    source = path_layers(model, choices)
    receiving = [layer for layer in target.layers if layer.weights]
    # Shapes, and names without their slot prefixes: two same-shaped layers
    # of a block (a residual block's convolutions) must not trade weights.
    signatures = [(layer_signature(layer), _OPERATION.sub("", layer.name)) for layer in source]
    wanted = [(layer_signature(layer), _GENE.sub("", layer.name)) for layer in receiving]
    if signatures != wanted:
        raise ValueError(
            f"{target.name} is not the path {list(choices)} of {model.name}: its layers with "
            "weights differ."
        )
    for layer, into in zip(source, receiving):
        into.set_weights(layer.get_weights())
