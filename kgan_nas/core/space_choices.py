"""Checks of a `SearchSpace`'s choices: every tuple of choices non-empty, known and in range.

Pure Python. `SearchSpace.__post_init__` calls `check_choices`; the
conditioning and recipe genes check their own choices with the same
`tuple_of` and `names_of`.
"""

from kgan_nas.core import conditioning as conditioning_lib
from kgan_nas.core import genome as genome_lib
from kgan_nas.core import recipe as recipe_lib


def tuple_of(values, name, kind=(int, float), positive=True):
    """`values` as a tuple of distinct numbers (or of `kind`), else a `ValueError` naming `name`."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"SearchSpace.{name} must be a non-empty list or tuple, got {values!r}.")
    values = tuple(values)
    if not values:
        raise ValueError(f"SearchSpace.{name} must not be empty; give at least one choice.")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(
                f"SearchSpace.{name} holds {value!r} of type "
                f"{type(value).__name__}; expected numbers."
            )
        if positive and not value > 0:
            raise ValueError(f"SearchSpace.{name} must hold positive values, got {value!r}.")
    if len(set(values)) != len(values):
        raise ValueError(f"SearchSpace.{name} has duplicate choices: {values!r}.")
    return values


def names_of(values, name, known):
    """`values` as a tuple of distinct names, each one of `known`."""
    values = tuple_of(values, name, kind=str, positive=False)
    unknown = [value for value in values if value not in known]
    if unknown:
        raise ValueError(
            f"SearchSpace.{name} has unknown choice(s) {unknown}; choose from {list(known)}."
        )
    return values


def range_of(values, name):
    """`values` as a `(min, max)` pair of layer counts, 0 <= min <= max <= 32."""
    try:
        low, high = values
    except (TypeError, ValueError):
        raise ValueError(f"SearchSpace.{name} must be a (min, max) pair, got {values!r}.") from None
    if not (isinstance(low, int) and isinstance(high, int)) or low < 0 or low > high:
        raise ValueError(
            f"SearchSpace.{name} must be (min, max) integers with 0 <= min <= max, got {values!r}."
        )
    if high > 32:
        raise ValueError(f"SearchSpace.{name} max is {high}; at most 32 layers are supported.")
    return (low, high)


def check_choices(space):
    """Checks every tuple of choices of `space` and stores it as a tuple (a frozen dataclass).

    Raises:
        ValueError: naming the first setting that is empty, unknown or out of range.
    """
    set_ = lambda name, value: object.__setattr__(space, name, value)  # noqa: E731
    set_("generator_layers", range_of(space.generator_layers, "generator_layers"))
    set_("discriminator_layers", range_of(space.discriminator_layers, "discriminator_layers"))
    set_(
        "generator_layer_types",
        names_of(space.generator_layer_types, "generator_layer_types", genome_lib.GENERATOR_KINDS),
    )
    set_(
        "discriminator_layer_types",
        names_of(
            space.discriminator_layer_types,
            "discriminator_layer_types",
            genome_lib.DISCRIMINATOR_KINDS,
        ),
    )
    for name in ("filters", "units", "kernel_sizes"):
        set_(name, tuple_of(getattr(space, name), name, kind=int))
    for name in ("learning_rates",):
        set_(name, tuple_of(getattr(space, name), name))
    set_("dropout_rates", tuple_of(space.dropout_rates, "dropout_rates"))
    if any(rate >= 1 for rate in space.dropout_rates):
        rates = space.dropout_rates
        raise ValueError(f"SearchSpace.dropout_rates must be in (0, 1), got {rates!r}.")
    for name in ("beta_1", "beta_2"):
        values = tuple_of(getattr(space, name), name, positive=False)
        if any(not 0 <= v < 1 for v in values):
            raise ValueError(f"SearchSpace.{name} must be in [0, 1), got {values!r}.")
        set_(name, values)
    set_("activations", names_of(space.activations, "activations", genome_lib.ACTIVATIONS))
    set_(
        "generator_normalizations",
        names_of(
            space.generator_normalizations,
            "generator_normalizations",
            ("none", "batch", "layer"),
        ),
    )
    set_(
        "discriminator_normalizations",
        names_of(
            space.discriminator_normalizations,
            "discriminator_normalizations",
            genome_lib.NORMALIZATIONS,
        ),
    )
    set_("optimizers", names_of(space.optimizers, "optimizers", genome_lib.OPTIMIZERS))
    set_("losses", names_of(space.losses, "losses", genome_lib.LOSSES))
    for name, value in conditioning_lib.check_space(space, names_of, tuple_of).items():
        set_(name, value)
    for name, value in recipe_lib.check_space(space, tuple_of).items():
        set_(name, value)
