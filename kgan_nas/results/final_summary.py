"""The final stage's results: where they live, how they are summed up and shown (pure Python).

`<run>/final/` holds one published folder per (genome, seed) job
(`<key>_seed<s>/`: `generator.keras` with the moving-average weights,
`discriminator.keras`, `samples.png`, `record.json`), the chosen generator
(`generator.keras`) and `summary.json`, written last, so a run whose
`final/summary.json` exists has a finished final stage. `summarise` turns
the job records into that summary (mean ± std of the held-out FID per
genome, the chosen genome and seed); `final_table` prints it.
"""

import math
import os
import re
import statistics

FINAL_DIR = "final"
SUMMARY = "summary.json"
GENERATOR = "generator.keras"
RECORD = "record.json"
# A job folder: `<genome key>_seed<index>`.
JOB_NAME = re.compile(r"[0-9a-f]{16}_seed[0-9]+")


def job_name(key, seed_index):
    """The folder name of genome `key`'s run number `seed_index` under `final/`."""
    return f"{key}_seed{int(seed_index)}"


def summarise(records, keys, protocol, ranks=None):
    """The final stage's summary from its job records.

    Args:
        records: The job records (`record.json` contents), any order.
        keys: The genome keys in the search's ranking order (best first).
        protocol: JSON-able dict of the stage's settings (steps, seeds,
            EMA decay, samples, reference split and its size).
        ranks: Key -> the genome's rank in the search (1 = best); None
            takes each key's place in `keys`. A key it lacks has rank None.

    Returns:
        A dict: `protocol`, `genomes` (per key in `keys` order: `key`,
        `search_rank`, `fid_mean`, `fid_std` (sample std over seeds, 0 for
        one), `fid_live_mean`, `precision_mean` and `recall_mean` (None for
        records written before they were measured), `runs`, `failed`,
        `fids`), `chosen` (among
        the genomes with the most successful runs, so that a run that
        diverged counts against its genome, the one with the lowest mean
        FID; with its best seed's `job`, `seed_index` and `fid`, and the
        genome's means) or None when every run failed.
    """
    genomes = []
    ranks = ranks or {key: rank for rank, key in enumerate(keys, 1)}
    for key in keys:
        own = sorted((r for r in records if r["key"] == key), key=lambda r: r["seed_index"])
        ok = [r for r in own if r["status"] == "ok" and _finite(r.get("fid"))]
        fids = [r["fid"] for r in ok]
        live = [r["fid_live"] for r in ok if _finite(r.get("fid_live"))]
        genomes.append(
            {
                "key": key,
                "search_rank": ranks.get(key),
                "fid_mean": statistics.fmean(fids) if fids else None,
                "fid_std": statistics.stdev(fids) if len(fids) > 1 else (0.0 if fids else None),
                "fid_live_mean": statistics.fmean(live) if live else None,
                "precision_mean": _mean_of(ok, "precision"),
                "recall_mean": _mean_of(ok, "recall"),
                "fids": fids,
                "runs": len(ok),
                "failed": [
                    f"seed {r['seed_index']}: {r['status']} {r['reason']}"
                    for r in own
                    if r not in ok
                ],
                "genome": own[0]["genome"] if own else None,
            }
        )
    scored = [g for g in genomes if g["fid_mean"] is not None]
    chosen = None
    if scored:
        best = min(scored, key=lambda g: (-g["runs"], g["fid_mean"]))
        run = min(
            (
                r
                for r in records
                if r["key"] == best["key"] and r["status"] == "ok" and _finite(r.get("fid"))
            ),
            key=lambda r: r["fid"],
        )
        chosen = {
            "key": best["key"],
            "seed_index": run["seed_index"],
            "job": job_name(best["key"], run["seed_index"]),
            "fid": run["fid"],
            "fid_mean": best["fid_mean"],
            "fid_std": best["fid_std"],
            "precision_mean": best["precision_mean"],
            "recall_mean": best["recall_mean"],
        }
    return {"protocol": dict(protocol), "genomes": genomes, "chosen": chosen}


def _mean_of(records, name):
    """The mean of a score over `records`, or None where any record lacks it."""
    values = [r.get(name) for r in records]
    if not values or not all(_finite(v) for v in values):
        return None
    return statistics.fmean(values)


def read_summary(run_dir):
    """`final/summary.json` of a `RunDir`, or None when the final stage has not finished."""
    from kgan_nas.store import run_dir as run_lib

    path = run_dir.file(FINAL_DIR, SUMMARY)
    if not os.path.isfile(path):
        return None
    return run_lib.read_json(path)


def final_table(summary, metric="fid"):
    """Lines showing a final summary: protocol, then genome, mean ± std, runs.

    Args:
        summary: A dict from `summarise` (as read back from `summary.json`).
        metric: The FID's column label (e.g. `"fid_domain"`).

    Returns:
        A list of text lines.
    """
    protocol = summary["protocol"]
    lines = [
        f"Final training: top {protocol['top_k']}"
        f"{' of distinct lineages' if protocol.get('distinct_lineages') else ''} x "
        f"{protocol['seeds']} seeds x "
        f"{protocol['steps']:,} steps, EMA {protocol['ema_decay']}, {protocol['num_samples']} "
        f"samples scored on the {protocol['reference']} split ({protocol['reference_images']} "
        "images)"
    ]
    if protocol["reference"] != "holdout":
        lines.append(
            "  (no held-out split: these scores are on the eval split that selection used, "
            "so they flatter the winners)"
        )
    # Precision and recall (fidelity and coverage) where the records hold them.
    with_pr = any(g.get("precision_mean") is not None for g in summary["genomes"])
    header = f"{'search rank':>11}  {'key':16}  {metric + ' mean ± std':>22}  {'runs':>4}  " + (
        f"{'live (no EMA) mean':>18}" + ("  precision  recall" if with_pr else "")
    )
    lines += [header, "-" * len(header)]
    for genome in summary["genomes"]:
        if genome["fid_mean"] is None:
            score, live = "failed", ""
        else:
            score = f"{genome['fid_mean']:.4f} ± {genome['fid_std']:.4f}"
            live = "" if genome["fid_live_mean"] is None else f"{genome['fid_live_mean']:.4f}"
        line = (
            f"{genome['search_rank']:>11}  {genome['key']:16}  {score:>22}  {genome['runs']:>4}  "
        )
        if with_pr and genome.get("precision_mean") is not None:
            line += f"{live:>18}  {genome['precision_mean']:>9.3f}  {genome['recall_mean']:>6.3f}"
        else:
            line += f"{live:>18}" if with_pr else live
        lines.append(line.rstrip())
    chosen = summary.get("chosen")
    if chosen:
        lines.append(
            f"Chosen: {chosen['key']} seed {chosen['seed_index']} "
            f"({metric} {chosen['fid']:.4f}), saved as {FINAL_DIR}/{GENERATOR}"
        )
    return lines


def _finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)
