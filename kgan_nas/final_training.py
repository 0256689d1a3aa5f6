"""One final-stage job: a genome trained from scratch with a long budget and EMA, then scored.

The Keras side of `kgan_nas.final`. It reuses the search's pieces:
`decode.build_gan` (with `ema_decay`), `data.train_input`,
`training.train_for_budget` and `evaluate.score_images`; only the budget,
the seed, the moving average and the reference features differ.
"""

import math
import os
import time

import numpy as np

from kgan_nas.atomic import atomic_save_model
from kgan_nas.atomic import atomic_write_json
from kgan_nas.evaluate import candidate_seed
from kgan_nas.evaluate import score_images


def train_final_job(genome, space, images, job, reference, save_dir):
    """Trains `genome` for the final budget with EMA, scores it, writes its files.

    Args:
        genome: A `Genome` valid in `space`.
        space: The `SearchSpace`.
        images: Training images, float32 NHWC in [-1, 1] (the train split).
        job: Dict with `key`, `seed_index`, `seed` (the run's seed), `steps`,
            `batch_size`, `ema_decay`, `num_samples`, `jit_compile`.
        reference: Dict with `extractor` (a `FeatureExtractor`), `features`
            and `statistics` of the reference images, and `evaluation` (an
            `EvaluationConfig` for KID and IS settings).
        save_dir: Folder to write `generator.keras` (the EMA weights),
            `discriminator.keras`, `samples.png` and `record.json` into.

    Returns:
        The record (also written as `record.json`): the job's settings,
        `status`, `reason`, `steps`, `seconds`, `fid`/`kid`/`inception_score`
        of the EMA generator and `fid_live` of the last weights.
    """
    import keras

    from kgan_nas import data
    from kgan_nas import decode
    from kgan_nas import training

    started = time.perf_counter()
    seed = candidate_seed(f"{job['seed']}-final-{job['seed_index']}", job["key"])
    keras.utils.set_random_seed(seed)
    gan = decode.build_gan(
        genome, space, seed=seed, jit_compile=job["jit_compile"], ema_decay=job["ema_decay"]
    )
    report = training.train_for_budget(
        gan, data.train_input(images, job["batch_size"], seed=seed), steps=job["steps"]
    )
    record = dict(job, training_seed=seed, status=report.status, reason=report.reason)
    record.update(steps_trained=report.steps, curve=report.curve, genome=genome.to_dict())
    os.makedirs(save_dir, exist_ok=True)
    if report.status == "ok":
        averaged = gan.ema_generator()
        samples = training.generate_images(
            averaged, job["num_samples"], latent_dim=gan.latent_dim, seed=seed
        )
        record.update(_scores(samples, reference, seed))
        live = _scores(gan.generate(job["num_samples"], seed=seed), reference, seed)
        record["fid_live"] = live["fid"]
        if not math.isfinite(record["fid"]):
            record.update(status="nan", reason="generated images gave a non-finite FID")
        data.save_image_grid(samples[:64], os.path.join(save_dir, "samples.png"))
        atomic_save_model(averaged, os.path.join(save_dir, "generator.keras"))
        atomic_save_model(gan.discriminator, os.path.join(save_dir, "discriminator.keras"))
    record["seconds"] = round(time.perf_counter() - started, 3)
    atomic_write_json(os.path.join(save_dir, "record.json"), _json_safe(record))
    keras.backend.clear_session()
    return _json_safe(record)


def _scores(images, reference, seed):
    return score_images(
        images,
        reference["extractor"],
        reference["features"],
        reference["evaluation"],
        seed=seed,
        real_statistics=reference["statistics"],
    )


def _json_safe(record):
    """Non-finite numbers as None (JSON has no NaN), numpy numbers as Python's."""
    safe = {}
    for key, value in record.items():
        if isinstance(value, (float, np.floating)):
            value = float(value) if math.isfinite(value) else None
        safe[key] = value
    return safe
