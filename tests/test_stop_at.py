"""A target to stop at: `SearchOptions(stop_at={"fid_domain": 20.0})` / `--stop-at`.

The search ends after the generation in which a candidate meets every target,
says so, records it in the checkpoint, and a resume with the target stops again;
a resume without it goes on.
"""

import json

import pytest
from tiny_runs import scripted_search
from tiny_runs import skip_worker_files

import kgan_nas
from kgan_nas.core.objectives import check_targets
from kgan_nas.core.objectives import meets_targets


def test_targets_are_checked():
    assert check_targets(None) is None
    assert check_targets({"fid_domain": 20}) == {"fid_domain": 20.0}
    for bad, message in [
        ({}, "must be a dict"),
        ([("fid_domain", 1.0)], "must be a dict"),
        ({"fid_dom": 1.0}, "not a metric"),
        ({"fid": 1.0}, "not a metric"),  # which extractor's FID? say fid_domain
        ({"fid_domain": float("nan")}, "finite number"),
        ({"params": True}, "finite number"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_targets(bad)


def test_a_target_is_met_in_the_direction_its_objective_wants():
    record = {"status": "ok", "fid_domain": 19.0, "is_domain": 2.5, "params": 9000}
    assert meets_targets(record, {"fid_domain": 20.0})
    assert not meets_targets(record, {"fid_domain": 18.0})
    assert meets_targets(record, {"is_domain": 2.0}) and not meets_targets(record, {"is_domain": 3})
    assert meets_targets(record, {"fid_domain": 20.0, "params": 10_000})
    assert not meets_targets(record, {"fid_domain": 20.0, "params": 8_000})  # every target
    assert not meets_targets(dict(record, status="nan"), {"fid_domain": 20.0})
    assert not meets_targets(record, {"class_accuracy": 0.5})  # not measured


def test_the_search_stops_after_the_generation_that_meets_the_target(monkeypatch, tmp_path, capsys):
    skip_worker_files(monkeypatch, tmp_path)
    directory = tmp_path / "run"
    options = kgan_nas.SearchOptions(batch_size=16, num_samples=100, stop_at={"fid_domain": 1e9})
    result = scripted_search(
        directory, generations=3, verbose=1, options=options, batch_size=None, num_samples=None
    )
    assert {record["generation"] for record in result.history} == {1}
    assert "Stopping after generation 1: candidate" in capsys.readouterr().out
    checkpoint = json.loads((directory / "checkpoint.json").read_text())
    assert checkpoint["stopped_at_target"] in {record["key"] for record in result.history}
    assert result.config["stop_at"] == {"fid_domain": 1e9}
    # Resumed with its target, it stops again before asking for more.
    again = scripted_search(
        directory, generations=3, options=options, batch_size=None, num_samples=None
    )
    assert len(again.history) == len(result.history)
    # A resume may drop the target: the search goes on to its generations.
    drop = kgan_nas.SearchOptions(batch_size=16, num_samples=100)
    rest = scripted_search(
        directory, generations=3, options=drop, batch_size=None, num_samples=None
    )
    assert {record["generation"] for record in rest.history} == {1, 2, 3}


def test_an_unmet_target_runs_every_generation(monkeypatch, tmp_path):
    skip_worker_files(monkeypatch, tmp_path)
    options = kgan_nas.SearchOptions(batch_size=16, num_samples=100, stop_at={"fid_domain": -1})
    result = scripted_search(
        tmp_path / "run", generations=2, options=options, batch_size=None, num_samples=None
    )
    assert {record["generation"] for record in result.history} == {1, 2}


def test_stop_at_on_the_command_line(monkeypatch, tmp_path):
    from tiny_runs import flat_search_keywords

    from kgan_nas.cli import commands as cli

    seen = {}

    def capture(*args, **kwargs):
        seen.update(flat_search_keywords(kwargs))
        return type("Result", (), {"summary": lambda self: ""})()

    monkeypatch.setattr(cli.search_api, "search", capture)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["search", "--quiet", "--stop-at", "fid_domain=20", "params=5e4"]) == 0
    assert seen["stop_at"] == {"fid_domain": 20.0, "params": 50000.0}
    assert cli.main(["search", "--quiet"]) == 0 and seen["stop_at"] is None
    # A name without its value is a usage error, not a NaN target.
    with pytest.raises(SystemExit):
        cli.main(["search", "--quiet", "--stop-at", "fid_domain"])


def test_a_class_target_in_an_unconditional_search_is_refused_before_any_data_loads():
    """A target that is never measured would let the search run to its end silently;
    class objectives get the error they get in `objectives=`."""
    options = kgan_nas.SearchOptions(stop_at={"class_accuracy": 0.5})
    with pytest.raises(
        ValueError,
        match=r"stop_at target\(s\) \['class_accuracy'\] are measured "
        r"for class-conditional generators only; pass conditional=True",
    ):
        kgan_nas.search("digits", options=options, directory="unused", verbose=0)


@pytest.mark.parametrize(
    "stop_at, message",
    [
        ({"fid_inception": 30.0}, r"measured with inception features.*use 'fid_domain'"),
        ({"generator_latency": 0.01}, r"optimises it; add it to objectives"),
    ],
)
def test_a_target_the_search_never_records_is_refused(stop_at, message):
    """A target of another extractor's metric, or a latency nobody times, is never met."""
    options = kgan_nas.SearchOptions(stop_at=stop_at)
    with pytest.raises(ValueError, match=message):
        kgan_nas.search("digits", options=options, directory="unused", verbose=0)
