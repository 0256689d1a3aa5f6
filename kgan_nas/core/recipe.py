"""The training-recipe genes of a search space, in pure Python.

`TrainingGenes` carries five recipe genes beside the optimizer and the loss:
`ema_decay`, `augment`, `augment_probability`, `r1_weight` and `d_steps`.
This module holds what the space, repair, the genetic operators and the
decoder do with them: check the space's choices, sample, snap, the fields
mutation may change, crossover, and the `kgan_nas.GAN` options they become.

Every space field defaults to the one "off" choice, and a field with one
choice never draws a random number, so a space that leaves them alone
samples, mutates and stores (`SearchSpace.to_dict`) exactly what it did
before these genes existed.
"""

from kgan_nas.core import genome as genome_lib

# SearchSpace field -> (gene field, default choices).
SPACE_FIELDS = {
    "ema_decays": ("ema_decay", (0.0,)),
    "augment_policies": ("augment", (genome_lib.NO_AUGMENT,)),
    "augment_probabilities": ("augment_probability", (1.0,)),
    "r1_weights": ("r1_weight", (0.0,)),
    "d_steps": ("d_steps", (1,)),
}
# `SearchSpace.with_recipe()`: the choices that turn every recipe gene on
# (each still includes its "off" value, so the search can leave it off), and
# the layer kinds it adds to a space's own.
RECIPE_CHOICES = {
    "ema_decays": (0.0, 0.99, 0.999),
    "augment_policies": (genome_lib.NO_AUGMENT, "translation,cutout"),
    "augment_probabilities": (0.5, 1.0),
    "r1_weights": (0.0, 0.1, 1.0, 10.0),
    "d_steps": (1, 2),
}
RECIPE_KINDS = {
    "generator_layer_types": (genome_lib.RESIDUAL_UP,),
    "discriminator_layer_types": (genome_lib.RESIDUAL_DOWN, genome_lib.MINIBATCH_STD),
}
# The neutral augment probability of a genome that does not augment.
NEUTRAL_PROBABILITY = genome_lib.RECIPE_DEFAULTS["augment_probability"]


def check_space(space, tuple_of):
    """Checks a space's recipe fields; returns `{field: value}` to store.

    Args:
        space: The `SearchSpace` being created.
        tuple_of: The space's check of a non-empty tuple of distinct values.

    Returns:
        The checked tuples of `SPACE_FIELDS`.

    Raises:
        ValueError: for an empty or repeated tuple, a value out of range, an
            unknown augment operation, or `"color"` with images that do not
            have 3 channels.
    """
    checked = {
        "ema_decays": tuple_of(space.ema_decays, "ema_decays", positive=False),
        "augment_probabilities": tuple_of(space.augment_probabilities, "augment_probabilities"),
        "r1_weights": tuple_of(space.r1_weights, "r1_weights", positive=False),
        "d_steps": tuple_of(space.d_steps, "d_steps", kind=int),
    }
    policies = tuple_of(space.augment_policies, "augment_policies", kind=str, positive=False)
    _check_values(checked)
    for policy in policies:
        try:
            operations = genome_lib.augment_operations(policy)
        except ValueError as exc:
            raise ValueError(f"SearchSpace.augment_policies: {exc}") from None
        if "color" in operations and space.image_shape[2] != 3:
            raise ValueError(
                f"SearchSpace.augment_policies has {policy!r}, but 'color' augmentation "
                f"needs 3-channel (RGB) images and these have {space.image_shape[2]}. "
                "Drop 'color' from the policy, e.g. 'translation,cutout'."
            )
    checked["augment_policies"] = policies
    return checked


def _check_values(checked):
    if any(not 0 <= value < 1 for value in checked["ema_decays"]):
        raise ValueError(
            f"SearchSpace.ema_decays must be in [0, 1) (0.0 for no average), got "
            f"{checked['ema_decays']!r}."
        )
    if any(value > 1 for value in checked["augment_probabilities"]):
        raise ValueError(
            "SearchSpace.augment_probabilities must be in (0, 1], got "
            f"{checked['augment_probabilities']!r}."
        )
    if any(value < 0 for value in checked["r1_weights"]):
        raise ValueError(
            f"SearchSpace.r1_weights must be >= 0 (0.0 for no penalty), got "
            f"{checked['r1_weights']!r}."
        )


def strip_defaults(space_dict):
    """Drops the recipe fields that hold their default from a space's dict (as before)."""
    for name, (_, default) in SPACE_FIELDS.items():
        if name in space_dict and tuple(space_dict[name]) == default:
            del space_dict[name]
    return space_dict


def random_values(space, rng):
    """Random recipe genes from the space: `{gene field: value}`.

    Draws from `rng` only for a field with more than one choice, so a
    default space consumes the random stream of earlier versions.
    """
    values = {}
    for name, (field, _) in SPACE_FIELDS.items():
        choices = getattr(space, name)
        values[field] = choices[int(rng.integers(len(choices)))] if len(choices) > 1 else choices[0]
    return values


def snap(space, training, nearest):
    """The recipe genes of `training` snapped to the space: `{gene field: value}`.

    Each gene goes to its nearest choice, except two neutral values that
    keep equal training equal genes: the augment probability is 1.0 without
    augmentation, and the R1 weight is 0.0 with `"wasserstein_gp"` (which
    has its own penalty). A policy the space lacks becomes its closest one
    (fewest operations added or removed; `"color"` never counts for images
    without 3 channels).

    Args:
        space: The `SearchSpace`.
        training: The `TrainingGenes` to snap (its `loss` already snapped).
        nearest: Repair's nearest-choice function, `nearest(value, choices)`.
    """
    policy = _snap_policy(space, training.augment)
    values = {
        "ema_decay": nearest(training.ema_decay, space.ema_decays),
        "augment": policy,
        "augment_probability": nearest(training.augment_probability, space.augment_probabilities),
        "r1_weight": nearest(training.r1_weight, space.r1_weights),
        "d_steps": nearest(training.d_steps, space.d_steps),
    }
    if policy == genome_lib.NO_AUGMENT:
        values["augment_probability"] = NEUTRAL_PROBABILITY
    if training.loss == "wasserstein_gp":
        values["r1_weight"] = 0.0
    return values


def _snap_policy(space, policy):
    """`policy` if the space has it; else the space's closest policy."""
    if policy in space.augment_policies:
        return policy
    operations = set(genome_lib.augment_operations(policy))
    if space.image_shape[2] != 3:
        operations.discard("color")

    def distance(choice):
        return len(operations.symmetric_difference(genome_lib.augment_operations(choice)))

    return min(space.augment_policies, key=distance)


def mutable_fields(space):
    """The recipe gene fields mutation may change: those with more than one choice."""
    return tuple(
        field for name, (field, _) in SPACE_FIELDS.items() if len(getattr(space, name)) > 1
    )


def choices(space, field):
    """The space's choices of the recipe gene `field` (e.g. `"ema_decay"`)."""
    for name, (gene_field, _) in SPACE_FIELDS.items():
        if gene_field == field:
            return getattr(space, name)
    raise ValueError(f"{field!r} is not a recipe gene; known: {genome_lib.RECIPE_FIELDS}.")


def shrink_moves(space, genome):
    """Versions of `genome` whose train step costs less, for repair's `max_train_macs`.

    One fewer discriminator step (the next smaller choice), and no R1
    penalty (when 0.0 is a choice): each removes passes of the
    discriminator from every train step. The other recipe genes cost no
    MACs, or next to none (translation augmentation), so they are left to
    the search.
    """
    training = genome.training
    fewer = [steps for steps in space.d_steps if steps < training.d_steps]
    if fewer:
        yield genome.replace(training=training.replace(d_steps=max(fewer)))
    if training.r1_weight > 0 and 0.0 in space.r1_weights:
        yield genome.replace(training=training.replace(r1_weight=0.0))


def gan_options(training):
    """The `kgan_nas.GAN` arguments of the recipe genes that are on.

    Genes at their off value are left out (the GAN's own defaults are the
    same), so a genome without recipe genes builds the GAN it always built.

    Args:
        training: `TrainingGenes`.

    Returns:
        A dict with some of `ema_decay`, `augment`, `augment_probability`,
        `r1_weight` and `d_steps`.
    """
    options = {}
    if training.ema_decay:
        options["ema_decay"] = float(training.ema_decay)
    if training.augment != genome_lib.NO_AUGMENT:
        options["augment"] = training.augment
        options["augment_probability"] = float(training.augment_probability)
    if training.r1_weight:
        options["r1_weight"] = float(training.r1_weight)
    if training.d_steps != 1:
        options["d_steps"] = int(training.d_steps)
    return options
