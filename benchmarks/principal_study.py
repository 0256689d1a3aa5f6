"""Pre-registered principal study: the default pipeline against a known design tuned by KerasTuner.

Fixed before the first run (this file's commit), not to be changed after
seeing results; a variant chosen afterwards is confirmed on fresh seeds.

Question (issue 31). What a Keras user would do instead of running kgan_nas
is take a known design and tune its training settings with KerasTuner. At
the same compute, does `kgan_nas.search("mnist_5k", preset="mnist_cpu")`,
search plus final stage as the README runs it, hand back a better generator?

Arms, on `mnist_5k` at the `mnist_cpu` preset of this commit (its
generations x population x steps per candidate, its space, its final
stage), every arm finalized by one path, `kgan_nas.finalize` with the
preset's final stage (top 2 x 2 seeds x 2,000 steps, EMA 0.999, the
held-out split, the run's cached domain extractor, the best known design
among the finalists where it is not in the top 2):

* `pipeline`: the default pipeline, `kgan_nas.search("mnist_5k",
  preset="mnist_cpu")`: the preset's strategy (random search) and space,
  the zoo warm start on (its default with a final stage).
* `keras_tuner`: the same budget, space and zoo warm start, but every
  candidate after the known designs as written is proposed by KerasTuner's
  own `RandomSearchOracle` (`benchmarks/keras_tuner_strategy.py`): which
  zoo design, and its training genes from the space's choices (optimizer,
  both learning rates, both betas, the loss, any recipe genes). The tuning
  freedom is the search's training genes; only the architectures are
  fixed to the known designs.
* `zoo_published`: each zoo design that fits the space, at its published
  training settings, finalized (one generation holding only them, then
  the final stage with every design a finalist). The first rung of the
  ladder: a known design as written.

Equal compute is equal training steps: both searches train
generations x population candidates x steps; both final stages train
top 2 x 2 seeds x 2,000 steps (plus the zoo place). Wall seconds and
candidate-seconds are recorded beside.

Order per seed: both searches side by side (one worker each, sharing the
machine's load), then both final stages side by side, then `zoo_published`
alone, then 3 probes for the `pipeline` run (`finalize(probes=3)`: genomes
retrained once each at fixed places of the ranking, never the answer), for
the rank correlation between candidate score and final score. Probes run
after the arms' timings are taken.

Seeds 10, 11, 12, 13, 14 on mnist_5k (never used for mnist_5k before).

Measures, per seed and arm: the held-out `fid_domain` of the final stage's
chosen genome (mean and std over its 2 training seeds), with precision and
recall (k = 3) beside it; candidates, candidates that trained (yield),
candidate-seconds, search and final wall seconds. For `pipeline`, the
Spearman correlation of search score and final score over finalists and
probes.

Decision rules:

1. The claim. The README and docs may say that the default pipeline beats
   a known design tuned with KerasTuner at equal steps on mnist_5k only if
   `pipeline`'s chosen FID is lower than `keras_tuner`'s in at least 4 of
   the 5 seeds (one-sided sign test p = 0.19 at 4 of 5, 0.031 at 5 of 5;
   both reported with the Wilcoxon signed-rank p).
2. Otherwise the README says in three plain bullets what the search is worth
   against what, with the counts. If `keras_tuner` wins at least 4 of 5,
   the `mnist_cpu` default becomes tuning the known designs' training
   genes (confirmed on seeds 15 to 19 before it ships).
3. The arms must have searched the same space (recorded per row); a seed
   where they did not is not counted.

Each phase of each arm and seed writes `<runs>/<arm>_seed<s>.<phase>.json`
when done, and each arm and seed is a run directory that resumes, so the
study runs in parts across sessions; rows already in the results JSON are
restored and not run again:

    python benchmarks/principal_study.py --seeds 10 --runs runs/principal
    python benchmarks/principal_study.py --seeds 10 11 12 13 14 --runs runs/principal --docs

`--smoke` shrinks every budget (digits, 1 generation of 2, 5 steps, a
1 x 5-step final stage) to check the script, never for results.

Writes `benchmarks/results/principal_study.json` (or `--output`); with
`--docs`, the table in `docs/benchmarks.md` (between the
`principal_study` markers), rendered by `markdown(report)`, which a test
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
from search_quality import paired_test

SEEDS = (10, 11, 12, 13, 14)
ARMS = ("pipeline", "keras_tuner", "zoo_published")
PRESET = "mnist_cpu"
PROBES = 3
# Which phases make each arm's row, in order; `search` and `final` of the two
# searching arms run side by side.
PHASES = {
    "pipeline": ("search", "final", "probes"),
    "keras_tuner": ("search", "final"),
    "zoo_published": ("published",),
}
# A population above the zoo designs that fit 8x8 digits (3), so KerasTuner proposes one.
SMOKE = dict(generations=1, population=4, steps_per_candidate=5, final_steps=5)
FAILED_FID = 1e12
MARKERS = ("<!-- principal_study:start -->", "<!-- principal_study:end -->")


def preset_budget():
    """The preset's search budget and final stage, as this commit defines them."""
    from kgan_nas import config

    preset = config.PRESETS[PRESET]
    budget = {k: preset[k] for k in ("generations", "population", "steps_per_candidate")}
    bounds = {
        k: preset[k]
        for k in ("max_params", "max_train_macs", "max_generator_macs")
        if preset.get(k) is not None
    }
    return budget, bounds, dict(config.FINAL_PRESETS[PRESET])


def _settings(args):
    """`(dataset, budget, bounds, final)` of the study, or of `--smoke`."""
    budget, bounds, final = preset_budget()
    if args.smoke:
        budget = {k: SMOKE[k] for k in ("generations", "population", "steps_per_candidate")}
        final = dict(final, steps=SMOKE["final_steps"], seeds=1, num_samples=100)
        return "digits", budget, bounds, final
    return "mnist_5k", budget, bounds, final


def _smoke_options(args):
    """`--smoke` scores few images with small batches: it checks the script only."""
    return dict(num_samples=100, batch_size=16, jit_compile=False) if args.smoke else {}


def _directory(args, arm, seed):
    return os.path.join(args.runs, f"{arm}_seed{seed}")


def _space(dataset, bounds):
    import kgan_nas

    shape = (8, 8, 1) if dataset == "digits" else (28, 28, 1)
    return kgan_nas.SearchSpace(image_shape=shape, **bounds)


def run_search(arm, seed, args):
    """One arm's search (no final stage), timed; the same call resumes it."""
    from keras_tuner_strategy import KerasTunerStrategy

    import kgan_nas

    dataset, budget, bounds, _ = _settings(args)
    directory = _directory(args, arm, seed)
    resumed = os.path.exists(os.path.join(directory, "config.json"))
    from kgan_nas.config import preset_strategy

    keywords = dict(
        preset=PRESET,
        # The strategy the preset's search has with its final stage (run here as its
        # own phase: with final=None the search would take the genetic default).
        strategy=preset_strategy(PRESET),
        final=None,
        # On as the preset has it with its final stage (run here as its own phase).
        options=kgan_nas.SearchOptions(zoo=True, **_smoke_options(args)),
        run=kgan_nas.RunSettings(workers=1),
        directory=directory,
        seed=seed,
        verbose=1,
    )
    if args.smoke:
        keywords.update(budget)
    if arm == "keras_tuner":
        # The search's own space, built as the preset builds it (checked after the search).
        keywords["space"] = _space(dataset, bounds)
        keywords["strategy"] = KerasTunerStrategy(keywords["space"], seed=seed)
        keywords.update(budget)
    started = time.time()
    kgan_nas.search(dataset, **keywords)
    return {"search_seconds": time.time() - started, "resumed": resumed, "smoke": args.smoke}


def run_final(arm, seed, args):
    """One arm's final stage (the preset's); returns the row's final-stage fields."""
    import kgan_nas

    _, _, _, final = _settings(args)
    directory = _directory(args, arm, seed)
    started = time.time()
    result = kgan_nas.finalize(directory, **final, verbose=1)
    row = _row(result, time.time() - started)
    pipeline = _directory(args, "pipeline", seed)
    if os.path.exists(os.path.join(pipeline, "config.json")):
        same = kgan_nas.SearchResult(pipeline).config["space"] == result.config["space"]
        row["same_space_as_pipeline"] = same
    return row


def run_published(arm, seed, args):
    """`zoo_published`: only the zoo's designs as written, each finalized."""
    import kgan_nas
    from kgan_nas.core import zoo

    dataset, budget, bounds, final = _settings(args)
    space = _space(dataset, bounds)
    designs = zoo.genomes(space)
    directory = _directory(args, arm, seed)
    started = time.time()
    kgan_nas.search(
        dataset,
        preset=PRESET,
        space=space,
        strategy="random",
        generations=1,
        # The queued designs fill the one generation; nothing is sampled.
        population=len(designs),
        steps_per_candidate=budget["steps_per_candidate"],
        final=None,
        options=kgan_nas.SearchOptions(zoo=True, **_smoke_options(args)),
        run=kgan_nas.RunSettings(workers=1),
        directory=directory,
        seed=seed,
        verbose=1,
    )
    search_seconds = time.time() - started
    started = time.time()
    result = kgan_nas.finalize(directory, **dict(final, top_k=len(designs)), verbose=1)
    row = _row(result, time.time() - started)
    names = {r["key"]: r["zoo"] for r in result.history if r.get("zoo")}
    summary = result.final_summary()
    row.update(
        search_seconds=search_seconds,
        resumed=False,
        smoke=args.smoke,
        designs={
            names.get(g["key"], g["key"]): {
                "fid_mean": g["fid_mean"],
                "fid_std": g["fid_std"],
                "precision_mean": g.get("precision_mean"),
                "recall_mean": g.get("recall_mean"),
            }
            for g in (summary or {}).get("genomes", [])
        },
        same_space_as_pipeline=None,
    )
    return row


def run_probes(arm, seed, args):
    """The pipeline run's probes: the rank correlation of search and final scores."""
    import kgan_nas

    _, _, _, final = _settings(args)
    result = kgan_nas.finalize(_directory(args, arm, seed), **final, probes=PROBES, verbose=1)
    summary = result.final_summary() or {}
    return {"prediction": summary.get("prediction"), "probes": summary.get("probes")}


def _row(result, final_seconds):
    """The fields every arm's row has, from its finished run."""
    summary = result.final_summary()
    chosen = summary["chosen"] if summary else None
    zoo_names = {r["key"]: r["zoo"] for r in result.history if r.get("zoo")}

    def field(name):
        return None if chosen is None else chosen.get(name)

    return {
        "run": result.directory,
        "final_seconds": final_seconds,
        "candidates": len(result.history),
        "candidates_ok": sum(r["objective"] is not None for r in result.history),
        "training_yield": result.training_yield(),
        "candidate_seconds": sum(
            (r["fitness"].get("seconds") or {}).get("total") or 0.0 for r in result.history
        ),
        "search_steps": sum(r["fitness"].get("steps") or 0 for r in result.history),
        "fid_mean": field("fid_mean"),
        "fid_std": field("fid_std"),
        "precision_mean": field("precision_mean"),
        "recall_mean": field("recall_mean"),
        "chosen_key": field("key"),
        # A zoo design queued as written (its name), and the design whose layers the
        # chosen genome has, whatever its training genes (a KerasTuner trial's too).
        "chosen_zoo": zoo_names.get(field("key")),
        "chosen_design": _design_of(result, field("key")),
        "finalists": [] if summary is None else [g["key"] for g in summary["genomes"]],
    }


def _design_of(result, key):
    """The zoo design with the layer stacks of genome `key`, or None."""
    from kgan_nas.core import zoo
    from kgan_nas.core.genome import Genome

    record = next((r for r in result.history if r["key"] == key), None)
    if record is None:
        return None
    genome = Genome.from_dict(record["genome"])
    for name, design in zoo.genomes(result.space).items():
        if (design.generator, design.discriminator) == (genome.generator, genome.discriminator):
            return name
    return None


RUNNERS = {
    "search": run_search,
    "final": run_final,
    "published": run_published,
    "probes": run_probes,
}


def decide(rows, seeds):
    """The pre-registered decisions, from the rows of every arm and seed."""
    by = {(row["arm"], row["seed"]): row for row in rows}
    ran = [s for s in seeds if all((arm, s) in by for arm in ("pipeline", "keras_tuner"))]
    # Rule 3: a seed whose arms searched different spaces is run but not counted.
    counted = [s for s in ran if by[("keras_tuner", s)].get("same_space_as_pipeline") is not False]

    def fids(arm):
        # An arm whose final stage failed loses its seed: a finite stand-in worse
        # than any FID (paired_test leaves non-finite pairs out).
        value = [by[(arm, seed)]["fid_mean"] for seed in counted]
        return [FAILED_FID if v is None else v for v in value]

    test = paired_test(fids("pipeline"), fids("keras_tuner"))
    complete = sorted(ran) == list(SEEDS)
    correlations = [
        by[("pipeline", seed)]["prediction"]["spearman"]
        for seed in counted
        if (by[("pipeline", seed)].get("prediction") or {}).get("spearman") is not None
    ]
    return {
        "complete": complete,
        "seeds_counted": counted,
        "pipeline_vs_keras_tuner": test,
        # Rule 1: the claim needs 4 wins of 5.
        "claim_pipeline_beats_tuned_design": complete and test["wins"] >= 4,
        # Rule 2: the default follows the tuned design if it wins 4 of 5.
        "default_follows_keras_tuner": complete and test["losses"] >= 4,
        "mean_spearman": statistics.fmean(correlations) if correlations else None,
    }


def _fid(row):
    if row is None or row.get("fid_mean") is None:
        return "—" if row is None else "failed"
    text = f"{row['fid_mean']:.2f} ± {row['fid_std'] or 0.0:.2f}"
    if row.get("precision_mean") is not None:
        text += f" (P {row['precision_mean']:.2f}, R {row['recall_mean']:.2f})"
    return text


def _search_wall(row):
    """A search's wall seconds; a resumed one's cover only the part run after it resumed."""
    text = f"{row['search_seconds']:.0f}"
    return text + " (after a resume)" if row.get("resumed") else text


def _chosen(row):
    """What the chosen genome was: a known design as written or tuned, or searched."""
    if row.get("chosen_zoo"):
        return f"{row['chosen_zoo']} as written"
    if row.get("chosen_design"):
        return f"{row['chosen_design']}, tuned"
    return "searched"


def markdown(report):
    """The study's table and decisions for `docs/benchmarks.md`, from its JSON."""
    by = {(row["arm"], row["seed"]): row for row in report["rows"]}
    lines = [
        "| seed | arm | held-out FID of the chosen genome (precision, recall) | chosen | "
        "trained / candidates | search steps | candidate s | search wall s | final wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for seed in report["seeds"]:
        for arm in ARMS:
            row = by.get((arm, seed))
            if row is None:
                continue
            found = row.get("training_yield") or {}
            lines.append(
                f"| {seed} | `{arm}` | {_fid(row)} | {_chosen(row)} | "
                f"{found.get('trained', '—')} / {row['candidates']} | {row['search_steps']:,} | "
                f"{row['candidate_seconds']:.0f} | {_search_wall(row)} | "
                f"{row['final_seconds']:.0f} |"
            )
    decision = report["decision"]
    test = decision["pipeline_vs_keras_tuner"]
    p = test["sign_test_p"]
    lines += [
        "",
        f"`pipeline` against `keras_tuner` over seeds {decision['seeds_counted']}: "
        f"{test['wins']} wins, {test['losses']} losses, {test['ties']} ties "
        f"(one-sided sign test p = {'—' if p is None else f'{p:.3f}'}).",
    ]
    correlations = [
        f"{seed}: {by[('pipeline', seed)]['prediction']['spearman']:.2f}"
        for seed in decision["seeds_counted"]
        if (by[("pipeline", seed)].get("prediction") or {}).get("spearman") is not None
    ]
    if correlations:
        lines.append(
            f"Search score against final score (Spearman, finalists and {PROBES} probes): "
            + ", ".join(correlations)
            + "."
        )
    if not decision["complete"]:
        lines.append("The study is not complete: no decision stands on these rows yet.")
    elif decision["claim_pipeline_beats_tuned_design"]:
        lines.append("Rule 1: the default pipeline beat the KerasTuner-tuned known design.")
    else:
        lines.append(
            "Rule 1: the evidence does not show the default pipeline beating the "
            "KerasTuner-tuned known design."
            + (
                " Rule 2: the tuned design won 4 or more seeds."
                if decision["default_follows_keras_tuner"]
                else ""
            )
        )
    return "\n".join(lines) + "\n"


def parser():
    return study_parser(__doc__, SEEDS, ARMS, "principal", parts=True)


def _merged_row(args, arm, seed):
    row = {"arm": arm, "seed": seed}
    for phase in PHASES[arm]:
        row.update(read_json(part_path(args.runs, arm, seed, phase)))
    return row


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    output = study_paths(args, "principal", "principal_study")
    if args.part:
        phase, arm, seed = args.part[0], args.part[1], int(args.part[2])
        write_json(part_path(args.runs, arm, seed, phase), RUNNERS[phase](arm, seed, args))
        return
    # A published row stands for all its arm's phases.
    for arm in args.arms:
        restore_rows(output, args.runs, [arm], args.smoke, dict.fromkeys(PHASES[arm]))
    searching = [arm for arm in args.arms if arm != "zoo_published"]
    for seed in args.seeds:
        run_side_by_side(__file__, argv, args.runs, searching, seed, "search")
        run_side_by_side(__file__, argv, args.runs, searching, seed, "final")
        if "zoo_published" in args.arms:
            run_side_by_side(__file__, argv, args.runs, ["zoo_published"], seed, "published")
        if "pipeline" in args.arms:
            run_side_by_side(__file__, argv, args.runs, ["pipeline"], seed, "probes")
    # Every seed with finished parts (restored from the results JSON or run before),
    # not only this call's --seeds: a call for one seed must not drop the others.
    seeds = sorted(
        set(args.seeds)
        | {
            seed
            for seed in SEEDS
            if all(os.path.exists(part_path(args.runs, a, seed, PHASES[a][-1])) for a in args.arms)
        }
    )
    rows = [_merged_row(args, arm, seed) for seed in seeds for arm in args.arms]
    if any(row.get("smoke", False) != args.smoke for row in rows):
        raise SystemExit(f"{args.runs} mixes smoke and study rows; use another --runs")
    budget, bounds, final = _settings(args)[1:]
    report = {
        "dataset": _settings(args)[0],
        "preset": PRESET,
        "budget": dict(budget, **bounds),
        "final": final,
        "probes": PROBES,
        "arms": list(args.arms),
        "seeds": seeds,
        "smoke": args.smoke,
        "rows": rows,
        "decision": decide(rows, seeds),
    }
    path = write_result("principal_study", report, output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
