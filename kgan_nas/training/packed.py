"""Packed training: K GANs of one shape stepped together as one compiled JAX program.

The JAX train step is a pure function of its state (`jax_step.train_step`),
so the states of K GANs with the same layers and widths can be stacked
along a new leading axis and stepped together by one `jax.vmap`-ed,
`jax.jit`-ed function: one compilation instead of K, and K small networks'
matrix products done as batched ones. The final stage uses this for the
seeds of one genome (`kgan_nas.final.stage`).

Members may differ in what lives in their state or is a plain number in
the step's arithmetic: initial weights and noise seeds (each GAN brings its
own), data order (each member has its own input), learning rates (optimizer
variables), Adam's `beta_1` / `beta_2`, the R1 weight and the EMA decay.
Everything that changes the step's program must be shared: the layers and
their shapes, the loss, `d_steps`, the augmentation policy, the optimizer
kind, whether R1 and EMA are on (`pack_problem` names what differs).

A member whose loss turns non-finite or diverges is recorded as failed at
that step, exactly as `train_for_budget` records it, and its state is
frozen from then on while the others go on. After training, each member's
values are written back into its own GAN, which is then an ordinary model
(`ema_generator()`, `generate`, `.keras` saving) indistinguishable from one
trained alone.
"""

import contextlib
import itertools
import math
import time

import keras
import numpy as np

from kgan_nas import validate
from kgan_nas.training import jax_step
from kgan_nas.training.budget import TrainReport
from kgan_nas.training.budget import _LossCurve
from kgan_nas.training.budget import _split_compile_time
from kgan_nas.training.budget import curve_steps

# Optimizer attributes a member may set for itself: plain numbers in the
# update's arithmetic (Adam's), replaced by traced values while tracing.
_OPTIMIZER_NUMBERS = ("beta_1", "beta_2")
# Optimizer config entries that live in the optimizer's variables or are
# per-member numbers above, so members may differ in them.
_MEMBER_CONFIG = ("name", "learning_rate") + _OPTIMIZER_NUMBERS


def packing_pays():
    """Whether packing is expected to save time here: on JAX with an accelerator.

    On a CPU, XLA turns each member's convolutions into one grouped
    convolution that runs slower than the members one after the other
    (`benchmarks/packed_training.py`, docs/benchmarks.md), so `"auto"`
    settings leave packing off there.
    """
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() != "cpu"


def pack_problem(gans):
    """Why `gans` cannot be trained as one pack, or `""` when they can.

    Args:
        gans: A list of compiled `kgan_nas.GAN`s.

    Returns:
        A sentence naming the first obstacle (the backend, an uncompiled or
        conditional GAN, or the setting in which two members differ), or an
        empty string.
    """
    if keras.backend.backend() != "jax":
        return f"packed training needs the JAX backend, not {keras.backend.backend()!r}"
    if not gans:
        return "there are no GANs to pack"
    for index, gan in enumerate(gans):
        if not getattr(gan, "compiled", False) or getattr(gan, "g_optimizer", None) is None:
            return f"GAN {index} is not compiled (call compile(...) first)"
        if gan._jit_compile_requested is False:
            return f"GAN {index} is compiled with jit_compile=False; packing always compiles"
        if gan.num_classes is not None:
            return f"GAN {index} is class-conditional, which packed training does not support"
    first = _signature(gans[0])
    for index, gan in enumerate(gans[1:], 1):
        signature = _signature(gan)
        for name, value in first.items():
            if signature[name] != value:
                return f"GAN {index} differs from GAN 0 in {name}"
    return ""


def _signature(gan):
    """What members of one pack must share, by name."""

    def shapes(variables):
        return tuple((tuple(v.shape), str(v.dtype)) for v in variables)

    def optimizer(opt):
        config = {k: v for k, v in opt.get_config().items() if k not in _MEMBER_CONFIG}
        return type(opt).__name__, sorted(config.items(), key=lambda item: item[0])

    return {
        "generator layers": shapes(gan.generator.variables),
        "discriminator layers": shapes(gan.discriminator.variables),
        "the generator's optimizer": optimizer(gan.g_optimizer),
        "the discriminator's optimizer": optimizer(gan.d_optimizer),
        "loss": gan.loss_name,
        "d_steps": gan.d_steps,
        "gp_weight": gan.gp_weight,
        "augment": (gan.augment, gan.augment_probability),
        "whether R1 is on": gan.r1_weight > 0,
        "whether EMA is on": gan.ema is not None,
        "latent_dim": gan.latent_dim,
    }


def train_packed(gans, inputs, *, steps, seconds=None, divergence_threshold=1e4):
    """Trains `gans` together for a step (and optional time) budget, as one program.

    The packed counterpart of `train_for_budget`: each member gets the
    `TrainReport` it would get alone (status, reason, steps, logs, curve),
    and a member's trajectory matches its training alone with the same
    seed and data up to floating-point rounding. Times are the pack's.

    Args:
        gans: Compiled `kgan_nas.GAN`s that `pack_problem` accepts.
        inputs: One input per GAN, in the same order, each yielding
            fixed-size image batches (same batch size for all): what
            `kgan_nas.data.train_input` returns, or any iterable of arrays.
        steps: Train steps (>= 1).
        seconds: Optional wall-time limit on the pack, counted from the end
            of its first step (which holds the compilation). Defaults to None.
        divergence_threshold: A member whose loss magnitude exceeds this
            stops with status `"diverged"`. Defaults to 1e4.

    Returns:
        A list of `TrainReport`s, one per GAN. After `"error"` (an exception
        while stepping, which stops the whole pack) every GAN keeps the
        weights it had before.

    Raises:
        ValueError: if the GANs cannot be packed (the reason from
            `pack_problem`), `inputs` is not one per GAN, or `steps`,
            `seconds` or `divergence_threshold` are invalid.
    """
    gans = list(gans)
    problem = pack_problem(gans)
    if problem:
        raise ValueError(f"Cannot pack these GANs: {problem}. Train them one by one instead.")
    inputs = list(inputs)
    if len(inputs) != len(gans):
        raise ValueError(f"Give one input per GAN: got {len(inputs)} for {len(gans)} GANs.")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}.")
    if seconds is not None and (not validate.is_finite_number(seconds) or seconds <= 0):
        raise ValueError(f"seconds must be a positive number or None, got {seconds!r}.")
    if not validate.is_finite_number(divergence_threshold) or divergence_threshold <= 0:
        raise ValueError(
            f"divergence_threshold must be a positive number, got {divergence_threshold!r}."
        )
    members = [_Member(curve_steps(int(steps))) for _ in gans]
    pack = _Pack(gans)
    step_times, error = [], ""
    started = time.perf_counter()
    clock_start = None
    batches = _lockstep(inputs)
    try:
        for step in range(1, int(steps) + 1):
            step_start = time.perf_counter()
            logs = pack.step(next(batches), [m.alive for m in members])
            now = time.perf_counter()
            step_times.append(now - step_start)
            for index, member in enumerate(members):
                if member.alive:
                    member.update(
                        step, {k: float(v[index]) for k, v in logs.items()}, divergence_threshold
                    )
            if not any(m.alive for m in members):
                break
            if clock_start is None:
                clock_start = now  # the time budget starts after the compiling step
            elif seconds is not None and now - clock_start >= seconds:
                for member in members:
                    member.stop("ok", f"time budget of {seconds:g} s reached after {step} steps")
                break
    except Exception as exception:  # a failing pack is data, like a failing candidate
        error = f"{type(exception).__name__}: {exception}"
    total = time.perf_counter() - started
    if not error:
        pack.write_back()
    compile_seconds, step_seconds = _split_compile_time(step_times)
    reports = []
    for member in members:
        status, reason = ("error", error) if error else (member.status, member.reason)
        if status == "ok" and not reason and member.steps < steps:
            reason = f"input ran out after {member.steps} steps"
        reports.append(
            TrainReport(
                status=status,
                reason=reason,
                steps=member.steps,
                seconds=total,
                compile_seconds=compile_seconds,
                step_seconds=step_seconds,
                logs=dict(member.logs),
                curve=member.curve.result(),
            )
        )
    return reports


class _Member:
    """One member's progress: its steps, last logs, curve and whether it still trains."""

    def __init__(self, curve_at):
        self.curve = _LossCurve(curve_at)
        self.status, self.reason = "ok", ""
        self.steps = 0
        self.logs = {}
        self.alive = True

    def update(self, step, values, divergence_threshold):
        # The same checks, in the same order, as train_for_budget's monitor.
        self.steps = step
        self.logs = values
        self.curve.update(step, values)
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        big = sorted(
            k for k, v in values.items() if math.isfinite(v) and abs(v) > divergence_threshold
        )
        if bad:
            self.stop("nan", f"non-finite {', '.join(bad)} at step {step}")
        elif big:
            self.stop("diverged", f"|{', '.join(big)}| > {divergence_threshold:g} at step {step}")

    def stop(self, status, reason):
        if self.alive:
            self.status, self.reason, self.alive = status, reason, False


class _Pack:
    """The members' stacked state and the compiled step that advances it."""

    def __init__(self, gans):
        import jax
        import jax.numpy as jnp

        self.gans = gans
        template = gans[0]
        for gan in gans:
            # fit() starts each epoch from fresh loss means; so does a pack.
            gan.reset_metrics()
        states = [_state_of(gan) for gan in gans]
        self.state = jax.tree.map(lambda *values: jnp.stack(values), *states)
        self.hyper = {
            name: jnp.asarray(values, dtype="float32")
            for name, values in _member_numbers(gans).items()
        }

        def member_step(state, batch, hyper):
            with _optimizer_numbers(template, hyper):
                step_hyper = {k: hyper[k] for k in ("r1_weight", "ema_decay") if k in hyper}
                return jax_step.train_step(template, state, batch, hyper=step_hyper)

        def packed_step(state, batch, hyper, alive):
            logs, new_state = jax.vmap(member_step)(state, batch, hyper)

            def keep_dead(new, old):
                mask = jnp.reshape(alive, alive.shape + (1,) * (new.ndim - 1))
                return jnp.where(mask, new, old)

            return logs, jax.tree.map(keep_dead, new_state, state)

        self._step = jax.jit(packed_step)

    def step(self, batch, alive):
        import jax.numpy as jnp

        logs, self.state = self._step(self.state, batch, self.hyper, jnp.asarray(alive))
        return {name: np.asarray(value) for name, value in logs.items()}

    def write_back(self):
        """Each member's values into its own GAN's variables."""
        for index, gan in enumerate(self.gans):
            for variables, values in zip(_variable_lists(gan), self.state):
                for variable, value in zip(variables, values):
                    variable.assign(value[index])


def _variable_lists(gan):
    """The four lists the JAX train step's state is ordered like."""
    return (
        gan.trainable_variables,
        gan.non_trainable_variables,
        gan.optimizer.variables,
        gan.metrics_variables,
    )


def _state_of(gan):
    return tuple([v.value for v in variables] for variables in _variable_lists(gan))


def _member_numbers(gans):
    """Per-member numbers the step reads from traced values: `{name: [K values]}`."""
    template = gans[0]
    numbers = {}
    for prefix, attribute in (("g", "g_optimizer"), ("d", "d_optimizer")):
        for name in _OPTIMIZER_NUMBERS:
            if hasattr(getattr(template, attribute), name):
                numbers[f"{prefix}_{name}"] = [
                    float(getattr(getattr(g, attribute), name)) for g in gans
                ]
    if template.r1_weight > 0:
        numbers["r1_weight"] = [g.r1_weight for g in gans]
    if template.ema is not None:
        numbers["ema_decay"] = [g.ema_decay for g in gans]
    return numbers


@contextlib.contextmanager
def _optimizer_numbers(gan, hyper):
    """Sets the optimizers' per-member numbers to this member's traced values while tracing."""
    saved = []
    try:
        for prefix, optimizer in (("g", gan.g_optimizer), ("d", gan.d_optimizer)):
            for name in _OPTIMIZER_NUMBERS:
                if f"{prefix}_{name}" in hyper:
                    saved.append((optimizer, name, getattr(optimizer, name)))
                    setattr(optimizer, name, hyper[f"{prefix}_{name}"])
        yield
    finally:
        for optimizer, name, value in reversed(saved):
            setattr(optimizer, name, value)


def _lockstep(inputs):
    """Stacked batches `(K, batch, ...)`, one from each input per step."""
    streams = [_batches(source) for source in inputs]
    while True:
        yield np.stack([np.asarray(next(stream)) for stream in streams])


def _batches(source):
    # A keras PyDataset is indexed, batch after batch; anything else is iterated.
    if isinstance(source, keras.utils.PyDataset):
        return (source[index] for index in itertools.count())
    return iter(source)
