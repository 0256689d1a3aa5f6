"""The ask/tell interface every search strategy implements (pure Python).

A strategy proposes genomes (`ask`) and learns from their evaluated fitness
(`tell`); it never evaluates anything itself and never imports TensorFlow or
Keras. The search driver runs generations:

```python
strategy = kgan_nas.strategies.GeneticSearch(space, seed=0)
for _ in range(generations):
    genomes = strategy.ask(12)
    for genome in genomes:               # evaluate, in any order or parallel
        ...
    for genome, fitness in zip(genomes, fitnesses):
        strategy.tell(genome, fitness)   # tell every result, in ask order
print(strategy.best())
```

The base class does the shared work (de-duplication, validity, result
bookkeeping, best / Pareto front, JSON state for resume); subclasses only
propose candidates (`_ask`) and learn (`_update`).
"""

import abc

import numpy as np

from kgan_nas import validate
from kgan_nas.core import pareto
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.genome import Genome
from kgan_nas.core.objectives import check_objective_names
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.core.space import SearchSpace

STATE_FORMAT_VERSION = 1

# How hard `ask` tries to fill a request with genomes never asked before:
# rounds of the subclass's proposals, then random samples per missing genome.
_PROPOSAL_ROUNDS = 10
_SAMPLES_PER_MISSING = 20


class Strategy(abc.ABC):
    """Base class of ask/tell search strategies.

    Subclasses implement `_ask(n)` (propose candidates) and may override
    `_update(results)` (learn from the results told since the last `ask`),
    `_config()` (constructor hyperparameters) and `_extra_state()` /
    `_load_extra_state()` (their own state).

    Results are buffered: `tell` only records, and the strategy learns from
    the buffered results at the start of the next `ask`. So the driver can
    tell a whole generation before the next one is bred, and a state saved
    between `tell`s and `ask` resumes exactly.

    Args:
        space: The `kgan_nas.SearchSpace` to search.
        objectives: `kgan_nas.core.objectives.Objective`s or their names, e.g.
            `("fid",)` or `("fid", "params")`. The first one decides
            `best()`; all of them define `pareto_front()`. Defaults to
            `("fid",)`.
        seed: Integer seed of the strategy's `numpy.random.Generator`, its
            only source of randomness. The same seed and the same results
            give the same genomes. Defaults to 0.

    Raises:
        TypeError: if `space` is not a `SearchSpace`.
        ValueError: for unknown, duplicate or no objectives, or a seed that
            is not a non-negative integer.
    """

    # Whether `ask` tops up with random samples of the space when the strategy's
    # own proposals run dry; a strategy confined to part of the space says False.
    fills_with_samples = True

    def __init__(self, space, *, objectives=("fid",), seed=0):
        if not isinstance(space, SearchSpace):
            raise TypeError(
                "space must be a kgan_nas.SearchSpace, got "
                f"{type(space).__name__}. Build one with "
                "kgan_nas.SearchSpace(image_shape=...)."
            )
        self.space = space
        self.objectives = check_objective_names(objectives)
        if not validate.is_integer(seed) or seed < 0:
            raise ValueError(
                f"seed must be a non-negative integer, got {seed!r}. Pass e.g. "
                "seed=0; the same seed reproduces the same genomes."
            )
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._asked = {}  # key -> Genome, in ask order.
        self._results = []  # (Genome, Fitness) in tell order.
        self._told = {}  # key -> index into _results.
        self._pending = []  # indices into _results not yet learnt from.
        self._queued = []  # Genomes to propose first (`start_from`), in order.
        self.generation = 0

    # ------------------------------------------------------------------
    # Ask / tell
    # ------------------------------------------------------------------

    def start_from(self, genomes):
        """Queues genomes for the next `ask`s to propose before the strategy's own.

        A search starts its first generation from known designs this way
        (`kgan_nas.core.zoo`): they are evaluated and told like any asked
        genome, so every strategy learns from them (a genetic search breeds
        from them, a particle swarm is drawn to them when they lead). When
        more are queued than an `ask` wants, the rest come first in the next.

        Args:
            genomes: `Genome`s; one that is not valid in the space is
                repaired, one asked before (or repeated) is dropped.

        Raises:
            TypeError: for an item that is not a `Genome`.
        """
        genomes = list(genomes)
        for genome in genomes:
            if not isinstance(genome, Genome):
                raise TypeError(f"start_from() needs Genomes, got {type(genome).__name__}.")
        self._queued.extend(genomes)

    def ask(self, n):
        """Proposes `n` new genomes to evaluate.

        First learns from every result told since the previous `ask`. Every
        returned genome is valid in the space and has a `key()` never
        returned before by this strategy. When the strategy's own proposals
        keep repeating earlier genomes, `ask` falls back to random samples
        from the space (unless the strategy's `fills_with_samples` is False);
        in a space so small that even those are all taken, it returns fewer
        than `n` genomes (possibly none: the space is exhausted).

        Args:
            n: Number of genomes wanted, a positive integer.

        Returns:
            A list of at most `n` distinct `Genome`s.

        Raises:
            ValueError: if `n` is not a positive integer.
            kgan_nas.core.space.InvalidGenomeError: if the space cannot sample
                a valid genome at all (e.g. `max_params` too small).
        """
        if not validate.is_integer(n) or n < 1:
            raise ValueError(f"ask(n) needs a positive integer n, got {n!r}.")
        n = int(n)
        if self._pending:
            self._update([self._results[i] for i in self._pending])
            self._pending = []
        chosen = {}
        while self._queued and len(chosen) < n:
            self._accept([self._queued.pop(0)], chosen, 1)
        for _ in range(_PROPOSAL_ROUNDS):
            missing = n - len(chosen)
            if missing == 0:
                break
            self._accept(self._ask(missing), chosen, missing)
        for _ in range(_SAMPLES_PER_MISSING * (n - len(chosen)) * self.fills_with_samples):
            if len(chosen) == n:
                break
            try:
                self._accept([self.space.sample(self._rng)], chosen, 1)
            except InvalidGenomeError:
                break
        genomes = list(chosen.values())
        self._asked.update(chosen)
        if genomes:
            self.generation += 1
        return genomes

    def exhausted(self):
        """What the search says when `ask` returns no genome: why it stops."""
        return "The strategy has no new genomes to try; stopping."

    def parent(self, genome):
        """The key of an evaluated genome whose trained weights `genome` should start from.

        Strategies that breed children (`GeneticSearch(inherit_weights=True)`)
        name a parent; the search then initialises the child's networks from
        the parent's saved models wherever layers match. The default is None:
        every genome trains from scratch.

        Args:
            genome: A genome returned by the latest `ask`.

        Returns:
            A genome key, or None.
        """
        return None

    def _accept(self, candidates, chosen, limit):
        """Adds up to `limit` valid candidates never asked before to `chosen`."""
        added = 0
        for genome in candidates:
            if added == limit:
                break
            if self.space.problems(genome):
                try:
                    genome = self.space.repair(genome)
                except InvalidGenomeError:
                    continue
            key = genome.key()
            if key in self._asked or key in chosen:
                continue
            chosen[key] = genome
            added += 1

    def tell(self, genome, fitness):
        """Records the evaluated fitness of a genome this strategy asked for.

        The strategy learns from it at the next `ask`.

        Args:
            genome: A `Genome` returned by `ask`.
            fitness: Its `kgan_nas.core.fitness.Fitness` (a failed evaluation is
                a `Fitness` with a non-"ok" status, never an exception).

        Raises:
            TypeError: if `genome` is not a `Genome` or `fitness` not a
                `Fitness`.
            ValueError: if `genome` was never asked by this strategy, or was
                already told.
        """
        if not isinstance(genome, Genome):
            raise TypeError(f"tell() needs a Genome, got {type(genome).__name__}.")
        if not isinstance(fitness, Fitness):
            raise TypeError(
                f"tell() needs a kgan_nas.core.fitness.Fitness, got "
                f"{type(fitness).__name__}; use Fitness.from_dict(...) for a dict "
                "or Fitness.failed(status, reason) for a failed evaluation."
            )
        key = genome.key()
        if key not in self._asked:
            raise ValueError(
                f"Genome {key} was not asked by this strategy; only tell results "
                "of genomes returned by ask()."
            )
        if key in self._told:
            raise ValueError(f"Genome {key} was already told; tell each asked genome once.")
        self._told[key] = len(self._results)
        self._pending.append(len(self._results))
        self._results.append((genome, fitness))

    # ------------------------------------------------------------------
    # Results
    # ------------------------------------------------------------------

    def results(self):
        """All told results.

        Returns:
            A list of `(Genome, Fitness)` in tell order, failures included.
        """
        return list(self._results)

    def untold(self):
        """Genomes asked but not yet told (e.g. in flight when a run stopped).

        Returns:
            A list of `Genome`s in ask order.
        """
        return [g for key, g in self._asked.items() if key not in self._told]

    def best(self):
        """The successful result minimising the first objective.

        Ties go to the earliest told result. In a multi-fidelity search a
        result of a higher rung beats every result of a lower one
        (`Fitness.rank_key`).

        Returns:
            `(Genome, Fitness)`, or None when no told result is ok.
        """
        name = self.objectives[0]
        ok = [result for result in self._results if result[1].ok]
        if not ok:
            return None
        return min(ok, key=lambda result: result[1].rank_key(name))

    def pareto_front(self):
        """Successful results that no other successful result dominates.

        Returns:
            A list of `(Genome, Fitness)` over all `objectives`, sorted by the
            first objective (ties in tell order); failed results never
            appear. Empty when no result is ok.
        """
        ok = [result for result in self._results if result[1].ok]
        by_first = sorted(ok, key=lambda r: r[1].objective(self.objectives[0]))
        return pareto.front_of(by_first, lambda r: r[1].objectives(self.objectives))

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    def get_config(self):
        """The constructor arguments except `space`.

        Returns:
            A dict of JSON types, e.g. `{"objectives": ["fid"], "seed": 0}`
            plus the subclass's hyperparameters.
        """
        return {"objectives": list(self.objectives), "seed": self.seed, **self._config()}

    def state_dict(self):
        """Everything needed to continue this search exactly, as JSON types.

        A strategy built with the same space and hyperparameters that loads
        this dict returns the same future `ask` results as this one, given
        the same `tell`s.

        Returns:
            A dict of JSON types (`json.dumps` works on it). The RNG state
            holds Python integers wider than 64 bits, which Python's `json`
            round-trips exactly.
        """
        keys = list(self._asked)
        position = {key: i for i, key in enumerate(keys)}
        return {
            "strategy": type(self).__name__,
            "format": STATE_FORMAT_VERSION,
            "space": self.space.to_dict(),
            "config": self.get_config(),
            "generation": self.generation,
            "rng": self._rng.bit_generator.state,
            "asked": [self._asked[key].to_dict() for key in keys],
            # Each result refers to its genome by position in "asked".
            "results": [
                [position[genome.key()], fitness.to_dict()] for genome, fitness in self._results
            ],
            "pending": list(self._pending),
            "queued": [genome.to_dict() for genome in self._queued],
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state):
        """Restores a `state_dict()` so the search continues where it was.

        Args:
            state: A dict from `state_dict()` (possibly through JSON).

        Raises:
            ValueError: if the state is from another strategy class or
                format version, another search space or other
                hyperparameters (build the strategy with the same arguments
                as the saved one), or is malformed.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict from state_dict(), got {type(state).__name__}.")
        name = type(self).__name__
        if state.get("strategy") != name:
            raise ValueError(
                f"This state was saved by strategy {state.get('strategy')!r}, not "
                f"{name!r}; load it into a {state.get('strategy')} instead."
            )
        if state.get("format") != STATE_FORMAT_VERSION:
            raise ValueError(
                f"Strategy state format {state.get('format')!r} is not supported "
                f"(this kgan_nas reads format {STATE_FORMAT_VERSION}); use the "
                "kgan_nas version that wrote it."
            )
        if state.get("space") != self.space.to_dict():
            raise ValueError(
                "The saved state was searching a different SearchSpace; build the "
                "strategy with SearchSpace.from_dict(state['space'])."
            )
        current = self.get_config()
        # A state saved before an option existed: as the runs of then had it
        # (a dict), or (names) continuing with the current setting.
        added = self._options_added_later()
        then = dict(added) if isinstance(added, dict) else {n: current[n] for n in added}
        saved = {**then, **dict(state.get("config", {}))}
        saved.pop("seed", None)  # The RNG state below supersedes the seed.
        current.pop("seed")
        if saved != current:
            differing = sorted(
                k for k in set(saved) | set(current) if saved.get(k) != current.get(k)
            )
            raise ValueError(
                f"The saved state used other hyperparameters ({differing}: saved "
                f"{ {k: saved.get(k) for k in differing} }, now "
                f"{ {k: current.get(k) for k in differing} }); build the strategy "
                "with the saved ones (state['config'])."
            )
        try:
            asked = [Genome.from_dict(config) for config in state["asked"]]
            keys = [genome.key() for genome in asked]
            results = [
                (asked[index], Fitness.from_dict(fitness)) for index, fitness in state["results"]
            ]
            pending = [int(i) for i in state["pending"]]
            if any(not 0 <= i < len(results) for i in pending):
                raise ValueError("pending refers to a result that does not exist")
            rng = np.random.default_rng()
            rng.bit_generator.state = state["rng"]
            generation = int(state["generation"])
            # States saved before `start_from` existed queue nothing.
            queued = [Genome.from_dict(config) for config in state.get("queued", [])]
            # Last, so a malformed state leaves this strategy unchanged.
            self._load_extra_state(state["extra"], results)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"Malformed strategy state ({type(exc).__name__}: {exc}).") from None
        self.seed = int(state["config"].get("seed", self.seed))
        self._rng = rng
        self._asked = dict(zip(keys, asked))
        self._results = results
        self._told = {genome.key(): i for i, (genome, _) in enumerate(results)}
        self._pending = pending
        self._queued = queued
        self.generation = generation

    # ------------------------------------------------------------------
    # Subclass hooks
    # ------------------------------------------------------------------

    @abc.abstractmethod
    def _ask(self, n):
        """Proposes `n` candidate genomes using `self._rng` only.

        Duplicates of earlier genomes are fine: the base class drops them and
        asks again (a bounded number of times).
        """

    def _update(self, results):
        """Learns from `(Genome, Fitness)` results told since the last ask."""

    def _options_added_later(self):
        """Hyperparameters newer than state format 1: states without them still load.

        Returns:
            Their names (a state without one continues with the current
            setting), or a dict of each one's value in runs saved before it
            existed (a strategy built otherwise refuses such a state).
        """
        return ()

    def _config(self):
        """Constructor hyperparameters beyond `objectives` and `seed`."""
        return {}

    def _extra_state(self):
        """The subclass's own state, as JSON types."""
        return {}

    def _load_extra_state(self, extra, results):
        """Restores `_extra_state()`; `results` are the restored results."""

    # ------------------------------------------------------------------
    # Helpers for subclasses
    # ------------------------------------------------------------------

    def _rank(self, results):
        """Orders results best first for selection.

        Single objective: by its value (ties keep their order). Several
        objectives: NSGA-II order, by Pareto front and then by decreasing
        crowding distance within the front. Failed results come last. In a
        multi-fidelity search, results of a higher rung come before those
        of a lower one (`Fitness.rank_key`).

        Args:
            results: A list of `(Genome, Fitness)`.

        Returns:
            The same results, reordered.
        """
        ok = [r for r in results if r[1].ok]
        failed = [r for r in results if not r[1].ok]
        if len(self.objectives) == 1:
            name = self.objectives[0]
            return sorted(ok, key=lambda r: r[1].rank_key(name)) + failed
        ordered = []
        for rung in sorted({fitness.rung for _, fitness in ok}, reverse=True):
            ordered += self._nsga_order([r for r in ok if r[1].rung == rung])
        return ordered + failed

    def _nsga_order(self, ok):
        """Successful results by Pareto front, then by decreasing crowding distance."""
        points = [fitness.objectives(self.objectives) for _, fitness in ok]
        ordered = []
        for front in pareto.non_dominated_sort(points):
            distance = pareto.crowding_distance(points, front)
            by_crowding = sorted(range(len(front)), key=lambda i: -distance[i])
            ordered += [ok[front[i]] for i in by_crowding]
        return ordered

    def __repr__(self):
        config = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({config})"
