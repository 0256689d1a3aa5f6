"""The argument checks every public entry point shares (pure Python).

One idea of each kind of value: an integer is any `numbers.Integral` except
`bool` (so numpy integers pass and `True` does not); a number is any real
number except `bool`. Each check raises a `ValueError` that names the
argument, the value it got and what it accepts.
"""

import numbers


def is_integer(value):
    """True for Python and numpy integers, False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """True for real numbers (ints, floats, numpy scalars), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(value, name, *, minimum=1, hint=""):
    """Returns `value` as an int if it is an integer `>= minimum`.

    Args:
        value: The argument's value.
        name: The argument's name, for the message.
        minimum: The smallest accepted value (1: positive).
        hint: Optional sentence appended to the message (why, or the fix).

    Returns:
        `int(value)`.

    Raises:
        ValueError: naming `name` and the value.
    """
    if not is_integer(value) or value < minimum:
        kind = (
            "a positive integer"
            if minimum == 1
            else ("a non-negative integer" if minimum == 0 else f"an integer >= {minimum}")
        )
        raise ValueError(f"{name} must be {kind}, got {value!r}.{' ' + hint if hint else ''}")
    return int(value)


def check_non_negative_int(value, name, *, hint=""):
    """`check_positive_int` with 0 allowed."""
    return check_positive_int(value, name, minimum=0, hint=hint)


def check_positive_number(value, name, *, allow_none=False, unit=""):
    """Returns `value` if it is a number > 0 (or None when `allow_none`).

    Args:
        value: The argument's value.
        name: The argument's name, for the message.
        allow_none: Accept None (e.g. "no limit").
        unit: What the number counts, e.g. `"seconds"`, for the message.

    Returns:
        `value`.

    Raises:
        ValueError: naming `name` and the value.
    """
    if value is None and allow_none:
        return None
    if not is_number(value) or not value > 0:
        what = f"a positive number of {unit}" if unit else "a positive number"
        none = ", or None for no limit" if allow_none else ""
        raise ValueError(f"{name} must be {what}{none}; got {value!r}.")
    return value


def check_fraction(value, name, *, hint=""):
    """Raises unless `value` is a number in [0, 1) (not a bool); returns it as a float."""
    if not is_number(value) or not 0.0 <= value < 1.0:
        hint = f" {hint}" if hint else ""
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.{hint}")
    return float(value)


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`.

    Raises:
        ValueError: naming `name`, the value and the choices.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")
    return value
