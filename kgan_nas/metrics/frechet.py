"""The Frechet distance between Gaussians, and FID on top of it.

`frechet_distance` works on (mean, covariance) pairs with symmetric
eigen-decompositions only; `fid` fits those pairs to two feature sets (arrays
or `FeatureStatistics`) and warns when a covariance is rank-deficient.
"""

import numpy as np
import scipy.linalg

from kgan_nas import validate
from kgan_nas.errors import warn
from kgan_nas.metrics.statistics import _statistics_of

__all__ = ["fid", "frechet_distance"]


def _validate_gaussian(mu, sigma, index):
    """Validates one (mean, covariance) pair and returns float64 copies."""
    mu_name, sigma_name = f"mu{index}", f"sigma{index}"
    mu = validate.as_float64(mu, mu_name)
    sigma = validate.as_float64(sigma, sigma_name)
    if mu.ndim != 1 or mu.shape[0] == 0:
        raise ValueError(
            f"`{mu_name}` must be a non-empty 1-D mean vector, got shape "
            f"{mu.shape}. "
            "Pass the per-feature mean, e.g. `features.mean(axis=0)`."
        )
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1]:
        raise ValueError(
            f"`{sigma_name}` must be a square 2-D covariance matrix, got shape "
            f"{sigma.shape}. Pass e.g. `np.cov(features, rowvar=False)`."
        )
    if sigma.shape[0] != mu.shape[0]:
        raise ValueError(
            f"`{sigma_name}` has shape {sigma.shape} but `{mu_name}` has "
            f"{mu.shape[0]} entries; they must describe the same features."
        )
    validate.check_finite(mu, mu_name)
    validate.check_finite(sigma, sigma_name)
    scale = max(float(np.max(np.abs(sigma), initial=0.0)), np.finfo(float).tiny)
    asymmetry = float(np.max(np.abs(sigma - sigma.T), initial=0.0))
    if asymmetry > 1e-6 * scale:
        raise ValueError(
            f"`{sigma_name}` is not symmetric (max |S - S^T| = {asymmetry:.3g})"
            ". A covariance matrix must be symmetric; pass the output of "
            "`np.cov` or `FeatureStatistics.covariance`."
        )
    if np.any(np.diag(sigma) < -1e-6 * scale):
        raise ValueError(
            f"`{sigma_name}` has negative diagonal entries, so it is not a "
            "covariance matrix. Pass a positive semi-definite covariance."
        )
    # Remove round-off asymmetry so the symmetric solvers see one matrix.
    return mu, 0.5 * (sigma + sigma.T)


def _noise_floor(eigenvalues):
    """Eigenvalues below this are indistinguishable from round-off."""
    dim = eigenvalues.shape[0]
    largest = float(np.max(np.abs(eigenvalues), initial=0.0))
    return dim * np.finfo(np.float64).eps * largest


def _clip_eigenvalues(eigenvalues):
    """Sets eigenvalues within round-off of zero (or below it) to zero.

    The square root is not Lipschitz at 0, so round-off of size 1e-16 would
    otherwise turn into errors of size 1e-8 per zero eigenvalue.
    """
    return np.where(eigenvalues > _noise_floor(eigenvalues), eigenvalues, 0.0)


def _cholesky_factor(sigma):
    """The lower Cholesky factor of a positive definite `sigma`, else None.

    The fast route: one Cholesky factorisation instead of a full
    eigen-decomposition with vectors (2.3x faster at 2048 dimensions,
    `benchmarks/metrics.py`).
    """
    try:
        return scipy.linalg.cholesky(sigma, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None


def _eigen_factor(sigma):
    """`V diag(sqrt(lam))` for a positive semi-definite `sigma` (`F F^T = sigma`).

    Raises:
        ValueError: if `sigma` has a clearly negative eigenvalue.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)
    floor = _noise_floor(eigenvalues)
    if eigenvalues[0] < -max(1e-6 * abs(eigenvalues[-1]), floor):
        raise ValueError(
            f"`sigma1` has a negative eigenvalue ({eigenvalues[0]:.3g}), so it "
            "is not a covariance matrix. Pass a positive semi-definite matrix."
        )
    return eigenvectors * np.sqrt(_clip_eigenvalues(eigenvalues))


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Squared Frechet (2-Wasserstein) distance between two Gaussians.

    For `N(mu1, sigma1)` and `N(mu2, sigma2)`:

    `d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2)
           - 2 tr sqrt(sqrt(sigma1) sigma2 sqrt(sigma1))`.

    This is the FID formula when the Gaussians are fitted to Inception
    features. The square-root trace is computed in float64 from a factor
    `F F^T = sigma1` (its Cholesky factor; for a singular `sigma1`, from its
    eigen-decomposition) and the eigenvalues of the symmetric positive
    semi-definite matrix `F^T sigma2 F`, which are those of
    `sqrt(sigma1) sigma2 sqrt(sigma1)`. Unlike
    `scipy.linalg.sqrtm(sigma1 @ sigma2)` this never produces complex values,
    needs no diagonal jitter and handles singular covariances (fewer samples
    than dimensions). Eigenvalues within round-off of zero are treated as
    zero, and a result within round-off below zero is returned as 0.

    Args:
        mu1: Mean of the first Gaussian, shape `(dim,)`.
        sigma1: Covariance of the first Gaussian, shape `(dim, dim)`,
            symmetric positive semi-definite.
        mu2: Mean of the second Gaussian, shape `(dim,)`.
        sigma2: Covariance of the second Gaussian, shape `(dim, dim)`.

    Returns:
        The squared Frechet distance as a non-negative Python float.

    Raises:
        TypeError: If an input is not a real numeric array.
        ValueError: If a mean is not 1-D, a covariance is not square,
            symmetric or matching its mean, the two Gaussians have different
            dimensions, or any input holds NaN or infinity.

    Example:

    >>> import numpy as np
    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
    4.0
    """
    mu1, sigma1 = _validate_gaussian(mu1, sigma1, 1)
    mu2, sigma2 = _validate_gaussian(mu2, sigma2, 2)
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"The Gaussians have different dimensions: mu1 has {mu1.shape[0]} "
            f"entries, mu2 has {mu2.shape[0]}. Compute both statistics with "
            "the same feature extractor."
        )

    factor = _cholesky_factor(sigma1)
    if factor is None:  # singular (fewer samples than dimensions): eigen route
        factor = _eigen_factor(sigma1)
    # With sigma1 = F F^T, sqrt(sigma1) sigma2 sqrt(sigma1) and F^T sigma2 F
    # have the same eigenvalues (both are similar to sigma1 sigma2).
    product = factor.T @ (sigma2 @ factor)
    product = 0.5 * (product + product.T)
    eigenvalues = scipy.linalg.eigvalsh(product, driver="evd", check_finite=False)
    trace_sqrt_product = float(np.sum(np.sqrt(_clip_eigenvalues(eigenvalues))))

    mean_term = float(np.sum(np.square(mu1 - mu2)))
    distance = (
        mean_term + float(np.trace(sigma1)) + float(np.trace(sigma2)) - 2.0 * trace_sqrt_product
    )
    # A true distance of 0 can come out as -1e-13 from cancellation.
    return max(distance, 0.0)


def fid(real, fake):
    """Frechet Inception Distance between two sets of features.

    Fits a Gaussian to each set and returns their Frechet distance (see
    `frechet_distance`). With Inception-v3 `pool_3` features this is the FID
    of Heusel et al. (2017); with another extractor it is an FID-like score
    that is not comparable to published numbers.

    FID is biased upwards, and the bias shrinks roughly as 1/N, so compare
    scores only at equal sample counts (10k or 50k is customary). With
    `N <= dim` samples the covariance is rank-deficient: the value is still
    defined here but strongly biased, and the reference implementation
    (bioinf-jku/TTUR) refuses it, so a warning is emitted.

    Args:
        real: Features of real images, an array of shape `(N, dim)`, or a
            precomputed `FeatureStatistics`.
        fake: Features of generated images, same kinds as `real`.

    Returns:
        The FID as a non-negative Python float.

    Raises:
        TypeError: If an input is neither a numeric array nor a
            `FeatureStatistics`.
        ValueError: If a set has fewer than 2 samples, the dimensions
            differ, or features hold NaN or infinity.
    """
    real_stats = _statistics_of(real, "real")
    fake_stats = _statistics_of(fake, "fake")
    if real_stats.dim != fake_stats.dim:
        raise ValueError(
            f"`real` has {real_stats.dim} features but `fake` has "
            f"{fake_stats.dim}. Use the same feature extractor for both."
        )
    for name, stats in (("real", real_stats), ("fake", fake_stats)):
        if stats.count <= stats.dim:
            # In a search, `real` is the eval split and `fake` the generated (or, for the
            # reference scores, training) images: say which knob gives more of each.
            more = (
                "more images, or a larger eval_fraction (--eval-fraction) in a search"
                if name == "real"
                else "more generated images (num_samples, --num-samples, in a search)"
            )
            warn(
                f"`{name}` has {stats.count} samples for {stats.dim} "
                "features, so its covariance is rank-deficient and the FID "
                f"is strongly biased. Use more samples than feature dimensions: {more} "
                "(published FIDs on 2048-d Inception features use 10k+).",
            )
    return frechet_distance(
        real_stats.mean,
        real_stats.covariance,
        fake_stats.mean,
        fake_stats.covariance,
    )
