"""Does a search on `generator_latency` rank generators the way a second measurement does?

A search with `objectives=("fid", "generator_latency")` times every trained
generator once, on the machine that trains it (`kgan_nas.evaluation.latency`:
the median of 7 calls after 3 warm-ups). Its Pareto front is only useful if
those times keep their order when measured again. This script runs such a
search on `digits` with one worker (so no other candidate trains beside a
timing), then loads every successful candidate's saved generator and times
it again `--repeats` times, and reports:

* the front's members in order of their search latency, with both times, and
  whether the re-measured times keep that order;
* Spearman's rank correlation of search and re-measured latencies over every
  successful candidate.

    python benchmarks/latency_order.py --runs runs/latency_order --docs

Writes `benchmarks/results/latency_order.json` (or `--output`); with
`--docs`, also its table in `docs/benchmarks.md` between the
`latency_order` markers, rendered by `markdown(report)`, which a test holds
the page to.
"""

import argparse
import json
import os
import statistics

from _common import write_docs_block
from _common import write_result

MARKERS = ("<!-- latency_order:start -->", "<!-- latency_order:end -->")


def remeasure(result, records, repeats):
    """Each record's generator timed again: the median of `repeats` measurements."""
    from kgan_nas.evaluation.latency import generator_latency

    batch = result.config["evaluation"]["latency_batch"]
    latent = result.space.latent_dim
    times = {}
    for record in records:
        generator = result.generator(record["key"])
        times[record["key"]] = statistics.median(
            generator_latency(generator, latent, batch, seed=i) for i in range(repeats)
        )
    return times


def summarise(result, times):
    """The report's rows, order check and correlation."""
    from kgan_nas.core.fidelity import spearman

    ok = [r for r in result.ranked() if r.get("generator_latency") is not None]
    front = sorted(result.pareto_front(), key=lambda r: r["generator_latency"])
    rows = [
        {
            "key": r["key"],
            "fid": r["objective"],
            "search_latency": r["generator_latency"],
            "remeasured_latency": times[r["key"]],
        }
        for r in front
    ]
    remeasured = [row["remeasured_latency"] for row in rows]
    return {
        "front": rows,
        "front_order_kept": remeasured == sorted(remeasured),
        "candidates": len(ok),
        "spearman_all": spearman(
            [r["generator_latency"] for r in ok], [times[r["key"]] for r in ok]
        ),
    }


def markdown(report):
    """The table and the two findings for `docs/benchmarks.md`, from the JSON report."""
    lines = [
        "| front member | FID | search latency (ms / batch) | re-measured (ms / batch) |",
        "|---|---|---|---|",
    ]
    for row in report["front"]:
        lines.append(
            f"| `{row['key']}` | {row['fid']:.2f} | {1000 * row['search_latency']:.2f} | "
            f"{1000 * row['remeasured_latency']:.2f} |"
        )
    value = report["spearman_all"]
    lines += [
        "",
        f"Re-measured, the front {'keeps' if report['front_order_kept'] else 'does not keep'} "
        f"its order. Over all {report['candidates']} successful candidates, Spearman's "
        "correlation of search and re-measured latency is "
        + ("undefined" if value is None else f"{value:.2f}")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def write_docs(report, path=None):
    """Puts `markdown(report)` between the markers of `docs/benchmarks.md`."""
    write_docs_block(MARKERS, markdown(report), path)


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--runs", default="runs/latency_order")
    arguments.add_argument("--generations", type=int, default=2)
    arguments.add_argument("--population", type=int, default=8)
    arguments.add_argument("--steps", type=int, default=100)
    arguments.add_argument("--repeats", type=int, default=3)
    arguments.add_argument("--seed", type=int, default=0)
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    return arguments


def main(argv=None):
    import kgan_nas

    args = parser().parse_args(argv)
    result = kgan_nas.search(
        "digits",
        space=kgan_nas.SearchSpace(image_shape=(8, 8, 1), max_params=150_000),
        strategy="random",
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps,
        final=None,
        options=kgan_nas.SearchOptions(
            objectives=("fid", "generator_latency"), num_samples=500, batch_size=64
        ),
        run=kgan_nas.RunSettings(workers=1),
        directory=os.path.join(args.runs, f"digits_seed{args.seed}"),
        seed=args.seed,
        verbose=1,
    )
    ok = [r for r in result.ranked() if r.get("generator_latency") is not None]
    report = dict(
        summarise(result, remeasure(result, ok, args.repeats)),
        settings=vars(args),
        run=result.directory,
    )
    path = write_result("latency_order", report, args.output)
    if args.docs:
        with open(path, encoding="utf-8") as stream:
            write_docs(json.load(stream))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
