"""The run directory: everything a search keeps, written so nothing is lost.

Layout::

    <directory>/
      config.json          what was asked for: "search" (a resume must match it), "run"
                           and "details" (how it ran, versions; replaced on resume)
      history.jsonl        one JSON line per evaluated genome, appended
      checkpoint.json      strategy state + RNG, and the generation in flight
      extractor.keras      the feature extractor the metrics use
      real_features.npy    held-out real-image features under that extractor
      protocol.json        the protocol card (kgan_nas.store.protocol): what the scores depend on
      candidates/<key>/    each scored candidate's generator/discriminator .keras and a
                           manifest.json (writer's pid, sha256 of each file)
      best/                generator.keras, discriminator.keras, genome.json
      samples/             PNG grids (best of each generation; real.png, real images)
      logs/                worker processes' output
      .lock                held by the one process using the run (kgan_nas.store.lock)

Every file except `history.jsonl` is replaced atomically (temporary file in
the same folder, then `os.replace`), so a kill at any moment leaves either
the old or the new version. `history.jsonl` is append-only; a line cut short
by a kill is ignored when read. `best/` is swapped in as a whole folder; a
swap cut short by a kill is finished on the next resume. A candidate's folder
is written by one process in a private staging folder and renamed into place
whole (`publish_candidate`), so it never mixes files of two processes. Loading a run
directory only parses JSON and `.npy` (no pickle), Keras models load with
`safe_mode=True`, and no path (from the code, a history record or a symbolic
link inside the folder) may lead outside it. docs/reliability.md lists these
guarantees and the tests that check them.
"""

import contextlib
import errno
import json
import math
import os
import re
import shutil

from kgan_nas import validate
from kgan_nas.errors import RunDirectoryError as RunDirectoryError
from kgan_nas.errors import warn
from kgan_nas.store.atomic import atomic_write_json
from kgan_nas.store.candidate_files import FITNESS_FILE as FITNESS_FILE
from kgan_nas.store.candidate_files import MANIFEST as MANIFEST
from kgan_nas.store.candidate_files import check_candidate as check_candidate
from kgan_nas.store.candidate_files import publish_candidate as publish_candidate
from kgan_nas.store.candidate_files import publish_id as publish_id
from kgan_nas.store.candidate_files import published_fitness as published_fitness
from kgan_nas.store.candidate_files import recover_published as recover_published
from kgan_nas.store.candidate_files import staging_dir_for as staging_dir_for

CONFIG = "config.json"
HISTORY = "history.jsonl"
CHECKPOINT = "checkpoint.json"
# 2: history records number generations from 1. Format-1 runs (0-based) are
# read and extended in their own numbering, shown 1-based like every other run.
FORMAT_VERSION = 2
# What the search reads back from every history record.
_HISTORY_FIELDS = frozenset({"generation", "key", "genome", "fitness", "status"})
# A genome key (16 hex digits) names a folder under candidates/, so anything else
# in a history line is refused rather than used in a path.
_KEY = re.compile(r"[0-9a-f]{16}")


def read_json(path, fix=None):
    """Parses the JSON object in `path`; anything else is reported as corruption."""
    fix = fix or (
        "Restore it from a backup, or start the search again with "
        "overwrite=True (this deletes the run)."
    )
    with open(path, encoding="utf-8") as stream:
        try:
            value = json.load(stream)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirectoryError(f"{path} is corrupted ({exc}). {fix}") from None
    if not isinstance(value, dict):
        raise RunDirectoryError(
            f"{path} is corrupted (it holds a JSON {type(value).__name__}, not an object). {fix}"
        )
    return value


_CHECKPOINT_FIX = (
    "Delete checkpoint.json to resume from history.jsonl (the search replays its "
    "generations from the seed and reuses every recorded candidate), or start over "
    "with overwrite=True."
)


def _check_checkpoint(checkpoint, path):
    generation = checkpoint.get("generation")
    pending = checkpoint.get("pending")
    parents = checkpoint.get("pending_parents") or {}
    if (
        not validate.is_integer(generation)
        or generation < 0
        or not isinstance(checkpoint.get("strategy"), dict)
        or not (
            pending is None
            or (isinstance(pending, list) and all(isinstance(g, dict) for g in pending))
        )
        or not (
            isinstance(parents, dict)
            and all(
                isinstance(k, str) and isinstance(v, str) and _KEY.fullmatch(v)
                for k, v in parents.items()
            )
        )
    ):
        raise RunDirectoryError(
            f"{path} is corrupted (expected 'generation' >= 0, a 'strategy' object, "
            f"'pending' genomes or null, and 'pending_parents' mapping keys to keys). "
            f"{_CHECKPOINT_FIX}"
        )
    return checkpoint


@contextlib.contextmanager
def _writable(path):
    """Turns an OS refusal to write (permissions, read-only disk) into a clear error."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise  # a full disk is said as such (the CLI does), not as permissions
        raise RunDirectoryError(
            f"Cannot use the run directory {path!r} ({exc.strerror or exc}). Choose "
            "a directory you can read and write, or fix its permissions."
        ) from None


class RunDir:
    """A search's run directory.

    Args:
        path: The directory.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._lock = None
        self._offset = None  # see _generation_offset

    def file(self, *parts):
        """Path of a file inside the run directory (never outside it)."""
        joined = os.path.normpath(os.path.join(self.path, *parts))
        root = os.path.normpath(self.path)
        # Checked lexically (`..`, absolute parts) and after resolving symbolic
        # links, so a link planted in a run directory cannot redirect a write.
        real_root = os.path.realpath(root)
        if (
            os.path.commonpath([root, joined]) != root
            or os.path.commonpath([real_root, os.path.realpath(joined)]) != real_root
        ):
            raise RunDirectoryError(
                f"Path {os.path.join(*parts)!r} escapes the run directory {self.path!r}; "
                "kgan_nas only reads and writes files inside it."
            )
        return joined

    @property
    def exists(self):
        return os.path.isfile(self.file(CONFIG))

    # ------------------------------------------------------------------
    # Creation and resume
    # ------------------------------------------------------------------

    def open(
        self,
        config,
        *,
        overwrite=False,
        resumable_keys=("generations",),
        run_settings=None,
        details=None,
        added_later=None,
    ):
        """Creates the directory for `config`, or checks it matches to resume.

        The directory is locked for this process (`kgan_nas.store.lock`) until
        `close()`: a second search or resume on it fails at once.

        Args:
            config: JSON-able dict describing the search.
            overwrite: Delete an existing run first.
            resumable_keys: Config keys that may change on resume (e.g. more
                generations); the new values are stored.
            run_settings: JSON-able dict of how the search runs (executor,
                backend, ...), stored as `"run"` and never compared.
            details: JSON-able dict of what else describes this session (the
                strategy's full settings, library versions), stored as
                `"details"` and never compared.
            added_later: Config keys newer than some stored runs, with the
                value a run without them had (`SearchConfig.ADDED_LATER`);
                a stored run lacking one compares as having that value.

        Returns:
            True when an existing run is resumed, False when a new one starts.

        Raises:
            RunDirectoryError: if the path is a file, is not writable, is in
                use by another process (`kgan_nas.errors.RunDirectoryInUse`), or
                holds a run with a different config and `overwrite` is False.
        """
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunDirectoryError(
                f"The run directory {self.path!r} is a file. Pass a directory path "
                "(it is created if missing)."
            )
        self._offset = None  # the numbering follows the run that is opened
        with _writable(self.path):
            entries = _entries(self.path)
        if entries and not self.exists:
            if overwrite:
                raise RunDirectoryError(
                    f"{self.path!r} is not empty and is not a kgan_nas run; refusing to "
                    "delete it with overwrite=True. Choose another directory."
                )
            raise RunDirectoryError(
                f"{self.path!r} exists, is not empty and is not a kgan_nas run. "
                "Choose a new or empty directory."
            )
        with _writable(self.path):
            os.makedirs(self.path, exist_ok=True)
            self._lock_directory()
        try:
            return self._open_locked(
                config, overwrite, resumable_keys, run_settings, details, added_later or {}
            )
        except BaseException:
            self.close()
            raise

    def _open_locked(self, config, overwrite, resumable_keys, run_settings, details, added_later):
        if overwrite and self.exists:
            with _writable(self.path):
                for name in _entries(self.path):
                    target = os.path.join(self.path, name)
                    if os.path.isdir(target) and not os.path.islink(target):
                        shutil.rmtree(target)
                    else:
                        os.unlink(target)
        if self.exists:
            stored = self._stored_config()
            differences = _config_differences(
                {**added_later, **stored["search"]}, config, ignore=resumable_keys
            )
            if differences:
                raise RunDirectoryError(
                    f"{self.path!r} holds a run with a different configuration "
                    f"({'; '.join(differences)}). Pass overwrite=True to start over there, "
                    "use another directory, or repeat the original settings to resume."
                )
            self.checkpoint()  # a damaged checkpoint fails here, before any work
            stored["search"] = config
            stored.update(_uncompared(run_settings, details))
            with _writable(self.path):
                self._recover_best()
                self._recover_candidates()
                atomic_write_json(self.file(CONFIG), stored)
            return True
        with _writable(self.path):
            stored = {"format": FORMAT_VERSION, "search": config}
            stored.update(_uncompared(run_settings, details))
            atomic_write_json(self.file(CONFIG), stored)
        return False

    def _lock_directory(self):
        from kgan_nas.store.lock import RunLock

        if self._lock is None:
            self._lock = RunLock(self.path).acquire()

    def close(self):
        """Releases the directory's lock (safe to call twice)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _stored_config(self):
        stored = read_json(self.file(CONFIG))
        if not isinstance(stored.get("search"), dict):
            raise RunDirectoryError(
                f"{self.file(CONFIG)} is corrupted (no 'search' settings). Restore it "
                "from a backup, or start over with overwrite=True (this deletes the run)."
            )
        return stored

    def config(self):
        """The search settings stored in `config.json`."""
        return self._stored_config()["search"]

    def run_settings(self):
        """How the search last ran (`config.json`'s `"run"`), or {} for older runs."""
        settings = self._stored_config().get("run")
        return settings if isinstance(settings, dict) else {}

    def details(self):
        """What else was recorded about the run (`config.json`'s `"details"`), or {}."""
        details = self._stored_config().get("details")
        return details if isinstance(details, dict) else {}

    # ------------------------------------------------------------------
    # History
    # ------------------------------------------------------------------

    def _generation_offset(self):
        """1 for a format-1 run, whose history numbers generations from 0, else 0."""
        if self._offset is None:
            if not self.exists:
                return 0
            self._offset = 1 if self._stored_config().get("format", 1) < 2 else 0
        return self._offset

    def append_history(self, record):
        """Appends one evaluation record as a JSON line (flushed and synced)."""
        offset = self._generation_offset()
        if offset:
            record = dict(record, generation=record["generation"] - offset)
        line = json.dumps(record, sort_keys=True, allow_nan=False)
        path = self.file(HISTORY)
        # A line cut short by a kill would glue onto the next one: start on a
        # fresh line if the file does not end with a newline.
        prefix = ""
        if os.path.exists(path) and os.path.getsize(path):
            with open(path, "rb") as stream:
                stream.seek(-1, os.SEEK_END)
                prefix = "" if stream.read(1) == b"\n" else "\n"
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(prefix + line + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def history(self):
        """All complete records, in order. Damaged lines are skipped with a warning."""
        path = self.file(HISTORY)
        if not os.path.exists(path):
            return []
        records = []
        with open(path, encoding="utf-8") as stream:
            lines = stream.read().split("\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if not (
                isinstance(record, dict)
                and _HISTORY_FIELDS <= set(record)
                and isinstance(record["key"], str)
                and _KEY.fullmatch(record["key"])
            ):
                warn(
                    f"Skipping damaged line {number} of {path} (probably cut short by a "
                    "kill); if its candidate was in the generation being run, a resume "
                    "evaluates it again.",
                )
                continue
            records.append(record)
        offset = self._generation_offset()
        for record in records:
            if isinstance(record["generation"], int):
                record["generation"] += offset
        return records

    # ------------------------------------------------------------------
    # Checkpoint
    # ------------------------------------------------------------------

    def save_checkpoint(self, checkpoint):
        atomic_write_json(self.file(CHECKPOINT), checkpoint)

    def checkpoint(self):
        """The saved checkpoint, or None before the first one.

        Raises:
            RunDirectoryError: if `checkpoint.json` is damaged (the message
                says how to resume without it).
        """
        path = self.file(CHECKPOINT)
        if not os.path.exists(path):
            return None
        return _check_checkpoint(read_json(path, fix=_CHECKPOINT_FIX), path)

    # ------------------------------------------------------------------
    # Models
    # ------------------------------------------------------------------

    def candidate_dir(self, key):
        return self.file("candidates", key)

    def _recover_candidates(self):
        """Tidies candidate folders after a kill (see `recover_published`)."""
        recover_published(self.file("candidates"), _KEY.fullmatch)

    def promote_best(self, key, genome_dict, record):
        """Copies candidate `key`'s models to `best/` atomically (folder swap)."""
        source = self.candidate_dir(key)
        if not os.path.isdir(source):
            return False
        self._recover_best()
        staging = self.file(".best-staging")
        if os.path.exists(staging):
            shutil.rmtree(staging)
        shutil.copytree(source, staging)
        atomic_write_json(os.path.join(staging, "genome.json"), genome_dict)
        atomic_write_json(os.path.join(staging, "record.json"), record)
        best = self.file("best")
        old = self.file(".best-old")
        if os.path.exists(old):
            shutil.rmtree(old)
        if os.path.exists(best):
            os.replace(best, old)
        os.replace(staging, best)
        if os.path.exists(old):
            shutil.rmtree(old)
        return True

    def _recover_best(self):
        """Finishes a `best/` swap that a kill interrupted between its two renames."""
        best, staging, old = self.file("best"), self.file(".best-staging"), self.file(".best-old")
        if os.path.exists(best):
            return
        # record.json is written last, so a staging folder holding it is complete.
        if os.path.isfile(os.path.join(staging, "record.json")):
            os.replace(staging, best)
        elif os.path.isdir(old):
            os.replace(old, best)

    def load_model(self, *parts):
        """Loads a `.keras` model from the run directory with `safe_mode=True`.

        Raises:
            FileNotFoundError: if there is no such file.
            RunDirectoryError: if the path leaves the run directory, or the
                file holds code (e.g. a `Lambda` layer), which is never run.
        """
        path = self.file(*parts)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No model at {path}.")
        import keras

        from kgan_nas import layers  # noqa: F401  (registers MinibatchStd for loading)

        try:
            return keras.saving.load_model(path, safe_mode=True, compile=False)
        except ValueError as exc:
            if "safe_mode" not in str(exc):
                raise
            raise RunDirectoryError(
                f"Refusing to load {path}: it contains Python code that loading would run "
                f"({exc}). kgan_nas loads run directories with safe_mode=True; if you "
                "trust this file, load it yourself with keras.saving.load_model(path, "
                "safe_mode=False)."
            ) from None


def _uncompared(run_settings, details):
    """The sections of config.json a resume replaces instead of comparing."""
    sections = {"run": run_settings, "details": details}
    return {name: value for name, value in sections.items() if value is not None}


def _entries(path):
    """A folder's entries except the lock file (nothing if it does not exist)."""
    if not os.path.isdir(path):
        return []
    return [name for name in os.listdir(path) if name != ".lock"]


def _config_differences(stored, current, ignore=(), prefix=""):
    differences = []
    for key in sorted(set(stored) | set(current)):
        if key in ignore:
            continue
        old, new = _normalise(stored.get(key)), _normalise(current.get(key))
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            # Name the nested setting that differs (e.g. space.latent_dim), not the whole dict.
            differences += _config_differences(old, new, prefix=f"{prefix}{key}.")
        else:
            differences.append(f"{prefix}{key}: stored {old!r}, now {new!r}")
    return differences


def _normalise(value):
    # Round-trip through JSON so tuples/lists and float spellings compare equal.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def finite_or_none(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None
