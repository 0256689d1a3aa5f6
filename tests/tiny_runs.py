"""The runs that test modules set up: one helper per kind of run, its settings in one place.

- `tiny_real_search`: a real (tiny) search that trains, in an 8x8 digits space
  (`TINY_SPACE`) small enough to train in seconds, in process, without XLA
  (compiling would dominate a few steps).
- `scripted_search`: a search whose candidates a scripted evaluator of
  `tests/scripted_evaluators.py` scores at once, training nothing, in
  `SCRIPTED_SPACE` (or a `scripted_space(...)`, e.g. with the learning rates
  that decide a fault evaluator's outcomes). It still prepares the data and
  the domain extractor unless `skip_worker_files` skips them as well (the
  scripted evaluators need neither): then a whole search runs in milliseconds.
  `finished_scripted_run` is such a run, after which any further training
  fails the test (`forbid_training`).
- `scripted_spec`: the `WorkerSpec` of a scripted evaluator, to drive an
  executor directly, without a search.
- `flat_search_keywords`: what a caller passed to a stand-in `kgan_nas.search`,
  with its `options` and `run` spread out by field name, for tests that check
  which settings reach the search.

Each takes keyword arguments that override its settings, so a test passes only
what it changes.
"""

import dataclasses
import inspect

import kgan_nas
from kgan_nas.engine import inputs as prepare
from kgan_nas.executors import WorkerSpec

TINY_SPACE = kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=30_000)

_PREPARE_SIGNATURE = inspect.signature(prepare.prepare_worker_files)  # before any patching


def tiny_real_search(directory, dataset="digits", **overrides):
    """Runs a real (tiny) search of `dataset` into `directory`; `overrides` change its settings.

    Returns:
        The `SearchResult`.
    """
    settings = dict(
        space=TINY_SPACE,
        generations=1,
        population=3,
        steps_per_candidate=10,
        batch_size=16,
        num_samples=100,
        executor="inprocess",
        verbose=0,
        jit_compile=False,
        final=None,
    )
    settings.update(overrides)
    return kgan_nas.search(dataset, directory=str(directory), **settings)


def scripted_space(**changes):
    """The scripted searches' space (8x8, latent 8, 100k parameters), with `changes`."""
    settings = dict(image_shape=(8, 8, 1), latent_dim=8, max_params=100_000)
    settings.update(changes)
    return kgan_nas.SearchSpace(**settings)


SCRIPTED_SPACE = scripted_space()


def scripted_evaluator(name):
    """The `evaluator=` path of scripted evaluator `name`: `"fast"` is
    `"scripted_evaluators:make_fast_evaluator"`; a `module:factory` path is kept."""
    return name if ":" in name else f"scripted_evaluators:make_{name}_evaluator"


def scripted_search(directory, dataset="digits", *, evaluator="fast", **overrides):
    """Runs a search of `dataset` into `directory` whose candidates the scripted
    evaluator `evaluator` (a name for `scripted_evaluator`) scores; `overrides`
    change its settings.

    Returns:
        The `SearchResult`.
    """
    settings = dict(
        space=SCRIPTED_SPACE,
        generations=1,
        population=4,
        steps_per_candidate=10,
        batch_size=16,
        num_samples=100,
        executor="inprocess",
        evaluator=scripted_evaluator(evaluator),
        verbose=0,
        seed=7,
    )
    settings.update(overrides)
    return kgan_nas.search(dataset, directory=str(directory), **settings)


def skip_worker_files(monkeypatch, tmp_path):
    """Skips the data and domain-extractor files a search prepares for its workers.

    The scripted evaluators need none of them, so a whole scripted search runs in
    milliseconds (what is tested is the driver and the run directory). The cache
    is `tmp_path / "cache"`.
    """
    monkeypatch.setenv("KGAN_NAS_CACHE", str(tmp_path / "cache"))

    def fast_prepare(*args, **kwargs):
        given = _PREPARE_SIGNATURE.bind(*args, **kwargs).arguments
        return WorkerSpec(
            data_path="",
            extractor_path="",
            real_features_path="",
            space=given["space"].to_dict(),
            config=given["evaluation"].to_dict(),
            backend=given["backend"],
        )

    monkeypatch.setattr(prepare, "prepare_worker_files", fast_prepare)


class TrainingStarted(AssertionError):
    """Raised if a search got as far as preparing workers where it must not."""


def forbid_training(monkeypatch):
    """From now on, a search that gets past validation to preparing workers fails."""

    def refuse(*args, **kwargs):
        raise TrainingStarted("the search got past validation and started preparing workers")

    monkeypatch.setattr(prepare, "prepare_worker_files", refuse)


def finished_scripted_run(monkeypatch, tmp_path, name="run", **overrides):
    """A finished scripted run in `tmp_path / name` (worker files skipped); afterwards
    any further training fails the test.

    Returns:
        The run directory.
    """
    directory = tmp_path / name
    skip_worker_files(monkeypatch, tmp_path)
    scripted_search(directory, **overrides)
    forbid_training(monkeypatch)
    return directory


def scripted_spec(evaluator, space, **fields):
    """The `WorkerSpec` of scripted evaluator `evaluator` (a name for
    `scripted_evaluator`) in `space`, with no data files; `fields` add to it."""
    return WorkerSpec(
        data_path="",
        extractor_path="",
        real_features_path="",
        space=space.to_dict(),
        config={},
        evaluator_factory=scripted_evaluator(evaluator),
        **fields,
    )


def flat_search_keywords(kwargs):
    """`kgan_nas.search` keywords with `options` and `run` spread out by field name.

    Args:
        kwargs: The keywords a stand-in `search` received.

    Returns:
        A dict of every keyword but `options` and `run`, plus each field of the
        `SearchOptions` and `RunSettings` given (as `search` took them before
        they were grouped).
    """
    flat = {key: value for key, value in kwargs.items() if key not in ("options", "run")}
    for group in ("options", "run"):
        if kwargs.get(group) is not None:
            fields = dataclasses.fields(kwargs[group])
            flat.update({field.name: getattr(kwargs[group], field.name) for field in fields})
    return flat


def captured_search_arguments(monkeypatch):
    """Makes the command line's `kgan_nas.search` record its keyword arguments and
    stop before any training; returns the dict they land in."""
    from kgan_nas.cli import commands

    seen = {}

    def search(*args, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop before any training")

    monkeypatch.setattr(commands.search_api, "search", search)
    return seen


def supernet_search_arguments(directory, monkeypatch, strategy_options):
    """Runs a scripted `strategy="differentiable"` search on `TINY_SPACE` whose supernet is
    faked: it derives one sampled genome. Returns `(run_supernet's keyword arguments,
    that genome, the SearchResult)`; call `skip_worker_files` first."""
    import numpy as np

    from kgan_nas.supernet import search as supernet_search

    genome = TINY_SPACE.sample(np.random.default_rng(7))
    asked = []

    def fake_supernet(directory, space, images, **kwargs):
        asked.append(kwargs)
        return {"status": "ok", "reason": "", "steps": 4, "seconds": 0.1,
                "derived": [genome.to_dict()]}  # fmt: skip

    monkeypatch.setattr(supernet_search, "run_supernet", fake_supernet)
    result = scripted_search(
        directory,
        space=TINY_SPACE,
        strategy="differentiable",
        strategy_options=strategy_options,
        population=2,
    )
    return asked[0], genome, result
