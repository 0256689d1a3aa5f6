"""Pre-registered study: does bounding training cost instead of parameters buy a better search?

Fixed before the first run (this file's commit), not to be changed after
seeing results; a variant chosen afterwards is confirmed on fresh seeds.

Question (issue 33). The `mnist_cpu` preset bounds parameters (150,000),
which admits convolutional genomes whose training step costs up to ~150 M
multiply-accumulates per image and keeps out cheap designs with many
parameters (an MLP GAN's dense layers). Does a bound on the training step's
cost (`SearchSpace.max_train_macs`) let the same wall time evaluate at
least 1.5x more candidates, with a final generator no worse?

Arms, each `kgan_nas.search("mnist_5k", preset="mnist_cpu")` with random
search (the preset's), the zoo on (the preset's default), one worker, no
final stage during the search; then `kgan_nas.finalize` with the preset's
final stage (top 2 x 2 seeds x 2,000 steps, EMA 0.999) on the held-out
split, the same path for both:

* `params`: the preset as it is: `max_params` 150,000, 5 generations x 6.
* `macs`: `max_params` 2,000,000 (the `default` preset's) and
  `max_train_macs` 15,000,000, 8 generations x 6 (48 candidates, 1.6x).
  The bound, fixed by rule before any search: the zoo's `dcgan` fitted to
  the `mnist_cpu` space costs 12.3 M train-step MACs per image and
  `tf_dcgan` 9.6 M; 15 M admits both at their `mnist_cpu` widths, against a
  median of 40.8 M over 300 genomes sampled from the `params` space (seed
  0). The script records these numbers again in its JSON.

The two arms of a seed run at the same time, side by side, one worker
each, so they share the machine's load: both searches, then both final
stages; seeds run one after the other.
Steps per candidate are the preset's (300) in both arms; the measure of
compute is wall time, with the sum of candidate seconds beside it.

Measures, per seed and arm: the search's wall seconds (the `search` call,
final stage excluded) and candidates evaluated; the mean held-out
`fid_domain` of the final stage's chosen genome over its 2 seeds, and its
std.

Decision rule: `mnist_cpu` switches to the `macs` arm's bounds and 8
generations only if, on every seed of the study (0 and 1), (a) the `macs`
search took no more wall time than the `params` search (so it evaluated
1.6x the candidates in no more time), and (b) its final FID is no worse:
`macs` mean <= `params` mean + the larger of the two arms' final-seed stds.
Otherwise the preset stays, and the docs report what was measured.

Each (arm, seed) is a run directory under `--runs` that resumes; its
search phase and its final phase each write `<runs>/<arm>_seed<s>.<phase>.json`
when done, so the study runs in parts (a finished phase is read back, not run
again). Both arms' searches run side by side, then both final stages.

    python benchmarks/cost_preset_study.py --seeds 0 --runs runs/cost_preset
    python benchmarks/cost_preset_study.py --seeds 0 1 --runs runs/cost_preset --docs

Rows already in the results JSON (e.g. committed by an earlier session on
another machine) are restored as finished phases and not run again.

`--smoke` shrinks every budget to check the script, never for results (its
runs and JSON go elsewhere by default, and its rows are marked).
Writes `benchmarks/results/cost_preset_study.json` (or `--output`); with
`--docs`, the table in `docs/benchmarks.md` (between the
`cost_preset_study` markers), rendered by `markdown(report)`, which a test
holds the page to.
"""

import os
import statistics
import sys
import time

from _common import write_docs_block
from _common import write_result
from _parts import part_path
from _parts import read_json
from _parts import restore_rows
from _parts import run_side_by_side
from _parts import study_parser
from _parts import study_paths
from _parts import write_json

SEEDS = (0, 1)
ARMS = ("params", "macs")
SPACES = {
    "params": dict(max_params=150_000),
    "macs": dict(max_params=2_000_000, max_train_macs=15_000_000),
}
GENERATIONS = {"params": 5, "macs": 8}
FINAL = dict(top_k=2, seeds=2, steps=2000, ema_decay=0.999)
SMOKE = dict(generations=1, population=2, steps_per_candidate=5, final_steps=5)
# What each phase's file holds of a published row (restore_rows): None, the whole row.
PHASES = {"search": ("search_seconds", "resumed", "smoke"), "final": None}
MARKERS = ("<!-- cost_preset_study:start -->", "<!-- cost_preset_study:end -->")


def bound_evidence(samples=300, seed=0):
    """The numbers the bound's rule rests on: zoo designs' and sampled genomes' train MACs."""
    import numpy as np

    import kgan_nas
    from kgan_nas.core import cost
    from kgan_nas.core import zoo

    space = kgan_nas.SearchSpace(image_shape=(28, 28, 1), **SPACES["params"])
    rng = np.random.default_rng(seed)
    sampled = [cost.train_step_macs(space.sample(rng), space) for _ in range(samples)]
    return {
        "sampled_median": statistics.median(sampled),
        "samples": samples,
        "zoo": {
            name: cost.train_step_macs(genome, space)
            for name, genome in zoo.genomes(space, ["dcgan", "tf_dcgan"]).items()
        },
    }


def _settings(arm, args):
    """`(space, budget, final)` of an arm, or of `--smoke`."""
    import kgan_nas

    space = kgan_nas.SearchSpace(image_shape=(28, 28, 1), **SPACES[arm])
    budget = dict(generations=GENERATIONS[arm])
    final = dict(FINAL)
    if args.smoke:
        budget = dict(
            generations=SMOKE["generations"],
            population=SMOKE["population"],
            steps_per_candidate=SMOKE["steps_per_candidate"],
        )
        final["steps"] = SMOKE["final_steps"]
    return space, budget, final


def run_search(arm, seed, args):
    """One arm's search (no final stage), timed; returns what the row needs of it.

    A search cut off and resumed is marked `resumed`: its wall time then
    covers the last call only, and `decide` does not use it.
    """
    import kgan_nas

    space, budget, _ = _settings(arm, args)
    directory = os.path.join(args.runs, f"{arm}_seed{seed}")
    resumed = os.path.exists(os.path.join(directory, "config.json"))
    started = time.time()
    if resumed:
        kgan_nas.resume(directory, verbose=1)
    else:
        kgan_nas.search(
            "mnist_5k",
            preset="mnist_cpu",
            space=space,
            strategy="random",
            **budget,
            final=None,
            # On as the preset has it (its default follows the final stage, run here apart).
            options=kgan_nas.SearchOptions(zoo=True),
            run=kgan_nas.RunSettings(workers=1),
            directory=directory,
            seed=seed,
            verbose=1,
        )
    return {"search_seconds": time.time() - started, "resumed": resumed, "smoke": args.smoke}


def run_final(arm, seed, args, search):
    """One arm's final stage (the preset's), after its search; returns the arm's row."""
    import kgan_nas

    _, _, final = _settings(arm, args)
    directory = os.path.join(args.runs, f"{arm}_seed{seed}")
    started = time.time()
    result = kgan_nas.finalize(directory, **final, verbose=1)
    final_seconds = time.time() - started
    summary = result.final_summary()
    chosen = summary["chosen"] if summary else None
    return dict(
        search,
        arm=arm,
        seed=seed,
        run=directory,
        final_seconds=final_seconds,
        candidates=len(result.history),
        candidates_ok=sum(r["objective"] is not None for r in result.history),
        training_yield=result.training_yield(),
        candidate_seconds=sum(
            (r["fitness"].get("seconds") or {}).get("total") or 0.0 for r in result.history
        ),
        fid_mean=None if chosen is None else chosen["fid_mean"],
        fid_std=None if chosen is None else chosen["fid_std"],
        chosen_key=None if chosen is None else chosen["key"],
        finalists=[] if summary is None else [g["key"] for g in summary["genomes"]],
    )


def decide(rows, seeds, registered=SEEDS):
    """The pre-registered decision, from the rows of both arms and every seed.

    `registered`: the seeds the decision needs, all of them (this study's,
    or its confirmation's, `cost_preset_confirmation.py`).
    """
    by = {(row["arm"], row["seed"]): row for row in rows}
    per_seed = []
    for seed in seeds:
        params, macs = by.get(("params", seed)), by.get(("macs", seed))
        if params is None or macs is None:
            per_seed.append({"seed": seed, "complete": False})
            continue
        if params.get("resumed") or macs.get("resumed"):
            # A resumed search's wall time covers its last call only.
            per_seed.append({"seed": seed, "complete": False, "resumed": True})
            continue
        faster = macs["search_seconds"] <= params["search_seconds"]
        spread = max(params["fid_std"] or 0.0, macs["fid_std"] or 0.0)
        no_worse = (
            macs["fid_mean"] is not None
            and params["fid_mean"] is not None
            and macs["fid_mean"] <= params["fid_mean"] + spread
        ) or (macs["fid_mean"] is not None and params["fid_mean"] is None)
        per_seed.append(
            {
                "seed": seed,
                "complete": True,
                "candidates_ratio": macs["candidates"] / params["candidates"],
                "seconds_ratio": macs["search_seconds"] / params["search_seconds"],
                "no_more_time": faster,
                "fid_no_worse": bool(no_worse),
            }
        )
    complete = sorted(seeds) == list(registered) and all(s["complete"] for s in per_seed)
    switch = complete and all(s["no_more_time"] and s["fid_no_worse"] for s in per_seed)
    return {"complete": complete, "per_seed": per_seed, "switch_preset": switch}


def markdown(report):
    """The study's table and decision for `docs/benchmarks.md`, from its JSON."""
    lines = [
        "| seed | arm | candidates (ok) | search wall (s) | candidate seconds | "
        "held-out FID of the chosen genome (mean ± std) |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(report["rows"], key=lambda r: (r["seed"], ARMS.index(r["arm"]))):
        fid = (
            "failed"
            if row["fid_mean"] is None
            else f"{row['fid_mean']:.2f} ± {row['fid_std'] or 0.0:.2f}"
        )
        lines.append(
            f"| {row['seed']} | `{row['arm']}` | {row['candidates']} ({row['candidates_ok']}) | "
            f"{row['search_seconds']:.0f} | {row['candidate_seconds']:.0f} | {fid} |"
        )
    decision = report["decision"]
    lines.append("")
    for seed in decision["per_seed"]:
        if not seed["complete"]:
            lines.append(
                f"Seed {seed['seed']}: "
                + (
                    "a search was resumed, so its wall time is not comparable; run it again."
                    if seed.get("resumed")
                    else "not run yet."
                )
            )
            continue
        lines.append(
            f"Seed {seed['seed']}: `macs` evaluated {seed['candidates_ratio']:.2f}x the "
            f"candidates in {seed['seconds_ratio']:.2f}x the wall time; its final FID is "
            f"{'no worse' if seed['fid_no_worse'] else 'worse'} by the rule."
        )
    lines.append("")
    if not decision["complete"]:
        lines.append("The study is not complete: the preset stays as it is until it is.")
    elif decision["switch_preset"]:
        lines.append("By the registered rule, `mnist_cpu` switches to the `macs` bounds.")
    else:
        lines.append("By the registered rule, `mnist_cpu` keeps its parameter bound.")
    return "\n".join(lines) + "\n"


def parser(doc=__doc__, seeds=SEEDS, runs="cost_preset"):
    return study_parser(doc, seeds, ARMS, runs, parts=True)


def _path(args, arm, seed, phase):
    return part_path(args.runs, arm, seed, phase)


# This study's identity; its confirmation on fresh seeds passes its own.
STUDY = dict(
    doc=__doc__,
    seeds=SEEDS,
    runs="cost_preset",
    result="cost_preset_study",
    script=__file__,
    markers=MARKERS,
)


def main(argv=None, study=None):
    study = STUDY if study is None else study
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser(study["doc"], study["seeds"], study["runs"]).parse_args(argv)
    output = study_paths(args, study["runs"], study["result"])
    if args.part:
        phase, arm, seed = args.part[0], args.part[1], int(args.part[2])
        if phase == "search":
            write_json(_path(args, arm, seed, phase), run_search(arm, seed, args))
        else:
            search = read_json(_path(args, arm, seed, "search"))
            write_json(_path(args, arm, seed, phase), run_final(arm, seed, args, search))
        return
    restore_rows(output, args.runs, args.arms, args.smoke, PHASES)
    for seed in args.seeds:
        # Both searches, then both final stages, side by side: the arms share the
        # machine's load in each phase, and neither's final stage runs beside the
        # other's search.
        run_side_by_side(study["script"], argv, args.runs, args.arms, seed, "search")
        run_side_by_side(study["script"], argv, args.runs, args.arms, seed, "final")
    rows = [read_json(_path(args, arm, seed, "final")) for seed in args.seeds for arm in args.arms]
    if any(row.get("smoke", False) != args.smoke for row in rows):
        raise SystemExit(f"{args.runs} mixes smoke and study rows; use another --runs")
    report = {
        "dataset": "mnist_5k",
        "preset": "mnist_cpu",
        "arms": {arm: dict(SPACES[arm], generations=GENERATIONS[arm]) for arm in args.arms},
        "final": FINAL,
        "seeds": list(args.seeds),
        "smoke": args.smoke,
        "bound_evidence": bound_evidence(),
        "rows": rows,
        "decision": decide(rows, args.seeds, study["seeds"]),
    }
    path = write_result(study["result"], report, output)
    if args.docs:
        write_docs_block(study["markers"], markdown(read_json(path)))


if __name__ == "__main__":
    main()
