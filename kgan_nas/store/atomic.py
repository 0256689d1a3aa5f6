"""Atomic file writes: a reader (or a kill) sees the old file or the new one, never half.

Every file kgan_nas writes goes through here: the content goes to a temporary
file in the destination folder (same file system), is flushed to disk, then
`os.replace` swaps it in and the folder itself is synced, so the rename
survives a crash of the machine, not only of the process. Files get the
permissions of an ordinary `open()` (0666 less the user's umask), not the
owner-only 0600 of `tempfile.mkstemp`: the temporary file is created with mode
0666 and the kernel applies the umask.
"""

import json
import os
import uuid


def _create_temporary(folder, name):
    """Creates a new, unique temporary file in `folder`; returns `(descriptor, path)`.

    Created with mode 0666, so the kernel applies the user's umask exactly as
    for `open()` (no process-wide umask read, which would race with threads).
    """
    while True:
        path = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            return os.open(path, flags, 0o666), path
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue


def sync_directory(folder):
    """Flushes a folder's entries (a rename in it) to disk; a no-op where unsupported."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. Windows cannot open folders; its renames are journaled.
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # Some file systems refuse fsync on folders.
    finally:
        os.close(descriptor)


def atomic_write(path, write, binary=True):
    """Calls `write(stream)` on a temporary file beside `path`, then renames it.

    Args:
        path: Destination file.
        write: Function that writes the content to an open stream.
        binary: Open the temporary file in binary (default) or text mode.

    Returns:
        `path`.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = _create_temporary(folder, os.path.basename(path))
    try:
        with os.fdopen(
            handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
        ) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        sync_directory(folder)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def atomic_write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    return atomic_write(path, lambda stream: stream.write(text), binary=False)


def atomic_write_json(path, value):
    """Writes `value` as indented, key-sorted, standard JSON (no NaN/inf) atomically."""
    return atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, allow_nan=False))


def atomic_copy(source, path):
    """Copies the file `source` to `path` atomically."""
    with open(source, "rb") as stream:
        content = stream.read()
    return atomic_write(path, lambda out: out.write(content))


def atomic_save_model(model, path):
    """Saves a Keras model to a `.keras` file atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # Keras insists on the ".keras" suffix, so the temporary name keeps it.
    temporary = os.path.join(folder, f".tmp-{os.getpid()}-{uuid.uuid4().hex}.keras")
    try:
        model.save(temporary)
        with open(temporary, "rb+") as stream:  # Keras does not sync what it writes.
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        sync_directory(folder)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path
