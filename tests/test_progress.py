"""ProgressPrinter: output that fits where it goes.

A log file or pipe gets plain lines only (no `\\r`, `\\b` or ANSI escapes),
one per candidate and one per generation; a terminal gets a live line at
`verbose=1`. Values carry the metric's full name and counts print as
integers. The printer is driven directly with fake history records (no
Keras), and once through a fast scripted search.
"""

import io
import math
import time
import types

import numpy as np
import pytest
from tiny_runs import SCRIPTED_SPACE
from tiny_runs import scripted_search
from tiny_runs import skip_worker_files

from kgan_nas.core.objectives import parse_metric
from kgan_nas.hooks import ProgressPrinter
from kgan_nas.hooks import progress as progress_lib
from kgan_nas.hooks.progress import format_seconds
from kgan_nas.hooks.progress import format_value

ESCAPES = ("\x1b", "\r", "\b")


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


def _genome_dict(seed):
    return SCRIPTED_SPACE.sample(np.random.default_rng(seed)).to_dict()


def _record(generation, index, metric, value=None, status="ok", reason=""):
    """A history record as the search loop writes it: `objective` is oriented (lower is
    better), the metric field holds the value as measured."""
    objective, _ = parse_metric(metric)
    ok = status == "ok"
    return {
        "generation": generation,
        "key": f"key{generation}{index}",
        "genome": _genome_dict(generation * 10 + index),
        "status": status,
        "reason": reason,
        "objective": objective.oriented(value) if ok else None,
        "fitness": {"status": status, "seconds": {"total": 1.5 + index}},
        metric: value if ok else None,
        "params": 12345,
    }


def _generation(records, best_so_far, metric):
    objective, _ = parse_metric(metric)
    scored = sorted(r["objective"] for r in records if r["objective"] is not None)
    return {
        "best": scored[0] if scored else math.inf,
        "median": scored[len(scored) // 2] if scored else math.inf,
        "best_so_far": best_so_far,
        "failed": sum(r["status"] != "ok" for r in records),
        "evaluated": len(records),
    }


def _drive(printer, generations, metric="fid_domain", resumed_evaluated=0, chosen=None):
    """Runs `printer` through a search of `generations` (lists of records); `chosen`
    is the final stage's choice the result reports, if any."""
    printer.on_search_begin(
        {
            "metric": metric,
            "objectives": [parse_metric(metric)[0].name, "params"],
            "generations": len(generations),
            "directory": "/runs/demo",
            "resumed": bool(resumed_evaluated),
        }
    )
    best_so_far = math.inf
    history = []
    for number, records in enumerate(generations, 1):  # generations count from 1
        evaluated = resumed_evaluated if number == 1 else 0
        printer.on_generation_begin(
            number,
            {
                "genomes": [r["key"] for r in records],
                "evaluated": evaluated,
                "best_so_far": best_so_far,
            },
        )
        for record in records[evaluated:]:
            printer.on_candidate_end(record)
        scored = [r["objective"] for r in records if r["objective"] is not None]
        best_so_far = min([best_so_far, *scored])
        printer.on_generation_end(number, _generation(records, best_so_far, metric))
        history.extend(records)
    ranked = sorted((r for r in history if r["status"] == "ok"), key=lambda r: r["objective"])
    result = types.SimpleNamespace(
        history=history,
        directory="/runs/demo",
        best_record=ranked[0] if ranked else None,
        final_summary=lambda: chosen and {"chosen": chosen},
    )
    printer.on_search_end(result)
    return history


def _two_generations(metric="fid_domain"):
    return [
        [
            _record(0, 0, metric, 41.25),
            _record(0, 1, metric, status="nan", reason="non-finite g_loss at step 3"),
            _record(0, 2, metric, 37.5),
        ],
        [_record(1, 0, metric, 33.125), _record(1, 1, metric, 52.0), _record(1, 2, metric, 35.0)],
    ]


def _candidate_lines(text):
    return [line for line in text.splitlines() if line.startswith("  [")]


class _Clock:
    """The `time` module, but `monotonic()` reads `now`, which only the test moves."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def __getattr__(self, name):
        return getattr(time, name)


class _Ticking:
    """Passes the search's events on to `printer`; each candidate takes `seconds` of `clock`."""

    def __init__(self, printer, clock, seconds):
        self.printer, self.clock, self.seconds = printer, clock, seconds

    def on_candidate_end(self, record):
        self.clock.now += self.seconds
        self.printer.on_candidate_end(record)

    def __getattr__(self, name):
        return getattr(self.printer, name)


@pytest.mark.parametrize("verbose", [1, 2])
def test_plain_output_has_no_escapes_and_one_line_per_candidate(verbose, monkeypatch):
    clock = _Clock()  # the elapsed times printed are the fake clock's, not the machine's
    monkeypatch.setattr(progress_lib, "time", clock)
    stream = io.StringIO()
    printer = ProgressPrinter(verbose, stream=stream)
    history = _drive(_Ticking(printer, clock, seconds=65), _two_generations())
    text = stream.getvalue()
    assert not [escape for escape in ESCAPES if escape in text], repr(text)
    lines = _candidate_lines(text)
    assert len(lines) == len(history) == 6
    for number, (line, record) in enumerate(zip(lines, history), 1):
        # Elapsed since the search began: 65 s a candidate, 1m05s ... 6m30s.
        assert record["key"] in line and f"elapsed {format_seconds(65 * number)})" in line
        if record["status"] == "ok":
            assert f"fid_domain={format_value(record['fid_domain'])}" in line
        else:
            assert "nan: non-finite g_loss at step 3" in line
        assert f"{record['fitness']['seconds']['total']:.1f}s" in line
    summaries = [line for line in text.splitlines() if line.startswith("Generation ")]
    assert [line.split(":")[0] for line in summaries] == ["Generation 1/2", "Generation 2/2"]
    assert [line.rsplit(", ", 1)[1] for line in summaries] == ["elapsed 3m15s", "elapsed 6m30s"]
    assert text.startswith("Starting search in /runs/demo\n")
    assert "Done: 6 candidates (1 failed) in 6m30s" in text
    # verbose=2 adds the genome to each candidate line; verbose=1 keeps them short.
    assert all(("G[" in line) == (verbose == 2) for line in lines)


def test_counts_are_integers_and_the_metric_has_its_full_name():
    stream = io.StringIO()
    generations = _two_generations()
    _drive(ProgressPrinter(1, stream=stream), generations)
    text = stream.getvalue()
    assert "e+00" not in text and "0.0000" not in text
    first, second = [line for line in text.splitlines() if line.startswith("Generation ")]
    assert "failed 1/3" in first and "failed 0/3" in second
    best_first = min(r["fid_domain"] for r in generations[0] if r["status"] == "ok")
    assert f"best fid_domain {format_value(best_first)}" in first
    best_second = min(r["fid_domain"] for r in generations[1])
    assert f"best fid_domain {format_value(best_second)}" in second
    assert "best fid " not in text and "objective" not in text


def test_a_maximised_metric_prints_as_measured():
    """`is_inception` is higher-better: the record's `objective` is negated, the printed
    values are not."""
    stream = io.StringIO()
    generations = [[_record(0, 0, "is_inception", 2.5), _record(0, 1, "is_inception", 3.75)]]
    _drive(ProgressPrinter(2, stream=stream), generations, metric="is_inception")
    text = stream.getvalue()
    assert "is_inception=2.5" in text and "is_inception=3.75" in text
    assert "best is_inception 3.75" in text and "-3.75" not in text
    assert "Done: 2 candidates (0 failed)" in text and "best is_inception=3.75 (key01)" in text


def test_the_closing_line_names_the_final_stages_choice_beside_the_searchs_best():
    """After a final stage, `best_generator()` is the final stage's choice: the last line
    says so instead of naming only the search's best as "best"."""
    stream = io.StringIO()
    _drive(ProgressPrinter(1, stream=stream), _two_generations())
    done = next(line for line in stream.getvalue().splitlines() if line.startswith("Done: "))
    assert "search's best fid_domain=" in done and "final stage" not in done
    stream = io.StringIO()
    chosen = {"key": "feedbeef00000001", "fid": 12.3456}
    _drive(ProgressPrinter(1, stream=stream), _two_generations(), chosen=chosen)
    done = next(line for line in stream.getvalue().splitlines() if line.startswith("Done: "))
    assert "final stage's choice feedbeef00000001 (held-out 12.35)" in done


def test_a_terminal_gets_a_live_line_with_integer_counts():
    stream = FakeTerminal()
    history = _drive(ProgressPrinter(1, stream=stream), _two_generations())
    text = stream.getvalue()
    assert "\r" in text and "\x1b" not in text and "\b" not in text
    frames = [frame.strip() for line in text.split("\n") for frame in line.split("\r")]
    live = [frame for frame in frames if frame.startswith("Generation 1/2 [")]
    # One frame when the generation starts and one per candidate.
    assert len(live) == 1 + len(_two_generations()[0])
    assert "failed 1 " in live[-1] and "3/3" in live[-1] and "best fid_domain 37.5" in live[-1]
    assert "0.0000e+00" not in text
    # Failures are listed with their reason; successes only move the live line.
    failed = [r for r in history if r["status"] != "ok"]
    listed = _candidate_lines(text)
    assert len(listed) == len(failed) == 1
    assert listed[0].startswith(f"  [2/3] {failed[0]['key']}  nan: non-finite g_loss")
    assert "Generation 2/2: best fid_domain 33.12" in text


def test_verbose_2_on_a_terminal_still_writes_one_plain_line_per_candidate():
    stream = FakeTerminal()
    history = _drive(ProgressPrinter(2, stream=stream), _two_generations())
    text = stream.getvalue()
    assert not [escape for escape in ESCAPES if escape in text], repr(text)
    assert len(_candidate_lines(text)) == len(history)


def test_a_failure_reason_becomes_one_short_plain_line():
    reason = "Traceback:\n  \x1b[31mValueError\x1b[0m: shapes\r\b do not match " + "x" * 200
    stream = io.StringIO()
    _drive(
        ProgressPrinter(1, stream=stream),
        [[_record(0, 0, "fid_domain", status="error", reason=reason)]],
    )
    text = stream.getvalue()
    (line,) = _candidate_lines(text)
    assert not [escape for escape in ESCAPES if escape in text], repr(text)
    assert "error: Traceback: ValueError: shapes do not match xxx" in line
    assert "x" * 100 not in line and "..." in line
    assert "no candidate scored (best fid_domain so far n/a), failed 1/1" in text


def test_a_resumed_generation_says_how_many_were_already_scored():
    stream = io.StringIO()
    generations = _two_generations()
    _drive(ProgressPrinter(1, stream=stream), generations, resumed_evaluated=2)
    text = stream.getvalue()
    assert text.startswith("Resuming search in /runs/demo\n")
    assert "Generation 1/2: 2 of 3 candidates already scored; continuing" in text
    assert _candidate_lines(text)[0].startswith(f"  [3/3] {generations[0][2]['key']}")


@pytest.mark.parametrize(
    "strategy, line",
    [
        ("RandomSearch", "Starting random search in /runs/demo"),
        ("GeneticSearch", "Starting genetic search in /runs/demo"),
        ("MyStrategy", "Starting MyStrategy search in /runs/demo"),
    ],
)
def test_the_start_line_names_the_strategy(strategy, line):
    stream = io.StringIO()
    ProgressPrinter(1, stream=stream).on_search_begin(
        {"directory": "/runs/demo", "strategy": strategy, "generations": 1}
    )
    assert stream.getvalue() == line + "\n"


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (7, "7"),
        (0.0, "0"),
        (37.5, "37.5"),
        (33.125, "33.12"),
        (0.0123456, "0.01235"),
        (1234.6, "1235"),
        (-2.5, "-2.5"),
        (math.inf, "n/a"),
        (math.nan, "n/a"),
        (None, "n/a"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_format_seconds():
    assert format_seconds(7) == "0m07s"
    assert format_seconds(187.9) == "3m07s"
    assert format_seconds(3729) == "1h02m09s"


def test_a_search_into_a_log_writes_plain_lines(monkeypatch, tmp_path, capsys):
    """The real search with verbose=1 and stdout captured (not a terminal)."""
    skip_worker_files(monkeypatch, tmp_path)
    result = scripted_search(tmp_path / "run", verbose=1, generations=2)
    out = capsys.readouterr().out
    assert not [escape for escape in ESCAPES if escape in out], repr(out)
    lines = _candidate_lines(out)
    assert len(lines) == len(result.history) == 8
    for line, record in zip(lines, result.history):
        assert record["key"] in line
        assert f"fid_domain={format_value(record['fid_domain'])}" in line
    summaries = [line for line in out.splitlines() if line.startswith("Generation ")]
    assert len(summaries) == 2 and all("failed 0/4" in line for line in summaries)
    assert "best fid_domain " in summaries[0] and "best fid " not in out
    assert "e+00" not in out and "Done: 8 candidates (0 failed)" in out
