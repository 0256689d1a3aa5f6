"""`benchmarks/training_yield.py`: features of a genome, the per-value test, the rule, the docs."""

import importlib
import json
import os

import numpy as np
import pytest

from kgan_nas.core.space import SearchSpace

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("training_yield")


def test_features_name_every_training_gene_and_each_networks_make_up(bench):
    genome = SearchSpace(image_shape=(8, 8, 1)).sample(np.random.default_rng(0)).to_dict()
    found = bench.features(genome)
    assert found["training.loss"] == genome["training"]["loss"]
    assert found["generator.layers"] == len(genome["generator"])
    kinds = {layer["kind"] for layer in genome["discriminator"]}
    assert set(found["discriminator.kinds"].split("+")) == kinds


def _rows(share_a, share_b, n=60):
    rows = []
    for value, share in (("a", share_a), ("b", share_b)):
        trained = int(share * n)
        rows += [({"training.loss": value}, i < trained) for i in range(n)]
    return rows


def test_a_prior_is_proposed_only_where_every_data_set_agrees(bench):
    strong = bench.table(_rows(0.8, 0.2))
    cell = strong["training.loss"]["a"]
    assert (cell["trained"], cell["total"], cell["rest_share"]) == (48, 60, 0.2)
    assert cell["p"] < 1e-6
    both = bench.proposals({"digits": strong, "mnist_5k": bench.table(_rows(0.7, 0.1))})
    assert {"feature": "training.loss", "value": "a", "raises": True} in both
    weak = bench.proposals({"digits": strong, "mnist_5k": bench.table(_rows(0.5, 0.45))})
    assert weak == []
    opposite = bench.proposals({"digits": strong, "mnist_5k": bench.table(_rows(0.1, 0.7))})
    assert opposite == []


def test_candidates_read_a_run_and_leave_the_zoo_out(bench, tmp_path):
    genome = SearchSpace(image_shape=(8, 8, 1)).sample(np.random.default_rng(1)).to_dict()
    (tmp_path / "baselines.json").write_text(json.dumps({"fid_uniform_noise": 100.0}))
    records = [
        {"genome": genome, "objective": 10.0},
        {"genome": genome, "objective": 70.0},
        {"genome": genome, "objective": None},
        {"genome": genome, "objective": 5.0, "zoo": "dcgan"},
    ]
    (tmp_path / "history.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert [trained for _, trained in bench.candidates(str(tmp_path))] == [True, False, False]


def test_the_docs_quote_the_benchmarks_json(bench):
    import _common

    block = _common.docs_block(bench.MARKERS)
    expected = _common.expected_block("training_yield", bench.markdown)
    if expected is None:
        assert block.strip() == ""
    else:
        assert block == expected
