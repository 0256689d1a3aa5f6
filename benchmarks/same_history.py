"""Does a change leave a search's record alone? The same fixed-seed search at two commits.

Runs one small fixed-seed digits search (`kgan-nas search`, subprocess
workers, 1 worker) from a git worktree of `--before` and from this tree, and
compares the two `history.jsonl` files line by line with the timing fields
taken out (the record's `time` and the fitness's `seconds`): every other
byte of every record must agree. For a change that is meant to change no
behaviour, such as moving modules.

    python benchmarks/same_history.py --before aea9aa2

Writes `benchmarks/results/same_history.json` (or `--output`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Wall-clock fields: the only ones a rerun may change.
TIMING_KEYS = ("time", "seconds")
SEARCH = [
    "search",
    "--dataset",
    "digits",
    "--preset",
    "quick",
    "--generations",
    "2",
    "--population",
    "4",
    "--steps-per-candidate",
    "60",
    "--num-samples",
    "200",
    "--workers",
    "1",
    "--seed",
    "0",
]
# `kgan_nas.cli.main` exists in the flat layout (a module) and the new one (a package).
MAIN = "import sys; from kgan_nas.cli import main; sys.exit(main(sys.argv[1:]))"


def without_timings(value):
    """`value` with every `time` / `seconds` key removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def compare(before_path, after_path):
    """Line-by-line comparison of two histories, timings aside."""
    with open(before_path) as stream:
        before = [json.loads(line) for line in stream if line.strip()]
    with open(after_path) as stream:
        after = [json.loads(line) for line in stream if line.strip()]
    differing = [
        index
        for index, (a, b) in enumerate(zip(before, after))
        if json.dumps(without_timings(a), sort_keys=True)
        != json.dumps(without_timings(b), sort_keys=True)
    ]
    return {
        "records_before": len(before),
        "records_after": len(after),
        "differing_records": differing,
        "identical": len(before) == len(after) and not differing,
    }


def run_search(source_root, directory):
    """Runs the fixed search with the package found at `source_root`."""
    env = dict(os.environ, PYTHONPATH=source_root, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-c", MAIN, *SEARCH, "--directory", directory, "--quiet"]
    subprocess.run(command, check=True, cwd=source_root, env=env)
    return os.path.join(directory, "history.jsonl")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare against")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        worktree = os.path.join(scratch, "before")
        subprocess.run(
            ["git", "-C", ROOT, "worktree", "add", "--detach", worktree, args.before],
            check=True,
        )
        try:
            before = run_search(worktree, os.path.join(scratch, "run_before"))
            after = run_search(ROOT, os.path.join(scratch, "run_after"))
            report = dict(compare(before, after), before=args.before, search=" ".join(SEARCH))
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", worktree])
    print(json.dumps({k: v for k, v in report.items() if k != "search"}))
    write_result("same_history", report, args.output)
    return 0 if report["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
