"""How long a trained generator takes to sample a batch: the `"generator_latency"` objective.

Measured on the machine that trains the candidate, after warm-up calls that
trace (and compile) the generator's predict function, as the median of a few
timed calls, so one slow call (another worker, the garbage collector) does
not decide it. It is what a user who deploys the generator on this kind of
machine pays per batch; the cost model's MACs (`"generator_macs"`) are the
machine-free counterpart.
"""

import statistics
import time

import numpy as np

# Calls before timing (tracing, compilation, caches) and timed calls.
WARMUP_CALLS = 3
TIMED_CALLS = 7


def generator_latency(generator, latent_dim, batch_size, num_classes=None, seed=0):
    """Median seconds of one `predict_on_batch` of `batch_size` images.

    Args:
        generator: A Keras generator taking `z` (or `(z, class)` when
            `num_classes` is set).
        latent_dim: Its latent size.
        batch_size: Images per call, a positive integer.
        num_classes: Classes of a conditional generator, else None.
        seed: Seed of the latents (the time does not depend on their values).

    Returns:
        Seconds, a float.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch_size, latent_dim)).astype("float32")
    inputs = z if num_classes is None else [z, np.arange(batch_size) % num_classes]
    for _ in range(WARMUP_CALLS):
        generator.predict_on_batch(inputs)
    timings = []
    for _ in range(TIMED_CALLS):
        start = time.perf_counter()
        generator.predict_on_batch(inputs)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)
