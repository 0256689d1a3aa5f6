"""The argument checks every public entry point shares (pure Python).

One idea of each kind of value: an integer is any `numbers.Integral` except
`bool` (so numpy integers pass and `True` does not); a number is any real
number except `bool`. Each check raises a `ValueError` that names the
argument, the value it got and what it accepts.
"""

import math
import numbers


def is_integer(value):
    """True for Python and numpy integers, False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """True for real numbers (ints, floats, numpy scalars), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_number(value):
    """`is_number` without NaN and infinities: the test for rates, weights and budgets."""
    return is_number(value) and math.isfinite(value)


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


def check_known_names(names, what, known):
    """Checks that `names` are distinct members of `known`; returns them as a tuple.

    Args:
        names: The names given.
        what: What they name, for the messages (e.g. `"objective(s)"`).
        known: The known names, in the order the messages list them.

    Raises:
        ValueError: naming the unknown names (and listing the known ones), or
            the repeated ones.
    """
    names = tuple(names)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"Unknown {what} {unknown}; choose from {list(known)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} repeat(s) in {list(names)}; name each once.")
    return names


def check_integer_at_least(value, name, minimum):
    """Returns `value` as an int if it is an integer `>= minimum`.

    Args:
        value: The argument's value.
        name: The argument's name as the message shows it.
        minimum: The smallest accepted value.

    Returns:
        `int(value)`.

    Raises:
        ValueError: "`name` must be an integer >= minimum, got value."
    """
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_rate(value, name, *, low_open):
    """Returns `value` as a float if it is a number in (0, 1] (`low_open`) or [0, 1].

    Raises:
        ValueError: naming `name`, the value and the interval.
    """
    valid = is_number(value) and (0 < value <= 1 if low_open else 0 <= value <= 1)
    if not valid:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
    return float(value)


# Data-set settings (`kgan_nas.data.load_dataset`).


def check_eval_fraction(eval_fraction):
    if not isinstance(eval_fraction, (int, float)) or not (0.0 < eval_fraction < 1.0):
        raise ValueError(
            f"eval_fraction must be a number strictly between 0 and 1 (the "
            "share of images held out for evaluation); got "
            f"{eval_fraction!r}. "
            "A typical value is 0.2."
        )


def check_holdout_fraction(holdout_fraction, eval_fraction):
    check_fraction(
        holdout_fraction,
        "holdout_fraction",
        hint="It is the share of images kept out of training and selection; use 0 for "
        "no held-out split (a typical value is 0.15).",
    )
    if eval_fraction + holdout_fraction >= 0.9:
        raise ValueError(
            f"eval_fraction + holdout_fraction = {eval_fraction + holdout_fraction:.2f} "
            "leaves too few images for training; keep the two below 0.9 together "
            "(typically 0.2 and 0.15)."
        )


def check_value_range(value_range):
    if isinstance(value_range, str) and value_range == "auto":
        return value_range
    try:
        if isinstance(value_range, str):
            raise TypeError(value_range)
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"value_range must be 'auto' or a (low, high) pair such as "
            f"(0, 255); got {value_range!r}."
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"value_range must be a finite (low, high) pair with low < high; got {value_range!r}."
        )
    return (low, high)


def check_min_images(min_images):
    if not is_integer(min_images) or min_images < 2:
        raise ValueError(
            f"min_images must be an integer >= 2 (e.g. 2 x batch size); got {min_images!r}."
        )
    return int(min_images)


# Arrays of numbers (the metrics' inputs). numpy is imported when a check runs,
# so `import kgan_nas.validate` stays as light as the CLI's help needs.


def check_real_dtype(array, name):
    """Raises a TypeError unless `array` has a real numeric dtype."""
    import numpy as np

    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(
            f"`{name}` must be a numeric array, got dtype {array.dtype}. "
            "Pass a numpy array (or array-like) of floats."
        )
    if np.iscomplexobj(array):
        raise TypeError(
            f"`{name}` must be real-valued, got complex dtype {array.dtype}. "
            "Pass real feature values."
        )


def as_float64(array, name):
    """Converts `array` to float64, rejecting non-numeric input."""
    import numpy as np

    array = np.asarray(array)
    check_real_dtype(array, name)
    return array.astype(np.float64, copy=False)


def check_finite(array, name):
    """Raises a ValueError if `array` holds NaN or infinity."""
    import numpy as np

    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"`{name}` contains {bad} NaN or infinite value(s). Metrics are "
            "undefined for non-finite inputs; check the generator output "
            "(a diverged model often produces NaN) before computing metrics."
        )


def as_feature_matrix(features, name):
    """Validates an `(num_samples, dim)` feature array and returns float64."""
    features = as_float64(features, name)
    if features.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array of shape (num_samples, dim), got "
            f"shape {features.shape}. Flatten or pool the features first."
        )
    if features.shape[1] == 0:
        raise ValueError(
            f"`{name}` has zero feature dimensions (shape {features.shape}). "
            "Pass at least one feature per sample."
        )
    check_finite(features, name)
    return features
