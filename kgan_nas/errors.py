"""The exceptions kgan_nas raises for conditions a user can act on (pure Python).

Each message says what is wrong and how to fix it. They live here, apart from
the modules that raise them, so that any module can raise one without
importing another's machinery; each is also re-exported where users meet it
(`kgan_nas.core.space.InvalidGenomeError`, `kgan_nas.store.run_dir.RunDirectoryError`, ...).
"""


class InvalidGenomeError(ValueError):
    """Raised when a genome cannot be repaired into a valid one."""


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked (the message says why and what to do)."""


class RunDirectoryInUse(RunDirectoryError):
    """Another live process holds the run directory's lock (the message names it)."""


class DatasetDownloadError(RuntimeError):
    """A named dataset needs a download and the machine is offline (the message names
    the offline datasets and how to bring the data in by hand)."""


class RepeatedFailureError(RuntimeError):
    """Candidate after candidate failed the same way: a set-up problem, not bad genomes."""


class WorkerStartError(RuntimeError):
    """Raised when workers cannot start at all (a set-up problem, not a candidate's)."""


# The errors that report a mistake in the user's input or set-up, as opposed to
# a bug: the console prints their message alone, without a traceback.
# `RepeatedFailureError` and `WorkerStartError` are `RuntimeError`s whose
# messages say what to fix; every other `RuntimeError` is a bug.
USER_ERRORS = (
    ValueError,
    TypeError,
    ImportError,
    RunDirectoryError,
    DatasetDownloadError,
    RepeatedFailureError,
    WorkerStartError,
)


def warn(message, category=UserWarning):
    """Issues a warning attributed to the user's line: the first caller outside kgan_nas.

    Python prints a warning with the file, line and source of the frame it
    names; a warning raised deep inside kgan_nas would show kgan_nas's own
    code. Every warning of the package goes through here, so it points at
    the call the user wrote (`kgan_nas.search(...)`, `load_dataset(...)`).

    Args:
        message: The warning's text, in the project's words (what is wrong and
            the fix in the interface in use).
        category: The warning class.
    """
    import os
    import sys
    import warnings

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
