"""Issue 18's pre-registered study: does the search beat random search at equal training steps?

Variants (`VARIANTS`): the default strategy (genetic, with weight inheritance)
against random search on every seed of `SEEDS`; random search with
successive halving, the genetic search without inheritance, and the genetic
search with successive halving on the first `VARIANT_SEEDS` of them. The
seeds, the variants and the budgets (`PLAN`) are fixed here, before any run,
and never tuned on the results.

Every variant of a seed gets the same training budget, counted in training
steps actually spent (`evaluations * steps`; a multi-fidelity variant runs
as many whole generations as fit in it). Two comparisons, within each seed
only (each seed has its own data split and so its own domain extractor
scale):

1. the search itself: the best candidate by the one ranking
   (`kgan_nas.results.search_result`) after the same number of steps spent, the lesser
   of what the two compared runs spent (`steps_curve`, `value_at`; changed
   from the least of every variant of the seed before the variants' runs,
   so that a pair's values do not depend on which other variants ran);
2. the winner retrained from scratch at equal steps: `kgan_nas.finalize`
   (`top_k=1`) trains each run's best genome `--final-seeds` times for
   `--final-steps` steps and scores it on the held-out split.

Per variant against random: per-seed values, wins (strictly lower FID),
a one-sided sign test and a one-sided Wilcoxon signed-rank test (scipy),
the rung-to-rung Spearman of each multi-fidelity run, and a plot of the
best-so-far FID against the steps spent, one panel per seed, with each
run's real-vs-real FID and, for a seed whose data matches `--baselines`,
the hand-designed baselines (retrained protocol) as reference lines.

Runs in parts that resume: searches live under `--runs` and are resumed
(finished records reused) when the script restarts; finished final runs
are kept. `--stage search` runs only the searches, `--stage final` adds the
retraining, `--stage report` only reads what is there.

    python benchmarks/search_quality.py                      # the whole study (hours)
    python benchmarks/search_quality.py --seeds 2 --evaluations 4 --steps 10 \
        --population 2 --rungs 3 10 30 --final-steps 10 --num-samples 100 \
        --output /tmp/sq_smoke                               # a smoke run (minutes)

Writes `<output>.json` (default `benchmarks/results/search_quality_study.json`)
and `<output>.png`; `benchmarks/results/search_quality.json` holds the earlier,
not pre-registered study that `docs/benchmarks.md` reports.
"""

import argparse
import math
import os

from _common import RESULTS
from _common import write_result

# Pre-registered before any run of this study; never tuned.
SEEDS = {"digits": tuple(range(10)), "mnist_5k": (0, 1, 2)}
VARIANT_SEEDS = 5
MAIN_VARIANTS = ("genetic", "random")
VARIANTS = {
    "genetic": {"strategy": "genetic"},  # the default strategy: inheritance on
    "random": {"strategy": "random"},
    "random_sh": {"strategy": "random", "fidelity": True},
    "genetic_noinherit": {"strategy": "genetic", "options": {"inherit_weights": False}},
    "genetic_sh": {"strategy": "genetic", "fidelity": True},
    # Issue 19, added before any of its runs: the default strategy in a space
    # with the training-recipe genes and the residual and minibatch-std
    # layers (`SearchSpace.with_recipe()`, whose choices the study was run
    # with), compared with `genetic` (the same strategy in the old space).
    "genetic_recipe": {"strategy": "genetic", "space": "recipe", "against": "genetic"},
}
PLAN = {
    "digits": dict(
        evaluations=24,
        steps=200,
        population=8,
        sh_population=9,
        rungs=(67, 200, 600),
        eta=3,
        final_steps=1000,
        final_seeds=2,
        num_samples=500,
    ),
    "mnist_5k": dict(
        evaluations=24,
        steps=300,
        population=8,
        sh_population=9,
        rungs=(100, 300, 900),
        eta=3,
        final_steps=2000,
        final_seeds=2,
        num_samples=1000,
    ),
}


def steps_curve(history):
    """`[steps spent, best FID]` after each record, "best" by the one ranking.

    Steps spent are each record's own training steps (`fitness.steps`, a
    failed candidate's included), summed in history order: the compute
    budget, whatever weights a candidate inherited. The best is
    `kgan_nas.results.records.best_record`, so a multi-fidelity run's best is its
    best top-rung candidate, as the search itself reports it.
    """
    from kgan_nas.results.records import best_record

    points, spent = [], 0
    for index, record in enumerate(history):
        spent += int(record["fitness"].get("steps") or 0)
        best = best_record(history[: index + 1])
        points.append([spent, float(best["fitness"]["fid"]) if best else math.inf])
    return points


def value_at(curve, steps):
    """The best FID of `steps_curve` once no more than `steps` steps were spent (inf before;
    a stored curve holds null where its best was still infinite)."""
    values = [value for spent, value in curve if spent <= steps]
    return math.inf if not values or values[-1] is None else values[-1]


def search_seconds(history):
    """Wall time of a run from its records (each has its end `time` and its `total` seconds).

    Taken from the run directory, not from this process, so a resumed run still
    reports how long it took.
    """
    ends = [record["time"] for record in history]
    starts = [
        record["time"] - (record["fitness"]["seconds"].get("total") or 0.0) for record in history
    ]
    return round(max(ends) - min(starts), 1) if history else 0.0


def candidate_seconds(history):
    """CPU-side cost of a run: the sum of its candidates' own seconds (build,
    compile, train, score), whatever ran beside them. Variants that spend the
    same steps can differ here (the recipe genes' extra discriminator work)."""
    return round(sum(record["fitness"]["seconds"].get("total") or 0.0 for record in history), 1)


def generations_for(name, args):
    """Whole generations of variant `name` that fit in the seed's step budget."""
    budget = args.evaluations * args.steps
    if not VARIANTS[name].get("fidelity"):
        return max(1, budget // (args.population * args.steps))
    from kgan_nas.core.fidelity import SuccessiveHalving

    schedule = SuccessiveHalving(rungs=tuple(args.rungs), eta=args.eta)
    return max(1, budget // schedule.generation_steps(args.sh_population))


def variant_space(name, args):
    """The `SearchSpace` variant `name` searches: the plain one, or `with_recipe()`."""
    import kgan_nas

    space = kgan_nas.SearchSpace(image_shape=args.image_shape, max_params=args.max_params)
    return space.with_recipe() if VARIANTS[name].get("space") == "recipe" else space


def run_search(name, seed, args):
    """One (variant, seed) search, resumed if its directory holds it; returns its directory."""
    import kgan_nas

    variant = VARIANTS[name]
    directory = os.path.join(args.runs, f"{args.dataset}_{name}_seed{seed}")
    fidelity = None
    if variant.get("fidelity"):
        fidelity = {"kind": "successive_halving", "rungs": tuple(args.rungs), "eta": args.eta}
    kgan_nas.search(
        args.dataset,
        space=variant_space(name, args),
        strategy=variant["strategy"],
        preset="default",
        generations=generations_for(name, args),
        population=args.sh_population if fidelity else args.population,
        steps_per_candidate=args.rungs[-1] if fidelity else args.steps,
        directory=directory,
        seed=seed,
        verbose=0,
        final=None,
        options=kgan_nas.SearchOptions(
            num_samples=args.num_samples, strategy_options=variant.get("options"), fidelity=fidelity
        ),
        run=kgan_nas.RunSettings(
            executor=args.executor, workers=args.workers, backend=args.backend
        ),
    )
    return directory


def retrain_winner(directory, args):
    """The run's best genome retrained from scratch (`kgan_nas.finalize`, top 1): its FID."""
    import kgan_nas

    result = kgan_nas.finalize(
        directory,
        top_k=1,
        seeds=args.final_seeds,
        steps=args.final_steps,
        num_samples=args.num_samples,
        verbose=0,
    )
    genome = result.final_summary()["genomes"][0]
    return {"key": genome["key"], "fid": genome["fid_mean"], "fids": genome["fids"]}


def describe_run(name, seed, directory):
    """What the study reads from one run directory."""
    import kgan_nas

    result = kgan_nas.SearchResult(directory)
    history = result.history
    final = result.final_summary()
    winner = None
    if final:
        genome = final["genomes"][0]
        winner = {"key": genome["key"], "fid": genome["fid_mean"], "fids": genome["fids"]}
    best = result.best_record
    return {
        "variant": name,
        "seed": seed,
        "directory": os.path.relpath(directory),
        "data_fingerprint": result.config["data_fingerprint"],
        "records": len(history),
        "failed": sum(r["status"] != "ok" for r in history),
        "steps_curve": steps_curve(history),
        "best_key": best["key"] if best else None,
        "best_total_steps": best.get("total_steps") if best else None,
        "real_vs_real_fid": result.baselines().get("fid_train_vs_eval"),
        "fidelity_check": result.fidelity_check(),
        "retrained": winner,
        "wall_seconds": search_seconds(history),
        "candidate_seconds": candidate_seconds(history),
    }


def paired_test(values, reference):
    """Wins of `values` over `reference` (lower FID wins), with one-sided p-values.

    Args:
        values: Per-seed values of a variant.
        reference: Per-seed values of random search, in the same seed order.

    Returns:
        A dict: `wins`, `losses`, `ties`, `pairs`, `sign_test_p` (binomial,
        ties dropped) and `wilcoxon_p` (signed-rank on the differences);
        a p-value is None where the test is undefined.
    """
    import scipy.stats

    pairs = [(v, r) for v, r in zip(values, reference) if math.isfinite(v) and math.isfinite(r)]
    differences = [v - r for v, r in pairs]
    wins = sum(d < 0 for d in differences)
    losses = sum(d > 0 for d in differences)
    sign = None
    if wins + losses:
        sign = float(scipy.stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue)
    wilcoxon = None
    if any(differences):
        try:
            wilcoxon = float(scipy.stats.wilcoxon(differences, alternative="less").pvalue)
        except ValueError:
            wilcoxon = None
    return {
        "wins": wins,
        "losses": losses,
        "ties": len(differences) - wins - losses,
        "pairs": len(pairs),
        "sign_test_p": sign,
        "wilcoxon_p": wilcoxon,
    }


def spent(run):
    """The training steps a run spent: the last point of its `steps_curve` (0 if empty)."""
    return run["steps_curve"][-1][0] if run["steps_curve"] else 0


def compare_runs(by, seeds, name, reference, label="variant"):
    """Run `name` against run `reference`, within each seed: at equal steps and retrained.

    The studies' one pairing: a seed counts where both ran, and each pair is
    compared at the steps both spent (the lesser of the two), so its values
    do not depend on which other runs exist.

    Args:
        by: Runs by `(name, seed)`, each with `steps_curve` and `retrained`
            (a dict with `fid`, or None where the winner was not retrained).
        seeds: The seeds to look at, in order.
        name: The compared run's name.
        reference: The reference run's name (e.g. `"random"`).
        label: The key of the compared run's values in the result.

    Returns:
        A dict: `seeds`, `steps`, `search_at_equal_steps` and `retrained`
        (each: both per-seed values, under `label` and `reference`, and
        `paired_test`'s counts and p-values).
    """
    shared = [s for s in seeds if (name, s) in by and (reference, s) in by]
    steps = [min(spent(by[(name, s)]), spent(by[(reference, s)])) for s in shared]
    searched = [value_at(by[(name, s)]["steps_curve"], n) for s, n in zip(shared, steps)]
    reference_searched = [
        value_at(by[(reference, s)]["steps_curve"], n) for s, n in zip(shared, steps)
    ]
    retrained = [_retrained_fid(by[(name, s)]) for s in shared]
    reference_retrained = [_retrained_fid(by[(reference, s)]) for s in shared]
    return {
        "seeds": shared,
        "steps": steps,
        "search_at_equal_steps": {
            label: searched,
            reference: reference_searched,
            **paired_test(searched, reference_searched),
        },
        "retrained": {
            label: retrained,
            reference: reference_retrained,
            **paired_test(retrained, reference_retrained),
        },
    }


def summarise(runs):
    """Per variant against random search, within each seed: at equal steps and retrained.

    Two runs of a seed are compared at the steps both spent (the lesser of
    the two), so a pair's values do not depend on which other variants ran.

    Returns:
        A dict: `against_random` per variant (random excluded) and
        `against_reference` per variant with an `against` in `VARIANTS`,
        each with `seeds`, `steps` (the steps each seed compares at),
        `search_at_equal_steps` and `retrained` (each: both per-seed values
        and `paired_test`); and `equal_steps`, the least steps any run of a
        seed spent.
    """
    by = {(run["variant"], run["seed"]): run for run in runs}
    seeds = sorted({run["seed"] for run in runs})

    equal_steps = {
        seed: min((spent(run) for run in runs if run["seed"] == seed), default=0) for seed in seeds
    }
    names = list(dict.fromkeys(run["variant"] for run in runs))
    table = {name: compare_runs(by, seeds, name, "random") for name in names if name != "random"}
    # A variant with an `against` (the recipe space) is also compared with that one.
    other = {
        name: dict(
            compare_runs(by, seeds, name, VARIANTS[name]["against"]),
            reference=VARIANTS[name]["against"],
        )
        for name in names
        if VARIANTS.get(name, {}).get("against")
    }
    return {"equal_steps": equal_steps, "against_random": table, "against_reference": other}


def _retrained_fid(run):
    return run["retrained"]["fid"] if run.get("retrained") else math.inf


def plot(runs, path, title, baselines=None):
    """Best-so-far FID against steps spent, a panel per seed, with reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = sorted({run["seed"] for run in runs})
    columns = min(5, len(seeds))
    rows = math.ceil(len(seeds) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.4 * columns, 2.9 * rows), squeeze=False, sharex=True
    )
    colours = {name: f"C{index}" for index, name in enumerate(VARIANTS)}  # one per variant
    for axis, seed in zip(axes.flat, seeds):
        for run in (r for r in runs if r["seed"] == seed):
            points = [(x, y) for x, y in run["steps_curve"] if math.isfinite(y)]
            if points:
                axis.step(
                    *zip(*points), where="post", color=colours[run["variant"]], label=run["variant"]
                )
        _reference_lines(axis, [r for r in runs if r["seed"] == seed], baselines)
        axis.set_yscale("log")
        axis.set_title(f"seed {seed}", fontsize=9)
        axis.grid(True, which="both", alpha=0.3)
    for axis in axes.flat[len(seeds) :]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("training steps spent")
    for axis in axes[:, 0]:
        axis.set_ylabel("best-so-far fid_domain")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0.2 / rows, 1, 0.95))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _reference_lines(axis, runs, baselines):
    """A seed's real-vs-real FID and the hand-designed baselines made on its data.

    `baselines` is a list of baselines reports; each model's best rate
    (`best`) is drawn, on the seeds whose data fingerprint the report's
    `source` names.
    """
    floor = next((r["real_vs_real_fid"] for r in runs if r.get("real_vs_real_fid")), None)
    if floor:
        axis.axhline(floor, color="grey", linestyle=":", linewidth=1, label="real vs real")
    fingerprints = {r["data_fingerprint"] for r in runs}
    for report in baselines or ():
        if report.get("source", {}).get("fingerprint") not in fingerprints:
            continue
        best = sorted(report.get("best", {}).values(), key=lambda row: row["model"])
        for row, style in zip(best, ["--", "-.", (0, (5, 1, 1, 1))]):
            axis.axhline(
                row["fid_mean"],
                color="black",
                linestyle=style,
                linewidth=0.8,
                label=f"{row['model']} (retrained protocol)",
            )


def print_table(summary):
    rows = [(name, "random", row) for name, row in summary["against_random"].items()]
    rows += [(name, row["reference"], row) for name, row in summary["against_reference"].items()]
    for name, reference, row in rows:
        for kind in ("search_at_equal_steps", "retrained"):
            cell = row[kind]
            print(
                f"{name:18s} vs {reference:8s} {kind:22s} wins {cell['wins']}/{cell['pairs']} "
                f"(ties {cell['ties']}), sign p={_p(cell['sign_test_p'])}, "
                f"Wilcoxon p={_p(cell['wilcoxon_p'])}; per seed "
                + ", ".join(
                    f"{v:.3g} vs {r:.3g}" for v, r in zip(cell["variant"], cell[reference])
                ),
                flush=True,
            )


def _p(value):
    return "undefined" if value is None else f"{value:.3g}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(PLAN))
    parser.add_argument(
        "--seeds", type=int, help="use the first N of the fixed seeds (default: all of them)"
    )
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), help="run only these (default: all)"
    )
    parser.add_argument("--stage", default="all", choices=("search", "final", "report", "all"))
    parser.add_argument(
        "--variant-seeds",
        type=int,
        default=VARIANT_SEEDS,
        help="run the variants other than the main pair on the first N seeds (default: "
        f"{VARIANT_SEEDS}); more, to confirm a variant on seeds it was not seen on",
    )
    for key, kind in (
        ("evaluations", int),
        ("steps", int),
        ("population", int),
        ("sh_population", int),
        ("eta", int),
        ("final_steps", int),
        ("final_seeds", int),
        ("num_samples", int),
    ):
        parser.add_argument("--" + key.replace("_", "-"), type=kind, help="default: the plan's")
    parser.add_argument("--rungs", type=int, nargs="+", help="default: the plan's")
    parser.add_argument("--executor", default="subprocess", choices=("subprocess", "inprocess"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-params", type=int, default=150_000)
    parser.add_argument("--backend", default="jax", choices=("jax", "tensorflow"))
    parser.add_argument(
        "--baselines",
        nargs="*",
        default=[os.path.join(RESULTS, "baselines_digits.json")],
        help="hand-designed baselines JSONs (benchmarks/baselines.py or "
        "rescore_baselines.py) for reference lines, each drawn on the seeds whose data it "
        "was made on",
    )
    parser.add_argument("--runs", default=os.path.join("runs", "search_quality"))
    parser.add_argument(
        "--output",
        default=os.path.join(RESULTS, "search_quality_study"),
        help="results prefix: writes PREFIX.json and PREFIX.png (default: "
        "results/search_quality_study; results/search_quality.json is the earlier study's)",
    )
    args = parser.parse_args(argv)
    for path in args.baselines or ():
        if not os.path.isfile(path):  # checked now, not after hours of searches
            parser.error(
                f"--baselines {path}: no such file; give JSONs that benchmarks/baselines.py "
                "or rescore_baselines.py wrote, or --baselines with none"
            )
    for key, value in PLAN[args.dataset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.image_shape = (8, 8, 1) if args.dataset == "digits" else (28, 28, 1)
    return args


def planned_runs(args):
    """(variant, seed) pairs: the main pair on every seed, the others on the first few."""
    seeds = SEEDS[args.dataset][: args.seeds] if args.seeds else SEEDS[args.dataset]
    chosen = args.variants or list(VARIANTS)
    pairs = []
    for index, seed in enumerate(seeds):
        for name in chosen:
            if name in MAIN_VARIANTS or index < args.variant_seeds:
                pairs.append((name, seed))
    return pairs


def main(argv=None):
    import json

    args = parse_args(argv)
    runs = []
    for name, seed in planned_runs(args):
        directory = os.path.join(args.runs, f"{args.dataset}_{name}_seed{seed}")
        if args.stage != "report":
            directory = run_search(name, seed, args)
        if args.stage in ("final", "all"):
            retrain_winner(directory, args)
        if not os.path.isfile(os.path.join(directory, "config.json")):
            print(f"seed {seed} {name}: no run yet in {directory}", flush=True)
            continue
        run = describe_run(name, seed, directory)
        runs.append(run)
        retrained = run["retrained"]["fid"] if run["retrained"] else float("nan")
        print(
            f"seed {seed} {name:18s} {run['records']} records, {run['steps_curve'][-1][0]} steps, "
            f"best fid {run['steps_curve'][-1][1]:.3f}, retrained {retrained:.3f}",
            flush=True,
        )
    summary = summarise(runs)
    print_table(summary)
    baselines = []
    for path in args.baselines or ():
        with open(path) as stream:
            baselines.append(json.load(stream))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    plot(
        runs,
        args.output + ".png",
        f"{args.dataset}: best-so-far against steps spent ({args.evaluations} x {args.steps} "
        f"steps per run)",
        baselines,
    )
    settings = {k: v for k, v in vars(args).items() if k not in ("output", "runs", "baselines")}
    write_result(
        "search_quality_study",
        {
            "benchmark": "search_quality_study",
            "plan": {
                "seeds": list(SEEDS[args.dataset]),
                "variant_seeds": VARIANT_SEEDS,
                "variants": VARIANTS,
                "budgets": PLAN[args.dataset],
            },
            "args": dict(settings, runs=os.path.relpath(args.runs)),
            "summary": summary,
            "runs": runs,
        },
        path=args.output + ".json",
    )
    print(f"wrote {os.path.relpath(args.output)}.json and .png")


if __name__ == "__main__":
    main()
