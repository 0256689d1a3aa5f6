"""Which training-recipe levers help a hand-designed GAN: each one on against all off.

The keras.io DCGAN of `benchmarks/baselines.py` at one learning rate, trained
and scored like the final stage of a search (`final_training.train_and_score`:
same steps, batch, held-out reference split, domain extractor, scored
samples), once per lever and seed:

* `base`: no lever (the baseline as `baselines.py` trains it);
* `diffaugment`: DiffAugment (`--augment`, default translation + cutout, on
  real and fake images before every discriminator call);
* `r1`: the R1 penalty on real images (`--r1-weight`);
* `d_steps2`: two discriminator updates per generator update;
* `minibatch_std`: a minibatch standard-deviation channel in the discriminator;
* `all`: every lever above together;
* `all_but_X`: every lever but X (leave-one-out).

The generator's weight average (EMA) needs no run of its own: every run
keeps one, and its record holds the FID of both the averaged weights (`fid`)
and the last weights (`fid_live`) on the same latents, so EMA's effect is
read off every row.

Variants of one seed start from the same initial weights and see the data in
the same order (`baselines.train_one`), so each lever is compared with `base`
within a seed: the per-seed differences, how many seeds it wins, and a paired
t-test's two-sided p-value (3 seeds can show a large effect, not a small one).

Runs are kept under `--runs` and reused, so the script resumes after a kill
and can run lever by lever (`--levers base r1`), levers in parallel
processes too; `--reuse-only` then reports what finished without training.
`device_recipe_ablation.sh` runs it that way on a GPU machine.

    python benchmarks/recipe_ablation.py --dataset mnist_5k --steps 1000 --seeds 3

Writes `benchmarks/results/recipe_ablation.json` (or `--output`).
"""

import statistics

import baselines
from _common import write_result

SINGLE_LEVERS = ("diffaugment", "r1", "d_steps2", "minibatch_std")
# `all_but_X`: every lever but X, to see which ones `all` owes its effect to.
LEVERS = ("base",) + SINGLE_LEVERS + ("all",) + tuple(f"all_but_{x}" for x in SINGLE_LEVERS)


def lever_options(lever, args):
    """The `baselines.train_one` options of one lever."""
    each = {
        "diffaugment": {"augment": args.augment},
        "r1": {"r1_weight": args.r1_weight},
        "d_steps2": {"d_steps": 2},
        "minibatch_std": {"minibatch_std": True},
    }
    if lever == "base":
        return {}
    if lever == "all" or lever.startswith("all_but_"):
        left_out = lever.removeprefix("all_but_")
        return {
            key: value
            for name, options in each.items()
            if name != left_out
            for key, value in options.items()
        }
    return each[lever]


def paired(base, other):
    """Per-seed differences `other - base` of held-out FID, wins and a paired t-test."""
    from scipy import stats

    seeds = sorted(set(base) & set(other))
    differences = [other[seed] - base[seed] for seed in seeds]
    result = {
        "seeds": seeds,
        "differences": differences,
        "wins": sum(difference < 0 for difference in differences),
        "mean_difference": statistics.fmean(differences) if differences else None,
        "p_value": None,
    }
    if len(differences) > 1 and any(differences):
        result["p_value"] = float(
            stats.ttest_rel(list(map(other.get, seeds)), list(map(base.get, seeds))).pvalue
        )
    return result


def summarise(records_by_lever):
    """One row per lever: FID with and without EMA, and the comparison with `base`."""

    def by_seed(records, field):
        return {
            record["seed_index"]: record[field]
            for record in records
            if record["status"] == "ok" and record.get(field) is not None
        }

    base_fid = by_seed(records_by_lever.get("base", []), "fid")
    rows = []
    for lever, records in records_by_lever.items():
        fid, live = by_seed(records, "fid"), by_seed(records, "fid_live")
        rows.append(
            {
                "lever": lever,
                "options": records[0].get("options", {}) if records else {},
                "fids": [fid[seed] for seed in sorted(fid)],
                "failed": len(records) - len(fid),
                "fid_mean": statistics.fmean(fid.values()) if fid else None,
                "fid_std": statistics.stdev(fid.values()) if len(fid) > 1 else None,
                "fid_live_mean": statistics.fmean(live.values()) if live else None,
                # EMA's effect within this lever's runs: averaged minus last weights.
                "ema": paired(live, fid),
                "against_base": None if lever == "base" else paired(base_fid, fid),
                "seconds": [record.get("seconds") for record in records],
            }
        )
    return rows


def parser():
    arguments = baselines.parser()
    arguments.description = __doc__.split("\n")[0]
    arguments.set_defaults(steps=1000, seeds=3, runs="runs/recipe_ablation")
    arguments.add_argument(
        "--levers", nargs="+", choices=LEVERS, default=["base", *SINGLE_LEVERS, "all"]
    )
    arguments.add_argument("--model", choices=("dcgan",), default="dcgan")
    arguments.add_argument("--learning-rate", type=float, default=2e-4)
    arguments.add_argument("--augment", default=baselines.RECIPE["augment"])
    arguments.add_argument("--r1-weight", type=float, default=baselines.RECIPE["r1_weight"])
    arguments.add_argument(
        "--reuse-only",
        action="store_true",
        help="train nothing: report the runs under --runs that finished (e.g. those a "
        "time-limited device machine finished)",
    )
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    data, reference, source = baselines.data_and_reference(args)
    records_by_lever = {}
    for lever in args.levers:
        options = lever_options(lever, args)
        variant = None if lever == "base" else lever
        records = [
            baselines.train_one(
                args.model,
                args.learning_rate,
                seed_index,
                data,
                reference,
                args,
                options,
                variant,
                train=not args.reuse_only,
            )
            for seed_index in range(args.seeds)
        ]
        records_by_lever[lever] = [record for record in records if record is not None]
    rows = summarise(records_by_lever)
    for row in rows:
        against = row["against_base"]
        print(
            f"{row['lever']:14} held-out FID "
            + ("failed" if row["fid_mean"] is None else f"{row['fid_mean']:.2f}")
            + (f" ± {row['fid_std']:.2f}" if row["fid_std"] is not None else "")
            + (
                f"; vs base {against['mean_difference']:+.2f}, wins {against['wins']}/"
                f"{len(against['seeds'])}"
                if against and against["mean_difference"] is not None
                else ""
            )
        )
    protocol = {
        key: getattr(args, key)
        for key in ("steps", "seeds", "batch_size", "ema_decay", "num_samples", "learning_rate")
    }
    protocol.update(model=args.model, reference="holdout", extractor="domain")
    report = {"source": source, "protocol": protocol, "rows": rows}
    write_result("recipe_ablation", report, args.output)
    return report


if __name__ == "__main__":
    main()
