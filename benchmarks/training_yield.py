"""Which genes make a sampled genome train at the candidate budget? Measured on finished runs.

Issue 31 asks for a trainable space: the share of sampled genomes that
train (candidate FID under half the uniform-noise FID, as
`SearchResult.training_yield` counts it), raised by sampling priors that a
measurement supports. This reads finished random-search runs (their sampled
candidates only: known designs queued from the zoo are left out), and for
each feature of a genome (every training gene; the generator's and the
discriminator's layer kinds, normalisations and layer counts) compares the
trained share of each value with the rest (Fisher's exact test, two-sided).

Rule for proposing a prior, fixed before any p-value was computed (after a
first look at the training genes' counts in these runs): a feature value
is a candidate for a sampling prior only if its trained share differs from
the rest's with p < 0.01 in every data set measured, in the same direction.
A proposed prior is then confirmed by a search study on fresh seeds before
any default uses it; none is built here.

    python benchmarks/training_yield.py --runs digits:RUN... mnist_5k:RUN... --docs

Writes `benchmarks/results/training_yield.json`; with `--docs`, its table in
`docs/benchmarks.md` (between the `training_yield` markers).
"""

import argparse
import collections
import json
import os

from _common import write_docs_block
from _common import write_result
from _parts import read_json

P_THRESHOLD = 0.01
TRAINING_GENES = ("optimizer", "loss", "g_learning_rate", "d_learning_rate", "beta_1", "beta_2")
MARKERS = ("<!-- training_yield:start -->", "<!-- training_yield:end -->")


def features(genome):
    """The features a prior could act on: `{feature: value}` of a genome dict."""
    found = {f"training.{gene}": genome["training"].get(gene) for gene in TRAINING_GENES}
    for network in ("generator", "discriminator"):
        layers = genome[network]
        kinds = sorted({layer["kind"] for layer in layers})
        norms = sorted(
            {layer.get("norm", "none") for layer in layers if layer["kind"] != "dropout"}
        )
        found[f"{network}.kinds"] = "+".join(kinds) or "none"
        found[f"{network}.norms"] = "+".join(norms) or "none"
        found[f"{network}.layers"] = len(layers)
    return found


def candidates(directory):
    """`(features, trained)` of a run's sampled candidates (zoo designs left out)."""
    from kgan_nas.results.training_yield import TRAINED_FRACTION_OF_NOISE

    with open(os.path.join(directory, "baselines.json"), encoding="utf-8") as stream:
        noise = json.load(stream)["fid_uniform_noise"]
    threshold = TRAINED_FRACTION_OF_NOISE * noise
    rows = []
    with open(os.path.join(directory, "history.jsonl"), encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            if record.get("zoo"):
                continue
            objective = record.get("objective")
            trained = objective is not None and objective < threshold
            rows.append((features(record["genome"]), trained))
    return rows


def table(rows):
    """Per feature and value: trained, total, share, and Fisher's p against the rest."""
    import scipy.stats

    total_trained = sum(trained for _, trained in rows)
    result = {}
    names = sorted({name for found, _ in rows for name in found})
    for name in names:
        counts = collections.defaultdict(lambda: [0, 0])
        for found, trained in rows:
            counts[str(found[name])][0] += int(trained)
            counts[str(found[name])][1] += 1
        values = {}
        for value, (trained, total) in sorted(counts.items()):
            rest_trained, rest_total = total_trained - trained, len(rows) - total
            p = None
            if total and rest_total:
                p = float(
                    scipy.stats.fisher_exact(
                        [[trained, total - trained], [rest_trained, rest_total - rest_trained]]
                    )[1]
                )
            values[value] = {
                "trained": trained,
                "total": total,
                "share": trained / total,
                "rest_share": rest_trained / rest_total if rest_total else None,
                "p": p,
            }
        result[name] = values
    return result


def proposals(tables):
    """Feature values that pass the rule in every data set, in one direction."""
    found = []
    datasets = list(tables)
    if not datasets:
        return found
    for name, values in tables[datasets[0]].items():
        for value in values:
            cells = [tables[d].get(name, {}).get(value) for d in datasets]
            if any(c is None or c["p"] is None or c["p"] >= P_THRESHOLD for c in cells):
                continue
            directions = {c["share"] > c["rest_share"] for c in cells}
            if len(directions) == 1:
                found.append({"feature": name, "value": value, "raises": directions.pop()})
    return found


def markdown(report):
    """Per data set: its yield and the feature values with the lowest p; then the rule's answer."""
    lines = []
    for dataset, info in report["datasets"].items():
        lines.append(
            f"`{dataset}`: {info['trained']} of {info['candidates']} sampled candidates trained "
            f"({len(info['runs'])} runs). Feature values with p < 0.05:"
        )
        lines += [
            "",
            "| feature | value | trained | share | rest | p |",
            "|---|---|---|---|---|---|",
        ]
        cells = [
            (name, value, cell)
            for name, values in report["tables"][dataset].items()
            for value, cell in values.items()
            if cell["p"] is not None and cell["p"] < 0.05
        ]
        for name, value, cell in sorted(cells, key=lambda item: item[2]["p"]):
            lines.append(
                f"| `{name}` | `{value}` | {cell['trained']}/{cell['total']} | "
                f"{cell['share']:.2f} | {cell['rest_share']:.2f} | {cell['p']:.4f} |"
            )
        if not cells:
            lines.append("| (none) | | | | | |")
        lines.append("")
    found = report["proposals"]
    if found:
        lines.append(
            "Values that pass the rule (p < 0.01 in every data set, one direction): "
            + ", ".join(f"`{f['feature']}={f['value']}`" for f in found)
            + ". Each still needs a confirming study on fresh seeds."
        )
    else:
        lines.append(
            "No feature value passes the rule (p < 0.01 in every data set, one direction): "
            "the measurement supports no sampling prior yet."
        )
    return "\n".join(lines) + "\n"


def parser():
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument(
        "--runs", nargs="+", required=True, help="DATASET:RUN_DIR of finished random searches"
    )
    arguments.add_argument("--output", default=None)
    arguments.add_argument("--docs", action="store_true", help="write the table into the docs")
    return arguments


def main(argv=None):
    args = parser().parse_args(argv)
    by_dataset = collections.defaultdict(list)
    runs = collections.defaultdict(list)
    for item in args.runs:
        dataset, directory = item.split(":", 1)
        by_dataset[dataset] += candidates(directory)
        runs[dataset].append(directory)
    tables = {dataset: table(rows) for dataset, rows in by_dataset.items()}
    report = {
        "rule": {"p_threshold": P_THRESHOLD, "test": "Fisher exact, two-sided, value vs rest"},
        "datasets": {
            dataset: {
                "runs": runs[dataset],
                "candidates": len(rows),
                "trained": sum(trained for _, trained in rows),
            }
            for dataset, rows in by_dataset.items()
        },
        "tables": tables,
        "proposals": proposals(tables),
    }
    path = write_result("training_yield", report, args.output)
    if args.docs:
        write_docs_block(MARKERS, markdown(read_json(path)))


if __name__ == "__main__":
    main()
