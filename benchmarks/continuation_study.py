"""Pre-registered: does continuing the search's weights beat retraining from scratch?

Fixed before the first run (this file's commit), not to be changed after
seeing results.

Question (issue 31). The final stage retrains its finalists from scratch.
`FinalConfig.continue_training` starts each from the weights its search
candidate ended with and trains the rest of the steps, so both end at the
same total steps (equal compute). Which hands back the better generator?

Protocol. Given finished runs whose final stage trained from scratch (their
`final/summary.json`), each run directory is copied and the copy is
finalized again with the same settings plus `continue_training=True`, so
the same finalists (the final stage's rule depends on the search alone), the
same seeds, the same held-out split and extractor. Runs: the two `mnist_5k`
runs of seed 1 of `benchmarks/cost_preset_study.py` (`params_seed1`,
`macs_seed1`: the `mnist_cpu` preset's final stage, top 2 x 2 seeds x 2,000
steps, EMA 0.999), the first runs finished after this file was committed.

Measures: per run, the chosen genome's mean held-out FID both ways; per
(genome, seed) job, the held-out FID both ways (paired).

Decision rule: `continue_training` becomes the default only if, in every
run, the chosen genome's mean FID is lower with continuation, and
continuation wins at least two thirds of the paired jobs over all runs;
otherwise it stays an option, off, and the docs say what was measured.

    python benchmarks/continuation_study.py --runs RUN_DIR... --work runs/continuation --docs

Each run's copy resumes (a finished copy is read back). Writes
`benchmarks/results/continuation_study.json`; with `--docs`, its table in
`docs/benchmarks.md` (between the `continuation_study` markers).
"""

import argparse
import os
import shutil
import time

from _common import write_docs_block
from _common import write_result
from _parts import read_json

MARKERS = ("<!-- continuation_study:start -->", "<!-- continuation_study:end -->")


def _jobs(summary):
    """`{(key, seed index): fid}` of a final summary's successful jobs."""
    jobs = {}
    for genome in summary["genomes"]:
        for index, fid in enumerate(genome["fids"]):
            jobs[(genome["key"], index)] = fid
    return jobs


def run_one(directory, work):
    """Finalizes a copy of `directory` with continuation; returns the run's row."""
    import kgan_nas

    scratch = kgan_nas.SearchResult(directory).final_summary()
    if scratch is None or scratch["protocol"].get("continue_training"):
        raise SystemExit(f"{directory} has no final stage trained from scratch")
    copy = os.path.join(work, os.path.basename(os.path.normpath(directory)))
    if not os.path.exists(copy):
        shutil.copytree(directory, copy)
    settings = {k: scratch["protocol"][k] for k in ("top_k", "seeds", "steps", "ema_decay")}
    started = time.time()
    continued = kgan_nas.finalize(copy, **settings, continue_training=True, verbose=1)
    seconds = time.time() - started
    summary = continued.final_summary()
    before, after = _jobs(scratch), _jobs(summary)
    pairs = [
        {"key": key, "seed_index": index, "scratch": before[(key, index)], "continued": fid}
        for (key, index), fid in after.items()
        if (key, index) in before
    ]

    def chosen(found):
        return None if found["chosen"] is None else found["chosen"]["fid_mean"]

    return {
        "run": directory,
        "settings": settings,
        "scratch_chosen_fid": chosen(scratch),
        "continued_chosen_fid": chosen(summary),
        "scratch_chosen_key": scratch["chosen"] and scratch["chosen"]["key"],
        "continued_chosen_key": summary["chosen"] and summary["chosen"]["key"],
        "continued_seconds": seconds,
        "pairs": pairs,
        "lost_jobs": sorted(set(map(str, before)) ^ set(map(str, after))),
    }


def decide(rows):
    """The registered rule: every run's chosen genome better, and 2/3 of the jobs."""
    pairs = [pair for row in rows for pair in row["pairs"]]
    wins = sum(pair["continued"] < pair["scratch"] for pair in pairs)
    every_run = all(
        row["continued_chosen_fid"] is not None
        and (
            row["scratch_chosen_fid"] is None
            or row["continued_chosen_fid"] < row["scratch_chosen_fid"]
        )
        for row in rows
    )
    return {
        "runs": len(rows),
        "job_pairs": len(pairs),
        "job_wins": wins,
        "chosen_better_in_every_run": bool(rows) and every_run,
        "continue_by_default": bool(rows) and every_run and 3 * wins >= 2 * len(pairs),
    }


def markdown(report):
    """The study's table and decision for `docs/benchmarks.md`, from its JSON."""
    lines = [
        "| run | chosen genome's held-out FID, from scratch | continued | jobs continuation won |",
        "|---|---|---|---|",
    ]
    for row in report["rows"]:
        won = sum(pair["continued"] < pair["scratch"] for pair in row["pairs"])
        scratch, continued = row["scratch_chosen_fid"], row["continued_chosen_fid"]
        lines.append(
            f"| `{os.path.basename(os.path.normpath(row['run']))}` | "
            f"{'failed' if scratch is None else f'{scratch:.2f}'} | "
            f"{'failed' if continued is None else f'{continued:.2f}'} | "
            f"{won} of {len(row['pairs'])} |"
        )
    decision = report["decision"]
    lines += [
        "",
        f"Continuation won {decision['job_wins']} of {decision['job_pairs']} paired jobs; "
        + (
            "by the registered rule it becomes the default."
            if decision["continue_by_default"]
            else "by the registered rule it stays off by default."
        ),
    ]
    return "\n".join(lines) + "\n"


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--runs", nargs="+", required=True, help="finished run directories")
    arguments.add_argument("--work", default="runs/continuation", help="where the copies go")
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    rows = [run_one(directory, args.work) for directory in args.runs]
    path = write_result("continuation_study", {"rows": rows, "decision": decide(rows)}, args.output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
