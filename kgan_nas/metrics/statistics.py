"""Streaming mean and covariance of feature vectors: `FeatureStatistics`.

Also `feature_statistics` (mean and covariance of one array) and the helper that
turns either an array or a `FeatureStatistics` into statistics for FID.
"""

import numpy as np

from kgan_nas import validate

__all__ = ["FeatureStatistics", "feature_statistics"]

# Rows per chunk when accumulating statistics, so that a large float32 array
# is never converted to float64 all at once (4096 x 2048 x 8 B = 64 MiB).
_CHUNK_ROWS = 4096


class FeatureStatistics:
    """Streaming mean and covariance of feature vectors, in float64.

    Feed features batch by batch with `update`; combine statistics computed
    separately (e.g. on several workers) with `merge`. Internally it keeps
    the sample count, the mean and the centred scatter matrix
    `sum_i (x_i - mean)(x_i - mean)^T`, combined with Chan et al.'s parallel
    update. That avoids the cancellation of the naive `E[x x^T] - mean
    mean^T` formula and needs only `O(dim^2)` memory, so 50k x 2048 features
    fit when fed in batches (large batches are also processed in chunks).

    Args:
        dim: Optional feature dimension. If `None`, it is taken from the
            first batch passed to `update`.

    Example:

    >>> import numpy as np
    >>> stats = FeatureStatistics()
    >>> for batch in np.split(np.arange(12.0).reshape(6, 2), 3):
    ...     _ = stats.update(batch)
    >>> stats.count, stats.mean.tolist()
    (6, [5.0, 6.0])
    """

    def __init__(self, dim=None):
        if dim is not None and (
            not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1
        ):
            raise ValueError(f"`dim` must be a positive integer or None, got {dim!r}.")
        self._dim = None if dim is None else int(dim)
        self._count = 0
        self._mean = None
        self._scatter = None
        if self._dim is not None:
            self._reset_arrays(self._dim)

    def _reset_arrays(self, dim):
        self._mean = np.zeros(dim, dtype=np.float64)
        self._scatter = np.zeros((dim, dim), dtype=np.float64)

    @property
    def dim(self):
        """Feature dimension, or `None` before the first batch."""
        return self._dim

    @property
    def count(self):
        """Number of feature vectors seen so far."""
        return self._count

    @property
    def mean(self):
        """Mean feature vector, shape `(dim,)` (a float64 copy)."""
        if self._count == 0:
            raise ValueError(
                "The mean of zero samples is undefined. Call `update(batch)` "
                "with at least one feature vector first."
            )
        return self._mean.copy()

    @property
    def covariance(self):
        """Unbiased (ddof=1) covariance, shape `(dim, dim)` (a float64 copy)."""
        if self._count < 2:
            raise ValueError(
                f"The unbiased covariance needs at least 2 samples, got "
                f"{self._count}. Call `update(batch)` with more features."
            )
        return self._scatter / (self._count - 1)

    def update(self, batch):
        """Adds a batch of feature vectors to the statistics.

        Args:
            batch: Array of shape `(batch_size, dim)`. Any real dtype; it is
                processed in float64. An empty batch is a no-op.

        Returns:
            `self`, so calls can be chained.

        Raises:
            TypeError: If `batch` is not a real numeric array.
            ValueError: If `batch` is not 2-D, its dimension differs from
                earlier batches, or it holds NaN or infinity.
        """
        batch = np.asarray(batch)
        validate.check_real_dtype(batch, "batch")
        if batch.ndim != 2:
            raise ValueError(
                f"`batch` must be a 2-D array of shape (batch_size, dim), got "
                f"shape {batch.shape}. Flatten or pool the features first."
            )
        # Validate everything before changing state, so a bad batch leaves
        # the statistics as they were.
        for start in range(0, batch.shape[0], _CHUNK_ROWS):
            validate.check_finite(batch[start : start + _CHUNK_ROWS], "batch")
        self._check_dim(batch.shape[1], "batch")
        for start in range(0, batch.shape[0], _CHUNK_ROWS):
            chunk = batch[start : start + _CHUNK_ROWS].astype(np.float64)
            chunk_mean = chunk.mean(axis=0)
            chunk -= chunk_mean
            self._combine(chunk.shape[0], chunk_mean, chunk.T @ chunk)
        return self

    def merge(self, other):
        """Returns the statistics of both sample sets together.

        Neither `self` nor `other` is modified.

        Args:
            other: Another `FeatureStatistics` of the same dimension.

        Returns:
            A new `FeatureStatistics` equal (up to round-off) to one that had
            seen every batch of `self` and of `other`.

        Raises:
            TypeError: If `other` is not a `FeatureStatistics`.
            ValueError: If the dimensions differ.
        """
        if not isinstance(other, FeatureStatistics):
            raise TypeError(
                "`other` must be a FeatureStatistics, got "
                f"{type(other).__name__}. Wrap raw features with "
                "`FeatureStatistics().update(features)`."
            )
        merged = self._copy()
        if other._count == 0:
            return merged
        merged._check_dim(other._dim, "other")
        merged._combine(other._count, other._mean, other._scatter)
        return merged

    def _copy(self):
        copy = FeatureStatistics(self._dim)
        copy._count = self._count
        if self._dim is not None:
            copy._mean = self._mean.copy()
            copy._scatter = self._scatter.copy()
        return copy

    def _check_dim(self, dim, name):
        if self._dim is None:
            if dim < 1:
                raise ValueError(
                    f"`{name}` has zero feature dimensions. Pass at least one feature per sample."
                )
            self._dim = int(dim)
            self._reset_arrays(self._dim)
        elif dim != self._dim:
            raise ValueError(
                f"`{name}` has {dim} features but these statistics have "
                f"{self._dim}. Use the same feature extractor for every batch."
            )

    def _combine(self, count, mean, scatter):
        """Chan et al.'s pairwise update of (count, mean, scatter)."""
        if count == 0:
            return
        total = self._count + count
        delta = mean - self._mean
        self._scatter += scatter + np.outer(delta, delta) * (self._count * count / total)
        self._mean += delta * (count / total)
        self._count = total

    def to_dict(self):
        """Returns a JSON-serialisable dict (plain lists and numbers).

        Python floats round-trip exactly through `json`, so
        `from_dict(json.loads(json.dumps(s.to_dict())))` equals `s`. For
        2048-d features the JSON is about 80 MB; prefer `save` for those.

        Returns:
            A dict with keys `"count"`, `"mean"` and `"scatter"`
            (the centred sum of outer products, not the covariance).
        """
        return {
            "count": self._count,
            "dim": self._dim,
            "mean": None if self._mean is None else self._mean.tolist(),
            "scatter": (None if self._scatter is None else self._scatter.tolist()),
        }

    @classmethod
    def from_dict(cls, config):
        """Rebuilds statistics from the output of `to_dict`.

        Args:
            config: A dict as produced by `to_dict`.

        Returns:
            A `FeatureStatistics`.

        Raises:
            ValueError: If keys are missing or the shapes are inconsistent.
        """
        missing = {"count", "mean", "scatter"} - set(config)
        if missing:
            raise ValueError(
                f"`config` is missing key(s) {sorted(missing)}. Pass the dict "
                "produced by `FeatureStatistics.to_dict()`."
            )
        return cls._from_arrays(
            config["count"],
            config.get("dim"),
            config["mean"],
            config["scatter"],
        )

    @classmethod
    def _from_arrays(cls, count, dim, mean, scatter):
        count = int(count)
        if count < 0:
            raise ValueError(f"`count` must be >= 0, got {count}.")
        if mean is None or scatter is None or count == 0:
            stats = cls(None if dim is None else int(dim))
            if count:
                raise ValueError(f"`count` is {count} but the mean or scatter is missing.")
            return stats
        mean = validate.as_float64(mean, "mean")
        scatter = validate.as_float64(scatter, "scatter")
        if mean.ndim != 1 or scatter.shape != (mean.shape[0], mean.shape[0]):
            raise ValueError(
                f"Inconsistent shapes: mean {mean.shape}, scatter "
                f"{scatter.shape}; expected (dim,) and (dim, dim)."
            )
        validate.check_finite(mean, "mean")
        validate.check_finite(scatter, "scatter")
        stats = cls(mean.shape[0])
        stats._count = count
        stats._mean = mean.copy()
        stats._scatter = scatter.copy()
        return stats

    def save(self, path):
        """Writes the statistics to a `.npz` file (no pickled objects).

        Args:
            path: File path; numpy appends `.npz` if it is missing.
        """
        np.savez(
            path,
            count=np.int64(self._count),
            dim=np.int64(-1 if self._dim is None else self._dim),
            mean=np.zeros(0) if self._mean is None else self._mean,
            scatter=(np.zeros((0, 0)) if self._scatter is None else self._scatter),
        )

    @classmethod
    def load(cls, path):
        """Reads statistics written by `save`.

        Args:
            path: Path of a `.npz` file written by `save`.

        Returns:
            A `FeatureStatistics`.

        Raises:
            ValueError: If the file lacks the expected arrays.
        """
        with np.load(path, allow_pickle=False) as data:
            missing = {"count", "dim", "mean", "scatter"} - set(data.files)
            if missing:
                raise ValueError(
                    f"{path!s} is missing array(s) {sorted(missing)}; it was "
                    "not written by `FeatureStatistics.save`."
                )
            count = int(data["count"])
            dim = int(data["dim"])
            if count == 0:
                return cls(None if dim < 0 else dim)
            return cls._from_arrays(count, dim, data["mean"], data["scatter"])

    def __eq__(self, other):
        if not isinstance(other, FeatureStatistics):
            return NotImplemented
        if (self._count, self._dim) != (other._count, other._dim):
            return False
        if self._dim is None:
            return True
        return bool(
            np.array_equal(self._mean, other._mean)
            and np.array_equal(self._scatter, other._scatter)
        )

    __hash__ = None  # Mutable, so not hashable.

    def __repr__(self):
        return f"FeatureStatistics(count={self._count}, dim={self._dim})"


def feature_statistics(features):
    """Mean and unbiased covariance of a feature array, in float64.

    Args:
        features: Array of shape `(num_samples, dim)` with `num_samples >= 2`.

    Returns:
        A tuple `(mu, sigma)` with shapes `(dim,)` and `(dim, dim)`.

    Raises:
        TypeError: If `features` is not a real numeric array.
        ValueError: If `features` is not 2-D, has fewer than 2 rows, or holds
            NaN or infinity.
    """
    stats = _statistics_of(features, "features")
    return stats.mean, stats.covariance


def _statistics_of(value, name):
    """Returns a FeatureStatistics for an array or passes one through."""
    if isinstance(value, FeatureStatistics):
        stats = value
    else:
        array = np.asarray(value)
        if array.ndim != 2:
            raise ValueError(
                f"`{name}` must be a 2-D array of shape (num_samples, dim) or "
                f"a FeatureStatistics, got shape {array.shape}."
            )
        stats = FeatureStatistics().update(array)
    if stats.count < 2:
        raise ValueError(
            f"`{name}` has {stats.count} sample(s); FID needs at least 2 to "
            "estimate a covariance (and more than the feature dimension for "
            "an unbiased one)."
        )
    return stats
