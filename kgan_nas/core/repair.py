"""Repairing a genome into the nearest valid one of a `SearchSpace` (pure Python).

`repair(space, genome)` is what `SearchSpace.repair` runs: it snaps genes to
the space's choices, orders the dense and convolutional sections, fixes the
generator's upsampling path for the image shape, brings layer counts within
bounds and shrinks the genome under the space's cost bounds (`max_params`,
`max_generator_macs`, `max_train_macs`). Mutation and crossover produce
arbitrary genomes; this is what makes them valid again.
"""

import math

from kgan_nas.core import bounds as bounds_lib
from kgan_nas.core import conditioning as conditioning_lib
from kgan_nas.core import genome as genome_lib
from kgan_nas.core import recipe as recipe_lib
from kgan_nas.core import shapes as plan_lib
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.errors import InvalidGenomeError


def repair(space, genome):
    """`SearchSpace.repair(genome)`: the nearest valid genome (its docstring says how)."""
    generator = [snap_gene(space, g, "generator") for g in genome.generator]
    discriminator = [snap_gene(space, g, "discriminator") for g in genome.discriminator]
    generator = [g for g in generator if g is not None]
    discriminator = [g for g in discriminator if g is not None]
    generator = section_sort(generator, vector_first=True)
    discriminator = section_sort(discriminator, vector_first=False)
    generator = _fix_upsampling(space, generator)
    generator = _fix_length(space, generator, "generator")
    discriminator = _fix_length(space, discriminator, "discriminator")
    discriminator = _weighted(space, discriminator)
    training = snap_training(space, genome.training)
    conditioning = conditioning_lib.snap(space, genome.conditioning)
    repaired = Genome(tuple(generator), tuple(discriminator), training, conditioning)
    repaired = _fit_params(space, repaired)
    problems = space.problems(repaired)
    if problems:
        raise InvalidGenomeError("; ".join(problems))
    return repaired


def snap_gene(space, gene, network):
    kinds = space._kinds(network)
    kind = gene.kind
    if kind not in kinds:
        kind = _closest_kind(kind, kinds)
        if kind is None:
            return None
        if gene.kind == genome_lib.RESIDUAL_DOWN and kind == genome_lib.CONV2D:
            gene = gene.replace(stride=2)  # keep the downsampling
    if kind == genome_lib.MINIBATCH_STD:
        return LayerGene(kind)
    if kind == genome_lib.DROPOUT:
        return LayerGene(
            kind, rate=_nearest(gene.rate or space.dropout_rates[0], space.dropout_rates)
        )
    activation = gene.activation if gene.activation in space.activations else space.activations[0]
    norms = space._norms(network)
    norm = gene.norm if gene.norm in norms else ("none" if "none" in norms else norms[0])
    if kind == genome_lib.DENSE:
        return LayerGene(
            kind, size=_nearest(gene.size, space.units), activation=activation, norm=norm
        )
    if kind in (genome_lib.UPSAMPLE_CONV2D,) + genome_lib.RESIDUAL_KINDS or (
        kind == genome_lib.CONV2D and network == "generator"
    ):
        stride = 1
    else:
        stride = gene.stride
    return LayerGene(
        kind,
        size=_nearest(gene.size, space.filters),
        kernel=_nearest(gene.kernel, space.kernel_sizes),
        stride=stride,
        activation=activation,
        norm=norm,
    )


def snap_training(space, training):
    loss = training.loss if training.loss in space.losses else space.losses[0]
    recipe = recipe_lib.snap(space, training.replace(loss=loss), _nearest)
    return TrainingGenes(
        optimizer=training.optimizer
        if training.optimizer in space.optimizers
        else space.optimizers[0],
        g_learning_rate=_nearest(training.g_learning_rate, space.learning_rates, log=True),
        d_learning_rate=_nearest(training.d_learning_rate, space.learning_rates, log=True),
        beta_1=_nearest(training.beta_1, space.beta_1),
        beta_2=_nearest(training.beta_2, space.beta_2),
        loss=loss,
        **recipe,
    )


def _fix_upsampling(space, genes):
    low, high = space.upsample_range()
    genes = list(genes)
    count = sum(g.upsamples for g in genes)
    # Too many: turn the last upsamplers into same-size convolutions.
    for i in reversed(range(len(genes))):
        if count <= high:
            break
        if genes[i].upsamples:
            genes[i] = _without_upsampling(space, genes[i])
            count -= 1
    # Too few: turn the first plain convolutions into upsamplers ...
    for i in range(len(genes)):
        if count >= low:
            break
        if genes[i].is_conv and not genes[i].upsamples:
            genes[i] = _with_upsampling(space, genes[i])
            count += 1
    # ... then append upsampling layers, making room if needed.
    while count < low:
        if len(genes) >= space.generator_layers[1]:
            removable = [i for i, g in enumerate(genes) if not g.upsamples]
            if not removable:
                raise InvalidGenomeError("no room for the upsampling layers the image needs")
            del genes[removable[-1]]
        template = next((g for g in reversed(genes) if g.is_conv), None)
        genes.append(_with_upsampling(space, template or _default_conv(space, "generator")))
        count += 1
    return genes


def _without_upsampling(space, gene):
    if gene.kind == genome_lib.CONV2D_TRANSPOSE:
        return gene.replace(stride=1)
    kind = (
        genome_lib.CONV2D
        if genome_lib.CONV2D in space.generator_layer_types
        else genome_lib.CONV2D_TRANSPOSE
    )
    return gene.replace(kind=kind, stride=1)


def _with_upsampling(space, gene):
    kinds = space._upsampling_kinds()
    if gene.kind == genome_lib.CONV2D_TRANSPOSE and genome_lib.CONV2D_TRANSPOSE in kinds:
        return gene.replace(stride=2)
    kind = kinds[0]
    return gene.replace(kind=kind, stride=2 if kind == genome_lib.CONV2D_TRANSPOSE else 1)


def _default_conv(space, network):
    kinds = space._kinds(network)
    kind = (
        genome_lib.CONV2D
        if genome_lib.CONV2D in kinds
        else next((k for k in kinds if k in genome_lib.CONV_KINDS), None)
    )
    if kind is None:
        kind = genome_lib.DENSE if genome_lib.DENSE in kinds else kinds[0]
        if kind == genome_lib.DROPOUT:
            return LayerGene(kind, rate=space.dropout_rates[0])
        return LayerGene(
            kind,
            size=space.units[0],
            activation=space.activations[0],
            norm=space._norms(network)[0],
        )
    stride = 2 if network == "discriminator" else 1
    return snap_gene(
        space,
        LayerGene(
            kind,
            size=min(space.filters),
            kernel=space.kernel_sizes[0],
            stride=stride,
            activation=space.activations[0],
            norm=space._norms(network)[0],
        ),
        network,
    )


# Discriminator kinds with weights of their own (what `weighted_discriminator` asks for).
WEIGHTED_DISCRIMINATOR_KINDS = (genome_lib.DENSE, genome_lib.CONV2D, genome_lib.RESIDUAL_DOWN)


def _has_weights(genes):
    return any(gene.kind in WEIGHTED_DISCRIMINATOR_KINDS for gene in genes)


def draw_again(space, genes):
    """Whether `SearchSpace.sample` draws a discriminator `genes` again: a layer with
    weights is required (`weighted_discriminator`), none has one, and the space offers
    such a kind (without one, repair raises the error that says so)."""
    offered = any(kind in WEIGHTED_DISCRIMINATOR_KINDS for kind in space.discriminator_layer_types)
    return space.weighted_discriminator and offered and not _has_weights(genes)


def _weighted(space, genes):
    """`genes` with its first layer made the default convolution where a weighted
    discriminator is required and none of its layers has weights."""
    if not space.weighted_discriminator or _has_weights(genes):
        return genes
    filler = _default_conv(space, "discriminator")
    if filler.kind not in WEIGHTED_DISCRIMINATOR_KINDS:
        raise InvalidGenomeError(
            "weighted_discriminator needs a discriminator kind with weights "
            f"({', '.join(WEIGHTED_DISCRIMINATOR_KINDS)}) in discriminator_layer_types"
        )
    return section_sort([filler] + list(genes[1:]), vector_first=False)


def structure_problems(space, genome):
    """Problems of a genome's layer order, and of a discriminator without weights."""
    problems = []
    if section_sort(list(genome.generator), True) != list(genome.generator):
        problems.append("generator dense layers must come before its convolutions")
    if section_sort(list(genome.discriminator), False) != list(genome.discriminator):
        problems.append("discriminator dense layers must come after its convolutions")
    if space.weighted_discriminator and not _has_weights(genome.discriminator):
        problems.append(
            "discriminator has no layer with weights (weighted_discriminator): only "
            "dropout or minibatch std before its logit"
        )
    return problems


def _fix_length(space, genes, network):
    low, high = space.generator_layers if network == "generator" else space.discriminator_layers
    genes = list(genes)
    # Drop the least structural genes first: dropout, dense, plain convs.
    for wanted in (genome_lib.DROPOUT, genome_lib.DENSE, None):
        for i in reversed(range(len(genes))):
            if len(genes) <= high:
                break
            gene = genes[i]
            if gene.upsamples:
                continue
            if wanted is None or gene.kind == wanted:
                del genes[i]
    if len(genes) > high:
        raise InvalidGenomeError(f"{network} cannot be shortened to {high} layers")
    while len(genes) < low:
        filler = _default_conv(space, network)
        if network == "generator" and filler.upsamples:
            filler = _without_upsampling(space, filler)
        if network == "generator" and filler.is_conv:
            # Convolutions go at the end of the spatial section.
            genes.append(filler)
        elif network == "discriminator" and filler.is_conv:
            genes.insert(_first_vector_index(genes), filler)
        else:
            genes.append(filler)
    return section_sort(genes, vector_first=(network == "generator"))


def _fit_params(space, genome):
    """Greedily shrinks `genome` until it meets every cost bound the space sets.

    Layer moves come first (`_shrink_layers`). Only when they cannot meet
    `max_train_macs` does the recipe get lighter (fewer discriminator steps,
    no R1 penalty: `recipe_lib.shrink_moves`), the lightest step first, and
    the layers of the original genome shrink again under it: the recipe is
    a choice of the search, given up only when the layers cannot pay.
    """
    if not bounds_lib.bounded(space):
        return genome
    try:
        return _shrink_layers(space, genome)
    except InvalidGenomeError as error:
        if space.max_train_macs is None:
            raise
        failure = error
    for lighter in _lighter_recipes(space, genome):
        try:
            return _shrink_layers(space, lighter)
        except InvalidGenomeError:
            continue
    raise failure


def _shrink_layers(space, genome):
    """Applies the shrink move of the smallest `bounds_lib.fit_key` until every bound holds.

    The key is `(sum of relative excesses over the bounds set, params)`: a
    move must lower it, and the lowest wins (the first of equals). With only
    `max_params` set the key orders genomes as their parameter counts do,
    so this picks exactly the moves the parameter-only repair picked, and
    fixed-seed searches keep their histories.
    """
    key = bounds_lib.fit_key(space, genome)
    while key[0] > 0:
        best = None
        for candidate in _shrink_moves(space, genome):
            try:
                candidate_key = bounds_lib.fit_key(space, candidate)
            except ValueError:
                continue
            if candidate_key < key and (best is None or candidate_key < best[0]):
                best = (candidate_key, candidate)
        if best is None:
            raise InvalidGenomeError(
                "; ".join(bounds_lib.problems(space, genome))
                + " and the genome cannot shrink further"
            )
        key, genome = best
    return genome


def _lighter_recipes(space, genome):
    """Ever lighter recipes of `genome`: each step the recipe move of the lowest key."""
    while True:
        moves = list(recipe_lib.shrink_moves(space, genome))
        if not moves:
            return
        keys = [bounds_lib.fit_key(space, move) for move in moves]
        genome = moves[keys.index(min(keys))]
        yield genome


def _shrink_moves(space, genome):
    """Smaller versions of `genome`, one change each (repair's bound shrinking)."""
    yield from conditioning_lib.shrink_moves(space, genome)
    low_u, high_u = space.upsample_range()
    upsamples = sum(g.upsamples for g in genome.generator)
    for network in ("generator", "discriminator"):
        genes = list(getattr(genome, network))
        low, _ = space.generator_layers if network == "generator" else space.discriminator_layers
        for i, gene in enumerate(genes):
            choices = space.units if gene.kind == genome_lib.DENSE else space.filters
            if gene.kind != genome_lib.DROPOUT:
                smaller = [c for c in choices if c < gene.size]
                if smaller:
                    yield _with_gene(genome, network, i, gene.replace(size=max(smaller)))
                smaller_kernels = [k for k in space.kernel_sizes if k < gene.kernel]
                if gene.is_conv and smaller_kernels:
                    yield _with_gene(genome, network, i, gene.replace(kernel=max(smaller_kernels)))
                if gene.norm != "none" and "none" in space._norms(network):
                    yield _with_gene(genome, network, i, gene.replace(norm="none"))
            if len(genes) > low and not (
                (gene.upsamples and upsamples <= low_u)
                or (network == "discriminator" and _last_weighted(space, genes, i))
            ):
                yield _with_gene(genome, network, i, None)
            if (
                network == "generator"
                and gene.is_conv
                and not gene.upsamples
                and upsamples < high_u
            ):
                yield _with_gene(genome, network, i, _with_upsampling(space, gene))
            if network == "discriminator" and gene.kind == genome_lib.CONV2D and gene.stride == 1:
                yield _with_gene(genome, network, i, gene.replace(stride=2))


def _last_weighted(space, genes, index):
    """Whether deleting discriminator layer `index` would leave a weighted
    discriminator (`weighted_discriminator`) without any layer with weights."""
    if not space.weighted_discriminator or genes[index].kind not in WEIGHTED_DISCRIMINATOR_KINDS:
        return False
    return not _has_weights(genes[:index] + genes[index + 1 :])


def _nearest(value, choices, log=False):
    if value in choices:
        return value
    key = (
        (lambda c: abs(math.log(c) - math.log(value)))
        if log and value > 0
        else (lambda c: abs(c - value))
    )
    return min(choices, key=key)


def _closest_kind(kind, kinds):
    """Maps a kind the network does not allow onto one it does (or None).

    A convolution or residual block becomes another of them (an upsampling
    one first for `residual_up`); dense, dropout and minibatch_std genes
    have no stand-in and are dropped.
    """
    order = {
        genome_lib.RESIDUAL_UP: (
            genome_lib.UPSAMPLE_CONV2D,
            genome_lib.CONV2D_TRANSPOSE,
            genome_lib.CONV2D,
        ),
        genome_lib.RESIDUAL_DOWN: (genome_lib.CONV2D,),
    }.get(kind, (genome_lib.CONV2D, genome_lib.UPSAMPLE_CONV2D, genome_lib.CONV2D_TRANSPOSE))
    if kind in genome_lib.CONV_KINDS:
        for candidate in order + genome_lib.RESIDUAL_KINDS:
            if candidate in kinds:
                return candidate
    return None


def section_sort(genes, vector_first):
    sections = plan_lib.section_of(genes, vector_first)
    first = "vector" if vector_first else "spatial"
    return [g for g, s in zip(genes, sections) if s == first] + [
        g for g, s in zip(genes, sections) if s != first
    ]


def _first_vector_index(genes):
    sections = plan_lib.section_of(genes, vector_first=False)
    return next((i for i, s in enumerate(sections) if s == "vector"), len(genes))


def _with_gene(genome, network, index, gene):
    genes = list(getattr(genome, network))
    if gene is None:
        del genes[index]
    else:
        genes[index] = gene
    return genome.replace(**{network: tuple(genes)})
