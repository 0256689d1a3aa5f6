"""Pre-registered confirmation: does `weighted_discriminator=True` raise the training yield?

Fixed before the first run (this file's commit), not to be changed after
seeing results.

Why. `benchmarks/training_yield.py` found, on 13 finished random searches,
that a discriminator of only dropout layers (a linear classifier of pixels)
trained in 1 of 50 sampled genomes against about half of the rest. That was
found by looking, so it is confirmed on fresh seeds before the default uses
it.

Protocol. Digits (8x8), the `quick` preset's budget (4 generations x 6
genomes x 300 steps, batch 64, 500 scored samples, `max_params` 150,000),
random search (the strategy that shows the space's own yield), the zoo off,
no final stage, one worker per arm, the two arms of a seed side by side:

* `plain`: the default space;
* `weighted`: the same space with `weighted_discriminator=True`.

Seeds 20, 21, 22, 23, 24 (never used on digits before). Measure: the
training yield (`SearchResult.training_yield()`: candidates under half the
uniform-noise FID, failures counted as not trained), and the best candidate
FID beside it.

Decision rule: `SearchSpace.weighted_discriminator` becomes True by default
only if `weighted` has the higher yield in at least 4 of the 5 seeds and over
all seeds pooled; otherwise it stays off and the docs say what was measured.

    python benchmarks/weighted_discriminator_study.py --runs runs/weighted --docs

Writes `benchmarks/results/weighted_discriminator_study.json`; with `--docs`,
its table in `docs/benchmarks.md` (between the `weighted_discriminator_study`
markers).
"""

import argparse
import os
import sys

from _common import RESULTS
from _common import write_docs_block
from _common import write_result
from _parts import part_path
from _parts import read_json
from _parts import run_side_by_side
from _parts import write_json

SEEDS = (20, 21, 22, 23, 24)
ARMS = ("plain", "weighted")
BUDGET = dict(generations=4, population=6, steps_per_candidate=300)
MAX_PARAMS = 150_000
SMOKE = dict(generations=1, population=2, steps_per_candidate=5)
MARKERS = (
    "<!-- weighted_discriminator_study:start -->",
    "<!-- weighted_discriminator_study:end -->",
)


def run_arm(arm, seed, args):
    """One arm of one seed: a random search of digits; returns its row."""
    import kgan_nas

    space = kgan_nas.SearchSpace(
        image_shape=(8, 8, 1), max_params=MAX_PARAMS, weighted_discriminator=arm == "weighted"
    )
    budget = SMOKE if args.smoke else BUDGET
    result = kgan_nas.search(
        "digits",
        preset="quick",
        space=space,
        strategy="random",
        **budget,
        final=None,
        options=kgan_nas.SearchOptions(zoo=False),
        run=kgan_nas.RunSettings(workers=1),
        directory=os.path.join(args.runs, f"{arm}_seed{seed}"),
        seed=seed,
        verbose=1,
    )
    best = result.best_record
    return {
        "arm": arm,
        "seed": seed,
        "smoke": args.smoke,
        "training_yield": result.training_yield(),
        "best_fid": None if best is None else best["objective"],
        "candidates": len(result.history),
    }


def decide(rows, seeds):
    """The registered rule: the higher yield in 4 of 5 seeds and pooled."""
    by = {(row["arm"], row["seed"]): row["training_yield"] for row in rows}
    wins, pooled = 0, {arm: [0, 0] for arm in ARMS}
    complete = sorted(seeds) == list(SEEDS) and all((a, s) in by for a in ARMS for s in seeds)
    for seed in seeds:
        found = [by.get((arm, seed)) for arm in ARMS]
        if None in found:
            continue
        wins += found[1]["share"] > found[0]["share"]
        for arm, value in zip(ARMS, found):
            pooled[arm][0] += value["trained"]
            pooled[arm][1] += value["candidates"]
    shares = {arm: (t / n if n else None) for arm, (t, n) in pooled.items()}
    higher = None not in shares.values() and shares["weighted"] > shares["plain"]
    return {
        "complete": complete,
        "weighted_wins": wins,
        "pooled_share": shares,
        "default_on": bool(complete and wins >= 4 and higher),
    }


def markdown(report):
    """The table and decision for `docs/benchmarks.md`, from the JSON."""
    by = {(row["arm"], row["seed"]): row for row in report["rows"]}
    lines = [
        "| seed | `plain`: trained / candidates | best FID | `weighted`: trained / candidates "
        "| best FID |",
        "|---|---|---|---|---|",
    ]
    for seed in report["seeds"]:
        cells = []
        for arm in ARMS:
            row = by.get((arm, seed))
            found = (row or {}).get("training_yield") or {}
            best = (row or {}).get("best_fid")
            cells.append(
                f"{found.get('trained', '—')} / {found.get('candidates', '—')} | "
                + ("—" if best is None else f"{best:.2f}")
            )
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    decision = report["decision"]
    shares = decision["pooled_share"]
    lines += [
        "",
        f"`weighted` had the higher yield in {decision['weighted_wins']} of "
        f"{len(report['seeds'])} seeds; pooled "
        + ", ".join(
            f"`{arm}` {'—' if share is None else f'{share:.2f}'}" for arm, share in shares.items()
        )
        + ".",
    ]
    if not decision["complete"]:
        lines.append("The study is not complete: no decision stands on these rows yet.")
    elif decision["default_on"]:
        lines.append("By the registered rule, `weighted_discriminator` is now on by default.")
    else:
        lines.append("By the registered rule, `weighted_discriminator` stays off by default.")
    return "\n".join(lines) + "\n"


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    arguments.add_argument("--runs", default="runs/weighted_discriminator")
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--smoke", action="store_true", help="tiny budgets: checks the script")
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    arguments.add_argument("--part", nargs=3, help=argparse.SUPPRESS)  # a child's PHASE ARM SEED
    return arguments


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    os.makedirs(args.runs, exist_ok=True)
    if args.part:
        _, arm, seed = args.part
        write_json(part_path(args.runs, arm, int(seed), "search"), run_arm(arm, int(seed), args))
        return
    for seed in args.seeds:
        run_side_by_side(__file__, argv, args.runs, ARMS, seed, "search")
    rows = [
        read_json(part_path(args.runs, arm, seed, "search")) for seed in args.seeds for arm in ARMS
    ]
    report = {
        "dataset": "digits",
        "budget": dict(SMOKE if args.smoke else BUDGET, max_params=MAX_PARAMS),
        "seeds": list(args.seeds),
        "smoke": args.smoke,
        "rows": rows,
        "decision": decide(rows, args.seeds),
    }
    output = args.output or (
        os.path.join(args.runs, "smoke.json")
        if args.smoke
        else os.path.join(RESULTS, "weighted_discriminator_study.json")
    )
    path = write_result("weighted_discriminator_study", report, output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
