"""Train a supernet, read its architecture weights, derive genomes: gradient-based search.

`train_supernet` trains the supernet of a space (`kgan_nas.supernet.network`)
as a GAN: its networks' weights and each network's architecture parameters
(`alpha` of every slot) are updated together at every step by that network's
own optimizer and loss, the generator's architecture by the generator's
loss and the discriminator's by the discriminator's (as AdversarialNAS
assigns them; one-level, not DARTS' alternating bi-level optimisation).
`derive` turns the learnt weights into genomes: the strongest operation of
every slot, then that genome with one slot swapped to its runner-up, the
closest call first.

With `single_path=True` the supernet is instead trained one uniformly drawn
path at a time (`network.ArchitectureMix`), which learns no architecture
weights but shared weights that every path can use: genomes are then chosen
by weight-sharing evaluation, many paths drawn at random and each scored
with the supernet's weights (`path_samples` of them, for the price of
generating and scoring their images), the best first.

`run_supernet` does either once per run directory and keeps the result in
`supernet.json`, so a resumed search never trains it again.
"""

import functools
import gc
import math
import os
import random
import time

from kgan_nas.core import supernet_slots
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.space import InvalidGenomeError
from kgan_nas.store.atomic import atomic_write_json
from kgan_nas.supernet import network

RECORD = "supernet.json"


def train_supernet(
    space,
    images,
    *,
    steps,
    batch_size,
    seed=0,
    jit_compile=True,
    top=1,
    score=None,
    single_path=False,
    path_samples=64,
    path_finetune_steps=None,
    finetune_jit_compile=None,
):
    """Trains the supernet of `space` on `images` and derives genomes from it.

    Args:
        space: The `SearchSpace` (unconditional).
        images: Training images, float32 NHWC in [-1, 1].
        steps: Training steps (each one generator and one discriminator update).
        batch_size: Images per step.
        seed: Seed of the weights, the noise and the data order.
        jit_compile: Compile the train step with XLA.
        top: How many genomes to derive (see `derive`).
        score: Optional `score(generator) -> FID` of a generator's images;
            given, each derived genome's generator is also scored as a path
            of the trained supernet (`subnet_scores`).
        single_path: Train one uniformly drawn path per network call instead of the
            mixture, and derive the `top` best of `path_samples` random
            paths by their scores as paths (random ones without `score`).
        path_samples: With `single_path`: how many distinct paths to draw
            and score.
        path_finetune_steps: With `single_path` and `score`: fine-tune each
            drawn path's genome this many steps from the supernet's weights
            before scoring it (`finetuned_scores`), and rank the paths by
            that score. None (the default) scores the shared weights as
            they are.
        finetune_jit_compile: Compile the fine-tunes' train steps with XLA;
            None (the default) takes `jit_compile`.

    Returns:
        A JSON-able dict: `status`, `reason`, `steps`, `seconds`,
        `training` (`"mixture"` or `"single_path"`), the slots' candidate
        genes (`candidates`), their learnt weights (`generator_weights`,
        `discriminator_weights`: per slot, the softmax of its `alpha`;
        uniform under single-path training), `derived` (genome dicts,
        strongest first; empty when training failed) and, with `score`,
        `subnet_scores` (of the derived genomes) and `path_seconds` (what
        scoring the paths took); under single-path training also
        `path_scores`, the score of every path drawn, and with
        `path_finetune_steps` that number as `path_finetune_steps` (each
        score row then also holds `shared_fid`, the path's score before its
        fine-tune).
    """
    import keras

    from kgan_nas import data
    from kgan_nas import training
    from kgan_nas.core.repair import snap_training
    from kgan_nas.evaluation import decode

    keras.utils.set_random_seed(seed)
    generator, discriminator = network.build_supernet(space, single_path, seed)
    g_genes, d_genes, slots = supernet_slots.skeleton(space)
    # The training genes of the supernet and of every derived genome: the
    # genome defaults, snapped to the space's choices.
    genome = supernet_slots.genome_of(
        space, [g_genes[0]] * slots, [d_genes[0]] * slots, snap_training(space, TrainingGenes())
    )
    gan = decode.build_gan(
        genome, space, seed=seed, jit_compile=jit_compile, networks=(generator, discriminator)
    )
    started = time.perf_counter()
    report = training.train_for_budget(
        gan, data.train_input(images, batch_size, seed=seed), steps=steps
    )
    seconds = time.perf_counter() - started
    g_weights = network.architecture_weights(generator, "g_slot")
    d_weights = network.architecture_weights(discriminator, "d_slot")
    result = {
        "status": report.status,
        "reason": report.reason,
        "steps": report.steps,
        "seconds": seconds,
        "training": "single_path" if single_path else "mixture",
        "candidates": {
            "generator": [gene.to_dict() for gene in g_genes],
            "discriminator": [gene.to_dict() for gene in d_genes],
        },
        "generator_weights": g_weights,
        "discriminator_weights": d_weights,
        "derived": [],
    }
    try:
        if report.status == "ok" and single_path:
            started = time.perf_counter()
            finetune = None
            if path_finetune_steps and score is not None:
                result["path_finetune_steps"] = path_finetune_steps
                finetune = functools.partial(
                    finetuned_scores,
                    space,
                    (generator, discriminator),
                    images=images,
                    steps=path_finetune_steps,
                    batch_size=batch_size,
                    seed=seed,
                    jit_compile=finetune_jit_compile
                    if finetune_jit_compile is not None
                    else jit_compile,
                    score=score,
                )
            drawn = ranked_paths(
                space, generator, genome.training, path_samples, top, seed, score, finetune
            )
            result.update(drawn)
            result["path_seconds"] = time.perf_counter() - started
        elif report.status == "ok":
            training = genome.training
            paths = derived_paths(space, g_genes, d_genes, g_weights, d_weights, training, top)
            result["derived"] = [path["genome"].to_dict() for path in paths]
            if score is not None:
                started = time.perf_counter()
                result["subnet_scores"] = subnet_scores(generator, paths, score)
                result["path_seconds"] = time.perf_counter() - started
    finally:
        keras.backend.clear_session()
    return result


def subnet_scores(generator, paths, score):
    """Each derived genome's generator scored as a path of the trained supernet.

    The weight-sharing evaluation of one-shot search (a single path, as in
    Guo et al. 2020): the supernet's generator fixed to the genome's
    operations (`network.select_path`), its batch-norm statistics measured
    again for that path (the mixture's do not fit one path), no further
    training. Only the generator matters to an image score, so genomes that
    differ only in their discriminator score alike. A path whose scoring
    fails, or scores a non-finite FID, gets None and its reason: the search
    goes on.

    Args:
        generator: The trained supernet generator (its alphas and
            batch-norm statistics are overwritten).
        paths: `derived_paths` entries.
        score: `score(generator) -> FID`.

    Returns:
        Per path, a dict: `key` (the genome's), `fid` (or None), `exact`
        (False where repair changed the genome, so the stand-alone genome
        is not this path), and `reason` where scoring failed.
    """
    from kgan_nas.training.ema import recompute_batch_norm

    scored, rows = {}, []
    for path in paths:
        choices = tuple(path["generator"])
        if choices not in scored:
            try:
                network.select_path(generator, "g_slot", choices)
                recompute_batch_norm(generator)
                fid = float(score(generator))
                # Not finite: recorded as failed, like a candidate (and JSON has no inf).
                scored[choices] = (fid, "") if math.isfinite(fid) else (None, "non-finite FID")
            except Exception as error:  # a failed score is data, like a failed candidate
                scored[choices] = (None, f"{type(error).__name__}: {error}")
        fid, reason = scored[choices]
        row = {"key": path["genome"].key(), "fid": fid, "exact": path["exact"]}
        rows.append(dict(row, reason=reason) if reason else row)
    return rows


def random_paths(space, training, count, seed):
    """Up to `count` paths of the supernet drawn at random, distinct in the generator.

    A generator path is drawn uniformly (each slot's operation independently);
    for it, discriminator paths are drawn uniformly until the space accepts
    the genome (a cost bound depends on both networks), a few times at most.
    Only the generator matters to an image score, so a generator already
    taken is drawn again; a generator no discriminator draw completes is
    left out, so every path is exactly a genome of the space.

    Args:
        space: The `SearchSpace`.
        training: The `TrainingGenes` of every path's genome.
        count: How many paths at most.
        seed: Seed of the draws.

    Returns:
        A list of `derived_paths`-style dicts (`genome`, `generator`,
        `discriminator`, `exact` True).
    """
    g_genes, d_genes, slots = supernet_slots.skeleton(space)
    rng = random.Random(seed)
    paths, taken = [], set()
    # Bounded tries: a narrow space may hold fewer distinct exact paths than asked.
    for _ in range(50 * count):
        if len(paths) == count:
            break
        g = [rng.randrange(len(g_genes)) for _ in range(slots)]
        if tuple(g) in taken:
            continue
        for _ in range(_DISCRIMINATOR_DRAWS):
            d = [rng.randrange(len(d_genes)) for _ in range(slots)]
            genome = Genome([g_genes[i] for i in g], [d_genes[i] for i in d], training)
            if not space.problems(genome):
                taken.add(tuple(g))
                paths.append({"genome": genome, "generator": g, "discriminator": d, "exact": True})
                break
    return paths


# Discriminator draws per generator path before that generator is given up (for now).
_DISCRIMINATOR_DRAWS = 8


def finetuned_scores(
    space, networks, paths, images, *, steps, batch_size, seed, jit_compile, score
):
    """Each path's genome started from the supernet's weights, fine-tuned briefly, scored.

    Weight-sharing evaluation with a short fine-tune (as one-shot searches
    for GANs fine-tune their subnets before judging them): the path's genome
    is decoded, its networks get the supernet's weights of that path
    (`network.copy_path`), it trains `steps` steps like a candidate (its
    genome's optimizers and loss, the same data order for every path), its
    batch-norm statistics are measured again (training uses each batch's
    own, and a few steps would leave the moving averages mostly as copied),
    and its generator, the one a candidate would be scored with, is scored.
    A path whose fine-tune fails or diverges gets None and its reason: the
    others go on.

    Args:
        space: The `SearchSpace`.
        networks: The trained supernet's `(generator, discriminator)`.
        paths: `random_paths` entries.
        images: Training images, float32 NHWC in [-1, 1].
        steps: Fine-tune steps per path.
        batch_size: Images per step.
        seed: Seed of the noise and the data order (the same for every path).
        jit_compile: Compile the fine-tune's train step with XLA.
        score: `score(generator) -> FID`.

    Returns:
        Per path, a dict: `key`, `fid` (or None), `exact` (True),
        `seconds` (the fine-tune and its score), and `reason` where it failed.
    """
    from kgan_nas import data
    from kgan_nas import training
    from kgan_nas.evaluation import decode
    from kgan_nas.evaluation.evaluator import user_generator
    from kgan_nas.training.ema import recompute_batch_norm

    rows = []
    for path in paths:
        genome, started, reason = path["genome"], time.perf_counter(), ""
        fid = generator = discriminator = gan = None
        try:
            generator, discriminator = decode.build_models(genome, space)
            network.copy_path(networks[0], path["generator"], generator)
            network.copy_path(networks[1], path["discriminator"], discriminator)
            networks_of_path = (generator, discriminator)
            gan = decode.build_gan(
                genome, space, seed=seed, jit_compile=jit_compile, networks=networks_of_path
            )
            inputs = data.train_input(images, batch_size, seed=seed)
            report = training.train_for_budget(gan, inputs, steps=steps)
            if report.status == "ok":
                scored = user_generator(gan)[0]
                recompute_batch_norm(scored)
                fid = float(score(scored))
                # Not finite: recorded as failed, like a candidate (and JSON has no inf).
                fid, reason = (fid, "") if math.isfinite(fid) else (None, "non-finite FID")
            else:
                reason = f"fine-tune {report.status}: {report.reason}"
        except Exception as error:  # a failed path is data, like a failed candidate
            reason = f"{type(error).__name__}: {error}"
        row = {"key": genome.key(), "fid": fid, "exact": True}
        row["seconds"] = round(time.perf_counter() - started, 2)
        rows.append(dict(row, reason=reason) if reason else row)
        # Each path compiles its own GAN (~15 MB each): free it before the next.
        generator = discriminator = gan = None
        gc.collect()
    return rows


def ranked_paths(space, generator, training, count, top, seed, score, finetune=None):
    """Weight-sharing evaluation: `count` random paths scored with the supernet's weights.

    Args:
        space: The `SearchSpace`.
        generator: The supernet generator, trained one path at a time.
        training: The `TrainingGenes` of every path's genome.
        count: How many paths to draw (`random_paths`).
        top: How many genomes to derive.
        seed: Seed of the draws.
        score: `score(generator) -> FID`, or None (the paths stay in draw order).
        finetune: Optional `finetune(paths) -> rows` (`finetuned_scores`):
            the paths are then ranked by its scores, and each row keeps the
            shared weights' score as `shared_fid`. Defaults to None.

    Returns:
        A dict: `derived` (the `top` best paths' genome dicts, lowest path
        FID first; paths whose scoring failed come last) and, with `score`,
        `subnet_scores` (theirs) and `path_scores` (every drawn path's).
    """
    paths = random_paths(space, training, count, seed)
    if score is None:
        return {"derived": [path["genome"].to_dict() for path in paths[:top]]}
    rows = subnet_scores(generator, paths, score)
    if finetune is not None:
        shared = rows
        rows = [dict(row, shared_fid=before["fid"]) for row, before in zip(finetune(paths), shared)]
    order = sorted(
        range(len(paths)), key=lambda i: (rows[i]["fid"] is None, rows[i]["fid"] or 0.0, i)
    )[:top]
    return {
        "derived": [paths[i]["genome"].to_dict() for i in order],
        "subnet_scores": [rows[i] for i in order],
        "path_scores": rows,
    }


def derive(space, g_genes, d_genes, g_weights, d_weights, training, top=1):
    """Genomes from learnt architecture weights, strongest first (see `derived_paths`).

    Returns:
        A list of valid `Genome`s.
    """
    paths = derived_paths(space, g_genes, d_genes, g_weights, d_weights, training, top)
    return [path["genome"] for path in paths]


def derived_paths(space, g_genes, d_genes, g_weights, d_weights, training, top=1):
    """Genomes from learnt architecture weights, strongest first.

    The first takes every slot's strongest operation; each next one swaps a
    single slot to its second strongest, the slots whose two strongest are
    closest first. Each genome is repaired into the space (its cost bounds
    may narrow it); repeats are dropped.

    Args:
        space: The `SearchSpace`.
        g_genes: The generator slots' candidate genes (`supernet_slots.skeleton`).
        d_genes: The discriminator slots' candidate genes.
        g_weights: Per generator slot, the weight of each candidate.
        d_weights: Per discriminator slot, the weight of each candidate.
        training: The `TrainingGenes` of every derived genome.
        top: How many genomes at most.

    Returns:
        A list of dicts: `genome` (a valid `Genome`), `generator` and
        `discriminator` (the slot choices it came from) and `exact`
        (False where repair changed it).
    """
    best_g = [_order(weights)[0] for weights in g_weights]
    best_d = [_order(weights)[0] for weights in d_weights]
    choices = [(best_g, best_d)]
    swaps = []
    for network_name, weights in (("g", g_weights), ("d", d_weights)):
        for slot, slot_weights in enumerate(weights):
            order = _order(slot_weights)
            if len(order) > 1:
                gap = slot_weights[order[0]] - slot_weights[order[1]]
                swaps.append((gap, network_name, slot, order[1]))
    for _, network_name, slot, second in sorted(swaps):
        g, d = list(best_g), list(best_d)
        (g if network_name == "g" else d)[slot] = second
        choices.append((g, d))
    paths, keys = [], set()
    for g, d in choices:
        if len(paths) == top:
            break
        genome = Genome([g_genes[i] for i in g], [d_genes[i] for i in d], training)
        exact = not space.problems(genome)
        try:
            genome = genome if exact else space.repair(genome)
        except InvalidGenomeError:
            continue
        if genome.key() not in keys:
            keys.add(genome.key())
            paths.append({"genome": genome, "generator": g, "discriminator": d, "exact": exact})
    return paths


def _order(weights):
    """Candidate indices, strongest first (ties: the earlier candidate)."""
    return sorted(range(len(weights)), key=lambda i: (-weights[i], i))


def run_supernet(
    directory,
    space,
    images,
    *,
    steps,
    batch_size,
    seed,
    jit_compile,
    top,
    say,
    score=None,
    single_path=False,
    path_samples=64,
    path_finetune_steps=None,
    finetune_jit_compile=None,
):
    """The run's supernet result: read from `supernet.json`, or trained and written there.

    Only a supernet that trained is kept: after a failure (an exception while
    building or training it, or a loss that went non-finite) the search goes
    on with random samples, and a resume tries the supernet again.

    Args:
        directory: The run directory's path.
        space, images, steps, batch_size, seed, jit_compile, top, score,
            single_path, path_samples, path_finetune_steps,
            finetune_jit_compile: As for `train_supernet`.
        say: Prints progress.

    Returns:
        The dict of `train_supernet`.
    """
    from kgan_nas.store.run_dir import read_json

    path = os.path.join(directory, RECORD)
    if os.path.isfile(path):
        return read_json(path)
    how = (
        "one random path per network call, then scoring random paths with its weights"
        if single_path
        else "every slot mixes its candidate operations"
    )
    if single_path and path_finetune_steps and score is not None:
        how += f", each fine-tuned {path_finetune_steps:,} steps first"
    elif single_path and path_finetune_steps:
        say(
            "path_finetune_steps is not used: a custom evaluator scores candidates its own "
            "way, so the supernet's paths are not scored (nor fine-tuned)."
        )
    say(f"Training the supernet ({steps:,} steps): {how}...")
    try:
        result = train_supernet(
            space,
            images,
            steps=steps,
            batch_size=batch_size,
            seed=seed,
            jit_compile=jit_compile,
            top=top,
            score=score,
            single_path=single_path,
            path_samples=path_samples,
            path_finetune_steps=path_finetune_steps,
            finetune_jit_compile=finetune_jit_compile,
        )
    except Exception as error:  # a failed supernet is data, like a failed candidate
        result = {"status": "error", "reason": f"{type(error).__name__}: {error}", "derived": []}
        result.update(steps=0, seconds=0.0)
    if result["status"] == "ok":
        atomic_write_json(path, result)
    if result["derived"]:
        say(
            f"Supernet trained in {result['seconds']:.0f}s; derived {len(result['derived'])} "
            "genomes, evaluated first."
        )
    else:
        say(f"Supernet training failed ({result['reason']}); the search samples at random.")
    return result


def derived_genomes(result):
    """The derived genomes of a `train_supernet` result, as `Genome`s."""
    return [Genome.from_dict(g) for g in result.get("derived", [])]
