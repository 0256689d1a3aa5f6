"""How many of a search's candidates trained at all: the yield of its space.

A candidate *trained* when its FID is under half the FID of uniform noise
against the same real images (`baselines.json`'s `fid_uniform_noise`, on the
run's own extractor). Candidates that failed, or that score near noise,
spent their budget without showing what their architecture can do; a space
whose genomes mostly do not train at the candidate budget wastes the search,
whatever its strategy. Pure Python.
"""

# The share of the noise score under which a candidate counts as trained.
TRAINED_FRACTION_OF_NOISE = 0.5


def training_yield(history, ranked, baselines, metric):
    """The share of a run's candidates that trained.

    Args:
        history: The run's history records.
        ranked: Its successful records, one per candidate
            (`kgan_nas.results.records.ranked_records(history)`).
        baselines: The run's `baselines.json` dict (may be empty).
        metric: The run's metric, e.g. `"fid_domain"`.

    Returns:
        A dict with `trained`, `candidates` (distinct evaluated candidates,
        failures included), `share` and `threshold` (the FID under which a
        candidate counts as trained), or None where it is not defined: a
        metric other than FID, no noise score, or no candidate.
    """
    noise = (baselines or {}).get("fid_uniform_noise")
    if not str(metric).startswith("fid_") or noise is None:
        return None
    candidates = len({(record["generation"], record["key"]) for record in history})
    if not candidates:
        return None
    threshold = TRAINED_FRACTION_OF_NOISE * noise
    trained = sum(record["objective"] < threshold for record in ranked)
    return {
        "trained": trained,
        "candidates": candidates,
        "share": trained / candidates,
        "threshold": threshold,
    }


def yield_line(found):
    """One sentence for a `training_yield` dict (empty for None)."""
    if found is None:
        return ""
    return (
        f"{found['trained']} of {found['candidates']} candidates trained (FID under "
        f"{found['threshold']:.3f}, half the uniform-noise score)"
    )
