"""Does a supernet path's score predict the genome trained on its own? The weight-sharing check.

A gradient-based search scores each genome its supernet derives twice: as a
path of the trained supernet, its weights inherited and nothing trained
(`kgan_nas.supernet.search.subnet_scores`, kept in `supernet.json`), and as
an ordinary candidate trained from scratch (the history). Weight-sharing
evaluation is only worth its low cost where the first ranks genomes like
the second; this module measures that, per run. Pure Python.
"""

from kgan_nas.core.fidelity import MIN_PAIRS
from kgan_nas.core.fidelity import spearman


def supernet_check(supernet, history):
    """The rank correlation between supernet-path scores and stand-alone scores.

    Args:
        supernet: The run's `supernet.json` dict, or None.
        history: The run's history records.

    Returns:
        None for a run without path scores; else a dict: `rows` (per
        derived genome: `key`, `path_fid`, `fid` (its stand-alone score at
        the highest rung it reached, the first of ties; None if it never
        trained) and `exact`), `pairs` (rows with
        both scores finite whose genome is exactly the path), `spearman`
        over them (None when undefined: fewer than `MIN_PAIRS` pairs, as
        in the fidelity check, since two points always give +-1, or one side
        constant) and, after single-path training, `drawn`: how many random
        paths were scored to choose the rows (the best by path score).
        When each path was fine-tuned before its score
        (`path_finetune_steps`), also `shared_spearman`: the same over the
        scores of the shared weights before the fine-tune (each row's
        `shared_path_fid`), so a run shows what the fine-tune changed.
    """
    scores = (supernet or {}).get("subnet_scores")
    if not scores:
        return None
    alone, rungs = {}, {}
    for record in history:
        rung = record.get("rung") or 0
        if record["status"] == "ok" and rung > rungs.get(record["key"], -1):
            alone[record["key"]], rungs[record["key"]] = record["fitness"].get("fid"), rung
    finetuned = any("shared_fid" in entry for entry in scores)
    rows = []
    for entry in scores:
        row = {
            "key": entry["key"],
            "path_fid": entry["fid"],
            "fid": alone.get(entry["key"]),
            "exact": entry["exact"],
        }
        rows.append(dict(row, shared_path_fid=entry.get("shared_fid")) if finetuned else row)
    pairs = _pairs(rows, "path_fid")
    check = {"rows": rows, "pairs": len(pairs), "spearman": _correlation(pairs)}
    if finetuned:
        check["shared_spearman"] = _correlation(_pairs(rows, "shared_path_fid"))
    if supernet.get("path_scores"):
        check["drawn"] = len(supernet["path_scores"])
    return check


def _correlation(pairs):
    """Spearman's rank correlation of `(path score, stand-alone score)` pairs, or None
    with fewer than `MIN_PAIRS` (two points are always perfectly ranked)."""
    if len(pairs) < MIN_PAIRS:
        return None
    return spearman([p for p, _ in pairs], [f for _, f in pairs])


def _pairs(rows, column):
    """`(path score, stand-alone score)` of the exact rows with both finite."""
    return [
        (row[column], row["fid"])
        for row in rows
        if row["exact"] and _finite(row[column]) and _finite(row["fid"])
    ]


def check_line(check):
    """The check as one readable line, or None without one."""
    if check is None:
        return None
    if check["spearman"] is None:
        line = (
            f"Supernet check: its path scores cannot be checked against the same genomes "
            f"trained alone: the rank correlation is undefined ({check['pairs']} genome"
            f"{'' if check['pairs'] == 1 else 's'} with both scores; it needs {MIN_PAIRS} "
            "with differing scores)"
        )
    else:
        line = (
            f"Supernet check: its path scores against the same genomes trained alone, "
            f"Spearman {check['spearman']:.3f} over {check['pairs']} genomes (near 1: sharing "
            "weights ranks genomes as training them would)"
        )
    if "shared_spearman" in check:
        shared = check["shared_spearman"]
        line += (
            "; each path was fine-tuned before its score (shared weights alone: "
            f"{'undefined' if shared is None else format(shared, '.3f')})"
        )
    if check.get("drawn", 0) > len(check["rows"]):
        # Only the best-scored paths were trained: a narrow range, which pulls
        # any rank correlation towards 0 whatever the path scores are worth.
        line += (
            f"; they are the best {len(check['rows'])} of {check['drawn']} random paths by "
            "path score, a narrow range that pulls it towards 0"
        )
    return line


def _finite(value):
    return value is not None and value == value and abs(value) != float("inf")
