"""`benchmarks/baselines.py` and `benchmarks/final_study.py`: their arithmetic and a tiny run.

The real study runs for hours; here the summaries are checked by hand and
the baselines script runs end to end on digits for a few steps, writing the
shared record (command, commit, machine).
"""

import importlib
import json
import os
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


@pytest.fixture()
def scripts(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("baselines"), importlib.import_module("final_study")


def _run(model, rate, fid, status="ok"):
    live = None if fid is None else fid + 1.0
    return {"model": model, "learning_rate": rate, "fid": fid, "fid_live": live, "status": status}


def test_baselines_pick_each_models_best_rate_by_mean(scripts):
    baselines, _ = scripts
    rows, best = baselines.summarise(
        [
            _run("dcgan", 1e-4, 10.0),
            _run("dcgan", 1e-4, 20.0),
            _run("dcgan", 2e-4, 12.0),
            _run("dcgan", 2e-4, None, status="nan"),
            _run("mlp", 1e-3, None, status="diverged"),
        ]
    )
    by_rate = {(row["model"], row["learning_rate"]): row for row in rows}
    assert by_rate[("dcgan", 1e-4)]["fid_mean"] == 15.0
    assert by_rate[("dcgan", 1e-4)]["fid_std"] == pytest.approx(7.0710678)
    assert by_rate[("dcgan", 1e-4)]["fid_live_mean"] == 16.0
    assert (by_rate[("dcgan", 2e-4)]["fid_mean"], by_rate[("dcgan", 2e-4)]["failed"]) == (12.0, 1)
    assert by_rate[("mlp", 1e-3)]["fid_mean"] is None
    # 2e-4 has the lower mean but over one run of two: 1e-4 is the result.
    assert best["dcgan"]["learning_rate"] == 1e-4 and "mlp" not in best


@pytest.mark.parametrize("searched, wins", [(9.0, True), (11.0, False)])
def test_a_seed_is_a_win_when_the_searched_mean_beats_the_best_baseline(
    scripts, tmp_path, searched, wins
):
    _, study = scripts
    key = "a" * 16
    fitness = {"steps": 300, "params": 1000, "discriminator_params": 2000}
    parent = "p" * 16
    records = [
        {"key": parent, "generation": 0, "objective": 130.0, "fitness": fitness, "status": "ok"},
        {"key": key, "generation": 1, "objective": 120.0, "fitness": fitness},
        {
            "key": key,
            "generation": 2,
            "parent": parent,
            "objective": 110.0,
            "fitness": dict(fitness, params=1001),
        },
        {"key": "b" * 16, "generation": 2, "objective": 5.0, "fitness": fitness},
        {"key": key, "generation": 3, "objective": None, "fitness": {}},
    ]
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for index, seconds in enumerate((12.5, 14.0)):
        job = tmp_path / "final" / f"{key}_seed{index}"
        job.mkdir(parents=True)
        (job / "record.json").write_text(json.dumps({"seconds": seconds}))
    summary = {
        "protocol": {"steps": 5},
        "genomes": [{"key": key}],
        "chosen": {"key": key, "fid_mean": searched, "fid_std": 1.0},
    }
    report = {
        "rows": [],
        "best": {
            "dcgan": {"model": "dcgan", "fid_mean": 10.0},
            "mlp": {"model": "mlp", "fid_mean": 30.0},
        },
    }
    row = study.compare(0, str(tmp_path), summary, report)
    assert row["best_baseline"]["model"] == "dcgan"
    assert row["searched_wins"] is wins
    # The search's own numbers of the genome: its best scored record, its final runs' time.
    assert row["searched"]["search"][key] == {
        "search_objective": 110.0,
        "search_steps": 300,
        "generator_params": 1001,
        "discriminator_params": 2000,
        # Scored after inheriting its parent's 300 steps.
        "lineage": [parent, key],
        "search_total_steps": 600,
        "final_seconds": [12.5, 14.0],
    }


def test_the_study_tallies_wins_and_tests_them_paired(scripts):
    _, study = scripts

    def row(searched, baseline):
        best = None if baseline is None else {"fid_mean": baseline}
        wins = best is not None and searched < baseline
        return {"searched": {"fid_mean": searched}, "best_baseline": best, "searched_wins": wins}

    tally = study.tally([row(5.0, 10.0), row(8.0, 9.0), row(30.0, 20.0), row(1.0, None)])
    assert (tally["wins"], tally["seeds"]) == (2, 4)
    test = tally["searched_vs_best_baseline"]
    assert (test["wins"], test["losses"], test["pairs"]) == (2, 1, 3)
    assert test["sign_test_p"] == pytest.approx(0.5)  # P(at least 2 of 3 heads)
    both = study.tally([row(5.0, 10.0), row(8.0, 9.0)])["searched_vs_best_baseline"]
    assert both["sign_test_p"] == pytest.approx(0.25)


def _design(model):
    """The layers of `model` in order, each as its kind and the settings that define it."""
    design = []
    for layer in model.layers:
        kind, config = type(layer).__name__, layer.get_config()
        if kind == "Dense":
            design.append((kind, config["units"], config["activation"]))
        elif kind in ("Conv2D", "Conv2DTranspose"):
            kernel, strides = tuple(config["kernel_size"]), tuple(config["strides"])
            design.append(
                (kind, config["filters"], kernel, strides, config["padding"], config["activation"])
            )
        elif kind == "LeakyReLU":
            design.append((kind, config["negative_slope"]))
        elif kind == "Reshape":
            design.append((kind, tuple(config["target_shape"])))
        else:
            design.append((kind,))
    return design


LEAKY = ("LeakyReLU", 0.2)


@pytest.mark.keras
def test_the_dcgan_baseline_is_the_keras_io_mnist_pair(scripts):
    """Layer for layer the keras.io MNIST DCGAN ("GAN overriding `Model.train_step`"),
    tanh out for images in [-1, 1], scaled to the image: a quarter of its side to start."""
    baselines, _ = scripts
    generator, discriminator = baselines.dcgan((28, 28, 1))
    assert generator.input_shape == (None, 128) and generator.output_shape == (None, 28, 28, 1)
    assert discriminator.output_shape == (None, 1)
    up = ("Conv2DTranspose", 128, (4, 4), (2, 2), "same", "linear")
    assert _design(generator) == [
        ("Dense", 7 * 7 * 128, "linear"),
        LEAKY,
        ("Reshape", (7, 7, 128)),
        up,
        LEAKY,
        up,
        LEAKY,
        ("Conv2D", 1, (7, 7), (1, 1), "same", "tanh"),
    ]
    assert _design(discriminator) == [
        ("Conv2D", 64, (3, 3), (2, 2), "same", "linear"),
        LEAKY,
        ("Conv2D", 128, (3, 3), (2, 2), "same", "linear"),
        LEAKY,
        ("GlobalMaxPooling2D",),
        ("Dense", 1, "linear"),
    ]
    generator, discriminator = baselines.dcgan((32, 32, 3), minibatch_std=True)
    assert _design(generator)[:3] == [
        ("Dense", 8 * 8 * 128, "linear"),
        LEAKY,
        ("Reshape", (8, 8, 128)),
    ]
    assert _design(generator)[-1] == ("Conv2D", 3, (7, 7), (1, 1), "same", "tanh")
    assert [kind for kind, *_ in _design(discriminator)][-3:] == [
        "MinibatchStd",
        "GlobalMaxPooling2D",
        "Dense",
    ]
    with pytest.raises(ValueError, match="divisible by 4"):
        baselines.dcgan((10, 10, 1))


@pytest.mark.keras
def test_the_mlp_baseline_is_the_fully_connected_pair_it_describes(scripts):
    """G: 64 -> 256 -> 512 -> the image (tanh); D: the image -> 512 -> 256 -> 1."""
    baselines, _ = scripts
    generator, discriminator = baselines.mlp((28, 28, 1))
    assert generator.input_shape == (None, 64) and generator.output_shape == (None, 28, 28, 1)
    assert _design(generator) == [
        ("Dense", 256, "linear"),
        LEAKY,
        ("Dense", 512, "linear"),
        LEAKY,
        ("Dense", 28 * 28, "tanh"),
        ("Reshape", (28, 28, 1)),
    ]
    assert _design(discriminator) == [
        ("Flatten",),
        ("Dense", 512, "linear"),
        LEAKY,
        ("Dense", 256, "linear"),
        LEAKY,
        ("Dense", 1, "linear"),
    ]


@pytest.mark.keras
@pytest.mark.slow
def test_baselines_script_trains_scores_and_reuses_finished_runs(
    tmp_path, cache_dir, scripts, monkeypatch
):
    output = tmp_path / "baselines.json"
    argv = [
        sys.executable,
        os.path.join(BENCHMARKS, "baselines.py"),
        "--dataset",
        "digits",
        "--steps",
        "3",
        "--seeds",
        "1",
        "--models",
        "mlp",
        "--mlp-lrs",
        "1e-3",
        "--recipe-mlp-lrs",
        "1e-3",
        "--num-samples",
        "100",
        "--no-xla",
        "--runs",
        str(tmp_path / "runs"),
        "--output",
        str(output),
    ]
    env = dict(os.environ, KGAN_NAS_CACHE=str(cache_dir))
    first = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["source"]["holdout_images"] == 270
    assert report["protocol"]["num_samples"] == 100
    row, recipe_row = report["rows"]
    assert row["model"] == "mlp" and len(row["fids"]) == 1 and row["fids"][0] > 0
    # The recipe variant is its own row, its own folder, from the same start.
    assert recipe_row["model"] == "mlp+recipe" and len(recipe_row["fids"]) == 1
    assert set(report["best"]) == {"mlp", "mlp+recipe"}
    plain, recipe = (
        json.loads((tmp_path / "runs" / name / "record.json").read_text())
        for name in ("mlp_lr0.001_seed0", "mlp_lr0.001_seed0_recipe")
    )
    assert "options" not in plain
    assert recipe["options"] == {"augment": "translation,cutout", "r1_weight": 1.0, "d_steps": 2}
    assert recipe["training_seed"] == plain["training_seed"]
    marker = json.loads((tmp_path / "runs" / "extractor.json").read_text())
    assert marker == {"weights": report["source"]["extractor"]}
    assert len(marker["weights"]) == 16
    assert "baselines.py" in report["machine"]["command"]
    record = tmp_path / "runs" / "mlp_lr0.001_seed0" / "record.json"
    stamp = record.stat().st_mtime_ns
    baselines, _ = scripts
    monkeypatch.setenv("KGAN_NAS_CACHE", str(cache_dir))
    again = baselines.main(argv[2:])  # in this process: no second start-up
    assert record.stat().st_mtime_ns == stamp  # reused, not trained again
    assert again["rows"][0]["fids"] == row["fids"]
    # The finished plain run scored again at another sample count, nothing trained.
    monkeypatch.syspath_prepend(BENCHMARKS)
    rescore = importlib.import_module("rescore_baselines")
    rescored = rescore.main(
        ["--dataset", "digits", "--runs", str(tmp_path / "runs"), "--steps", "3"]
        + ["--num-samples", "50", "--output", str(tmp_path / "rescored.json")]
    )
    assert record.stat().st_mtime_ns == stamp
    (only,) = rescored["rows"]  # the recipe variant is not a reference line
    assert only["model"] == "mlp" and only["fids"][0] != row["fids"][0]
    assert rescored["protocol"] == {
        "steps": 3,
        "seeds": 2,
        "num_samples": 50,
        "rescored": True,
        "reference": "holdout",
        "extractor": "domain",
    }
    assert rescored["source"]["fingerprint"] == report["source"]["fingerprint"]


def test_the_recipe_is_the_ablations_all_levers_less_minibatch_std_for_the_mlp(scripts, ablation):
    baselines, _ = scripts
    assert baselines.recipe_options("dcgan") == ablation.lever_options(
        "all", ablation.parser().parse_args([])
    )
    assert baselines.recipe_options("mlp") == {
        key: value for key, value in baselines.RECIPE.items() if key != "minibatch_std"
    }
    baselines.recipe_options("dcgan")["d_steps"] = 5  # a copy: RECIPE stays as measured
    assert baselines.RECIPE["d_steps"] == 2


def test_baseline_runs_of_two_extractors_never_share_a_folder(scripts, tmp_path):
    baselines, _ = scripts
    runs = tmp_path / "runs"
    baselines.check_extractor(str(runs), "w1")  # an empty folder: this extractor's now
    assert json.loads((runs / "extractor.json").read_text()) == {"weights": "w1"}
    baselines.check_extractor(str(runs), "w1")
    with pytest.raises(SystemExit, match="extractor w1.*extractor is w2.*another --runs"):
        baselines.check_extractor(str(runs), "w2")
    # Runs from before the marker: unknown extractor, so no silent reuse.
    older = tmp_path / "older"
    (older / "mlp_lr0.001_seed0").mkdir(parents=True)
    (older / "mlp_lr0.001_seed0" / "record.json").write_text("{}")
    with pytest.raises(SystemExit, match='no extractor.json.*"weights": "w1"'):
        baselines.check_extractor(str(older), "w1")
    assert not (older / "extractor.json").exists()


@pytest.mark.keras
def test_the_extractor_id_follows_the_weights(scripts):
    import keras

    from kgan_nas.features import DomainExtractor
    from kgan_nas.features.domain_training import _build_domain_classifier

    baselines, _ = scripts
    classifier = _build_domain_classifier((8, 8, 1), 3, 8)
    first = baselines.extractor_id(DomainExtractor(classifier))
    assert first == baselines.extractor_id(DomainExtractor(classifier))
    weights = classifier.get_weights()
    classifier.set_weights([w + 1.0 for w in weights])
    assert baselines.extractor_id(DomainExtractor(classifier)) != first
    keras.backend.clear_session()


def test_final_study_with_recipe_names_its_runs_and_adds_the_recipe_baselines(scripts, monkeypatch):
    baselines, study = scripts
    plain = study.parser().parse_args(["--seeds", "3"])
    recipe = study.parser().parse_args(["--seeds", "3", "--recipe", "--recipe-mlp-lrs", "1e-3"])
    staged = study.parser().parse_args(["--recipe", "--recipe-dcgan-lrs"])
    random = study.parser().parse_args(["--seeds", "3", "--strategy", "random"])
    assert (study.run_name(plain, 3), study.run_name(recipe, 3), study.run_name(random, 3)) == (
        "mnist_5k_seed3",
        "mnist_5k_recipe_seed3",
        "mnist_5k_random_seed3",
    )
    seen = []
    monkeypatch.setattr(baselines, "run_baselines", seen.append)
    summary = {
        "protocol": {"steps": 7, "seeds": 2, "batch_size": 8, "ema_decay": 0.9, "num_samples": 50}
    }
    for args in (plain, recipe, staged):
        study.baselines_for("runs/x", 3, summary, args)
    without, with_recipe, no_dcgan = seen
    assert without.recipe_learning_rates == {"dcgan": [], "mlp": []}
    assert with_recipe.recipe_learning_rates == {"dcgan": [5e-4], "mlp": [1e-3]}
    assert no_dcgan.recipe_learning_rates == {"dcgan": [], "mlp": [2e-4, 1e-3]}
    # Plain and recipe runs of a seed share the baselines' folder (reused runs).
    assert without.runs == with_recipe.runs
    assert (with_recipe.steps, with_recipe.seeds, with_recipe.num_samples) == (7, 2, 50)


@pytest.mark.keras
def test_minibatch_std_is_refused_for_the_mlp_baseline(scripts, tmp_path):
    import argparse

    baselines, _ = scripts

    class Data:
        image_shape = (8, 8, 1)

        def fingerprint(self):
            return "f"

    args = argparse.Namespace(
        runs=str(tmp_path), steps=1, batch_size=8, ema_decay=0.9, num_samples=10
    )
    with pytest.raises(ValueError, match="minibatch_std is a DCGAN option"):
        baselines.train_one("mlp", 1e-3, 0, Data(), None, args, {"minibatch_std": True}, "x")


@pytest.fixture()
def ablation(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    return importlib.import_module("recipe_ablation")


def _lever_run(seed, fid, live, status="ok", options=None):
    return {
        "seed_index": seed,
        "fid": fid,
        "fid_live": live,
        "status": status,
        "options": options or {},
    }


def test_ablation_compares_each_lever_with_base_within_seeds(ablation):
    rows = ablation.summarise(
        {
            "base": [
                _lever_run(0, 10.0, 12.0),
                _lever_run(1, 20.0, 19.0),
                _lever_run(2, 30.0, 33.0),
            ],
            "r1": [
                _lever_run(0, 8.0, 9.0, options={"r1_weight": 1.0}),
                _lever_run(1, 21.0, 22.0, options={"r1_weight": 1.0}),
                _lever_run(2, None, None, status="nan", options={"r1_weight": 1.0}),
            ],
        }
    )
    base, r1 = rows
    assert base["against_base"] is None and base["fid_mean"] == 20.0
    # EMA within base: averaged minus last weights per seed (-2, +1, -3).
    assert base["ema"]["differences"] == [-2.0, 1.0, -3.0] and base["ema"]["wins"] == 2
    assert r1["options"] == {"r1_weight": 1.0} and r1["failed"] == 1
    # Only seeds both finished are paired: seed 2 failed under r1.
    assert r1["against_base"]["seeds"] == [0, 1]
    assert r1["against_base"]["differences"] == [-2.0, 1.0]
    assert r1["against_base"]["wins"] == 1
    assert 0.0 < r1["against_base"]["p_value"] <= 1.0


def test_ablation_lever_options_combine_into_all(ablation):
    args = ablation.parser().parse_args(["--r1-weight", "0.1", "--augment", "translation"])
    assert ablation.lever_options("base", args) == {}
    assert ablation.lever_options("r1", args) == {"r1_weight": 0.1}
    assert ablation.lever_options("all", args) == {
        "augment": "translation",
        "r1_weight": 0.1,
        "d_steps": 2,
        "minibatch_std": True,
    }
    assert ablation.lever_options("all_but_r1", args) == {
        "augment": "translation",
        "d_steps": 2,
        "minibatch_std": True,
    }
    assert ablation.lever_options("all_but_minibatch_std", args) == {
        "augment": "translation",
        "r1_weight": 0.1,
        "d_steps": 2,
    }
    assert (args.steps, args.seeds) == (1000, 3)


@pytest.mark.keras
@pytest.mark.slow
def test_ablation_script_trains_each_lever_from_the_same_start(
    tmp_path, cache_dir, ablation, monkeypatch
):
    monkeypatch.setenv("KGAN_NAS_CACHE", str(cache_dir))
    output = tmp_path / "ablation.json"
    argv = ["--dataset", "digits", "--steps", "2", "--seeds", "1", "--num-samples", "64"]
    argv += ["--levers", "base", "r1", "minibatch_std", "--runs", str(tmp_path / "runs")]
    report = ablation.main(argv + ["--output", str(output)])
    assert json.loads(output.read_text())["protocol"]["steps"] == 2
    rows = {row["lever"]: row for row in report["rows"]}
    assert rows["r1"]["options"] == {"r1_weight": 1.0}
    assert rows["minibatch_std"]["options"] == {"minibatch_std": True}
    for lever, folder in [("base", "dcgan_lr0.0002_seed0"), ("r1", "dcgan_lr0.0002_seed0_r1")]:
        record = json.loads((tmp_path / "runs" / folder / "record.json").read_text())
        assert record["status"] == "ok" and len(rows[lever]["fids"]) == 1
    # Variants of a seed start from the same weights and data order.
    seeds = {
        json.loads((tmp_path / "runs" / name / "record.json").read_text())["training_seed"]
        for name in ("dcgan_lr0.0002_seed0", "dcgan_lr0.0002_seed0_r1")
    }
    assert len(seeds) == 1
    assert rows["r1"]["against_base"]["seeds"] == [0]
    # --reuse-only reports the finished runs and trains nothing: the lever with
    # no finished run reports none, and the finished records are untouched.
    stamp = (tmp_path / "runs" / "dcgan_lr0.0002_seed0" / "record.json").stat().st_mtime_ns
    again = ablation.main(
        argv[:8]
        + ["--levers", "base", "d_steps2", "--runs", str(tmp_path / "runs")]
        + ["--reuse-only", "--output", str(output)]
    )
    rows = {row["lever"]: row for row in again["rows"]}
    assert rows["base"]["fids"] == report["rows"][0]["fids"]
    assert rows["d_steps2"]["fids"] == [] and rows["d_steps2"]["fid_mean"] is None
    assert not (tmp_path / "runs" / "dcgan_lr0.0002_seed0_d_steps2").exists()
    assert (tmp_path / "runs" / "dcgan_lr0.0002_seed0" / "record.json").stat().st_mtime_ns == stamp


def test_results_name_the_copied_commit_when_the_caller_sets_it(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    common = importlib.import_module("_common")
    monkeypatch.delenv("BENCHMARK_GIT_COMMIT", raising=False)
    assert common.git_state()["commit"] != "abc123"  # this checkout's own commit
    monkeypatch.setattr(
        common.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(OSError("no git"))
    )
    assert common.git_state() is None
    # Set, it wins over git: a device machine's .git may not be the copied tree's.
    monkeypatch.setenv("BENCHMARK_GIT_COMMIT", "abc123")
    assert common.git_state() == {"commit": "abc123", "copied_tree": True}


def test_rescoring_takes_the_protocols_plain_runs_only(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    rescore = importlib.import_module("rescore_baselines")
    runs = {
        "mlp_lr0.001_seed0": {"steps": 2000, "seed_index": 0, "status": "ok"},
        "mlp_lr0.001_seed1": {"steps": 2000, "seed_index": 1, "status": "ok"},
        "mlp_lr0.001_seed2": {"steps": 2000, "seed_index": 2, "status": "ok"},  # another study's
        "mlp_lr0.001_seed0_recipe": {"steps": 2000, "seed_index": 0, "status": "ok"}
        | {"options": {"d_steps": 2}},
        "dcgan_lr0.0002_seed0": {"steps": 1000, "seed_index": 0, "status": "ok"},
        "dcgan_lr0.0005_seed0": {"steps": 2000, "seed_index": 0, "status": "nan"},
    }
    for name, record in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "record.json").write_text(json.dumps(record))
    found = [os.path.basename(folder) for folder, _ in rescore.finished_runs(tmp_path, 2000, 2)]
    assert found == ["mlp_lr0.001_seed0", "mlp_lr0.001_seed1"]
