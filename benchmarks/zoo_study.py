"""Pre-registered study: does starting from known designs make the search's answer better?

Fixed before the first run (this file's commit), not to be changed after
seeing results; a variant chosen afterwards is confirmed on fresh seeds.

Question. At equal compute, is the generator a search hands back better when
its first generation holds the zoo's known designs (`SearchOptions(zoo=True)`,
the default with a final stage since the zoo landed), and does it beat the
known designs tuned the way a Keras user would tune them?

Arms, each a `kgan_nas.search` with the same budget and the same final stage
(so every arm is finalized by one path, and scored on the same held-out
images with the same cached domain extractor):

* `search`: random search, zoo off (the default before the zoo);
* `search+zoo`: random search, zoo on (today's default with a final stage);
* `zoo_tuned`: only the zoo's designs, the first generation as written, then
  each candidate a design drawn at random with training genes sampled from
  the space's choices (learning rates of G and D, betas, loss, optimizer):
  KerasTuner's random search over the known designs' training settings, with
  the same tuning freedom as the search's training genes.

Budget (`quick`-sized, digits 8x8 on 2 CPU cores): 4 generations x 6
genomes x 300 steps, batch 64, 500 scored samples, `max_params` 150,000,
held-out share 0.15; final stage top 2 x 2 seeds x 1,000 steps, EMA 0.999,
1,000 scored samples, the best known design always among the finalists
(`zoo_finalist`, on in every arm; it acts only where the zoo was used).
Seeds 10 to 14. Steps are equal across arms; seconds are recorded beside.

Measure: per seed and arm, the mean held-out `fid_domain` of the final
stage's chosen genome (lower is better).

Decision rules:

1. The zoo default. If `search+zoo` scores worse than `search` in 3 or more
   of the 5 seeds, the default turns the zoo off and the docs say why;
   otherwise it stays on.
2. The promise against tuned known designs. The docs may say the search
   beat the tuned known designs on digits at this budget only if
   `search+zoo` beats `zoo_tuned` in all 5 seeds (one-sided sign test
   p = 0.031); with fewer wins they report the count and say the evidence
   does not show it.

Each arm and seed is a run directory under `--runs` and resumes (a finished
one is read back), so the study runs in parts:

    python benchmarks/zoo_study.py --seeds 10 11 --runs runs/zoo_study
    python benchmarks/zoo_study.py --seeds 10 11 12 13 14 --runs runs/zoo_study

`--smoke` shrinks every budget (1 generation of 2 genomes, 5 steps, a
1 x 5-step final stage, in process) to check the script, never for results.

Writes `benchmarks/results/zoo_study.json` (or `--output`); with `--docs`,
also the study's table in `docs/benchmarks.md` (between the `zoo_study`
markers), rendered from that JSON by `markdown(report)`, which a test holds
the page to.
"""

import argparse
import json
import os
import time

from _common import write_docs_block
from _common import write_result
from search_quality import paired_test

ARMS = ("search", "search+zoo", "zoo_tuned")
SEEDS = (10, 11, 12, 13, 14)
BUDGET = dict(generations=4, population=6, steps_per_candidate=300)
OPTIONS = dict(batch_size=64, num_samples=500, holdout_fraction=0.15)
MAX_PARAMS = 150_000
FINAL = dict(top_k=2, seeds=2, steps=1000, ema_decay=0.999, num_samples=1000)
# `--smoke`: the same arms at a size that only checks the script runs.
SMOKE = dict(
    budget=dict(generations=1, population=2, steps_per_candidate=5),
    options=dict(batch_size=16, num_samples=100, holdout_fraction=0.15, jit_compile=False),
    final=dict(top_k=2, seeds=1, steps=5, ema_decay=0.999, num_samples=100),
)


def tuned_zoo_strategy(space, seed):
    """The `zoo_tuned` arm's strategy: known designs, training genes sampled at random
    (`strategy="tune"`, which this arm's own class became; it draws the same genomes,
    but run folders stored with the old class, `TunedZoo`, do not resume)."""
    from kgan_nas.strategies import DesignTuning

    return DesignTuning(space, seed=seed)


def run_arm(arm, seed, args):
    """One arm of one seed (resumed when its run exists); returns its row."""
    import kgan_nas

    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1), max_params=MAX_PARAMS)
    directory = os.path.join(args.runs, f"{arm.replace('+', '_')}_seed{seed}")
    strategy = tuned_zoo_strategy(space, seed) if arm == "zoo_tuned" else "random"
    budget, options, final = _sizes(args)
    started = time.time()
    result = kgan_nas.search(
        args.dataset,
        space=space,
        strategy=strategy,
        **budget,
        final=dict(final),
        options=kgan_nas.SearchOptions(**options, zoo=arm != "search"),
        run=kgan_nas.RunSettings(
            workers=args.workers, executor="inprocess" if args.smoke else "subprocess"
        ),
        directory=directory,
        seed=seed,
        verbose=1,
    )
    seconds = time.time() - started
    summary = result.final_summary()
    chosen = summary["chosen"] if summary else None
    zoo_names = {r["key"]: r["zoo"] for r in result.history if r.get("zoo")}
    # Each candidate's wall seconds, all phases ("total").
    search_seconds = sum(
        (r["fitness"].get("seconds") or {}).get("total") or 0.0 for r in result.history
    )
    return {
        "arm": arm,
        "seed": seed,
        "run": directory,
        "fid_mean": None if chosen is None else chosen["fid_mean"],
        "fid_std": None if chosen is None else chosen["fid_std"],
        "chosen_key": None if chosen is None else chosen["key"],
        "chosen_zoo": None if chosen is None else zoo_names.get(chosen["key"]),
        "chosen_genome": None if chosen is None else _describe(result, chosen["key"]),
        "finalists": [] if summary is None else [g["key"] for g in summary["genomes"]],
        "candidates": len(result.history),
        "candidates_ok": sum(r["objective"] is not None for r in result.history),
        "zoo_candidates": len(zoo_names),
        # Candidates under half the uniform-noise FID (SearchResult.training_yield).
        "training_yield": result.training_yield(),
        "candidate_seconds": search_seconds,
        "wall_seconds_this_call": seconds,
        "extractor": summary and summary["protocol"].get("extractor"),
    }


def _sizes(args):
    """`(budget, options, final)` of the study, or of `--smoke`."""
    if args.smoke:
        return SMOKE["budget"], SMOKE["options"], SMOKE["final"]
    return BUDGET, OPTIONS, FINAL


def _describe(result, key):
    from kgan_nas.core.genome import Genome

    record = next(r for r in result.history if r["key"] == key)
    return Genome.from_dict(record["genome"]).describe()


def decide(rows, seeds):
    """The pre-registered decisions, from the rows of every arm and seed."""
    fid = {(row["arm"], row["seed"]): row["fid_mean"] for row in rows}

    def values(arm):
        return [fid.get((arm, seed)) for seed in seeds]

    def finite(values):
        return [float("inf") if value is None else value for value in values]

    complete = all(value is not None for arm in ARMS for value in values(arm))
    zoo_vs_plain = paired_test(finite(values("search+zoo")), finite(values("search")))
    zoo_vs_tuned = paired_test(finite(values("search+zoo")), finite(values("zoo_tuned")))
    plain_vs_tuned = paired_test(finite(values("search")), finite(values("zoo_tuned")))
    return {
        "complete": complete and sorted(seeds) == list(SEEDS),
        "search+zoo_vs_search": zoo_vs_plain,
        "search+zoo_vs_zoo_tuned": zoo_vs_tuned,
        "search_vs_zoo_tuned": plain_vs_tuned,
        # Rule 1: the zoo stays the default unless it lost in 3 or more seeds.
        "zoo_default_stays": zoo_vs_plain["losses"] < 3,
        # Rule 2: "beats the tuned known designs" only with 5 wins of 5.
        "search_beats_tuned_designs": zoo_vs_tuned["wins"] == len(SEEDS),
    }


MARKERS = ("<!-- zoo_study:start -->", "<!-- zoo_study:end -->")


def markdown(report):
    """The study's table and decisions for `docs/benchmarks.md`, from its JSON report."""
    rows = {(row["arm"], row["seed"]): row for row in report["rows"]}
    seeds = report["seeds"]
    lines = [
        "| arm | " + " | ".join(f"seed {seed}" for seed in seeds) + " | candidates trained |",
        "|---|" + "---|" * len(seeds) + "---|",
    ]
    for arm in report["arms"]:
        cells = []
        trained = candidates = 0
        for seed in seeds:
            row = rows.get((arm, seed))
            if row is None or row["fid_mean"] is None:
                cells.append("—")
                continue
            cell = f"{row['fid_mean']:.2f} ± {row['fid_std']:.2f}"
            cells.append(cell + (f" ({row['chosen_zoo']})" if row.get("chosen_zoo") else ""))
            found = row.get("training_yield") or {}
            trained += found.get("trained", 0)
            candidates += found.get("candidates", 0)
        share = f"{trained} of {candidates}" if candidates else "—"
        lines.append(f"| `{arm}` | " + " | ".join(cells) + f" | {share} |")
    decision = report["decision"]
    plain = decision["search+zoo_vs_search"]
    tuned = decision["search+zoo_vs_zoo_tuned"]
    lines += [
        "",
        f"`search+zoo` against `search`: {plain['wins']} wins, {plain['losses']} losses, "
        f"{plain['ties']} ties. Against `zoo_tuned`: {tuned['wins']} wins, "
        f"{tuned['losses']} losses, {tuned['ties']} ties.",
    ]
    if not decision["complete"]:
        lines.append("The study is not complete: no decision stands on these rows yet.")
    else:
        lines.append(
            "Rule 1: the zoo "
            + (
                "stays the default."
                if decision["zoo_default_stays"]
                else "is turned off by default."
            )
            + " Rule 2: "
            + (
                "the search beat the tuned known designs in every seed."
                if decision["search_beats_tuned_designs"]
                else "the evidence does not show the search beating the tuned known designs."
            )
        )
    return "\n".join(lines) + "\n"


def write_docs(report, path=None):
    """Puts `markdown(report)` between the markers of `docs/benchmarks.md`."""
    write_docs_block(MARKERS, markdown(report), path)


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--dataset", default="digits")
    arguments.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    arguments.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    arguments.add_argument("--workers", type=int, default=2)
    arguments.add_argument("--runs", default="runs/zoo_study")
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--smoke", action="store_true", help="tiny budgets: checks the script")
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    rows = [run_arm(arm, seed, args) for seed in args.seeds for arm in args.arms]
    budget, options, final = _sizes(args)
    report = {
        "dataset": args.dataset,
        "arms": list(args.arms),
        "seeds": list(args.seeds),
        "smoke": args.smoke,
        "budget": dict(budget, **options, max_params=MAX_PARAMS),
        "final": final,
        "rows": rows,
        "decision": decide(rows, args.seeds),
    }
    path = write_result("zoo_study", report, args.output)
    if args.docs:
        with open(path, encoding="utf-8") as stream:
            write_docs(json.load(stream))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
