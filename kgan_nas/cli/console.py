"""What `kgan-nas` shows besides its results: errors, library noise, closed pipes.

`report_error` and `report_interrupt` turn an exception from a command into
a message and an exit code: one line for a mistake the user can fix, the
traceback for a bug. `add_console_flags` adds `--debug` and `--verbose`,
which choose between the two and whether library noise shows.

TensorFlow's start-up log lines are hidden by
`kgan_nas.hooks.library_logs.quiet_libraries`, here for the command line as
`kgan_nas.search` does for Python, unless the user asks to see them.

`tolerate_closed_stdout` is for a reader that went away (`kgan-nas report
DIR | head -1`): output is sent to the null device as the Python
documentation recommends ("Note on SIGPIPE" in the `signal` module's
documentation), and the command finishes its work quietly.
"""

import argparse
import contextlib
import errno
import os
import select
import sys
import traceback

from kgan_nas.hooks.library_logs import LOG_LEVEL_VARIABLE  # noqa: F401
from kgan_nas.hooks.library_logs import QUIET_LOG_LEVEL  # noqa: F401
from kgan_nas.hooks.library_logs import quiet_libraries  # noqa: F401

_DEBUG_HELP = "on any error, show the full traceback instead of a one-line message"
_DEBUG_HINT = "(add --debug for the traceback)"
# A full disk (or an exhausted quota) is not a mistake in the input: it gets its own line.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# Commands whose run directory keeps completed candidates, so running them again resumes.
_RESUMABLE_COMMANDS = ("search", "resume", "finalize")


_LIBRARY_LOGS_HELP = (
    "show TensorFlow's and CUDA's start-up messages (hidden otherwise; they read like "
    "failures but are not)"
)


def add_console_flags(parser, verbose_help, command_level=True):
    """Adds `--debug`, `--verbose` and `--library-logs`, the flags that choose what shows.

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
    parser.add_argument(
        "--library-logs", action="store_true", default=default, help=_LIBRARY_LOGS_HELP
    )


def shows_library_logs(args):
    """Whether the command's console shows the libraries' start-up messages.

    `--library-logs` and `--debug` show them; so does `--verbose` on commands
    other than search and resume, where it meant that before `--library-logs`
    existed (on search and resume, `--verbose` is a line per candidate).
    """
    if getattr(args, "library_logs", False) or getattr(args, "debug", False):
        return True
    return bool(getattr(args, "verbose", False)) and args.command not in ("search", "resume")


def one_line_warnings(command):
    """Shows each warning as one line, `kgan-nas COMMAND: warning: ...`, for the rest
    of the process.

    Python prints a warning with the file, line and source line it names, which
    on the command line is noise around the message; the message already says
    what to do.
    """
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        stream = file if file is not None else sys.stderr
        try:
            stream.write(f"kgan-nas {command}: warning: {message}\n")
        except (AttributeError, OSError, ValueError):
            pass  # no usable stderr: nothing to show it on

    warnings.showwarning = show


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
    """The exception types that report a mistake in the user's input or set-up
    (`kgan_nas.errors.USER_ERRORS`)."""
    from kgan_nas.errors import USER_ERRORS

    return USER_ERRORS


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
