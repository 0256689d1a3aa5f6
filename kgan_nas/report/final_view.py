"""The page's final-training section: held-out FID mean ± std per retrained genome.

Read from `final/summary.json` (`SearchResult.final_summary()`); the chosen
run's sample grid (`final/<key>_seed<s>/samples.png`) is shown beside the
held-out real images.
"""

import os

from kgan_nas.core.zoo import design_label
from kgan_nas.final.probes import prediction_line
from kgan_nas.report.markup import data_uri
from kgan_nas.report.markup import escape
from kgan_nas.report.markup import fixed
from kgan_nas.report.markup import section_start
from kgan_nas.report.markup import table
from kgan_nas.results.final_summary import FINAL_DIR


def _share(value):
    return "" if value is None else fixed(value, 2)


def final_section(result):
    """The "Final training" section of the page.

    Args:
        result: A `kgan_nas.SearchResult`.

    Returns:
        The section's HTML; empty when the run has no finished final stage
        (`kgan-nas finalize` runs one), so the page leaves the section out.
    """
    summary = result.final_summary()
    if summary is None:
        return ""
    parts = [section_start("final")]
    protocol = summary["protocol"]
    split = "held-out" if protocol["reference"] == "holdout" else "eval (used by selection!)"
    how = (
        ", each continued from its search weights to the same total steps: "
        if protocol.get("continue_training")
        else " retrained from scratch: "
    )
    parts.append(
        f"<p>The search's top {protocol['top_k']} genomes"
        f"{' (the best of each weight lineage first)' if protocol.get('distinct_lineages') else ''}"
        f"{how}{protocol['seeds']} seeds x {protocol['steps']:,} steps each, EMA "
        f"{escape(protocol['ema_decay'])}, {protocol['num_samples']} samples scored on "
        f"{protocol['reference_images']} {escape(split)} images.</p>"
    )
    # Known designs the search started from are named: the final stage
    # retrains the best of them (FinalConfig.zoo_finalist, with top_k >= 2).
    zoo = {record["key"]: design_label(record) for record in result.history}
    rows = [
        [
            genome["search_rank"],
            f"<code>{escape(genome['key'])}</code>"
            + (f" {escape(zoo[genome['key']])}" if zoo.get(genome["key"]) else ""),
            "failed"
            if genome["fid_mean"] is None
            else f"{fixed(genome['fid_mean'], 3)} ± {fixed(genome['fid_std'], 3)}",
            "" if genome["fid_live_mean"] is None else fixed(genome["fid_live_mean"], 3),
            _share(genome.get("precision_mean")),
            _share(genome.get("recall_mean")),
            f"{genome['runs']} of {protocol['seeds']}",
            protocol["steps"],
        ]
        for genome in summary["genomes"]
    ]
    # Precision (fidelity) and recall (coverage) beside FID; blank for stages run
    # before they were measured.
    headers = [
        "search rank",
        "key",
        "FID mean ± std",
        "last weights",
        "precision",
        "recall",
        "runs",
        "steps",
    ]
    parts.append(table(headers, rows, table_id="final-table"))
    line = prediction_line(summary)
    if line:
        probes = ", ".join(
            f"<code>{escape(p['key'])}</code> (search rank {p['search_rank']}: "
            + ("failed" if p["fid"] is None else fixed(p["fid"], 3))
            + ")"
            for p in summary.get("probes", [])
        )
        parts.append(f"<p>{escape(line)} Probes: {probes}.</p>")
    chosen = summary.get("chosen")
    grid = chosen and os.path.join(result.directory, FINAL_DIR, chosen["job"], "samples.png")
    if grid and os.path.isfile(grid):
        parts.append(
            f'<figure class="card"><img src="{data_uri(grid)}" alt="final samples">'
            f"<figcaption>chosen: <code>{escape(chosen['key'])}</code> seed "
            f"{chosen['seed_index']}, FID {fixed(chosen['fid'], 3)}</figcaption></figure>"
        )
    return "\n".join(parts)
