"""Kernel Inception Distance: unbiased MMD^2 with a polynomial kernel over subsets."""

import math

import numpy as np

from kgan_nas.metrics.checks import _as_feature_matrix
from kgan_nas.metrics.checks import _check_positive_int

__all__ = ["kernel_inception_distance"]


def _unbiased_mmd2(kernel_xx, kernel_yy, kernel_xy):
    """Unbiased MMD^2 from three m x m kernel matrices (equal sample sizes).

    The within-set averages exclude the diagonal k(x_i, x_i): those terms
    are not pairs of independent samples, and leaving them in (the "biased"
    V-statistic) makes the estimate positive even for identical
    distributions.
    """
    m = kernel_xx.shape[0]
    within_x = (kernel_xx.sum() - np.trace(kernel_xx)) / (m * (m - 1))
    within_y = (kernel_yy.sum() - np.trace(kernel_yy)) / (m * (m - 1))
    between = kernel_xy.sum() / (m * m)
    return within_x + within_y - 2.0 * between


def kernel_inception_distance(
    real_features,
    fake_features,
    *,
    subsets=100,
    subset_size=1000,
    degree=3,
    gamma=None,
    coef0=1.0,
    seed=0,
    matmul_dtype="float64",
):
    """Kernel Inception Distance (Binkowski et al., 2018).

    For each of `subsets` rounds, draws `subset_size` real and fake feature
    vectors without replacement and computes the unbiased estimate of the
    squared maximum mean discrepancy (MMD^2) under the polynomial kernel
    `k(x, y) = (gamma * x.y + coef0) ** degree`. "Unbiased" means the
    estimate's expectation is the true MMD^2, which is 0 when both sets come
    from the same distribution, so individual values can be slightly
    negative. The defaults follow the KID paper and torch-fidelity; the
    reported std is the spread over subsets (ddof=0), as torch-fidelity
    reports it, not a standard error.

    Args:
        real_features: Array of shape `(N_real, dim)`.
        fake_features: Array of shape `(N_fake, dim)`.
        subsets: Number of random subsets. Defaults to 100.
        subset_size: Samples per subset, clipped to
            `min(N_real, N_fake)`. Defaults to 1000.
        degree: Polynomial kernel degree. Defaults to 3.
        gamma: Kernel scale; `None` means `1 / dim`. Defaults to `None`.
        coef0: Kernel offset. Defaults to 1.0.
        seed: Seed of the subset sampler; equal seeds give equal results.
            Defaults to 0.
        matmul_dtype: `"float64"` or `"float32"`: precision of the feature
            dot products, which dominate the cost. Kernel values and sums are
            always float64. `"float32"` is about 3x faster on CPU and, on
            2048-d features, changed an MMD^2 of ~1e-6 by ~2e-11, far below
            the spread over subsets. Defaults to `"float64"`.

    Returns:
        A tuple `(mean, std)` of Python floats over the subsets.

    Raises:
        TypeError: If the features are not real numeric arrays.
        ValueError: If the features are not 2-D, differ in dimension, hold
            NaN or infinity, either set has fewer than 2 samples, or a
            parameter is out of range.
    """
    real, fake, size, gamma = _validated_kid_inputs(
        real_features,
        fake_features,
        subsets=subsets,
        subset_size=subset_size,
        degree=degree,
        gamma=gamma,
        coef0=coef0,
        matmul_dtype=matmul_dtype,
    )

    def kernel(a, b):
        base = (a @ b.T).astype(np.float64, copy=False)
        base *= gamma
        base += coef0
        # Repeated in-place products: `base ** degree` goes through the
        # generic pow() and is ~30x slower for 1000 x 1000 matrices.
        if degree == 1:
            return base
        result = base * base
        for _ in range(degree - 2):
            result *= base
        return result

    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        x = real[rng.choice(real.shape[0], size, replace=False)]
        y = fake[rng.choice(fake.shape[0], size, replace=False)]
        estimates[i] = _unbiased_mmd2(kernel(x, x), kernel(y, y), kernel(x, y))
    return float(estimates.mean()), float(estimates.std())


def _validated_kid_inputs(
    real_features, fake_features, *, subsets, subset_size, degree, gamma, coef0, matmul_dtype
):
    """Checks the arguments of `kernel_inception_distance` and prepares the features.

    Args:
        real_features: Array of shape `(N_real, dim)`.
        fake_features: Array of shape `(N_fake, dim)`.
        subsets: Number of random subsets.
        subset_size: Requested samples per subset.
        degree: Polynomial kernel degree.
        gamma: Kernel scale, or `None` for `1 / dim`.
        coef0: Kernel offset.
        matmul_dtype: `"float64"` or `"float32"`.

    Returns:
        A tuple `(real, fake, size, gamma)`: both feature sets cast to
        `matmul_dtype`, the subset size clipped to both set sizes, and the
        kernel scale with `None` resolved.

    Raises:
        TypeError: If the features are not real numeric arrays.
        ValueError: As for `kernel_inception_distance`.
    """
    real = _as_feature_matrix(real_features, "real_features")
    fake = _as_feature_matrix(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"`real_features` has {real.shape[1]} features but "
            f"`fake_features` has {fake.shape[1]}. Use the same extractor."
        )
    _check_positive_int(subsets, "subsets", minimum=1)
    _check_positive_int(subset_size, "subset_size", minimum=2)
    _check_positive_int(degree, "degree", minimum=1)
    size = min(subset_size, real.shape[0], fake.shape[0])
    if size < 2:
        raise ValueError(
            f"KID needs at least 2 samples per set, got {real.shape[0]} real "
            f"and {fake.shape[0]} fake. Generate more samples."
        )
    if gamma is None:
        gamma = 1.0 / real.shape[1]
    if not (math.isfinite(gamma) and math.isfinite(coef0)):
        raise ValueError(f"`gamma` and `coef0` must be finite, got {gamma!r}, {coef0!r}.")

    if matmul_dtype not in ("float64", "float32"):
        raise ValueError(f"`matmul_dtype` must be 'float64' or 'float32', got {matmul_dtype!r}.")
    # Cast once, not per subset.
    real = real.astype(matmul_dtype, copy=False)
    fake = fake.astype(matmul_dtype, copy=False)
    return real, fake, size, gamma
