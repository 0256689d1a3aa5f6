"""What `kgan-nas` shows besides its results: errors, library noise, closed pipes.

`report_error` and `report_interrupt` turn an exception from a command into
a message and an exit code: one line for a mistake the user can fix, the
traceback for a bug. `add_console_flags` adds `--debug` and `--verbose`,
which choose between the two and whether library noise shows.

TensorFlow's C++ libraries log start-up lines (`I0000 ... oneDNN custom
operations are on`, `... Could not find cuda drivers`, `E0000 ... failed call
to cuInit: UNKNOWN ERROR (303)` on a machine without a GPU) that read like
failures. `quiet_libraries` hides them for the command line, unless the user
asks to see them (`--verbose`, `--debug`) or sets `TF_CPP_MIN_LOG_LEVEL`.

Tried in this project's environment (TensorFlow 2.21), the only variable that
silences any of them is `TF_CPP_MIN_LOG_LEVEL=3` (the `E0000 ... cuInit` and
CPU-feature lines). The lines logged while TensorFlow's shared libraries load
come before absl reads any setting: neither `TF_CPP_MIN_LOG_LEVEL`,
`GLOG_minloglevel`, `ABSL_MIN_LOG_LEVEL` nor `GRPC_VERBOSITY` hides them, and
`TF_ENABLE_ONEDNN_OPTS=0` would change the computation, not just the message.
So while `tensorflow` is imported, file descriptor 2 is captured and every
line is written back except the log lines below the minimum level.

`tolerate_closed_stdout` is for a reader that went away (`kgan-nas report
DIR | head -1`): output is sent to the null device as the Python
documentation recommends ("Note on SIGPIPE" in the `signal` module's
documentation), and the command finishes its work quietly.
"""

import argparse
import contextlib
import errno
import importlib.abc
import importlib.machinery
import os
import re
import select
import sys
import tempfile
import traceback

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# 3 hides TensorFlow's INFO, WARNING and ERROR lines; FATAL ones still show.
QUIET_LOG_LEVEL = "3"
# A glog/absl line: `I0000 00:00:1796035882.707450   32493 port.cc:153] ...`.
# (absl writes Unix seconds where glog writes the seconds of the minute.)
_LOG_LINE = re.compile(rb"^([IWE])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_LOG_LEVELS = {b"I": 0, b"W": 1, b"E": 2}
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"

_DEBUG_HELP = "on any error, show the full traceback instead of a one-line message"
_DEBUG_HINT = "(add --debug for the traceback)"
# A full disk (or an exhausted quota) is not a mistake in the input: it gets its own line.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# Commands whose run directory keeps completed candidates, so running them again resumes.
_RESUMABLE_COMMANDS = ("search", "resume", "finalize")


def quiet_libraries():
    """Hides TensorFlow's start-up log lines for the rest of this process.

    Sets `TF_CPP_MIN_LOG_LEVEL=3` unless it is set already (the user's value
    wins), and, if TensorFlow is not imported yet, filters the lines logged
    while it loads by the same level. Call it before anything imports
    TensorFlow; calling it again does nothing more. Worker processes are not
    affected: their executors set their own level and write to `<run>/logs/`.
    """
    os.environ.setdefault(LOG_LEVEL_VARIABLE, QUIET_LOG_LEVEL)
    if "tensorflow" in sys.modules or any(
        isinstance(finder, _QuietImport) for finder in sys.meta_path
    ):
        return
    sys.meta_path.insert(0, _QuietImport("tensorflow"))


def add_console_flags(parser, verbose_help, command_level=True):
    """Adds `--debug` and `--verbose`, the flags that choose what the console shows.

    They are accepted before the command and after it: the top-level parser
    gives them a default, a command's parser none, since a default there would
    overwrite the value of `kgan-nas --debug COMMAND` when the command's
    parser fills in the namespace.

    Args:
        parser: An `argparse` parser or argument group.
        verbose_help: `--verbose`'s help text (what it shows for this command).
        command_level: False for the top-level parser.
    """
    default = argparse.SUPPRESS if command_level else False
    parser.add_argument("--debug", action="store_true", default=default, help=_DEBUG_HELP)
    parser.add_argument("--verbose", action="store_true", default=default, help=verbose_help)


def is_library_noise(line, min_level):
    """Whether a line written to stderr is a library log line below `min_level`.

    Args:
        line: One line, as bytes.
        min_level: `TF_CPP_MIN_LOG_LEVEL`'s meaning: 1 hides INFO lines, 2
            also WARNING lines, 3 also ERROR lines.

    Returns:
        True for a glog/absl-formatted line whose level is below `min_level`,
        and for absl's "before absl::InitializeLog()" preamble once warnings
        are hidden; False for everything else (Python's own output included).
    """
    match = _LOG_LINE.match(line)
    if match:
        return _LOG_LEVELS[match.group(1)] < min_level
    return line.startswith(_ABSL_PREAMBLE) and min_level >= 2


def _min_log_level():
    try:
        return int(os.environ.get(LOG_LEVEL_VARIABLE, "0"))
    except ValueError:
        return 0


@contextlib.contextmanager
def _stderr_without_noise():
    """Captures file descriptor 2 and writes it back without the library noise.

    Works on the descriptor, not `sys.stderr`, because the lines come from C++.
    Nothing else is lost: every other line is written back when the block ends,
    also when it raises.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):
        # No usable stderr (closed, or replaced by an object without one): nothing to filter.
        yield
        return
    min_level = _min_log_level()
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = b"".join(line for line in captured if not is_library_noise(line, min_level))
            if kept:
                os.write(2, kept)


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader's `exec_module` inside `_stderr_without_noise`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_without_noise():
            self._loader.exec_module(module)
        # Once loaded, the module shows its own loader, as if imported plainly.
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader

    def __getattr__(self, name):
        # is_package, get_filename, get_resource_reader...: the wrapped loader's.
        return getattr(self._loader, name)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds one top-level package as usual and loads it with the noise filtered.

    Removes itself on first use: only the first import loads the libraries.
    """

    def __init__(self, package):
        self.package = package

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.package:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def stdout_closed():
    """Whether standard output is a pipe whose reader has gone (`| head` finished).

    Returns:
        True if writing to standard output can only fail with `EPIPE`; False
        for a terminal, a file, an open pipe, or a stream without a descriptor.
    """
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if hasattr(select, "poll"):
        # The writing end of a pipe without readers polls as an error (Linux, macOS).
        poller = select.poll()
        poller.register(descriptor, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    return False


def discard_stdout():
    """Points standard output's descriptor at the null device.

    What is still to be written (Python's final flush at exit included) then
    goes nowhere instead of failing again with a `BrokenPipeError` message.
    """
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, sys.stdout.fileno())
    finally:
        os.close(null)


class _ClosedPipeTolerantStream:
    """Standard output that, once its reader has gone, discards what is written."""

    def __init__(self, stream):
        self._stream = stream

    def _attempt(self, write, *args):
        try:
            return write(*args)
        except BrokenPipeError:
            if not stdout_closed():
                raise
            discard_stdout()
            return write(*args)  # now into the null device

    def write(self, text):
        return self._attempt(self._stream.write, text)

    def flush(self):
        return self._attempt(self._stream.flush)

    def __getattr__(self, name):
        # isatty, fileno, encoding...: the real stream's.
        return getattr(self._stream, name)


@contextlib.contextmanager
def tolerate_closed_stdout():
    """Lets a command finish when the reader of its output goes away.

    `kgan-nas report DIR | head -1`: `head` exits after one line, and every
    later write to standard output would raise `BrokenPipeError`, stopping
    the command half-way (at once when Python runs unbuffered). Inside this
    block such a write is redirected to the null device instead, as the
    Python documentation recommends, and the command goes on: the report
    is still written, a search still finishes. Any other `BrokenPipeError`
    (a worker's pipe) is raised as usual.
    """
    original = sys.stdout
    if original is None:
        yield
        return
    sys.stdout = _ClosedPipeTolerantStream(original)
    try:
        yield
    finally:
        if isinstance(sys.stdout, _ClosedPipeTolerantStream):
            sys.stdout = original


def _user_error_types():
    """The exception types that report a mistake in the user's input or set-up.

    `WorkerStartError` and `RepeatedFailureError` are `RuntimeError`s whose
    messages say what to fix; every other `RuntimeError` is a bug. Their modules
    are imported only here, when an error is being reported, so that
    `kgan-nas --help` does not pay for them.
    """
    from kgan_nas.run import RunDirectoryError  # a ValueError: listed for the reader

    user_errors = [ValueError, TypeError, ImportError, RunDirectoryError]
    try:
        from kgan_nas.executors import WorkerStartError
    except ImportError:
        # A broken import here must not hide the error being reported; and a
        # WorkerStartError cannot have been raised if its module cannot be imported.
        pass
    else:
        user_errors.append(WorkerStartError)
    from kgan_nas.search_loop import RepeatedFailureError

    user_errors.append(RepeatedFailureError)
    return tuple(user_errors)


def _disk_full_message(exc, command):
    """The line for an `OSError` saying the disk (or the quota) is full."""
    where = f" while writing {exc.filename}" if exc.filename else ""
    message = f"the disk is full ({exc.strerror or exc}){where}. Free some space"
    if command in _RESUMABLE_COMMANDS:
        return (
            f"{message} and run the same command again: the run resumes "
            "(completed candidates are kept)."
        )
    return f"{message} and run the same command again."


def report_error(exc, command):
    """Prints what went wrong for an exception from a command; returns the exit code.

    A mistake in the input or the environment is one line ending with a hint
    at `--debug`; a full disk one line naming the file (and, for a search,
    that running it again resumes); anything else is a bug of kgan_nas: its
    traceback and a line saying so.

    Args:
        exc: The exception the command raised (not a `KeyboardInterrupt`).
        command: The command's name, e.g. `"search"`.

    Returns:
        2 for a mistake in the input or the environment (a full disk included),
        1 for an internal error of kgan_nas.
    """
    prefix = f"kgan-nas {command}: error:"
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        # No traceback and no --debug hint: nothing in it would help free space.
        print(f"{prefix} {_disk_full_message(exc, command)}", file=sys.stderr)
        return 2
    if isinstance(exc, _user_error_types() + (OSError,)):
        # Each of these messages says what is wrong and how to fix it; a traceback from
        # deep inside would only bury it.
        print(f"{prefix} {str(exc) or type(exc).__name__} {_DEBUG_HINT}", file=sys.stderr)
        return 2
    # Anything else (AttributeError, KeyError, a plain RuntimeError...) is a bug:
    # hiding its traceback would hide where it is.
    traceback.print_exception(exc, file=sys.stderr)
    print(
        f"kgan-nas {command}: internal error: {type(exc).__name__}: {exc}. This is a "
        "bug in kgan_nas, not a mistake in your input; please report it with the "
        "traceback above.",
        file=sys.stderr,
    )
    return 1


def report_interrupt(command):
    """Prints that `command` was interrupted (Ctrl-C, SIGTERM); returns 130.

    Args:
        command: The command's name, e.g. `"search"`.

    Returns:
        130, the shell's code for a process stopped by SIGINT.
    """
    hint = (
        "; run the same command again to resume (completed candidates are kept)"
        if command in _RESUMABLE_COMMANDS
        else ""
    )
    print(f"kgan-nas {command}: interrupted{hint}.", file=sys.stderr)
    return 130
