"""The cost bounds of a search space: parameters and MACs, in pure Python.

A `SearchSpace` may bound three costs of a genome:

* `max_params`: generator plus discriminator parameters
  (`SearchSpace.params`);
* `max_generator_macs`: multiply-accumulates of one generator forward pass
  for one image (`kgan_nas.core.cost.generator_macs`), what sampling an
  image costs once the GAN is trained;
* `max_train_macs`: multiply-accumulates per image of one `kgan_nas.GAN`
  train step, both networks forward and backward
  (`kgan_nas.core.cost.train_step_macs`, without a batch size), what a
  candidate costs to train.

This module holds what the space and repair do with them: check the
fields, list a genome's excesses, the key repair shrinks by, and the
cheapest genome of a space, which says when a MAC bound cannot be met at
all. A space that sets no MAC bound stores (`SearchSpace.to_dict`),
samples and repairs exactly what it did before they existed.
"""

import dataclasses
import fractions
import functools
import itertools
import math

from kgan_nas import validate
from kgan_nas.core import cost as cost_lib
from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import ConditioningGenes
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.shapes import start_size_hint
from kgan_nas.errors import InvalidGenomeError

# The MAC bounds: SearchSpace field -> (what its cost is called, cost function).
MAC_BOUNDS = {
    "max_generator_macs": ("generator MACs per image", cost_lib.generator_macs),
    "max_train_macs": ("train-step MACs per image", cost_lib.train_step_macs),
}
# Every bound, in the order they are checked and reported.
FIELDS = ("max_params",) + tuple(MAC_BOUNDS)
# How many kind combinations the cheapest-genome search tries for one run of
# layers before it falls back to one kind throughout (spaces of many kinds
# and long minimum networks would otherwise take seconds).
_MAX_COMBINATIONS = 24


def check_space(space):
    """Checks a space's bounds; returns `{field: value}` to store.

    Args:
        space: The `SearchSpace` being created.

    Returns:
        The MAC bounds that are set, as ints (`max_params` is stored as given,
        as it always was).

    Raises:
        ValueError: for a bound that is neither None nor a positive integer.
    """
    checked = {}
    for field in FIELDS:
        value = getattr(space, field)
        if value is not None:
            value = validate.check_positive_int(
                value, f"SearchSpace.{field}", hint="None means no limit."
            )
            if field in MAC_BOUNDS:
                checked[field] = value
    return checked


def strip_unset(space_dict):
    """Drops the MAC bounds that are None from a space's dict (as before they existed)."""
    for field in MAC_BOUNDS:
        if space_dict.get(field, 0) is None:
            del space_dict[field]
    return space_dict


def bounded(space):
    """Whether the space sets any bound."""
    return any(getattr(space, field) is not None for field in FIELDS)


def costs(space, genome, params=None):
    """The genome's cost for each bound the space sets.

    Args:
        space: The `SearchSpace`.
        genome: A `Genome` in section order.
        params: `space.params(genome)` when the caller has it already.

    Returns:
        A list of `(field, cost)` in the order of `FIELDS`.

    Raises:
        ValueError: if the genome cannot be planned in `space`.
    """
    found = []
    if space.max_params is not None:
        found.append(("max_params", space.params(genome) if params is None else params))
    for field, (_, measure) in MAC_BOUNDS.items():
        if getattr(space, field) is not None:
            found.append((field, measure(genome, space)))
    return found


def problems(space, genome):
    """One message for each bound the genome exceeds (empty when within all).

    E.g. `"1234 train-step MACs per image exceed max_train_macs=1000"`.
    """
    messages = []
    for field, value in costs(space, genome):
        bound = getattr(space, field)
        if value > bound:
            what = "parameters" if field == "max_params" else MAC_BOUNDS[field][0]
            messages.append(f"{value} {what} exceed {field}={bound}")
    return messages


def fit_key(space, genome):
    """The key repair shrinks a genome by: `(sum of relative excesses, params)`.

    The first part is the sum, over the bounds the space sets, of
    `(cost - bound) / bound` for each cost over its bound: 0 exactly when
    the genome meets them all. Relative excesses make bounds of very
    different sizes (a million parameters, a billion MACs) weigh alike. It
    is an exact fraction, so that with only `max_params` set the key orders
    genomes exactly as their parameter counts do, and repair picks the
    moves it always picked.

    Raises:
        ValueError: if the genome cannot be planned in `space`.
    """
    params = space.params(genome)
    excess = fractions.Fraction(0)
    for field, value in costs(space, genome, params):
        bound = getattr(space, field)
        if value > bound:
            excess += fractions.Fraction(value - bound) / bound
    return (excess, params)


def too_tight(space, tries, error):
    """The message of `SearchSpace.sample` when no sample could be repaired.

    It names the bounds to raise; with a MAC bound set it also gives the
    cheapest genome's costs, which the bounds allow (`check_attainable`
    refuses them otherwise) but which random genomes did not shrink to:
    repair only shrinks, it never swaps a layer's kind or the loss.
    """
    set_fields = [field for field in FIELDS if getattr(space, field) is not None]
    mac_fields = [field for field in set_fields if field in MAC_BOUNDS]
    # Without a MAC bound: the message of earlier versions, word for word.
    names = " or ".join(set_fields) if mac_fields else "max_params"
    message = (
        f"Could not sample a valid genome in {tries} tries ({error}). "
        f"The search space is too tight: raise {names}, or allow smaller "
        "filters/units or fewer layers."
    )
    cheapest_costs = [
        f"{value:,} {MAC_BOUNDS[field][0]}" for field, (value, _) in cheapest(space).items()
    ]
    if cheapest_costs:
        message += (
            f" The cheapest genome of this space costs {' and '.join(cheapest_costs)}, but "
            "repair only shrinks sampled genomes (it never changes a layer's kind or the "
            "loss), and none shrank that far."
        )
    hint = start_size_hint(space.image_shape, space.max_start_size, space.generator_layers[1])
    return f"{message} {hint}" if hint else message


def check_attainable(space):
    """Raises if a MAC bound is below the cheapest genome of the space.

    `SearchSpace.sample` calls this before it samples, so an impossible
    bound fails at once with the cost it would take, rather than after a
    hundred repairs that cannot succeed.

    Raises:
        InvalidGenomeError: naming each MAC bound no genome meets, the
            cheapest genome's cost and the genome.
    """
    messages = []
    for field, (value, genome) in cheapest(space).items():
        bound = getattr(space, field)
        if value > bound:
            messages.append(
                f"{field}={bound:,} is below the cheapest genome of this space "
                f"({value:,} {MAC_BOUNDS[field][0]}: {genome.describe()}); raise it "
                "or shrink the space (smaller filters/units, kernels or layer counts)"
            )
    if messages:
        raise InvalidGenomeError("; ".join(messages) + ".")


def cheapest(space):
    """The cheapest genome of the space for each MAC bound it sets.

    The search tries the smallest genomes the space allows: the fewest
    layers (and one more, since an extra dense layer before the projection
    or a downsampling convolution can cost less), every number of
    upsampling layers, the kinds of the space in each position, the
    smallest filters, units and kernels, stride 2 in the discriminator,
    no normalisation and a non-smooth activation where the space allows
    them, and the lightest recipe (fewest discriminator steps, the smallest
    R1 weight, a loss other than `"wasserstein_gp"` and no translation
    augmentation, where allowed). The generator and the discriminator are
    chosen separately, which is exact because a train step's cost is a sum
    of a generator part and a discriminator part. It is the cheapest of
    these candidates, not a proven minimum over every genome (a mix of
    more kinds than it tries could cost less); a test checks that no
    sampled genome of random spaces costs less.

    Args:
        space: The `SearchSpace`.

    Returns:
        `{field: (cost, genome)}` for each MAC bound the space sets; the
        genome is valid in the space without its bounds.
    """
    if all(getattr(space, field) is None for field in MAC_BOUNDS):
        return {}
    return _cheapest(space)


@functools.lru_cache(maxsize=32)
def _cheapest(space):
    # The genomes are measured in the space without bounds, so that a bound
    # never shapes what the cheapest genome is.
    free = dataclasses.replace(space, **{field: None for field in FIELDS})
    generators = list(_small_generators(free))
    discriminators = list(_small_discriminators(free))
    if not generators or not discriminators:
        return {}
    found = {}
    for conditioning in _conditionings(free):
        base = Genome(generators[0], discriminators[0], _light_training(free), conditioning)
        for field, (_, measure) in MAC_BOUNDS.items():
            if getattr(space, field) is None:
                continue

            def measured(genome, measure=measure):
                # A genome the plans reject (none should be) is never the cheapest.
                try:
                    return measure(genome, free)
                except ValueError:
                    return math.inf

            generator = min(generators, key=lambda g: measured(base.replace(generator=g)))
            base_g = base.replace(generator=generator)
            # The discriminator is the one of the lightest train step, for
            # either bound: it is what a generator bound's genome shows.
            discriminator = min(
                discriminators,
                key=lambda d: measured(base_g.replace(discriminator=d), cost_lib.train_step_macs),
            )
            try:
                genome = free.repair(base_g.replace(discriminator=discriminator))
            except InvalidGenomeError:
                continue
            value = measure(genome, free)
            if field not in found or value < found[field][0]:
                found[field] = (value, genome)
    return found


def _small_generators(space):
    """Generator gene tuples of the fewest layers (and one more), cheapest gene settings."""
    low_u, high_u = space.upsample_range()
    low, high = space.generator_layers
    always_up = (genome_lib.UPSAMPLE_CONV2D, genome_lib.RESIDUAL_UP)
    plain = [kind for kind in space.generator_layer_types if kind not in always_up]
    for upsamples in range(low_u, min(high_u, high) + 1):
        shortest = max(low, upsamples)
        for length in range(shortest, min(shortest + 1, high) + 1):
            for ups in _multisets(space._upsampling_kinds(), upsamples):
                for others in _multisets(plain, length - upsamples):
                    # Dense genes first (they come before the projection),
                    # then same-size layers on the small start map, then
                    # the upsampling layers.
                    others = sorted(others, key=lambda kind: kind != genome_lib.DENSE)
                    yield tuple(_gene(space, "generator", kind, False) for kind in others) + tuple(
                        _gene(space, "generator", kind, True) for kind in ups
                    )


def _small_discriminators(space):
    """Discriminator gene tuples of the fewest layers (and one more), cheapest settings."""
    low, high = space.discriminator_layers
    # Downsampling first (every later layer sees a smaller map), dense last.
    order = (
        genome_lib.CONV2D,
        genome_lib.RESIDUAL_DOWN,
        genome_lib.MINIBATCH_STD,
        genome_lib.DROPOUT,
        genome_lib.DENSE,
    )
    kinds = [kind for kind in order if kind in space.discriminator_layer_types]
    for length in range(low, min(low + 1, high) + 1):
        for combination in _multisets(kinds, length):
            yield tuple(_gene(space, "discriminator", kind, False) for kind in combination)


def _multisets(kinds, count):
    """The combinations of `count` kinds (with repetition), or one kind throughout if too many."""
    combinations = list(itertools.combinations_with_replacement(kinds, count))
    if len(combinations) > _MAX_COMBINATIONS:
        combinations = [(kind,) * count for kind in kinds]
    return combinations


def _gene(space, network, kind, upsampling):
    """The cheapest gene of `kind`: smallest sizes, stride 2 where it shrinks the map."""
    if kind == genome_lib.DROPOUT:
        return LayerGene(kind, rate=space.dropout_rates[0])
    if kind == genome_lib.MINIBATCH_STD:
        return LayerGene(kind)
    # A smooth activation or norm makes a gradient penalty differentiate
    # through it; "none" also spares a residual block's input gradient.
    activations = [a for a in space.activations if a not in cost_lib.SMOOTH_ACTIVATIONS]
    activation = (activations or list(space.activations))[0]
    norms = space._norms(network)
    norm = next((n for n in ("none", "spectral") if n in norms), norms[0])
    if kind == genome_lib.DENSE:
        return LayerGene(kind, size=min(space.units), activation=activation, norm=norm)
    downsampling = kind == genome_lib.CONV2D and network == "discriminator"
    stride = 2 if downsampling or (kind == genome_lib.CONV2D_TRANSPOSE and upsampling) else 1
    return LayerGene(
        kind,
        size=min(space.filters),
        kernel=min(space.kernel_sizes),
        stride=stride,
        activation=activation,
        norm=norm,
    )


def _light_training(space):
    """Training genes of the lightest train step the space allows."""
    losses = [loss for loss in space.losses if loss != "wasserstein_gp"] or list(space.losses)
    policies = [
        policy
        for policy in space.augment_policies
        if "translation" not in genome_lib.augment_operations(policy)
    ] or list(space.augment_policies)
    return TrainingGenes(
        loss=losses[0],
        augment=policies[0],
        r1_weight=min(space.r1_weights),
        d_steps=min(space.d_steps),
    )


def _conditionings(space):
    """Every pair of conditionings of a conditional space (narrowest embedding); else None."""
    if not space.conditional:
        return [None]
    return [
        ConditioningGenes(generator, discriminator, min(space.embedding_dims))
        for generator in space.generator_conditionings
        for discriminator in space.discriminator_conditionings
    ]
