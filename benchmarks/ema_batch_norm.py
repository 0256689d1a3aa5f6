"""Pre-registered: does recomputing batch-norm statistics make the weight average better?

Fixed before the first run (this file's commit), not to be changed after
seeing results.

Question (issue 31). The final stage hands back the moving average (EMA) of
the generator's weights. `ema_model` copies the live generator's batch-norm
statistics into the averaged one, so in inference mode the average
normalises with means and variances measured on other weights.
`kgan_nas.training.ema.recompute_batch_norm` measures them again on the
averaged generator's own activations. Does that lower the held-out FID?

Protocol. `mnist_5k` (split seed 0, held-out share 0.15, the cached domain
extractor), the final stage's training exactly (`final.job._build_job_gan`:
2,000 steps, batch 64, EMA 0.999, XLA), 2,000 generated images scored on
the held-out split. Designs: the TensorFlow tutorial's DCGAN (`tf_dcgan`,
the zoo design with batch norm in every generator layer) fitted to the
`mnist_cpu` space (`max_params` 150,000: widths x0.125) and to a space with
`max_params` 300,000 (widths x0.25). Training seeds 0, 1, 2. Each trained
GAN is scored three ways on the same latents: the live generator, the EMA
generator as today (live statistics), and the EMA generator with its
statistics recomputed (2,048 latents, seeded by the training seed).

Decision rule: `GAN.ema_generator()` (so the final stage and every EMA
candidate) recomputes batch-norm statistics by default only if the
recomputed EMA has a lower held-out FID than today's EMA in at least 5 of
the 6 (design, seed) pairs; otherwise today's behaviour stays and the
function remains available.

Each (design, seed) writes `<runs>/<design>_seed<s>.json` when done, so the
script resumes:

    python benchmarks/ema_batch_norm.py --runs runs/ema_batch_norm

Writes `benchmarks/results/ema_batch_norm.json`; with `--docs`, its table in
`docs/benchmarks.md` (between the `ema_batch_norm` markers).
"""

import argparse
import os
import time

from _common import write_docs_block
from _common import write_result
from _parts import read_json
from _parts import write_json

DESIGNS = {"tf_dcgan@150k": 150_000, "tf_dcgan@300k": 300_000}
SEEDS = (0, 1, 2)
STEPS = 2000
BATCH = 64
EMA = 0.999
SAMPLES = 2000
BN_SAMPLES = 2048
VARIANTS = ("live", "ema", "ema_recomputed")
MARKERS = ("<!-- ema_batch_norm:start -->", "<!-- ema_batch_norm:end -->")


def setting(args):
    """The data and held-out reference (the final stage's: split seed 0, share 0.15)."""
    from baselines import data_and_reference

    return data_and_reference(
        argparse.Namespace(
            run=None,
            dataset=args.dataset,
            seed=0,
            holdout_fraction=0.15,
            runs=args.runs,
            num_samples=args.samples,
        )
    )


def run_one(design, seed, data, reference, args):
    """Trains one design with one seed as the final stage does; scores it three ways."""
    import keras

    import kgan_nas
    from kgan_nas import data as data_lib
    from kgan_nas import training
    from kgan_nas.core import zoo
    from kgan_nas.final.job import _build_job_gan
    from kgan_nas.final.job import score_on_reference
    from kgan_nas.training.ema import recompute_batch_norm

    space = kgan_nas.SearchSpace(image_shape=data.image_shape, max_params=DESIGNS[design])
    genome = zoo.genomes(space, ["tf_dcgan"])["tf_dcgan"]
    job = {
        "key": genome.key(),
        "seed": 0,
        "seed_index": seed,
        "steps": args.steps,
        "batch_size": BATCH,
        "ema_decay": EMA,
        "num_samples": args.samples,
        "jit_compile": True,
    }
    gan, training_seed = _build_job_gan(genome, space, job)
    started = time.perf_counter()
    report = training.train_for_budget(
        gan, data_lib.train_input(data.train, BATCH, seed=training_seed), steps=args.steps
    )
    train_seconds = time.perf_counter() - started
    row = {
        "design": design,
        "seed": seed,
        "key": genome.key(),
        "status": report.status,
        "steps": report.steps,
        "train_seconds": train_seconds,
    }
    if report.status != "ok":
        return row
    averaged = gan.ema_generator()
    recomputed = gan.ema_generator()
    started = time.perf_counter()
    row["batch_norm_layers"] = recompute_batch_norm(
        recomputed, latent_dim=gan.latent_dim, num_samples=BN_SAMPLES, seed=training_seed
    )
    row["recompute_seconds"] = time.perf_counter() - started
    for name, generator in zip(VARIANTS, (gan.generator, averaged, recomputed)):
        images = training.generate_images(
            generator, args.samples, latent_dim=gan.latent_dim, seed=training_seed
        )
        scores = score_on_reference(images, reference, training_seed)
        row[name] = {k: scores[k] for k in ("fid", "kid", "precision", "recall")}
    keras.backend.clear_session()
    return row


def decide(rows):
    """The registered rule: recompute by default with 5 wins of 6 over today's EMA."""
    pairs = [r for r in rows if r.get("status") == "ok"]
    wins = sum(r["ema_recomputed"]["fid"] < r["ema"]["fid"] for r in pairs)
    complete = len(rows) == len(DESIGNS) * len(SEEDS)
    return {
        "complete": complete,
        "pairs": len(pairs),
        "recomputed_beats_ema": wins,
        "recompute_by_default": complete and wins >= 5,
    }


def markdown(report):
    """The table and decision for `docs/benchmarks.md`, from the JSON."""
    lines = [
        "| design | seed | live FID | EMA FID (today) | EMA FID, statistics recomputed | "
        "precision / recall (EMA, recomputed) |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        if row.get("status") != "ok":
            lines.append(f"| `{row['design']}` | {row['seed']} | {row['status']} | | | |")
            continue
        live, ema, new = row["live"], row["ema"], row["ema_recomputed"]
        lines.append(
            f"| `{row['design']}` | {row['seed']} | {live['fid']:.2f} | {ema['fid']:.2f} | "
            f"{new['fid']:.2f} | {ema['precision']:.2f} / {ema['recall']:.2f} → "
            f"{new['precision']:.2f} / {new['recall']:.2f} |"
        )
    decision = report["decision"]
    lines += [
        "",
        f"Recomputed statistics gave the lower FID in {decision['recomputed_beats_ema']} of "
        f"{decision['pairs']} pairs.",
    ]
    if not decision["complete"]:
        lines.append("The study is not complete: no decision stands on these rows yet.")
    elif decision["recompute_by_default"]:
        lines.append("By the registered rule, `GAN.ema_generator()` now recomputes them.")
    else:
        lines.append("By the registered rule, `GAN.ema_generator()` keeps the live statistics.")
    return "\n".join(lines) + "\n"


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--dataset", default="mnist_5k")
    arguments.add_argument("--runs", default="runs/ema_batch_norm")
    arguments.add_argument("--steps", type=int, default=STEPS)
    arguments.add_argument("--samples", type=int, default=SAMPLES)
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    os.makedirs(args.runs, exist_ok=True)
    data, reference, source = setting(args)
    rows = []
    for design in DESIGNS:
        for seed in SEEDS:
            path = os.path.join(args.runs, f"{design.replace('@', '_')}_seed{seed}.json")
            if not os.path.exists(path):
                write_json(path, run_one(design, seed, data, reference, args))
            rows.append(read_json(path))
            print(rows[-1], flush=True)
    report = {
        "protocol": dict(
            source, steps=args.steps, batch_size=BATCH, ema_decay=EMA, num_samples=args.samples
        ),
        "designs": DESIGNS,
        "seeds": list(SEEDS),
        "rows": rows,
        "decision": decide(rows),
    }
    path = write_result("ema_batch_norm", report, args.output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
