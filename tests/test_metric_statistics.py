"""The statistics of the metrics: FID's bootstrap interval, the memorisation
score, and how the scoring path records them (no Keras: a pixel "extractor")."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from kgan_nas import metrics
from kgan_nas.core.fitness import Fitness
from kgan_nas.evaluation.evaluator import EvaluationConfig
from kgan_nas.evaluation.evaluator import Evaluator
from kgan_nas.evaluation.evaluator import score_images
from kgan_nas.metrics import bootstrap

FAST = settings(max_examples=25, deadline=None)


def _fid(real, fake):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank-deficient covariances are fine here
        return metrics.fid(real, fake)


# --------------------------------------------------------------------------
# fid_confidence_interval
# --------------------------------------------------------------------------


def test_resampled_distance_equals_fid_of_the_repeated_rows():
    """The projected Gram route equals `fid` on the resampled rows themselves."""
    rng = np.random.default_rng(0)
    real = rng.gamma(2.0, 0.2, size=(80, 6))
    fake = rng.gamma(2.0, 0.2, size=(50, 6)) * 1.1
    stats = metrics.FeatureStatistics().update(real)
    reference = bootstrap._Reference(stats.mean, stats.covariance, fake)
    assert reference.distance(np.ones(50, dtype=np.int64)) == pytest.approx(
        _fid(real, fake), rel=1e-10
    )
    counts = rng.multinomial(50, np.full(50, 1 / 50))
    assert reference.distance(counts) == pytest.approx(
        _fid(real, np.repeat(fake, counts, axis=0)), rel=1e-10
    )
    # More dimensions than generated rows: the n x n side of the Gram matrix.
    wide = rng.standard_normal((10, 6))
    counts = rng.multinomial(10, np.full(10, 0.1))
    assert bootstrap._Reference(stats.mean, stats.covariance, wide).distance(
        counts
    ) == pytest.approx(_fid(real, np.repeat(wide, counts, axis=0)), rel=1e-9)


def test_batched_resamples_equal_one_at_a_time():
    """All resamples at once (low dimensions) equal the one-resample route."""
    rng = np.random.default_rng(10)
    real = rng.gamma(2.0, 0.2, size=(300, 16))
    fake = rng.gamma(2.0, 0.2, size=(1500, 16)) * 1.1 + 3.0  # far from 0: cancellation
    stats = metrics.FeatureStatistics().update(real)
    reference = bootstrap._Reference(stats.mean, stats.covariance, fake)
    counts = rng.multinomial(1500, np.full(1500, 1 / 1500), size=7)
    counts[0] = 1
    batched = reference.distances(counts)
    np.testing.assert_allclose(batched, [reference.distance(c) for c in counts], rtol=1e-9)
    assert batched[0] == pytest.approx(_fid(real, fake), rel=1e-9)


def test_high_dimensional_features_take_the_one_resample_route(monkeypatch):
    """Above 256 dimensions resamples run one at a time (fewer samples than dims too)."""
    rng = np.random.default_rng(11)
    real, fake = rng.standard_normal((40, 300)), rng.standard_normal((20, 300)) + 0.1
    calls = []
    original = bootstrap._Reference.distance
    monkeypatch.setattr(
        bootstrap._Reference, "distance", lambda self, c: calls.append(1) or original(self, c)
    )
    low, high = metrics.fid_confidence_interval(real, fake, resamples=5)
    assert len(calls) == 6  # the point estimate and 5 resamples
    assert low <= _fid(real, fake) <= high


@FAST
@given(
    num_fake=st.integers(3, 60),
    dim=st.integers(1, 8),
    shift=st.floats(0.0, 2.0),
    seed=st.integers(0, 2**16),
    resample_real=st.booleans(),
)
def test_fid_interval_contains_the_point_estimate(num_fake, dim, shift, seed, resample_real):
    """low <= FID <= high, low >= 0, for any sizes, including fewer samples than dims."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((40, dim))
    fake = rng.standard_normal((num_fake, dim)) + shift
    low, high = metrics.fid_confidence_interval(
        real, fake, resamples=20, seed=seed, resample_real=resample_real
    )
    point = _fid(real, fake)
    assert 0.0 <= low <= point * (1 + 1e-9) + 1e-12
    assert high >= point * (1 - 1e-9)


def test_fid_interval_is_deterministic_for_a_seed():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((200, 5))
    fake = rng.standard_normal((150, 5)) + 0.3
    first = metrics.fid_confidence_interval(real, fake, seed=7)
    assert first == metrics.fid_confidence_interval(real, fake, seed=7)
    # Python floats as documented (JSON and formatting treat them alike), and a
    # numpy confidence is a number like any other.
    assert [type(value) for value in first] == [float, float]
    as_float32 = metrics.fid_confidence_interval(real, fake, seed=7, confidence=np.float32(0.95))
    assert as_float32 == pytest.approx(first, rel=1e-5)  # 0.95 rounded to float32
    assert first != metrics.fid_confidence_interval(real, fake, seed=8)
    # Precomputed real statistics give the same interval as the real array.
    stats = metrics.FeatureStatistics().update(real)
    np.testing.assert_allclose(
        metrics.fid_confidence_interval(stats, fake, seed=7), first, rtol=1e-10
    )


def test_fid_interval_shrinks_with_more_samples():
    """16x the generated samples: the interval is about 4x narrower (1/sqrt(n))."""
    rng = np.random.default_rng(2)
    real = rng.standard_normal((4000, 4))
    few = rng.standard_normal((200, 4)) + 0.5
    many = rng.standard_normal((3200, 4)) + 0.5
    few_low, few_high = metrics.fid_confidence_interval(real, few)
    many_low, many_high = metrics.fid_confidence_interval(real, many)
    assert 0 < many_high - many_low < 0.5 * (few_high - few_low)


def test_fid_interval_matches_the_spread_of_fresh_draws():
    """The 95 % interval is about as wide as the spread of FIDs of independent
    generated samples of the same size (what it claims to estimate)."""
    rng = np.random.default_rng(3)
    real = rng.standard_normal((2000, 3))
    draws = [_fid(real, rng.standard_normal((300, 3)) * 1.2 + 0.4) for _ in range(60)]
    fresh_width = np.quantile(draws, 0.975) - np.quantile(draws, 0.025)
    widths = []
    for seed in range(5):
        fake = rng.standard_normal((300, 3)) * 1.2 + 0.4
        low, high = metrics.fid_confidence_interval(real, fake, seed=seed)
        widths.append(high - low)
    assert 0.5 * fresh_width < np.median(widths) < 2.0 * fresh_width


def test_fid_interval_refuses_bad_input():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((30, 3)), rng.standard_normal((20, 3))
    with pytest.raises(ValueError, match="resamples"):
        metrics.fid_confidence_interval(real, fake, resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        metrics.fid_confidence_interval(real, fake, confidence=95)
    with pytest.raises(ValueError, match="same feature extractor"):
        metrics.fid_confidence_interval(real, rng.standard_normal((20, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.fid_confidence_interval(real, fake[:1])
    with pytest.raises(ValueError, match="resample_real"):
        stats = metrics.FeatureStatistics().update(real)
        metrics.fid_confidence_interval(stats, fake, resample_real=True)
    bad = fake.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.fid_confidence_interval(real, bad)


# --------------------------------------------------------------------------
# memorisation_score
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feature_splits():
    """Training, held-out and fresh features from one distribution."""
    rng = np.random.default_rng(5)
    draws = rng.standard_normal((1400, 8))
    return draws[:800], draws[800:1100], draws[1100:]


def test_copies_of_training_features_score_as_memorised(feature_splits):
    train, heldout, _ = feature_splits
    ratio, share = metrics.memorisation_score(train, heldout, train[:300])
    assert ratio < 1e-6 and share == 1.0
    assert Fitness(memorisation_ratio=ratio, memorisation_share=share).memorising


def test_fresh_samples_and_noise_do_not_score_as_memorised(feature_splits):
    train, heldout, fresh = feature_splits
    ratio, share = metrics.memorisation_score(train, heldout, fresh)
    assert 0.8 < ratio < 1.25 and share < 0.12
    assert not Fitness(memorisation_ratio=ratio, memorisation_share=share).memorising
    noise = np.random.default_rng(6).uniform(-6, 6, size=(300, 8))
    ratio, share = metrics.memorisation_score(train, heldout, noise)
    assert ratio > 1.5 and share == 0.0


def test_partial_copying_is_flagged(feature_splits):
    """A third of the samples copied: the share rises far above 5 %, the flag is set."""
    train, heldout, fresh = feature_splits
    mixed = np.concatenate([train[:100], fresh[:200]])
    _, share = metrics.memorisation_score(train, heldout, mixed)
    assert 0.3 < share < 0.45
    assert Fitness(memorisation_share=share).memorising


def test_nearest_distances_match_brute_force():
    from kgan_nas.metrics.neighbours import nearest_distances

    rng = np.random.default_rng(7)
    queries, reference = rng.standard_normal((2100, 3)), rng.standard_normal((50, 3))
    brute = np.linalg.norm(queries[:, None, :] - reference[None, :, :], axis=2).min(axis=1)
    np.testing.assert_allclose(nearest_distances(queries, reference), brute, atol=1e-9)


def test_memorisation_score_refuses_bad_input(feature_splits):
    train, heldout, fresh = feature_splits
    with pytest.raises(ValueError, match="heldout_features.*same feature extractor"):
        metrics.memorisation_score(train, heldout[:, :4], fresh)
    with pytest.raises(ValueError, match="generated_features.*no rows"):
        metrics.memorisation_score(train, heldout, fresh[:0])
    with pytest.raises(ValueError, match="2-D"):
        metrics.memorisation_score(train, heldout, fresh[0])


# --------------------------------------------------------------------------
# The scoring path: score_images and Evaluator
# --------------------------------------------------------------------------


class PixelExtractor:
    """Pixels as features, a softmax over the first 10 as probabilities (no Keras)."""

    metric_suffix = "pixels"

    def features(self, images):
        return np.asarray(images, dtype=np.float64).reshape(len(images), -1)

    def features_and_probabilities(self, images):
        features = self.features(images)
        logits = features[:, :10] * 3.0
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        return features, probabilities / probabilities.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def digit_splits():
    """sklearn digits in [-1, 1], shuffled: training, held-out and unseen images."""
    images = (load_digits().images / 8.0 - 1.0).astype(np.float32)[..., None]
    images = images[np.random.default_rng(8).permutation(len(images))]
    return images[:1200], images[1200:1500], images[1500:]


CONFIG = EvaluationConfig(num_samples=200, kid_subsets=10, kid_subset_size=100)


def _scores(digit_splits, generated):
    train, heldout, _ = digit_splits
    extractor = PixelExtractor()
    evaluator = Evaluator(train, None, CONFIG, extractor, extractor.features(heldout))
    return evaluator.score_images(generated, seed=1)


def test_a_generator_that_returns_training_images_is_flagged(digit_splits):
    scores = _scores(digit_splits, digit_splits[0][:250])
    fitness = Fitness(**scores)
    assert fitness.memorising
    assert scores["memorisation_ratio"] < 0.01 and scores["memorisation_share"] == 1.0
    # FID alone would call this a good generator: copies look like real data.
    assert scores["fid_low"] <= scores["fid"] <= scores["fid_high"]


def test_held_out_images_and_noise_are_not_flagged(digit_splits):
    unseen = _scores(digit_splits, digit_splits[2])
    assert not Fitness(**unseen).memorising
    assert 0.8 < unseen["memorisation_ratio"] < 1.25 and unseen["memorisation_share"] < 0.15
    noise = np.random.default_rng(9).uniform(-1, 1, size=(250, 8, 8, 1)).astype(np.float32)
    noisy = _scores(digit_splits, noise)
    assert not Fitness(**noisy).memorising
    assert noisy["memorisation_ratio"] > 1.5 and noisy["fid"] > unseen["fid"]


def test_scores_carry_every_statistic_into_the_record(digit_splits):
    """score_images' keys are Fitness fields; they survive the JSON round trip."""
    scores = _scores(digit_splits, digit_splits[2])
    assert scores["kid_se"] > 0 and scores["fid_low"] < scores["fid_high"]
    fitness = Fitness(**scores)
    again = Fitness.from_dict(fitness.to_dict())
    assert again == fitness
    # Without training features (the fit callbacks) memorisation is simply absent.
    train, heldout, unseen = digit_splits
    extractor = PixelExtractor()
    plain = score_images(unseen, extractor, extractor.features(heldout), CONFIG)
    assert plain["memorisation_ratio"] is None and plain["fid_low"] is not None


def test_non_finite_images_score_worst_without_statistics(digit_splits):
    images = digit_splits[2].copy()
    images[0, 0, 0, 0] = np.nan
    scores = _scores(digit_splits, images)
    assert math.isinf(scores["fid"]) and scores["fid_low"] is None and scores["kid_se"] is None
    assert not Fitness(**scores).memorising


def test_old_records_without_statistics_load():
    """A record written before the statistics existed loads with None for them."""
    old = {"fid": 3.5, "kid": 0.1, "kid_std": 0.01, "status": "ok", "params": 10}
    fitness = Fitness.from_dict(old)
    assert fitness.fid_low is None and fitness.kid_se is None
    assert fitness.memorisation_share is None and not fitness.memorising
    assert Fitness.from_dict({**old, "kid_se": "nan"}).kid_se != 0.0


def test_statistics_leave_the_stored_evaluation_config_unchanged():
    """Resume compares config.json's evaluation settings key by key: the statistics
    add none, so runs stored before them still resume."""
    assert set(EvaluationConfig().to_dict()) == {
        "steps",
        "batch_size",
        "seconds",
        "num_samples",
        "kid_subsets",
        "kid_subset_size",
        "is_splits",
        "jit_compile",
        "divergence_threshold",
        "seed",
    }


def test_large_training_sets_are_compared_through_a_fixed_subset(digit_splits, monkeypatch):
    """Above MEMORISATION_MAX_TRAIN training images, a seeded subset is embedded, once."""
    from kgan_nas.evaluation import evaluator as evaluate

    monkeypatch.setattr(evaluate, "MEMORISATION_MAX_TRAIN", 500)
    train, heldout, _ = digit_splits
    extractor = PixelExtractor()
    evaluator = Evaluator(train, None, CONFIG, extractor, extractor.features(heldout))
    features = evaluator.train_features()
    assert features.shape == (500, 64)
    assert evaluator.train_features() is features  # computed once per evaluator
    rows = {row.tobytes() for row in extractor.features(train)}
    assert all(row.tobytes() in rows for row in features)
    again = Evaluator(train, None, CONFIG, extractor, extractor.features(heldout))
    np.testing.assert_array_equal(again.train_features(), features)


@pytest.mark.keras
@pytest.mark.slow
def test_domain_features_flag_exact_and_noisy_copies_only(cache_dir):
    """With the real domain extractor: copies and lightly noised copies of training
    digits are flagged; unseen digits and noise are not."""
    from kgan_nas import data
    from kgan_nas import features

    digits = data.load_dataset("digits", seed=0)
    extractor = features.DomainExtractor.fit(digits.train, digits.train_labels, seed=0)
    train = extractor.features(digits.train)
    heldout, unseen = np.array_split(extractor.features(digits.eval), 2)
    copies = digits.train[:300]
    noisy = np.clip(copies + np.random.default_rng(0).normal(0, 0.1, copies.shape), -1, 1)
    noise = np.random.default_rng(1).uniform(-1, 1, copies.shape)

    def share(generated):
        return metrics.memorisation_score(train, heldout, generated)[1]

    assert share(extractor.features(copies)) == 1.0
    assert share(extractor.features(noisy.astype(np.float32))) > 0.5
    assert share(unseen) < 0.15
    assert share(extractor.features(noise.astype(np.float32))) == 0.0
