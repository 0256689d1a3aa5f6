"""The on-disk cache behind `DomainExtractor.for_data`: keys, entries, publishing.

A cache entry is the folder `<cache_dir>/<key>/` holding `extractor.keras` and its
sidecar `extractor.json`. The key is `kgan_nas.store.cache.cache_key` of every fact the
extractor depends on (data fingerprint, fit settings, versions, backend, cache
format). This module computes those facts, reads an entry back, and publishes a
new one with a single `os.rename`, so readers never see half an entry.
"""

import inspect
import json
import os
import re
import shutil
import uuid
import zipfile

import keras

from kgan_nas.store.cache import arrays_fingerprint
from kgan_nas.store.cache import cache_root
from kgan_nas.store.cache import canonical_json
from kgan_nas.store.cache import package_version

__all__ = ["data_fingerprint", "default_cache_dir"]

_FINGERPRINT_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")

# A `for_data` cache entry is the folder `<cache_dir>/<key>/` holding these two files.
_ENTRY_MODEL = "extractor.keras"
_ENTRY_SIDECAR = "extractor.json"
# Part of every cache key; raise it when the entry layout or its meaning changes
# (1 was the flat `<fingerprint>.keras` file, whose key covered the data only).
_CACHE_FORMAT = 2
# `fit` arguments that change what is printed, not the trained model: not in the key.
_VERBOSITY_SETTINGS = frozenset({"verbose"})
# How often `for_data` retries to put its entry in place while others replace it.
_PUBLISH_ATTEMPTS = 3


def data_fingerprint(images, labels=None):
    """Short content hash of a data set, used as its extractor cache key.

    Args:
        images: Array of images.
        labels: Optional labels; included so that supervised and k-means
            extractors for the same images get different keys.

    Returns:
        The first 16 hex characters of the sha256 of the arrays' shapes
        and bytes (`kgan_nas.store.cache.arrays_fingerprint`).
    """
    return arrays_fingerprint((("images", images, "<f4"), ("labels", labels, None)))


def default_cache_dir():
    """Folder where `DomainExtractor.for_data` caches trained extractors.

    Returns:
        `os.path.join(kgan_nas.store.cache.cache_root(), "extractors")`: i.e.
        `$KGAN_NAS_CACHE/extractors` when the environment variable
        `KGAN_NAS_CACHE` is set and non-empty, else `~/.cache/kgan_nas/extractors`.
    """
    return os.path.join(cache_root(), "extractors")


def _fit_settings(fit, fit_kwargs):
    """The keyword arguments `fit` will run with: its defaults, overridden by `fit_kwargs`.

    Read from the signature, so a new `fit` argument or a changed default enters the
    cache key without anyone remembering to add it. Verbosity is left out.

    Args:
        fit: The (bound) `fit` classmethod that would train the extractor.
        fit_kwargs: Keyword arguments the caller passes on to `fit`.

    Returns:
        Dict from argument name to value.

    Raises:
        TypeError: If `fit_kwargs` names an argument `fit` does not take; raised
            here so that a cache hit cannot hide a misspelt setting.
    """
    parameters = inspect.signature(fit).parameters.values()
    settings = {
        parameter.name: parameter.default
        for parameter in parameters
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is not parameter.empty
    }
    takes_any_keyword = any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters)
    unknown = sorted(set(fit_kwargs) - set(settings))
    if unknown and not takes_any_keyword:
        raise TypeError(
            f"`DomainExtractor.fit` got unexpected keyword arguments {unknown}; it takes "
            f"{sorted(settings)}."
        )
    settings.update(fit_kwargs)
    return {name: value for name, value in settings.items() if name not in _VERBOSITY_SETTINGS}


def _runtime_facts():
    """Versions and backend that shape a trained extractor and its saved file."""
    return {
        "kgan_nas_version": package_version(),
        "keras_version": keras.__version__,
        "keras_backend": keras.backend.backend(),
    }


def _extractor_cache_facts(fingerprint, fit_settings):
    """Everything a cached domain extractor depends on, as JSON-ready values.

    The feature size is the `feature_dim` fit setting, and the network layout is
    fixed by the kgan_nas version, so both are covered.

    Args:
        fingerprint: Identity of the training data.
        fit_settings: Result of `_fit_settings`.

    Returns:
        Dict with the cache format, data fingerprint, fit settings and
        `_runtime_facts()`, normalised through `canonical_json` so that it can be
        stored in the sidecar exactly as it was hashed.
    """
    facts = {
        "cache_format": _CACHE_FORMAT,
        "data_fingerprint": fingerprint,
        "fit_settings": fit_settings,
        **_runtime_facts(),
    }
    return json.loads(canonical_json(facts))


def _checked_fingerprint(fingerprint, images, labels):
    """The caller's data fingerprint, or one computed from the data."""
    if fingerprint is None:
        return data_fingerprint(images, labels)
    if not isinstance(fingerprint, str) or not _FINGERPRINT_PATTERN.match(fingerprint):
        raise ValueError(
            "`fingerprint` must be a plain file name (letters, digits, "
            f"'_', '-', '.'), got {fingerprint!r}."
        )
    return fingerprint


def _read_sidecar(path):
    """The sidecar's content, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as stream:
            sidecar = json.load(stream)
    except (OSError, ValueError):
        return None
    return sidecar if isinstance(sidecar, dict) else None


def _remove_entry(entry, cache_dir, key):
    """Moves a cache folder aside (one atomic rename), then deletes it.

    Renaming first means no reader ever sees a half-deleted entry. A folder
    already gone (another process removed or replaced it) is not an error.
    """
    trash = os.path.join(cache_dir, f".removed-{key}-{os.getpid()}-{uuid.uuid4().hex}")
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _load_cache_entry(extractor_class, entry, key):
    """Loads the extractor in the cache folder `entry`, if it is whole and is `key`'s.

    Args:
        extractor_class: The class whose `load` reads the model (`DomainExtractor`).
        entry: The folder `<cache_dir>/<key>`.
        key: The cache key the entry must record.

    Returns:
        The `DomainExtractor`, or None (a miss) when the folder, its model or its
        sidecar is missing or unreadable, or the sidecar records another key.
    """
    model_path = os.path.join(entry, _ENTRY_MODEL)
    sidecar = _read_sidecar(os.path.join(entry, _ENTRY_SIDECAR))
    metadata = (sidecar or {}).get("metadata")
    if not isinstance(metadata, dict) or metadata.get("cache_key") != key:
        return None
    try:
        return extractor_class.load(model_path)
    except (OSError, ValueError, zipfile.BadZipFile):
        return None  # Missing or damaged model file: refit rather than fail.


def _publish_cache_entry(extractor_class, extractor, cache_dir, key):
    """Saves `extractor` as the cache entry `<cache_dir>/<key>`, model and sidecar together.

    Both files are written into a uniquely named staging folder, which one
    `os.rename` then turns into the entry. If the entry exists already, a valid
    one (a concurrent fit won) is loaded and returned instead; an invalid one is
    moved aside and the rename retried.

    Args:
        extractor_class: The class whose `load` reads a concurrent winner's entry
            (`DomainExtractor`).
        extractor: The freshly fitted extractor, its metadata holding `key`.
        cache_dir: The cache folder.
        key: The cache key, i.e. the entry's folder name.

    Returns:
        The extractor now cached under `key`: `extractor` or the winner's.

    Raises:
        OSError: If the entry cannot be written or replaced.
    """
    entry = os.path.join(cache_dir, key)
    staging = os.path.join(cache_dir, f".staging-{key}-{os.getpid()}-{uuid.uuid4().hex}")
    try:
        extractor.save(os.path.join(staging, _ENTRY_MODEL))
        for attempt in range(_PUBLISH_ATTEMPTS):
            try:
                os.rename(staging, entry)
                return extractor
            except OSError:
                # POSIX refuses to rename onto a non-empty folder, Windows onto any.
                if not os.path.isdir(entry) or attempt == _PUBLISH_ATTEMPTS - 1:
                    raise
            winner = _load_cache_entry(extractor_class, entry, key)
            if winner is not None:
                return winner
            _remove_entry(entry, cache_dir, key)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
