"""Genome -> Keras models.

The models are built from the same layer plans (`kgan_nas.core.shapes`) that the
search uses to count parameters, so shapes and counts always agree. Every
layer is a standard Keras layer (no Lambda), or `kgan_nas.training.layers.MinibatchStd`
(registered with Keras), so the models save to `.keras` and load with
`safe_mode=True` on any backend. Residual blocks are built from `Add`,
`UpSampling2D`, `Conv2D` and `AveragePooling2D` in the functional graph.
"""

import keras

from kgan_nas.core import genome as genome_lib
from kgan_nas.core import recipe as recipe_lib
from kgan_nas.core import shapes as plan_lib
from kgan_nas.training.layers import MinibatchStd

_ACTIVATIONS = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "swish": "silu",
    "gelu": "gelu",
    "tanh": "tanh",
    "linear": None,
}


def build_generator(genome, space, name="generator"):
    """Builds the generator of `genome`.

    Args:
        genome: A valid `Genome` (see `SearchSpace.repair`).
        space: The `SearchSpace` (image shape, latent size).
        name: Model name.

    Returns:
        A `keras.Model` mapping `(batch, latent_dim)` to images
        `(batch, H, W, C)` in [-1, 1]. A conditional genome's generator
        takes `[latents, labels]`, labels being int32 `(batch, 1)`.

    Raises:
        kgan_nas.core.space.InvalidGenomeError: if `genome` is not valid in
            `space`.
    """
    space.validate(genome)
    inputs = keras.Input(shape=(space.latent_dim,), name="latent")
    x = inputs
    if genome.conditional:
        label = _label_input()
        inputs = [inputs, label]
    for index, step in enumerate(space.generator_plan(genome)):
        if step.role == "condition":
            x = _condition_latent(step, x, label, space.num_classes)
        elif step.role == "project":
            x = keras.layers.Dense(_size(step.output_shape), name="project")(x)
            x = keras.layers.Activation("relu", name="project_relu")(x)
            x = keras.layers.Reshape(step.output_shape, name="project_reshape")(x)
        elif step.role == "output":
            x = keras.layers.Conv2D(
                step.output_shape[-1],
                plan_lib.OUTPUT_KERNEL,
                padding="same",
                activation="tanh",
                name="image",
            )(x)
        else:
            x = gene_layers(step.gene, x, f"g{index}")
    return keras.Model(inputs, x, name=name)


def build_discriminator(genome, space, name="discriminator"):
    """Builds the discriminator of `genome`.

    Args:
        genome: A valid `Genome`.
        space: The `SearchSpace` (image shape).
        name: Model name.

    Returns:
        A `keras.Model` mapping images `(batch, H, W, C)` to one logit per
        image, `(batch, 1)`. A conditional genome's discriminator takes
        `[images, labels]`, labels being int32 `(batch, 1)`.

    Raises:
        kgan_nas.core.space.InvalidGenomeError: if `genome` is not valid in
            `space`.
    """
    space.validate(genome)
    inputs = keras.Input(shape=space.image_shape, name="image")
    x = inputs
    if genome.conditional:
        label = _label_input()
        inputs = [inputs, label]
    flattened = False
    features = None
    for index, step in enumerate(space.discriminator_plan(genome)):
        if len(step.input_shape) == 1 and not flattened:
            x = keras.layers.Flatten(name="flatten")(x)
            flattened = True
        if step.role == "condition":
            x = _condition_discriminator(step, x, features, label, space.num_classes)
        elif step.role == "output":
            features = x
            x = keras.layers.Dense(1, name="logit")(x)
        else:
            x = gene_layers(step.gene, x, f"d{index}")
    return keras.Model(inputs, x, name=name)


def build_models(genome, space):
    """Returns `(generator, discriminator)` for `genome`."""
    return build_generator(genome, space), build_discriminator(genome, space)


def build_gan(genome, space, *, seed=None, jit_compile=True, networks=None, **gan_options):
    """A compiled `kgan_nas.GAN` for `genome`: its networks, optimizers and loss.

    The one place a genome becomes a trainable GAN; the search's evaluator and
    `kgan_nas.callbacks.EvolveArchitecture` both build through it.

    Args:
        genome: A `Genome` valid in `space`.
        space: The `SearchSpace`.
        seed: Seed of the GAN's latent noise.
        jit_compile: Compile the train step with XLA.
        networks: Optional `(generator, discriminator)` already built from
            `genome` (e.g. with inherited weights); built here when None.
        **gan_options: Further `kgan_nas.GAN` arguments (e.g. `gp_weight`).
            The genome's recipe genes that are on become `ema_decay`,
            `augment`, `augment_probability`, `r1_weight` and `d_steps`
            (`kgan_nas.core.recipe.gan_options`); an argument given here
            overrides its gene.

    Returns:
        The compiled `kgan_nas.GAN`.
    """
    from kgan_nas import training

    generator, discriminator = networks or build_models(genome, space)
    genes = genome.training
    options = {**recipe_lib.gan_options(genes), **gan_options}
    gan = training.GAN(generator, discriminator, seed=seed, **options)
    gan.compile(
        g_optimizer=training.make_optimizer(
            genes.optimizer, genes.g_learning_rate, beta_1=genes.beta_1, beta_2=genes.beta_2
        ),
        d_optimizer=training.make_optimizer(
            genes.optimizer, genes.d_learning_rate, beta_1=genes.beta_1, beta_2=genes.beta_2
        ),
        loss=genes.loss,
        jit_compile=jit_compile,
    )
    return gan


def _label_input():
    return keras.Input(shape=(1,), dtype="int32", name="label")


def _embedding(label, num_classes, width, name):
    """A learned `(batch, width)` vector per class: standard layers only, so it saves."""
    embedded = keras.layers.Embedding(num_classes, width, name=f"{name}_embedding")(label)
    return keras.layers.Flatten(name=f"{name}_flatten")(embedded)


def _condition_latent(step, z, label, num_classes):
    """The generator's conditioning: the label embedding joined with the latent."""
    genes = step.gene
    if genes.generator == "concat":
        embedded = _embedding(label, num_classes, genes.embedding_dim, "label")
        return keras.layers.Concatenate(name="latent_and_label")([z, embedded])
    embedded = _embedding(label, num_classes, step.input_shape[0], "label")
    return keras.layers.Multiply(name="latent_times_label")([z, embedded])


def _condition_discriminator(step, x, features, label, num_classes):
    """A per-class image channel (`"concat"`) or the projection term (`"projection"`)."""
    if step.gene.discriminator == "concat":
        height, width, _ = step.input_shape
        embedded = _embedding(label, num_classes, height * width, "label")
        channel = keras.layers.Reshape((height, width, 1), name="label_channel")(embedded)
        return keras.layers.Concatenate(axis=-1, name="image_and_label")([x, channel])
    embedded = _embedding(label, num_classes, step.input_shape[0], "projection")
    projection = keras.layers.Dot(axes=1, name="projection")([embedded, features])
    return keras.layers.Add(name="logit_and_projection")([x, projection])


def gene_layers(gene, x, prefix):
    """The Keras layers of one layer gene applied to `x` (names start with `prefix`).

    The one way a gene becomes layers: the decoder and the supernet
    (`kgan_nas.supernet`, whose candidate operations are genes) both call it.
    """
    if gene.kind == genome_lib.DROPOUT:
        return keras.layers.Dropout(gene.rate, name=f"{prefix}_dropout")(x)
    if gene.kind == genome_lib.MINIBATCH_STD:
        return MinibatchStd(name=f"{prefix}_minibatch_std")(x)
    if gene.kind == genome_lib.RESIDUAL_UP:
        return _residual_up(gene, x, prefix)
    if gene.kind == genome_lib.RESIDUAL_DOWN:
        return _residual_down(gene, x, prefix)
    if gene.kind == genome_lib.UPSAMPLE_CONV2D:
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_upsample")(x)
    layer = _core_layer(gene, prefix)
    if gene.norm == "spectral":
        layer = keras.layers.SpectralNormalization(layer, name=f"{prefix}_spectral")
    x = layer(x)
    if gene.norm == "batch":
        x = keras.layers.BatchNormalization(name=f"{prefix}_batchnorm")(x)
    elif gene.norm == "layer":
        x = keras.layers.LayerNormalization(axis=-1, name=f"{prefix}_layernorm")(x)
    activation = _ACTIVATIONS[gene.activation]
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{prefix}_{gene.activation}")(x)
    return x


def _residual_up(gene, x, prefix):
    """BigGAN's generator block: norm, act, 2x up, conv, norm, act, conv; + up, 1x1 conv."""
    h = _norm(gene.norm, x, f"{prefix}_norm1")
    h = _activation(gene.activation, h, f"{prefix}_act1")
    h = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_upsample")(h)
    h = _conv(gene, gene.kernel, h, f"{prefix}_conv1")
    h = _norm(gene.norm, h, f"{prefix}_norm2")
    h = _activation(gene.activation, h, f"{prefix}_act2")
    h = _conv(gene, gene.kernel, h, f"{prefix}_conv2")
    shortcut = keras.layers.UpSampling2D(
        2, interpolation="nearest", name=f"{prefix}_shortcut_upsample"
    )(x)
    shortcut = _conv(gene, 1, shortcut, f"{prefix}_shortcut_conv")
    return keras.layers.Add(name=f"{prefix}_add")([h, shortcut])


def _residual_down(gene, x, prefix):
    """The discriminator block: act, conv, act, conv, 2x2 avg-pool; + 1x1 conv, avg-pool."""
    h = _activation(gene.activation, x, f"{prefix}_act1")
    h = _norm(gene.norm, _conv(gene, gene.kernel, h, f"{prefix}_conv1"), f"{prefix}_norm1")
    h = _activation(gene.activation, h, f"{prefix}_act2")
    h = _norm(gene.norm, _conv(gene, gene.kernel, h, f"{prefix}_conv2"), f"{prefix}_norm2")
    h = keras.layers.AveragePooling2D(2, padding="same", name=f"{prefix}_pool")(h)
    shortcut = _conv(gene, 1, x, f"{prefix}_shortcut_conv")
    shortcut = keras.layers.AveragePooling2D(2, padding="same", name=f"{prefix}_shortcut_pool")(
        shortcut
    )
    return keras.layers.Add(name=f"{prefix}_add")([h, shortcut])


def _conv(gene, kernel, x, name):
    """A `gene.size`-filter "same" convolution, spectrally normalised for norm="spectral"."""
    layer = keras.layers.Conv2D(gene.size, kernel, padding="same", name=name)
    if gene.norm == "spectral":
        layer = keras.layers.SpectralNormalization(layer, name=f"{name}_spectral")
    return layer(x)


def _norm(norm, x, name):
    """Batch or layer normalisation of `x` (spectral and none leave it as it is)."""
    if norm == "batch":
        return keras.layers.BatchNormalization(name=name)(x)
    if norm == "layer":
        return keras.layers.LayerNormalization(axis=-1, name=name)(x)
    return x


def _activation(name, x, layer_name):
    activation = _ACTIVATIONS[name]
    if activation is None:
        return x
    return keras.layers.Activation(activation, name=layer_name)(x)


def _core_layer(gene, prefix):
    if gene.kind == genome_lib.DENSE:
        return keras.layers.Dense(gene.size, name=f"{prefix}_dense")
    if gene.kind == genome_lib.CONV2D_TRANSPOSE:
        return keras.layers.Conv2DTranspose(
            gene.size,
            gene.kernel,
            strides=gene.stride,
            padding="same",
            name=f"{prefix}_conv2d_transpose",
        )
    return keras.layers.Conv2D(
        gene.size, gene.kernel, strides=gene.stride, padding="same", name=f"{prefix}_conv2d"
    )


def _size(shape):
    size = 1
    for dim in shape:
        size *= dim
    return size
