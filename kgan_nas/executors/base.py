"""The executor interface: evaluate genomes, report fitness as results finish."""

import abc
import dataclasses
import inspect
import os
import pickle
import shutil

from kgan_nas.core.fitness import Fitness
from kgan_nas.store.atomic import atomic_write_json


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to evaluate candidates: files, JSON and a backend.

    It is small and picklable, so it is shipped to each worker once; the
    data set itself travels as a file path, not per candidate.

    Args:
        data_path: `.npz` written by `kgan_nas.data.ImageData.save`.
        extractor_path: The saved domain extractor (`.keras`), or None for an
            extractor that is built, not loaded (`"inception"`).
        real_features_path: `.npy` of real-image features under the extractor.
        space: `SearchSpace.to_dict()`.
        config: `EvaluationConfig.to_dict()`.
        models_dir: Folder where each candidate's models are saved as
            `<models_dir>/<genome key>/{generator,discriminator}.keras`, or
            None to save nothing.
        backend: Keras backend for the workers (`"tensorflow"`, `"jax"`), or
            None for the driver's.
        keras_callbacks: Pickled list of Keras callbacks for each candidate's
            `fit` (deep-copied per candidate).
        evaluator_factory: Optional `"module:function"` that takes this spec
            and returns an object with `evaluate(genome, save_dir) ->
            Fitness`, to replace the standard `Evaluator` (custom training or
            scoring, fault-injection tests).
        log_dir: Folder for worker processes' output (TensorFlow's and XLA's
            start-up chatter, tracebacks); None leaves it on the console.
        extractor: The feature extractor's kind, `"domain"` (loaded from
            `extractor_path`) or `"inception"`.
    """

    data_path: str
    extractor_path: str
    real_features_path: str
    space: dict
    config: dict
    models_dir: str = None
    backend: str = None
    keras_callbacks: bytes = b""
    evaluator_factory: str = None
    log_dir: str = None
    extractor: str = "domain"


def build_evaluator(spec):
    """Creates an `Evaluator` from a `WorkerSpec` in the current process."""
    import importlib

    import numpy as np

    if spec.evaluator_factory:
        module_name, _, function_name = spec.evaluator_factory.partition(":")
        return getattr(importlib.import_module(module_name), function_name)(spec)

    from kgan_nas import data
    from kgan_nas import features
    from kgan_nas.core.space import SearchSpace
    from kgan_nas.evaluation.evaluator import EvaluationConfig
    from kgan_nas.evaluation.evaluator import Evaluator

    images = data.ImageData.load(spec.data_path)
    extractor = (
        features.DomainExtractor.load(spec.extractor_path)
        if spec.extractor == "domain"
        else features.get_extractor(spec.extractor)
    )
    real_features = np.load(spec.real_features_path, allow_pickle=False)
    callbacks = pickle.loads(spec.keras_callbacks) if spec.keras_callbacks else []
    space = SearchSpace.from_dict(spec.space)
    return Evaluator(
        images.train,
        space,
        EvaluationConfig.from_dict(spec.config),
        extractor,
        real_features,
        keras_callbacks=callbacks,
        labels=images.train_labels if space.conditional else None,
        real_labels=images.eval_labels if space.conditional else None,
    )


def save_dir_for(spec, genome):
    if spec.models_dir is None:
        return None
    return os.path.join(spec.models_dir, genome.key())


def parent_dir_for(spec, parent_key):
    """The saved models of a candidate's parent, or None (no parent, nothing saved)."""
    if spec.models_dir is None or parent_key is None:
        return None
    return os.path.join(spec.models_dir, parent_key)


def parents_for(genomes, parents):
    """One parent key (or None) per genome, as `Executor.run` takes them.

    Raises:
        ValueError: if `parents` is given with another length than `genomes`.
    """
    return _one_per_genome(genomes, parents, "parents", "pass None for a genome without a parent.")


def steps_for(genomes, steps):
    """One step budget (or None) per genome, as `Executor.run` takes them.

    Raises:
        ValueError: if `steps` is given with another length than `genomes`.
    """
    return _one_per_genome(genomes, steps, "steps", "pass None for the evaluator's own budget.")


def _one_per_genome(genomes, values, name, fix):
    """`values` as a list with one entry per genome; all None when `values` is None."""
    if values is None:
        return [None] * len(genomes)
    values = list(values)
    if len(values) != len(genomes):
        raise ValueError(
            f"{name} must have one entry per genome ({len(genomes)}), got {len(values)}; {fix}"
        )
    return values


def evaluate_candidate(evaluator, genome, save_dir, parent_dir=None, steps=None):
    """Evaluates one genome the way every executor does.

    The parent's folder is passed as `inherit_from` only to evaluators whose
    `evaluate` takes it, so custom evaluators without weight inheritance keep
    working. A step budget (`steps`, a multi-fidelity rung's) needs an
    evaluator whose `evaluate` takes `steps`; for one that does not, the
    candidate fails with a reason saying so. An exception is a result
    (`error`), not a crash of the search.
    The evaluator writes into a private staging folder that is then moved to
    `save_dir` whole (`kgan_nas.store.run_dir.publish_candidate`): a process killed
    mid-save leaves no half-written candidate behind.

    Returns:
        A `Fitness`.
    """
    from kgan_nas.store import run_dir as run_lib

    kwargs = {}
    if (
        parent_dir is not None
        and "inherit_from" in inspect.signature(evaluator.evaluate).parameters
    ):
        kwargs["inherit_from"] = parent_dir
    if steps is not None:
        if "steps" not in inspect.signature(evaluator.evaluate).parameters:
            return Fitness.failed(
                "error",
                f"{type(evaluator).__name__}.evaluate takes no steps= argument, which a "
                "multi-fidelity search (fidelity=...) needs to train each rung; add "
                "`steps=None` to it or search with fidelity=None.",
            )
        kwargs["steps"] = steps
    staging = run_lib.staging_dir_for(save_dir) if save_dir is not None else None
    try:
        fitness = evaluator.evaluate(genome, staging, **kwargs)
    except Exception as exc:  # Custom evaluators may raise; still data.
        fitness = Fitness.failed("error", f"{type(exc).__name__}: {exc}"[:2000])
    if staging is None:
        return fitness
    if not fitness.ok:  # Only a finished candidate's files are published.
        shutil.rmtree(staging, ignore_errors=True)
        return fitness
    try:
        if os.path.isdir(staging):
            # Published with the files it scored, so a run killed between the
            # publish and its history line can still read the result back
            # (`SearchLoop`'s multi-fidelity continuations do).
            atomic_write_json(os.path.join(staging, run_lib.FITNESS_FILE), fitness.to_dict())
        run_lib.publish_candidate(staging, save_dir)
    except OSError as exc:  # e.g. a full disk: the candidate has no saved models
        shutil.rmtree(staging, ignore_errors=True)
        return dataclasses.replace(
            fitness, status="error", reason=f"could not save the candidate's files: {exc}"
        )
    return fitness


class Executor(abc.ABC):
    """Evaluates genomes and yields `(index, Fitness)` as each finishes.

    Executors are chosen by name in `kgan_nas.search(executor=...)`:
    `"inprocess"` (tests, debugging), `"subprocess"` (default: recycled
    worker processes isolate memory growth and crashes) and `"ray"`.
    Whatever the executor, the same genome gets the same fitness up to
    floating-point noise.
    """

    @abc.abstractmethod
    def run(self, genomes, parents=None, steps=None):
        """Evaluates `genomes`; yields `(index, Fitness)` in completion order.

        Args:
            genomes: A list of `Genome`s.
            parents: None, or one entry per genome: the key of an evaluated
                candidate whose saved models the genome starts from (weight
                inheritance; a genome's own key continues its training), or
                None to train from scratch.
            steps: None, or one entry per genome: the training steps of this
                evaluation (a multi-fidelity rung's), or None for the
                evaluation config's.
        """

    def close(self):
        """Releases workers. Safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
