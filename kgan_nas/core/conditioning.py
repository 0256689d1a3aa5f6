"""The conditioning gene of class-conditional searches, in pure Python.

A conditional `SearchSpace` (`num_classes` set) gives every genome
`ConditioningGenes`: how the generator takes its class (`"concat"` or
`"multiply"` with the latent) and how the discriminator does (`"concat"` as
an extra image channel, or `"projection"`). This module holds what the
space, repair and the genetic operators do with that gene: check the space's
choices, sample, snap, mutate and cross it over. An unconditional space
never draws a random number here, so unconditional searches are unchanged.
"""

from kgan_nas.core import genome as genome_lib
from kgan_nas.core.genome import ConditioningGenes

# The SearchSpace fields of conditioning; stored only for a conditional space.
SPACE_FIELDS = (
    "num_classes",
    "generator_conditionings",
    "discriminator_conditionings",
    "embedding_dims",
)
FIELDS = ("generator", "discriminator", "embedding_dim")


def check_space(space, names_of, tuple_of):
    """Checks a space's conditioning fields; returns `{field: value}` to store.

    Args:
        space: The `SearchSpace` being created.
        names_of: The space's check of a tuple of names.
        tuple_of: The space's check of a tuple of positive numbers.

    Returns:
        The checked values of `SPACE_FIELDS`.

    Raises:
        ValueError: for `num_classes` that is not None or an integer >= 2,
            or an invalid tuple of choices.
    """
    classes = space.num_classes
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int)):
        raise ValueError(
            f"SearchSpace.num_classes must be None (unconditional) or an integer >= 2, "
            f"got {classes!r}."
        )
    if classes is not None and classes < 2:
        raise ValueError(
            f"SearchSpace.num_classes is {classes}; a conditional GAN needs at least two "
            "classes. Use num_classes=None for an unconditional search."
        )
    return {
        "num_classes": classes,
        "generator_conditionings": names_of(
            space.generator_conditionings,
            "generator_conditionings",
            genome_lib.GENERATOR_CONDITIONINGS,
        ),
        "discriminator_conditionings": names_of(
            space.discriminator_conditionings,
            "discriminator_conditionings",
            genome_lib.DISCRIMINATOR_CONDITIONINGS,
        ),
        "embedding_dims": tuple_of(space.embedding_dims, "embedding_dims", kind=int),
    }


def strip_unconditional(space_dict):
    """Drops the conditioning fields from an unconditional space's dict (as before)."""
    if space_dict.get("num_classes") is None:
        for name in SPACE_FIELDS:
            space_dict.pop(name, None)
    return space_dict


def random_genes(space, rng):
    """Random `ConditioningGenes` from a conditional space's choices."""
    generator = _choice(rng, space.generator_conditionings)
    discriminator = _choice(rng, space.discriminator_conditionings)
    width = _choice(rng, space.embedding_dims)
    return snap(space, ConditioningGenes(generator, discriminator, width))


def snap(space, genes):
    """The nearest conditioning genes within `space` (None for an unconditional space).

    A genome without them in a conditional space gets the space's first
    choices; the embedding width is snapped to the nearest choice, and is
    0 (neutral) for a `"multiply"` generator.
    """
    if space.num_classes is None:
        return None
    genes = genes or ConditioningGenes(
        space.generator_conditionings[0],
        space.discriminator_conditionings[0],
        space.embedding_dims[0],
    )
    generator = genes.generator
    if generator not in space.generator_conditionings:
        generator = space.generator_conditionings[0]
    discriminator = genes.discriminator
    if discriminator not in space.discriminator_conditionings:
        discriminator = space.discriminator_conditionings[0]
    width = 0
    if generator == "concat":
        wanted = genes.embedding_dim or space.embedding_dims[0]
        width = min(space.embedding_dims, key=lambda choice: (abs(choice - wanted), choice))
    return ConditioningGenes(generator, discriminator, width)


def problems(space, genome):
    """Why `genome`'s conditioning does not fit `space` (empty when it does)."""
    if space.num_classes is None:
        if genome.conditioning is not None:
            return [
                "genome has conditioning genes but the space is unconditional (num_classes=None)"
            ]
        return []
    if genome.conditioning is None:
        return [f"genome has no conditioning genes but the space has {space.num_classes} classes"]
    if snap(space, genome.conditioning) != genome.conditioning:
        return [f"conditioning genes {genome.conditioning} are not within the space's choices"]
    return []


def mutate(genes, space, rng, rate):
    """`genes` with each field re-drawn with probability `rate`; None stays None.

    Returns:
        `(genes, changed)`.
    """
    if genes is None:
        return None, False
    changed = False
    for field in _fields_that_matter(genes):
        if rng.random() < rate:
            genes = change(genes, space, rng, field)
            changed = True
    return genes, changed


def change(genes, space, rng, field=None):
    """`genes` with one field (random when None) set to another choice."""
    if field is None:
        fields = _fields_that_matter(genes)
        field = fields[int(rng.integers(len(fields)))]
    choices = {
        "generator": space.generator_conditionings,
        "discriminator": space.discriminator_conditionings,
        "embedding_dim": space.embedding_dims,
    }[field]
    current = getattr(genes, field)
    others = [choice for choice in choices if choice != current]
    if not others:
        return genes
    value = others[int(rng.integers(len(others)))]
    if field == "generator" and value == "concat" and not genes.embedding_dim:
        return ConditioningGenes(value, genes.discriminator, space.embedding_dims[0])
    return snap(space, ConditioningGenes(**{**genes.to_dict(), field: value}))


def _fields_that_matter(genes):
    """The fields whose change changes the networks (a multiplying generator has no width)."""
    return FIELDS if genes.generator == "concat" else FIELDS[:2]


def crossover(parent_a, parent_b, rng):
    """Uniform crossover of two parents' conditioning genes (None when unconditional)."""
    if parent_a.conditioning is None or parent_b.conditioning is None:
        return parent_a.conditioning
    values = {}
    for field in FIELDS:
        source = parent_a if rng.random() < 0.5 else parent_b
        values[field] = getattr(source.conditioning, field)
    if values["generator"] == "concat" and not values["embedding_dim"]:
        values["embedding_dim"] = parent_a.conditioning.embedding_dim or (
            parent_b.conditioning.embedding_dim
        )
    elif values["generator"] == "multiply":
        values["embedding_dim"] = 0
    return ConditioningGenes(**values)


def shrink_moves(space, genome):
    """Smaller-embedding versions of `genome`, for repair's `max_params` shrinking."""
    genes = genome.conditioning
    if genes is None or genes.generator != "concat":
        return
    smaller = [width for width in space.embedding_dims if width < genes.embedding_dim]
    if smaller:
        yield genome.replace(conditioning=genes.replace(embedding_dim=max(smaller)))


def _choice(rng, values):
    values = tuple(values)
    return values[int(rng.integers(len(values)))]
