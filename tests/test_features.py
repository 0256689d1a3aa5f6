"""Tests for kgan_nas.features: domain and Inception feature extractors."""

import functools
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

import kgan_nas
from kgan_nas import features as features_module
from kgan_nas.features import DomainExtractor
from kgan_nas.features import FeatureExtractor
from kgan_nas.features import InceptionExtractor
from kgan_nas.features import data_fingerprint
from kgan_nas.features import default_cache_dir
from kgan_nas.features import domain as domain_module
from kgan_nas.features import domain_cache
from kgan_nas.features import get_extractor
from kgan_nas.features import kmeans_pseudo_labels
from kgan_nas.store import cache as cache_module

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8x8 digits as float32 NHWC in [-1, 1] with labels."""
    data = load_digits()
    images = (data.images / 8.0 - 1.0).astype(np.float32)[..., None]
    return images, data.target


@pytest.fixture(scope="module")
def digits_extractor(digits):
    """One supervised domain extractor for the whole module (trains once)."""
    images, labels = digits
    return DomainExtractor.fit(images, labels, seed=0)


@pytest.fixture()
def untrained_extractor():
    """A domain extractor around an untrained tiny classifier (no fit)."""
    classifier = features_module._build_domain_classifier((8, 8, 1), 3, 8)
    return DomainExtractor(classifier)


def _tiny_extractor(accuracy=None):
    """An untrained 8x8 domain extractor; `accuracy` marks which one a cache holds."""
    classifier = features_module._build_domain_classifier((8, 8, 1), 3, 8)
    return DomainExtractor(classifier, accuracy=accuracy)


def _fake_fit(monkeypatch, make_extractor):
    """Replaces `DomainExtractor.fit` by `make_extractor(call_index, kwargs)`.

    The fake keeps `fit`'s signature (`functools.wraps`), since the cache key
    covers `fit`'s defaults. Returns the list of keyword arguments of each call.
    """
    calls = []
    real_fit = DomainExtractor.fit.__func__

    @functools.wraps(real_fit)
    def fake_fit(cls, images, labels=None, **kwargs):
        calls.append(kwargs)
        return make_extractor(len(calls) - 1, kwargs)

    monkeypatch.setattr(DomainExtractor, "fit", classmethod(fake_fit))
    return calls


def _cache_entries(cache_dir):
    """Names in a cache folder: entries, plus any staging leftovers."""
    return sorted(os.listdir(cache_dir))


def _entry_sidecar(cache_dir, key):
    with open(os.path.join(cache_dir, key, "extractor.json")) as stream:
        return json.load(stream)


def _offline_get_file(*args, **kwargs):
    # What keras.utils.get_file raises when DNS fails.
    raise Exception(
        "URL fetch failure on https://storage.googleapis.com/...: None -- "
        "[Errno -2] Name or service not known"
    )


# --------------------------------------------------------------------------
# Domain extractor: supervised
# --------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.backend
def test_digits_holdout_accuracy_is_high(digits_extractor):
    """A supervised classifier on digits beats 90% on its held-out split."""
    assert digits_extractor.accuracy > 0.9
    assert digits_extractor.metadata["label_source"] == "labels"
    assert digits_extractor.metadata["num_holdout"] > 0
    assert digits_extractor.metric_suffix == "domain"


@pytest.mark.keras
@pytest.mark.backend
def test_digits_features_and_probabilities_are_well_formed(digits, digits_extractor):
    """Features are finite (N, d) float64; probability rows lie on the simplex."""
    images, _ = digits
    feats, probs = digits_extractor.features_and_probabilities(images[:300])
    assert feats.shape == (300, digits_extractor.feature_dim)
    assert probs.shape == (300, digits_extractor.num_classes) == (300, 10)
    assert feats.dtype == probs.dtype == np.float64
    assert np.all(np.isfinite(feats))
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    # Separate calls agree with the joint one (and batching is irrelevant).
    np.testing.assert_allclose(
        digits_extractor.features(images[:300], batch_size=7), feats, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(digits_extractor.probabilities(images[:300]), probs, atol=1e-7)


@pytest.mark.keras
@pytest.mark.backend
def test_digits_features_separate_classes(digits, digits_extractor):
    """Nearest-class-mean on the features classifies unseen digits well."""
    images, labels = digits
    feats = digits_extractor.features(images)
    half = len(images) // 2
    means = np.stack([feats[:half][labels[:half] == c].mean(axis=0) for c in range(10)])
    distances = ((feats[half:, None, :] - means[None]) ** 2).sum(axis=-1)
    assert np.mean(distances.argmin(axis=1) == labels[half:]) > 0.85


@pytest.mark.keras
@pytest.mark.backend
def test_save_load_round_trip(tmp_path, digits, digits_extractor):
    """A saved and reloaded extractor gives identical features and metadata."""
    images, labels = digits
    path = tmp_path / "sub" / "digits.keras"
    digits_extractor.save(path)
    with open(tmp_path / "sub" / "digits.json") as stream:
        sidecar = json.load(stream)
    assert sidecar["image_shape"] == [8, 8, 1]
    assert sidecar["num_classes"] == 10
    assert sidecar["fingerprint"] == data_fingerprint(images, labels)

    loaded = DomainExtractor.load(path)
    assert loaded.accuracy == digits_extractor.accuracy
    assert loaded.fingerprint == digits_extractor.fingerprint
    assert loaded.image_shape == (8, 8, 1)
    np.testing.assert_array_equal(
        loaded.features(images[:64]), digits_extractor.features(images[:64])
    )


@pytest.mark.keras
@pytest.mark.backend
def test_for_data_fits_once_then_loads(tmp_path, monkeypatch, digits, digits_extractor):
    """The cache helper trains on a miss, then loads without training."""
    images, labels = digits
    fit_calls = []

    def counting_fit(cls, images, labels=None, **kwargs):
        fit_calls.append(kwargs)
        return DomainExtractor(digits_extractor.classifier, accuracy=digits_extractor.accuracy)

    monkeypatch.setattr(DomainExtractor, "fit", classmethod(counting_fit))
    first = DomainExtractor.for_data(images, labels, cache_dir=tmp_path, epochs=3)
    second = DomainExtractor.for_data(images, labels, cache_dir=tmp_path, epochs=3)
    assert fit_calls == [{"epochs": 3}]
    key = first.metadata["cache_key"]
    assert second.metadata["cache_key"] == key
    # One folder per key, holding the model and its sidecar, nothing else.
    assert _cache_entries(tmp_path) == [key]
    assert _cache_entries(tmp_path / key) == ["extractor.json", "extractor.keras"]
    sidecar = _entry_sidecar(tmp_path, key)
    assert sidecar["fingerprint"] == data_fingerprint(images, labels)
    assert sidecar["metadata"]["cache_facts"]["data_fingerprint"] == sidecar["fingerprint"]
    assert sidecar["metadata"]["cache_facts"]["fit_settings"]["epochs"] == 3
    assert second.fingerprint == first.fingerprint
    np.testing.assert_array_equal(second.features(images[:32]), first.features(images[:32]))


@pytest.mark.keras
@pytest.mark.backend
def test_for_data_respects_env_cache_and_shape(tmp_path, monkeypatch, digits, digits_extractor):
    """KGAN_NAS_CACHE sets the cache; a cached extractor of another shape fails."""
    images, _ = digits
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path))
    assert default_cache_dir() == os.path.join(str(tmp_path), "extractors")
    calls = _fake_fit(
        monkeypatch,
        lambda index, kwargs: DomainExtractor(
            digits_extractor.classifier, accuracy=digits_extractor.accuracy
        ),
    )
    first = DomainExtractor.for_data(images, fingerprint="shared")
    assert _cache_entries(tmp_path / "extractors") == [first.metadata["cache_key"]]

    # A caller's fingerprint names the data: other images under it hit the cache.
    loaded = DomainExtractor.for_data(images[:10], fingerprint="shared")
    assert len(calls) == 1
    assert loaded.accuracy == digits_extractor.accuracy
    other_shape = np.zeros((4, 6, 6, 1), np.float32)
    with pytest.raises(ValueError, match="expects images of shape"):
        DomainExtractor.for_data(other_shape, fingerprint="shared")


@pytest.mark.keras
@pytest.mark.backend
def test_get_extractor_domain_uses_cache(tmp_path, monkeypatch, digits, digits_extractor):
    """get_extractor('domain') fits and caches; instances pass through."""
    images, _ = digits
    monkeypatch.setattr(
        DomainExtractor,
        "fit",
        classmethod(lambda cls, *a, **k: DomainExtractor(digits_extractor.classifier)),
    )
    extractor = get_extractor("domain", images=images, cache_dir=tmp_path)
    assert isinstance(extractor, DomainExtractor)
    key = extractor.metadata["cache_key"]
    assert os.path.exists(tmp_path / key / "extractor.keras")
    assert _entry_sidecar(tmp_path, key)["fingerprint"] == data_fingerprint(images)
    assert get_extractor(extractor) is extractor


@pytest.mark.keras
@pytest.mark.backend
def test_for_data_key_covers_fit_settings(tmp_path, monkeypatch, digits):
    """Other fit settings fit and cache another extractor; the same ones (verbosity
    aside) load the cached one without fitting."""
    images, labels = digits[0][:240], digits[1][:240]
    first = DomainExtractor.for_data(images, labels, cache_dir=tmp_path, epochs=1, batch_size=32)
    assert first.metadata["epochs"] == 1
    real_fit = DomainExtractor.fit.__func__
    calls = _fake_fit(
        monkeypatch, lambda index, kwargs: real_fit(DomainExtractor, images, labels, **kwargs)
    )

    again = DomainExtractor.for_data(
        images, labels, cache_dir=tmp_path, epochs=1, batch_size=32, verbose=0
    )
    assert calls == []
    np.testing.assert_array_equal(again.features(images[:16]), first.features(images[:16]))

    longer = DomainExtractor.for_data(images, labels, cache_dir=tmp_path, epochs=2, batch_size=32)
    assert calls == [{"epochs": 2, "batch_size": 32}]
    assert longer.metadata["epochs"] == 2
    assert longer.metadata["cache_key"] != first.metadata["cache_key"]
    assert _cache_entries(tmp_path) == sorted(
        [first.metadata["cache_key"], longer.metadata["cache_key"]]
    )
    facts = _entry_sidecar(tmp_path, longer.metadata["cache_key"])["metadata"]["cache_facts"]
    # Defaults the caller did not pass are part of the key too.
    assert facts["fit_settings"]["feature_dim"] == longer.feature_dim
    assert facts["fit_settings"]["epochs"] == 2 and "verbose" not in facts["fit_settings"]

    with pytest.raises(TypeError, match="epoch"):
        DomainExtractor.for_data(images, labels, cache_dir=tmp_path, epoch=1)
    assert len(calls) == 1


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize("fact", ["kgan_nas_version", "keras_version", "keras_backend"])
def test_for_data_key_covers_versions_and_backend(tmp_path, monkeypatch, fact):
    """Another kgan_nas or Keras version or Keras backend gives another cache entry."""
    images = np.linspace(-1, 1, 6 * 64, dtype=np.float32).reshape(6, 8, 8, 1)
    calls = _fake_fit(monkeypatch, lambda index, kwargs: _tiny_extractor())
    first = DomainExtractor.for_data(images, cache_dir=tmp_path)
    DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 1

    real_facts = domain_cache._runtime_facts
    monkeypatch.setattr(domain_cache, "_runtime_facts", lambda: {**real_facts(), fact: "other"})
    other = DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 2
    assert other.metadata["cache_key"] != first.metadata["cache_key"]
    assert other.metadata["cache_facts"][fact] == "other"
    assert first.metadata["cache_facts"][fact] == real_facts()[fact] != "other"
    assert len(_cache_entries(tmp_path)) == 2


@pytest.mark.keras
@pytest.mark.backend
def test_for_data_key_follows_kgan_nas_version(tmp_path, monkeypatch):
    """The version in the key is read from `kgan_nas.__version__` at call time."""
    images = np.linspace(-1, 1, 6 * 64, dtype=np.float32).reshape(6, 8, 8, 1)
    calls = _fake_fit(monkeypatch, lambda index, kwargs: _tiny_extractor())
    first = DomainExtractor.for_data(images, cache_dir=tmp_path)
    monkeypatch.setattr(kgan_nas, "__version__", kgan_nas.__version__ + ".post1")
    upgraded = DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 2
    assert upgraded.metadata["cache_facts"]["kgan_nas_version"] == kgan_nas.__version__
    assert upgraded.metadata["cache_key"] != first.metadata["cache_key"]


def test_package_version_falls_back_to_distribution_then_unknown(monkeypatch):
    """Without `__version__`: the installed distribution's version, else "unknown"."""
    assert cache_module.package_version() == kgan_nas.__version__
    monkeypatch.delattr(kgan_nas, "__version__")
    monkeypatch.setattr(
        cache_module.importlib.metadata, "version", lambda name: f"{name}-from-metadata"
    )
    assert cache_module.package_version() == "kgan_nas-from-metadata"

    def not_installed(name):
        raise cache_module.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cache_module.importlib.metadata, "version", not_installed)
    assert cache_module.package_version() == "unknown"


def test_cache_key_is_canonical():
    """Key order and numpy scalars do not change a key; values do."""
    facts = {"a": 1, "b": {"c": 0.5, "d": None}}
    key = cache_module.cache_key(facts)
    assert len(key) == 16 and int(key, 16) >= 0
    assert cache_module.cache_key({"b": {"d": None, "c": np.float64(0.5)}, "a": np.int64(1)}) == key
    assert cache_module.cache_key({"a": 2, "b": {"c": 0.5, "d": None}}) != key


@pytest.mark.keras
@pytest.mark.backend
def test_for_data_concurrent_fit_loads_the_winner(tmp_path, monkeypatch):
    """If another fit publishes the entry while this one trains, this one's staging
    folder is discarded and the published extractor is returned."""
    images = np.linspace(-1, 1, 6 * 64, dtype=np.float32).reshape(6, 8, 8, 1)
    winner, loser = _tiny_extractor(accuracy=0.75), _tiny_extractor(accuracy=0.25)
    assert not np.allclose(winner.features(images), loser.features(images))

    def fit_racing_another(index, kwargs):
        if index == 0:
            # Another caller fits and publishes before this fit returns.
            DomainExtractor.for_data(images, cache_dir=tmp_path)
            return loser
        return winner

    calls = _fake_fit(monkeypatch, fit_racing_another)
    result = DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 2
    assert result.accuracy == 0.75
    key = result.metadata["cache_key"]
    np.testing.assert_allclose(
        result.features(images), winner.features(images), rtol=1e-6, atol=1e-6
    )
    assert _cache_entries(tmp_path) == [key]  # no staging folder left behind
    assert _entry_sidecar(tmp_path, key)["accuracy"] == 0.75
    cached = DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 2 and cached.accuracy == 0.75


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize("damage", ["no_sidecar", "other_key", "no_model", "bad_sidecar"])
def test_for_data_refits_incomplete_or_mismatched_entry(tmp_path, monkeypatch, damage):
    """An entry lacking a file or recording another key is a miss: refitted and replaced."""
    images = np.linspace(-1, 1, 6 * 64, dtype=np.float32).reshape(6, 8, 8, 1)
    calls = _fake_fit(
        monkeypatch, lambda index, kwargs: _tiny_extractor(accuracy=0.1 * (index + 1))
    )
    first = DomainExtractor.for_data(images, cache_dir=tmp_path)
    key = first.metadata["cache_key"]
    entry = tmp_path / key
    if damage == "no_sidecar":
        os.remove(entry / "extractor.json")
    elif damage == "no_model":
        os.remove(entry / "extractor.keras")
    elif damage == "bad_sidecar":
        (entry / "extractor.json").write_text("{not json")
    else:
        sidecar = _entry_sidecar(tmp_path, key)
        sidecar["metadata"]["cache_key"] = "0" * 16
        (entry / "extractor.json").write_text(json.dumps(sidecar))

    refitted = DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 2
    assert refitted.accuracy == pytest.approx(0.2)
    assert _cache_entries(tmp_path) == [key]
    assert _cache_entries(entry) == ["extractor.json", "extractor.keras"]
    assert _entry_sidecar(tmp_path, key)["metadata"]["cache_key"] == key
    cached = DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 2 and cached.accuracy == pytest.approx(0.2)


@pytest.mark.keras
@pytest.mark.backend
def test_for_data_failed_save_leaves_no_half_entry(tmp_path, monkeypatch):
    """If saving the model fails after the sidecar is written, nothing is cached."""
    images = np.linspace(-1, 1, 6 * 64, dtype=np.float32).reshape(6, 8, 8, 1)
    calls = _fake_fit(monkeypatch, lambda index, kwargs: _tiny_extractor())

    def full_disk(model, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(domain_module, "atomic_save_model", full_disk)
    with pytest.raises(OSError, match="No space"):
        DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert _cache_entries(tmp_path) == []
    monkeypatch.undo()
    calls = _fake_fit(monkeypatch, lambda index, kwargs: _tiny_extractor())
    DomainExtractor.for_data(images, cache_dir=tmp_path)
    assert len(calls) == 1


@pytest.mark.parametrize("value", [None, ""])
def test_cache_root_defaults_to_home_cache(tmp_path, monkeypatch, value):
    """Unset or empty KGAN_NAS_CACHE: `~/.cache/kgan_nas`, with `~` expanded."""
    monkeypatch.setenv("HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv("KGAN_NAS_CACHE", raising=False)
    else:
        monkeypatch.setenv("KGAN_NAS_CACHE", value)
    expected = os.path.join(str(tmp_path), ".cache", "kgan_nas")
    assert cache_module.cache_root() == expected
    assert default_cache_dir() == os.path.join(expected, "extractors")


def test_cache_root_follows_environment(tmp_path, monkeypatch):
    """A non-empty KGAN_NAS_CACHE is the root, and the extractor cache follows it."""
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path / "root"))
    assert cache_module.cache_root() == str(tmp_path / "root")
    assert default_cache_dir() == os.path.join(str(tmp_path / "root"), "extractors")


def test_cache_module_imports_no_keras():
    """kgan_nas.store.cache is plain Python: importing it loads neither Keras nor TensorFlow."""
    code = (
        "import sys, kgan_nas.store.cache; "
        "print(any(name in sys.modules for name in ('keras', 'tensorflow', 'numpy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.backend
def test_data_fingerprint_tracks_content():
    """The fingerprint is stable, 16 hex chars, and tracks pixels, shape, labels."""
    images = np.linspace(-1, 1, 2 * 4 * 4).reshape(2, 4, 4, 1)
    fingerprint = data_fingerprint(images)
    assert fingerprint == data_fingerprint(images.copy())
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    changed = images.copy()
    changed[1, 2, 3, 0] += 0.5
    assert data_fingerprint(changed) != fingerprint
    assert data_fingerprint(images, np.array([0, 1])) != fingerprint
    assert data_fingerprint(images.reshape(2, 16, 1, 1)) != fingerprint


# --------------------------------------------------------------------------
# Domain extractor: unlabeled (k-means) and reproducibility
# --------------------------------------------------------------------------


@pytest.mark.backend
def test_kmeans_pseudo_labels_follow_digit_classes(digits):
    """k-means pseudo-labels are 10 dense, seed-stable ids that track the digits."""
    images, labels = digits[0][:900], digits[1][:900]
    pseudo = kmeans_pseudo_labels(images, seed=0)
    assert pseudo.shape == labels.shape
    assert set(np.unique(pseudo)) == set(range(10))
    np.testing.assert_array_equal(pseudo, kmeans_pseudo_labels(images, seed=0))
    assert adjusted_rand_score(labels, pseudo) > 0.3  # random labels give ~0


@pytest.mark.keras
@pytest.mark.backend
def test_unlabeled_fit_learns_kmeans_pseudo_labels_reproducibly(digits):
    """Without labels it learns k-means clusters; one seed gives one result."""
    images = digits[0][:300]
    extractor = DomainExtractor.fit(images, seed=1, epochs=12, batch_size=32)
    assert extractor.metadata["label_source"] == "kmeans"
    pseudo = kmeans_pseudo_labels(images, seed=1)
    assert extractor.num_classes == len(np.unique(pseudo))
    feats, probs = extractor.features_and_probabilities(images)
    agreement = np.mean(probs.argmax(axis=1) == pseudo)
    print(f"k-means agreement {agreement:.3f}")
    assert agreement > 0.6  # chance is ~0.1
    assert 0.0 <= extractor.accuracy <= 1.0

    again = DomainExtractor.fit(images, seed=1, epochs=12, batch_size=32)
    np.testing.assert_allclose(again.features(images), feats, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((8, 8, 1), np.float32), "rank 4"),
        (np.zeros((2, 8, 8, 3), np.float32), "trained on images of shape"),
        (np.zeros((2, 6, 6, 1), np.float32), "trained on images of shape"),
        (np.zeros((0, 8, 8, 1), np.float32), "empty"),
        (np.full((2, 8, 8, 1), np.nan, np.float32), "NaN or inf"),
        (np.full((2, 8, 8, 1), 255, np.uint8), r"\[-1, 1\]"),
        (np.full((2, 8, 8, 1), "a"), "numbers"),
    ],
)
def test_bad_images_raise_clear_errors(untrained_extractor, images, message):
    """Bad rank, shape, size, NaN or range raises a ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        untrained_extractor.features(images)


@pytest.mark.keras
@pytest.mark.backend
def test_bad_arguments_raise_clear_errors(tmp_path, untrained_extractor):
    """Bad batch sizes, labels, paths, fingerprints and specs raise named errors."""
    images = np.zeros((4, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="batch_size"):
        untrained_extractor.features(images, batch_size=0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        DomainExtractor.fit(images, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="two classes"):
        DomainExtractor.fit(images, np.zeros(4, int))
    with pytest.raises(ValueError, match="batch_size"):
        DomainExtractor.fit(images, np.array([0, 1, 0, 1]), batch_size=0)
    with pytest.raises(ValueError, match="epochs"):
        DomainExtractor.fit(images, np.array([0, 1, 0, 1]), epochs=1.5)
    with pytest.raises(ValueError, match="integers"):
        DomainExtractor.fit(images, np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="two distinct images"):
        DomainExtractor.fit(images)
    with pytest.raises(ValueError, match=".keras"):
        untrained_extractor.save(tmp_path / "model.h5")
    with pytest.raises(FileNotFoundError, match="nothing.keras"):
        DomainExtractor.load(tmp_path / "nothing.keras")
    with pytest.raises(ValueError, match="fingerprint"):
        DomainExtractor.for_data(images, fingerprint="../escape", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown feature extractor"):
        get_extractor("vgg")
    with pytest.raises(ValueError, match="images="):
        get_extractor("domain")
    no_features = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="'features'"):
        DomainExtractor(no_features)


# --------------------------------------------------------------------------
# Inception extractor
# --------------------------------------------------------------------------


@pytest.mark.backend
def test_inception_offline_error_explains_fix(tmp_path, monkeypatch):
    """Offline, the RuntimeError names the weights file, its folder and fixes."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", _offline_get_file)
    with pytest.raises(RuntimeError) as info:
        InceptionExtractor()
    message = str(info.value)
    assert WEIGHTS_FILE in message
    assert os.path.join(str(tmp_path), "models", WEIGHTS_FILE) in message
    assert "~/.keras/models/" in message
    assert "weights='/path/to/" in message
    assert "domain" in message
    assert "Name or service not known" in message
    with pytest.raises(RuntimeError, match=WEIGHTS_FILE):
        get_extractor("inception")


@pytest.mark.backend
def test_inception_imagenet_weights_come_from_keras_cache(monkeypatch):
    """weights='imagenet' asks keras.utils.get_file for the Keras file."""
    requests = []

    def fake_get_file(fname, origin, **kwargs):
        requests.append((fname, origin, kwargs))
        return "/cache/models/" + fname

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    path = features_module._resolve_inception_weights("imagenet")
    assert path == "/cache/models/" + WEIGHTS_FILE
    [(fname, origin, kwargs)] = requests
    assert fname == WEIGHTS_FILE and origin.endswith("/" + WEIGHTS_FILE)
    assert kwargs["cache_subdir"] == "models" and kwargs["file_hash"]


@pytest.mark.backend
def test_inception_bad_arguments(tmp_path):
    """Missing weights file: FileNotFoundError; bad size or spec: ValueError."""
    missing = tmp_path / "absent.weights.h5"
    with pytest.raises(FileNotFoundError, match="absent.weights.h5"):
        InceptionExtractor(weights=str(missing))
    with pytest.raises(ValueError, match="resize_to"):
        InceptionExtractor(weights=str(missing), resize_to=32)
    with pytest.raises(ValueError, match="weights"):
        InceptionExtractor(weights=123)


@pytest.fixture(scope="module")
def inception_pair(tmp_path_factory):
    """A random-init InceptionV3 (75 px) and an extractor loading its weights."""
    source = keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3))
    path = tmp_path_factory.mktemp("inception") / "source.weights.h5"
    source.save_weights(path)
    return source, InceptionExtractor(weights=str(path), resize_to=75)


@pytest.mark.keras
def test_inception_from_weights_file_matches_source(inception_pair):
    """Gray 40x40 input gives the source model's outputs on resized RGB."""
    source, extractor = inception_pair
    assert extractor.metric_suffix == "inception"
    assert (extractor.feature_dim, extractor.num_classes) == (2048, 1000)
    gray = np.random.default_rng(0).uniform(-1, 1, (3, 40, 40, 1))
    gray = gray.astype(np.float32)
    feats, probs = extractor.features_and_probabilities(gray)
    assert feats.shape == (3, 2048) and probs.shape == (3, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)

    rgb = np.repeat(gray, 3, axis=-1)
    resized = keras.ops.image.resize(rgb, (75, 75), interpolation="bilinear", antialias=False)
    two_outputs = keras.Model(
        source.inputs, [source.get_layer("avg_pool").output, source.outputs[0]]
    )
    expected_feats, expected_probs = two_outputs(resized, training=False)
    expected_feats = keras.ops.convert_to_numpy(expected_feats)
    assert np.ptp(expected_feats, axis=0).max() > 0  # images differ
    np.testing.assert_allclose(feats, expected_feats, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(probs, keras.ops.convert_to_numpy(expected_probs), atol=1e-6)
    # Grayscale is exactly its RGB repetition.
    np.testing.assert_allclose(extractor.features(rgb), feats, atol=1e-7)


@pytest.mark.keras
def test_inception_rejects_other_channel_counts(inception_pair):
    """Images with 2 channels are refused before running the network."""
    _, extractor = inception_pair
    assert isinstance(extractor, FeatureExtractor)
    with pytest.raises(ValueError, match="channels"):
        extractor.features(np.zeros((1, 75, 75, 2), np.float32))
