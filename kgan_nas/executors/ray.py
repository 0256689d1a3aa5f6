"""Evaluate candidates as Ray tasks: many CPUs or GPUs, one machine or a cluster.

Ray does the distributed work (scheduling, GPU assignment, worker recycling,
retries when a node is lost); nothing here is a home-made cluster. The run's
files (data, extractor, real features) travel once through Ray's object store,
so worker nodes need no shared file system, and each candidate's saved models
come back with its result so `best/` is written on the driver's machine.

Install with `pip install "kgan_nas[distributed]"`.
"""

import hashlib
import io
import os
import tempfile
import time
import zipfile

from kgan_nas import validate
from kgan_nas.core.fitness import Fitness
from kgan_nas.executors.base import Executor
from kgan_nas.executors.base import parent_dir_for
from kgan_nas.executors.base import parents_for
from kgan_nas.executors.base import steps_for

_PARENT_FILES = ("generator.keras", "discriminator.keras")

# Per worker process: the evaluator of the last spec, so tasks a recycled
# worker runs (up to max_calls) share one set-up.
_CACHED = {}


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError(
            "executor='ray' needs Ray: pip install \"kgan_nas[distributed]\" (or pip install ray)."
        ) from None
    return ray


def _unpack_files(files, spec):
    """Writes the shipped run files into a per-spec folder on this node."""
    import dataclasses

    digest = hashlib.sha256(
        repr(sorted((k, len(v)) for k, v in files.items())).encode() + files["data"][:4096]
    ).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"kgan_nas_ray_{digest}")
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for name, content in files.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            temporary = path + f".{os.getpid()}.tmp"
            with open(temporary, "wb") as stream:
                stream.write(content)
            os.replace(temporary, path)
        paths[name] = path
    return dataclasses.replace(
        spec,
        data_path=paths.get("data", spec.data_path),
        extractor_path=paths.get("extractor.keras", spec.extractor_path),
        real_features_path=paths.get("real_features.npy", spec.real_features_path),
        models_dir=os.path.join(folder, "candidates"),
        log_dir=None,
    )


def _evaluate_task(spec, files, genome_json, parent_files=None, steps=None):
    """Runs in a Ray worker: evaluates one genome, returns fitness and model files.

    `parent_files` are the parent's saved models (weight inheritance), shipped
    from the driver so that no node needs a shared file system.
    """
    from kgan_nas.core.genome import Genome
    from kgan_nas.executors.base import build_evaluator
    from kgan_nas.executors.base import evaluate_candidate
    from kgan_nas.executors.base import save_dir_for

    if spec.backend:
        os.environ.setdefault("KERAS_BACKEND", spec.backend)
    local_spec = _unpack_files(files, spec) if files else spec
    key = repr(local_spec)
    if key not in _CACHED:
        _CACHED.clear()
        _CACHED[key] = build_evaluator(local_spec)
    genome = Genome.from_json(genome_json)
    save_dir = save_dir_for(local_spec, genome)
    with tempfile.TemporaryDirectory(prefix="kgan_nas_parent_") as parent_dir:
        for name, content in (parent_files or {}).items():
            with open(os.path.join(parent_dir, name), "wb") as stream:
                stream.write(content)
        fitness = evaluate_candidate(
            _CACHED[key], genome, save_dir, parent_dir if parent_files else None, steps
        )
    return fitness.to_dict(), _zip_folder(save_dir)


def _read_parent_files(spec, parent_key):
    """The parent's saved models as bytes ({} when there is none to inherit from)."""
    folder = parent_dir_for(spec, parent_key)
    files = {}
    for name in _PARENT_FILES:
        path = os.path.join(folder, name) if folder else ""
        if not os.path.isfile(path):
            return {}
        with open(path, "rb") as stream:
            files[name] = stream.read()
    return files


def _zip_folder(folder):
    if not folder or not os.path.isdir(folder):
        return b""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(os.listdir(folder)):
            archive.write(os.path.join(folder, name), name)
    return buffer.getvalue()


def _unzip_into(content, folder):
    """Unpacks a candidate's shipped files and publishes them as `folder`, whole."""
    from kgan_nas.store import run_dir as run_lib

    if not content:
        return
    staging = run_lib.staging_dir_for(folder)
    os.makedirs(staging)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            # Never write outside the folder; the manifest is written anew.
            if os.path.basename(name) != name or name == run_lib.MANIFEST:
                continue
            with open(os.path.join(staging, name), "wb") as stream:
                stream.write(archive.read(name))
    run_lib.publish_candidate(staging, folder)


class RayExecutor(Executor):
    """Evaluates candidates as Ray tasks.

    Args:
        spec: A `WorkerSpec`.
        workers: Candidates in flight at once (Ray queues the rest).
        max_candidates_per_worker: Ray's `max_calls`: a worker process exits
            after this many candidates, returning the memory (and GPU memory)
            TensorFlow and XLA hold on to.
        timeout: Seconds one candidate may take; past it the task is
            cancelled (force) and the candidate marked `timeout`.
        address: Ray cluster address (`"auto"`, `"ray://host:10001"`); None
            starts a local Ray instance unless one is already running.
        num_cpus: CPUs Ray reserves per candidate.
        num_gpus: GPUs per candidate; a fraction (e.g. 0.5) lets several
            small candidates share one large GPU (`candidates_per_gpu`).
        candidates_per_gpu: Convenience for `num_gpus=1/candidates_per_gpu`.
        max_retries: Retries of a candidate whose worker or node died (Ray's
            `max_retries`; Python exceptions are results, not retried).
    """

    def __init__(
        self,
        spec,
        workers=1,
        max_candidates_per_worker=8,
        timeout=None,
        address=None,
        num_cpus=1,
        num_gpus=0,
        candidates_per_gpu=None,
        max_retries=1,
    ):
        ray = _import_ray()
        validate.check_positive_int(workers, "workers")
        if candidates_per_gpu is not None:
            validate.check_positive_int(candidates_per_gpu, "candidates_per_gpu")
            num_gpus = 1.0 / candidates_per_gpu
        self.spec = spec
        self.workers = workers
        self.timeout = timeout
        if not ray.is_initialized():
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={
                    "env_vars": {
                        "TF_CPP_MIN_LOG_LEVEL": "2",
                        # JAX: allocate GPU memory as needed.
                        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
                    }
                },
            )
            self._owns_ray = True
        else:
            self._owns_ray = False
        self._ray = ray
        self._task = ray.remote(
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            max_calls=max_candidates_per_worker,
            max_retries=max_retries,
        )(_evaluate_task)
        self._files = ray.put(self._read_files(spec))

    @staticmethod
    def _read_files(spec):
        files = {}
        for name, path in (
            ("data", spec.data_path),
            ("extractor.keras", spec.extractor_path),
            ("real_features.npy", spec.real_features_path),
        ):
            if path and os.path.isfile(path):
                with open(path, "rb") as stream:
                    files[name] = stream.read()
            sidecar = os.path.splitext(path or "")[0] + ".json"
            if name == "extractor.keras" and os.path.isfile(sidecar):
                with open(sidecar, "rb") as stream:
                    files["extractor.json"] = stream.read()
        return files if "data" in files else {}

    def run(self, genomes, parents=None, steps=None):
        ray = self._ray
        genomes = list(genomes)
        parents = parents_for(genomes, parents)
        steps = steps_for(genomes, steps)
        queue = list(range(len(genomes)))[::-1]
        running = {}  # ObjectRef -> (index, started)
        while queue or running:
            while queue and len(running) < self.workers:
                index = queue.pop()
                ref = self._task.remote(
                    self.spec,
                    self._files,
                    genomes[index].to_json(),
                    _read_parent_files(self.spec, parents[index]),
                    steps[index],
                )
                running[ref] = (index, time.monotonic())
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                index, started = running.pop(ref)
                yield index, self._collect(ref, genomes[index], started)
            if self.timeout is not None:
                for ref, (index, started) in list(running.items()):
                    if time.monotonic() - started > self.timeout:
                        ray.cancel(ref, force=True)
                        del running[ref]
                        yield (
                            index,
                            Fitness.failed(
                                "timeout",
                                f"candidate ran past its {self.timeout:g} s limit and was "
                                "cancelled",
                                seconds={"total": round(time.monotonic() - started, 4)},
                            ),
                        )

    def _collect(self, ref, genome, started):
        ray = self._ray
        try:
            fitness, models = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            return Fitness.failed("error", str(exc).strip().splitlines()[-1][:2000])
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.RayActorError,
            ray.exceptions.ObjectLostError,
        ) as exc:
            return Fitness.failed(
                "crashed",
                f"Ray worker died ({type(exc).__name__}), retries exhausted",
                seconds={"total": round(time.monotonic() - started, 4)},
            )
        if self.spec.models_dir and models:
            _unzip_into(models, os.path.join(self.spec.models_dir, genome.key()))
        return Fitness.from_dict(fitness)

    def close(self):
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns_ray = False
