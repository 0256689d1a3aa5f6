"""Final training: the last stage of a search, and `kgan_nas.finalize` for a finished run.

A short search budget ranks genomes, but their order can change when they
are trained longer, and the search's scores are biased towards the winners
(they were selected on them). So the search ends by retraining its `top_k`
genomes (the one ranking, `results.ranked_records`; with
`distinct_lineages`, each weight lineage's best first: `finalists`) from scratch for
`steps` steps with `seeds` seeds each, keeping a moving average of the
generator's weights (`GAN(ema_decay=...)`), and scoring them on the
held-out split that no selection used, with `num_samples` generated images
(twice the search's by default: FID's bias falls with the sample count).

Each (genome, seed) job is trained in this process and published whole
under `final/<key>_seed<s>/` (`kgan_nas.final.jobs`); a genome's seeds train
together as one packed program where `FinalConfig.pack_seeds` asks (by
default on JAX with an accelerator), one after the other otherwise. A
resume after a kill keeps every published job and trains only the rest.
`final/summary.json` (mean ± std per genome, the chosen genome and seed) and
`final/generator.keras` (the chosen run's averaged generator) are written
last. Keras is imported only inside the functions that train or score.
"""

import dataclasses
import os

from kgan_nas import config as config_lib
from kgan_nas import validate
from kgan_nas.final import jobs as jobs_lib
from kgan_nas.final import probes as probes_lib
from kgan_nas.results import final_summary
from kgan_nas.results.final_summary import FINAL_DIR
from kgan_nas.results.final_summary import GENERATOR
from kgan_nas.results.final_summary import JOB_NAME
from kgan_nas.results.final_summary import SUMMARY
from kgan_nas.results.final_summary import final_table
from kgan_nas.results.final_summary import summarise
from kgan_nas.store import run_dir as run_lib
from kgan_nas.store.atomic import atomic_copy
from kgan_nas.store.atomic import atomic_write_json


@dataclasses.dataclass(frozen=True)
class FinalConfig:
    """The final stage's budget; stored as `SearchConfig.final`.

    Args:
        top_k: Genomes retrained, the search's best first.
        seeds: Training runs per genome (different seeds).
        steps: Training steps per run.
        ema_decay: Decay of the generator's weight average, in [0, 1).
        num_samples: Generated images scored per run; None takes twice the
            search's `num_samples`.
        distinct_lineages: Retrain at most one genome per weight lineage (a
            genome, the parent whose weights it inherited, that parent's
            parent, ...), the lineage's best; when the search has fewer
            lineages than `top_k`, the rest are the next best of any. The
            idea: a lineage shares its architecture and its training, so
            two of its members test little that one does not. Off by
            default: on the `mnist_5k` study it did not help (see
            `docs/final-training.md`). Runs without weight inheritance are
            unaffected.
        zoo_finalist: When the search started from known designs
            (`SearchOptions.zoo`) and none of them ranks among the `top_k`,
            the best of them takes the last place (with `top_k` of 2 or
            more). The held-out score then decides between what the search
            found and the best known design, so the answer is a known design
            unless a searched genome beats it there. On by default.
        probes: Genomes retrained once each beside the finalists, at evenly
            spaced places of the search's ranking, to measure how well the
            search's score predicts the final one (`kgan_nas.final.probes`;
            the summary's `prediction`). Never the answer. Default 0.
        pack_seeds: Train a genome's seeds together as one packed program
            (`kgan_nas.training.packed`): `"auto"` (the default) where it
            pays, on JAX with an accelerator (on a CPU, XLA runs the packed
            convolutions slower than one member's: docs/benchmarks.md);
            True wherever the backend allows it (JAX); False never. A packed
            seed follows the same trajectory as alone up to floating-point
            rounding, which, as any reordering of sums does in adversarial
            training, grows over a long run: results are the same in
            distribution, not bit for bit. Not part of the summary's
            protocol: changing it keeps every finished job.
        continue_training: Start each finalist from the weights its search
            candidate ended with (the candidate's saved generator and
            discriminator) instead of from scratch, and train the rest of
            `steps`: a genome trained N steps in the search (its inherited
            training included) trains `steps - N` more, so every job ends at
            `steps` in all (equal compute with training from scratch). The
            seeds then share their starting weights and differ in data order
            and noise. The optimizers and the weight average start afresh.
            Off by default.

    Raises:
        ValueError: naming a setting that is out of range.
    """

    top_k: int = 2
    seeds: int = 2
    steps: int = 2000
    ema_decay: float = 0.999
    num_samples: int = None
    distinct_lineages: bool = False
    zoo_finalist: bool = True
    probes: int = 0
    pack_seeds: bool | str = "auto"
    continue_training: bool = False

    def __post_init__(self):
        for name in ("top_k", "seeds", "steps"):
            validate.check_positive_int(getattr(self, name), name)
        for name in ("distinct_lineages", "zoo_finalist", "continue_training"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"final {name} must be True or False, got {getattr(self, name)!r}."
                )
        if not (isinstance(self.pack_seeds, bool) or self.pack_seeds == "auto"):
            raise ValueError(
                f"final pack_seeds must be True, False or 'auto', got {self.pack_seeds!r}."
            )
        validate.check_positive_int(self.num_samples or 1, "num_samples")
        validate.check_non_negative_int(self.probes, "probes")
        if not validate.is_number(self.ema_decay) or not 0 <= self.ema_decay < 1:
            raise ValueError(
                f"final ema_decay must be a number in [0, 1) (e.g. 0.999), got {self.ema_decay!r}."
            )

    def to_dict(self):
        return dataclasses.asdict(self)


def check_final_for_conditional(final, conditional, finalizing=False):
    """Refuses a final stage for a class-conditional search, which it cannot train yet.

    Args:
        final: The `FinalConfig`, or None.
        conditional: Whether the search is class-conditional.
        finalizing: True for `finalize` on a stored run, where leaving the final
            stage out is not the fix; False for a search about to start.

    Raises:
        ValueError: when `final` is a `FinalConfig` and `conditional` is True.
    """
    if final is not None and conditional:
        fix = (
            "this run is class-conditional, so there is nothing to finalize"
            if finalizing
            else "pass final=None (--no-final) for a conditional search"
        )
        raise ValueError(
            f"The final stage does not train class-conditional GANs yet; {fix}. The "
            "search's own best generator (result.best_generator(), kgan-nas sample) is "
            "conditional and usable."
        )


def resolve_final(final, preset_final, search_num_samples):
    """The `FinalConfig` a search runs with, or None for no final stage.

    Args:
        final: `"preset"` (the preset's settings), None or False (no final
            stage), a dict of `FinalConfig` fields put over the preset's (or
            over the defaults, for a preset without one), or a `FinalConfig`.
        preset_final: The preset's `"final"` dict, or None.
        search_num_samples: The search's samples per candidate, for the
            default `num_samples` (twice it).

    Returns:
        A `FinalConfig` with `num_samples` filled in, or None.

    Raises:
        ValueError: for an unknown key or value.
        TypeError: for another kind of `final`.
    """
    if final is None or final is False:
        return None
    if isinstance(final, str):
        if final != "preset":
            raise ValueError(
                f"final must be 'preset', None, a dict or a FinalConfig, got {final!r}."
            )
        if preset_final is None:
            return None
        final = dict(preset_final)
    if isinstance(final, dict):
        names = {field.name for field in dataclasses.fields(FinalConfig)}
        unknown = sorted(set(final) - names)
        if unknown:
            raise ValueError(
                f"Unknown final-stage settings {unknown}; the settings are {sorted(names)}."
            )
        final = FinalConfig(**{**(preset_final or {}), **final})
    if not isinstance(final, FinalConfig):
        raise TypeError(
            f"final must be 'preset', None, a dict or a kgan_nas.FinalConfig, got a "
            f"{type(final).__name__}."
        )
    if final.num_samples is None:
        final = dataclasses.replace(final, num_samples=2 * int(search_num_samples))
    return final


def proportionate(final, budget):
    """The preset's final stage, cut to cost at most what the search costs.

    A preset's final stage is sized for the preset's search. A search the
    user made smaller keeps a final stage of at most its own training steps
    (`top_k x seeds x steps <= generations x population x steps_per_candidate`):
    the steps per run shrink to fit, and where that leaves a run no longer
    than a candidate's training, there is no final stage. An explicit
    `final=` is never cut.

    Args:
        final: The preset's `FinalConfig`, or None.
        budget: The resolved budget (`config.resolve_budget`).

    Returns:
        `(FinalConfig or None, note)`, where `note` says what was cut (None
        when nothing was).
    """
    if final is None:
        return None, None
    search_steps = config_lib.total_search_steps(budget)
    runs = final.top_k * final.seeds
    if runs * final.steps <= search_steps:
        return final, None
    steps = search_steps // runs
    preset = f"the preset's {final.top_k} x {final.seeds} x {final.steps:,} steps"
    if steps <= budget["steps_per_candidate"]:
        return None, (
            f"{preset} would cost {runs * final.steps / search_steps:.0f}x this search; "
            "pass final={...} (or a larger search) for one"
        )
    return dataclasses.replace(final, steps=steps), f"cut from {preset} to this search's size"


def budget_line(final, reference, reference_images):
    """The line printed before the stage starts, e.g. `Final training: top 2 genomes x ...`."""
    line = (
        f"Final training: top {final.top_k} genomes"
        f"{' of distinct lineages' if final.distinct_lineages else ''} x {final.seeds} seeds x "
        f"{final.steps:,} "
        f"steps, EMA {final.ema_decay}, {final.num_samples} samples scored on "
        f"{reference_images} {'held-out' if reference == 'holdout' else 'eval'} images"
    )
    if final.continue_training:
        line += " in all, each continuing its search candidate's weights"
    if final.probes:
        line += f", and {final.probes} probes x 1 seed to test the search's ranking"
    if reference != "holdout":
        line += (
            " (WARNING: this run has no held-out split, so the scores use the eval split "
            "that selection used; search with holdout_fraction > 0 for unbiased ones)"
        )
    return line


def run_final_stage(run_dir, config, data, *, say=print):
    """Runs (or finishes) the final stage of the run in `run_dir` (locked by the caller).

    Args:
        run_dir: The open, locked `kgan_nas.store.run_dir.RunDir`.
        config: Its `SearchConfig`, whose `final` holds the `FinalConfig` dict.
        data: The run's `ImageData` (trains on `train`, scores on `holdout`,
            or on `eval` when there is none).
        say: Prints the budget line and progress.

    Returns:
        The summary dict written to `final/summary.json`, or None if the
        search has no successful candidate.
    """
    final = FinalConfig(**config.final)
    history = run_dir.history()
    chosen = finalists(history, final.top_k, final.distinct_lineages, final.zoo_finalist)
    keys = [record["key"] for record in chosen]
    genomes = {record["key"]: record["genome"] for record in chosen}
    ranks = {record["key"]: rank for rank, record in _distinct_ranked(history)}
    if not keys:
        say("Final training skipped: no candidate of the search succeeded.")
        return None
    reference_name = "holdout" if data.holdout is not None else "eval"
    reference = _reference(run_dir, config, data, reference_name, final)
    say(budget_line(final, reference_name, len(reference["features"])))
    # How the seeds trained (packed or not) changes no score, so it is not
    # part of what a summary was made under (`_recover` compares that).
    settings = {k: v for k, v in final.to_dict().items() if k != "pack_seeds"}
    protocol = dict(
        settings,
        reference=reference_name,
        reference_images=len(reference["features"]),
        batch_size=config.evaluation["batch_size"],
        extractor=reference["suffix"],
    )
    _recover(run_dir, protocol)
    records = []
    for key in keys:
        records += jobs_lib.genome_jobs(
            run_dir, config, final, data, key, genomes[key], reference, say
        )
    summary = summarise(records, keys, protocol, ranks=ranks)
    if final.probes:
        ranked = [record for _, record in _distinct_ranked(history)]
        probe_jobs = [
            jobs_lib.seed_job(
                run_dir, config, final, data, r["key"], r["genome"], 0, reference, say
            )
            for r in probes_lib.probe_records(ranked, keys, final.probes)
        ]
        summary.update(probes_lib.prediction(summary, probe_jobs, ranked))
        say(probes_lib.prediction_line(summary))
    _publish_chosen(run_dir, summary)
    atomic_write_json(run_dir.file(FINAL_DIR, SUMMARY), summary)
    for line in final_table(summary, f"fid_{reference['suffix']}"):
        say(line)
    return summary


def finalists(history, top_k, distinct_lineages, zoo_finalist=False):
    """The search records whose genomes the final stage retrains, best first.

    Args:
        history: The run's history records (`RunDir.history()`).
        top_k: How many genomes.
        distinct_lineages: Take each weight lineage's best first, then fill
            up with the next best of any lineage (`FinalConfig`).
        zoo_finalist: Give the last place to the best known design when
            none is among the picked and `top_k` is 2 or more
            (`FinalConfig`).

    Returns:
        Up to `top_k` records of distinct genomes, in the search's order.
    """
    ranked = [record for _, record in _distinct_ranked(history)]
    picked = _picked(history, ranked, top_k, distinct_lineages)
    zoo = [record for record in ranked if record.get("zoo")]
    if zoo_finalist and top_k >= 2 and zoo and not any(r.get("zoo") for r in picked):
        picked = picked[: top_k - 1] + zoo[:1]
    return sorted(picked, key=ranked.index)


def _picked(history, ranked, top_k, distinct_lineages):
    """The `top_k` best of `ranked`, or each lineage's best first (`finalists`)."""
    from kgan_nas.results.records import lineage

    if not distinct_lineages:
        return ranked[:top_k]
    picked, roots = [], set()
    for record in ranked:
        # The oldest record whose trained weights led to this one.
        root = lineage(history, record["key"], record["generation"])[0]
        if (root["key"], root["generation"]) not in roots and len(picked) < top_k:
            picked.append(record)
            roots.add((root["key"], root["generation"]))
    rest = [record for record in ranked if record not in picked]
    picked += rest[: top_k - len(picked)]
    return picked


def _distinct_ranked(history):
    """(search rank from 1, record) of the best record of each genome, best first."""
    from kgan_nas.results.records import ranked_records

    best = {}
    for record in ranked_records(history):
        best.setdefault(record["key"], record)
    return list(enumerate(best.values(), 1))


def _reference(run_dir, config, data, split, final):
    """The run's extractor and the reference split's features (`make_reference`)."""
    from kgan_nas import features as features_lib
    from kgan_nas.core.objectives import parse_metric
    from kgan_nas.final.job import make_reference

    _, extractor_name = parse_metric(config.metric)
    if extractor_name == "domain":
        # Trained on the train split only (engine/inputs.py), so the held-out images are new to it.
        extractor = features_lib.DomainExtractor.load(run_dir.file("extractor.keras"))
    else:
        extractor = features_lib.get_extractor(extractor_name)
    images = data.holdout if split == "holdout" else data.eval
    return make_reference(extractor, images, final.num_samples, seed=config.seed)


def _publish_chosen(run_dir, summary):
    """Copies the chosen run's averaged generator to `final/generator.keras`, atomically."""
    chosen = summary["chosen"]
    if chosen is None:
        return
    atomic_copy(
        run_dir.file(FINAL_DIR, chosen["job"], GENERATOR), run_dir.file(FINAL_DIR, GENERATOR)
    )


def _recover(run_dir, protocol):
    """Tidies `final/` before a stage: half-written jobs go, a cut folder swap is undone.

    The summary and chosen generator of a stage with other settings go too, so
    that an unfinished new stage never reads as finished.
    """
    folder = run_dir.file(FINAL_DIR)
    os.makedirs(folder, exist_ok=True)
    run_lib.recover_published(folder, JOB_NAME.fullmatch)
    old = final_summary.read_summary(run_dir)
    # A summary written before a setting existed ran as its default does: the
    # plain top k, no probes, and no zoo records for `zoo_finalist` to act on.
    before = {
        "distinct_lineages": False,
        "zoo_finalist": True,
        "probes": 0,
        "continue_training": False,
    }
    if old is not None and {**before, **old.get("protocol", {})} != protocol:
        os.unlink(run_dir.file(FINAL_DIR, SUMMARY))
        if os.path.exists(run_dir.file(FINAL_DIR, GENERATOR)):
            os.unlink(run_dir.file(FINAL_DIR, GENERATOR))


def finalize(
    directory,
    *,
    top_k=None,
    seeds=None,
    steps=None,
    ema_decay=None,
    num_samples=None,
    distinct_lineages=None,
    probes=None,
    pack_seeds=None,
    continue_training=None,
    verbose=1,
):
    """Runs, or finishes, the final stage on a run directory (e.g. a finished search).

    Settings left as None keep the run's stored final stage, or the
    `"default"` preset's when it has none. Finished (genome, seed) runs with
    the same settings are kept; the rest are trained. The data comes from
    the cache (`KGAN_NAS_CACHE`), where the search saved it, or is reloaded
    by name and checked against the run's fingerprint.

    Args:
        directory: A run directory written by `kgan_nas.search`.
        top_k: Genomes to retrain, the search's best first.
        seeds: Training runs per genome.
        steps: Training steps per run.
        ema_decay: Decay of the generator's weight average, in [0, 1).
        num_samples: Generated images scored per run.
        distinct_lineages: True takes at most one genome per weight
            lineage first (`FinalConfig`); False the top genomes of any.
        probes: Genomes retrained once each beside the finalists, to measure
            how well the search's score predicts the final one (`FinalConfig`).
        pack_seeds: True trains a genome's seeds as one packed program where
            the backend allows it (JAX); False one by one; `"auto"` where it
            pays (`FinalConfig`).
        continue_training: True starts each finalist from its search
            candidate's weights and trains the rest of `steps`; False from
            scratch (`FinalConfig`).
        verbose: 0 silent; 1 prints the budget, each run and the table.

    Returns:
        The `SearchResult`, whose `best_generator()` is now the finalized one.

    Raises:
        kgan_nas.store.run_dir.RunDirectoryError: for a directory without a run, or
            one in use by another process.
        ValueError: for invalid settings, or when the run's data can be
            found neither in the cache nor by name.
    """
    from kgan_nas.config import FINAL_PRESETS
    from kgan_nas.config import SearchConfig
    from kgan_nas.hooks.library_logs import quiet_libraries
    from kgan_nas.results.search_result import SearchResult

    # TensorFlow's start-up lines read like failures; a user's TF_CPP_MIN_LOG_LEVEL wins.
    quiet_libraries()
    validate.check_choice(verbose, "verbose", (0, 1, 2))
    SearchResult(directory)  # fails clearly when there is no run
    run_dir = run_lib.RunDir(directory)
    config = SearchConfig.from_dict(run_dir.config())
    given = dict(
        top_k=top_k,
        seeds=seeds,
        steps=steps,
        ema_decay=ema_decay,
        num_samples=num_samples,
        distinct_lineages=distinct_lineages,
        probes=probes,
        pack_seeds=pack_seeds,
        continue_training=continue_training,
    )
    settings = dict(config.final or FINAL_PRESETS["default"])
    settings.update({key: value for key, value in given.items() if value is not None})
    final = resolve_final(settings, None, config.evaluation["num_samples"])
    check_final_for_conditional(final, config.space.get("num_classes") is not None, True)
    config = dataclasses.replace(config, final=final.to_dict())
    _run_with_lock(run_dir, config, say=print if verbose else (lambda *args, **kwargs: None))
    return SearchResult(directory)


def run_stored_final_stage(directory, *, say=print):
    """Runs (or finishes) the final stage a run directory's configuration asks for.

    The one way a final stage runs: `kgan_nas.search` calls it once its
    generations are done, and `finalize` with the settings it was given. It
    locks the directory, reads the data the search saved for its workers
    (`run_data`), the very images its candidates trained on, and calls
    `run_final_stage`.

    Args:
        directory: A run directory whose `config.json` holds a final stage.
        say: Prints the budget line and progress.

    Returns:
        The summary dict (`run_final_stage`).
    """
    from kgan_nas.config import SearchConfig

    run_dir = run_lib.RunDir(directory)
    return _run_with_lock(run_dir, SearchConfig.from_dict(run_dir.config()), say=say)


def _run_with_lock(run_dir, config, *, say):
    """`run_final_stage` on the run's data, with the directory opened as `config` and locked."""
    data = run_data(config)
    run_dir.open(config.to_dict(), resumable_keys=config.RESUMABLE, added_later=config.ADDED_LATER)
    with run_dir:
        return run_final_stage(run_dir, config, data, say=say)


def run_data(config):
    """The `ImageData` a run searched: the cached copy the search saved, else reloaded by name.

    Args:
        config: The run's `SearchConfig`.

    Returns:
        The `ImageData` (train, eval and, when the run had one, holdout).

    Raises:
        ValueError: when the data is neither in the cache nor reloadable by
            name with the run's fingerprint (the message says what to do).
    """
    from kgan_nas import data as data_lib
    from kgan_nas.store.cache import cache_root

    path = os.path.join(cache_root(), "data", f"{config.data_fingerprint}.npz")
    if os.path.isfile(path):
        return data_lib.ImageData.load(path)
    if config.dataset in data_lib.KNOWN_DATASETS:
        data = data_lib.load_dataset(
            config.dataset,
            seed=config.seed,
            min_images=2 * config.evaluation["batch_size"],
            holdout_fraction=config.holdout_fraction,
        )
        if data.fingerprint() == config.data_fingerprint:
            return data
    raise ValueError(
        f"The data of this run ({config.dataset!r}, fingerprint {config.data_fingerprint}) is "
        f"neither in the cache ({path}) nor reloadable by name with the same content. Set "
        "KGAN_NAS_CACHE to the cache the search used, or call kgan_nas.search with the "
        "original data and directory (it resumes and runs the final stage)."
    )
