"""Tests for kgan_nas.metrics: FID, KID and IS against closed forms."""

import json
import warnings

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas import metrics
from kgan_nas.metrics import FeatureStatistics
from kgan_nas.metrics import statistics as metrics_statistics

FAST = settings(max_examples=25, deadline=None)


def random_orthogonal(rng, dim):
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def random_spd(rng, dim, rank=None):
    """A random symmetric PSD matrix of the given rank (full by default)."""
    rank = dim if rank is None else rank
    factor = rng.standard_normal((dim, rank))
    return factor @ factor.T / dim


# --------------------------------------------------------------------------
# frechet_distance
# --------------------------------------------------------------------------


@FAST
@given(
    dim=st.integers(2, 64),
    seed=st.integers(0, 2**32 - 1),
    zero_fraction=st.floats(0.0, 0.5),
)
def test_frechet_distance_matches_closed_form_for_commuting_covariances(dim, seed, zero_fraction):
    """Shared eigenbasis: FID = |dmu|^2 + sum (sqrt a - sqrt b)^2 to 1e-6."""
    rng = np.random.default_rng(seed)
    basis = random_orthogonal(rng, dim)
    spectrum1 = rng.uniform(0.0, 4.0, dim)
    spectrum2 = rng.uniform(0.0, 4.0, dim)
    # Singular covariances: zero out some eigenvalues of each, at different
    # positions so that the null spaces only partly overlap.
    num_zero = int(zero_fraction * dim)
    spectrum1[:num_zero] = 0.0
    spectrum2[dim - num_zero :] = 0.0
    sigma1 = (basis * spectrum1) @ basis.T
    sigma2 = (basis * spectrum2) @ basis.T
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)

    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(spectrum1) - np.sqrt(spectrum2)) ** 2)
    actual = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    assert abs(actual - expected) <= 1e-6 * max(1.0, expected)


@FAST
@given(dim=st.integers(2, 64), seed=st.integers(0, 2**32 - 1))
def test_frechet_distance_matches_scipy_sqrtm_reference(dim, seed):
    """General SPD pairs agree with float64 sqrtm(sigma1 @ sigma2) to 1e-6."""
    rng = np.random.default_rng(seed)
    sigma1 = random_spd(rng, dim) + 1e-2 * np.eye(dim)
    sigma2 = random_spd(rng, dim) + 1e-2 * np.eye(dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)

    trace_sqrt = np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2)).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    actual = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    assert actual == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_frechet_distance_of_known_small_case():
    """N(0, I) vs N(1, 4I) in 2-D: 2 (means) + 2 * (2 - 1)^2 (scales) = 4."""
    value = metrics.frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4.0 * np.eye(2))
    assert value == pytest.approx(4.0, abs=1e-12)


@FAST
@given(dim=st.integers(2, 32), seed=st.integers(0, 2**32 - 1))
def test_frechet_distance_is_symmetric_non_negative_and_rotation_invariant(dim, seed):
    """d(a, b) = d(b, a) >= 0 and equals d(Ra, Rb) for a common rotation R."""
    rng = np.random.default_rng(seed)
    sigma1 = random_spd(rng, dim, rank=max(1, dim // 2))
    sigma2 = random_spd(rng, dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    rotation = random_orthogonal(rng, dim)

    forward = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    backward = metrics.frechet_distance(mu2, sigma2, mu1, sigma1)
    rotated = metrics.frechet_distance(
        rotation @ mu1,
        rotation @ sigma1 @ rotation.T,
        rotation @ mu2,
        rotation @ sigma2 @ rotation.T,
    )
    assert forward >= 0.0
    assert backward == pytest.approx(forward, rel=1e-6, abs=1e-7)
    assert rotated == pytest.approx(forward, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("rank", [1, 5, 12])
def test_frechet_distance_of_a_gaussian_with_itself_is_zero(rank):
    """d(N, N) = 0 (up to round-off), including singular covariances."""
    rng = np.random.default_rng(rank)
    sigma = random_spd(rng, 12, rank=rank)
    mu = rng.standard_normal(12)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)), "different dim"),
        ((np.zeros(3), np.eye(4), np.zeros(3), np.eye(3)), "sigma1"),
        ((np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3)), "mu1"),
        ((np.zeros(3), np.ones((3, 2)), np.zeros(3), np.eye(3)), "square"),
        ((np.zeros(3), np.eye(3), np.zeros(3), np.triu(np.ones((3, 3)))), "symmetric"),
        ((np.zeros(3), -np.eye(3), np.zeros(3), np.eye(3)), "negative"),
        # Positive diagonal but eigenvalues 3, -1, 1: not a covariance.
        (
            (
                np.zeros(3),
                np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
                np.zeros(3),
                np.eye(3),
            ),
            "negative eigenvalue",
        ),
    ],
)
def test_frechet_distance_rejects_malformed_inputs(args, message):
    """Wrong shapes, asymmetric or indefinite covariances raise ValueError."""
    with pytest.raises(ValueError, match=message):
        metrics.frechet_distance(*args)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_frechet_distance_rejects_non_finite_values(bad):
    """NaN or inf in a mean or covariance raises a ValueError naming it."""
    sigma = np.eye(3)
    sigma[1, 1] = bad
    with pytest.raises(ValueError, match="sigma2.*NaN or infinite"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), sigma)
    mu = np.zeros(3)
    mu[0] = bad
    with pytest.raises(ValueError, match="mu1.*NaN or infinite"):
        metrics.frechet_distance(mu, np.eye(3), np.zeros(3), np.eye(3))


def test_frechet_distance_rejects_non_numeric_input():
    """Object or string arrays raise TypeError rather than a numpy error."""
    with pytest.raises(TypeError, match="mu1"):
        metrics.frechet_distance(np.array(["a", "b"]), np.eye(2), np.zeros(2), np.eye(2))


# --------------------------------------------------------------------------
# fid
# --------------------------------------------------------------------------


def test_fid_of_identical_feature_sets_is_zero_and_of_shifted_is_shift():
    """FID(x, x) = 0 and FID(x, x + c) = |c|^2 (same covariance)."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((400, 8))
    shift = np.arange(8.0) / 4.0
    assert metrics.fid(features, features) == pytest.approx(0.0, abs=1e-9)
    assert metrics.fid(features, features + shift) == pytest.approx(np.sum(shift**2), rel=1e-9)


def test_fid_accepts_arrays_and_statistics_interchangeably():
    """fid(array, array) equals fid on the matching FeatureStatistics."""
    rng = np.random.default_rng(1)
    real = rng.standard_normal((300, 6))
    fake = rng.standard_normal((200, 6)) * 1.5 + 0.3
    from_arrays = metrics.fid(real, fake)
    from_stats = metrics.fid(FeatureStatistics().update(real), FeatureStatistics().update(fake))
    assert from_arrays > 0.0
    assert from_stats == pytest.approx(from_arrays, rel=1e-12)


def test_fid_is_symmetric_in_its_arguments():
    """fid(real, fake) = fid(fake, real)."""
    rng = np.random.default_rng(2)
    real = rng.standard_normal((300, 10))
    fake = rng.gamma(2.0, size=(250, 10))
    assert metrics.fid(fake, real) == pytest.approx(metrics.fid(real, fake), rel=1e-9)


def test_fid_warns_when_samples_do_not_exceed_dimensions():
    """N <= dim still gives a finite FID but warns about the rank deficit."""
    rng = np.random.default_rng(3)
    real = rng.standard_normal((10, 16))
    fake = rng.standard_normal((40, 16))
    with pytest.warns(UserWarning, match="`real` has 10 samples.*rank"):
        value = metrics.fid(real, fake)
    assert np.isfinite(value) and value >= 0.0


def test_fid_does_not_warn_with_enough_samples():
    """N > dim for both sets, down to N = dim + 1, emits no warning, and the value is
    the Frechet distance of the sets' means and (ddof=1) covariances."""
    rng = np.random.default_rng(4)
    real = rng.standard_normal((20, 4))
    fake = rng.standard_normal((5, 4)) * 1.5 + 0.5  # the fewest samples that are enough
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = metrics.fid(real, fake)
    assert [str(warning.message) for warning in caught] == []
    sigma1, sigma2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    trace_sqrt = np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2)).real
    expected = (
        np.sum((real.mean(axis=0) - fake.mean(axis=0)) ** 2)
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2.0 * trace_sqrt
    )
    assert value > 0.0 and value == pytest.approx(expected, rel=1e-6)


def test_fid_input_validation():
    """Too few samples, mismatched dims and NaN features raise ValueError."""
    rng = np.random.default_rng(5)
    good = rng.standard_normal((20, 4))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.fid(good[:1], good)
    with pytest.raises(ValueError, match="same feature extractor"):
        metrics.fid(good, rng.standard_normal((20, 5)))
    with pytest.raises(ValueError, match="2-D"):
        metrics.fid(good[0], good)
    bad = good.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.fid(good, bad)


# --------------------------------------------------------------------------
# FeatureStatistics
# --------------------------------------------------------------------------


@FAST
@given(
    num_samples=st.integers(2, 60),
    dim=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_streaming_statistics_equal_batch_statistics(num_samples, dim, seed, data):
    """Any split into batches gives np.mean / np.cov(ddof=1) of the whole."""
    rng = np.random.default_rng(seed)
    # An offset far from 0 exposes the cancellation of naive sum formulas.
    features = rng.standard_normal((num_samples, dim)) * 3.0 + 1e4
    cuts = sorted(data.draw(st.lists(st.integers(0, num_samples), max_size=6), label="cuts"))
    stats = FeatureStatistics()
    for batch in np.split(features, cuts):
        stats.update(batch)

    assert stats.count == num_samples
    np.testing.assert_allclose(stats.mean, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        stats.covariance,
        np.atleast_2d(np.cov(features, rowvar=False)),
        rtol=1e-8,
        atol=1e-8,
    )
    mu, sigma = metrics.feature_statistics(features)
    np.testing.assert_allclose(mu, stats.mean, rtol=1e-12)
    np.testing.assert_allclose(sigma, stats.covariance, rtol=1e-8, atol=1e-8)


def test_streaming_statistics_chunk_large_batches(monkeypatch):
    """A batch larger than the internal chunk gives the same statistics."""
    monkeypatch.setattr(metrics_statistics, "_CHUNK_ROWS", 7)
    rng = np.random.default_rng(6)
    features = rng.standard_normal((50, 5)).astype(np.float32)
    stats = FeatureStatistics().update(features)
    reference = features.astype(np.float64)
    np.testing.assert_allclose(stats.mean, reference.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(reference, rowvar=False), rtol=1e-10)


@FAST
@given(sizes=st.lists(st.integers(0, 15), min_size=3, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_merge_is_associative_and_matches_joint_update(sizes, seed):
    """(a+b)+c = a+(b+c) = statistics of all rows; inputs are not modified."""
    rng = np.random.default_rng(seed)
    chunks = [rng.standard_normal((n, 4)) + 5.0 for n in sizes]
    a, b, c = (FeatureStatistics(4).update(chunk) for chunk in chunks)
    a_before = FeatureStatistics.from_dict(a.to_dict())

    left = a.merge(b).merge(c)
    right = a.merge(b.merge(c))
    joint = FeatureStatistics().update(np.concatenate(chunks))

    assert a == a_before
    assert left.count == right.count == joint.count == sum(sizes)
    if joint.count >= 1:
        np.testing.assert_allclose(left.mean, right.mean, rtol=1e-12)
        np.testing.assert_allclose(left.mean, joint.mean, rtol=1e-12)
    if joint.count >= 2:
        np.testing.assert_allclose(left.covariance, right.covariance, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(left.covariance, joint.covariance, rtol=1e-9, atol=1e-12)


def test_statistics_json_and_npz_round_trips(tmp_path):
    """to_dict -> JSON -> from_dict and save -> load reproduce exact values."""
    rng = np.random.default_rng(7)
    stats = FeatureStatistics().update(rng.standard_normal((30, 5)))

    as_json = json.dumps(stats.to_dict())
    via_json = FeatureStatistics.from_dict(json.loads(as_json))
    stats.save(tmp_path / "stats.npz")
    via_npz = FeatureStatistics.load(tmp_path / "stats.npz")

    assert via_json == stats
    assert via_npz == stats
    empty = FeatureStatistics()
    empty.save(tmp_path / "empty.npz")
    assert FeatureStatistics.load(tmp_path / "empty.npz") == empty


def test_statistics_validation():
    """Empty stats: no mean; one sample: no covariance; dims must match."""
    stats = FeatureStatistics()
    with pytest.raises(ValueError, match="zero samples"):
        stats.mean
    stats.update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        stats.covariance
    with pytest.raises(ValueError, match="has 4 features"):
        stats.update(np.ones((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        stats.update(np.ones(3))
    with pytest.raises(TypeError, match="FeatureStatistics"):
        stats.merge(np.ones((2, 3)))
    with pytest.raises(ValueError, match="missing key"):
        FeatureStatistics.from_dict({"count": 3})
    with pytest.raises(ValueError, match="positive integer"):
        FeatureStatistics(dim=0)


def test_statistics_unchanged_after_rejected_batch():
    """A batch with NaN raises and leaves count and mean as they were."""
    stats = FeatureStatistics().update(np.ones((3, 2)))
    bad = np.zeros((5, 2))
    bad[4, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        stats.update(bad)
    assert stats.count == 3
    np.testing.assert_array_equal(stats.mean, np.ones(2))


# --------------------------------------------------------------------------
# kernel_inception_distance
# --------------------------------------------------------------------------


def slow_unbiased_mmd2(x, y, degree, gamma, coef0):
    """Direct double-loop reference of the unbiased MMD^2 estimator."""

    def kernel(a, b):
        return (gamma * float(np.dot(a, b)) + coef0) ** degree

    m = len(x)
    xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (m * m)


@pytest.mark.parametrize("degree, gamma, coef0", [(3, None, 1.0), (2, 0.5, 0.0)])
def test_kid_matches_slow_reference(degree, gamma, coef0):
    """One subset holding every sample equals the double-loop MMD^2."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 4))
    y = rng.standard_normal((9, 4)) + 0.5
    mean, std = metrics.kernel_inception_distance(
        x,
        y,
        subsets=1,
        subset_size=9,
        degree=degree,
        gamma=gamma,
        coef0=coef0,
    )
    # Permuting the rows of a set does not change the estimate, so the one
    # random subset of size N must equal the estimate on all samples.
    expected = slow_unbiased_mmd2(x, y, degree, 1.0 / 4 if gamma is None else gamma, coef0)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == 0.0


def test_kid_is_near_zero_for_same_distribution_and_positive_when_shifted():
    """Same law: |mean| within 3 std of 0; shifted law: mean >> std > 0."""
    rng = np.random.default_rng(9)
    real = rng.standard_normal((400, 16))
    fake = rng.standard_normal((400, 16))
    shifted = fake + 1.0
    same_mean, same_std = metrics.kernel_inception_distance(real, fake, subsets=50, subset_size=100)
    diff_mean, diff_std = metrics.kernel_inception_distance(
        real, shifted, subsets=50, subset_size=100
    )
    assert abs(same_mean) < 3.0 * same_std
    assert diff_mean > 10.0 * diff_std
    assert diff_mean > 10.0 * abs(same_mean)


def test_kid_is_unbiased_across_independent_draws():
    """Mean KID over independent same-law draws is 0 within 4 std errors."""
    rng = np.random.default_rng(10)
    estimates = []
    for seed in range(40):
        real = rng.standard_normal((30, 5))
        fake = rng.standard_normal((30, 5))
        estimates.append(
            metrics.kernel_inception_distance(real, fake, subsets=1, subset_size=30, seed=seed)[0]
        )
    estimates = np.asarray(estimates)
    standard_error = estimates.std(ddof=1) / np.sqrt(len(estimates))
    # Negative values must occur: a biased (V-statistic) estimator never
    # goes below zero.
    assert np.any(estimates < 0.0)
    assert abs(estimates.mean()) < 4.0 * standard_error


def test_kid_is_deterministic_for_a_seed():
    """Equal seeds give identical results; different seeds different ones."""
    rng = np.random.default_rng(11)
    real = rng.standard_normal((60, 6))
    fake = rng.standard_normal((50, 6)) + 0.2
    first = metrics.kernel_inception_distance(real, fake, subsets=5, subset_size=20, seed=3)
    again = metrics.kernel_inception_distance(real, fake, subsets=5, subset_size=20, seed=3)
    other = metrics.kernel_inception_distance(real, fake, subsets=5, subset_size=20, seed=4)
    assert first == again
    assert first != other


def test_kid_float32_matmul_agrees_with_float64():
    """float32 dot products change KID far less than its spread over subsets."""
    rng = np.random.default_rng(16)
    real = rng.gamma(2.0, 0.2, size=(120, 64)).astype(np.float32)
    fake = (rng.gamma(2.0, 0.2, size=(120, 64)) * 1.05).astype(np.float32)
    exact = metrics.kernel_inception_distance(real, fake, subsets=10, subset_size=60)
    fast = metrics.kernel_inception_distance(
        real, fake, subsets=10, subset_size=60, matmul_dtype="float32"
    )
    assert fast[0] == pytest.approx(exact[0], abs=1e-3 * exact[1])
    with pytest.raises(ValueError, match="matmul_dtype"):
        metrics.kernel_inception_distance(real, fake, matmul_dtype="int8")


def test_kid_clips_subset_size_to_the_smaller_set():
    """subset_size > N uses all N samples, matching subset_size=N exactly."""
    rng = np.random.default_rng(12)
    real = rng.standard_normal((25, 3))
    fake = rng.standard_normal((12, 3))
    clipped = metrics.kernel_inception_distance(real, fake, subsets=3, subset_size=1000, seed=1)
    explicit = metrics.kernel_inception_distance(real, fake, subsets=3, subset_size=12, seed=1)
    assert clipped == explicit


def test_kid_input_validation():
    """Mismatched dims, NaN, too few samples and bad parameters raise."""
    rng = np.random.default_rng(13)
    good = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="same extractor"):
        metrics.kernel_inception_distance(good, rng.standard_normal((10, 4)))
    bad = good.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="fake_features.*NaN"):
        metrics.kernel_inception_distance(good, bad)
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.kernel_inception_distance(good, good[:1])
    with pytest.raises(ValueError, match="subsets"):
        metrics.kernel_inception_distance(good, good, subsets=0)
    with pytest.raises(ValueError, match="degree"):
        metrics.kernel_inception_distance(good, good, degree=1.5)


def loop_kid_estimates(real, fake, subsets, subset_size, seed, degree=3, gamma=None, coef0=1.0):
    """The per-subset loop KID was computed with before it was vectorised (reference)."""
    gamma = 1.0 / real.shape[1] if gamma is None else gamma

    def kernel(a, b):
        return (gamma * (a @ b.T) + coef0) ** degree

    size = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        pairs = size * (size - 1)
        estimates.append(
            (kxx.sum() - np.trace(kxx)) / pairs
            + (kyy.sum() - np.trace(kyy)) / pairs
            - 2.0 * kxy.sum() / size**2
        )
    return np.asarray(estimates)


@pytest.mark.parametrize(
    "num_real, num_fake, subsets, subset_size",
    [
        (90, 120, 20, 60),  # subsets cover the sets many times: one pooled kernel matrix
        (400, 300, 3, 20),  # few small subsets of large sets: batched subset kernels
        (30, 25, 1, 1000),  # one subset, clipped to the smaller set
    ],
)
def test_vectorised_kid_equals_the_per_subset_loop(num_real, num_fake, subsets, subset_size):
    """Mean, spread and standard error equal the per-subset loop's to 1e-9, whichever route."""
    rng = np.random.default_rng(num_real)
    real = rng.gamma(2.0, 0.2, size=(num_real, 12))
    fake = rng.gamma(2.0, 0.2, size=(num_fake, 12)) * 1.2
    expected = loop_kid_estimates(real, fake, subsets, subset_size, seed=5)
    mean, std, error = metrics.kernel_inception_distance(
        real, fake, subsets=subsets, subset_size=subset_size, seed=5, standard_error=True
    )
    assert mean == pytest.approx(expected.mean(), rel=1e-9)
    assert std == pytest.approx(expected.std(), rel=1e-9, abs=1e-15)
    if subsets == 1:
        assert np.isnan(error)
    else:
        assert error == pytest.approx(expected.std(ddof=1) / np.sqrt(subsets), rel=1e-9)
    assert metrics.kernel_inception_distance(
        real, fake, subsets=subsets, subset_size=subset_size, seed=5
    ) == (mean, std)


@FAST
@given(
    num_real=st.integers(2, 40),
    num_fake=st.integers(2, 40),
    subsets=st.integers(1, 6),
    degree=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_pooled_and_batched_kid_routes_agree(num_real, num_fake, subsets, degree, seed):
    """Both routes give every subset's MMD^2 of the loop, for any sizes and degree."""
    from kgan_nas.metrics import kid as kid_lib

    rng = np.random.default_rng(seed)
    real = rng.standard_normal((num_real, 3))
    fake = rng.standard_normal((num_fake, 3)) + 0.3
    size = min(num_real, num_fake, 1 + seed % 40)
    if size < 2:
        return
    real_index, fake_index = kid_lib._subset_indices(seed, num_real, num_fake, size, subsets)
    kernel = kid_lib._PolynomialKernel(degree, 1.0 / 3, 1.0)
    pooled = kid_lib._pooled_estimates(real, fake, real_index, fake_index, kernel)
    batched = kid_lib._batched_estimates(real, fake, real_index, fake_index, kernel)
    expected = loop_kid_estimates(real, fake, subsets, size, seed, degree=degree)
    np.testing.assert_allclose(pooled, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(batched, expected, rtol=1e-9, atol=1e-12)


def test_kid_standard_error_shrinks_with_more_subsets():
    """The standard error over subsets falls roughly as 1/sqrt(subsets)."""
    rng = np.random.default_rng(21)
    real = rng.standard_normal((500, 8))
    fake = rng.standard_normal((500, 8)) + 0.2
    few = metrics.kernel_inception_distance(
        real, fake, subsets=10, subset_size=50, standard_error=True
    )
    many = metrics.kernel_inception_distance(
        real, fake, subsets=160, subset_size=50, standard_error=True
    )
    assert 0 < many[2] < few[2]
    assert many[2] == pytest.approx(few[2] / 4, rel=0.6)
    assert many[2] == pytest.approx(many[1] / np.sqrt(160), rel=0.05)


def test_kid_whose_subsets_hold_both_whole_sets_warns_and_gives_no_spread():
    """A subset_size that covers both sets makes every subset the same set: the std is
    0 by construction, so it warns with the fix and the standard error is NaN (not a
    precise-looking 0); one sample fewer per subset gives a spread again."""
    rng = np.random.default_rng(3)
    real = rng.standard_normal((60, 8))
    fake = rng.standard_normal((60, 8)) + 0.2
    with pytest.warns(UserWarning, match=r"covers all 60 real and 60 fake.*below 60 \(e\.g\. 30\)"):
        mean, std, error = metrics.kernel_inception_distance(
            real, fake, subsets=10, subset_size=1000, standard_error=True
        )
    assert std == 0.0 and np.isnan(error) and mean > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, std, error = metrics.kernel_inception_distance(
            real, fake, subsets=10, subset_size=59, standard_error=True
        )
    assert std > 0 and error > 0


# --------------------------------------------------------------------------
# inception_score
# --------------------------------------------------------------------------


@pytest.mark.parametrize("num_classes", [1, 2, 7, 10])
def test_inception_score_of_confident_uniform_predictions_is_class_count(
    num_classes,
):
    """k equally frequent one-hot classes give IS = k in every split."""
    splits = 5
    # Each split holds every class equally often.
    labels = np.tile(np.arange(num_classes), 4 * splits)
    probabilities = np.eye(num_classes)[labels]
    mean, std = metrics.inception_score(probabilities, splits=splits)
    assert mean == pytest.approx(num_classes, abs=1e-6)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_of_constant_predictions_is_one():
    """Every sample with the same (even soft) prediction gives IS = 1."""
    rng = np.random.default_rng(14)
    row = rng.dirichlet(np.ones(6))
    mean, std = metrics.inception_score(np.tile(row, (40, 1)), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_lies_between_one_and_class_count():
    """Random soft predictions give 1 < IS < num_classes."""
    rng = np.random.default_rng(15)
    probabilities = rng.dirichlet(np.full(8, 0.3), size=200)
    mean, std = metrics.inception_score(probabilities)
    assert 1.0 < mean < 8.0
    assert std > 0.0


def test_inception_score_splits_cover_every_sample():
    """With N not divisible by splits, every row still lands in one split."""
    # 11 rows, 2 splits -> rows 0..4 and 5..10. Split 2 holds classes 0 and
    # 1 three times each (IS 2); split 1 is all class 0 (IS 1).
    labels = np.array([0] * 5 + [0, 1] * 3)
    mean, std = metrics.inception_score(np.eye(2)[labels], splits=2)
    assert mean == pytest.approx(1.5, abs=1e-12)
    assert std == pytest.approx(0.5, abs=1e-12)


def test_inception_score_validation():
    """Too few rows, bad splits, negatives and unnormalised rows raise."""
    probabilities = np.full((5, 4), 0.25)
    with pytest.raises(ValueError, match="5 rows but `splits=10`"):
        metrics.inception_score(probabilities)
    with pytest.raises(ValueError, match="splits"):
        metrics.inception_score(probabilities, splits=0)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.inception_score(probabilities * 2.0, splits=1)
    negative = probabilities.copy()
    negative[0, :2] = [-0.25, 0.75]
    with pytest.raises(ValueError, match="negative"):
        metrics.inception_score(negative, splits=1)
    with pytest.raises(ValueError, match="2-D"):
        metrics.inception_score(probabilities[0], splits=1)
    nan = probabilities.copy()
    nan[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.inception_score(nan, splits=1)


@pytest.mark.backend
def test_metrics_module_does_not_import_deep_learning_frameworks():
    """kgan_nas.metrics imports with numpy/scipy only (no keras/tensorflow)."""
    import subprocess
    import sys

    code = (
        "import sys, kgan_nas.metrics; "
        "bad = [m for m in ('keras', 'tensorflow', 'jax') "
        "if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _eigen_reference(mu1, sigma1, mu2, sigma2):
    """The distance through sqrt(sigma1) from a full eigen-decomposition (no shortcuts)."""
    lam, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(lam, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root @ sigma2 @ root)
    return float(
        np.sum((mu1 - mu2) ** 2)
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2 * np.sum(np.sqrt(np.clip(inner, 0, None)))
    )


@pytest.mark.parametrize("samples, dim", [(400, 32), (20, 32)], ids=["definite", "singular"])
def test_cholesky_and_eigen_routes_agree(samples, dim, monkeypatch):
    """The fast route (Cholesky of sigma1) gives the eigen route's value; a singular
    sigma1 (fewer samples than dimensions) falls back to the eigen route."""
    from kgan_nas.metrics import frechet as frechet_lib

    rng = np.random.default_rng(samples)
    real = rng.gamma(2.0, 0.2, size=(samples, dim))
    fake = rng.gamma(2.0, 0.25, size=(samples + 7, dim))
    mu1, sigma1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, sigma2 = fake.mean(0), np.cov(fake, rowvar=False)
    calls = []
    original = frechet_lib._eigen_factor
    monkeypatch.setattr(
        frechet_lib, "_eigen_factor", lambda sigma: calls.append(1) or original(sigma)
    )
    value = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    assert value == pytest.approx(_eigen_reference(mu1, sigma1, mu2, sigma2), rel=1e-8)
    assert bool(calls) == (samples <= dim)  # the eigen route only when singular
