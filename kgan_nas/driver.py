"""`kgan_nas.search`: the search loop, tying space, strategy, executor and run directory."""

import contextlib
import dataclasses
import math
import os
import pickle
import signal
import statistics
import sys
import threading
import time

import numpy as np

from kgan_nas import run as run_lib
from kgan_nas.atomic import atomic_copy
from kgan_nas.atomic import atomic_write
from kgan_nas.atomic import atomic_write_json
from kgan_nas.cache import cache_root
from kgan_nas.evaluate import EvaluationConfig
from kgan_nas.fitness import Fitness
from kgan_nas.genome import Genome

# Budgets are steps, never wall clock, so a result does not depend on how
# loaded the machine is; `seconds_per_candidate` adds a time limit on request.
PRESETS = {
    # digits on 2 CPU cores in a few minutes.
    "quick": dict(generations=4, population=6, steps_per_candidate=300, batch_size=64,
                  num_samples=500, workers=2, max_params=150_000),
    "default": dict(generations=10, population=12, steps_per_candidate=1000, batch_size=64,
                    num_samples=1000, workers=2, max_params=2_000_000),
    # Sized for one GPU: a few hours.
    "paper": dict(generations=30, population=20, steps_per_candidate=5000, batch_size=64,
                  num_samples=10000, workers=1, max_params=20_000_000),
}
METRICS = ("fid_domain", "kid_domain", "is_domain", "fid_inception", "kid_inception",
           "is_inception")
_METRIC_OBJECTIVES = {"fid": "fid", "kid": "kid", "is": "inception_score"}
# Failures that point at the set-up rather than at one candidate's genome.
_SYSTEMIC_STATUSES = ("error", "crashed", "timeout")


class RepeatedFailureError(RuntimeError):
    """Candidate after candidate failed the same way: a set-up problem, not bad genomes."""


def parse_metric(metric):
    """`"fid_domain"` -> `("fid", "domain")`.

    Raises:
        ValueError: for an unknown metric name.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {METRICS}.")
    name, extractor = metric.split("_", 1)
    return _METRIC_OBJECTIVES[name], extractor


def _check_run_arguments(*, seed, timeout, seconds_per_candidate, max_candidates_per_worker,
                         executor, executor_options, backend, evaluator):
    """Rejects run settings that would otherwise fail only once workers start.

    Raises:
        ValueError: naming the argument and what it accepts.
        ImportError: for `executor="ray"` when Ray is not installed.
    """
    import inspect

    from kgan_nas import executors as executors_lib

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    for name, value in (("timeout", timeout), ("seconds_per_candidate", seconds_per_candidate)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not value > 0):
            raise ValueError(
                f"{name} must be a positive number of seconds, or None for no limit; "
                f"got {value!r}.")
    if (isinstance(max_candidates_per_worker, bool)
            or not isinstance(max_candidates_per_worker, int) or max_candidates_per_worker < 1):
        raise ValueError(
            f"max_candidates_per_worker must be a positive integer, got "
            f"{max_candidates_per_worker!r}.")
    if backend not in (None, "tensorflow", "jax"):
        raise ValueError(
            f"backend must be 'tensorflow', 'jax' or None (the current one), got {backend!r}.")
    if evaluator is not None and (not isinstance(evaluator, str) or evaluator.count(":") != 1):
        raise ValueError(
            f"evaluator must be a 'module:function' string, got {evaluator!r}.")
    if isinstance(executor, executors_lib.Executor):
        return
    if executor not in executors_lib.EXECUTORS:
        raise ValueError(
            f"Unknown executor {executor!r}; choose one of {executors_lib.EXECUTORS} or pass "
            "an Executor.")
    if executor_options is not None and not isinstance(executor_options, dict):
        raise ValueError(f"executor_options must be a dict, got {executor_options!r}.")
    if executor == "ray":
        from kgan_nas.executors.ray import RayExecutor as executor_class
        from kgan_nas.executors.ray import _import_ray

        _import_ray()  # a missing Ray install is reported now, not after set-up
    else:
        executor_class = {"inprocess": executors_lib.InProcessExecutor,
                          "subprocess": executors_lib.SubprocessExecutor}[executor]
    # search() sets these itself; the executor takes the rest as options.
    reserved = {"self", "spec", "workers", "timeout", "max_candidates_per_worker"}
    accepted = sorted(set(inspect.signature(executor_class.__init__).parameters) - reserved)
    unknown = sorted(set(executor_options or {}) - set(accepted))
    if unknown:
        raise ValueError(
            f"executor_options {unknown} are not options of executor={executor!r}; it "
            f"accepts {accepted or 'none'} (workers, timeout and max_candidates_per_worker "
            "are arguments of search itself).")


def search(dataset="digits", *, space=None, strategy="genetic", preset="default",
           generations=None, population=None, steps_per_candidate=None, batch_size=None,
           num_samples=None, metric="fid_domain", objectives=None, executor="subprocess",
           workers=None, directory="runs/kgan_nas", overwrite=False, seed=0, callbacks=None,
           verbose=1, labels=None, timeout=None, backend=None, jit_compile=True,
           max_candidates_per_worker=8, seconds_per_candidate=None, strategy_options=None,
           evaluator=None, executor_options=None, max_consecutive_failures=None):
    """Searches GAN architectures for `dataset`.

    Each generation, the strategy proposes `population` genomes; each is
    decoded into a generator and a discriminator, trained for
    `steps_per_candidate` XLA-compiled steps, and scored (FID, KID and IS under
    the chosen feature extractor). Everything is recorded in `directory`;
    calling `search` again with the same directory resumes the run.

    Example:

    ```python
    result = kgan_nas.search("digits", preset="quick", directory="runs/digits")
    print(result.summary())
    generator = result.best_generator()        # a keras.Model
    images = result.sample(16)                  # numpy, in [-1, 1]
    ```

    Args:
        dataset: `"digits"` (offline), `"mnist"`, `"fashion_mnist"`,
            `"cifar10"`, a `.npz` path, an image folder, a numpy array or a
            `tf.data.Dataset` (see `kgan_nas.data.load_dataset`).
        space: A `SearchSpace`; by default one for the data's image shape.
        strategy: `"genetic"`, `"random"` or a `kgan_nas.strategies.Strategy`.
        preset: `"quick"`, `"default"` or `"paper"`: budgets for the
            arguments left as None.
        generations: Generations to run (may be raised when resuming).
        population: Genomes per generation.
        steps_per_candidate: Training steps per candidate.
        batch_size: Training batch size.
        num_samples: Generated images scored per candidate.
        metric: Fitness metric: `"fid_domain"` (default; a classifier trained
            on the data itself, NOT comparable to published FID),
            `"fid_inception"` (Keras InceptionV3; needs its weights), or the
            `kid_*` / `is_*` variants.
        objectives: Objectives to optimise, e.g. `("fid", "params")` for a
            Pareto front of quality against generator size. Defaults to the
            metric alone.
        executor: `"subprocess"` (default), `"inprocess"`, `"ray"` or an
            `Executor`.
        workers: Parallel candidate evaluations.
        directory: Run directory (created; resumed if it holds this run).
        overwrite: Delete an existing run in `directory` first.
        seed: Seed of everything random; the same seed gives the same genomes.
        callbacks: `kgan_nas.callbacks.SearchCallback`s and/or Keras callbacks
            (the latter go into every candidate's `fit`).
        verbose: 0 silent, 1 a progress bar and a line per generation, 2 a
            line per candidate instead of the bar (`callbacks.ProgressPrinter`).
        labels: Optional labels for an array dataset (the domain extractor
            uses them).
        timeout: Seconds one candidate may take before it is stopped.
        backend: Keras backend of the workers (`"tensorflow"`, `"jax"`);
            defaults to the current one.
        jit_compile: Compile train steps with XLA.
        max_candidates_per_worker: Recycle worker processes after this many.
        seconds_per_candidate: Optional training time limit per candidate,
            counted after the first (compiling) step; None (the default, under
            every preset) trains every candidate for its full step budget. A
            candidate stopped by it records how many steps it trained.
        strategy_options: Extra keyword arguments for the strategy (e.g.
            `{"mutation_rate": 0.1}`).
        evaluator: Optional `"module:function"` returning a custom evaluator
            in each worker (see `kgan_nas.executors.WorkerSpec`).
        executor_options: Extra keyword arguments for the executor, e.g.
            `{"gpus": [0, 1], "candidates_per_gpu": 2}` (subprocess) or
            `{"address": "auto", "num_gpus": 1}` (ray).
        max_consecutive_failures: Stop the search with a
            `RepeatedFailureError` once this many candidates in a row fail
            with the same kind of error (an exception of the same type, a
            crashed worker, a timeout): that points at the set-up, not at the
            genomes. NaN and diverged candidates never count. Defaults to
            None: three times the number of workers (3 in process).

    Returns:
        A `SearchResult`.

    Raises:
        ValueError: for invalid arguments or data, before any training starts.
        TypeError: for a dataset, space or callback of the wrong kind.
        ImportError: for `executor="ray"` without Ray installed.
        kgan_nas.run.RunDirectoryError: for a directory that cannot be used
            (a file, unwritable, damaged, holding another configuration, or in
            use by another running search).
        RepeatedFailureError: when `max_consecutive_failures` candidates in a
            row failed the same way (the message quotes the first one).
    """
    from kgan_nas import data as data_lib
    from kgan_nas import strategies as strategies_lib
    from kgan_nas.space import SearchSpace

    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
    budget = dict(PRESETS[preset])
    given = dict(generations=generations, population=population,
                 steps_per_candidate=steps_per_candidate, batch_size=batch_size,
                 num_samples=num_samples, workers=workers)
    budget.update({key: value for key, value in given.items() if value is not None})
    for key in ("generations", "population", "steps_per_candidate", "batch_size",
                "num_samples", "workers"):
        value = budget[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}.")
    if max_consecutive_failures is None:
        # Three rounds of every worker failing alike; in process, one worker.
        max_consecutive_failures = 3 * (1 if executor == "inprocess" else budget["workers"])
    if (isinstance(max_consecutive_failures, bool) or not isinstance(max_consecutive_failures, int)
            or max_consecutive_failures < 1):
        raise ValueError(
            f"max_consecutive_failures must be a positive integer or None (three times the "
            f"workers), got {max_consecutive_failures!r}.")
    if budget["population"] < 2:
        raise ValueError(
            f"population must be at least 2 (selection needs two genomes), got "
            f"{budget['population']}.")
    if space is not None and not isinstance(space, SearchSpace):
        raise TypeError(
            f"space must be a kgan_nas.SearchSpace, got a {type(space).__name__}; build one "
            "with kgan_nas.SearchSpace(...) (or SearchSpace.from_dict for a dict).")
    _check_run_arguments(seed=seed, timeout=timeout,
                         seconds_per_candidate=seconds_per_candidate,
                         max_candidates_per_worker=max_candidates_per_worker,
                         executor=executor, executor_options=executor_options,
                         backend=backend, evaluator=evaluator)
    objective_name, extractor_name = parse_metric(metric)
    objectives = tuple(objectives) if objectives else (objective_name,)
    if objectives[0] != objective_name:
        raise ValueError(
            f"The first objective must be the metric's ({objective_name!r} for "
            f"metric={metric!r}), got {objectives!r}.")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}.")
    # Imported after the cheap checks: kgan_nas.callbacks imports Keras (seconds),
    # which neither `kgan-nas --help` nor a mistyped argument should wait for.
    from kgan_nas.callbacks import ProgressPrinter
    from kgan_nas.callbacks import split_callbacks

    search_callbacks, keras_callbacks = split_callbacks(callbacks)
    evaluation = EvaluationConfig(
        steps=budget["steps_per_candidate"], batch_size=budget["batch_size"],
        num_samples=budget["num_samples"],
        seconds=seconds_per_candidate,
        jit_compile=jit_compile, seed=seed,
        kid_subset_size=min(500, budget["num_samples"]))

    data = data_lib.load_dataset(dataset, labels=labels, seed=seed,
                                 min_images=2 * budget["batch_size"])
    if space is None:
        space = SearchSpace(image_shape=data.image_shape, max_params=budget["max_params"])
    elif tuple(space.image_shape) != tuple(data.image_shape):
        raise ValueError(
            f"The search space is for images of shape {tuple(space.image_shape)} but the "
            f"data set has shape {data.image_shape}. Create the space with "
            f"SearchSpace(image_shape={data.image_shape}, ...).")
    # A space too tight for any genome (e.g. max_params) fails here, before any
    # file is written or the extractor trains; the strategy keeps its own RNG.
    space.sample(np.random.default_rng(seed))
    strategy_options = dict(strategy_options or {})
    if isinstance(strategy, str) and strategy == "genetic":
        strategy_options.setdefault("population_size", budget["population"])
    strategy_object = strategies_lib.get_strategy(
        strategy, space, objectives=objectives, seed=seed, **strategy_options)

    config = {
        "dataset": data.name,
        "data_fingerprint": data.fingerprint(),
        "image_shape": list(data.image_shape),
        "space": space.to_dict(),
        "strategy": type(strategy_object).__name__,
        "strategy_options": strategy_options,
        "objectives": list(objectives),
        "metric": metric,
        "generations": budget["generations"],
        "population": budget["population"],
        "evaluation": evaluation.to_dict(),
        "seed": seed,
    }
    run_dir = run_lib.RunDir(directory)
    resumed = run_dir.open(config, overwrite=overwrite)  # locked until closed below
    with run_dir, _sigterm_as_interrupt():
        if verbose:
            search_callbacks.insert(0, ProgressPrinter(verbose))
        for callback in search_callbacks:
            callback.on_search_begin(dict(config, directory=run_dir.path, resumed=resumed))

        worker_spec = _prepare_worker_files(run_dir, data, space, evaluation, extractor_name,
                                            backend, keras_callbacks, verbose)
        if evaluator is not None:
            worker_spec = dataclasses.replace(worker_spec, evaluator_factory=evaluator)
        driver = _SearchDriver(run_dir, strategy_object, worker_spec, config, objectives,
                               search_callbacks, verbose, max_consecutive_failures)
        from kgan_nas.executors import get_executor

        with get_executor(executor, worker_spec, workers=budget["workers"], timeout=timeout,
                          max_candidates_per_worker=max_candidates_per_worker,
                          **dict(executor_options or {})) as runner:
            driver.run(runner, budget["generations"])
    result = SearchResult(run_dir.path)
    for callback in search_callbacks:
        callback.on_search_end(result)
    return result


def _prepare_worker_files(run_dir, data, space, evaluation, extractor_name, backend,
                          keras_callbacks, verbose):
    """Writes the data, the extractor and the real features workers need (once)."""
    from kgan_nas import features as features_lib
    from kgan_nas.executors import WorkerSpec

    cache = cache_root()
    data_path = os.path.join(cache, "data", f"{data.fingerprint()}.npz")
    if not os.path.exists(data_path):
        os.makedirs(os.path.dirname(data_path), exist_ok=True)
        data.save(data_path)
    real_features_path = run_dir.file("real_features.npy")
    if extractor_name == "domain":
        extractor_path = run_dir.file("extractor.keras")
        if not os.path.exists(extractor_path) or not os.path.exists(real_features_path):
            _say(verbose, "Training the domain feature extractor (cached per data set)...")
            extractor = features_lib.DomainExtractor.for_data(
                data.train, data.train_labels, cache_dir=os.path.join(cache, "extractors"),
                fingerprint=data.fingerprint())
            extractor.save(extractor_path)
            _save_real_features(run_dir, extractor, data)
            _say(verbose, f"Domain extractor held-out accuracy: {extractor.accuracy:.3f}")
    else:
        extractor_path = "inception"
        if not os.path.exists(real_features_path):
            _save_real_features(run_dir, features_lib.get_extractor("inception"), data)
    return WorkerSpec(
        data_path=data_path, extractor_path=extractor_path,
        real_features_path=real_features_path, space=space.to_dict(),
        config=evaluation.to_dict(), models_dir=run_dir.file("candidates"),
        backend=backend or _current_backend(), log_dir=run_dir.file("logs"),
        keras_callbacks=pickle.dumps(keras_callbacks) if keras_callbacks else b"")


def _save_real_features(run_dir, extractor, data):
    """Real features plus reference scores: real-vs-real and noise-vs-real FID."""
    from kgan_nas import metrics

    real = extractor.features(data.eval)
    atomic_write(run_dir.file("real_features.npy"),
                 lambda stream: np.save(stream, real, allow_pickle=False))
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1, 1, size=(len(data.eval),) + data.image_shape).astype("float32")
    baselines = {
        "extractor": extractor.metric_suffix,
        "fid_train_vs_eval": float(metrics.fid(extractor.features(data.train[: len(data.eval)]), real)),
        "fid_uniform_noise": float(metrics.fid(extractor.features(noise), real)),
        "num_eval_images": int(len(data.eval)),
    }
    atomic_write_json(run_dir.file("baselines.json"), baselines)


def _current_backend():
    return os.environ.get("KERAS_BACKEND") or (
        sys.modules["keras"].backend.backend() if "keras" in sys.modules else "tensorflow")


class _SearchDriver:
    """The generation loop: ask, evaluate, record, tell, checkpoint."""

    def __init__(self, run_dir, strategy, worker_spec, config, objectives, callbacks,
                 verbose, max_consecutive_failures=None):
        self.run_dir = run_dir
        self.strategy = strategy
        self.worker_spec = worker_spec
        self.config = config
        self.objectives = objectives
        self.callbacks = callbacks
        self.verbose = verbose
        self.failures = _FailureStreak(max_consecutive_failures, run_dir.path)
        history = run_dir.history()
        self.done = {(r["generation"], r["key"]): r for r in history}
        best = _best_record(history, objectives[0])
        self.best_value = best["objective"] if best else math.inf
        checkpoint = run_dir.checkpoint()
        self.generation = 0
        self.pending = None
        # Genome key -> parent key (weight inheritance) for the pending generation.
        self.pending_parents = {}
        if checkpoint is not None:
            strategy.load_state_dict(checkpoint["strategy"])
            self.generation = checkpoint["generation"]
            self.pending = checkpoint.get("pending")
            self.pending_parents = dict(checkpoint.get("pending_parents") or {})

    def run(self, executor, generations):
        while self.generation < generations:
            if self.pending is None:
                genomes = self.strategy.ask(self.config["population"])
                if not genomes:
                    _say(self.verbose, "The strategy has no new genomes to try; stopping.")
                    break
                self.pending = [genome.to_dict() for genome in genomes]
                self.pending_parents = {
                    genome.key(): parent for genome in genomes
                    if (parent := self.strategy.parent(genome)) is not None}
                self._checkpoint()
            genomes = [Genome.from_dict(g) for g in self.pending]
            self._run_generation(executor, genomes)
            self.generation += 1
            self.pending = None
            self.pending_parents = {}
            self._checkpoint()

    def _checkpoint(self):
        self.run_dir.save_checkpoint({
            "generation": self.generation,
            "pending": self.pending,
            "pending_parents": self.pending_parents,
            "strategy": self.strategy.state_dict(),
        })

    def _run_generation(self, executor, genomes):
        generation = self.generation
        results = {}
        for genome in genomes:
            record = self.done.get((generation, genome.key()))
            if record is not None:
                results[genome.key()] = Fitness.from_dict(record["fitness"])
        todo = [g for g in genomes if g.key() not in results]
        for callback in self.callbacks:
            callback.on_generation_begin(generation, {
                "genomes": [g.key() for g in genomes], "evaluated": len(results),
                "best_so_far": self.best_value})
        parents = [self.pending_parents.get(genome.key()) for genome in todo]
        for index, fitness in executor.run(todo, parents=parents):
            genome = todo[index]
            results[genome.key()] = fitness
            record = self._record(generation, genome, fitness, parents[index])
            self.run_dir.append_history(record)
            self.done[(generation, genome.key())] = record
            if fitness.ok and record["objective"] < self.best_value:
                self.best_value = record["objective"]
                self.run_dir.promote_best(genome.key(), genome.to_dict(), record)
            for callback in self.callbacks:
                callback.on_candidate_end(record)
            self.failures.add(record)
        # Tell in ask order, so a resumed run continues exactly like an
        # uninterrupted one whatever order the candidates finished in.
        for genome in genomes:
            self.strategy.tell(genome, results[genome.key()])
        logs = self._generation_logs(generation, genomes, results)
        self._save_generation_samples(generation, genomes, results)
        for callback in self.callbacks:
            callback.on_generation_end(generation, logs)

    def _record(self, generation, genome, fitness, parent=None):
        objective = fitness.objective(self.objectives[0])
        record = {
            "generation": generation,
            "key": genome.key(),
            "parent": parent,
            "genome": genome.to_dict(),
            "status": fitness.status,
            "reason": fitness.reason,
            "objective": objective if math.isfinite(objective) else None,
            "fitness": fitness.to_dict(),
            "time": time.time(),
        }
        record.update({k: run_lib.finite_or_none(v) for k, v in fitness.metrics().items()})
        return record

    def _generation_logs(self, generation, genomes, results):
        values = [results[g.key()].objective(self.objectives[0]) for g in genomes]
        finite = [v for v in values if math.isfinite(v)]
        return {
            "generation": generation,
            "best": min(finite) if finite else math.inf,
            "median": statistics.median(finite) if finite else math.inf,
            "best_so_far": self.best_value,
            "failed": sum(not results[g.key()].ok for g in genomes),
            "evaluated": len(self.done),
        }

    def _save_generation_samples(self, generation, genomes, results):
        ok = [g for g in genomes if results[g.key()].ok]
        if not ok:
            return
        best = min(ok, key=lambda g: results[g.key()].objective(self.objectives[0]))
        source = os.path.join(self.run_dir.candidate_dir(best.key()), "samples.png")
        if os.path.exists(source):
            atomic_copy(source, self.run_dir.file("samples", f"generation_{generation + 1:03d}.png"))


class _FailureStreak:
    """Counts candidates in a row that failed the same systemic way."""

    def __init__(self, limit, directory):
        self.limit = limit
        self.directory = directory
        self.kind = None
        self.first = None
        self.count = 0

    def add(self, record):
        kind = _failure_kind(record)
        if kind is None or kind != self.kind:
            self.kind, self.first, self.count = kind, record, 0
        if kind is None or self.limit is None:
            return
        self.count += 1
        if self.count >= self.limit:
            raise RepeatedFailureError(
                f"{self.count} candidates in a row failed the same way ({kind}), so the "
                f"search stopped: this points at the set-up, not at the genomes. The first "
                f"one ({self.first['key']}) failed with: {self.first['reason'][:1000]}\n"
                f"To debug, run one candidate in this process with its full traceback "
                f"(kgan_nas.search(..., executor='inprocess', population=2, "
                f"generations=1)), and read the workers' output in "
                f"{os.path.join(self.directory, 'logs')}. Run the same search again after "
                "the fix to resume; pass max_consecutive_failures=N to allow longer streaks.")


def _failure_kind(record):
    """`"error: TypeError"`, `"crashed"`, `"timeout"`, or None for other outcomes."""
    status = record["status"]
    if status not in _SYSTEMIC_STATUSES:
        return None
    if status == "error":
        return f"error: {(record.get('reason') or '').split(':', 1)[0].strip() or '?'}"
    return status


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turns SIGTERM (a plain `kill`) into KeyboardInterrupt while a search runs.

    Then the search unwinds as for Ctrl-C: its workers are stopped and the run
    directory's lock released, instead of the process vanishing mid-write.
    Only in the main thread, and only if nobody else handles SIGTERM.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _best_record(history, objective_name):
    ok = [r for r in history if r.get("objective") is not None]
    return min(ok, key=lambda r: r["objective"]) if ok else None


def _say(verbose, text):
    """Prints a set-up message; progress goes through `callbacks.ProgressPrinter`."""
    if verbose:
        print(text, flush=True)


@dataclasses.dataclass
class SearchResult:
    """What a search found, read from its run directory.

    Args:
        directory: The run directory.
    """

    directory: str

    def __post_init__(self):
        self._run = run_lib.RunDir(self.directory)
        if not self._run.exists:
            raise run_lib.RunDirectoryError(
                f"{self.directory!r} is not a kgan_nas run directory (no config.json). "
                "Pass the directory a search wrote to (its `directory` / --directory).")
        self.config = self._run.config()
        self.history = self._run.history()

    @property
    def objectives(self):
        return tuple(self.config["objectives"])

    @property
    def best_record(self):
        return _best_record(self.history, self.objectives[0])

    @property
    def best_genome(self):
        record = self.best_record
        return Genome.from_dict(record["genome"]) if record else None

    @property
    def best_fitness(self):
        record = self.best_record
        return Fitness.from_dict(record["fitness"]) if record else None

    @property
    def space(self):
        from kgan_nas.space import SearchSpace

        return SearchSpace.from_dict(self.config["space"])

    def best_generator(self):
        """The best generator as a `keras.Model` (loaded with `safe_mode=True`)."""
        if self.best_record is None:
            raise ValueError("No candidate of this search succeeded, so there is no best generator.")
        return self._run.load_model("best", "generator.keras")

    def generator(self, key):
        """The generator of candidate `key` (a `keras.Model`)."""
        return self._run.load_model("candidates", key, "generator.keras")

    def sample(self, n=16, seed=0):
        """`n` images from the best generator, float32 in [-1, 1]."""
        generator = self.best_generator()
        latent = np.random.default_rng(seed).normal(
            size=(n, generator.input_shape[-1])).astype("float32")
        import keras

        return keras.ops.convert_to_numpy(generator.predict(latent, verbose=0))

    def pareto_front(self):
        """History records that no other record beats on every objective."""
        from kgan_nas.strategies.pareto import non_dominated_sort

        ok = [r for r in self.history if r.get("objective") is not None]
        if not ok:
            return []
        points = [Fitness.from_dict(r["fitness"]).objectives(self.objectives) for r in ok]
        front = non_dominated_sort(points)[0]
        return sorted((ok[i] for i in front), key=lambda r: r["objective"])

    def baselines(self):
        path = self._run.file("baselines.json")
        if not os.path.exists(path):
            return {}
        return run_lib._read_json(path)

    def summary(self, num_trials=10):
        """A readable table of the best candidates (like KerasTuner's results_summary)."""
        metric = self.config["metric"]
        lines = [f"Results in {self.directory}",
                 f"Objective: {metric} ({' , '.join(self.objectives)}), lower is better"
                 if not metric.startswith("is_") else f"Objective: {metric}, higher is better"]
        baselines = self.baselines()
        if baselines:
            lines.append(
                f"Reference: real-vs-real FID {baselines['fid_train_vs_eval']:.3f}, "
                f"uniform-noise FID {baselines['fid_uniform_noise']:.3f} "
                f"({baselines['extractor']} features)")
        failed = sum(r["status"] != "ok" for r in self.history)
        lines.append(f"Evaluated {len(self.history)} candidates, {failed} failed")
        ranked = sorted((r for r in self.history if r.get("objective") is not None),
                        key=lambda r: r["objective"])
        suffix = metric.split("_", 1)[1]
        header = (f"{'rank':>4}  {'key':16}  {'gen':>3}  {'fid_' + suffix:>12}  "
                  f"{'kid_' + suffix:>10}  {'is_' + suffix:>8}  {'G params':>9}  genome")
        lines += [header, "-" * len(header)]
        for rank, record in enumerate(ranked[:num_trials], 1):
            genome = Genome.from_dict(record["genome"])
            fitness = Fitness.from_dict(record["fitness"])
            lines.append(
                f"{rank:>4}  {record['key']:16}  {record['generation'] + 1:>3}  "
                f"{fitness.fid:>12.4f}  {fitness.kid:>10.4f}  {fitness.inception_score:>8.3f}  "
                f"{fitness.params:>9}  {genome.describe()}")
        reasons = {}
        for record in self.history:
            if record["status"] != "ok":
                reasons.setdefault(record["status"], record["reason"])
        for status, reason in reasons.items():
            lines.append(f"{status}: e.g. {reason[:160]}")
        return "\n".join(lines)
