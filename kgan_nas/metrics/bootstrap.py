"""A bootstrap confidence interval for FID: `fid_confidence_interval`.

FID is one number from one finite sample of generated images; another
sample of as many images from the same generator scores a little
differently. The bootstrap estimates that spread by resampling the generated
features with replacement and recomputing the FID, cheaply: the real
covariance is factored once (`sigma_real = F F^T`) and the generated
features projected once (`Y = X F`), after which each resample needs only a
Gram matrix of its `min(N, dim)`-sized side and its eigenvalues. On
low-dimensional features (the 64-d domain features of a search) all
resamples' Gram matrices come from one matrix product and one stacked
eigenvalue call, instead of many small calls that a loaded machine's BLAS
threads make slow.
"""

import math
import numbers

import numpy as np
import scipy.linalg

from kgan_nas import validate
from kgan_nas.metrics.frechet import _cholesky_factor
from kgan_nas.metrics.frechet import _clip_eigenvalues
from kgan_nas.metrics.frechet import _eigen_factor
from kgan_nas.metrics.frechet import _validate_gaussian
from kgan_nas.metrics.statistics import FeatureStatistics
from kgan_nas.metrics.statistics import _statistics_of

__all__ = ["fid_confidence_interval"]

# Up to this feature dimension all resamples are computed at once; above it
# (e.g. 2048-d Inception features) one resample at a time, with the smaller
# side of each Gram matrix.
_BATCHED_MAX_DIM = 256
# Rows of the `(rows, dim * dim)` outer-product matrix built at a time (32 MiB).
_BLOCK_VALUES = 4 * 1024 * 1024


def fid_confidence_interval(
    real, fake, *, resamples=100, confidence=0.95, seed=0, resample_real=False
):
    """A bootstrap confidence interval for the FID of `fake` against `real`.

    Draws `resamples` bootstrap samples of the generated features (rows
    drawn with replacement, as many as there are), computes each one's FID
    in float64, and returns the basic bootstrap interval centred on the
    bootstrap mean: `fid - (q_high - mean)` to `fid - (q_low - mean)`, where
    `q_low, q_high` are the bootstrap FIDs' quantiles. Centring removes the
    upward bias that resampling itself adds (duplicated rows make each
    resample's covariance noisier), so the interval is about the FID at
    this sample count: the range in which the FID of another draw of as
    many generated images would fall. It is not an interval for the FID at
    infinitely many samples, which is lower (FID is biased upwards; see
    `fid`). The interval always contains the point estimate and never goes
    below 0.

    Args:
        real: Features of real images, an array of shape `(N_real, dim)`,
            or a precomputed `FeatureStatistics` (not with
            `resample_real=True`).
        fake: Features of generated images, an array of shape `(N, dim)`.
        resamples: Number of bootstrap resamples. The cost grows linearly;
            100 takes a few milliseconds on 64-d features. Defaults to 100.
        confidence: Coverage of the interval, in (0, 1). Defaults to 0.95.
        seed: Seed of the resampling; equal seeds give equal intervals.
            Defaults to 0.
        resample_real: Also resample the real features (each resample then
            factors its own real covariance, which costs a `dim x dim`
            Cholesky factorisation more). Leave it False to compare
            candidates scored against the same real features: only the
            generated sample differs between them. Defaults to False.

    Returns:
        A tuple `(low, high)` of Python floats.

    Raises:
        TypeError: If the features are not real numeric arrays.
        ValueError: If `fake` is not a 2-D array with at least 2 rows, the
            dimensions differ, features hold NaN or infinity, `resamples`
            or `confidence` is out of range, or `real` is a
            `FeatureStatistics` with `resample_real=True`.
    """
    fake = validate.as_feature_matrix(fake, "fake")
    validate.check_integer_at_least(resamples, "`resamples`", 1)
    # Any real number but a bool (numpy's float32 included).
    real_number = isinstance(confidence, numbers.Real) and not isinstance(confidence, bool)
    if not (real_number and 0.0 < confidence < 1.0):
        raise ValueError(f"`confidence` must be a number in (0, 1), e.g. 0.95, got {confidence!r}.")
    if resample_real and isinstance(real, FeatureStatistics):
        raise ValueError(
            "`resample_real=True` needs the real features themselves, not a "
            "FeatureStatistics. Pass the real feature array, or resample_real=False."
        )
    real_array = validate.as_feature_matrix(real, "real") if resample_real else None
    real_stats = _statistics_of(real, "real")
    if real_stats.dim != fake.shape[1]:
        raise ValueError(
            f"`real` has {real_stats.dim} features but `fake` has {fake.shape[1]}. "
            "Use the same feature extractor for both."
        )
    if len(fake) < 2:
        raise ValueError(f"`fake` has {len(fake)} sample(s); FID needs at least 2.")

    rng = np.random.default_rng(seed)
    fake_counts = rng.multinomial(len(fake), np.full(len(fake), 1.0 / len(fake)), resamples)
    reference = _Reference(real_stats.mean, real_stats.covariance, fake)
    point = float(reference.distances(np.ones((1, len(fake)), dtype=np.int64))[0])
    if resample_real:
        real_counts = rng.multinomial(
            len(real_array), np.full(len(real_array), 1.0 / len(real_array)), resamples
        )
        values = np.array(
            [
                _Reference(*_weighted_moments(real_array, real_counts[b]), fake).distance(
                    fake_counts[b]
                )
                for b in range(resamples)
            ]
        )
    else:
        values = reference.distances(fake_counts)
    tail = (1.0 - confidence) / 2.0
    low_quantile, high_quantile = np.quantile(values, [tail, 1.0 - tail])
    centre = float(values.mean())
    low = point - (high_quantile - centre)
    high = point - (low_quantile - centre)
    # Python floats, as documented (the quantiles are numpy scalars).
    return float(max(min(low, point), 0.0)), float(max(high, point))


def _weighted_moments(features, counts):
    """Mean and unbiased covariance of `features` with row `i` repeated `counts[i]` times."""
    total = counts.sum()
    mean = counts @ features / total
    centred = np.sqrt(counts)[:, None] * (features - mean)
    return mean, centred.T @ centred / (total - 1)


class _Reference:
    """The real Gaussian, factored once, and the generated features projected on it.

    `distance(counts)` is the Frechet distance between the real Gaussian and
    the one fitted to the generated rows repeated `counts` times; all ones
    gives the FID itself.
    """

    def __init__(self, real_mean, real_covariance, fake):
        real_mean, real_covariance = _validate_gaussian(real_mean, real_covariance, 1)
        factor = _cholesky_factor(real_covariance)
        if factor is None:  # singular: fewer real samples than dimensions
            factor = _eigen_factor(real_covariance)
        self.real_mean = real_mean
        self.real_trace = float(np.trace(real_covariance))
        self.fake = fake
        self.projected = fake @ factor

    def distances(self, counts):
        """The Frechet distance for each row of a `(resamples, N)` count matrix."""
        if self.projected.shape[1] <= _BATCHED_MAX_DIM:
            return self._batched_distances(counts)
        return np.array([self.distance(row) for row in counts])

    def _batched_distances(self, counts):
        """All resamples at once: every weighted covariance from one matrix product.

        The features are centred on their overall mean first, so the moment
        formula `sum_i c_i y_i y_i^T - n nu nu^T` subtracts only the small
        deviation of a resample's mean: no cancellation to speak of.
        """
        counts = counts.astype(np.float64)
        total = counts.sum(axis=1)
        overall = self.fake.mean(axis=0)
        fake = self.fake - overall
        projected = self.projected - self.projected.mean(axis=0)
        shift = counts @ fake / total[:, None]
        fake_trace = (counts @ np.einsum("ij,ij->i", fake, fake) - total * np.sum(shift**2, 1)) / (
            total - 1
        )
        dim = projected.shape[1]
        gram = np.zeros((len(counts), dim * dim))
        block = max(1, _BLOCK_VALUES // (dim * dim))
        for start in range(0, len(projected), block):
            rows = projected[start : start + block]
            outer = (rows[:, :, None] * rows[:, None, :]).reshape(len(rows), dim * dim)
            gram += counts[:, start : start + block] @ outer
        gram = gram.reshape(-1, dim, dim)
        projected_shift = counts @ projected / total[:, None]
        gram -= total[:, None, None] * projected_shift[:, :, None] * projected_shift[:, None, :]
        gram /= (total - 1)[:, None, None]
        gram = 0.5 * (gram + gram.transpose(0, 2, 1))
        eigenvalues = np.linalg.eigvalsh(gram)
        floor = dim * np.finfo(np.float64).eps * np.abs(eigenvalues).max(axis=1, keepdims=True)
        trace_sqrt_product = np.sqrt(np.where(eigenvalues > floor, eigenvalues, 0.0)).sum(axis=1)
        distances = (
            np.sum((self.real_mean - overall - shift) ** 2, axis=1)
            + self.real_trace
            + fake_trace
            - 2.0 * trace_sqrt_product
        )
        return np.maximum(distances, 0.0)

    def distance(self, counts):
        """The squared Frechet distance for one vector of row counts."""
        keep = counts > 0
        counts = counts[keep].astype(np.float64)
        total = counts.sum()
        weights = np.sqrt(counts / (total - 1))[:, None]
        fake, projected = self.fake[keep], self.projected[keep]
        mean = counts @ fake / total
        # With C = weights * (X - mean): sigma_fake = C^T C, and F^T sigma_fake F
        # = B^T B for B = C F, whose eigenvalues are those of the smaller B B^T.
        centred = weights * (fake - mean)
        projected_centred = weights * (projected - counts @ projected / total)
        if projected_centred.shape[0] < projected_centred.shape[1]:
            gram = projected_centred @ projected_centred.T
        else:
            gram = projected_centred.T @ projected_centred
        eigenvalues = scipy.linalg.eigvalsh(gram, driver="evd", check_finite=False)
        trace_sqrt_product = float(np.sum(np.sqrt(_clip_eigenvalues(eigenvalues))))
        distance = (
            float(np.sum(np.square(self.real_mean - mean)))
            + self.real_trace
            + float(np.sum(np.square(centred)))
            - 2.0 * trace_sqrt_product
        )
        return max(distance, 0.0) if math.isfinite(distance) else math.inf
