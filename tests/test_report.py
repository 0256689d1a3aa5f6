"""`kgan-nas report`: the PNG plots and the self-contained HTML page of a run."""

import base64
import collections
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import scripted_evaluators as scripted
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from tiny_runs import scripted_search
from tiny_runs import scripted_space
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas import report
from kgan_nas.cli import commands as cli
from kgan_nas.data import save_image_grid
from kgan_nas.report import architecture
from kgan_nas.report import page as html_report
from kgan_nas.results.search_result import SearchResult

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def _fault_search(directory, generations, learning_rates):
    """A search whose candidates succeed or fail by their learning rate (no training)."""
    result = scripted_search(
        directory,
        evaluator="fault",
        space=scripted_space(learning_rates=learning_rates),
        generations=generations,
        seed=3,
    )
    # The scripted evaluator trains nothing; give the best candidates the sample
    # grid a real evaluator saves beside its models.
    rng = np.random.default_rng(0)
    ranked = sorted(
        (r for r in result.history if r.get("objective") is not None), key=lambda r: r["objective"]
    )
    for record in ranked[:3]:
        images = rng.uniform(-1, 1, size=(16, 8, 8, 1))
        save_image_grid(images, directory / "candidates" / record["key"] / "samples.png")
    return result


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory, cache_dir):
    """Three generations in which some candidates raise or return NaN."""
    directory = tmp_path_factory.mktemp("mixed") / "run"
    _fault_search(directory, 3, (scripted.OK, scripted.RAISE, scripted.NAN))
    return directory


def _report(directory, *args):
    assert cli.main(["report", str(directory), *args]) == 0
    return (directory / "report.html").read_text(encoding="utf-8")


class _Tables(html.parser.HTMLParser):
    """Collects the text of every cell of every table with an id."""

    def __init__(self):
        super().__init__()
        self.tables, self._table, self._row, self._cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "id" in attrs:
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(page):
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def _candidate_rows(tables):
    """The best-candidates table's header and its candidates' rows, without the
    genome row under each (one cell spanning the table)."""
    header, *rows = tables["candidates-table"]
    return header, [row for row in rows if len(row) > 1]


def _section(page, key):
    """The HTML of section `key`, from its heading to the next one (empty if absent)."""
    if f'<h2 id="{key}">' not in page:
        return ""
    return page.split(f'<h2 id="{key}">')[1].split("<h2")[0].split("</body>")[0]


def _contents(page):
    """The section ids the page's contents link to, in order."""
    nav = page.split('<nav class="contents"')[1].split("</nav>")[0]
    return re.findall(r'href="#([a-z]+)"', nav)


def _history_lines(directory):
    with open(directory / "history.jsonl", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def test_page_is_self_contained_and_has_every_section_with_content(mixed_run, capsys):
    """report.html embeds its images, loads nothing from outside and has each section
    that has something to show; the others are neither in the page nor in its contents."""
    page = _report(mixed_run, "--samples", "2")
    assert f"wrote {mixed_run / 'report.html'}" in capsys.readouterr().out
    # The scripted evaluator records no curves and saves no generation grids; the run
    # has no final stage and no rungs.
    empty = {"final", "fidelity", "curves", "generations"}
    shown = [key for key, _ in html_report.SECTIONS if key not in empty]
    assert _contents(page) == shown
    for key, title in html_report.SECTIONS:
        assert (f'id="{key}"' in page) == (key in shown), key
        assert (title in page) == (key in shown), title
    # No machine path: the page is mailed and archived (the run is named by its folder).
    assert os.path.abspath(mixed_run) not in page and os.path.basename(mixed_run) in page
    # Nothing fetched from elsewhere: no scripts, stylesheets or remote/relative sources.
    assert not re.search(r"<script|<link|@import|url\(", page, re.IGNORECASE)
    sources = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page)
    assert sources
    for source in sources:
        assert source.startswith(("data:image/png;base64,", "#")), source
    images = [s for s in sources if s.startswith("data:")]
    for source in images:
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # fitness, timeline, quality-size, lineage and gene plots, then the 2 sample grids
    # asked for beside the real-data grid (samples/real.png).
    assert len(images) == 8
    samples_section = _section(page, "samples")
    assert samples_section.count("<img") == 3
    assert (mixed_run / "samples" / "real.png").is_file() and "real images" in samples_section
    for name in (
        report.FITNESS_PNG,
        report.TIMELINE_PNG,
        report.PARETO_PNG,
        report.LINEAGE_PNG,
        report.GENES_PNG,
    ):
        assert (mixed_run / "report" / name).is_file()


def test_gene_frequency_tables_match_the_history(mixed_run):
    """The page's per-generation gene counts are those of history.jsonl, failures included."""
    tables = _tables(_report(mixed_run))
    expected = collections.defaultdict(collections.Counter)
    for record in _history_lines(mixed_run):
        column = f"gen {record['generation']}"
        genome = record["genome"]
        for network in ("generator", "discriminator"):
            for gene in genome[network]:
                expected[(f"genes-{network}-layers", gene["kind"])][column] += 1
        for gene in ("optimizer", "loss"):
            expected[(f"genes-{gene}", genome["training"][gene])][column] += 1
    found = {}
    for table_id in (
        "genes-generator-layers",
        "genes-discriminator-layers",
        "genes-optimizer",
        "genes-loss",
    ):
        header, *rows = tables[table_id]
        assert header[1:] == ["gen 1", "gen 2", "gen 3"]
        for row in rows:
            found[(table_id, row[0])] = {
                column: int(count) for column, count in zip(header[1:], row[1:]) if int(count)
            }
    assert found == {key: dict(counts) for key, counts in expected.items()}


def test_failures_and_status_counts_are_reported(mixed_run):
    """Every failed candidate is listed with its reason; status counts add up."""
    history = _history_lines(mixed_run)
    statuses = collections.Counter(record["status"] for record in history)
    assert statuses["ok"] and statuses["error"] and statuses["nan"]  # the fixture's point
    page = _report(mixed_run)
    failures = page.split('id="failures"')[1]
    for record in history:
        if record["status"] != "ok":
            assert record["key"] in failures
    assert "scripted failure" in failures and "non-finite g_loss" in failures
    rows = dict(row for row in _tables(page)["status-counts"][1:])
    assert {status: int(count) for status, count in rows.items() if status != "total"} == dict(
        statuses
    )
    assert int(rows["total"]) == len(history)


def _with_statistics(mixed_run, directory):
    """A copy of `mixed_run` whose successful records carry the metric statistics;
    the best one is a copier (memorisation share 0.9)."""
    shutil.copytree(mixed_run, directory)
    history = _history_lines(directory)
    ranked = sorted(
        (r for r in history if r["objective"] is not None), key=lambda r: r["objective"]
    )
    for rank, record in enumerate(ranked):
        fid = record["fitness"]["fid"]
        record["fitness"].update(
            fid_low=fid - 0.25,
            fid_high=fid + 0.5,
            kid=0.0123,
            kid_se=0.0045,
            memorisation_ratio=0.02 if rank == 0 else 0.97,
            memorisation_share=0.9 if rank == 0 else 0.06,
        )
    lines = [json.dumps(record) for record in history]
    (directory / "history.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ranked


def test_report_shows_fid_interval_kid_error_and_memorisation(mixed_run, tmp_path):
    directory = tmp_path / "statistics"
    ranked = _with_statistics(mixed_run, directory)
    page = _report(directory)
    tables = _tables(page)
    header, (first, second, *_) = _candidate_rows(tables)
    row = dict(zip(header, first))
    fid = ranked[0]["fitness"]["fid"]
    assert row["95 % interval"] == f"[{fid - 0.25:.2f}, {fid + 0.5:.2f}]"
    assert row["kid_domain (MMD², ×1) ± SE"] == "0.0123 ± 0.0045"
    assert row["memorised"] == "copies? 90 % (r 0.02)"
    assert dict(zip(header, second))["memorised"] == "6 % (r 0.97)"
    assert 'id="statistics-note"' in page and "held-out real images" in page
    best = dict(tables["best-candidate"])
    assert best["memorisation"] == "copies? 90 % (r 0.02)"
    assert best["fid_domain"] == f"{fid:.2f} [{fid - 0.25:.2f}, {fid + 0.5:.2f}]"
    summary = SearchResult(str(directory)).summary()
    assert f"{fid - 0.25:.3f}–{fid + 0.5:.3f}" in summary
    assert "0.0123 ± 0.0045" in summary and "!90% r0.02" in summary and " 6% r0.97" in summary
    frame = SearchResult(str(directory)).to_records()
    assert {"fitness.fid_low", "fitness.kid_se", "fitness.memorisation_share"} <= set(frame[0])


def test_runs_recorded_before_the_statistics_still_report(mixed_run, tmp_path):
    """Records without fid_low, kid_se or memorisation show dashes, not errors."""
    directory = tmp_path / "old"
    shutil.copytree(mixed_run, directory)
    history = _history_lines(directory)
    new_keys = ("fid_low", "fid_high", "kid_se", "memorisation_ratio", "memorisation_share")
    for record in history:
        assert all(record["fitness"].pop(key) is None for key in new_keys)
    lines = [json.dumps(record) for record in history]
    (directory / "history.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tables = _tables(_report(directory))
    header, rows = _candidate_rows(tables)
    for row in rows:
        cells = dict(zip(header, row))
        assert cells["95 % interval"] == cells["memorised"] == "–"
        assert "±" not in cells["kid_domain (MMD², ×1) ± SE"]
    assert dict(tables["best-candidate"])["memorisation"] == "–"
    summary = SearchResult(str(directory)).summary()
    assert "–" in summary and "Evaluated" in summary


def test_best_architecture_tables_add_up(mixed_run):
    """The layer tables of the best genome end in the image / logit shapes and sum its params."""
    result = SearchResult(str(mixed_run))
    tables = _tables(_report(mixed_run))
    generator = tables["layers-generator"]
    discriminator = tables["layers-discriminator"]
    assert generator[-2][2] == "8x8x1" and discriminator[-2][2] == "1"
    space, genome = result.space, result.best_genome
    assert int(generator[-1][3].replace(",", "")) == space.generator_params(genome)
    assert int(discriminator[-1][3].replace(",", "")) == space.discriminator_params(genome)


def test_text_from_the_run_is_escaped(mixed_run, tmp_path):
    """A failure reason holding markup shows as text, not as HTML."""
    directory = tmp_path / "run"
    shutil.copytree(mixed_run, directory)
    record = _history_lines(directory)[0]
    record.update(status="error", objective=None, reason="<script>alert(1)</script> & more")
    with open(directory / "history.jsonl", "a", encoding="utf-8") as stream:
        stream.write(json.dumps(dict(record, key="f" * 16)) + "\n")
    page = _report(directory)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page


def test_one_generation_run(tmp_path, cache_dir):
    """A run of a single generation gets every plot and a complete page."""
    directory = tmp_path / "one"
    _fault_search(directory, 1, (scripted.OK,))
    page = _report(directory)
    assert "1 run of 1" in page
    header, *rows = _tables(page)["fitness-table"]
    assert [row[0] for row in rows] == ["1"]
    for name in (report.FITNESS_PNG, report.PARETO_PNG, report.GENES_PNG):
        assert (directory / "report" / name).is_file()


def test_run_where_everything_failed(tmp_path, cache_dir):
    """With no successful candidate the page says so instead of failing."""
    directory = tmp_path / "failed"
    _fault_search(directory, 1, (scripted.NAN,))
    page = _report(directory)
    assert "No candidate succeeded" in page
    assert not (directory / "report" / report.PARETO_PNG).exists()
    assert page.count("data:image/png") == 3  # fitness, timeline and gene frequencies only
    # Nothing succeeded, so nothing to compare, trace or draw: those sections are left out.
    for key in ("pareto", "lineage", "ancestry", "architecture"):
        assert f'id="{key}"' not in page and f'href="#{key}"' not in page
    assert _contents(page)[:2] == ["samples", "candidates"]


def test_report_needs_neither_tensorflow_nor_keras(mixed_run):
    """`kgan-nas report` reads JSON and draws with matplotlib: no deep-learning import."""
    code = (
        "import sys; from kgan_nas import cli; "
        f"assert cli.main(['report', {str(mixed_run)!r}]) == 0; "
        "loaded = {'tensorflow', 'keras', 'jax'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=TESTS_DIR
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_diagram_is_drawn_only_with_graphviz(mixed_run, monkeypatch):
    """Without `dot` the layers are a table and the page says how to get diagrams."""
    monkeypatch.setattr(architecture.shutil, "which", lambda name: None)
    page = _report(mixed_run)
    assert "<svg" not in page and "Install Graphviz" in page
    assert "layers-generator" in page
    if shutil.which("dot") is not None:
        monkeypatch.undo()
        page = _report(mixed_run)
        assert page.count("<svg") == 2 and "Install Graphviz" not in page


def test_bad_arguments_are_refused(mixed_run):
    """A non-positive number of sample grids is an error that names the argument."""
    with pytest.raises(ValueError, match="top_k"):
        html_report.write_html_report(SearchResult(str(mixed_run)), top_k=0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    image_side=st.sampled_from([8, 16, 28, 32]),
    channels=st.sampled_from([1, 3]),
)
def test_layer_tables_match_the_parameter_counts(seed, image_side, channels):
    """For any genome, the layer rows sum to the space's parameter counts and end in the
    image and logit shapes."""
    space = kgan_nas.SearchSpace(image_shape=(image_side, image_side, channels))
    genome = space.sample(np.random.default_rng(seed))
    generator = architecture.layer_table(genome, space, "generator")
    discriminator = architecture.layer_table(genome, space, "discriminator")
    assert sum(row["params"] for row in generator) == space.generator_params(genome)
    assert sum(row["params"] for row in discriminator) == space.discriminator_params(genome)
    assert generator[0]["output_shape"] == (space.latent_dim,)
    assert generator[-1]["output_shape"] == (image_side, image_side, channels)
    assert discriminator[-1]["output_shape"] == (1,)
    dot = architecture.dot_source(generator, "generator")
    assert dot.count(" -> ") == len(generator) - 1


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1), generations=st.lists(st.integers(0, 4), min_size=1, max_size=12)
)
def test_gene_frequencies_count_every_gene_once(seed, generations):
    """Per generation, layer counts sum to the layers proposed and training counts to genomes."""
    space = kgan_nas.SearchSpace(image_shape=(8, 8, 1))
    rng = np.random.default_rng(seed)
    history = [{"generation": g, "genome": space.sample(rng).to_dict()} for g in generations]
    frequencies = report.gene_frequencies(history)
    assert frequencies["generations"] == sorted(set(generations))
    for column, generation in enumerate(frequencies["generations"]):
        records = [r for r in history if r["generation"] == generation]
        assert frequencies["genomes"][column] == len(records)
        for category, network in (
            ("generator layers", "generator"),
            ("discriminator layers", "discriminator"),
        ):
            total = sum(counts[column] for counts in frequencies["counts"][category].values())
            assert total == sum(len(r["genome"][network]) for r in records)
        for category in ("optimizer", "loss"):
            assert sum(c[column] for c in frequencies["counts"][category].values()) == len(records)


# ----------------------------------------------------------------------
# What happened: curves, run details, time, the objective axis
# ----------------------------------------------------------------------


def test_curve_round_trips_and_old_records_load():
    """`Fitness.curve` survives to_dict/from_dict and JSON; records without it load."""
    from kgan_nas.core.fitness import Fitness

    curve = {"step": [1, 5, 10], "d_loss": [1.4, 1.1, None], "g_loss": [0.7, 0.9, 1.3]}
    fitness = Fitness(fid=3.5, steps=10, curve=curve)
    stored = json.loads(json.dumps(fitness.to_dict(), allow_nan=False))
    assert Fitness.from_dict(stored) == fitness
    assert Fitness.from_dict(stored).curve == curve
    old = {key: value for key, value in stored.items() if key != "curve"}
    assert Fitness.from_dict(old).curve == {} and Fitness.from_dict(old).fid == 3.5


@pytest.mark.keras
def test_loss_curve_is_window_means_of_the_running_means():
    """Keras logs running means; the curve holds each window's own mean, at up to ten
    evenly spaced steps and the last step reached, None where a loss was not finite."""
    from kgan_nas.training.budget import LossCurve
    from kgan_nas.training.budget import curve_steps

    assert curve_steps(300) == list(range(30, 301, 30))
    assert curve_steps(3) == [1, 2, 3]
    rng = np.random.default_rng(0)
    losses = {"d_loss": rng.uniform(0, 2, 23), "g_loss": rng.uniform(0, 5, 23)}
    curve = LossCurve(curve_steps(40))  # stops at step 23, between two points
    for step in range(1, 24):
        curve.update(step, {name: float(np.mean(v[:step])) for name, v in losses.items()})
    points = curve.result()
    assert points["step"] == [4, 8, 12, 16, 20, 23]
    starts = [0, 4, 8, 12, 16, 20]
    for name, values in losses.items():
        expected = [np.mean(values[a:b]) for a, b in zip(starts, points["step"])]
        np.testing.assert_allclose(points[name], expected, rtol=1e-9)
    broken = LossCurve([1, 2])
    broken.update(1, {"d_loss": 1.0, "g_loss": 1.0})
    broken.update(2, {"d_loss": float("nan"), "g_loss": 1.0})
    assert broken.result()["d_loss"] == [1.0, None]
    assert LossCurve([1]).result() == {}


def _captured_axes(monkeypatch):
    """Runs the plots' `_save` as usual, keeping each figure's first axes."""
    from kgan_nas.report import plots

    captured = []
    save = plots._save

    def keep(figure, path, pyplot):
        captured.append(figure.axes[0])
        return save(figure, path, pyplot)

    monkeypatch.setattr(plots, "_save", keep)
    return captured


def _scored(values):
    return [
        {"key": f"{i:016x}", "objective": value, "params": 1000 * (i + 1), "status": "ok"}
        for i, value in enumerate(values)
    ]


def test_the_cost_axis_is_generator_macs_when_the_search_optimised_them(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from kgan_nas.report import numbers
    from kgan_nas.report import plots

    assert numbers.cost_axis({"objectives": ["fid", "params"]})[0] == "params"
    cost = numbers.cost_axis({"objectives": ["fid", "generator_macs"]})
    assert cost == ("generator_macs", "generator MACs per image", "G MACs")
    # The cheaper generator by MACs is the bigger one by parameters: the fronts differ.
    history = [
        {"key": "a", "objective": 10.0, "params": 100, "generator_macs": 9000, "status": "ok"},
        {"key": "b", "objective": 20.0, "params": 900, "generator_macs": 1000, "status": "ok"},
        {"key": "c", "objective": 30.0, "params": 50, "generator_macs": 5000, "status": "ok"},
        {"key": "d", "objective": 15.0, "params": 80, "status": "ok"},  # no MACs recorded
    ]
    assert numbers.quality_size_front(history) == {"a", "c", "d"}
    assert numbers.quality_size_front(history, "generator_macs") == {"a", "b"}
    captured = _captured_axes(monkeypatch)
    plots._plot_quality_size(history, "fid_domain", cost, tmp_path / "p.png", pyplot)
    assert captured[0].get_xlabel() == "generator MACs per image"


def test_one_outlier_does_not_flatten_the_pareto_plot(tmp_path, monkeypatch):
    """Positive scores with an outlier get a log axis; scores of mixed sign (a negated IS)
    get a clipped axis with the clipped points marked; ordinary scores stay linear."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from kgan_nas.report import plots

    captured = _captured_axes(monkeypatch)
    typical = [20.0, 22.5, 25.0, 27.0, 30.0, 31.0, 33.0, 35.0, 36.0]
    from kgan_nas.report.numbers import cost_axis

    size = cost_axis({})
    plots._plot_quality_size(
        _scored(typical + [5000.0]), "fid_domain", size, tmp_path / "a", pyplot
    )
    plots._plot_quality_size(_scored(typical), "fid_domain", size, tmp_path / "b.png", pyplot)
    negated = [-3.0, -2.8, -2.5, -2.4, -2.2, -2.1, -2.0, -1.9, -1.8]
    plots._plot_quality_size(_scored(negated + [40.0]), "is_domain", size, tmp_path / "c", pyplot)
    log_axis, linear_axis, clipped_axis = captured
    assert log_axis.get_yscale() == "log"
    assert linear_axis.get_yscale() == "linear"
    assert clipped_axis.get_yscale() == "linear"
    low, high = clipped_axis.get_ylim()
    assert -1.8 <= high < 40.0 and low <= -3.0
    labels = [text.get_text() for text in clipped_axis.get_legend().get_texts()]
    assert "beyond the axis (1)" in labels
    assert not any("beyond" in t.get_text() for t in linear_axis.get_legend().get_texts())


def test_time_breakdown_sums_phases_and_spans_the_search():
    history = [
        {"time": 1000.0, "fitness": {"seconds": {"build": 1.0, "train": 5.0, "total": 8.0}}},
        {"time": 1020.0, "fitness": {"seconds": {"build": 2.0, "compile": 3.0, "total": 9.0}}},
        {"time": 1005.0, "fitness": {"seconds": {"total": 2.5}}},
    ]
    times = report.time_breakdown(history)
    assert times["phases"] == {"build": 3.0, "compile": 3.0, "train": 5.0}
    assert times["candidates"] == pytest.approx(19.5)
    assert times["wall"] == pytest.approx(1020.0 - (1000.0 - 8.0))
    assert report.time_breakdown([])["wall"] is None


def test_old_config_without_details_reports_and_resumes(mixed_run, tmp_path):
    """config.json's `details` (strategy settings with defaults, versions) is never
    compared: a run written before it reports and resumes, and gets it on resume."""
    directory = tmp_path / "old"
    shutil.copytree(mixed_run, directory)
    config = json.loads((directory / "config.json").read_text())
    assert config["details"]["strategy_config"]["inherit_weights"] is True
    assert config["details"]["versions"]["kgan_nas"] == kgan_nas.__version__
    assert config["details"]["versions"]["keras"]
    assert "inherit_weights" not in config["search"]["strategy_options"]  # compared part unchanged
    del config["details"]
    (directory / "config.json").write_text(json.dumps(config))
    page = _report(directory)
    assert dict(_tables(page)["run-table"])["versions"].startswith("not recorded")
    before = len(_history_lines(directory))
    _fault_search(directory, 4, (scripted.OK, scripted.RAISE, scripted.NAN))
    assert len(_history_lines(directory)) > before
    resumed = json.loads((directory / "config.json").read_text())
    assert resumed["details"]["strategy_config"]["inherit_weights"] is True
    assert resumed["search"] == dict(config["search"], generations=4)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, cache_dir):
    """A real two-generation search (in process, a few training steps)."""
    directory = tmp_path_factory.mktemp("trained") / "run"
    tiny_real_search(directory, generations=2, steps_per_candidate=12)
    return directory


@pytest.mark.keras
@pytest.mark.slow
def test_real_run_records_curves_and_the_page_embeds_them(trained_run):
    """Trained candidates record finite D and G loss curves; the page embeds the curves
    plot, each generation's grid and the real-data grid."""
    from kgan_nas.training.budget import curve_steps

    ok = [r for r in _history_lines(trained_run) if r["status"] == "ok"]
    assert ok, [r["reason"] for r in _history_lines(trained_run)]
    for record in ok:
        curve = record["fitness"]["curve"]
        assert record["fitness"]["steps"] == 12
        assert curve["step"] == curve_steps(12) == [1, 2, 4, 5, 6, 7, 8, 10, 11, 12]
        for loss in ("d_loss", "g_loss"):
            assert len(curve[loss]) == len(curve["step"])
            assert all(isinstance(v, float) and np.isfinite(v) for v in curve[loss])
        # A real evaluator records the metrics' statistics with every candidate.
        fitness = record["fitness"]
        assert 0 <= fitness["fid_low"] <= fitness["fid"] <= fitness["fid_high"]
        assert fitness["kid_se"] > 0 and 0 <= fitness["memorisation_share"] <= 1
        assert fitness["memorisation_ratio"] > 0
    page = _report(trained_run)

    def embedded(path):
        return base64.b64encode(path.read_bytes()).decode("ascii") in page

    assert embedded(trained_run / "report" / report.CURVES_PNG)
    grids = sorted((trained_run / "samples").glob("generation_*.png"))
    assert [g.name for g in grids] == ["generation_001.png", "generation_002.png"]
    generations = _section(page, "generations")
    for grid in grids:
        assert base64.b64encode(grid.read_bytes()).decode("ascii") in generations
    samples = _section(page, "samples")
    real = base64.b64encode((trained_run / "samples" / "real.png").read_bytes()).decode("ascii")
    assert real in samples
    details = json.loads((trained_run / "config.json").read_text())["details"]
    assert details["backend"] and details["versions"][details["backend"]]
    # Real candidates are timed: the page says where the time went, per genome family.
    assert 'id="family-table"' in page and "Time per genome family" in page


def test_a_long_tail_of_bad_candidates_gets_a_log_axis():
    """Early generations hold many bad candidates: most values sit near the best and a
    tail runs to 100x; the axis goes log so the good ones stay apart, while evenly
    spread values keep a linear axis."""
    from kgan_nas.report.numbers import objective_axis

    tail = [5.98, 6.1, 7.4, 7.8, 10.3, 10.9, 14.2, 15.3, 17.5, 20.1, 173, 240, 430, 460, 890]
    assert objective_axis(tail) == ("log", None)
    assert objective_axis([10, 20, 30, 40, 50, 60]) == ("linear", None)


# ----------------------------------------------------------------------
# Pictures first: order, width, axes, legends, empty sections, names, units
# ----------------------------------------------------------------------


def test_samples_come_first_then_the_table_then_the_plots(mixed_run):
    """The first section is the sample grids beside real images; above it only the title,
    one line of results and the contents (no table, no picture); then the table of the
    best candidates, then the plots, and the settings only after them."""
    page = _report(mixed_run)
    body = page.split("<body>")[1]
    before_samples = body.split('<h2 id="samples">')[0]
    assert "<table" not in before_samples and "<img" not in before_samples
    assert re.findall(r'<h2 id="([a-z]+)"', body)[:2] == ["samples", "candidates"]
    samples = body.index('<h2 id="samples">')
    candidates = body.index('id="candidates-table"')
    plots = [body.index(f'<h2 id="{key}">') for key in ("fitness", "timeline", "pareto", "lineage")]
    assert samples < candidates < min(plots)
    assert max(plots) < body.index('<h2 id="summary">') < body.index('<h2 id="genes">')
    # The first picture in the page is the real-data grid, then the best generators'.
    real = base64.b64encode((mixed_run / "samples" / "real.png").read_bytes()).decode("ascii")
    first_image = body.index("data:image/png;base64,")
    assert body.index(real) == first_image + len("data:image/png;base64,")


def test_candidates_table_fits_the_page_and_shows_whole_genomes(mixed_run):
    """The table takes the page's width and no more: no column has a fixed width, nothing
    is kept on one line to be cut, and each genome is whole, on a row of its own."""
    page = _report(mixed_run)
    style = page.split("<style>")[1].split("</style>")[0]
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", style))
    table_rule = next(
        rule for selector, rule in rules.items() if selector.strip() == "#candidates-table"
    )
    assert re.search(r"width:\s*100%", table_rule)
    assert "table-layout: fixed" not in style
    assert "nowrap" not in style and "text-overflow" not in style
    widths = re.findall(r"(?<![-\w])width:\s*([\d.]+)(px|em)", style)
    assert all(float(value) <= (400 if unit == "px" else 25) for value, unit in widths), widths
    genome_rule = next(rule for selector, rule in rules.items() if selector.strip() == ".genome")
    assert "overflow-wrap: anywhere" in genome_rule
    header, *rows = _tables(page)["candidates-table"]
    assert "genome" not in header
    numbers_rows, genome_rows = rows[0::2], rows[1::2]
    assert len(numbers_rows) == len(genome_rows) and all(len(r) == 1 for r in genome_rows)
    ranked = SearchResult(str(mixed_run)).ranked()
    for record, row, genome in zip(ranked, numbers_rows, genome_rows):
        assert row[header.index("key")] == record["key"]
        assert genome[0] == "genome " + kgan_nas.Genome.from_dict(record["genome"]).describe()
        assert "…" not in genome[0]


def test_strategy_is_shown_by_the_name_the_cli_takes(mixed_run):
    """`genetic`, as `--strategy` and `search(strategy=...)` spell it, not `GeneticSearch`."""
    from kgan_nas.config import STRATEGY_NAMES

    stored = json.loads((mixed_run / "config.json").read_text())["search"]["strategy"]
    assert stored == "GeneticSearch"
    tables = _tables(_report(mixed_run))
    assert dict(tables["configuration"])["strategy"] == "genetic"
    for class_name, name in STRATEGY_NAMES.items():
        assert html_report.strategy_name(class_name) == name
    assert html_report.strategy_name("MyStrategy") == "MyStrategy"  # a custom one by its class


def test_kid_is_shown_with_its_scale(mixed_run, tmp_path):
    """Wherever KID is shown, its label says it is unscaled MMD² (not KID x 10^3)."""
    from kgan_nas.report.numbers import objective_label

    directory = tmp_path / "statistics"
    _with_statistics(mixed_run, directory)
    page = _report(directory)
    tables = _tables(page)
    header, rows = _candidate_rows(tables)
    assert "kid_domain (MMD², ×1) ± SE" in header
    assert "kid_domain (MMD², ×1)" in dict(tables["best-candidate"])
    note = page.split('id="statistics-note"')[1].split("</p>")[0]
    assert "not ×10³" in note and "MMD²" in note
    assert objective_label("kid_domain") == "kid_domain (MMD², ×1)"
    assert objective_label("fid_domain") == "fid_domain"


def test_fitness_and_timeline_use_a_log_axis_when_scores_allow(tmp_path, monkeypatch):
    """FID spans orders of magnitude: positive scores get a log axis; a negated IS
    (negative) keeps a linear one."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from kgan_nas.report import plots
    from kgan_nas.report.numbers import log_axis_fits

    captured = _captured_axes(monkeypatch)
    history = [
        {"generation": g, "key": f"{g}{i}", "status": "ok", "objective": value}
        for g, values in ((1, [450.0, 300.0, 120.0]), (2, [40.0, 9.0, 6.5]))
        for i, value in enumerate(values)
    ]
    history.append({"generation": 2, "key": "bad", "status": "nan", "objective": None})
    baselines = {"fid_uniform_noise": 100.0, "fid_train_vs_eval": 2.0, "num_samples": 500}
    plots._plot_fitness(history, "fid_domain", baselines, tmp_path / "f.png", pyplot)
    plots._plot_timeline(history, "fid_domain", tmp_path / "t.png", pyplot)
    negated = [
        dict(r, objective=-r["objective"] / 100 if r["objective"] else None) for r in history
    ]
    plots._plot_fitness(negated, "is_domain", {}, tmp_path / "n.png", pyplot)
    fitness, timeline, linear = captured
    assert fitness.get_yscale() == timeline.get_yscale() == "log"
    assert "log scale" in fitness.get_ylabel()
    assert linear.get_yscale() == "linear"
    assert log_axis_fits([3.0, None, float("inf"), 0.5]) and not log_axis_fits([3.0, -0.1])
    assert not log_axis_fits([])


def test_the_timeline_shows_every_evaluation_and_marks_failures(mixed_run, monkeypatch):
    """One point per record in history order, failures marked, best so far never rises."""
    from kgan_nas.report import plots

    result = SearchResult(str(mixed_run))
    points = report.score_timeline(result.history)
    assert [p["key"] for p in points] == [r["key"] for r in result.history]
    failed = [p for p in points if not p["ok"]]
    assert failed and all(p["objective"] is None for p in failed)
    best = [p["best_so_far"] for p in points if p["best_so_far"] is not None]
    assert best == sorted(best, reverse=True)
    assert best[-1] == result.best_record["objective"]
    captured = _captured_axes(monkeypatch)
    plots.write_report(result)
    timeline = next(a for a in captured if a.get_title().startswith("Every candidate"))
    labels = [t.get_text() for t in timeline.get_legend().get_texts()]
    assert f"failed ({len(failed)})" in labels
    page = _report(mixed_run)
    assert f"The {len(failed)} failed evaluations" in _section(page, "timeline")


def _legend_outside(axis):
    """Whether `axis`'s legend, once drawn, overlaps none of the axes' area."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(axis.figure).get_renderer()  # the figure was closed
    axis.figure.draw(renderer)
    legend = axis.get_legend().get_window_extent(renderer)
    box = axis.get_window_extent(renderer)
    return not legend.overlaps(box)


def test_legends_cover_no_point(mixed_run, monkeypatch):
    """The Pareto plot's legend (and every other plot's) sits outside its axes."""
    from kgan_nas.report import plots

    captured = _captured_axes(monkeypatch)
    plots.write_report(SearchResult(str(mixed_run)))
    titled = {axis.get_title().split(" ")[0]: axis for axis in captured if axis.get_legend()}
    assert {"Quality", "Fitness", "Every", "Lineage"} <= set(titled)
    for name, axis in titled.items():
        assert _legend_outside(axis), name


def test_time_per_genome_family_groups_by_the_layers_that_carry_the_work():
    from kgan_nas.report import run_view

    def genome(generator, discriminator):
        return {
            "generator": [{"kind": kind} for kind in generator],
            "discriminator": [{"kind": kind} for kind in discriminator],
        }

    def record(generator, discriminator, total, train=None, steps=0):
        seconds = {"total": total} if train is None else {"total": total, "train": train}
        return {
            "genome": genome(generator, discriminator),
            "fitness": {"seconds": seconds, "steps": steps},
        }

    history = [
        record(["dense", "conv2d_transpose"], ["dense"], 10.0, train=4.0, steps=101),
        record(["upsample_conv2d"], ["dropout", "dense"], 30.0, train=9.0, steps=10),
        record(["dense"], ["conv2d", "dense"], 5.0, train=1.0, steps=51),
        record(["residual_up", "conv2d"], ["residual_down"], 7.0),
        {"genome": genome(["dense"], ["dense"]), "fitness": {"seconds": {}}},
    ]
    assert run_view.genome_family(history[3]["genome"]) == "residual G, residual D"
    rows = run_view.family_times(history)
    assert [row["family"] for row in rows] == [
        "conv G, dense D",
        "residual G, residual D",
        "dense G, conv D",
    ]
    conv = rows[0]
    assert conv["candidates"] == 2 and conv["seconds"] == 40.0
    assert conv["median_seconds"] == 20.0
    assert conv["steps_per_second"] == pytest.approx((25.0 + 1.0) / 2)
    assert rows[1]["steps_per_second"] is None  # never timed past its first step
