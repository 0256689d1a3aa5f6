"""The search loop: ask the strategy, evaluate, record, tell, checkpoint.

`SearchLoop` is the only place that drives generations. It knows nothing of
data, extractors or processes: it gets genomes from the strategy, hands them
to an executor, appends each result to the run directory's history as it
arrives (promoting a new best), tells the strategy in ask order, and
checkpoints. Each result is recorded once, by `History.add`
(`kgan_nas.engine.history`), which also stops the search on a streak of
identical systemic failures (`RepeatedFailureError`). With a multi-fidelity setting
(`kgan_nas.core.fidelity.SuccessiveHalving`) a generation runs rung after rung:
every candidate at rung 0, the promoted ones continued from their own
models at each further rung, each rung's result a history record.
"""

import dataclasses
import math
import os
import statistics

from kgan_nas.core import fidelity as fidelity_lib
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.genome import Genome
from kgan_nas.core.objectives import meets_targets
from kgan_nas.engine.history import History
from kgan_nas.store import run_dir as run_lib
from kgan_nas.store.atomic import atomic_copy
from kgan_nas.store.atomic import atomic_write_json


class SearchLoop:
    """The generation loop: ask, evaluate, record, tell, checkpoint.

    It resumes from the run directory: the checkpoint restores the strategy
    and the generation in flight, and every candidate already in the history
    is reused, not evaluated again.

    Args:
        run_dir: The open (locked) `kgan_nas.store.run_dir.RunDir`.
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
        # The one record path: every result goes through `self.records.add`.
        self.records = History(run_dir, config, callbacks, max_consecutive_failures)
        self.fidelity = self.records.fidelity
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
        while self.generation < generations and not self._met_targets():
            if self.pending is None:
                genomes = self.strategy.ask(self.config.population)
                if not genomes:
                    self.say(self.strategy.exhausted())
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

    def _met_targets(self):
        """Whether a recorded candidate meets the search's `stop_at` targets (said once).

        Checked between generations, so a stopped search ends with every
        generation whole, and a resumed one stops again before asking for more.
        """
        targets = getattr(self.config, "stop_at", None)
        if not targets:
            return False
        met = next((r for r in self.records.records if meets_targets(r, targets)), None)
        if met is None:
            return False
        self.say(
            f"Stopping after generation {self.generation}: candidate {met['key']} meets "
            f"the target {targets} (stop_at)."
        )
        self.run_dir.save_checkpoint(
            dict(self.run_dir.checkpoint() or {}, stopped_at_target=met["key"])
        )
        return True

    @property
    def best_value(self):
        """The first objective of the best record so far (inf before any succeeded)."""
        best = self.records.best
        return best["objective"] if best else math.inf

    def _correlations(self):
        """Rung-to-rung Spearman correlations so far ([] without rungs)."""
        if self.fidelity is None:
            return []
        return fidelity_lib.rung_correlations(self.records.records, self.fidelity.rungs)

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
                    "evaluated": sum(r["generation"] == generation for r in self.records.records),
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
            record = self.records.recorded(generation, genome.key(), rung)
            if record is not None:
                results[genome.key()] = Fitness.from_dict(record["fitness"])
            elif rung:
                recovered = self._unrecorded_continuation(generation, genome.key(), rung)
                if recovered is not None:
                    results[genome.key()] = dataclasses.replace(recovered, rung=rung)
                    parent = self.pending_parents.get(genome.key())
                    self.records.add(generation, genome, results[genome.key()], parent, rung)
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
            self.records.add(generation, genome, fitness, parents[index], rung)
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
        lower = self.records.recorded(generation, key, rung - 1)
        folder = self.run_dir.candidate_dir(key)
        current = run_lib.publish_id(folder)
        if lower is None or current is None or lower.get("publish_id") in (None, current):
            return None
        stored = run_lib.published_fitness(folder)
        return None if stored is None else Fitness.from_dict(stored)

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
            "evaluated": len(self.records.done),
        }

    def _save_generation_samples(self, generation, genomes, results):
        ok = [g for g in genomes if results[g.key()].ok]
        if not ok:
            return
        best = min(ok, key=lambda g: results[g.key()].rank_key(self.objectives[0]))
        source = os.path.join(self.run_dir.candidate_dir(best.key()), "samples.png")
        if os.path.exists(source):
            atomic_copy(source, self.run_dir.file("samples", f"generation_{generation:03d}.png"))
