"""Genetic vs random search at equal evaluation budget on digits, several seeds.

Each (strategy, seed) pair is a real `kgan_nas.search` run: same data, same
search space, same per-candidate budget (a fixed number of training steps, no
time limit, so the result does not depend on machine load), same number of
evaluations. The figure of merit is the best-so-far domain FID after each
evaluation. Runs live under `--runs` and are resumed if the script is
restarted, so a killed benchmark loses nothing, and a variant added later
reuses the runs already there.

Genetic variants are named with their `GeneticSearch` options:

    python benchmarks/search_quality.py --seeds 5 --generations 4 --population 6 \
        --variant 'genetic={}' --variant 'genetic-inherit={"inherit_weights": true}'

Writes `benchmarks/results/search_quality.json` and `search_quality.png`.
"""

import argparse
import json
import os

import numpy as np
from _common import RESULTS
from _common import write_result


def best_so_far(history, evaluations):
    """Best-so-far FID after each of the first `evaluations` records (inf if none ok)."""
    values = [
        record["fitness"]["fid"] if record["fitness"]["status"] == "ok" else np.inf
        for record in history[:evaluations]
    ]
    return np.minimum.accumulate(np.asarray(values, dtype=float)).tolist()


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


def parse_variant(text):
    """`'name={"option": value}'` -> (name, options)."""
    name, separator, options = text.partition("=")
    if not separator or not name or name == "random":
        raise argparse.ArgumentTypeError(
            f"expected NAME=JSON (a name other than 'random'), got {text!r}"
        )
    try:
        options = json.loads(options)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: options are not JSON ({exc})") from None
    if not isinstance(options, dict):
        raise argparse.ArgumentTypeError(f"{name}: options must be a JSON object")
    return name, options


def run_one(name, options, seed, args):
    """One search: `name` is "random" or a genetic variant with GeneticSearch `options`."""
    import kgan_nas

    directory = os.path.join(args.runs, f"{args.tag}_{name}_seed{seed}")
    strategy = "random" if name == "random" else "genetic"
    strategy_options = dict(options) if strategy == "genetic" else None
    # The "default" preset has no time limit per candidate; the space is the
    # quick preset's (at most 150k parameters) to keep candidates small.
    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1), max_params=args.max_params)
    result = kgan_nas.search(
        "digits",
        space=space,
        strategy=strategy,
        preset="default",
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps,
        num_samples=args.num_samples,
        workers=args.workers,
        directory=directory,
        seed=seed,
        verbose=0,
        backend=args.backend,
        strategy_options=strategy_options,
        max_candidates_per_worker=args.max_candidates_per_worker,
        final=None,  # this study compares the searches themselves
    )
    history = result.history
    budget = args.generations * args.population
    return {
        "strategy": name,
        "options": options,
        "seed": seed,
        "directory": os.path.relpath(directory),
        "evaluations": len(history[:budget]),
        "failed": sum(r["fitness"]["status"] != "ok" for r in history[:budget]),
        "best_so_far": best_so_far(history, budget),
        "candidate_seconds": [r["fitness"]["seconds"].get("total") for r in history[:budget]],
        "wall_seconds": search_seconds(history[:budget]),
    }


def summarise(runs, seeds):
    """Per strategy: final best FID per seed, mean and std; per variant: seeds won against
    random search (strictly lower final FID; a tie is not a win)."""
    names = list(dict.fromkeys(run["strategy"] for run in runs))
    table = {}
    for name in names:
        finals = [run["best_so_far"][-1] for run in runs if run["strategy"] == name]
        table[name] = {
            "mean": float(np.mean(finals)),
            "std": float(np.std(finals, ddof=1)) if len(finals) > 1 else 0.0,
            "finals": finals,
        }
    by_seed = {(run["strategy"], run["seed"]): run["best_so_far"][-1] for run in runs}
    wins = {
        name: sum(by_seed[(name, s)] < by_seed[("random", s)] for s in seeds)
        for name in names
        if name != "random"
    }
    return table, wins


def plot(runs, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2))
    names = list(dict.fromkeys(run["strategy"] for run in runs))
    palette = iter(["tab:blue", "tab:green", "tab:purple", "tab:red", "tab:brown"])
    colours = {name: "tab:orange" if name == "random" else next(palette) for name in names}
    for strategy, colour in colours.items():
        curves = np.array([run["best_so_far"] for run in runs if run["strategy"] == strategy])
        x = np.arange(1, curves.shape[1] + 1)
        for curve in curves:
            axis.plot(x, curve, color=colour, alpha=0.25, linewidth=1)
        axis.plot(
            x,
            np.median(curves, axis=0),
            color=colour,
            linewidth=2.5,
            label=f"{strategy} (median of {len(curves)} seeds)",
        )
    axis.set_yscale("log")
    axis.set_xlabel("evaluations")
    axis.set_ylabel("best-so-far fid_domain (log)")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-params", type=int, default=150_000)
    parser.add_argument("--max-candidates-per-worker", type=int, default=20)
    parser.add_argument("--backend", default="jax", choices=("jax", "tensorflow"))
    parser.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        metavar="NAME=JSON",
        help="a genetic variant and its GeneticSearch options, e.g. "
        "'genetic-mut02={\"mutation_rate\": 0.2}'; repeatable "
        "(default: genetic={})",
    )
    parser.add_argument("--tag", default="sq", help="prefix of the run directories")
    parser.add_argument("--runs", default=os.path.join("runs", "search_quality"))
    parser.add_argument("--output", default=os.path.join(RESULTS, "search_quality"))
    args = parser.parse_args(argv)

    variants = dict(args.variant or [("genetic", {})])
    seeds = list(range(args.seeds))
    runs = []
    for seed in seeds:
        for name, options in [*variants.items(), ("random", {})]:
            run = run_one(name, options, seed, args)
            runs.append(run)
            print(
                f"seed {seed} {name:16s} best fid_domain {run['best_so_far'][-1]:8.3f} "
                f"({run['failed']} failed, {run['wall_seconds']:.0f} s)",
                flush=True,
            )
    table, wins = summarise(runs, seeds)
    budget = args.generations * args.population
    print(f"\nbest fid_domain after {budget} evaluations ({len(seeds)} seeds)")
    print("| strategy | mean ± std | per seed |")
    print("|---|---|---|")
    for strategy, row in table.items():
        print(
            f"| {strategy} | {row['mean']:.2f} ± {row['std']:.2f} | "
            + ", ".join(f"{v:.2f}" for v in row["finals"])
            + " |"
        )
    for name, count in wins.items():
        print(f"{name} beats random in {count}/{len(seeds)} seeds")

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    plot(
        runs,
        args.output + ".png",
        f"digits, {budget} evaluations of {args.steps} steps, {len(seeds)} seeds",
    )
    # Paths relative to the working directory: no machine path in the results.
    write_result(
        "search_quality",
        {
            "benchmark": "search_quality",
            "args": dict(
                vars(args),
                variant=variants,
                output=os.path.relpath(args.output),
                runs=os.path.relpath(args.runs),
            ),
            "table": table,
            "wins_against_random": wins,
            "seeds": seeds,
            "runs": runs,
        },
        path=args.output + ".json",
    )
    print(f"wrote {os.path.relpath(args.output)}.png")


if __name__ == "__main__":
    main()
