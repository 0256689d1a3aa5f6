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
import time

import keras
import numpy as np

from kgan_nas.training import jax_step
from kgan_nas.training.budget import LossCurve
from kgan_nas.training.budget import check_budget
from kgan_nas.training.budget import curve_steps
from kgan_nas.training.budget import finished_report
from kgan_nas.training.budget import loss_problem

# Optimizer attributes a member may set for itself: plain numbers in the
# update's arithmetic (Adam's), replaced by traced values while tracing.
_OPTIMIZER_NUMBERS = ("beta_1", "beta_2")
# Optimizer config entries that live in the optimizer's variables or are
# per-member numbers above, so members may differ in them.
_MEMBER_CONFIG = ("name", "learning_rate") + _OPTIMIZER_NUMBERS


def packing_pays():
    """Whether `"auto"` settings pack here: on JAX with an accelerator.

    On a CPU, XLA turns the members' convolutions into one grouped
    convolution that runs slower than the members one after the other
    (`benchmarks/packed_training.py`, docs/benchmarks.md). On accelerators,
    which run batched programs best, packing is assumed to pay; that is not
    measured yet (no GPU was lent when this was written).

    Returns:
        True on the JAX backend with a non-CPU default device, else False.
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
    owned = [id(part) for gan in gans for part in _parts(gan) if part is not None]
    if len(set(owned)) != len(owned):
        return "two members share a GAN, a network or an optimizer; each needs its own"
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


def _parts(gan):
    """The objects a member must not share with another: it, its networks, its optimizers."""
    return (gan, gan.generator, gan.discriminator, gan.g_optimizer, gan.d_optimizer)


def _structure(model):
    """A network's layers as (class, config without names): what its program computes."""

    def unnamed(value):
        if isinstance(value, dict):
            return {k: unnamed(v) for k, v in value.items() if k != "name"}
        if isinstance(value, (list, tuple)):
            return [unnamed(v) for v in value]
        return value

    return [(type(layer).__name__, unnamed(layer.get_config())) for layer in model.layers]


def _signature(gan):
    """What members of one pack must share, by name."""

    def shapes(variables):
        return tuple((tuple(v.shape), str(v.dtype)) for v in variables)

    def optimizer(opt):
        config = {k: v for k, v in opt.get_config().items() if k not in _MEMBER_CONFIG}
        return type(opt).__name__, sorted(config.items(), key=lambda item: item[0])

    return {
        "generator weights": shapes(gan.generator.variables),
        "discriminator weights": shapes(gan.discriminator.variables),
        "generator layers": _structure(gan.generator),
        "discriminator layers": _structure(gan.discriminator),
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
    check_budget(steps, seconds, divergence_threshold)
    members = [_Member(curve_steps(int(steps))) for _ in gans]
    step_times, error, pack = [], "", None
    started = time.perf_counter()
    try:
        # Inside the try: stacking K states can exhaust a device's memory.
        pack = _Pack(gans)
        _run(
            pack, members, _lockstep(inputs), int(steps), seconds, divergence_threshold, step_times
        )
    except Exception as exception:  # a failing pack is data, like a failing candidate
        error = f"{type(exception).__name__}: {exception}"
    total = time.perf_counter() - started
    if not error:
        pack.write_back()
    return [
        finished_report(
            *(("error", error) if error else (member.status, member.reason)),
            member.steps,
            steps,
            total,
            step_times,
            member.logs,
            member.curve,
        )
        for member in members
    ]


def _run(pack, members, batches, steps, seconds, divergence_threshold, step_times):
    """Steps the pack until its budget, its input or its last live member ends."""
    clock_start = None
    for step in range(1, steps + 1):
        step_start = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            return
        logs = pack.step(batch, [m.alive for m in members])
        now = time.perf_counter()
        step_times.append(now - step_start)
        for index, member in enumerate(members):
            if member.alive:
                values = {name: float(value[index]) for name, value in logs.items()}
                member.update(step, values, divergence_threshold)
        if not any(m.alive for m in members):
            return
        if clock_start is None:
            clock_start = now  # the time budget starts after the compiling step
        elif seconds is not None and now - clock_start >= seconds:
            for member in members:
                member.stop("ok", f"time budget of {seconds:g} s reached after {step} steps")
            return


class _Member:
    """One member's progress: its steps, last logs, curve and whether it still trains."""

    def __init__(self, curve_at):
        self.curve = LossCurve(curve_at)
        self.status, self.reason = "ok", ""
        self.steps = 0
        self.logs = {}
        self.alive = True

    def update(self, step, values, divergence_threshold):
        self.steps = step
        self.logs = values
        self.curve.update(step, values)
        problem = loss_problem(values, step, divergence_threshold)
        if problem:
            self.stop(*problem)

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

        # The old state is never read again: donating it lets XLA update in place.
        self._step = jax.jit(packed_step, donate_argnums=0)

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
    """Stacked batches `(K, batch, ...)`, one from each input per step, until one ends."""
    streams = [_batches(source) for source in inputs]
    while True:
        try:
            batches = [np.asarray(next(stream)) for stream in streams]
        except StopIteration:
            return
        yield np.stack(batches)


def _batches(source):
    # A keras PyDataset is indexed, batch after batch, up to its length when it has one
    # (fit stops there too); anything else is iterated.
    if isinstance(source, keras.utils.PyDataset):
        count = source.num_batches
        indices = itertools.count() if count is None else range(count)
        return (source[index] for index in indices)
    return iter(source)
