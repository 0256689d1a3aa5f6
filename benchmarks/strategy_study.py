"""Pre-registered strategy study (issue 32): the four strategies at equal compute, finalized alike.

Fixed before the first run (this file's commit), not to be changed after
seeing results; a variant chosen afterwards is confirmed on fresh seeds.

Question. kgan_nas offers four search strategies: random search (the
baseline), the genetic algorithm (the default where no final stage runs),
particle swarm (`"pso"`) and gradient-based search over a supernet
(`"differentiable"`). At equal training steps, does any of them hand back a
better genome than random search?

Arms, on `digits` (8 x 8) with the budgets of `search_quality.py`'s digits
plan (the study issue 18 ran, so the numbers sit beside it): the `default`
preset's space at `max_params` 150,000, population 8, 200 steps per
candidate, 500 samples per score, the JAX backend, two subprocess workers,
no final stage in the search:

* `random`: `strategy="random"`, 3 generations (24 candidates).
* `genetic`: `strategy="genetic"` (inheritance on, its default), 3 generations.
* `pso`: `strategy="pso"` (its default coefficients), 3 generations.
* `differentiable`: `strategy="differentiable"`: the supernet first, for
  its default steps (one generation's worth, 8 x 200 = 1,600), then 2
  generations (its 8 derived genomes, then 8 random samples), so it too
  trains 4,800 steps in all. A supernet step runs every candidate
  operation of every slot, so its seconds are reported beside its steps.

Equal compute is equal training steps, 24 x 200 = 4,800 per run (the
supernet's counted first for `differentiable`); wall seconds and
candidate-seconds beside. Every arm's best genome (the search's one
ranking) is retrained from scratch by the same path, `kgan_nas.finalize`
(top 1, 2 seeds, 1,000 steps, the run's held-out split and extractor).

Seeds 30, 31, 32, 33, 34 on digits (no earlier study searched these).

Measures, per seed and arm: the best search score after the steps both
runs of a pair spent; the retrained winner's held-out FID (mean of its 2
seeds); records, failures, supernet steps and seconds, search wall
seconds, candidate-seconds; for `differentiable`, the supernet check
(`SearchResult.supernet_check()`: the Spearman correlation between each
derived genome's score as a path of the trained supernet, its weights
inherited, and its score trained alone as a candidate).

Decision rules:

1. A strategy other than random may be said to beat random search only if
   its retrained winner's FID is lower than random's in at least 4 of the
   5 seeds (one-sided sign test p = 0.19 at 4, 0.031 at 5; the Wilcoxon
   signed-rank p beside it). Otherwise the docs say it was not shown to.
2. If random search's retrained winner beats the genetic search's in at
   least 4 of the 5 seeds, the default strategy of the presets without a
   final stage becomes random search (confirmed on seeds 35-39 first).
3. No default changes to `pso` or `differentiable` on this study alone: a
   winner by rule 1 is confirmed on seeds 35-39 before it could become one.

Runs in parts that resume: each (arm, seed) search lives under `--runs`
and resumes; a finished (arm, seed), its winner retrained, is written as
`<runs>/<arm>_seed<seed>.done.json`; rows published in the results JSON
are restored as finished parts.

    python benchmarks/strategy_study.py --runs /tmp/strategy        # the study (about 1 h alone)
    python benchmarks/strategy_study.py --smoke --runs /tmp/ss_smoke  # checks the script
    python benchmarks/strategy_study.py --runs /tmp/strategy --docs   # and the docs' table

Writes `benchmarks/results/strategy_study.json` (a smoke run: `<runs>/smoke.json`).
"""

import math
import os
import statistics
import sys

from _common import write_docs_block
from _common import write_result
from _parts import finished_rows
from _parts import part_path
from _parts import read_json
from _parts import restore_rows
from _parts import study_parser
from _parts import study_paths
from _parts import write_json
from search_quality import candidate_seconds
from search_quality import compare_runs
from search_quality import search_seconds
from search_quality import steps_curve

# Pre-registered before any run of this study; never tuned.
SEEDS = (30, 31, 32, 33, 34)
ARMS = ("random", "genetic", "pso", "differentiable")
REFERENCE = "random"
PLAN = dict(
    dataset="digits",
    image_shape=(8, 8, 1),
    max_params=150_000,
    evaluations=24,
    population=8,
    steps=200,
    num_samples=500,
    final_steps=1000,
    final_seeds=2,
    backend="jax",
    executor="subprocess",
    workers=2,
)
SMOKE = dict(evaluations=4, population=2, steps=5, num_samples=100, final_steps=5, final_seeds=1)
MARKERS = ("<!-- strategy_study:start -->", "<!-- strategy_study:end -->")


def plan(smoke=False):
    """The study's budgets: `PLAN`, or its smoke-sized version."""
    return dict(PLAN, **SMOKE) if smoke else dict(PLAN)


def supernet_steps(budget):
    """The steps the differentiable arm's supernet trains: its default, one generation's worth."""
    return budget["population"] * budget["steps"]


def generations(arm, budget):
    """Whole generations of `arm` whose steps, with its supernet's, make the study's budget."""
    steps = budget["evaluations"] * budget["steps"]
    if arm == "differentiable":
        steps -= supernet_steps(budget)
    return max(1, steps // (budget["population"] * budget["steps"]))


def run_search(arm, seed, directory, budget):
    """One arm's search on one seed, resumed if its directory holds it."""
    import kgan_nas

    kgan_nas.search(
        budget["dataset"],
        space=kgan_nas.SearchSpace(
            image_shape=budget["image_shape"], max_params=budget["max_params"]
        ),
        strategy=arm,
        preset="default",
        generations=generations(arm, budget),
        population=budget["population"],
        steps_per_candidate=budget["steps"],
        directory=directory,
        seed=seed,
        verbose=0,
        final=None,
        options=kgan_nas.SearchOptions(num_samples=budget["num_samples"]),
        run=kgan_nas.RunSettings(
            executor=budget["executor"], workers=budget["workers"], backend=budget["backend"]
        ),
    )


def retrain_winner(directory, budget):
    """The run's best genome retrained from scratch by `kgan_nas.finalize` (top 1)."""
    import kgan_nas

    result = kgan_nas.finalize(
        directory,
        top_k=1,
        seeds=budget["final_seeds"],
        steps=budget["final_steps"],
        num_samples=budget["num_samples"],
        verbose=0,
    )
    genome = result.final_summary()["genomes"][0]
    return {"key": genome["key"], "fid": genome["fid_mean"], "fids": genome["fids"]}


def supernet_cost(directory):
    """`(steps, seconds, path_seconds)` of the run's supernet (`supernet.json`): its
    training and the scoring of its paths; `(0, 0.0, 0.0)` without one."""
    path = os.path.join(directory, "supernet.json")
    if not os.path.exists(path):
        return 0, 0.0, 0.0
    record = read_json(path)
    return (
        int(record.get("steps") or 0),
        float(record.get("seconds") or 0.0),
        float(record.get("path_seconds") or 0.0),
    )


def shifted_curve(history, spent_before):
    """`steps_curve` with the steps spent before the first candidate (a supernet's) first."""
    if not spent_before:
        return steps_curve(history)
    return [[spent_before, math.inf]] + [
        [spent + spent_before, value] for spent, value in steps_curve(history)
    ]


def run_arm(arm, seed, args):
    """Searches, retrains the winner, and returns the row of one (arm, seed)."""
    import kgan_nas

    budget = plan(args.smoke)
    directory = os.path.join(args.runs, f"{arm}_seed{seed}")
    run_search(arm, seed, directory, budget)
    retrained = retrain_winner(directory, budget)
    result = kgan_nas.SearchResult(directory)
    history = result.history
    net_steps, net_seconds, path_seconds = supernet_cost(directory)
    if arm == "differentiable" and not net_steps:
        # A supernet that failed keeps no supernet.json, yet its training was
        # spent: the arm is charged its whole budget, never less.
        net_steps = supernet_steps(budget)
    best = result.best_record
    return {
        "arm": arm,
        "seed": seed,
        "smoke": args.smoke,
        "data_fingerprint": result.config["data_fingerprint"],
        "records": len(history),
        "failed": sum(record["status"] != "ok" for record in history),
        "supernet_steps": net_steps,
        "supernet_seconds": round(net_seconds, 1),
        "path_seconds": round(path_seconds, 1),
        "steps_curve": shifted_curve(history, net_steps),
        "best_key": best["key"] if best else None,
        "real_vs_real_fid": result.baselines().get("fid_train_vs_eval"),
        "retrained": retrained,
        "supernet_check": result.supernet_check(),
        "search_seconds": search_seconds(history),
        "candidate_seconds": candidate_seconds(history),
    }


def decide(rows, seeds):
    """Each arm against random search, within each seed, and the pre-registered decisions."""
    by = {(row["arm"], row["seed"]): row for row in rows}
    arms = [arm for arm in ARMS if arm != REFERENCE and any(row["arm"] == arm for row in rows)]
    against = {}
    for arm in arms:
        pair = compare_runs(by, seeds, arm, REFERENCE, label="arm")
        test = pair["retrained"]
        complete = pair["seeds"] == list(SEEDS)
        against[arm] = {
            **pair,
            # Rule 1.
            "beats_random": complete and test["wins"] >= 4,
            # Rule 2 (genetic only): random wins 4 of 5.
            "random_beats_it": complete and test["losses"] >= 4,
        }
    means = {
        arm: statistics.fmean(by[(arm, s)]["retrained"]["fid"] for s in seeds if (arm, s) in by)
        for arm in ARMS
        if any((arm, s) in by for s in seeds)
    }
    genetic = against.get("genetic", {})
    return {
        "complete": all((arm, s) in by for arm in ARMS for s in SEEDS),
        "against_random": against,
        "mean_retrained_fid": means,
        "default_becomes_random": bool(genetic.get("random_beats_it")),
    }


def markdown(report):
    """The study's table and decisions for `docs/benchmarks.md`, from its JSON."""
    by = {(row["arm"], row["seed"]): row for row in report["rows"]}
    lines = [
        "| seed | arm | retrained FID (2 seeds) | best search FID | records (failed) | "
        "supernet steps (s) | search wall s | candidate s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for seed in report["seeds"]:
        for arm in ARMS:
            row = by.get((arm, seed))
            if row is None:
                continue
            supernet = (
                f"{row['supernet_steps']:,} ({row['supernet_seconds']:.0f})"
                if row["supernet_steps"]
                else "—"
            )
            lines.append(
                f"| {seed} | `{arm}` | {row['retrained']['fid']:.2f} | "
                f"{row['steps_curve'][-1][1]:.2f} | {row['records']} ({row['failed']}) | "
                f"{supernet} | {row['search_seconds']:.0f} | {row['candidate_seconds']:.0f} |"
            )
    decision = report["decision"]
    lines.append("")
    for arm, versus in decision["against_random"].items():
        test = versus["retrained"]
        p = test["sign_test_p"]
        verdict = (
            "beats random search (rule 1)"
            if versus["beats_random"]
            else "not shown to beat random search"
        )
        lines.append(
            f"- `{arm}` against `random`, retrained, seeds {versus['seeds']}: {test['wins']} wins, "
            f"{test['losses']} losses (one-sided sign test p = "
            f"{'—' if p is None else f'{p:.3f}'}): {verdict}."
        )
    checks = [
        f"{row['seed']}: "
        + (
            "undefined"
            if row["supernet_check"]["spearman"] is None
            else f"{row['supernet_check']['spearman']:.2f}"
        )
        + f" ({row['supernet_check']['pairs']} genomes)"
        for row in report["rows"]
        if row.get("supernet_check")
    ]
    if checks:
        lines.append(
            "- Supernet check (`differentiable`; Spearman of path scores against the same "
            "genomes trained alone), per seed: " + ", ".join(checks) + "."
        )
    if not decision["complete"]:
        lines.append("")
        lines.append("The study is not complete: no decision stands on these rows yet.")
    elif decision["default_becomes_random"]:
        lines.append("")
        lines.append(
            "Rule 2: random search beat the genetic search in 4 or more seeds; the default "
            "follows once seeds 35-39 confirm it."
        )
    return "\n".join(lines) + "\n"


def parser():
    return study_parser(__doc__, SEEDS, ARMS, "strategy", parts=False)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    output = study_paths(args, "strategy", "strategy_study")
    restore_rows(output, args.runs, list(ARMS), args.smoke, {"done": None})
    budget = plan(args.smoke)
    print(
        f"Strategy study: seeds {args.seeds} x arms {args.arms}, "
        f"{budget['evaluations'] * budget['steps']:,} training steps per run plus its winner "
        f"retrained {budget['final_seeds']} x {budget['final_steps']:,} steps; finished parts "
        "are kept. About 3-4 minutes per arm and seed alone on 2 CPU cores (digits).",
        flush=True,
    )
    for seed in args.seeds:
        for arm in args.arms:
            path = part_path(args.runs, arm, seed, "done")
            if not os.path.exists(path):
                write_json(path, run_arm(arm, seed, args))
    seeds, rows = finished_rows(args, ARMS, SEEDS)
    report = {
        "plan": plan(args.smoke),
        "arms": list(ARMS),
        "seeds": seeds,
        "smoke": args.smoke,
        "rows": rows,
        "decision": decide(rows, seeds),
    }
    path = write_result("strategy_study", report, output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
