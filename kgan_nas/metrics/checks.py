"""Input checks shared by the metrics: real dtypes, finiteness, shapes, integers.

Every metric converts its inputs to float64 through these helpers, so bad input
(non-numeric, complex, NaN or infinite values, wrong rank) fails with the same
message whichever metric receives it.
"""

import numpy as np


def _check_real_dtype(array, name):
    """Raises a TypeError unless `array` has a real numeric dtype."""
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


def _as_float64(array, name):
    """Converts `array` to float64, rejecting non-numeric input."""
    array = np.asarray(array)
    _check_real_dtype(array, name)
    return array.astype(np.float64, copy=False)


def _check_finite(array, name):
    """Raises a ValueError if `array` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"`{name}` contains {bad} NaN or infinite value(s). Metrics are "
            "undefined for non-finite inputs; check the generator output "
            "(a diverged model often produces NaN) before computing metrics."
        )


def _as_feature_matrix(features, name):
    """Validates an `(num_samples, dim)` feature array and returns float64."""
    features = _as_float64(features, name)
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
    _check_finite(features, name)
    return features


def _check_positive_int(value, name, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
