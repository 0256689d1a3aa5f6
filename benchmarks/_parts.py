"""Studies that run in parts: each (arm, seed, phase) is a JSON file written when done.

A study on 2 CPU cores spans sessions and machines. Each phase of each arm
and seed writes `<runs>/<arm>_seed<seed>.<phase>.json` atomically when it
finishes; a finished phase is read back, never run again. The arms of a
phase run side by side, each in its own process (so they share the
machine's load), and rows already published in a committed results JSON are
restored as finished phases.
"""

import argparse
import json
import os
import subprocess
import sys

from _common import RESULTS


def part_path(runs, arm, seed, phase):
    """Where a finished phase of an arm and seed is written."""
    return os.path.join(runs, f"{arm.replace('+', '_')}_seed{seed}.{phase}.json")


def read_json(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def write_json(path, value):
    """Writes `value` as JSON atomically (a kill leaves the old file or none)."""
    with open(path + ".tmp", "w", encoding="utf-8") as stream:
        json.dump(value, stream, indent=2)
    os.replace(path + ".tmp", path)


def run_side_by_side(script, argv, runs, arms, seed, phase):
    """Runs `phase` of a seed's unfinished arms at once, each as `script ... --part`.

    The child gets `argv` plus `--part PHASE ARM SEED` and must write
    `part_path(runs, arm, seed, phase)` when done.

    Raises:
        SystemExit: when an arm's process failed (after every arm ended: a
            failed arm must not leave the other running).
    """
    children = [
        subprocess.Popen([sys.executable, script, *argv, "--part", phase, arm, str(seed)])
        for arm in arms
        if not os.path.exists(part_path(runs, arm, seed, phase))
    ]
    codes = [child.wait() for child in children]
    if any(codes):
        raise SystemExit(f"an arm of seed {seed} failed in its {phase}; run again to resume")


def restore_rows(output, runs, arms, smoke, phases):
    """Puts the rows of a published results JSON back as finished phases under `runs`.

    A study's run directories may be gone (another session, another
    machine), but the rows it published are not; a restored row is never
    run again.

    Args:
        output: The results JSON (absent: nothing to restore).
        runs: The study's parts folder.
        arms: The arms this call runs (rows of other arms are left alone).
        smoke: Whether this is a smoke run (its rows never mix with a study's).
        phases: `{phase: keys}`: each phase's file gets those keys of the row
            (None: the whole row). The row counts as restored when its last
            phase's file exists.

    Returns:
        The `(arm, seed)` pairs restored.
    """
    if not os.path.exists(output):
        return []
    restored = []
    last = list(phases)[-1]
    for row in read_json(output).get("rows", []):
        if row.get("smoke", False) != smoke or row["arm"] not in arms:
            continue
        if os.path.exists(part_path(runs, row["arm"], row["seed"], last)):
            continue
        for phase, keys in phases.items():
            value = row if keys is None else {k: row[k] for k in keys if k in row}
            write_json(part_path(runs, row["arm"], row["seed"], phase), value)
        restored.append((row["arm"], row["seed"]))
    return restored


def finished_rows(args, arms, seeds, phase="done"):
    """`(seeds, rows)` of every finished `phase` part under `args.runs`.

    Every seed with a finished part counts, the registered `seeds` and this
    call's `args.seeds` alike, so a call for one seed never drops the others'
    rows; rows come seed by seed, in `arms` order.

    Raises:
        SystemExit: when the folder mixes smoke and study rows.
    """

    def done(arm, seed):
        return os.path.exists(part_path(args.runs, arm, seed, phase))

    found = sorted(s for s in set(args.seeds) | set(seeds) if any(done(a, s) for a in arms))
    rows = [
        read_json(part_path(args.runs, arm, seed, phase))
        for seed in found
        for arm in arms
        if done(arm, seed)
    ]
    if any(row.get("smoke", False) != args.smoke for row in rows):
        raise SystemExit(f"{args.runs} mixes smoke and study rows; use another --runs")
    return found, rows


def study_paths(args, runs, result):
    """Sets `args.runs` (created) and returns where the study's results JSON goes.

    Args:
        args: The parsed `study_parser` arguments (`runs`, `output`, `smoke`).
        runs: The default parts folder's name under `runs/` (`_smoke` added
            for a smoke run).
        result: The results JSON's name under `benchmarks/results/`.

    Returns:
        `--output` if given; else `<runs>/smoke.json` for a smoke run (never
        beside the study's results), else `benchmarks/results/<result>.json`.
    """
    args.runs = args.runs or (f"runs/{runs}_smoke" if args.smoke else f"runs/{runs}")
    os.makedirs(args.runs, exist_ok=True)
    if args.output:
        return args.output
    if args.smoke:
        return os.path.join(args.runs, "smoke.json")
    return os.path.join(RESULTS, f"{result}.json")


def study_parser(doc, seeds, arms, runs, parts=False):
    """The command line every study in parts shares.

    Args:
        doc: The study's docstring (its first line describes the command).
        seeds: The study's registered seeds (the default `--seeds`).
        arms: Its arms (the choices and default of `--arms`).
        runs: The default parts folder's name under `runs/` (`_smoke` added
            for a smoke run).
        parts: Whether the study runs phases in child processes (`--part`).

    Returns:
        An `argparse.ArgumentParser`.
    """
    arguments = argparse.ArgumentParser(description=doc.split("\n")[0])
    arguments.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    arguments.add_argument("--arms", nargs="+", choices=arms, default=list(arms))
    arguments.add_argument("--runs", default=None, help=f"default: runs/{runs}[_smoke]")
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--smoke", action="store_true", help="tiny budgets: checks the script")
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    if parts:
        arguments.add_argument("--part", nargs=3, help=argparse.SUPPRESS)  # PHASE ARM SEED
    return arguments
