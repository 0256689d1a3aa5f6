"""Random search: the baseline every other strategy must beat."""

from kgan_nas.strategies import base


class RandomSearch(base.Strategy):
    """Samples every genome independently from the search space.

    It ignores results (apart from the shared bookkeeping: `best()`,
    `pareto_front()`, de-duplication), so it is the fair baseline for any
    strategy at an equal evaluation budget.

    Example:

    ```python
    strategy = RandomSearch(space, seed=0)
    genomes = strategy.ask(8)
    ```

    Args:
        space: The `kgan_nas.SearchSpace` to sample from.
        objectives: Objective names, as for `Strategy`. Defaults to
            `("fid",)`.
        seed: Integer seed. Defaults to 0.
    """

    def __init__(self, space, *, objectives=("fid",), seed=0):
        super().__init__(space, objectives=objectives, seed=seed)

    def _ask(self, n):
        return [self.space.sample(self._rng) for _ in range(n)]
