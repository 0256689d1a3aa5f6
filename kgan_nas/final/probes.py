"""Does the search's score predict the final one? Probes retrained beside the finalists.

The final stage retrains a few genomes, too few to say whether the short
candidate training ranks genomes the way the longer final training does.
`FinalConfig(probes=N)` retrains N more genomes of the search, once each
and by the same path, taken at evenly spaced places of the search's ranking
below the finalists (a rule fixed before the run, so the probes are not
chosen by their results). The summary then holds the rank correlation
(Spearman) between the search's score and the held-out final score over the
finalists and the probes. Probes are never the answer: the final stage
still chooses among its finalists. Pure Python.
"""

import math

from kgan_nas.core.fidelity import spearman


def probe_records(ranked, finalist_keys, probes):
    """The search records the probes retrain.

    Args:
        ranked: The search's records of distinct genomes, best first.
        finalist_keys: Keys of the finalists (never probes).
        probes: How many probes, >= 0.

    Returns:
        Up to `probes` records below the finalists, at evenly spaced places
        of the rest of the ranking (the i-th of N at place round(i*M/(N+1))
        of the M others), best first.
    """
    finalists = set(finalist_keys)
    rest = [record for record in ranked if record["key"] not in finalists]
    if probes <= 0 or not rest:
        return []
    places = {
        min(len(rest), max(1, math.floor(i * len(rest) / (probes + 1) + 0.5)))
        for i in range(1, probes + 1)
    }
    return [rest[place - 1] for place in sorted(places)]


def prediction(summary, probe_jobs, ranked):
    """The probes' rows and the search-to-final rank correlation, for the summary.

    Args:
        summary: The final stage's summary (`final_summary.summarise`).
        probe_jobs: The probes' job records (`record.json` contents).
        ranked: The search's records of distinct genomes, best first.

    Returns:
        A dict with `probes` (per probe: `key`, `search_rank`,
        `search_objective`, `fid`, `status`) and `prediction`
        (`spearman`, None when undefined, and `pairs`: the finalists with
        a mean held-out score and the probes that trained).
    """
    place = {record["key"]: (rank, record) for rank, record in enumerate(ranked, 1)}
    rows = []
    for job in probe_jobs:
        rank, record = place[job["key"]]
        fid = job.get("fid") if job["status"] == "ok" else None
        rows.append(
            {
                "key": job["key"],
                "search_rank": rank,
                "search_objective": record["objective"],
                "fid": fid if isinstance(fid, (int, float)) and math.isfinite(fid) else None,
                "status": job["status"],
            }
        )
    pairs = [
        (place[genome["key"]][1]["objective"], genome["fid_mean"])
        for genome in summary["genomes"]
        if genome["fid_mean"] is not None and genome["key"] in place
    ]
    pairs += [(row["search_objective"], row["fid"]) for row in rows if row["fid"] is not None]
    value = spearman([a for a, _ in pairs], [b for _, b in pairs]) if pairs else None
    return {"probes": rows, "prediction": {"spearman": value, "pairs": len(pairs)}}


def prediction_line(summary):
    """One line on how well the search's score predicted the final one ('' without probes)."""
    found = summary.get("prediction")
    if not found:
        return ""
    value = "undefined" if found["spearman"] is None else f"{found['spearman']:.2f}"
    return (
        f"Search score against held-out final score: Spearman {value} over "
        f"{found['pairs']} genomes (the finalists and {len(summary.get('probes', []))} "
        "probes retrained once each)."
    )
