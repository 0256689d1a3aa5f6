"""How `kgan-nas` reports an exception: a user's mistake, a full disk, or a bug.

A mistake in the input (or a refusal by the OS) is one line on stderr and exit
code 2; a full disk is one line saying so, naming the file and how to resume; a
bug (any other exception) prints its traceback and a line saying it is an
internal error, with exit code 1. `--debug` lets every exception propagate.
Each command's work is replaced here by a function that raises, so nothing trains.
"""

import errno
import os
import subprocess
import sys

import pytest

from kgan_nas.cli import commands as cli
from kgan_nas.executors import WorkerStartError
from kgan_nas.store.run_dir import RunDirectoryError

DEBUG_HINT = "(add --debug for the traceback)"
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _raise_from_report(monkeypatch, exc):
    """Makes `kgan-nas report` raise `exc` from inside its handler."""

    def report_that_raises(args):
        raise exc

    monkeypatch.setattr(cli, "_report", report_that_raises)


def _raise_from_search(monkeypatch, exc):
    """Makes `kgan_nas.search` and the resume of a stored run, as `kgan-nas search`
    and `kgan-nas resume` call them, raise `exc`."""

    def search_that_raises(*args, **kwargs):
        raise exc

    monkeypatch.setattr(cli.search_api, "search", search_that_raises)
    monkeypatch.setattr(cli.search_api, "resume", search_that_raises)


def _stderr_lines(capsys):
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.strip().splitlines()


# ----------------------------------------------------------------------------
# Bugs: the traceback and an internal-error line, exit code 1
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("fitness"),
        AttributeError("'NoneType' object has no attribute 'summary'"),
        RuntimeError("an invariant of the driver broke"),
        ZeroDivisionError("division by zero"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_internal_error_prints_the_traceback_and_exits_1(exc, monkeypatch, capsys):
    """An exception that is no user mistake is a bug: its traceback (down to the frame
    that raised it) and then one line naming it an internal error to report."""
    _raise_from_report(monkeypatch, exc)
    assert cli.main(["report", "some/run"]) == 1
    lines = _stderr_lines(capsys)
    assert lines[0] == "Traceback (most recent call last):"
    assert any("in report_that_raises" in line for line in lines)
    assert f"{type(exc).__name__}: " in lines[-2]
    last = lines[-1]
    assert last.startswith(f"kgan-nas report: internal error: {type(exc).__name__}: ")
    assert "bug in kgan_nas" in last and "report it with the traceback" in last
    assert DEBUG_HINT not in last  # the traceback is already there


def test_plain_runtime_error_from_search_is_internal(monkeypatch, capsys):
    """Only WorkerStartError among RuntimeErrors is a set-up problem; another one
    raised inside `search` is reported as a bug."""
    _raise_from_search(monkeypatch, RuntimeError("queue drained twice"))
    assert cli.main(["search", "--directory", "unused"]) == 1
    lines = _stderr_lines(capsys)
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1].startswith("kgan-nas search: internal error: RuntimeError: queue drained")


# ----------------------------------------------------------------------------
# A full disk: one line naming the file and the way to resume, exit code 2
# ----------------------------------------------------------------------------

DISK_FULL_ERRNOS = [errno.ENOSPC] + ([errno.EDQUOT] if hasattr(errno, "EDQUOT") else [])


@pytest.mark.parametrize("code", DISK_FULL_ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize("command", ["search", "resume"])
def test_full_disk_during_a_search_says_so_and_how_to_resume(code, command, monkeypatch, capsys):
    """ENOSPC (or EDQUOT) names the file that could not be written and says that
    running the same command again resumes; no traceback."""
    _raise_from_search(monkeypatch, OSError(code, os.strerror(code), "/some/file"))
    argv = ["search", "--directory", "unused"] if command == "search" else ["resume", "unused"]
    assert cli.main(argv) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"kgan-nas {command}: error: the disk is full")
    assert "while writing /some/file" in line
    assert "run the same command again: the run resumes" in line
    assert "Traceback" not in line and DEBUG_HINT not in line


def test_full_disk_outside_a_search_names_no_resume(monkeypatch, capsys):
    """For `report` (nothing to resume) the line still says the disk is full; an
    exception without a file name gives no path."""
    _raise_from_report(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    assert cli.main(["report", "some/run"]) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith("kgan-nas report: error: the disk is full (No space left on device)")
    assert "while writing" not in lines[0] and "resumes" not in lines[0]


# ----------------------------------------------------------------------------
# User mistakes and OS refusals: one line with the --debug hint, exit code 2
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("population must be at least 2, got 1."),
        TypeError("space must be a kgan_nas.SearchSpace, got a dict."),
        ImportError("executor='ray' needs Ray: pip install \"kgan_nas[distributed]\"."),
        RunDirectoryError("'x' is not a kgan_nas run directory."),
        WorkerStartError("3 worker processes in a row died while starting."),
        PermissionError(errno.EACCES, "Permission denied", "/runs/locked"),
        FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/missing.npz"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_user_error_is_one_line_with_the_debug_hint(exc, monkeypatch, capsys):
    """The message itself, on one line, ending with how to see the traceback."""
    _raise_from_search(monkeypatch, exc)
    assert cli.main(["search", "--directory", "unused"]) == 2
    lines = _stderr_lines(capsys)
    assert lines == [f"kgan-nas search: error: {exc} {DEBUG_HINT}"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "report", "some/run"],
        ["report", "some/run", "--debug"],
    ],
    ids=["before the command", "after the command"],
)
def test_debug_lets_the_exception_propagate(argv, monkeypatch, capsys):
    """With --debug (on either side of the command) a user error, a bug and Ctrl-C
    all propagate unchanged, so Python prints their tracebacks."""
    for exc in (ValueError("bad input"), KeyError("bug"), KeyboardInterrupt()):
        _raise_from_report(monkeypatch, exc)
        with pytest.raises(type(exc)) as raised:
            cli.main(argv)
        assert raised.value is exc
    assert capsys.readouterr().err == ""  # nothing printed in its place


def test_debug_leaves_argument_errors_to_the_parser(capsys):
    """--debug does not change how the parser rejects a bad argument: one `error:`
    line pointing to --help, and exit code 2."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--debug", "search", "--population", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("kgan-nas search: error: ") and len(err.strip().splitlines()) == 1
    assert "argument --population: expected a positive integer" in err


def test_help_lists_debug(capsys):
    """`--debug` shows in the top-level and the commands' help."""
    for argv in (["--help"], ["search", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert "--debug" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# The real entry point, in a process of its own
# ----------------------------------------------------------------------------


def _kgan_nas(*args, cwd):
    environment = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [REPOSITORY, os.environ.get("PYTHONPATH")])),
    )
    return subprocess.run(
        [sys.executable, "-m", "kgan_nas.cli.commands", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
    )


def test_cli_process_reports_a_wrong_directory_in_one_line(tmp_path):
    """`kgan-nas report` on a folder that is not a run: exit code 2 and one stderr line;
    with --debug, the traceback ending in the same error."""
    not_a_run = tmp_path / "not_a_run"
    result = _kgan_nas("report", str(not_a_run), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kgan-nas report: error: ")
    assert "does not exist" in lines[0] and lines[0].endswith(DEBUG_HINT)
    assert result.stdout == ""
    assert not not_a_run.exists()

    debug = _kgan_nas("--debug", "report", str(not_a_run), cwd=tmp_path)
    assert debug.returncode == 1, debug.stderr  # Python's code for an uncaught exception
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.strip().splitlines()[-1].startswith("kgan_nas.errors.RunDirectoryError: ")


def test_repeated_failures_are_one_line_not_an_internal_error(monkeypatch, capsys):
    """A search stopped by a streak of identical failures is a set-up problem with a
    message that says how to debug: one line, exit code 2, no traceback."""
    from kgan_nas.errors import RepeatedFailureError

    def stop(*args, **kwargs):
        raise RepeatedFailureError("3 candidates in a row failed the same way")

    monkeypatch.setattr(cli.search_api, "search", stop)
    assert cli.main(["search", "--directory", "unused"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert "3 candidates in a row failed" in err
