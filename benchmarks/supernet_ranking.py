"""Pre-registered: do a single-path supernet's path scores rank 28x28 genomes as training them does?

Fixed before the first run (this file's commit), not to be changed after
seeing results; a variant chosen afterwards is confirmed on fresh seeds.

Question (issue 32). Weight-sharing evaluation (scoring a genome as a path
of one trained supernet, seconds each, instead of training it) is only worth
building into the population strategies if the path scores rank genomes
as training them alone does. On 8 x 8 digits the supernet has one slot and
the strategy study's check ranked only 3 genomes (-0.87 to 0.87). This study
reads it at 28 x 28, where the supernet has two slots per network, with the
supernet trained as one-shot search trains it for weight sharing (uniform
single-path sampling, `supernet_training="single_path"`).

One arm, run through the product's own path on `mnist_5k`:
`kgan_nas.search("mnist_5k", preset="mnist_cpu", strategy="differentiable",
strategy_options={"supernet_training": "single_path", "path_samples": 12,
"derived": 12}, generations=2, final=None, zoo off)`. The mnist_cpu
space (its 150,000-parameter bound) and candidate budget (population 6,
300 steps, batch 64, 1,000 samples); the supernet trains its default 1,800
steps (one generation's worth). It draws 12 distinct exact paths, scores
each with the shared weights (batch norm measured again for the path), and
queues all 12, best path score first; the two generations train every one
of them alone as ordinary candidates. So the 12 are a random sample of the
supernet's paths, and none is left out by its path score.

Seeds 40, 41, 42 (never used before).

Measure per seed: the run's supernet check (`SearchResult.supernet_check()`),
Spearman of path FID against stand-alone candidate FID (`fid_domain`, the
run's own extractor) over the exact pairs with both finite; and where the
best path's genome ranks among the 12 trained alone. Seconds of the
supernet, of the path scoring, and of the candidates beside.

Decision rule:

1. Weight sharing *ranks* 28 x 28 genomes at this budget only if the
   Spearman is at least 0.5 in at least 2 of the 3 seeds and above 0 in all
   3 (0.5 over 12 pairs is about the one-sided 5 % level of one seed).
2. If it ranks: single-path weight sharing joins the strategy study as an
   arm, and weight-sharing evaluation for the population strategies (a
   genetic search over paths) is built on it. No default changes on this
   study alone.
3. If not: the docs say plainly that path scores did not rank genomes at
   28 x 28 at this budget; `single_path` stays an option, off by default,
   and no weight-sharing evaluation of the population strategies is built
   on it.

Each seed is a resumable run directory and writes `<runs>/single_path_seed<s>.done.json`
when finished; rows already in the results JSON are restored and not run
again, so the study runs in parts across sessions:

    python benchmarks/supernet_ranking.py --seeds 40 --runs runs/supernet_ranking
    python benchmarks/supernet_ranking.py --runs runs/supernet_ranking --docs

`--smoke` shrinks everything (digits, 4 paths, 5 steps) to check the
script, never for results.

Writes `benchmarks/results/supernet_ranking.json` (or `--output`); with
`--docs`, the table in `docs/benchmarks.md` (between the
`supernet_ranking` markers).
"""

import os
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
from search_quality import search_seconds

# Pre-registered before any run of this study; never tuned.
SEEDS = (40, 41, 42)
ARMS = ("single_path",)
PLAN = dict(
    dataset="mnist_5k",
    preset="mnist_cpu",
    generations=2,
    paths=12,
    supernet_training="single_path",
)
SMOKE = dict(dataset="digits", preset="quick", generations=2, paths=4, steps=5, num_samples=100)
THRESHOLD = 0.5
MARKERS = ("<!-- supernet_ranking:start -->", "<!-- supernet_ranking:end -->")


def plan(smoke=False):
    """The study's settings: `PLAN`, or its smoke-sized version."""
    return dict(PLAN, **SMOKE) if smoke else dict(PLAN)


def run_search(seed, directory, budget):
    """The seed's search (resumed if its directory holds it); returns its `SearchResult`."""
    import kgan_nas

    paths = budget["paths"]
    strategy_options = {
        "supernet_training": budget["supernet_training"],
        "path_samples": paths,
        "derived": paths,
    }
    if budget.get("path_finetune_steps"):  # the fine-tune study's plan (supernet_finetune.py)
        strategy_options["path_finetune_steps"] = budget["path_finetune_steps"]
    keywords, options = {}, {}
    if budget.get("workers"):  # the fine-tune study times candidates one at a time
        keywords["run"] = kgan_nas.RunSettings(workers=budget["workers"])
    if "steps" in budget:  # smoke: tiny candidates and supernet
        keywords["steps_per_candidate"] = budget["steps"]
        strategy_options["supernet_steps"] = budget["steps"]
        options["num_samples"] = budget["num_samples"]
    return kgan_nas.search(
        budget["dataset"],
        preset=budget["preset"],
        strategy="differentiable",
        generations=budget["generations"],
        population=paths // budget["generations"],
        directory=directory,
        seed=seed,
        verbose=0,
        final=None,
        options=kgan_nas.SearchOptions(zoo=False, strategy_options=strategy_options, **options),
        **keywords,
    )


def best_path_rank(check):
    """Where the genome with the best path score ranks among those trained alone (1 = best)."""
    pairs = [r for r in check["rows"] if r["exact"] and _finite(r["path_fid"], r["fid"])]
    if not pairs:
        return None
    best = min(pairs, key=lambda r: r["path_fid"])
    return 1 + sum(r["fid"] < best["fid"] for r in pairs)


def _finite(*values):
    return all(v is not None and v == v and abs(v) != float("inf") for v in values)


def run_seed(seed, args, budget=None, arm=ARMS[0]):
    """Searches one seed and returns its row (`budget`: `plan(args.smoke)` unless given)."""
    import kgan_nas

    budget = plan(args.smoke) if budget is None else budget
    directory = os.path.join(args.runs, f"{arm}_seed{seed}")
    run_search(seed, directory, budget)
    result = kgan_nas.SearchResult(directory)
    # Only a supernet that trained is kept (`supernet.json`); a failed one is a
    # row without a check, which the rule counts as not ranking.
    record = os.path.join(directory, "supernet.json")
    supernet = read_json(record) if os.path.exists(record) else {"steps": 0, "seconds": 0.0}
    check = result.supernet_check()
    history = result.history
    return {
        "arm": arm,
        "seed": seed,
        "smoke": args.smoke,
        "data_fingerprint": result.config["data_fingerprint"],
        "supernet_steps": supernet["steps"],
        "supernet_seconds": round(supernet["seconds"], 1),
        "path_seconds": round(supernet.get("path_seconds", 0.0), 1),
        "paths_scored": len(supernet.get("path_scores", [])),
        "records": len(history),
        "failed": sum(record["status"] != "ok" for record in history),
        "check": check,
        "best_path_rank": best_path_rank(check) if check else None,
        "real_vs_real_fid": result.baselines().get("fid_train_vs_eval"),
        "search_seconds": search_seconds(history),
        "candidate_seconds": candidate_seconds(history),
    }


def decide(rows, seeds=SEEDS):
    """The registered rule over the rows of `seeds`."""
    by = {row["seed"]: row for row in rows}
    checks = [by[s]["check"] if s in by else None for s in seeds]
    values = [check["spearman"] if check else None for check in checks]
    complete = all(s in by for s in seeds)
    defined = [v for v in values if v is not None]
    strong = sum(v >= THRESHOLD for v in defined)
    ranks = complete and len(defined) == len(seeds) and strong >= 2 and min(defined) > 0
    return {"complete": complete, "spearman": values, "strong_seeds": strong, "ranks": ranks}


def markdown(report):
    """The study's table and decision for `docs/benchmarks.md`, from its JSON."""
    lines = [
        "| seed | Spearman (pairs) | best path's rank alone | supernet steps (s) | "
        "path scoring s | candidate s | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        check = row["check"] or {}
        value = check.get("spearman")
        # Three decimals: the threshold is 0.5, and 0.497 must not read as 0.50.
        spearman = "undefined" if value is None else f"{value:.3f}"
        lines.append(
            f"| {row['seed']} | {spearman} ({check.get('pairs', 0)}) | "
            f"{row['best_path_rank'] or '–'} of {check.get('pairs', 0)} | "
            f"{row['supernet_steps']:,} ({row['supernet_seconds']:.0f}) | "
            f"{row['path_seconds']:.0f} | {row['candidate_seconds']:.0f} | "
            f"{row['failed']} of {row['records']} |"
        )
    decision = report["decision"]
    lines.append("")
    if not decision["complete"]:
        lines.append("The study is not complete: no decision stands on these rows yet.")
    elif decision["ranks"]:
        lines.append(
            f"Rule 1 met: Spearman at least {THRESHOLD} in {decision['strong_seeds']} of "
            f"{len(SEEDS)} seeds and above 0 in all; weight sharing ranks 28 x 28 genomes "
            "at this budget."
        )
    else:
        lines.append(
            f"Rule 1 not met (it needs a Spearman of at least {THRESHOLD} in 2 of "
            f"{len(SEEDS)} seeds, here {decision['strong_seeds']}, and above 0 in every seed): "
            "path scores did not rank 28 x 28 genomes as training them alone did at this "
            "budget; `single_path` stays an option, off by default."
        )
    return "\n".join(lines) + "\n"


def parser():
    return study_parser(__doc__, SEEDS, ARMS, "supernet_ranking")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    output = study_paths(args, "supernet_ranking", "supernet_ranking")
    restore_rows(output, args.runs, list(ARMS), args.smoke, {"done": None})
    budget = plan(args.smoke)
    print(
        f"Supernet ranking study: seeds {args.seeds}; per seed a {budget['dataset']} "
        f"single-path supernet, {budget['paths']} paths scored with its weights and the same "
        "genomes trained alone (each supernet step runs every candidate operation); "
        "finished seeds are kept. About 30 minutes per seed alone on 2 CPU cores (seed 41: "
        "supernet 1,052 s, path scoring 136 s, candidates 466 s).",
        flush=True,
    )
    for seed in args.seeds:
        path = part_path(args.runs, "single_path", seed, "done")
        if not os.path.exists(path):
            write_json(path, run_seed(seed, args))
    seeds, rows = finished_rows(args, ARMS, SEEDS)
    report = {
        "plan": plan(args.smoke),
        "seeds": seeds,
        "threshold": THRESHOLD,
        "smoke": args.smoke,
        "rows": rows,
        "decision": decide(rows),
    }
    path = write_result("supernet_ranking", report, output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
