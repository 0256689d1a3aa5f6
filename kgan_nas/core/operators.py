"""Genetic operators on genomes: mutation and crossover (pure Python).

Every operator takes an explicit `numpy.random.Generator` (no global random
state) and returns a genome that `SearchSpace.repair` has made valid.
"""

import dataclasses

from kgan_nas.core import conditioning as conditioning_lib
from kgan_nas.core import genome as genome_lib
from kgan_nas.core import recipe as recipe_lib
from kgan_nas.core.space import InvalidGenomeError

_NETWORKS = ("generator", "discriminator")
_TRAINING_FIELDS = ("optimizer", "g_learning_rate", "d_learning_rate", "beta_1", "beta_2", "loss")


def mutate(genome, space, rng, rate=0.2, max_tries=20):
    """Returns a mutated, valid copy of `genome` that differs from it.

    Each layer gene is changed with probability `rate` (one of its fields is
    re-drawn), each training gene (a recipe gene only when the space gives
    it more than one choice) and each field of a conditional genome's
    `ConditioningGenes` likewise, and a layer is added to and removed from
    each network with probability `rate` each. When chance changes nothing,
    one random operation is applied, so the child always differs from its
    parent.

    Args:
        genome: The parent `Genome`.
        space: The `SearchSpace` that defines choices and validity.
        rng: A `numpy.random.Generator`.
        rate: Per-gene mutation probability, in (0, 1].
        max_tries: Attempts before giving up on producing a different genome.

    Returns:
        A valid `Genome` different from `genome` (or `genome` itself if the
        space is so small that no different valid genome was found).

    Raises:
        ValueError: if `rate` is not in (0, 1].
    """
    if not 0 < rate <= 1:
        raise ValueError(f"mutation rate must be in (0, 1], got {rate!r}.")
    for _ in range(max_tries):
        child = _mutate_once(genome, space, rng, rate)
        try:
            child = space.repair(child)
        except InvalidGenomeError:
            continue
        if child != genome:
            return child
    return genome


def crossover(parent_a, parent_b, space, rng):
    """One-point crossover of each network plus uniform crossover of training genes.

    The recipe genes (`ema_decay`, `augment`, ...) are crossed only when the
    space gives them more than one choice; otherwise the child keeps the
    first parent's (which repair snaps to the one choice).

    For each network the child takes a prefix of one parent's layers and a
    suffix of the other's, with cut points chosen so the child's layer count
    stays within the space's bounds.

    Args:
        parent_a: First parent `Genome`.
        parent_b: Second parent `Genome`.
        space: The `SearchSpace`.
        rng: A `numpy.random.Generator`.

    Returns:
        A valid child `Genome` (repaired). If repair fails the first parent is
        returned.
    """
    parts = {}
    for network in _NETWORKS:
        genes_a = list(getattr(parent_a, network))
        genes_b = list(getattr(parent_b, network))
        low, high = space.generator_layers if network == "generator" else space.discriminator_layers
        cuts = [
            (i, j)
            for i in range(len(genes_a) + 1)
            for j in range(len(genes_b) + 1)
            if low <= i + len(genes_b) - j <= high
        ]
        i, j = cuts[int(rng.integers(len(cuts)))]
        parts[network] = tuple(genes_a[:i] + genes_b[j:])
    training = dataclasses.asdict(parent_a.training)
    for field in _training_fields(space):
        source = parent_a if rng.random() < 0.5 else parent_b
        training[field] = getattr(source.training, field)
    child = genome_lib.Genome(
        parts["generator"],
        parts["discriminator"],
        genome_lib.TrainingGenes(**training),
        conditioning_lib.crossover(parent_a, parent_b, rng),
    )
    try:
        return space.repair(child)
    except InvalidGenomeError:
        return parent_a


def _mutate_once(genome, space, rng, rate):
    networks = {network: list(getattr(genome, network)) for network in _NETWORKS}
    training = dataclasses.asdict(genome.training)
    changed = False
    for network, genes in networks.items():
        for i, gene in enumerate(genes):
            if rng.random() < rate:
                genes[i] = _change_gene(gene, network, space, rng)
                changed = True
        if rng.random() < rate:
            _add_gene(genes, network, space, rng)
            changed = True
        if genes and rng.random() < rate:
            del genes[int(rng.integers(len(genes)))]
            changed = True
    for field in _training_fields(space):
        if rng.random() < rate:
            training[field] = _change_training(field, training[field], space, rng)
            changed = True
    conditioning, changed_conditioning = conditioning_lib.mutate(
        genome.conditioning, space, rng, rate
    )
    changed = changed or changed_conditioning
    if not changed and conditioning is not None and rng.random() < 0.2:
        conditioning = conditioning_lib.change(conditioning, space, rng)
    elif not changed:
        _one_random_operation(networks, training, space, rng)
    return genome_lib.Genome(
        tuple(networks["generator"]),
        tuple(networks["discriminator"]),
        genome_lib.TrainingGenes(**training),
        conditioning,
    )


def _one_random_operation(networks, training, space, rng):
    operation = int(rng.integers(4))
    network = _NETWORKS[int(rng.integers(2))]
    genes = networks[network]
    if operation == 0 and genes:
        i = int(rng.integers(len(genes)))
        genes[i] = _change_gene(genes[i], network, space, rng)
    elif operation == 1:
        _add_gene(genes, network, space, rng)
    elif operation == 2 and genes:
        del genes[int(rng.integers(len(genes)))]
    else:
        fields = _training_fields(space)
        field = fields[int(rng.integers(len(fields)))]
        training[field] = _change_training(field, training[field], space, rng)


def _add_gene(genes, network, space, rng):
    position = int(rng.integers(len(genes) + 1))
    genes.insert(position, space.random_gene(network, rng))


def _change_gene(gene, network, space, rng):
    """Re-draws one field that matters for this gene's kind."""
    if gene.kind == genome_lib.DROPOUT:
        fields = ["rate", "kind"]
    elif gene.kind == genome_lib.MINIBATCH_STD:
        fields = ["kind"]
    elif gene.kind == genome_lib.DENSE:
        fields = ["size", "activation", "norm", "kind"]
    else:
        fields = ["size", "kernel", "activation", "norm", "kind"]
        if gene.kind == genome_lib.CONV2D_TRANSPOSE or (
            gene.kind == genome_lib.CONV2D and network == "discriminator"
        ):
            fields.append("stride")
    field = fields[int(rng.integers(len(fields)))]
    if field == "kind":
        # A new kind is a new random layer of that kind.
        return space.random_gene(network, rng)
    choices = {
        "rate": space.dropout_rates,
        "size": space.units if gene.kind == genome_lib.DENSE else space.filters,
        "kernel": space.kernel_sizes,
        "activation": space.activations,
        "norm": (
            space.generator_normalizations
            if network == "generator"
            else space.discriminator_normalizations
        ),
        "stride": (1, 2),
    }[field]
    return gene.replace(**{field: _different_choice(getattr(gene, field), choices, rng)})


def _training_fields(space):
    """The training gene fields the operators change: recipe genes only with a choice."""
    return _TRAINING_FIELDS + recipe_lib.mutable_fields(space)


def _change_training(field, value, space, rng):
    if field in genome_lib.RECIPE_FIELDS:
        return _different_choice(value, recipe_lib.choices(space, field), rng)
    choices = {
        "optimizer": space.optimizers,
        "g_learning_rate": space.learning_rates,
        "d_learning_rate": space.learning_rates,
        "beta_1": space.beta_1,
        "beta_2": space.beta_2,
        "loss": space.losses,
    }[field]
    return _different_choice(value, choices, rng)


def _different_choice(current, choices, rng):
    others = [c for c in choices if c != current]
    if not others:
        return current
    return others[int(rng.integers(len(others)))]
