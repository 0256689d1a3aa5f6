"""The exceptions kgan_nas raises for conditions a user can act on (pure Python).

Each message says what is wrong and how to fix it. They live here, apart from
the modules that raise them, so that any module can raise one without
importing another's machinery; each is also re-exported where users meet it
(`kgan_nas.space.InvalidGenomeError`, `kgan_nas.run.RunDirectoryError`, ...).
"""


class InvalidGenomeError(ValueError):
    """Raised when a genome cannot be repaired into a valid one."""


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked (the message says why and what to do)."""


class RunDirectoryInUse(RunDirectoryError):
    """Another live process holds the run directory's lock (the message names it)."""
