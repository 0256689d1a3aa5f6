"""Evaluators with scripted behaviour, loaded by worker processes in tests.

`make_fault_evaluator` decides what to do from the genome's generator
learning rate, so a test can build one genome per fault (a hanging one
first leaves a file named by its process id in `SCRIPTED_HANG_DIR`, when
set). `make_fast_evaluator` scores instantly with a deterministic function
of the genome.
"""

import math
import os
import signal
import time

from kgan_nas.core.fitness import Fitness
from kgan_nas.core.space import SearchSpace

OK, RAISE, NAN, KILL, HANG = 1e-4, 2e-4, 5e-4, 1e-3, 3e-3
FAULT_LEARNING_RATES = (OK, RAISE, NAN, KILL, HANG)


def synthetic_fid(genome, space):
    """A deterministic stand-in for FID: favours ~50k-parameter generators."""
    params = space.generator_params(genome)
    return abs(math.log(params / 50_000)) + 0.1 * len(genome.discriminator)


class _FaultEvaluator:
    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)

    def evaluate(self, genome, save_dir=None):
        rate = genome.training.g_learning_rate
        if rate == RAISE:
            raise RuntimeError("scripted failure")
        if rate == NAN:
            return Fitness.failed("nan", "non-finite g_loss at step 3")
        if rate == KILL:
            print("scripted last words before SIGKILL", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        if rate == HANG:
            folder = os.environ.get("SCRIPTED_HANG_DIR")
            if folder:
                open(os.path.join(folder, str(os.getpid())), "w").close()
            time.sleep(600)
        return Fitness(
            fid=synthetic_fid(genome, self.space), params=self.space.generator_params(genome)
        )


class _FastEvaluator:
    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)
        self.delay = float(os.environ.get("SCRIPTED_DELAY", "0"))

    def evaluate(self, genome, save_dir=None):
        time.sleep(self.delay)
        return Fitness(
            fid=synthetic_fid(genome, self.space), params=self.space.generator_params(genome)
        )


def make_fault_evaluator(spec):
    return _FaultEvaluator(spec)


def make_fast_evaluator(spec):
    return _FastEvaluator(spec)


class _DeviceEvaluator:
    """Reports the GPU devices its worker sees, in the fitness reason."""

    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)

    def evaluate(self, genome, save_dir=None):
        return Fitness(fid=1.0, reason="devices=" + os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))


def make_device_evaluator(spec):
    return _DeviceEvaluator(spec)


class _ThreadsEvaluator:
    """Reports its worker's thread caps, in the fitness reason."""

    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)

    def evaluate(self, genome, save_dir=None):
        return Fitness(
            fid=1.0,
            reason=" ".join(
                f"{name}={os.environ.get(name, 'unset')}"
                for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS")
            ),
        )


def make_threads_evaluator(spec):
    return _ThreadsEvaluator(spec)


class _LineageEvaluator:
    """Saves its genome key as its "models" and reports the parent it inherited from."""

    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)

    def evaluate(self, genome, save_dir=None, inherit_from=None):
        if save_dir is not None:
            os.makedirs(save_dir, exist_ok=True)
            for name in ("generator.keras", "discriminator.keras"):
                with open(os.path.join(save_dir, name), "w") as stream:
                    stream.write(genome.key())
        parent = "none"
        path = os.path.join(inherit_from, "generator.keras") if inherit_from else ""
        if os.path.isfile(path):
            with open(path) as stream:
                parent = stream.read()
        return Fitness(fid=synthetic_fid(genome, self.space), reason=f"parent={parent}")


def make_lineage_evaluator(spec):
    return _LineageEvaluator(spec)


def make_dying_evaluator(spec):
    """Dies while its worker starts, after saying why on stderr (start-up failures)."""
    import sys

    print("scripted start-up failure: libfoo.so not found", file=sys.stderr, flush=True)
    os._exit(3)


class _AlwaysRaisingEvaluator:
    """Fails every candidate with the same exception (a systemic failure)."""

    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)

    def evaluate(self, genome, save_dir=None):
        raise RuntimeError(f"scripted systemic failure for {genome.key()}")


def make_always_raising_evaluator(spec):
    return _AlwaysRaisingEvaluator(spec)


class _SlowSaveEvaluator:
    """Writes its two "models" with a pause between them, each naming its process.

    A kill between the two writes would leave a folder mixing processes if the
    folder were not published whole.
    """

    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)
        self.delay = float(os.environ.get("SCRIPTED_DELAY", "0"))

    def evaluate(self, genome, save_dir=None):
        if save_dir is not None:
            os.makedirs(save_dir, exist_ok=True)
            for name in ("generator.keras", "discriminator.keras"):
                with open(os.path.join(save_dir, name), "w") as stream:
                    stream.write(f"{genome.key()}:{os.getpid()}")
                time.sleep(self.delay)
        return Fitness(
            fid=synthetic_fid(genome, self.space), params=self.space.generator_params(genome)
        )


def make_slow_save_evaluator(spec):
    return _SlowSaveEvaluator(spec)


class _CallbackNamesEvaluator:
    """Reports the classes of the Keras callbacks its worker received."""

    def __init__(self, spec):
        import pickle

        self.space = SearchSpace.from_dict(spec.space)
        self.names = [type(c).__name__ for c in pickle.loads(spec.keras_callbacks)]

    def evaluate(self, genome, save_dir=None):
        return Fitness(fid=1.0, reason="callbacks=" + ",".join(self.names))


def make_callback_names_evaluator(spec):
    return _CallbackNamesEvaluator(spec)


class _RungEvaluator:
    """Trains by counting: its "models" hold the steps trained so far, its score improves with them.

    A candidate continued from a folder (`inherit_from`) adds `steps` to the
    count saved there and says in its reason whose count it continued, so
    tests can check multi-fidelity rungs continue from the candidate's own
    folder. `SCRIPTED_DELAY` seconds of sleep per evaluation.
    """

    def __init__(self, spec):
        self.space = SearchSpace.from_dict(spec.space)
        self.default_steps = spec.config["steps"]
        self.delay = float(os.environ.get("SCRIPTED_DELAY", "0"))

    def evaluate(self, genome, save_dir=None, inherit_from=None, steps=None):
        import json

        time.sleep(self.delay)
        steps = steps or self.default_steps
        source, before = "none", 0
        path = os.path.join(inherit_from, "generator.keras") if inherit_from else ""
        if os.path.isfile(path):
            with open(path) as stream:
                saved = json.load(stream)
            source, before = saved["key"], saved["steps"]
        if save_dir is not None:
            os.makedirs(save_dir, exist_ok=True)
            for name in ("generator.keras", "discriminator.keras"):
                with open(os.path.join(save_dir, name), "w") as stream:
                    json.dump({"key": genome.key(), "steps": before + steps}, stream)
        return Fitness(
            fid=synthetic_fid(genome, self.space) + 100.0 / (before + steps),
            params=self.space.generator_params(genome),
            steps=steps,
            reason=f"from={source}:{before}",
        )


def make_rung_evaluator(spec):
    return _RungEvaluator(spec)
