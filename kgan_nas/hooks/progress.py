"""`ProgressPrinter`: what `kgan_nas.search(verbose=1 or 2)` prints.

What fits the output: on a terminal, `verbose=1` redraws one status line per
generation in place (`\\r`); anywhere else (a log file, a pipe, captured
output) it writes plain lines only, with no `\\r`, `\\b` or colour codes: one
per candidate and one per generation. `verbose=2` writes the plain lines
everywhere. Values carry the metric's full name (`fid_domain`, as in the
result table) and counts print as integers.
"""

import math
import re
import shutil
import sys
import time

from kgan_nas.config import STRATEGY_NAMES
from kgan_nas.core.genome import Genome
from kgan_nas.core.objectives import METRICS
from kgan_nas.core.objectives import parse_metric
from kgan_nas.hooks.base import SearchCallback

# CSI sequences (colours, cursor moves) that a failure reason may carry from a
# library's own output; stripped so that a log line stays plain text.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_REASON_CHARS = 80
_BAR_CELLS = 10


def format_seconds(seconds):
    """Elapsed time for people: `"3m07s"`, `"1h02m09s"`.

    Args:
        seconds: A non-negative number of seconds.

    Returns:
        The text.
    """
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{seconds:02d}s"
    return f"{minutes}m{seconds:02d}s"


def format_value(value):
    """A metric value for people: integers as integers, else four significant digits.

    Values from 1000 on print as whole numbers (`"1235"`, not `"1.235e+03"`);
    a missing or non-finite value prints as `"n/a"`.

    Args:
        value: A number or None.

    Returns:
        The text.
    """
    if value is None or isinstance(value, bool):
        return "n/a"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def _one_line(text, limit=_REASON_CHARS):
    """`text` as one short plain line: no escapes, control characters or newlines."""
    text = _ANSI_ESCAPE.sub("", str(text))
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class ProgressPrinter(SearchCallback):
    """Prints a search's progress; `kgan_nas.search(verbose=1 or 2)` adds one.

    With `verbose=1` on a terminal, one status line per generation redrawn
    in place (candidates done, failed, the best value so far, elapsed time),
    and a line for each failed candidate with its reason. With `verbose=1`
    anywhere else, or with `verbose=2`, plain lines only: one per candidate
    (key, metric value or status and reason, its time and the elapsed time;
    `verbose=2` adds the genome). Both print where the run is, a summary
    line after each generation and the total at the end.

    Args:
        verbose: 1 or 2. Defaults to 1.
        stream: Where to write, a text stream. Defaults to `sys.stdout` at
            the time of writing. Whether it is a terminal
            (`stream.isatty()`) decides between the live line and plain
            lines.

    Raises:
        ValueError: for another `verbose`.
    """

    def __init__(self, verbose=1, stream=None):
        if verbose not in (1, 2):
            raise ValueError(f"ProgressPrinter: verbose must be 1 or 2, got {verbose!r}.")
        self.verbose = verbose
        self._stream = stream
        self._started = time.monotonic()
        self._metric = "objective"
        self._objective = None  # the metric's `Objective`, to turn values back for display
        self._generations = None
        self._generation = 0
        self._live = False
        self._drawn = 0  # characters of the live line on screen now
        self._total = self._count = self._failed = 0
        self._best = math.inf

    @property
    def stream(self):
        """The text stream written to (`sys.stdout` unless one was given)."""
        return self._stream if self._stream is not None else sys.stdout

    def on_search_begin(self, logs=None):
        logs = logs or {}
        self._started = time.monotonic()
        metric = logs.get("metric")
        if metric in METRICS:
            self._metric, self._objective = metric, parse_metric(metric)[0]
        elif logs.get("objectives"):
            self._metric = str(logs["objectives"][0])
        self._generations = logs.get("generations")
        if logs.get("directory"):
            verb = "Resuming" if logs.get("resumed") else "Starting"
            # Say which strategy, as a preset may choose it (config.PRESET_STRATEGIES).
            strategy = logs.get("strategy")
            kind = STRATEGY_NAMES.get(strategy, strategy)  # a custom one by its class
            self._line(f"{verb} {kind + ' ' if kind else ''}search in {logs['directory']}")
        for line in logs.get("budget") or ():
            self._line(line)

    def on_generation_begin(self, generation, logs=None):
        logs = logs or {}
        self._generation = generation
        # A multi-fidelity generation records some candidates once per rung.
        self._total = int(logs.get("evaluations") or len(logs.get("genomes", ())))
        self._count = int(logs.get("evaluated", 0))
        self._failed = 0
        self._best = logs.get("best_so_far", math.inf)
        self._live = self.verbose == 1 and _is_terminal(self.stream)
        if self._live:
            self._draw()
        elif self._count:
            self._line(
                f"{self._generation_name()}: {self._count} of {self._total} candidates "
                "already scored; continuing"
            )

    def on_candidate_end(self, record):
        self._count += 1
        objective = record.get("objective")
        failed = record.get("status") != "ok" or objective is None
        if failed:
            self._failed += 1
        elif objective < self._best:
            self._best = objective
        if not self._live:
            self._line(self._candidate_line(record, failed))
            return
        if failed:  # a failure's reason would be lost in the redrawn line
            self._clear()
            self._line(self._candidate_line(record, failed))
        self._draw()

    def on_generation_end(self, generation, logs=None):
        logs = logs or {}
        self._clear()
        so_far = self._value(logs.get("best_so_far"))
        if math.isfinite(logs.get("best", math.inf)):
            scores = (
                f"best {self._metric} {self._value(logs['best'])} (so far {so_far}), "
                f"median {self._value(logs.get('median'))}"
            )
        else:
            scores = f"no candidate scored (best {self._metric} so far {so_far})"
        self._line(
            f"{self._generation_name(generation)}: {scores}, "
            f"failed {int(logs.get('failed', self._failed))}/{self._total}, "
            f"elapsed {format_seconds(self._elapsed())}"
        )

    def on_search_end(self, result):
        self._clear()
        history = list(getattr(result, "history", None) or [])
        failed = sum(record.get("status") != "ok" for record in history)
        # A multi-fidelity search records a candidate once per rung it reached.
        candidates = len({(r.get("generation"), r.get("key")) for r in history})
        evaluations = f" in {len(history)} evaluations" if candidates != len(history) else ""
        text = f"Done: {candidates} candidates{evaluations} ({failed} failed) in "
        text += format_seconds(self._elapsed())
        best = getattr(result, "best_record", None)
        if best:
            text += f", search's best {self._metric}={self._record_value(best)} ({best['key']})"
            text += _final_choice(result)
        self._line(f"{text}; results in {result.directory}")
        if best:
            directory = result.directory
            self._line(
                f"Next: kgan-nas report {directory} (plots and {directory}/report.html), "
                f"kgan-nas sample {directory} (a grid of images); in Python, "
                "result.sample(16) and result.best_generator()"
            )

    def _generation_name(self, generation=None):
        number = self._generation if generation is None else generation
        if self._generations:
            return f"Generation {number}/{self._generations}"
        return f"Generation {number}"

    def _candidate_line(self, record, failed):
        if failed:
            reason = _one_line(record.get("reason") or "")
            outcome = f"{record.get('status')}: {reason}" if reason else str(record.get("status"))
        else:
            outcome = f"{self._metric}={self._record_value(record)}"
        seconds = ((record.get("fitness") or {}).get("seconds") or {}).get("total")
        took = f"{seconds:.1f}s, " if isinstance(seconds, (int, float)) else ""
        rung = f" rung {record['rung']}" if record.get("rung") is not None else ""
        line = (
            f"  [{self._count}/{self._total}] {record.get('key')}{rung}  {outcome}  "
            f"({took}elapsed {format_seconds(self._elapsed())})"
        )
        if self.verbose == 2 and record.get("genome"):
            line += f"  {Genome.from_dict(record['genome']).describe()}"
        return line

    def _draw(self):
        """Redraws the live line: `\\r`, the text, spaces over what is left of the last one."""
        cells = _BAR_CELLS * self._count // self._total if self._total else 0
        text = (
            f"{self._generation_name()} [{'#' * cells}{'.' * (_BAR_CELLS - cells)}] "
            f"{self._count}/{self._total}  failed {self._failed}  "
            f"best {self._metric} {self._value(self._best)}  "
            f"{format_seconds(self._elapsed())}"
        )
        # One column short of the width: a full line would wrap, and `\r` then
        # returns to the wrapped part instead of redrawing the whole line.
        text = text[: max(shutil.get_terminal_size().columns - 1, 20)]
        self._write("\r" + text.ljust(self._drawn))
        self._drawn = len(text)

    def _clear(self):
        if self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    def _line(self, text):
        self._write(text + "\n")

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _elapsed(self):
        return time.monotonic() - self._started

    def _value(self, oriented):
        """An objective value (oriented: lower is better) as the metric reads it."""
        if oriented is None or not math.isfinite(oriented):
            return format_value(None)
        if self._objective is not None and self._objective.direction == "max":
            oriented = -oriented
        return format_value(oriented)

    def _record_value(self, record):
        """A history record's metric value, e.g. its `fid_domain`."""
        value = record.get(self._metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return format_value(value)
        return self._value(record.get("objective"))


def _final_choice(result):
    """`", final stage's choice <key>"` when a finished final stage chose a genome, so the
    closing line names the generator `best_generator()` returns; else ""."""
    summary = getattr(result, "final_summary", None)
    chosen = (summary() or {}).get("chosen") if callable(summary) else None
    if not chosen:
        return ""
    return f", final stage's choice {chosen['key']} (held-out {chosen['fid']:.4g})"
