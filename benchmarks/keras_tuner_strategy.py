"""Known designs tuned by KerasTuner: the baseline a Keras user would pick, as a strategy.

What a Keras user does instead of an architecture search is take a known
design and tune its training settings with KerasTuner. `KerasTunerStrategy`
puts KerasTuner's own `RandomSearchOracle` behind kgan_nas's ask/tell
interface: the oracle chooses each trial's values (which zoo design, and its
training genes from the space's choices: optimizer, the two learning rates,
the betas, the loss and any recipe genes), and kgan_nas trains, scores and
finalizes every trial exactly as it does the search's candidates. So the two
differ only in who proposes the genomes, and the baseline is finalized by the
same path (`benchmarks/principal_study.py`).

A benchmark tool, not part of the package: it imports `keras_tuner` (the
`bench` extra), and kgan_nas's strategies stay pure Python.

Resume: the oracle is deterministic given its seed and the values tried so
far, so the strategy's state stores each trial's values and score, and a
restored strategy replays them into a fresh oracle (the search then asks the
very trials an uninterrupted run would have asked).
"""

from kgan_nas.core import recipe
from kgan_nas.core import zoo
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.strategies import Strategy

OBJECTIVE = "fid"


def hyperparameters(space, designs):
    """KerasTuner `HyperParameters`: the design, then every training gene of the space.

    Args:
        space: The `SearchSpace` whose training-gene choices are tuned.
        designs: The zoo design names to choose from.

    Returns:
        A `keras_tuner.HyperParameters` with one `Choice` per gene.
    """
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.Choice("design", list(designs))
    hp.Choice("optimizer", list(space.optimizers))
    hp.Choice("g_learning_rate", [float(v) for v in space.learning_rates])
    hp.Choice("d_learning_rate", [float(v) for v in space.learning_rates])
    hp.Choice("beta_1", [float(v) for v in space.beta_1])
    hp.Choice("beta_2", [float(v) for v in space.beta_2])
    hp.Choice("loss", list(space.losses))
    for name, (field, _) in recipe.SPACE_FIELDS.items():
        hp.Choice(field, list(getattr(space, name)))
    return hp


class KerasTunerStrategy(Strategy):
    """The zoo's designs with training genes chosen by KerasTuner's `RandomSearchOracle`.

    Args:
        space: The `SearchSpace`; the designs are the zoo's, fitted to it.
        objectives: Only `("fid",)`: the oracle minimises one score.
        seed: Seeds the oracle (KerasTuner needs a positive seed: `seed + 1`).

    Raises:
        ValueError: if no zoo design fits the space, or for other objectives.
    """

    def __init__(self, space, *, objectives=("fid",), seed=0):
        super().__init__(space, objectives=objectives, seed=seed)
        if tuple(getattr(o, "name", o) for o in self.objectives) != ("fid",):
            raise ValueError("KerasTunerStrategy minimises one objective: objectives=('fid',).")
        self.designs = zoo.genomes(space)
        if not self.designs:
            raise ValueError("no zoo design fits this space, so there is nothing to tune.")
        self._trials = []  # [genome key, values, score or None, ended], in ask order.
        self._by_key = {}
        self._oracle = self._new_oracle()

    def _new_oracle(self):
        import keras_tuner

        class InMemoryOracle(keras_tuner.oracles.RandomSearchOracle):
            """KerasTuner's random search, keeping its trials in memory only: the
            strategy's own state is what resumes (by replay), so nothing is written."""

            def save(self):
                pass

            def _save_trial(self, trial):
                pass

        oracle = InMemoryOracle(
            objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
            max_trials=None,
            hyperparameters=hyperparameters(self.space, self.designs),
            allow_new_entries=False,
            tune_new_entries=False,
            seed=self.seed + 1,
            # A trial that does not train is an answer, not a reason to stop tuning.
            max_consecutive_failed_trials=10**9,
        )
        oracle.verbose = 0
        return oracle

    def genome(self, values):
        """The genome of a trial's values: its design with those training genes.

        Repaired where the values do not go together (e.g. an R1 weight with
        `"wasserstein_gp"`, which has its own penalty), so its key is the one
        the search records.
        """
        design = self.designs[values["design"]]
        fields = {k: v for k, v in values.items() if k in TrainingGenes.__dataclass_fields__}
        genome = design.replace(training=TrainingGenes(**fields))
        return self.space.repair(genome) if self.space.problems(genome) else genome

    def _ask(self, n):
        proposals = []
        for _ in range(n):
            trial = self._oracle.create_trial(f"tuner_{len(self._trials)}")
            if trial.status != "RUNNING":
                break  # The oracle ran out of new values.
            genome = self.genome(trial.hyperparameters.values)
            if self._remember(genome, trial):
                proposals.append(genome)
        return proposals

    def _remember(self, genome, trial):
        """Records a trial; False (and the trial ended, unscored) when an earlier
        trial already stands for its genome (values that repair to one genome)."""
        entry = [genome.key(), dict(trial.hyperparameters.values), None, False, trial]
        self._trials.append(entry)
        if entry[0] in self._by_key:
            self._end(entry, None)
            return False
        self._by_key[entry[0]] = entry
        return True

    def _update(self, results):
        for genome, fitness in results:
            entry = self._by_key.get(genome.key())
            if entry is None or entry[3]:
                # A design queued as written (`start_from`, no trial), or a trial ended.
                continue
            score = fitness.fid if fitness.ok else None
            self._end(entry, score)

    def _end(self, entry, score):
        trial = entry[4]
        if score is None:
            trial.status = "FAILED"
        else:
            self._oracle.update_trial(trial.trial_id, {OBJECTIVE: score})
            trial.status = "COMPLETED"
        self._oracle.end_trial(trial)
        entry[2], entry[3] = score, True

    def _config(self):
        return {"designs": sorted(self.designs)}

    def _extra_state(self):
        return {"trials": [entry[:4] for entry in self._trials]}

    def _load_extra_state(self, extra, results):
        trials, by_key, oracle = [], {}, self._new_oracle()
        self._trials, self._by_key, self._oracle = trials, by_key, oracle
        for key, values, score, ended in extra.get("trials", []):
            trial = oracle.create_trial(f"tuner_{len(trials)}")
            if dict(trial.hyperparameters.values) != values:
                raise ValueError(
                    "the KerasTuner oracle did not replay the saved trials (another "
                    "keras_tuner version or space?); start the run again."
                )
            if self._remember(self.genome(values), trial) and ended:
                self._end(trials[-1], score)
