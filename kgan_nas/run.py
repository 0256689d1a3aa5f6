"""The run directory: everything a search keeps, written so nothing is lost.

Layout::

    <directory>/
      config.json          what was asked for (a resume must match it)
      history.jsonl        one JSON line per evaluated genome, appended
      checkpoint.json      strategy state + RNG, and the generation in flight
      extractor.keras      the feature extractor the metrics use
      real_features.npy    held-out real-image features under that extractor
      candidates/<key>/    each scored candidate's generator/discriminator .keras
      best/                generator.keras, discriminator.keras, genome.json
      samples/             PNG grids (best of each generation)

Every file except `history.jsonl` is replaced atomically (temporary file in
the same folder, then `os.replace`), so a kill at any moment leaves either
the old or the new version. `history.jsonl` is append-only; a line cut short
by a kill is ignored when read. Loading a run directory only parses JSON and
`.npy` (no pickle), and Keras models load with `safe_mode=True`.
"""

import json
import math
import os
import shutil
import warnings

from kgan_nas.atomic import atomic_write_json

CONFIG = "config.json"
HISTORY = "history.jsonl"
CHECKPOINT = "checkpoint.json"
FORMAT_VERSION = 1


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked (the message says why and what to do)."""


def _read_json(path):
    with open(path, encoding="utf-8") as stream:
        try:
            return json.load(stream)
        except json.JSONDecodeError as exc:
            raise RunDirectoryError(
                f"{path} is corrupted ({exc}). Restore it from a backup, or start "
                "the search again with overwrite=True (this deletes the run)."
            ) from None


class RunDir:
    """A search's run directory.

    Args:
        path: The directory.
    """

    def __init__(self, path):
        self.path = os.fspath(path)

    def file(self, *parts):
        """Path of a file inside the run directory (never outside it)."""
        joined = os.path.normpath(os.path.join(self.path, *parts))
        root = os.path.normpath(self.path)
        if os.path.commonpath([root, joined]) != root:
            raise RunDirectoryError(f"Path {os.path.join(*parts)!r} escapes the run directory.")
        return joined

    @property
    def exists(self):
        return os.path.isfile(self.file(CONFIG))

    # ------------------------------------------------------------------
    # Creation and resume
    # ------------------------------------------------------------------

    def open(self, config, *, overwrite=False, resumable_keys=("generations",)):
        """Creates the directory for `config`, or checks it matches to resume.

        Args:
            config: JSON-able dict describing the search.
            overwrite: Delete an existing run first.
            resumable_keys: Config keys that may change on resume (e.g. more
                generations); the new values are stored.

        Returns:
            True when an existing run is resumed, False when a new one starts.

        Raises:
            RunDirectoryError: if the path is a file, is not writable, or
                holds a run with a different config and `overwrite` is False.
        """
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunDirectoryError(
                f"The run directory {self.path!r} is a file. Pass a directory path "
                "(it is created if missing).")
        if overwrite and os.path.isdir(self.path):
            if self.exists or not os.listdir(self.path):
                shutil.rmtree(self.path)
            else:
                raise RunDirectoryError(
                    f"{self.path!r} is not empty and is not a kgan_nas run; refusing to "
                    "delete it with overwrite=True. Choose another directory.")
        if self.exists:
            stored = _read_json(self.file(CONFIG))
            differences = _config_differences(stored.get("search", {}), config,
                                              ignore=resumable_keys)
            if differences:
                raise RunDirectoryError(
                    f"{self.path!r} holds a run with a different configuration "
                    f"({'; '.join(differences)}). Pass overwrite=True to start over there, "
                    "use another directory, or repeat the original settings to resume.")
            stored["search"] = config
            atomic_write_json(self.file(CONFIG), stored)
            return True
        if os.path.isdir(self.path) and os.listdir(self.path):
            raise RunDirectoryError(
                f"{self.path!r} exists, is not empty and is not a kgan_nas run. "
                "Choose a new or empty directory.")
        try:
            os.makedirs(self.path, exist_ok=True)
            atomic_write_json(self.file(CONFIG), {"format": FORMAT_VERSION, "search": config})
        except PermissionError:
            raise RunDirectoryError(
                f"Cannot write to the run directory {self.path!r} (permission denied). "
                "Choose a directory you can write to.") from None
        return False

    def config(self):
        return _read_json(self.file(CONFIG))["search"]

    # ------------------------------------------------------------------
    # History
    # ------------------------------------------------------------------

    def append_history(self, record):
        """Appends one evaluation record as a JSON line (flushed and synced)."""
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
                warnings.warn(
                    f"Skipping damaged line {number} of {path} (probably cut short by a "
                    "kill); that candidate will be evaluated again.", stacklevel=2)
                continue
            if isinstance(record, dict) and "key" in record:
                records.append(record)
        return records

    # ------------------------------------------------------------------
    # Checkpoint
    # ------------------------------------------------------------------

    def save_checkpoint(self, checkpoint):
        atomic_write_json(self.file(CHECKPOINT), checkpoint)

    def checkpoint(self):
        path = self.file(CHECKPOINT)
        if not os.path.exists(path):
            return None
        return _read_json(path)

    # ------------------------------------------------------------------
    # Models
    # ------------------------------------------------------------------

    def candidate_dir(self, key):
        return self.file("candidates", key)

    def promote_best(self, key, genome_dict, record):
        """Copies candidate `key`'s models to `best/` atomically (folder swap)."""
        source = self.candidate_dir(key)
        if not os.path.isdir(source):
            return False
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

    def load_model(self, *parts):
        import keras

        path = self.file(*parts)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No model at {path}.")
        return keras.saving.load_model(path, safe_mode=True, compile=False)


def _config_differences(stored, current, ignore=()):
    differences = []
    for key in sorted(set(stored) | set(current)):
        if key in ignore:
            continue
        if _normalise(stored.get(key)) != _normalise(current.get(key)):
            differences.append(f"{key}: stored {stored.get(key)!r}, now {current.get(key)!r}")
    return differences


def _normalise(value):
    # Round-trip through JSON so tuples/lists and float spellings compare equal.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def finite_or_none(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None
