"""The tiny real search that several test modules train once and then read.

One place for its settings: an 8x8 digits space small enough to train in
seconds, in process, without XLA (compiling would dominate a few steps).
"""

import kgan_nas

TINY_SPACE = kgan_nas.SearchSpace(image_shape=(8, 8, 1), latent_dim=8, max_params=30_000)


def tiny_real_search(directory, **overrides):
    """Runs a real (tiny) search into `directory`; `overrides` change its settings.

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
    return kgan_nas.search("digits", directory=str(directory), **settings)
