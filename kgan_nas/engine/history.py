"""The one record path: a candidate's result becomes a history record, once.

`History.add` is the only writer of `history.jsonl` during a search: it
builds the record from the genome and its `Fitness`, appends it to the run
directory (durably), promotes a new best to `best/`, tells the hooks, and
counts streaks of systemic failures (`RepeatedFailureError`).
"""

import math
import os
import time

from kgan_nas.core import fidelity as fidelity_lib
from kgan_nas.core.space import SearchSpace
from kgan_nas.core.zoo import architecture_key
from kgan_nas.core.zoo import design_architectures
from kgan_nas.engine.warm_start import zoo_keys
from kgan_nas.errors import RepeatedFailureError
from kgan_nas.results.records import best_record
from kgan_nas.results.records import rank_key
from kgan_nas.results.records import record_total_steps
from kgan_nas.store import run_dir as run_lib

# Failures that point at the set-up rather than at one candidate's genome. A
# timeout is not one: it is the user's budget pruning slow architectures.
_SYSTEMIC_STATUSES = ("error", "crashed")


class History:
    """A search's history records in memory and on disk, and the best so far.

    Args:
        run_dir: The open (locked) `kgan_nas.store.run_dir.RunDir`.
        config: The `SearchConfig`: its objectives (the first ranks),
            fidelity (a record's rung steps) and zoo (a known design's
            record names it, `"zoo"`).
        callbacks: `kgan_nas.hooks.SearchCallback`s told of each record.
        max_consecutive_failures: See `kgan_nas.search`.
    """

    def __init__(self, run_dir, config, callbacks, max_consecutive_failures=None):
        self.run_dir = run_dir
        self.objectives = config.objectives
        self.fidelity = fidelity_lib.resolve_fidelity(getattr(config, "fidelity", None))
        self.callbacks = callbacks
        self.failures = _FailureStreak(max_consecutive_failures, run_dir.path)
        self.records = run_dir.history()
        self.done = {_done_key(r): r for r in self.records}
        self.best = best_record(self.records)
        zoo = getattr(config, "zoo", ())
        space = SearchSpace.from_dict(config.space)
        self.zoo = zoo_keys(space, zoo) if zoo else {}
        self.designs = design_architectures(space)

    def recorded(self, generation, key, rung=None):
        """The record of `key` in `generation` at `rung` (0 without rungs), or None."""
        return self.done.get((generation, key, rung or 0))

    def add(self, generation, genome, fitness, parent=None, rung=None):
        """Records one candidate's result: history line, best, hooks, failure streak.

        Args:
            generation: The generation, from 1.
            genome: The evaluated `Genome`.
            fitness: Its `Fitness`.
            parent: The key of the candidate whose weights it started from.
            rung: Its rung in a multi-fidelity search, else None.

        Returns:
            The record (a dict, as written to `history.jsonl`).

        Raises:
            RepeatedFailureError: when this record ends a streak of
                `max_consecutive_failures` identical systemic failures.
        """
        record = self._record(generation, genome, fitness, parent, rung)
        self.run_dir.append_history(record)
        self.records.append(record)
        self.done[_done_key(record)] = record
        if record["objective"] is not None and (
            self.best is None or rank_key(record) < rank_key(self.best)
        ):
            self.best = record
            self.run_dir.promote_best(record["key"], record["genome"], record)
        for callback in self.callbacks:
            callback.on_candidate_end(record)
        self.failures.add(record)
        return record

    def _record(self, generation, genome, fitness, parent, rung):
        objective = fitness.objective(self.objectives[0])
        record = {
            "generation": generation,
            "key": genome.key(),
            "parent": parent,
            "genome": genome.to_dict(),
            "status": fitness.status,
            "reason": fitness.reason,
            "objective": objective if math.isfinite(objective) else None,
            "fitness": fitness.to_dict(),
            "time": time.time(),
        }
        if genome.key() in self.zoo:
            # Where it came from (the report's lineage tree marks the zoo's) and which design.
            record.update(origin="zoo", zoo=self.zoo[genome.key()])
        elif architecture_key(genome) in self.designs:
            # A known design with other training genes (tuned, or bred by the search).
            record["design"] = self.designs[architecture_key(genome)]
        if rung is not None:
            record.update(rung=rung, rung_steps=self.fidelity.rungs[rung])
            if fitness.ok:  # what the next rung continues from
                record["publish_id"] = run_lib.publish_id(self.run_dir.candidate_dir(genome.key()))
        record.update({k: run_lib.finite_or_none(v) for k, v in fitness.metrics().items()})
        record["total_steps"] = record_total_steps(self.records, record)
        return record


def _done_key(record):
    """A history record's place: generation, genome key and rung (0 without rungs)."""
    return record["generation"], record["key"], record.get("rung") or 0


class _FailureStreak:
    """Counts candidates in a row that failed the same systemic way."""

    def __init__(self, limit, directory):
        self.limit = limit
        self.directory = directory
        self.kind = None
        self.first = None
        self.count = 0

    def add(self, record):
        kind = _failure_kind(record)
        if kind is None or kind != self.kind:
            self.kind, self.first, self.count = kind, record, 0
        if kind is None or self.limit is None:
            return
        self.count += 1
        if self.count >= self.limit:
            raise RepeatedFailureError(
                f"{self.count} candidates in a row failed the same way ({kind}), so the "
                f"search stopped: this points at the set-up, not at the genomes. The first "
                f"one ({self.first['key']}) failed with: {self.first['reason'][:1000]}\n"
                f"To debug, run one candidate in this process with its full traceback "
                f"(kgan_nas.search(..., population=2, generations=1, "
                f"run=kgan_nas.RunSettings(executor='inprocess')); --executor inprocess on "
                f"the command line), and read the workers' output in "
                f"{os.path.join(self.directory, 'logs')}. Run the same search again after "
                "the fix to resume; RunSettings(max_consecutive_failures=N) "
                "(--max-consecutive-failures N) allows longer streaks."
            )


def _failure_kind(record):
    """`"error: TypeError"`, `"crashed"`, or None for other outcomes."""
    status = record["status"]
    if status not in _SYSTEMIC_STATUSES:
        return None
    if status == "error":
        return f"error: {(record.get('reason') or '').split(':', 1)[0].strip() or '?'}"
    return status
