"""One cache root for everything kgan_nas can rebuild, and keys that cannot go stale.

Every cache (trained domain extractors, saved data sets) lives under `cache_root()`, so
one environment variable moves or isolates all of them. A cache key is a short hash of
the facts that determine the cached content (data, settings, library versions), so an
entry made under other facts is never found, instead of being silently reused.

This module is plain Python: it never imports Keras or TensorFlow.
"""

import hashlib
import importlib.metadata
import json
import os

import kgan_nas

__all__ = [
    "CACHE_ENV_VAR",
    "cache_root",
    "package_version",
    "canonical_json",
    "cache_key",
    "arrays_fingerprint",
    "prune_folder",
]

CACHE_ENV_VAR = "KGAN_NAS_CACHE"

_DISTRIBUTION = "kgan_nas"
_KEY_LENGTH = 16


def cache_root():
    """Folder under which kgan_nas keeps all its caches.

    Returns:
        The value of the environment variable `KGAN_NAS_CACHE` when it is set and
        non-empty (used as given), else `~/.cache/kgan_nas` with `~` expanded.
    """
    root = os.environ.get(CACHE_ENV_VAR)
    if root:
        return root
    return os.path.join(os.path.expanduser("~"), ".cache", "kgan_nas")


def package_version():
    """The kgan_nas version, for cache keys and records.

    Returns:
        `kgan_nas.__version__` if the package defines it, else the version of the
        installed `kgan_nas` distribution, else `"unknown"` (e.g. a source tree
        that is neither installed nor versioned).
    """
    version = getattr(kgan_nas, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _json_fallback(value):
    """Numpy scalars become Python numbers; anything else its `repr`.

    A `repr` that holds a memory address changes on every run, so such a setting
    can only make the cache miss, never hit a wrong entry.
    """
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return repr(value)


def canonical_json(facts):
    """One JSON text per set of facts: sorted keys, no spaces.

    Args:
        facts: JSON-like dict (nested dicts, lists, strings, numbers, None);
            numpy scalars are converted to Python numbers.

    Returns:
        The JSON string; equal facts always give the same string.
    """
    return json.dumps(facts, sort_keys=True, separators=(",", ":"), default=_json_fallback)


def cache_key(facts):
    """Short hash naming the cache entry that `facts` determine.

    Args:
        facts: JSON-like dict of everything the cached content depends on.

    Returns:
        The first 16 hex characters of the sha256 of `canonical_json(facts)`.
    """
    return hashlib.sha256(canonical_json(facts).encode("utf-8")).hexdigest()[:_KEY_LENGTH]


def arrays_fingerprint(parts):
    """The one content hash of data: named arrays in a fixed byte layout.

    Each part contributes its tag, then `none` for a missing array or its
    shape and its bytes in the given dtype (a fixed byte order, so the hash
    is the same on every machine). `ImageData.fingerprint` and
    `kgan_nas.features.data_fingerprint` both hash through here.

    Args:
        parts: `(tag, array or None, dtype)` triples, e.g.
            `("train", images, "<f4")`.

    Returns:
        The first 16 hex characters of a sha256 digest.
    """
    import numpy as np

    digest = hashlib.sha256()
    for tag, array, dtype in parts:
        digest.update(tag.encode())
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array, dtype=dtype)
        digest.update(repr(array.shape).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()[:_KEY_LENGTH]


def prune_folder(folder, max_bytes):
    """Deletes a folder's least recently used files until it holds at most `max_bytes`.

    For caches that bound nothing themselves (TensorFlow's persistent XLA
    cache grows by a file per compiled program). "Used" is the later of a
    file's access and modification times (on a file system mounted without
    access times, the last written). A file that another process deleted
    meanwhile counts as gone, so processes pruning at once delete no more
    between them than one would; a reader that loses a file recompiles it.

    Args:
        folder: The folder; only its own files count (not subfolders'). A
            missing folder is left alone.
        max_bytes: The size to bring it under (>= 0).

    Returns:
        The number of bytes deleted.
    """
    files = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                status = entry.stat(follow_symlinks=False)
                files.append((max(status.st_atime, status.st_mtime), status.st_size, entry.path))
        except FileNotFoundError:
            continue
    left = sum(size for _, size, _ in files)
    removed = 0
    for _, size, path in sorted(files):
        if left <= max_bytes:
            break
        left -= size
        try:
            os.remove(path)
        except FileNotFoundError:
            continue  # gone already: another process pruned it
        removed += size
    return removed
