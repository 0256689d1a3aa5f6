"""`SearchResult`: what a search found, read back from its run directory.

It reads the history through `kgan_nas.results.records`, the one definition
of "ranked", "best" and "Pareto front" over history records.

Keras is imported only to load models (`best_generator`, ...), so reading a
run's table costs no TensorFlow start-up.
"""

import dataclasses
import os

import numpy as np

from kgan_nas.core import zoo as zoo_lib
from kgan_nas.core.fidelity import correlation_lines
from kgan_nas.core.fidelity import rung_correlations
from kgan_nas.core.fitness import Fitness
from kgan_nas.core.genome import Genome
from kgan_nas.core.objectives import get_objective
from kgan_nas.core.objectives import parse_metric
from kgan_nas.results import final_summary
from kgan_nas.results import supernet_check as check_lib
from kgan_nas.results import training_yield as yield_lib
from kgan_nas.results.records import best_record
from kgan_nas.results.records import flatten_record
from kgan_nas.results.records import pareto_records
from kgan_nas.results.records import ranked_records
from kgan_nas.results.records import record_total_steps
from kgan_nas.store import run_dir as run_lib


@dataclasses.dataclass
class SearchResult:
    """What a search found, read from its run directory.

    Args:
        directory: The run directory.

    Raises:
        kgan_nas.store.run_dir.RunDirectoryError: if `directory` holds no run.
    """

    directory: str

    def __post_init__(self):
        self._run = run_lib.RunDir(self.directory)
        if not self._run.exists:
            import os

            problem = (
                "does not exist"
                if not os.path.exists(self.directory)
                else "is not a kgan_nas run directory (no config.json)"
            )
            raise run_lib.RunDirectoryError(
                f"{self.directory!r} {problem}. Pass the directory a search wrote to "
                "(its `directory` / --directory)."
            )
        self.config = self._run.config()
        self.history = self._run.history()
        # Which generator the last `best_generator()` call returned, in words (None:
        # not called yet; `best_generator_source` then says which it would return).
        self._generator_source = None

    @property
    def objectives(self):
        """The objective names, the first one deciding "best"."""
        return tuple(self.config["objectives"])

    @property
    def metric(self):
        """The search metric, e.g. `"fid_domain"`."""
        return self.config["metric"]

    def ranked(self):
        """Successful history records, best first."""
        return ranked_records(self.history)

    @property
    def best_record(self):
        return best_record(self.history)

    @property
    def best_genome(self):
        record = self.best_record
        return Genome.from_dict(record["genome"]) if record else None

    @property
    def best_fitness(self):
        record = self.best_record
        return Fitness.from_dict(record["fitness"]) if record else None

    def best_genomes(self, num_genomes=1):
        """The `num_genomes` best genomes, best first (like KerasTuner's
        `get_best_hyperparameters`)."""
        return [Genome.from_dict(r["genome"]) for r in self.ranked()[:num_genomes]]

    @property
    def space(self):
        from kgan_nas.core.space import SearchSpace

        return SearchSpace.from_dict(self.config["space"])

    def _require_best(self):
        if self.best_record is not None:
            return
        if not self.history:
            raise ValueError(
                f"No candidate of the search in {self.directory!r} has been evaluated yet, "
                "so there is no model; run (or resume) the search first."
            )
        raise ValueError(
            "No candidate of this search succeeded, so there is no best model; the "
            "summary() (kgan-nas report) lists why each one failed."
        )

    def final_summary(self):
        """The final stage's summary (`final/summary.json`), or None if it has not finished.

        Returns:
            A dict: `protocol` (steps, seeds, EMA decay, samples, reference
            split), `genomes` (per genome: `key`, `search_rank`, `fid_mean`,
            `fid_std`, `fids`, ...) and `chosen` (key, seed, job folder).
        """
        return final_summary.read_summary(self._run)

    @property
    def best_generator_source(self):
        """Which generator `best_generator()` returned last, in words; before any call,
        the one it returns by default (None for a run without a successful candidate)."""
        if self._generator_source is None:
            try:
                self._require_best()
            except ValueError:
                return None
            self._generator_source = self._best_generator_choice(final=True)[1]
        return self._generator_source

    def _best_generator_choice(self, final):
        """`(path parts of the generator's .keras file, sentence)` for `best_generator`."""
        chosen = (self.final_summary() or {}).get("chosen") if final else None
        path = (final_summary.FINAL_DIR, final_summary.GENERATOR)
        if chosen and os.path.isfile(self._run.file(*path)):
            protocol = self.final_summary()["protocol"]
            return path, (
                f"final stage: genome {chosen['key']} seed {chosen['seed_index']}, "
                f"{protocol['steps']} steps, EMA {protocol['ema_decay']}, "
                f"{protocol['reference']} FID {chosen['fid']:.4f}"
            )
        record = self.best_record
        total = record_total_steps(self.history, record)
        own = record["fitness"].get("steps")
        inherited = f", {total:,} in all with inherited training" if total != own else ""
        return ("best", "generator.keras"), (
            f"search: candidate {record['key']} "
            f"({own} steps{inherited}, selected on the eval split)"
        )

    def best_generator(self, final=True):
        """The best generator as a `keras.Model` (loaded with `safe_mode=True`).

        Sets `best_generator_source` to a sentence saying which one it is.

        Args:
            final: Return the final stage's chosen generator (its moving
                average weights, scored on held-out data) when the run has
                one (default); False returns the search's own best
                candidate (selected on the short search budget).

        Returns:
            A `keras.Model`.

        Raises:
            ValueError: if no candidate of the search succeeded.
        """
        self._require_best()
        path, self._generator_source = self._best_generator_choice(final)
        return self._run.load_model(*path)

    def best_discriminator(self, final=True):
        """The discriminator trained beside `best_generator(final)`, as a `keras.Model`.

        Args:
            final: The final stage's chosen run's discriminator when the run has
                one (default), so that it pairs with `best_generator()`; False
                returns the search's best candidate's.

        Returns:
            A `keras.Model`.

        Raises:
            ValueError: if no candidate of the search succeeded.
        """
        self._require_best()
        chosen = (self.final_summary() or {}).get("chosen") if final else None
        if chosen:
            path = (final_summary.FINAL_DIR, chosen["job"], "discriminator.keras")
            if os.path.isfile(self._run.file(*path)):
                return self._run.load_model(*path)
        return self._run.load_model("best", "discriminator.keras")

    def get_best_models(self, num_models=1):
        """The generators of the `num_models` best candidates, best first.

        Like KerasTuner's `get_best_models`: trained models, loaded from the
        run directory with `safe_mode=True`.
        """
        return [self.generator(r["key"]) for r in self.ranked()[:num_models]]

    def generator(self, key):
        """The generator of candidate `key` (a `keras.Model`)."""
        return self._run.load_model("candidates", key, "generator.keras")

    def discriminator(self, key):
        """The discriminator of candidate `key` (a `keras.Model`)."""
        return self._run.load_model("candidates", key, "discriminator.keras")

    @property
    def num_classes(self):
        """Classes of a class-conditional search, or None for an unconditional one."""
        return self.config["space"].get("num_classes")

    def sample(self, n=16, seed=0, labels=None, generator=None):
        """`n` images from `best_generator()` (the final stage's when there is one), in [-1, 1].

        Args:
            n: Number of images.
            seed: Seed of the latents.
            labels: Conditional searches only: the class of each image (`n`
                integers) or one class for all. Defaults to None: the classes
                in turn, `0, 1, ..., num_classes - 1, 0, ...`.

        Returns:
            A float32 `np.ndarray` `(n, H, W, C)`.

        Raises:
            ValueError: for `n` below 1, for `labels` in an unconditional search, or labels
                that are not integers, of another length than `n`, or out of
                range (the message gives the valid class ids).

        `generator` (another candidate's, from `generator(key)`) replaces
        the best one; the latents are the same.
        """
        from kgan_nas import validate
        from kgan_nas.core.class_labels import check_labels

        n = validate.check_integer_at_least(n, "n", 1)  # 0 would crash inside predict
        if labels is not None and self.num_classes is None:
            raise ValueError(
                "labels= needs a class-conditional search (conditional=True); this run "
                "is unconditional."
            )
        if self.num_classes is not None:
            labels = np.arange(n) % self.num_classes if labels is None else labels
            labels = check_labels(labels, self.num_classes, n)
        generator = generator or self.best_generator()
        latent_dim = generator.inputs[0].shape[-1]
        latent = np.random.default_rng(seed).normal(size=(n, latent_dim)).astype("float32")
        import keras

        inputs = latent if labels is None else [latent, labels]
        return keras.ops.convert_to_numpy(generator.predict(inputs, verbose=0))

    def pareto_front(self):
        """History records that no other record beats on every objective."""
        return pareto_records(
            self.history, lambda r: Fitness.from_dict(r["fitness"]).objectives(self.objectives)
        )

    def to_records(self):
        """The history as flat dicts (`fitness.fid`, `genome.training.loss`, ...)."""
        return [flatten_record(record) for record in self.history]

    def to_dataframe(self):
        """The history as a `pandas.DataFrame`, one row per evaluated candidate.

        Raises:
            ImportError: if pandas is not installed (`to_records()` needs none).
        """
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "to_dataframe() needs pandas: pip install pandas (or use "
                "result.to_records(), a list of flat dicts)."
            ) from None
        return pandas.DataFrame(self.to_records())

    @property
    def protocol(self):
        """The run's protocol card (`kgan_nas.store.protocol`): data, splits, samples, extractor,
        seeds, step budgets, backend and versions; None where the run did not record it."""
        from kgan_nas.store.protocol import read_protocol_card

        return read_protocol_card(self._run)

    def fidelity_check(self):
        """How well each rung of a multi-fidelity search predicted the next.

        Returns:
            `kgan_nas.core.fidelity.rung_correlations` of the history: per pair
            of consecutive rungs, the Spearman rank correlation over the
            candidates that reached both, and a warning when it is below
            0.3 or undefined. Empty for a search without rungs.
        """
        fidelity = self.config.get("fidelity")
        if not fidelity:
            return []
        return rung_correlations(self.history, fidelity["rungs"])

    def supernet_check(self):
        """A gradient-based search's weight-sharing check (`kgan_nas.results.supernet_check`):
        how its supernet's path scores rank the derived genomes against training them
        alone; None for other runs."""
        path = self._run.file("supernet.json")
        supernet = run_lib.read_json(path) if os.path.exists(path) else None
        return check_lib.supernet_check(supernet, self.history)

    def baselines(self):
        path = self._run.file("baselines.json")
        if not os.path.exists(path):
            return {}
        return run_lib.read_json(path)

    def training_yield(self):
        """How many candidates trained (`kgan_nas.results.training_yield`), or None."""
        return yield_lib.training_yield(self.history, self.ranked(), self.baselines(), self.metric)

    def summary(self, num_trials=10):
        """A readable table of the best candidates (like KerasTuner's results_summary)."""
        objective, extractor = parse_metric(self.metric)
        lines = [f"Results in {self.directory}", _objective_line(self.metric, self.objectives)]
        baselines = self.baselines()
        if baselines:
            lines.append(
                f"Reference: real-vs-real FID {baselines['fid_train_vs_eval']:.3f}, "
                f"uniform-noise FID {baselines['fid_uniform_noise']:.3f} "
                f"({baselines['extractor']} features)"
            )
        failed = sum(r["status"] != "ok" for r in self.history)
        found = self.training_yield()
        if found is not None:
            lines.append(yield_lib.yield_line(found))
        candidates = len({(r["generation"], r["key"]) for r in self.history})
        if candidates == len(self.history):
            lines.append(f"Evaluated {len(self.history)} candidates, {failed} failed")
        else:
            lines.append(
                f"Evaluated {candidates} candidates in {len(self.history)} evaluations over "
                f"rungs of {self.config['fidelity']['rungs']} steps, {failed} failed"
            )
        if self.num_classes is not None and self.best_record is not None:
            lines.append(_class_line(self.best_record["fitness"], self.num_classes))
        lines += _summary_table(self.ranked()[:num_trials], extractor)
        lines += correlation_lines(self.fidelity_check())
        lines += [line for line in [check_lib.check_line(self.supernet_check())] if line]
        reasons = {}
        for record in self.history:
            if record["status"] != "ok":
                reasons.setdefault(record["status"], record["reason"])
        for status, reason in reasons.items():
            lines.append(f"{status}: e.g. {reason[:160]}")
        final = self.final_summary()
        if final:
            lines += final_summary.final_table(final, f"fid_{extractor}")
        return "\n".join(lines)


def _objective_line(metric, objectives):
    """The summary's objective line, each objective with its own better direction
    (a search may minimise FID and maximise the Inception score at once)."""
    directions = {"min": "lower is better", "max": "higher is better"}
    names = tuple(objectives) or (parse_metric(metric)[0].name,)
    kinds = {get_objective(name).direction for name in names}
    if len(kinds) == 1:
        listed = f" ({', '.join(names)})" if len(names) > 1 else ""
        return f"Objective: {metric}{listed}, {directions[kinds.pop()]}"
    parts = "; ".join(f"{name} {directions[get_objective(name).direction]}" for name in names)
    return f"Objective: {metric} ({parts})"


def _class_line(fitness, num_classes):
    """The best conditional candidate's class accuracy against chance, and per-class FID."""
    accuracy = fitness.get("class_accuracy")
    accuracy = "not measured" if accuracy is None else f"{accuracy:.3f}"
    per_class = Fitness.from_dict(fitness).fid_per_class
    per_class = "not measured" if per_class is None else f"{per_class:.3f}"
    return (
        f"Conditional, {num_classes} classes: best class accuracy {accuracy} (chance "
        f"{1 / num_classes:.3f}), its mean per-class FID {per_class}"
    )


# The terminal table fits 100 columns: a row of numbers per candidate, then its
# generation, Inception Score and genome on indented lines.
TABLE_WIDTH = 100


def _summary_table(records, suffix):
    import textwrap

    header = (
        f"{'rank':>4} {'key':16} {'steps':>6} {'fid_' + suffix:>10} {'fid 95% CI':>17} "
        f"{'kid ± se':>16} {'memorised':>10} {'G params':>8}"
    )
    lines = [header, "-" * len(header)]
    for rank, record in enumerate(records, 1):
        genome = Genome.from_dict(record["genome"])
        fitness = Fitness.from_dict(record["fitness"])
        interval = f"{_number(fitness.fid_low, '.3f')}–{_number(fitness.fid_high, '.3f')}"
        kid = f"{fitness.kid:.4g} ± {_number(fitness.kid_se, '.2g')}"
        lines.append(
            f"{rank:>4} {record['key']:16} {_number(record.get('total_steps'), 'd'):>6} "
            f"{fitness.fid:>10.4f} {interval:>17} {kid:>16} "
            f"{_memorisation_cell(fitness):>10} {fitness.params:>8}"
        )
        label = zoo_lib.design_label(record)
        details = (
            f"generation {record['generation']}, {label + ', ' if label else ''}"
            f"is_{suffix} {fitness.inception_score:.3f}: {genome.describe()}"
        )
        lines += textwrap.wrap(
            details, TABLE_WIDTH, initial_indent=" " * 5, subsequent_indent=" " * 7
        )
    if records:
        notes = (
            "steps: training steps behind the scored weights, inherited and earlier rungs "
            "included (total_steps).",
            "memorised: share of samples closer to a training image than the closest 5 % "
            "of held-out images (about 5 % is healthy; '!' marks 20 % or more, i.e. "
            "copies), and the median-distance ratio to held-out images (about 1 is healthy).",
        )
        for note in notes:
            lines += textwrap.wrap(note, TABLE_WIDTH, subsequent_indent="  ")
    return lines


def _number(value, spec):
    """`value` formatted with `spec`, or a dash when it was not measured (older runs)."""
    return "–" if value is None else format(value, spec)


def _memorisation_cell(fitness):
    """`12% r0.97`: the share of too-close samples and the distance ratio, `!` if memorising."""
    if fitness.memorisation_share is None:
        return "–"
    flag = "!" if fitness.memorising else ""
    return f"{flag}{fitness.memorisation_share:.0%} r{_number(fitness.memorisation_ratio, '.2f')}"
