"""Reports of a run directory: numbers, PNG plots and one self-contained HTML page.

Nothing here trains; everything reads a `SearchResult`.

- `numbers`: per-generation fitness, gene frequencies, the quality/size
  front, metric labels, the time breakdown, the objective axis, every
  evaluation's score in order and the run's lineage tree (plain Python).
- `plots`: `write_report`, the PNG plots (matplotlib) in `<run>/report/`.
- `page`: `write_html_report`, `<run>/report.html` with the plots inlined;
  its sections come from `markup` (HTML pieces), `lineage_view` (weight
  inheritance), `run_view` (settings, versions, time) and `gallery` (grids).
- `architecture`: layer tables of a genome's networks for the page.
"""

from kgan_nas.report.numbers import GENE_CATEGORIES
from kgan_nas.report.numbers import fitness_by_generation
from kgan_nas.report.numbers import gene_frequencies
from kgan_nas.report.numbers import lineage_tree
from kgan_nas.report.numbers import objective_axis
from kgan_nas.report.numbers import objective_label
from kgan_nas.report.numbers import quality_size_front
from kgan_nas.report.numbers import score_timeline
from kgan_nas.report.numbers import time_breakdown
from kgan_nas.report.plots import BEST_SAMPLES_PNG
from kgan_nas.report.plots import CURVES_PNG
from kgan_nas.report.plots import FITNESS_PNG
from kgan_nas.report.plots import GENES_PNG
from kgan_nas.report.plots import LINEAGE_PNG
from kgan_nas.report.plots import PARETO_PNG
from kgan_nas.report.plots import TIMELINE_PNG
from kgan_nas.report.plots import write_report

__all__ = [
    "BEST_SAMPLES_PNG",
    "CURVES_PNG",
    "FITNESS_PNG",
    "GENES_PNG",
    "GENE_CATEGORIES",
    "LINEAGE_PNG",
    "PARETO_PNG",
    "TIMELINE_PNG",
    "fitness_by_generation",
    "gene_frequencies",
    "lineage_tree",
    "objective_axis",
    "objective_label",
    "quality_size_front",
    "score_timeline",
    "time_breakdown",
    "write_report",
    "write_html_report",
]


def __getattr__(name):
    # Loaded on first use: only writing a page needs the page's modules.
    if name == "write_html_report":
        from kgan_nas.report.page import write_html_report

        return write_html_report
    raise AttributeError(f"module 'kgan_nas.report' has no attribute {name!r}")
