"""The final stage's jobs: one (genome, seed) training each, published whole, resumable.

A job's folder `final/<key>_seed<s>/` is kept when its record's settings
match (`JOB_SETTINGS`), so a resume trains only what is missing. A genome's
remaining seeds train together as one packed program where the backend
allows it (`FinalConfig.pack_seeds`, `kgan_nas.training.packed`), else one
by one; either way each job is published on its own. Keras is imported only
to train (`kgan_nas.final.job`) or to see where `pack_seeds="auto"` runs.
"""

import os

from kgan_nas.results.final_summary import FINAL_DIR
from kgan_nas.results.final_summary import RECORD
from kgan_nas.results.final_summary import job_name
from kgan_nas.store import run_dir as run_lib

# The settings of a job that a published job folder must match to be kept.
JOB_SETTINGS = (
    "steps",
    "batch_size",
    "ema_decay",
    "num_samples",
    "seed",
    "jit_compile",
    "continued_from_steps",
)
# What a record written before a setting existed ran with.
_SETTING_DEFAULTS = {"continued_from_steps": 0}


def genome_jobs(run_dir, config, final, data, key, genome_dict, reference, say):
    """A genome's seed jobs, in seed order: published records kept, the rest trained.

    Two or more jobs left to train are trained as one packed program when
    `final.pack_seeds` asks for it and the backend allows it, else one by one.

    Args:
        run_dir: The open, locked `kgan_nas.store.run_dir.RunDir`.
        config: Its `SearchConfig`.
        final: The stage's `FinalConfig`.
        data: The run's `ImageData` (trains on `train`).
        key: The genome's key.
        genome_dict: The genome, as its dict.
        reference: From `kgan_nas.final.job.make_reference`.
        say: Prints progress.

    Returns:
        The `final.seeds` job records, seed 0 first.
    """
    jobs = [_job_spec(run_dir, config, final, key, index) for index in range(final.seeds)]
    records = {job["seed_index"]: _done_record(run_dir, job) for job in jobs}
    pending = [job for job in jobs if records[job["seed_index"]] is None]
    if _packs(final.pack_seeds) and len(pending) > 1:
        records.update(
            _packed_jobs(run_dir, config, final, data, pending, genome_dict, reference, say)
        )
    return [
        records.get(index)
        or seed_job(run_dir, config, final, data, key, genome_dict, index, reference, say)
        for index in range(final.seeds)
    ]


def _packs(pack_seeds):
    """Whether `FinalConfig.pack_seeds` asks for packing here (`"auto"`: where it pays)."""
    if pack_seeds == "auto":
        from kgan_nas.training.packed import packing_pays

        return packing_pays()
    return pack_seeds


def _packed_jobs(run_dir, config, final, data, jobs, genome_dict, reference, say):
    """`{seed_index: record}` of `jobs` trained as one pack, each published once scored.

    Empty when the jobs cannot be packed (e.g. on TensorFlow) or the pack
    failed as a whole: nothing was published, and they train one by one.
    """
    from kgan_nas.final.job import train_final_jobs_packed

    folders = [run_dir.file(FINAL_DIR, job_name(job["key"], job["seed_index"])) for job in jobs]
    stagings = [run_lib.staging_dir_for(folder) for folder in folders]

    def publish(index, record):
        run_lib.publish_candidate(stagings[index], folders[index])
        say(_job_line(job_name(jobs[index]["key"], jobs[index]["seed_index"]), record))

    records = train_final_jobs_packed(
        *_genome_and_space(config, genome_dict),
        data.train,
        jobs,
        reference,
        stagings,
        say=say,
        publish=publish,
        start_weights=_start_weights(run_dir, jobs[0]),
    )
    if records is None:
        return {}
    return {job["seed_index"]: record for job, record in zip(jobs, records)}


def _genome_and_space(config, genome_dict):
    """`(Genome, SearchSpace)` of a stored genome dict and the run's stored space."""
    from kgan_nas.core.genome import Genome
    from kgan_nas.core.space import SearchSpace

    return Genome.from_dict(genome_dict), SearchSpace.from_dict(config.space)


def _start_weights(run_dir, job):
    """The search candidate's folder a continued job starts from, else None."""
    return run_dir.candidate_dir(job["key"]) if job["continued_from_steps"] else None


def _job_spec(run_dir, config, final, key, seed_index):
    """The settings of one (genome, seed) job.

    `steps` is the job's total training; a job that continues its search
    candidate (`FinalConfig.continue_training`) starts at
    `continued_from_steps` of them, the candidate's own and inherited steps.
    A candidate that already trained `steps` or more is retrained from
    scratch instead, so no job trains more than `steps` in all.
    """
    from kgan_nas.results.records import total_steps

    continued = total_steps(run_dir.history(), key) if final.continue_training else 0
    continued = continued if continued < final.steps else 0
    return {
        "key": key,
        "seed_index": seed_index,
        "seed": config.seed,
        "steps": final.steps,
        "batch_size": config.evaluation["batch_size"],
        "ema_decay": final.ema_decay,
        "num_samples": final.num_samples,
        "jit_compile": config.evaluation["jit_compile"],
        "continued_from_steps": continued,
    }


def _done_record(run_dir, job):
    """The job's published record when its settings match, else None."""
    done = _published_record(run_dir.file(FINAL_DIR, job_name(job["key"], job["seed_index"])))
    if done is not None and all(
        done.get(k, _SETTING_DEFAULTS.get(k)) == job[k] for k in JOB_SETTINGS
    ):
        return done
    return None


def _job_line(name, record):
    fid = record.get("fid")
    return f"  {name}: {record['status']}" + (
        f", FID {fid:.4f}" if fid is not None else f" ({record['reason']})"
    )


def seed_job(run_dir, config, final, data, key, genome_dict, seed_index, reference, say):
    """One (genome, seed) job: its published record, or train and publish it.

    Args:
        run_dir, config, final, data, key, genome_dict, reference, say: As
            for `genome_jobs`.
        seed_index: Which of the genome's seeds (0-based).

    Returns:
        The job's record.
    """
    job = _job_spec(run_dir, config, final, key, seed_index)
    done = _done_record(run_dir, job)
    if done is not None:
        return done
    from kgan_nas.final.job import train_final_job
    from kgan_nas.final.job import training_steps

    folder = run_dir.file(FINAL_DIR, job_name(key, seed_index))
    steps = training_steps(job)
    start = (
        f", continuing its {job['continued_from_steps']:,}" if job["continued_from_steps"] else ""
    )
    say(f"  training {job_name(key, seed_index)} ({steps:,} steps{start})...")
    staging = run_lib.staging_dir_for(folder)
    record = train_final_job(
        *_genome_and_space(config, genome_dict),
        data.train,
        job,
        reference,
        staging,
        start_weights=_start_weights(run_dir, job),
    )
    run_lib.publish_candidate(staging, folder)
    say(_job_line(job_name(key, seed_index), record))
    return record


def _published_record(folder):
    """The record of a complete published job folder, else None."""
    if not os.path.isfile(os.path.join(folder, RECORD)) or run_lib.check_candidate(folder):
        return None
    return run_lib.read_json(os.path.join(folder, RECORD))
