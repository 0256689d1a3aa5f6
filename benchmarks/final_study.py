"""Search + final training against hand-designed baselines, per seed, on held-out FID.

For each seed in `--seeds`: a `kgan_nas.search` (with its final stage) on
`--dataset` into `<runs>/<dataset>_seed<seed>`, then the baselines of
`benchmarks/baselines.py` trained with the same final budget (steps, seeds,
EMA, scored samples) on that run's data split and scored with that run's
extractor on its held-out split. The searched result of a seed is the final
stage's chosen genome: its mean ± std held-out FID over its training seeds;
a seed is a win when that mean is below the best baseline's (each baseline
at its best learning rate, chosen on the same held-out split).

With `--recipe`, the search runs in `SearchSpace.with_recipe()` (the
training-recipe genes, issue 19) into `<runs>/<dataset>_recipe_seed<seed>`,
and the baselines are also trained with `baselines.RECIPE`
(`--recipe-dcgan-lrs`, `--recipe-mlp-lrs`): the searched genome must beat the
best of the plain and the recipe baselines. The baselines of a seed share one
folder, so the plain ones are reused (`baselines.check_extractor` stops when
another extractor scored them). A staged run gives a model no recipe rate;
its report then lists that model under `recipe_baselines_missing`, and its
wins are not the study's.

`--strategy` picks the search strategy (default genetic, the study's first
runs; `random` names the runs `<dataset>_random_seed<seed>`), and
`--final-distinct-lineages` makes the final stage take each weight lineage's
best genome first (`kgan_nas.final.stage.FinalConfig`).

Both parts resume: a finished search (and final stage) is read back, and a
finished baseline run is reused, so the study can be run in parts (one seed
at a time, `--seeds 0` then `--seeds 1`, or after a kill).

    python benchmarks/final_study.py --dataset mnist_5k --seeds 0 1
    python benchmarks/final_study.py --dataset mnist_5k --seeds 0 1 --preset mnist_cpu --recipe
    # a smoke run on digits (minutes):
    python benchmarks/final_study.py --dataset digits --preset quick --generations 1 \
        --population 2 --steps-per-candidate 5 --final-steps 5 --final-seeds 2 \
        --search-xla off --runs /tmp/study --output /tmp/study.json

Writes `benchmarks/results/final_study.json` (`final_study_recipe.json` with
`--recipe`, `final_study_random.json` with `--strategy random`; or `--output`).
"""

import argparse
import math
import os

import baselines
from _common import write_result
from search_quality import paired_test


def search_one(seed, args):
    """The search (with its final stage) of one seed; resumed when it exists."""
    import kgan_nas

    directory = os.path.join(args.runs, run_name(args, seed))
    final = {
        "top_k": args.final_top_k,
        "seeds": args.final_seeds,
        "steps": args.final_steps,
        "ema_decay": args.ema_decay,
        "distinct_lineages": args.final_distinct_lineages,
    }
    if args.final_num_samples:
        final["num_samples"] = args.final_num_samples
    result = kgan_nas.search(
        args.dataset,
        space=recipe_space(args, seed) if args.recipe else None,
        preset=args.preset,
        strategy=args.strategy,
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps_per_candidate,
        directory=directory,
        seed=seed,
        final=final,
        verbose=1,
        options=kgan_nas.SearchOptions(
            num_samples=args.num_samples,
            jit_compile={"auto": "auto", "on": True, "off": False}[args.search_xla],
            holdout_fraction=args.holdout_fraction,
        ),
        run=kgan_nas.RunSettings(workers=args.workers, executor=args.executor),
    )
    summary = result.final_summary()
    if summary is None:
        raise SystemExit(f"{directory}: the final stage did not finish (no successful genome?)")
    return directory, summary


def run_name(args, seed):
    """A seed's run folder: `<dataset>[_recipe][_<strategy>]_seed<seed>` (genetic unnamed)."""
    strategy = "" if args.strategy == "genetic" else f"_{args.strategy}"
    return f"{args.dataset}{'_recipe' if args.recipe else ''}{strategy}_seed{seed}"


def recipe_space(args, seed):
    """The preset's search space (its `max_params`) with the training-recipe genes."""
    import kgan_nas
    from kgan_nas.config import resolve_budget
    from kgan_nas.data import load_dataset

    image_shape = tuple(load_dataset(args.dataset, seed=seed).image_shape)
    max_params = resolve_budget(args.preset)["max_params"]
    return kgan_nas.SearchSpace(image_shape=image_shape, max_params=max_params).with_recipe()


def baselines_for(directory, seed, summary, args):
    """The baselines under the final stage's protocol on the run's split and extractor."""
    protocol = summary["protocol"]
    argv = [
        "--run",
        directory,
        "--steps",
        str(protocol["steps"]),
        "--seeds",
        str(protocol["seeds"]),
        "--batch-size",
        str(protocol["batch_size"]),
        "--ema-decay",
        str(protocol["ema_decay"]),
        "--num-samples",
        str(protocol["num_samples"]),
        "--runs",
        os.path.join(args.runs, f"baselines_{args.dataset}_seed{seed}"),
        "--dcgan-lrs",
        *[str(rate) for rate in args.dcgan_lrs],
        "--mlp-lrs",
        *[str(rate) for rate in args.mlp_lrs],
    ]
    for model in baselines.MODELS if args.recipe else ():
        rates = getattr(args, f"recipe_{model}_lrs")
        argv += [f"--recipe-{model}-lrs", *[str(rate) for rate in rates]]
    argv += ["--xla", args.baseline_xla]
    return baselines.run_baselines(baselines.parse_args(argv))


def search_facts(directory, summary):
    """Per final-stage genome: its search score and size, the weight lineage behind that
    score (keys, oldest first) and its total steps, and its final runs' seconds."""
    import glob
    import json

    from kgan_nas.results.records import lineage
    from kgan_nas.results.records import record_total_steps

    with open(os.path.join(directory, "history.jsonl")) as stream:
        history = [json.loads(line) for line in stream if line.strip()]
    facts = {}
    for genome in summary["genomes"]:
        key = genome["key"]
        scored = [r for r in history if r["key"] == key and r.get("objective") is not None]
        best = min(scored, key=lambda record: record["objective"], default=None)
        seconds = []
        for path in sorted(
            glob.glob(os.path.join(directory, "final", f"{key}_seed*", "record.json"))
        ):
            with open(path) as stream:
                seconds.append(json.load(stream).get("seconds"))
        facts[key] = {
            "search_objective": None if best is None else best["objective"],
            "search_steps": None if best is None else best["fitness"].get("steps"),
            "generator_params": None if best is None else best["fitness"].get("params"),
            "discriminator_params": None
            if best is None
            else best["fitness"].get("discriminator_params"),
            "lineage": []
            if best is None
            else [r["key"] for r in lineage(history, key, best["generation"])],
            "search_total_steps": None if best is None else record_total_steps(history, best),
            "final_seconds": seconds,
        }
    return facts


def compare(seed, directory, summary, baseline_report):
    """One seed's row: the searched genome against the best baseline."""
    chosen = summary["chosen"]
    best = min(baseline_report["best"].values(), key=lambda row: row["fid_mean"], default=None)
    return {
        "seed": seed,
        "run": directory,
        "protocol": summary["protocol"],
        "searched": {
            "key": chosen["key"],
            "fid_mean": chosen["fid_mean"],
            "fid_std": chosen["fid_std"],
            "genomes": summary["genomes"],
            "search": search_facts(directory, summary),
        },
        "baselines": baseline_report["rows"],
        "best_baseline": best,
        "searched_wins": best is not None and chosen["fid_mean"] < best["fid_mean"],
    }


def tally(rows):
    """Wins over the seeds' rows, and the paired test of searched against best baseline.

    A seed without a baseline is no win and drops out of the test's pairs.
    """
    return {
        "wins": sum(row["searched_wins"] for row in rows),
        "seeds": len(rows),
        "searched_vs_best_baseline": paired_test(
            [row["searched"]["fid_mean"] for row in rows],
            [
                math.inf if row["best_baseline"] is None else row["best_baseline"]["fid_mean"]
                for row in rows
            ],
        ),
    }


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--dataset", default="mnist_5k")
    arguments.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    arguments.add_argument("--preset", default="default")
    for name in ("generations", "population", "steps_per_candidate", "num_samples", "workers"):
        arguments.add_argument("--" + name.replace("_", "-"), type=int, help="default: preset's")
    arguments.add_argument("--holdout-fraction", type=float, default=0.15)
    arguments.add_argument("--executor", default="subprocess")
    arguments.add_argument("--final-top-k", type=int, default=2)
    arguments.add_argument("--final-seeds", type=int, default=2)
    arguments.add_argument("--final-steps", type=int, default=2000)
    arguments.add_argument("--final-num-samples", type=int, help="default: 2x the search's")
    arguments.add_argument("--ema-decay", type=float, default=0.999)
    arguments.add_argument(
        "--final-distinct-lineages",
        action="store_true",
        help="final stage: each weight lineage's best genome first (FinalConfig); "
        "results/final_study_lineage.json was made with it",
    )
    arguments.add_argument(
        "--strategy",
        choices=("genetic", "random"),
        default="genetic",
        help="the search strategy; a strategy other than genetic names the runs "
        "<dataset>_<strategy>_seed<seed>",
    )
    arguments.add_argument(
        "--dcgan-lrs", type=float, nargs="+", default=list(baselines.LEARNING_RATES["dcgan"])
    )
    arguments.add_argument(
        "--mlp-lrs", type=float, nargs="+", default=list(baselines.LEARNING_RATES["mlp"])
    )
    arguments.add_argument(
        "--recipe",
        action="store_true",
        help="search SearchSpace.with_recipe() and add the recipe baselines",
    )
    # The DCGAN with the recipe costs about twice its plain runs on a CPU, so one
    # rate: 5e-4, the plain DCGAN's best on both seeds of results/final_study.json
    # (chosen on the held-out split, which favours the baseline) and the rate
    # of results/recipe_ablation_gpu.json.
    # Given with no rate, a model has no recipe baseline (a staged run: its
    # report then says nothing about that model with the recipe).
    arguments.add_argument("--recipe-dcgan-lrs", type=float, nargs="*", default=[5e-4])
    arguments.add_argument(
        "--recipe-mlp-lrs", type=float, nargs="*", default=list(baselines.LEARNING_RATES["mlp"])
    )
    # `on` by default because the seeds of results/final_study.json were run so,
    # and a run directory resumes only under the config it was started with.
    arguments.add_argument("--search-xla", choices=("auto", "on", "off"), default="on")
    # XLA changes how fast a baseline trains, not what it learns; `auto` (off on
    # a TensorFlow CPU at 2000 steps) is the faster here for the 28x28 DCGAN.
    arguments.add_argument("--baseline-xla", choices=("auto", "on", "off"), default="auto")
    arguments.add_argument("--runs", default="runs/final_study")
    arguments.add_argument(
        "--output",
        help="results JSON (default: results/final_study.json; final_study_recipe.json "
        "with --recipe, final_study_random.json with --strategy random)",
    )
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    rows = []
    for seed in args.seeds:
        directory, summary = search_one(seed, args)
        rows.append(
            compare(seed, directory, summary, baselines_for(directory, seed, summary, args))
        )
        row = rows[-1]
        best = row["best_baseline"]
        print(
            f"seed {seed}: searched {row['searched']['fid_mean']:.3f} ± "
            f"{row['searched']['fid_std']:.3f}; best baseline "
            + (
                "none"
                if best is None
                else f"{best['model']} lr {best['learning_rate']:g} "
                f"{best['fid_mean']:.3f} ± {best['fid_std']:.3f}"
            )
            + f"; searched wins: {row['searched_wins']}",
            flush=True,
        )
    missing = [
        model
        for model in baselines.MODELS
        if args.recipe and not getattr(args, f"recipe_{model}_lrs")
    ]
    if missing:
        print(f"staged: no recipe baseline for {', '.join(missing)}; these wins are not final")
    report = {
        "dataset": args.dataset,
        "preset": args.preset,
        "recipe": args.recipe,
        "strategy": args.strategy,
        "final_distinct_lineages": args.final_distinct_lineages,
        "recipe_baselines_missing": missing,
        "rows": rows,
        **tally(rows),
    }
    name = "final_study" + ("_recipe" if args.recipe else "")
    name += "" if args.strategy == "genetic" else f"_{args.strategy}"
    write_result(name, report, args.output)
    return report


if __name__ == "__main__":
    main()
