"""One final-stage job: a genome trained from scratch with a long budget and EMA, then scored.

The Keras side of `kgan_nas.final.stage`. It reuses the search's pieces:
`decode.build_gan` (with `ema_decay`), `data.train_input`,
`training.train_for_budget` and `evaluate.score_images`; only the budget,
the seed, the moving average and the reference features differ.
"""

import math
import os
import time

import numpy as np

from kgan_nas.evaluation.evaluator import candidate_seed
from kgan_nas.evaluation.evaluator import score_images
from kgan_nas.store.atomic import atomic_save_model
from kgan_nas.store.atomic import atomic_write_json


def train_final_job(genome, space, images, job, reference, save_dir, *, start_weights=None):
    """Trains `genome` for the final budget with EMA, scores it, writes its files.

    Args:
        genome: A `Genome` valid in `space`.
        space: The `SearchSpace`.
        images: Training images, float32 NHWC in [-1, 1] (the train split).
        job: Dict with `key`, `seed_index`, `seed` (the run's seed), `steps`,
            `batch_size`, `ema_decay`, `num_samples`, `jit_compile` and
            optionally `continued_from_steps` (the steps `start_weights`
            already had: the job trains the rest of `steps`).
        reference: From `make_reference`.
        save_dir: Folder to write `generator.keras` (the EMA weights),
            `discriminator.keras`, `samples.png` and `record.json` into.
        start_weights: A candidate folder (`generator.keras`,
            `discriminator.keras`) to start from instead of fresh weights
            (`FinalConfig.continue_training`), or None.

    Returns:
        The record (also written as `record.json`), see `train_and_score`.
    """
    gan, seed = _build_job_gan(genome, space, job, start_weights)
    extra = {"genome": genome.to_dict()}
    return train_and_score(gan, images, dict(job, training_seed=seed), reference, save_dir, extra)


# The networks a candidate folder holds, both needed to continue one.
NETWORKS = ("generator", "discriminator")


def _build_job_gan(genome, space, job, start_weights=None):
    """`(gan, seed)`: the job's compiled GAN, built from its own seed (weights and noise).

    With `start_weights` (a candidate folder), its networks then take the
    saved weights, and the weight average restarts from them. A candidate
    whose genome keeps a weight average saved its averaged generator, so the
    job continues from the averaged generator and the live discriminator.
    """
    import keras

    from kgan_nas.evaluation import decode

    seed = candidate_seed(f"{job['seed']}-final-{job['seed_index']}", job["key"])
    keras.utils.set_random_seed(seed)
    gan = decode.build_gan(
        genome, space, seed=seed, jit_compile=job["jit_compile"], ema_decay=job["ema_decay"]
    )
    if start_weights is not None:
        from kgan_nas.evaluation.inherit import inherit_from_saved

        saved = [os.path.join(start_weights, f"{name}.keras") for name in NETWORKS]
        if not all(os.path.isfile(path) for path in saved):
            raise ValueError(
                f"continue_training found no saved networks of {job['key']} in "
                f"{start_weights}; finalize without continue_training."
            )
        inherit_from_saved(gan, start_weights)
        if gan.ema is not None:
            gan.ema.reset(gan.generator)
    return gan, seed


def training_steps(job):
    """The steps a job trains: its total `steps` less those it continues from (at least 1)."""
    return max(1, job["steps"] - job.get("continued_from_steps", 0))


def train_and_score(gan, images, job, reference, save_dir, extra=None):
    """Trains a compiled GAN kept with EMA for `job["steps"]`, scores and saves it.

    The final stage and the hand-designed baselines (`benchmarks/baselines.py`)
    both train and score here, so their numbers are comparable.

    Args:
        gan: A compiled `kgan_nas.GAN` built with `ema_decay`.
        images: Training images, float32 NHWC in [-1, 1].
        job: Dict with at least `steps`, `batch_size`, `num_samples` and
            `training_seed` (the data order and the scored latents); it is
            copied into the record.
        reference: From `make_reference`.
        save_dir: Folder for `generator.keras` (EMA weights),
            `discriminator.keras`, `samples.png` and `record.json`.
        extra: Further JSON-able fields for the record.

    Returns:
        The record: `job`, `extra`, `status`, `reason`, `steps_trained`,
        `curve`, `seconds`, the scores of the EMA generator (`fid`, `kid`,
        `inception_score`, ...) and `fid_live`, the FID of the last weights
        on the same latents (None where not finite).
    """
    from kgan_nas import data
    from kgan_nas import training

    started = time.perf_counter()
    report = training.train_for_budget(
        gan,
        data.train_input(images, job["batch_size"], seed=job["training_seed"]),
        steps=training_steps(job),
    )
    record = _finish(
        score_and_save(gan, report, job, reference, save_dir, extra),
        save_dir,
        time.perf_counter() - started,
    )
    import keras

    keras.backend.clear_session()
    return record


def train_final_jobs_packed(
    genome, space, images, jobs, reference, save_dirs, *, say, publish, start_weights=None
):
    """Trains one genome's final jobs (its seeds) as one packed program, then scores each.

    The packed counterpart of calling `train_final_job` once per job: each
    job builds its GAN from its own seed exactly as there, the GANs train
    together (`kgan_nas.training.packed`), and each is scored and saved by
    the same code. A record's `seconds` is its share of the pack's training
    time plus its own scoring; `packed` says how many jobs shared the program.

    Args:
        genome: A `Genome` valid in `space`.
        space: The `SearchSpace`.
        images: Training images, float32 NHWC in [-1, 1].
        jobs: The job dicts (see `train_final_job`).
        reference: From `make_reference`.
        save_dirs: One folder per job.
        say: Prints progress (the pack starting, or why it fell back).
        publish: Called with `(index, record)` as soon as job `index` is
            scored and saved, so a kill later loses no finished job.
        start_weights: As for `train_final_job` (the same for every seed).

    Returns:
        The records, in the order of `jobs`; None, having published nothing,
        when the jobs cannot be packed (on TensorFlow; different steps or
        batch sizes) or when the pack failed as a whole (an exception while
        building or stepping it, e.g. out of device memory): the caller then
        trains them one by one.
    """
    import keras

    from kgan_nas import data
    from kgan_nas.results.final_summary import job_name
    from kgan_nas.training import packed

    shapes = {(training_steps(j), j["batch_size"]) for j in jobs}
    if keras.backend.backend() != "jax" or len(shapes) != 1:
        return None
    steps = training_steps(jobs[0])
    started = time.perf_counter()
    gans, seeds = zip(*(_build_job_gan(genome, space, job, start_weights) for job in jobs))
    if packed.pack_problem(gans):
        keras.backend.clear_session()
        return None
    names = ", ".join(job_name(job["key"], job["seed_index"]) for job in jobs)
    say(f"  training {names} together ({steps:,} steps, packed)...")
    inputs = [data.train_input(images, jobs[0]["batch_size"], seed=seed) for seed in seeds]
    reports = packed.train_packed(gans, inputs, steps=steps)
    if all(report.status == "error" for report in reports):
        # The pack failed as a whole; alone, each job may not.
        say(f"  packed training failed ({reports[0].reason}); training them one by one")
        keras.backend.clear_session()
        return None
    share = (time.perf_counter() - started) / len(jobs)
    records = []
    for index, (gan, job, seed, report) in enumerate(zip(gans, jobs, seeds, reports)):
        scoring = time.perf_counter()
        job = dict(job, training_seed=seed, packed=len(jobs))
        extra = {"genome": genome.to_dict()}
        record = score_and_save(gan, report, job, reference, save_dirs[index], extra)
        records.append(_finish(record, save_dirs[index], share + time.perf_counter() - scoring))
        publish(index, records[-1])
    keras.backend.clear_session()
    return records


def _finish(record, save_dir, seconds):
    """The record with its `seconds`, written as the job's `record.json`."""
    record["seconds"] = round(seconds, 3)
    atomic_write_json(os.path.join(save_dir, "record.json"), record)
    return record


def score_and_save(gan, report, job, reference, save_dir, extra=None):
    """The record of a trained GAN: its EMA generator scored, its files saved (not the record).

    Args:
        gan: The trained GAN (built with `ema_decay`).
        report: Its `TrainReport`.
        job: The job dict, with `num_samples` and `training_seed`.
        reference: From `make_reference`.
        save_dir: Folder for `generator.keras`, `discriminator.keras` and
            `samples.png` (written when training succeeded).
        extra: Further JSON-able fields for the record.

    Returns:
        The record without `seconds`, JSON-safe (see `train_and_score`).
    """
    from kgan_nas import data
    from kgan_nas import training

    seed = job["training_seed"]
    record = dict(job, **(extra or {}), status=report.status, reason=report.reason)
    record.update(steps_trained=report.steps, curve=report.curve)
    os.makedirs(save_dir, exist_ok=True)
    if report.status == "ok":
        averaged = gan.ema_generator()
        samples = training.generate_images(
            averaged, job["num_samples"], latent_dim=gan.latent_dim, seed=seed
        )
        record.update(score_on_reference(samples, reference, seed))
        live = score_on_reference(gan.generate(job["num_samples"], seed=seed), reference, seed)
        record["fid_live"] = live["fid"]
        if not math.isfinite(record["fid"]):
            record.update(status="nan", reason="generated images gave a non-finite FID")
        data.save_image_grid(samples[:64], os.path.join(save_dir, "samples.png"))
        atomic_save_model(averaged, os.path.join(save_dir, "generator.keras"))
        atomic_save_model(gan.discriminator, os.path.join(save_dir, "discriminator.keras"))
    return _json_safe(record)


def make_reference(extractor, images, num_samples, *, seed=0):
    """What final scores are measured against: features of `images` and scoring settings.

    Args:
        extractor: A `kgan_nas.features.FeatureExtractor`.
        images: The reference images (the held-out split), NHWC in [-1, 1].
        num_samples: Generated images scored per run (sizes KID's subsets).
        seed: Seed of KID's subset sampling.

    Returns:
        A dict: `extractor`, `features`, `statistics`, `evaluation` (an
        `EvaluationConfig` with KID and IS settings) and `suffix` (e.g.
        `"domain"`).
    """
    from kgan_nas import metrics
    from kgan_nas.evaluation.evaluator import EvaluationConfig

    features = extractor.features(images)
    statistics = metrics.FeatureStatistics()
    statistics.update(features)
    evaluation = EvaluationConfig(
        num_samples=num_samples,
        kid_subset_size=min(500, num_samples, len(features)),
        seed=seed,
    )
    return {
        "extractor": extractor,
        "features": features,
        "statistics": statistics,
        "evaluation": evaluation,
        "suffix": extractor.metric_suffix,
    }


def score_on_reference(images, reference, seed):
    """Scores generated `images` against a `make_reference` reference (its extractor,
    features and settings): the dict of `kgan_nas.evaluation.evaluator.score_images`,
    precision and recall included."""
    return score_images(
        images,
        reference["extractor"],
        reference["features"],
        reference["evaluation"],
        seed=seed,
        real_statistics=reference["statistics"],
        precision_recall=True,
    )


def _json_safe(record):
    """Non-finite numbers as None (JSON has no NaN), numpy numbers as Python's."""
    safe = {}
    for key, value in record.items():
        if isinstance(value, (float, np.floating)):
            value = float(value) if math.isfinite(value) else None
        safe[key] = value
    return safe
