"""Budgeted training: `train_for_budget` and the `TrainReport` it returns.

`train_for_budget` runs a candidate for a fixed number of steps (or seconds)
and turns every failure into a `TrainReport` instead of an exception: in a
search, a candidate that diverges or crashes is data. `_BudgetMonitor` is the
callback that times the steps and stops on NaN, divergence or the time
limit; `split_compile_time` separates the first step's compilation from the
step time. `check_budget`, `loss_problem`, `LossCurve` and `finished_report`
are shared with packed training (`kgan_nas.training.packed`), so a packed
member is judged and reported exactly like a GAN trained alone.
"""

import dataclasses
import math
import statistics
import time

import keras
import numpy as np
from keras import ops

from kgan_nas import validate


@dataclasses.dataclass(frozen=True)
class TrainReport:
    """What happened when a candidate was trained for its budget.

    Args:
        status: `"ok"` (ran its steps, or stopped at the time limit),
            `"nan"` (a loss became NaN or infinite), `"diverged"` (a loss
            exceeded the divergence threshold) or `"error"` (an exception).
        reason: Why it stopped early; for `"error"`, the exception type and
            message. Empty when training ran all its steps.
        steps: Train steps completed.
        seconds: Wall time of the whole `fit` call.
        compile_seconds: Time of the first step (which includes tracing and
            XLA compilation) minus the median later step; the whole first
            step if only one ran. None if no step ran.
        step_seconds: Median time of the steps after the first. None if
            fewer than two steps ran.
        logs: The last logged values (`d_loss`, `g_loss`, ...) as floats;
            Keras reports running means over the run.
        curve: The losses at up to `CURVE_POINTS` evenly spaced steps and
            the last one, as `{"step": [...], "d_loss": [...],
            "g_loss": [...]}`; each loss is its mean over the steps since
            the previous point, None where not finite. Empty if no step ran.
    """

    status: str
    reason: str = ""
    steps: int = 0
    seconds: float = 0.0
    compile_seconds: float | None = None
    step_seconds: float | None = None
    logs: dict = dataclasses.field(default_factory=dict)
    curve: dict = dataclasses.field(default_factory=dict)


# Points of a candidate's loss curve (`TrainReport.curve`), the last step included.
CURVE_POINTS = 10
CURVE_LOSSES = ("d_loss", "g_loss")


def curve_steps(steps, points=CURVE_POINTS):
    """The steps (1-based) at which a run of `steps` steps records its losses."""
    return sorted({max(1, round(steps * i / points)) for i in range(1, points + 1)})


class LossCurve:
    """Window means of the losses between recorded steps, from Keras' running means.

    `fit` logs each loss as its mean since the epoch began, so the sum of
    the first k losses is k times the k-th logged value; the mean over a
    window is the difference of two such sums over the window's length.
    """

    def __init__(self, record_at):
        self.record_at = set(record_at)
        self.points = {"step": []} | {name: [] for name in CURVE_LOSSES}
        self._last = (0, {name: 0.0 for name in CURVE_LOSSES})  # (step, running sums)
        self._latest = None

    def update(self, step, values):
        sums = {name: step * values[name] for name in CURVE_LOSSES if name in values}
        if len(sums) != len(CURVE_LOSSES):
            return
        self._latest = (step, sums)
        if step in self.record_at:
            self._add(step, sums)

    def _add(self, step, sums):
        start, previous = self._last
        self.points["step"].append(step)
        for name in CURVE_LOSSES:
            mean = (sums[name] - previous[name]) / (step - start)
            self.points[name].append(mean if math.isfinite(mean) else None)
        self._last = (step, sums)

    def result(self):
        """The curve, with the last step added when training stopped between points."""
        if self._latest is not None and self._latest[0] > self._last[0]:
            self._add(*self._latest)
        return self.points if self.points["step"] else {}


class _BudgetMonitor(keras.callbacks.Callback):
    """Times each step and stops on NaN, divergence or the time limit."""

    def __init__(self, seconds, divergence_threshold, curve_at=()):
        super().__init__()
        self.curve = LossCurve(curve_at)
        self.seconds = seconds
        self.divergence_threshold = divergence_threshold
        self.status = "ok"
        self.reason = ""
        self.steps = 0
        self.step_times = []
        self.logs = {}
        self._start = None
        self._step_start = None

    def on_train_begin(self, logs=None):
        self._start = None

    def on_train_batch_begin(self, batch, logs=None):
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # Converting to floats waits for the device, so the timing is real.
        values = {key: _to_float(value) for key, value in (logs or {}).items()}
        now = time.perf_counter()
        self.step_times.append(now - self._step_start)
        self.steps = batch + 1
        self.logs = values
        self.curve.update(self.steps, values)
        problem = loss_problem(values, self.steps, self.divergence_threshold)
        if problem:
            self._stop(*problem)
        elif self._start is None:
            # The time budget starts after the first step, which holds the XLA
            # compilation: a slow compile (a loaded machine) must not eat the
            # candidate's training time.
            self._start = now
        elif self.seconds is not None and now - self._start >= self.seconds:
            self._stop("ok", f"time budget of {self.seconds:g} s reached after {self.steps} steps")

    def _stop(self, status, reason):
        self.status = status
        self.reason = reason
        self.model.stop_training = True


def loss_problem(values, step, divergence_threshold):
    """`(status, reason)` when a step's losses stop training, else None.

    Args:
        values: The step's logged values, as floats.
        step: The step's number (1-based), for the reason.
        divergence_threshold: A magnitude above which a loss has diverged.

    Returns:
        `("nan", reason)` for a non-finite loss, `("diverged", reason)` for
        one above the threshold, or None.
    """
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
        return "nan", f"non-finite {', '.join(bad)} at step {step}"
    big = sorted(k for k, v in values.items() if abs(v) > divergence_threshold)
    if big:
        return "diverged", f"|{', '.join(big)}| > {divergence_threshold:g} at step {step}"
    return None


def input_ran_out(steps_done):
    """The reason of a run whose input ended before its budget."""
    return f"input ran out after {steps_done} steps"


def check_budget(steps, seconds, divergence_threshold):
    """Checks a training budget's arguments (a caller's error, never a candidate's).

    Raises:
        ValueError: if `steps` is not an integer >= 1, `seconds` is not a
            positive number or None, or `divergence_threshold` is not a
            positive number.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}.")
    if seconds is not None and (not validate.is_finite_number(seconds) or seconds <= 0):
        raise ValueError(f"seconds must be a positive number or None, got {seconds!r}.")
    if not validate.is_finite_number(divergence_threshold) or divergence_threshold <= 0:
        raise ValueError(
            f"divergence_threshold must be a positive number, got {divergence_threshold!r}."
        )


def _to_float(value):
    try:
        return float(np.asarray(ops.convert_to_numpy(value)).reshape(()))
    except (TypeError, ValueError):
        return float("nan")


def train_for_budget(gan, inputs, *, steps, seconds=None, divergence_threshold=1e4, callbacks=None):
    """Trains a compiled GAN for a step (and optional time) budget.

    A failing candidate never raises: NaN losses, divergence and exceptions
    raised while training are all reported in the returned `TrainReport`.

    Args:
        gan: A compiled `GAN` (or any compiled `keras.Model`).
        inputs: What `fit` takes as `x` and that yields at least `steps`
            batches: an infinite `tf.data.Dataset` or a
            `keras.utils.PyDataset` of fixed-size batches (a changing batch
            size recompiles the XLA step).
        steps: Number of train steps (>= 1).
        seconds: Optional wall-time limit on training, counted from the end
            of the first step (which holds the XLA compilation); training
            stops (status `"ok"`) after the first step that ends past it.
            Defaults to None.
        divergence_threshold: A loss whose magnitude exceeds this stops
            training with status `"diverged"`. Defaults to 1e4.
        callbacks: Optional list of extra Keras callbacks for `fit` (an
            exception they raise is reported as status `"error"`).

    Returns:
        A `TrainReport`. After `"error"` the model keeps the weights it had
        before the failing step.

    Raises:
        TypeError: if `gan` is not a Keras model.
        ValueError: if `gan` is not compiled, or `steps`, `seconds` or
            `divergence_threshold` are invalid. (These are caller errors,
            not candidate failures.)
    """
    if not isinstance(gan, keras.Model):
        raise TypeError(f"gan must be a keras.Model, got {type(gan).__name__}.")
    if not getattr(gan, "compiled", False):
        raise ValueError("Call gan.compile(...) before train_for_budget.")
    check_budget(steps, seconds, divergence_threshold)
    monitor = _BudgetMonitor(seconds, float(divergence_threshold), curve_steps(int(steps)))
    status, reason = None, ""
    snapshot = _state_snapshot(gan)
    start = time.perf_counter()
    try:
        # The inputs shuffle themselves; shuffle=False keeps fit from warning.
        gan.fit(
            inputs,
            epochs=1,
            steps_per_epoch=int(steps),
            verbose=0,
            shuffle=False,
            callbacks=[monitor] + list(callbacks or []),
        )
    except Exception as error:  # a candidate's failure is data
        status, reason = "error", f"{type(error).__name__}: {error}"
        _restore_detached(snapshot)
    total = time.perf_counter() - start
    if status is None:
        status, reason = monitor.status, monitor.reason
    return finished_report(
        status, reason, monitor.steps, steps, total, monitor.step_times, monitor.logs, monitor.curve
    )


def finished_report(status, reason, steps_done, steps, seconds, step_times, logs, curve):
    """The `TrainReport` of a finished training, single or packed: one way to close one.

    Args:
        status, reason: How it ended ("ok" and "" unless it failed).
        steps_done: Steps it completed; fewer than `steps` with status "ok"
            means its input ran out, which the reason then says.
        steps: The steps it was asked for.
        seconds: Its wall seconds.
        step_times: Per-step wall seconds (the first holds the compile).
        logs: Its last logs.
        curve: Its `LossCurve`.
    """
    if status == "ok" and not reason and steps_done < steps:
        reason = input_ran_out(steps_done)
    compile_seconds, step_seconds = split_compile_time(step_times)
    return TrainReport(
        status=status,
        reason=reason,
        steps=steps_done,
        seconds=seconds,
        compile_seconds=compile_seconds,
        step_seconds=step_seconds,
        logs=dict(logs),
        curve=curve.result(),
    )


def _state_snapshot(gan):
    """(variable, value) pairs of everything the JAX trainer detaches."""
    if keras.backend.backend() != "jax":
        return []
    variables = list(gan.variables) + list(gan.metrics_variables)
    optimizer = getattr(gan, "optimizer", None)
    if optimizer is not None:
        variables += list(optimizer.variables)
    return [(v, v.value) for v in variables]


def _restore_detached(snapshot):
    """Re-attaches values the JAX trainer detached before a failed step.

    Keras' JAX `fit` detaches variable values while it trains (it sets the
    private `_value` to None, see `JAXTrainer._purge_model_variables`) and
    attaches the latest ones at the end; when the first step raises there
    are none, and the model would be left without weights. JAX arrays are
    immutable, so the values from before `fit` are still valid then.
    """
    for variable, value in snapshot:
        if getattr(variable, "_value", True) is None:
            variable.assign(value)


def split_compile_time(step_times):
    """(compile seconds, median step seconds) from per-step wall times."""
    if not step_times:
        return None, None
    if len(step_times) == 1:
        return step_times[0], None
    step = statistics.median(step_times[1:])
    return max(step_times[0] - step, 0.0), step
