"""One process per run directory: an advisory lock file, `<run>/.lock`.

The lock is an `fcntl.flock` on the file, so the kernel releases it the moment
its holder dies (even by SIGKILL): a lock left by a killed search is stale by
construction and the next search takes it over. The file also records who holds
it (pid, host, command, start time), so a refused search can say which process
is using the directory.
"""

import errno
import json
import os
import socket
import stat
import sys
import time

from kgan_nas.errors import RunDirectoryError
from kgan_nas.errors import RunDirectoryInUse

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; the run is not guarded.
    fcntl = None

LOCK_FILE = ".lock"


class RunLock:
    """The lock of one run directory, held by this process.

    Args:
        directory: The run directory (must exist).
    """

    def __init__(self, directory):
        self.path = os.path.join(os.fspath(directory), LOCK_FILE)
        self._descriptor = None

    @property
    def held(self):
        return self._descriptor is not None

    def acquire(self):
        """Takes the lock, or fails at once if a live process holds it.

        Raises:
            RunDirectoryInUse: naming the process that holds the lock.
        """
        if self.held or fcntl is None:
            return self
        descriptor = _open_lock_file(self.path)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise RunDirectoryInUse(
                f"The run directory {os.path.dirname(self.path)!r} is in use by "
                f"{_describe(holder)}. Two searches in one directory would overwrite each "
                "other's files: wait for that one to finish, stop it (it can be resumed), "
                "or choose another directory."
            ) from None
        try:
            _write_holder(descriptor)
        except BaseException:  # e.g. a full disk: do not keep holding the lock
            os.close(descriptor)
            raise
        self._descriptor = descriptor
        return self

    def release(self):
        """Releases the lock (the file stays; it is empty of meaning once unlocked)."""
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _open_lock_file(path):
    """Opens (creating) the lock file; never through a symbolic link.

    A link planted as `.lock` would otherwise make the holder record overwrite
    the file it points to, outside the run directory.

    Raises:
        RunDirectoryError: if `.lock` is a link or not a regular file.
    """
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise RunDirectoryError(
            f"{path} is a symbolic link; kgan_nas never writes through links in a run "
            "directory. Delete it (it only marks which process uses the run) and try again."
        ) from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise RunDirectoryError(f"{path} is not a regular file; delete it and try again.")
    return descriptor


def _write_holder(descriptor):
    """Records who holds the lock (pid, host, command, start time) in the lock file."""
    # Close-on-exec (Python's default) keeps worker processes from holding it.
    os.ftruncate(descriptor, 0)
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join(sys.argv)[:500],
        "started": time.time(),
    }
    os.write(descriptor, json.dumps(holder).encode())
    os.fsync(descriptor)


def _read_holder(descriptor):
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        return json.loads(os.read(descriptor, 4096).decode("utf-8"))
    except (OSError, ValueError):
        return {}


def _describe(holder):
    if not isinstance(holder, dict) or "pid" not in holder:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return (
        f"process {holder['pid']} on {holder.get('host', '?')} (started {started}: "
        f"{holder.get('command') or '?'})"
    )
