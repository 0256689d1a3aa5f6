"""The page's account of how a run ran: where the time went, on what, with which settings.

Reads `config.json`'s `"run"` (executor, workers, backend) and `"details"`
(the strategy's full settings, library versions; absent in older runs) and
the records' per-phase `fitness.seconds`.
"""

import statistics

from kgan_nas.core import genome as genome_lib
from kgan_nas.report import numbers
from kgan_nas.report.markup import duration
from kgan_nas.report.markup import escape
from kgan_nas.report.markup import key_value_table
from kgan_nas.report.markup import num_cell
from kgan_nas.report.markup import table
from kgan_nas.results.records import total_steps
from kgan_nas.store import run_dir as run_lib

# What each phase of `Fitness.seconds` is, for the time table.
PHASE_LABELS = {
    "build": "build the models",
    "inherit": "load the parent's weights",
    "compile": "first step (tracing, XLA compilation)",
    "train": "the other training steps",
    "metric": "generate and score",
    "save": "save the models",
}


def steps_setting(result, ranked, inheriting):
    """The configuration table's value for the training steps per candidate.

    Args:
        result: A `kgan_nas.SearchResult`.
        ranked: Successful records, best first.
        inheriting: Whether children continued their parent's training
            (`lineage_view.inheritance_on`).

    Returns:
        Text: the steps, and with inheritance what they add up to.
    """
    steps = result.config.get("evaluation", {}).get("steps")
    fidelity = result.config.get("fidelity")
    if fidelity:
        steps = (
            f"rungs of {', '.join(str(s) for s in fidelity['rungs'])} (successive halving: "
            f"the best 1/{fidelity['eta']} of a rung continue to the next from their own models)"
        )
    if not inheriting:
        return f"{steps} (each candidate trained from scratch)"
    text = (
        f"{steps} per evaluation; with weight inheritance a child continues its "
        "parent's training, so a lineage trains longer"
    )
    if ranked:
        best = ranked[0]
        lineage_steps = total_steps(result.history, best["key"], best["generation"])
        text += f" (the best candidate: {lineage_steps:,} steps in all)"
    return text


def run_tables(result, inheriting):
    """HTML of how the run ran: executor, backend, versions and the time spent.

    Args:
        result: A `kgan_nas.SearchResult`.
        inheriting: Whether weight inheritance was on.

    Returns:
        A list of HTML strings (headings and tables).
    """
    run_dir = run_lib.RunDir(result.directory)
    settings, details = run_dir.run_settings(), run_dir.details()
    versions = details.get("versions") or {}
    times = numbers.time_breakdown(result.history)
    rows = [
        ("executor", settings.get("executor", "not recorded")),
        ("workers", settings.get("workers", "not recorded")),
        ("backend", details.get("backend") or settings.get("backend") or "not recorded"),
        ("weight inheritance", "on" if inheriting else "off"),
        (
            "versions",
            ", ".join(f"{name} {version}" for name, version in versions.items() if version)
            or "not recorded (run written before versions were)",
        ),
        ("wall time, first to last candidate", duration(times["wall"])),
        ("candidate time, summed", duration(times["candidates"])),
    ]
    parts = ["<h3>Run</h3>", key_value_table(rows, table_id="run-table")]
    if times["phases"]:
        spent = sum(times["phases"].values()) or 1.0
        parts += [
            "<h3>Time per phase, all candidates</h3>",
            table(
                ["phase", "what", "time", "share"],
                [
                    [
                        escape(phase),
                        escape(PHASE_LABELS.get(phase, "")),
                        num_cell(duration(seconds)),
                        num_cell(f"{100 * seconds / spent:.0f}%"),
                    ]
                    for phase, seconds in times["phases"].items()
                ],
                table_id="time-table",
            ),
        ]
    families = family_times(result.history)
    if families:
        spent = sum(row["seconds"] for row in families) or 1.0
        parts += [
            "<h3>Time per genome family</h3>",
            "<p>Where the search's time went: candidates grouped by the layers that "
            "carry their work (convolutions, residual blocks or dense layers, in each "
            "network). Steps per second count the training steps after the first, "
            "compiling one.</p>",
            table(
                ["family", "candidates", "median time", "median steps / s", "share"],
                [
                    [
                        escape(row["family"]),
                        num_cell(row["candidates"]),
                        num_cell(duration(row["median_seconds"])),
                        num_cell(
                            ""
                            if row["steps_per_second"] is None
                            else f"{row['steps_per_second']:.1f}"
                        ),
                        num_cell(f"{100 * row['seconds'] / spent:.0f}%"),
                    ]
                    for row in families
                ],
                table_id="family-table",
            ),
        ]
    return parts


def genome_family(genome):
    """A genome's family, e.g. `"conv G, dense D"`: the layers that carry each network's work.

    Args:
        genome: A genome dict (a history record's `"genome"`).

    Returns:
        The family's name.
    """

    def carrier(genes):
        kinds = {gene["kind"] for gene in genes}
        if kinds & set(genome_lib.RESIDUAL_KINDS):
            return "residual"
        if kinds & set(genome_lib.CONV_KINDS):
            return "conv"
        return "dense"

    return f"{carrier(genome['generator'])} G, {carrier(genome['discriminator'])} D"


def family_times(history):
    """Seconds and training speed per genome family, the most time first.

    Args:
        history: The run's history records.

    Returns:
        A list of dicts: `family`, `candidates`, `seconds` (summed),
        `median_seconds` and `steps_per_second` (the median over the family's
        candidates that trained past their first step, or None).
    """
    groups = {}
    for record in history:
        seconds = (record.get("fitness") or {}).get("seconds") or {}
        if "total" not in seconds:
            continue
        groups.setdefault(genome_family(record["genome"]), []).append(record)
    rows = []
    for family, records in groups.items():
        totals = [r["fitness"]["seconds"]["total"] for r in records]
        speeds = [
            (r["fitness"].get("steps", 0) - 1) / r["fitness"]["seconds"]["train"]
            for r in records
            if r["fitness"]["seconds"].get("train") and r["fitness"].get("steps", 0) > 1
        ]
        rows.append(
            {
                "family": family,
                "candidates": len(records),
                "seconds": sum(totals),
                "median_seconds": statistics.median(totals),
                "steps_per_second": statistics.median(speeds) if speeds else None,
            }
        )
    return sorted(rows, key=lambda row: -row["seconds"])
