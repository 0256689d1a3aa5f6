"""TensorFlow's and CUDA's start-up log lines: hidden unless the user asks for them.

TensorFlow's C++ libraries log start-up lines (`I0000 ... oneDNN custom
operations are on`, `... Could not find cuda drivers`, `E0000 ... failed call
to cuInit: UNKNOWN ERROR (303)` on a machine without a GPU) that read like
failures. `quiet_libraries` hides them for `kgan-nas` and for
`kgan_nas.search` / `resume` / `finalize` in a user's script, unless the user
sets `TF_CPP_MIN_LOG_LEVEL` (or passes `--library-logs` on the command line).

Tried in this project's environment (TensorFlow 2.21), the only variable that
silences any of them is `TF_CPP_MIN_LOG_LEVEL=3` (the `E0000 ... cuInit` and
CPU-feature lines). The lines logged while TensorFlow's shared libraries load
come before absl reads any setting: neither `TF_CPP_MIN_LOG_LEVEL`,
`GLOG_minloglevel`, `ABSL_MIN_LOG_LEVEL` nor `GRPC_VERBOSITY` hides them, and
`TF_ENABLE_ONEDNN_OPTS=0` would change the computation, not just the message.
So while `tensorflow` is imported, file descriptor 2 is captured and every
line is written back except the log lines below the minimum level. Worker
processes set their own level and write to the run's `logs/`.
"""

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# 3 hides TensorFlow's INFO, WARNING and ERROR lines; FATAL ones still show.
QUIET_LOG_LEVEL = "3"
# A glog/absl line: `I0000 00:00:1796035882.707450   32493 port.cc:153] ...`.
# (absl writes Unix seconds where glog writes the seconds of the minute.)
_LOG_LINE = re.compile(rb"^([IWE])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_LOG_LEVELS = {b"I": 0, b"W": 1, b"E": 2}
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"


def quiet_libraries():
    """Hides TensorFlow's start-up log lines for the rest of this process.

    Sets `TF_CPP_MIN_LOG_LEVEL=3` and TensorFlow's Python logger to errors
    only, unless the variable is set already (the user's value wins), and,
    if TensorFlow is not imported yet, filters the lines logged while it
    loads by the same level. Call it before anything imports
    TensorFlow; calling it again does nothing more. Worker processes are not
    affected: their executors set their own level and write to `<run>/logs/`.
    """
    if LOG_LEVEL_VARIABLE not in os.environ:
        os.environ[LOG_LEVEL_VARIABLE] = QUIET_LOG_LEVEL
        # TensorFlow's Python logger too (`WARNING:tensorflow:... triggered
        # tf.function retracing`, which each new candidate's step provokes). A
        # filter, not a level: TensorFlow resets the level in interactive sessions.
        logging.getLogger("tensorflow").addFilter(_ERRORS_ONLY)
    if "tensorflow" in sys.modules or any(
        isinstance(finder, _QuietImport) for finder in sys.meta_path
    ):
        return
    sys.meta_path.insert(0, _QuietImport("tensorflow"))


class _ErrorsOnly(logging.Filter):
    """Lets only ERROR and CRITICAL records of the logger it is added to through."""

    def filter(self, record):
        return record.levelno >= logging.ERROR


_ERRORS_ONLY = _ErrorsOnly()


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
