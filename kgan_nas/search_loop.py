"""The search loop: ask the strategy, evaluate, record, tell, checkpoint.

`SearchLoop` is the only place that drives generations. It knows nothing of
data, extractors or processes: it gets genomes from the strategy, hands them
to an executor, appends each result to the run directory's history as it
arrives (promoting a new best), tells the strategy in ask order, and
checkpoints. A streak of identical systemic failures stops it
(`RepeatedFailureError`). With a multi-fidelity setting
(`kgan_nas.fidelity.SuccessiveHalving`) a generation runs rung after rung:
every candidate at rung 0, the promoted ones continued from their own
models at each further rung, each rung's result a history record.
"""

import dataclasses
import math
import os
import statistics
import time

from kgan_nas import fidelity as fidelity_lib
from kgan_nas import run as run_lib
from kgan_nas.atomic import atomic_copy
from kgan_nas.atomic import atomic_write_json
from kgan_nas.fitness import Fitness
from kgan_nas.genome import Genome
from kgan_nas.results import best_record
from kgan_nas.results import rank_key
from kgan_nas.results import record_total_steps

# Failures that point at the set-up rather than at one candidate's genome. A
# timeout is not one: it is the user's budget pruning slow architectures.
_SYSTEMIC_STATUSES = ("error", "crashed")


class RepeatedFailureError(RuntimeError):
    """Candidate after candidate failed the same way: a set-up problem, not bad genomes."""


class SearchLoop:
    """The generation loop: ask, evaluate, record, tell, checkpoint.

    It resumes from the run directory: the checkpoint restores the strategy
    and the generation in flight, and every candidate already in the history
    is reused, not evaluated again.

    Args:
        run_dir: The open (locked) `kgan_nas.run.RunDir`.
        strategy: The `kgan_nas.strategies.Strategy`.
        config: The `kgan_nas.config.SearchConfig`.
        callbacks: `kgan_nas.hooks.SearchCallback`s.
        max_consecutive_failures: See `kgan_nas.search`.
        say: Prints a message (`print`, or a no-op when quiet).
    """

    def __init__(
        self, run_dir, strategy, config, callbacks, max_consecutive_failures=None, say=print
    ):
        self.run_dir = run_dir
        self.strategy = strategy
        self.config = config
        self.objectives = config.objectives
        self.callbacks = callbacks
        self.say = say
        self.failures = _FailureStreak(max_consecutive_failures, run_dir.path)
        self.fidelity = fidelity_lib.resolve_fidelity(getattr(config, "fidelity", None))
        self.history = run_dir.history()
        self.done = {_done_key(r): r for r in self.history}
        self.best = best_record(self.history)
        checkpoint = run_dir.checkpoint()
        self.generation = 0
        self.pending = None
        # Genome key -> parent key (weight inheritance) for the pending generation.
        self.pending_parents = {}
        if checkpoint is not None:
            strategy.load_state_dict(checkpoint["strategy"])
            self.generation = checkpoint["generation"]
            self.pending = checkpoint.get("pending")
            self.pending_parents = dict(checkpoint.get("pending_parents") or {})

    def run(self, executor, generations):
        while self.generation < generations:
            if self.pending is None:
                genomes = self.strategy.ask(self.config.population)
                if not genomes:
                    self.say("The strategy has no new genomes to try; stopping.")
                    break
                self.pending = [genome.to_dict() for genome in genomes]
                self.pending_parents = {
                    genome.key(): parent
                    for genome in genomes
                    if (parent := self.strategy.parent(genome)) is not None
                }
                self._checkpoint()
            genomes = [Genome.from_dict(g) for g in self.pending]
            self._run_generation(executor, genomes)
            self.generation += 1
            self.pending = None
            self.pending_parents = {}
            self._checkpoint()
        for line in fidelity_lib.correlation_lines(self._correlations()):
            self.say(line)

    @property
    def best_value(self):
        """The first objective of the best record so far (inf before any succeeded)."""
        return self.best["objective"] if self.best else math.inf

    def _correlations(self):
        """Rung-to-rung Spearman correlations so far ([] without rungs)."""
        if self.fidelity is None:
            return []
        return fidelity_lib.rung_correlations(self.history, self.fidelity.rungs)

    def _checkpoint(self):
        self.run_dir.save_checkpoint(
            {
                "generation": self.generation,
                "pending": self.pending,
                "pending_parents": self.pending_parents,
                "strategy": self.strategy.state_dict(),
            }
        )

    def _run_generation(self, executor, genomes):
        # Generations are numbered from 1 everywhere a person sees them: history
        # records, hooks, sample files and reports. `self.generation` (and the
        # checkpoint's) counts the generations already finished.
        generation = self.generation + 1
        planned = self.fidelity.counts(len(genomes)) if self.fidelity else [len(genomes)]
        for callback in self.callbacks:
            callback.on_generation_begin(
                generation,
                {
                    "genomes": [g.key() for g in genomes],
                    "evaluations": sum(planned),
                    "evaluated": sum(r["generation"] == generation for r in self.history),
                    "best_so_far": self.best_value,
                },
            )
        results = {}  # key -> its highest successful rung's fitness, else its failure
        candidates, rung_results = genomes, {}
        for rung in range(len(planned)) if self.fidelity else (None,):
            if rung:
                promoted = set(
                    fidelity_lib.promote(
                        [g.key() for g in candidates],
                        rung_results,
                        self.fidelity.eta,
                        self.objectives[0],
                    )
                )
                candidates = [g for g in candidates if g.key() in promoted]
                if not candidates:
                    break
            rung_results = self._run_rung(executor, generation, candidates, rung)
            for key, fitness in rung_results.items():
                if fitness.ok or key not in results:
                    results[key] = fitness
        # Tell in ask order, so a resumed run continues exactly like an
        # uninterrupted one whatever order the candidates finished in.
        for genome in genomes:
            self.strategy.tell(genome, results[genome.key()])
        logs = self._generation_logs(generation, genomes, results)
        self._save_generation_samples(generation, genomes, results)
        if self.fidelity is not None:
            atomic_write_json(
                self.run_dir.file(fidelity_lib.FIDELITY_FILE), {"rungs": self._correlations()}
            )
        for callback in self.callbacks:
            callback.on_generation_end(generation, logs)

    def _run_rung(self, executor, generation, genomes, rung):
        """Evaluates `genomes` at `rung` (None: no rungs), reusing recorded results.

        Returns:
            Genome key -> `Fitness`, for every genome.
        """
        results = {}
        for genome in genomes:
            record = self.done.get((generation, genome.key(), rung or 0))
            if record is not None:
                results[genome.key()] = Fitness.from_dict(record["fitness"])
            elif rung:
                recovered = self._unrecorded_continuation(generation, genome.key(), rung)
                if recovered is not None:
                    results[genome.key()] = dataclasses.replace(recovered, rung=rung)
                    parent = self.pending_parents.get(genome.key())
                    self._add_record(
                        self._record(generation, genome, results[genome.key()], parent, rung)
                    )
        todo = [g for g in genomes if g.key() not in results]
        parents = [self.pending_parents.get(genome.key()) for genome in todo]
        options = {}
        if rung is not None:
            # Rungs after the first continue each candidate from its own models.
            sources = [g.key() for g in todo] if rung else parents
            options = {"parents": sources, "steps": [self.fidelity.increment(rung)] * len(todo)}
        for index, fitness in executor.run(todo, **{"parents": parents, **options}):
            genome = todo[index]
            if rung is not None:
                fitness = dataclasses.replace(fitness, rung=rung)
            results[genome.key()] = fitness
            self._add_record(self._record(generation, genome, fitness, parents[index], rung))
        return results

    def _unrecorded_continuation(self, generation, key, rung):
        """The `Fitness` of a continuation to `rung` published but never recorded, else None.

        A kill between a continuation's publish and its history line leaves
        the candidate's folder holding models trained further than its last
        record says; continuing them again would train those steps twice.
        Each rung's record holds the id of the publish that left its models
        (`publish_id`); a folder with another id, and the result published
        with it, is this rung's continuation (the loop records each result
        right after its publish, so at most one can be missing).
        """
        lower = self.done.get((generation, key, rung - 1))
        folder = self.run_dir.candidate_dir(key)
        current = run_lib.publish_id(folder)
        if lower is None or current is None or lower.get("publish_id") in (None, current):
            return None
        stored = run_lib.published_fitness(folder)
        return None if stored is None else Fitness.from_dict(stored)

    def _add_record(self, record):
        """Appends `record` to the history, promotes a new best, tells the hooks."""
        self.run_dir.append_history(record)
        self.history.append(record)
        self.done[_done_key(record)] = record
        if record["objective"] is not None and (
            self.best is None or rank_key(record) < rank_key(self.best)
        ):
            self.best = record
            self.run_dir.promote_best(record["key"], record["genome"], record)
        for callback in self.callbacks:
            callback.on_candidate_end(record)
        self.failures.add(record)

    def _record(self, generation, genome, fitness, parent=None, rung=None):
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
        if rung is not None:
            record.update(rung=rung, rung_steps=self.fidelity.rungs[rung])
            if fitness.ok:  # what the next rung continues from
                record["publish_id"] = run_lib.publish_id(self.run_dir.candidate_dir(genome.key()))
        record.update({k: run_lib.finite_or_none(v) for k, v in fitness.metrics().items()})
        record["total_steps"] = record_total_steps(self.history, record)
        return record

    def _generation_logs(self, generation, genomes, results):
        name = self.objectives[0]
        values = [results[g.key()].objective(name) for g in genomes]
        finite = [v for v in values if math.isfinite(v)]
        best = min(results.values(), key=lambda fitness: fitness.rank_key(name))
        return {
            "generation": generation,
            "best": best.objective(name),
            "median": statistics.median(finite) if finite else math.inf,
            "best_so_far": self.best_value,
            "failed": sum(not results[g.key()].ok for g in genomes),
            "evaluated": len(self.done),
        }

    def _save_generation_samples(self, generation, genomes, results):
        ok = [g for g in genomes if results[g.key()].ok]
        if not ok:
            return
        best = min(ok, key=lambda g: results[g.key()].rank_key(self.objectives[0]))
        source = os.path.join(self.run_dir.candidate_dir(best.key()), "samples.png")
        if os.path.exists(source):
            atomic_copy(source, self.run_dir.file("samples", f"generation_{generation:03d}.png"))


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
                f"(kgan_nas.search(..., executor='inprocess', population=2, "
                f"generations=1)), and read the workers' output in "
                f"{os.path.join(self.directory, 'logs')}. Run the same search again after "
                "the fix to resume; pass max_consecutive_failures=N to allow longer streaks."
            )


def _failure_kind(record):
    """`"error: TypeError"`, `"crashed"`, or None for other outcomes."""
    status = record["status"]
    if status not in _SYSTEMIC_STATUSES:
        return None
    if status == "error":
        return f"error: {(record.get('reason') or '').split(':', 1)[0].strip() or '?'}"
    return status
