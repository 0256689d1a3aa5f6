"""Whether a candidate's train step is compiled with XLA: `jit_compile="auto"`.

XLA compilation costs seconds per architecture, and every candidate of a
search is a new architecture; it pays only when the faster steps win that
back. `resolve_jit_compile` decides from quantities fixed by the search (the
backend, the device kind and the step budget), never from timings taken while
it runs, so a search's records do not depend on the machine's load. The rule
and its constants come from `benchmarks/train_step.py --genomes`, written to
`benchmarks/results/train_step_genomes_tensorflow.json` (see docs/benchmarks.md):

* JAX: always XLA. Without it JAX runs eagerly, compiling every operation on
  its own: 4 to 312 times slower per step on five digits genomes
  (`train_step_genomes_jax.json`).
* TensorFlow on a GPU: XLA (not measured here; XLA's usual case).
* TensorFlow on the CPU: XLA only from `TF_CPU_XLA_MIN_STEPS` steps. On ten
  sampled digits genomes XLA's first step cost 4 to 7 times the plain
  `tf.function`'s (9 to 26 s more on a loaded 2-core machine), and its steps
  ranged from 41x slower to 4.4x faster, without following the size of the
  networks; by 5000 steps half the genomes had won the compile back (five
  never did).

This `"auto"` is kgan_nas's own: `GAN.compile` receives the resolved bool,
never Keras' `jit_compile="auto"`. Plain Python: it imports Keras, TensorFlow
or JAX only inside `resolve_jit_compile`.
"""

JIT_COMPILE_CHOICES = (True, False, "auto")

# From train_step_genomes_tensorflow.json: the step budget from which half the
# sampled genomes' faster XLA steps repay XLA's extra compile time.
TF_CPU_XLA_MIN_STEPS = 5000


def choose_jit_compile(backend, device, steps):
    """The `"auto"` rule: whether XLA pays off for a candidate trained `steps` steps.

    Args:
        backend: The Keras backend, `"tensorflow"` or `"jax"`.
        device: `"gpu"` or `"cpu"`: where the train step runs.
        steps: The candidate's step budget.

    Returns:
        True to compile the train step with XLA, False for a plain
        `tf.function`.
    """
    if backend != "tensorflow" or device != "cpu":
        return True
    return steps >= TF_CPU_XLA_MIN_STEPS


def resolve_jit_compile(jit_compile, steps):
    """`jit_compile` as the bool a candidate trains with, `"auto"` decided here.

    Args:
        jit_compile: True, False or `"auto"`.
        steps: The candidate's step budget.

    Returns:
        A bool; for `"auto"`, `choose_jit_compile` on the current Keras
        backend and device.

    Raises:
        ValueError: if `jit_compile` is not one of `JIT_COMPILE_CHOICES`.
    """
    if isinstance(jit_compile, bool):
        return jit_compile
    if jit_compile != "auto":
        raise ValueError(
            f"jit_compile must be True, False or 'auto', got {jit_compile!r}. Use 'auto' to "
            "let kgan_nas decide per candidate whether XLA compilation pays off."
        )
    import keras

    backend = keras.backend.backend()
    return choose_jit_compile(backend, _device_kind(backend), steps)


def _device_kind(backend):
    if backend == "jax":
        import jax

        return "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    return "cpu"
