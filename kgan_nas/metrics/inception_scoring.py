"""Inception Score from class probabilities, over contiguous groups of samples."""

import numpy as np
from scipy import special

from kgan_nas import validate

__all__ = ["inception_score"]

# How far a probability row may sum away from 1 (float32 softmax outputs over
# 1000 classes typically miss by ~1e-6; 1e-3 also tolerates float16).
_PROBABILITY_SUM_ATOL = 1e-3


def inception_score(probabilities, *, splits=10):
    """Inception Score (Salimans et al., 2016) from class probabilities.

    For each of `splits` contiguous groups of samples, computes
    `exp(E_x KL(p(y|x) || p(y)))`, where `p(y)` is the mean prediction of
    that group, and returns the mean and standard deviation (ddof=0) over
    the groups, as the original implementation does. Logarithms use
    `scipy.special.xlogy`, which defines `0 * log 0 = 0` exactly, so no
    epsilon distorts confident (one-hot) predictions. Scores range from 1
    (every sample gets the same prediction) to the number of classes.

    Like FID, IS is biased by the group size, so report `splits` and the
    sample count with it.

    Args:
        probabilities: Array of shape `(N, num_classes)`; each row a
            probability distribution (softmax output, not logits).
        splits: Number of groups. Defaults to 10.

    Returns:
        A tuple `(mean, std)` of Python floats.

    Raises:
        TypeError: If `probabilities` is not a real numeric array.
        ValueError: If it is not 2-D, holds NaN, infinity or negative
            values, rows do not sum to 1, or `N < splits`.
    """
    probabilities = validate.as_float64(probabilities, "probabilities")
    if probabilities.ndim != 2:
        raise ValueError(
            "`probabilities` must be a 2-D array of shape (N, num_classes), "
            f"got shape {probabilities.shape}."
        )
    validate.check_finite(probabilities, "probabilities")
    validate.check_integer_at_least(splits, "`splits`", 1)
    num_samples = probabilities.shape[0]
    if num_samples < splits:
        raise ValueError(
            f"`probabilities` has {num_samples} rows but `splits={splits}`; "
            "each split needs at least one sample. Pass more samples or "
            "fewer splits."
        )
    if np.any(probabilities < 0):
        raise ValueError(
            "`probabilities` has negative entries. Pass softmax outputs "
            "(apply a softmax to logits first)."
        )
    row_sums = probabilities.sum(axis=1)
    worst = float(np.max(np.abs(row_sums - 1.0)))
    if worst > _PROBABILITY_SUM_ATOL:
        raise ValueError(
            "Rows of `probabilities` must sum to 1, but one is off by "
            f"{worst:.3g}. Pass softmax outputs (apply a softmax to logits "
            "first)."
        )

    scores = np.empty(splits, dtype=np.float64)
    for i in range(splits):
        group = probabilities[i * num_samples // splits : (i + 1) * num_samples // splits]
        marginal = group.mean(axis=0, keepdims=True)
        # Where group > 0 the marginal is > 0 too, so xlogy is finite.
        kl = special.xlogy(group, group) - special.xlogy(group, marginal)
        scores[i] = np.exp(kl.sum(axis=1).mean())
    return float(scores.mean()), float(scores.std())
