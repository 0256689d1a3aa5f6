"""The protocol card (kgan_nas.store.protocol): written when a search starts, read back by
`SearchResult.protocol`, shown in the report; older runs read as "not recorded"."""

import json
import shutil

import pytest
from tiny_runs import scripted_search

import kgan_nas
from kgan_nas.cli import commands as cli
from kgan_nas.results.search_result import SearchResult
from kgan_nas.store import protocol
from kgan_nas.store.run_dir import RunDir


@pytest.fixture(scope="module")
def run_path(tmp_path_factory, cache_dir):
    """A two-generation digits search scored by a scripted evaluator (no training)."""
    directory = tmp_path_factory.mktemp("protocol") / "run"
    scripted_search(
        directory, generations=2, population=3, steps_per_candidate=12, num_samples=90, seed=5
    )
    return directory


def _copy(run_path, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_path, copy)
    return copy


def _rows(card):
    return dict(protocol.card_rows(card))


def test_search_writes_the_card_with_every_fact(run_path):
    """protocol.json names the data, splits, samples, extractor, seeds, steps and versions."""
    card = json.loads((run_path / protocol.PROTOCOL_JSON).read_text())
    assert SearchResult(str(run_path)).protocol == card
    config = json.loads((run_path / "config.json").read_text())["search"]
    sidecar = json.loads((run_path / "extractor.json").read_text())
    assert card["dataset"] == {
        "name": "digits",
        "fingerprint": config["data_fingerprint"],
        "image_shape": [8, 8, 1],
        "num_classes": 10,
    }
    splits = card["splits"]
    # The default preset holds out 15 % (no final stage here: a scripted evaluator).
    assert splits["train"] + splits["eval"] + splits["holdout"] == 1797
    assert splits["holdout"] == round(0.15 * 1797)
    assert (
        splits["eval"] == json.loads((run_path / "baselines.json").read_text())["num_eval_images"]
    )
    selection = card["samples"]["selection"]
    assert (selection["generated"], selection["real"]) == (90, splits["eval"])
    assert card["samples"]["reporting"]["same_as_selection"] is True
    features = card["features"]
    assert features["extractor"] == "domain"
    assert features["cache_key"] == sidecar["metadata"]["cache_key"]
    assert features["data_fingerprint"] == config["data_fingerprint"]
    assert 0.5 < features["accuracy"] <= 1.0
    assert card["seeds"]["search"] == card["seeds"]["split"] == 5
    assert card["seeds"]["extractor"] == sidecar["metadata"]["seed"]
    assert card["steps"] == {
        "search": 12,
        "batch_size": 16,
        "seconds_per_candidate": None,
        "final": None,
        "fidelity": None,
    }
    assert card["backend"] in ("tensorflow", "jax")
    assert card["versions"]["kgan_nas"] == kgan_nas.__version__ and card["versions"]["keras"]


def test_card_rows_read_every_recorded_value(run_path):
    rows = _rows(SearchResult(str(run_path)).protocol)
    assert rows["dataset"] == "digits"
    assert rows["seeds (search / split / extractor)"] == "5 / 5 / 0"
    assert rows["split sizes (train / eval / holdout)"].endswith("/ 270")
    assert rows["final training"] == "none"
    assert protocol.NOT_RECORDED not in rows.values()


def test_old_run_without_card_loads_and_reports_not_recorded(run_path, tmp_path):
    """A run from before the card: no protocol.json, no details, no extractor sidecar."""
    old = _copy(run_path, tmp_path)
    (old / protocol.PROTOCOL_JSON).unlink()
    (old / "extractor.json").unlink()
    stored = json.loads((old / "config.json").read_text())
    del stored["details"]
    (old / "config.json").write_text(json.dumps(stored))

    card = SearchResult(str(old)).protocol
    assert card["splits"] == {"train": None, "eval": None, "holdout": None}
    assert card["features"]["cache_key"] is None and card["versions"] is None
    assert card["dataset"]["name"] == "digits"  # config.json's search part is still there
    rows = _rows(card)
    for label in (
        "split sizes (train / eval / holdout)",
        "extractor cache key",
        "versions",
        "classes",
    ):
        assert rows[label] == protocol.NOT_RECORDED, label
    assert cli.main(["report", str(old)]) == 0
    page = (old / "report.html").read_text(encoding="utf-8")
    section = page.split('id="protocol"')[1].split("<h2")[0]
    assert protocol.NOT_RECORDED in section and "digits" in section


def test_final_stage_in_the_config_fills_the_reporting_samples(run_path, tmp_path):
    """A `final` entry in the search config (the final-training stage) enters the card."""
    run = _copy(run_path, tmp_path)
    (run / protocol.PROTOCOL_JSON).unlink()
    stored = json.loads((run / "config.json").read_text())
    stored["search"]["final"] = {"steps": 3000, "num_samples": 2000}
    stored["details"]["data"]["splits"]["holdout"] = 150
    (run / "config.json").write_text(json.dumps(stored))

    card = protocol.write_protocol_card(RunDir(str(run)))
    assert json.loads((run / protocol.PROTOCOL_JSON).read_text()) == card
    assert card["steps"]["final"] == {"steps": 3000, "num_samples": 2000}
    reporting = card["samples"]["reporting"]
    assert reporting == {
        "generated": 2000,
        "real": 150,
        "real_split": "holdout",
        "same_as_selection": False,
    }
    assert _rows(card)["final training"] == "steps 3000, num_samples 2000"


def test_inception_runs_say_the_extractor_has_no_cache_key():
    features = {"extractor": "inception", "cache_key": None, "accuracy": None}
    assert protocol._domain_only(features, "cache_key").startswith("none (inception")
    assert protocol._domain_only(dict(features, extractor=None), "cache_key") == "not recorded"


def test_card_of_another_format_is_rebuilt_from_the_directory(run_path, tmp_path):
    run = _copy(run_path, tmp_path)
    (run / protocol.PROTOCOL_JSON).write_text(json.dumps({"format": 99, "dataset": "x"}))
    card = SearchResult(str(run)).protocol
    assert card["format"] == protocol.CARD_FORMAT and card["dataset"]["name"] == "digits"


def test_report_shows_the_card(run_path, tmp_path):
    run = _copy(run_path, tmp_path)
    assert cli.main(["report", str(run)]) == 0
    page = (run / "report.html").read_text(encoding="utf-8")
    section = page.split('id="protocol"')[1].split("<h2")[0]
    fingerprint = json.loads((run / "config.json").read_text())["search"]["data_fingerprint"]
    assert fingerprint in section and 'id="protocol-card"' in section
    assert protocol.NOT_RECORDED not in section
