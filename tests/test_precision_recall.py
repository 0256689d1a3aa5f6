"""`kgan_nas.metrics.precision_recall`: k-NN precision and recall (Kynkaenniemi et al., 2019)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas import metrics
from kgan_nas.metrics import neighbours
from kgan_nas.metrics.precision_recall import equal_sizes


def _brute_force(real, fake, k):
    """The paper's definition, written out with a full distance matrix."""

    def radii(points):
        d = np.linalg.norm(points[:, None] - points[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def share(queries, centres, r):
        d = np.linalg.norm(queries[:, None] - centres[None], axis=-1)
        return float((d <= r[None, :]).any(axis=1).mean())

    return share(fake, real, radii(real)), share(real, fake, radii(fake))


@settings(max_examples=40, deadline=None)
@given(
    n_real=st.integers(5, 40),
    n_fake=st.integers(5, 40),
    dim=st.integers(1, 6),
    k=st.integers(1, 4),
    shift=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**16),
)
def test_matches_the_definition_written_out(n_real, n_fake, dim, k, shift, seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n_real, dim))
    fake = rng.normal(size=(n_fake, dim)) * 1.5 + shift
    result = metrics.precision_recall(real, fake, k=k, seed=seed)
    # Both sets are measured at one size, the larger subsampled to the smaller's.
    same_real, same_fake = equal_sizes(real, fake, seed)
    assert len(same_real) == len(same_fake) == min(n_real, n_fake) == result["num_samples"]
    if n_real <= n_fake:
        np.testing.assert_array_equal(same_real, real)  # the smaller set is kept whole
    expected = _brute_force(same_real, same_fake, k)
    assert (result["precision"], result["recall"]) == pytest.approx(expected)
    assert 0.0 <= result["precision"] <= 1.0 and 0.0 <= result["recall"] <= 1.0


def test_separates_fidelity_from_coverage():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(600, 4))
    same = metrics.precision_recall(real, rng.normal(size=(600, 4)))
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    # A generator that makes only one mode of the data: faithful, poor coverage.
    collapsed = real[real[:, 0] > 1.0] + rng.normal(
        scale=0.01, size=(int((real[:, 0] > 1).sum()), 4)
    )
    one_mode = metrics.precision_recall(real, collapsed)
    assert one_mode["precision"] > 0.8 and one_mode["recall"] < 0.4
    # Samples far from every real image: no fidelity and no coverage.
    far = metrics.precision_recall(real, rng.normal(size=(600, 4)) + 50.0)
    assert far["precision"] == 0.0 and far["recall"] == 0.0


def test_blocks_give_the_same_radii_as_one_matrix(monkeypatch):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(50, 3))
    whole = neighbours.kth_neighbour_distances(features, 3)
    monkeypatch.setattr(neighbours, "_BLOCK_ROWS", 7)
    np.testing.assert_allclose(neighbours.kth_neighbour_distances(features, 3), whole)
    d = np.linalg.norm(features[:, None] - features[None], axis=-1)
    np.testing.assert_allclose(whole, np.sort(d, axis=1)[:, 3], atol=1e-9)


@pytest.mark.parametrize(
    "real, fake, k, message",
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), 3, "same width"),
        (np.zeros((10, 3)), np.zeros((3, 3)), 3, "from 1 to 2"),
        (np.zeros((10, 3)), np.zeros((10, 3)), 0, "from 1 to 9"),
        (np.zeros((10, 3)), np.zeros((10, 3)), 2.5, "integer"),
        (np.zeros(10), np.zeros((10, 3)), 3, "2-D"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), 3, "finite"),
    ],
)
def test_bad_input_says_what_is_wrong(real, fake, k, message):
    with pytest.raises(ValueError, match=message):
        metrics.precision_recall(real, fake, k=k)
