"""Class-conditional search: the conditioning gene, decoding, training, scoring, sampling."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from tiny_runs import tiny_real_search

import kgan_nas
from kgan_nas.core import conditioning
from kgan_nas.core.class_labels import check_labels
from kgan_nas.core.class_labels import sample_grid_labels
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.genome import ConditioningGenes
from kgan_nas.core.genome import Genome
from kgan_nas.core.operators import crossover
from kgan_nas.core.operators import mutate
from kgan_nas.core.space import SearchSpace

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3)]
COND_SPACES = {
    shape: SearchSpace(image_shape=shape, latent_dim=16, max_params=400_000, num_classes=10)
    for shape in SHAPES
}
TINY_COND_SPACE = SearchSpace(
    image_shape=(8, 8, 1), latent_dim=8, max_params=40_000, num_classes=10
)

shapes = st.sampled_from(SHAPES)
seeds = st.integers(0, 2**32 - 1)


def _genomes(shape, seed):
    space = COND_SPACES[shape]
    rng = np.random.default_rng(seed)
    parent = space.sample(rng)
    child = mutate(parent, space, rng, rate=0.3)
    cross = crossover(child, space.sample(rng), space, rng)
    return space, [parent, child, cross]


# -- the gene (pure Python) ---------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(shape=shapes, seed=seeds)
def test_conditional_operators_keep_a_valid_conditioning_gene(shape, seed):
    """Sampled, mutated and crossed conditional genomes are valid and carry the gene."""
    space, genomes = _genomes(shape, seed)
    for genome in genomes:
        assert genome.conditional
        assert space.problems(genome) == []
        assert space.params(genome) <= space.max_params
        genes = genome.conditioning
        assert genes.generator in space.generator_conditionings
        assert genes.discriminator in space.discriminator_conditionings
        # The embedding width is neutral (0) exactly when the generator multiplies.
        assert (genes.embedding_dim == 0) == (genes.generator == "multiply")


@settings(max_examples=100, deadline=None)
@given(shape=shapes, seed=seeds)
def test_conditional_genome_json_round_trip_keeps_the_gene(shape, seed):
    _, genomes = _genomes(shape, seed)
    for genome in genomes:
        restored = Genome.from_json(genome.to_json())
        assert restored == genome and restored.key() == genome.key()
        assert restored.conditioning == genome.conditioning


@settings(max_examples=100, deadline=None)
@given(seed=seeds)
def test_mutation_reaches_every_conditioning_choice(seed):
    """Mutating only the gene explores all its choices, and always changes it."""
    space = COND_SPACES[(8, 8, 1)]
    rng = np.random.default_rng(seed)
    genes = conditioning.random_genes(space, rng)
    seen = set()
    for _ in range(60):
        changed = conditioning.change(genes, space, rng)
        assert changed != genes
        assert conditioning.snap(space, changed) == changed
        genes = changed
        seen.add((genes.generator, genes.discriminator))
    assert seen == {(g, d) for g in ("concat", "multiply") for d in ("concat", "projection")}


def test_unconditional_genomes_and_spaces_are_stored_as_before():
    """No conditioning key, no new space fields: old keys and run configs still match."""
    space = SearchSpace(image_shape=(8, 8, 1), max_params=150_000)
    rng = np.random.default_rng(0)
    a, b = space.sample(rng), space.sample(rng)
    c = mutate(a, space, rng, rate=0.3)
    d = crossover(c, b, space, rng)
    # The keys this seed gave before conditioning existed (same draws, same JSON).
    assert [g.key() for g in (a, b, c, d)] == [
        "5f04f30c654e9fae",
        "bd27a1cfcf0d7e17",
        "a6a881f14669b612",
        "3184d41d91487fc8",
    ]
    assert "conditioning" not in a.to_dict()
    assert not set(conditioning.SPACE_FIELDS) & set(space.to_dict())
    assert "class_accuracy" not in Fitness(fid=1.0).to_dict()


def test_conditional_space_round_trips_and_validates_the_gene():
    space = COND_SPACES[(8, 8, 1)]
    assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    genome = space.sample(np.random.default_rng(1))
    unconditional = SearchSpace(image_shape=(8, 8, 1), latent_dim=16, max_params=400_000)
    assert any(
        "no conditioning genes" in p for p in space.problems(genome.replace(conditioning=None))
    )
    assert any("space is unconditional" in p for p in unconditional.problems(genome))
    # Repair moves a genome between the two kinds of space.
    assert unconditional.repair(genome).conditioning is None
    assert space.repair(genome.replace(conditioning=None)).conditional


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_classes=1), "at least two classes"),
        (dict(num_classes=2.5), "integer >= 2"),
        (dict(num_classes=3, generator_conditionings=("film",)), "generator_conditionings"),
        (dict(num_classes=3, embedding_dims=()), "embedding_dims"),
    ],
)
def test_bad_conditional_space_settings_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(image_shape=(8, 8, 1), **kwargs)


def test_conditioning_genes_reject_bad_values():
    with pytest.raises(ValueError, match="Unknown generator conditioning"):
        ConditioningGenes(generator="film")
    with pytest.raises(ValueError, match="embedding_dim must be positive"):
        ConditioningGenes(generator="concat", embedding_dim=0)
    with pytest.raises(TypeError, match="ConditioningGenes or None"):
        Genome((), (), conditioning={"generator": "concat"})


def test_plan_counts_the_embeddings():
    """The condition steps hold num_classes x width weights at the documented places."""
    space = COND_SPACES[(8, 8, 1)]
    genome = space.sample(np.random.default_rng(3))
    concat = genome.replace(conditioning=ConditioningGenes("concat", "concat", 8))
    g_plan, d_plan = space.generator_plan(concat), space.discriminator_plan(concat)
    assert (g_plan[0].role, g_plan[0].params, g_plan[0].output_shape) == ("condition", 80, (24,))
    assert (d_plan[0].role, d_plan[0].params, d_plan[0].output_shape) == (
        "condition",
        10 * 64,
        (8, 8, 2),
    )
    projection = genome.replace(conditioning=ConditioningGenes("multiply", "projection", 0))
    g_plan, d_plan = space.generator_plan(projection), space.discriminator_plan(projection)
    assert (g_plan[0].params, g_plan[0].output_shape) == (10 * 16, (16,))
    assert d_plan[-1].role == "condition" and d_plan[-2].role == "output"
    assert d_plan[-1].params == 10 * d_plan[-2].input_shape[0]
    # The generator still ends at the image's shape, whatever the embedding's width.
    for conditioned in (concat, projection):
        assert space.generator_plan(conditioned)[-1].output_shape == tuple(space.image_shape)


def test_check_labels_errors_name_the_problem():
    assert check_labels(3, 10, 4).tolist() == [[3]] * 4
    assert check_labels([0, 9], 10, 2).shape == (2, 1)
    with pytest.raises(ValueError, match="out of range.*0..9"):
        check_labels([0, 10], 10, 2)
    with pytest.raises(ValueError, match="out of range"):
        check_labels(-1, 10, 2)
    with pytest.raises(ValueError, match="2 entries for 3 images"):
        check_labels([0, 1], 10, 3)
    with pytest.raises(ValueError, match="integer class ids"):
        check_labels([0.5, 1.0], 10, 2)
    with pytest.raises(ValueError, match="integer class ids"):
        check_labels(["three"], 10, 1)


def test_sample_grid_labels_give_one_row_per_class():
    labels, nrow = sample_grid_labels(10, 64)
    assert nrow == 7 and labels.tolist()[:8] == [0] * 7 + [1] and labels.max() == 9
    assert sample_grid_labels(None, 16) == (None, None)
    assert sample_grid_labels(10, 16, 3) == (3, None)
    with pytest.raises(ValueError, match="--labels needs a class-conditional run"):
        sample_grid_labels(None, 16, 3)


# -- search arguments and data (errors before any training) --------------------


def _search(dataset, tmp_path, **kwargs):
    """A tiny real search that these tests expect refused before it trains; its space,
    compilation and final stage are the search's defaults, not tiny_real_search's."""
    options = dict(
        space=None,
        population=2,
        steps_per_candidate=5,
        num_samples=50,
        jit_compile="auto",
        final="preset",
    )
    options.update(kwargs)
    return tiny_real_search(tmp_path / "run", dataset, **options)


def test_conditional_search_without_labels_says_how_to_give_them(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="conditional=True needs class labels.*labels="):
        _search(images, tmp_path, conditional=True)
    assert not (tmp_path / "run").exists()


def test_conditional_search_with_one_class_is_refused(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="at least two classes"):
        _search(images, tmp_path, conditional=True, labels=np.zeros(64, dtype=int))


def test_conditional_search_with_an_empty_class_is_refused(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    labels = np.where(np.arange(64) % 2 == 0, 0, 2)
    with pytest.raises(ValueError, match=r"Class\(es\) \[1\] have no training images"):
        _search(images, tmp_path, conditional=True, labels=labels)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros(10, dtype=int), r"shape \(10,\) but there are 64 images"),
        (np.full(64, 0.5), "integer"),
    ],
)
def test_conditional_search_with_bad_labels_is_refused(tmp_path, labels, message):
    images = np.random.default_rng(0).uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match=message):
        _search(images, tmp_path, conditional=True, labels=labels)


def test_class_objectives_need_a_conditional_search(tmp_path):
    with pytest.raises(ValueError, match="class-conditional generators only"):
        _search("digits", tmp_path, objectives=("fid", "class_accuracy"))


def test_class_accuracy_needs_the_domain_classifier(tmp_path):
    with pytest.raises(ValueError, match="class_accuracy is measured with the domain classifier"):
        _search(
            "digits",
            tmp_path,
            conditional=True,
            metric="fid_inception",
            objectives=("fid", "class_accuracy"),
        )


def test_a_space_with_other_num_classes_is_refused(tmp_path):
    space = SearchSpace(image_shape=(8, 8, 1), num_classes=3)
    with pytest.raises(ValueError, match="num_classes=3 but the data set's labels give 10"):
        _search("digits", tmp_path, space=space)


def test_fitness_stores_and_orients_the_class_scores():
    fitness = Fitness(fid=3.0, class_accuracy=0.8, fid_per_class=9.0)
    restored = Fitness.from_dict(json.loads(json.dumps(fitness.to_dict())))
    assert restored == fitness
    assert fitness.objectives(("fid", "class_accuracy", "fid_per_class")) == (3.0, -0.8, 9.0)
    # An unconditional candidate never wins on a class objective.
    assert Fitness(fid=1.0).objective("class_accuracy") == float("inf")
    assert fitness.metrics()["class_accuracy"] == 0.8


# -- Keras: decode, train, save ----------------------------------------------------


@pytest.mark.keras
@pytest.mark.slow
def test_conditional_genomes_decode_with_exact_parameter_counts():
    import keras

    from kgan_nas.evaluation.decode import build_models

    rng = np.random.default_rng(7)
    checked = set()
    for shape, space in COND_SPACES.items():
        for _ in range(8):
            genome = space.sample(rng)
            generator, discriminator = build_models(genome, space)
            z = rng.normal(size=(3, space.latent_dim)).astype("float32")
            labels = np.array([[0], [4], [9]], dtype="int32")
            images = keras.ops.convert_to_numpy(generator([z, labels]))
            assert images.shape == (3,) + shape
            assert discriminator([images, labels]).shape == (3, 1)
            assert generator.count_params() == space.generator_params(genome)
            assert discriminator.count_params() == space.discriminator_params(genome)
            checked.add((genome.conditioning.generator, genome.conditioning.discriminator))
        keras.backend.clear_session()
    assert len(checked) == 4


@pytest.mark.keras
@pytest.mark.backend
@pytest.mark.slow
@pytest.mark.parametrize(
    "loss, jit_compile",
    # XLA for the loss with the most to compile (the penalty's inner gradient); the
    # others without, to keep the suite fast (XLA compiles take ~20 s on 2 cores).
    [("wasserstein_gp", True), ("non_saturating", False), ("hinge", False)],
)
def test_conditional_gan_trains_saves_and_generates(loss, jit_compile, tmp_path):
    """Each loss trains a conditional pair; the GAN saves, loads and generates."""
    import keras

    from kgan_nas import data
    from kgan_nas import training
    from kgan_nas.evaluation import decode

    rng = np.random.default_rng(0)
    genome = TINY_COND_SPACE.sample(rng)
    genome = genome.replace(training=genome.training.replace(loss=loss))
    gan = decode.build_gan(genome, TINY_COND_SPACE, seed=0, jit_compile=jit_compile)
    images = rng.uniform(-1, 1, size=(32, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 10, size=32)
    before = [v.numpy() if hasattr(v, "numpy") else np.asarray(v) for v in gan.generator.weights]
    report = training.train_for_budget(gan, data.train_input(images, 16, labels=labels), steps=2)
    assert report.status == "ok" and report.steps == 2, report.reason
    after = [np.asarray(keras.ops.convert_to_numpy(v)) for v in gan.generator.weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    assert gan.num_classes == 10
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.num_classes == 10
    np.testing.assert_allclose(
        loaded.generate(4, seed=1, labels=[0, 1, 2, 3]),
        gan.generate(4, seed=1, labels=[0, 1, 2, 3]),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="out of range"):
        gan.generate(2, labels=[0, 10])


@pytest.mark.keras
@pytest.mark.backend
def test_conditional_gan_without_labels_in_the_data_says_so():
    from kgan_nas import data
    from kgan_nas import training
    from kgan_nas.evaluation import decode

    genome = TINY_COND_SPACE.sample(np.random.default_rng(0))
    gan = decode.build_gan(genome, TINY_COND_SPACE, seed=0, jit_compile=False)
    images = np.zeros((32, 8, 8, 1), dtype="float32")
    report = training.train_for_budget(gan, data.train_input(images, 16), steps=1)
    assert report.status == "error" and "(images, labels) batches" in report.reason


@pytest.mark.keras
def test_unconditional_gan_refuses_labels():
    from tiny_runs import TINY_SPACE

    from kgan_nas.evaluation import decode

    genome = TINY_SPACE.sample(np.random.default_rng(0))
    gan = decode.build_gan(genome, TINY_SPACE, seed=0)
    assert gan.num_classes is None and "num_classes" not in gan.get_config()
    with pytest.raises(ValueError, match="labels= needs a class-conditional GAN"):
        gan.generate(2, labels=[0, 1])


# -- an end-to-end conditional search ------------------------------------------------


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory, cache_dir):
    directory = tmp_path_factory.mktemp("cond") / "run"
    tiny_real_search(
        directory,
        conditional=True,
        space=TINY_COND_SPACE,
        objectives=("fid", "class_accuracy"),
        population=2,
    )
    return directory


@pytest.mark.keras
@pytest.mark.slow
def test_conditional_search_records_class_scores_and_per_class_grids(cond_run):
    from PIL import Image

    from kgan_nas.results.search_result import SearchResult

    result = SearchResult(str(cond_run))
    assert result.num_classes == 10
    assert result.config["space"]["num_classes"] == 10
    for record in result.history:
        assert record["status"] == "ok", record["reason"]
        assert 0.0 <= record["fitness"]["class_accuracy"] <= 1.0
        assert record["fitness"]["fid_per_class"] > 0
        assert Genome.from_dict(record["genome"]).conditional
    # samples.png: one row per class (10 rows of 10 images of 8x8, enlarged to 32 px cells).
    with Image.open(cond_run / "best" / "samples.png") as grid:
        width, height = grid.size
    assert width == height  # 10 x 10 cells
    assert "chance 0.100" in result.summary()
    assert len(result.pareto_front()) >= 1
    # The class is an input that matters: in every candidate, the same latents make other
    # images for each class, and the discriminator scores one image by its label.
    images = np.random.default_rng(0).uniform(-1, 1, size=(4, 8, 8, 1)).astype("float32")
    for record in result.history:
        generator = result.generator(record["key"])
        by_class = [result.sample(4, seed=1, labels=k, generator=generator) for k in range(10)]
        for first in range(10):
            for second in range(first + 1, 10):
                difference = np.abs(by_class[first] - by_class[second]).max()
                assert difference > 1e-4, (record["key"], first, second)
        discriminator = result.discriminator(record["key"])
        scores = [
            discriminator.predict([images, np.full((4, 1), k, dtype="int32")], verbose=0)
            for k in (0, 1)
        ]
        assert np.abs(scores[0] - scores[1]).max() > 1e-6, record["key"]
    # The stored configuration resumes as a conditional run (nothing left to do here).
    assert len(kgan_nas.resume(str(cond_run), verbose=0).history) == len(result.history)


@pytest.mark.keras
@pytest.mark.slow
def test_sample_with_labels_and_the_cli_class_option(cond_run, tmp_path, capsys):
    from kgan_nas.cli import commands as cli
    from kgan_nas.results.search_result import SearchResult

    result = SearchResult(str(cond_run))
    assert result.sample(3, labels=[1, 2, 3]).shape == (3, 8, 8, 1)
    np.testing.assert_allclose(result.sample(4, labels=5), result.sample(4, labels=[5] * 4))
    with pytest.raises(ValueError, match="out of range: this generator knows classes 0..9"):
        result.sample(2, labels=10)
    out = tmp_path / "three.png"
    assert cli.main(["sample", str(cond_run), "--class", "3", "--n", "8", "--out", str(out)]) == 0
    assert out.exists()
    capsys.readouterr()
    bad = tmp_path / "bad.png"
    assert cli.main(["sample", str(cond_run), "--class", "12", "--out", str(bad)]) == 2
    assert "Class id 12 is out of range" in capsys.readouterr().err
    assert not bad.exists()


@pytest.mark.keras
@pytest.mark.slow
def test_callbacks_support_conditional_gans(cond_run, tmp_path):
    from kgan_nas import callbacks
    from kgan_nas import data
    from kgan_nas.evaluation import decode
    from kgan_nas.results.search_result import SearchResult

    genome = SearchResult(str(cond_run)).best_genome
    gan = decode.build_gan(genome, TINY_COND_SPACE, seed=0, jit_compile=False)
    digits = data.load_dataset("digits")
    metrics = callbacks.GANMetrics(digits, num_samples=50, metrics=("fid",))
    grid = callbacks.SampleGrid(tmp_path / "grids", n=20)
    evolve = callbacks.EvolveArchitecture(
        TINY_COND_SPACE,
        genome,
        digits,
        every_n_epochs=1,
        children=1,
        steps_per_child=2,
        batch_size=16,
        num_samples=50,
        verbose=0,
    )
    history = gan.fit(
        data.train_input(digits.train, 16, labels=digits.train_labels),
        epochs=2,
        steps_per_epoch=2,
        verbose=0,
        callbacks=[metrics, grid, evolve],
    )
    assert len(history.history["class_accuracy"]) == 2
    assert len(grid.paths) == 2
    assert gan.num_classes == 10 and gan.generator.count_params() > 0


@pytest.mark.keras
@pytest.mark.slow
def test_report_of_a_conditional_run_lists_the_label_embeddings(cond_run):
    from kgan_nas.cli import commands as cli
    from kgan_nas.report.architecture import layer_table
    from kgan_nas.results.search_result import SearchResult

    result = SearchResult(str(cond_run))
    genome, space = result.best_genome, result.space
    for network, params in (
        ("generator", space.generator_params(genome)),
        ("discriminator", space.discriminator_params(genome)),
    ):
        rows = layer_table(genome, space, network)
        assert any(row["layer"].startswith("label embedding") for row in rows)
        assert sum(row["params"] for row in rows) == params
    assert cli.main(["report", str(cond_run)]) == 0
    assert (cond_run / "report.html").exists()


def test_the_final_stage_is_refused_for_a_conditional_search(tmp_path):
    """The final stage does not train conditional GANs yet: the preset's is dropped and
    an explicit one is refused before anything is written."""
    with pytest.raises(
        ValueError,
        match=r"does not train class-conditional GANs yet; pass "
        r"final=None \(--no-final\)",
    ):
        _search("digits", tmp_path, conditional=True, final={"steps": 10})
    assert not (tmp_path / "run").exists()


@pytest.mark.keras
@pytest.mark.slow
def test_a_conditional_run_has_no_final_stage_and_finalize_says_why(cond_run):
    from kgan_nas.final import stage as final_lib
    from kgan_nas.store import run_dir as run_lib

    assert run_lib.RunDir(str(cond_run)).config()["final"] is None
    with pytest.raises(ValueError, match="nothing to finalize") as error:
        final_lib.finalize(str(cond_run), steps=5, verbose=0)
    assert "--no-final" not in str(error.value)  # no such flag on `finalize`
