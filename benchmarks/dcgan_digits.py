"""A hand-designed DCGAN trained with kgan_nas.GAN on digits, scored like a candidate.

It answers: does the training engine learn (domain FID far below uniform noise),
and what does a searched generator have to beat at equal steps? With
`--genome-from RUN_DIR` it also trains the best genome of finished searches
from scratch under the same protocol (data split, steps, samples, seed), so
searched and hand-designed architectures are compared at equal training.

    python benchmarks/dcgan_digits.py --steps 2000
    python benchmarks/dcgan_digits.py --steps 2000 \
        --genome-from runs/search_quality/sq_genetic_seed2
"""

import argparse
import os
import time

import numpy as np
from _common import RESULTS
from _common import write_result

from kgan_nas import data as data_lib
from kgan_nas import features
from kgan_nas import metrics
from kgan_nas.core.genome import Genome
from kgan_nas.core.genome import LayerGene
from kgan_nas.core.genome import TrainingGenes
from kgan_nas.core.space import SearchSpace
from kgan_nas.evaluation.evaluator import EvaluationConfig
from kgan_nas.evaluation.evaluator import Evaluator


def dcgan_genome():
    """DCGAN pattern for 8x8: 2x2 projection, two upsampling blocks; strided-conv D.

    Upsampling + convolution with layer normalisation. The textbook variant
    (4x4 transposed convolutions with batch normalisation) mode-collapsed at
    this size and budget in our runs (domain FID 78 to 313, see
    docs/benchmarks.md), so it is not the baseline.
    """
    return Genome(
        generator=(
            LayerGene("upsample_conv2d", 64, 3, activation="relu", norm="layer"),
            LayerGene("upsample_conv2d", 32, 3, activation="relu", norm="layer"),
        ),
        discriminator=(
            LayerGene("conv2d", 64, 3, stride=2, activation="leaky_relu"),
            LayerGene("conv2d", 128, 3, stride=2, activation="leaky_relu"),
        ),
        training=TrainingGenes("adam", 2e-4, 2e-4, 0.5, 0.999, "non_saturating"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--genome-from",
        nargs="+",
        default=[],
        metavar="RUN_DIR",
        help="also train the best genome of these search runs from scratch",
    )
    args = parser.parse_args(argv)

    data = data_lib.load_dataset("digits", seed=args.seed)
    space = SearchSpace(image_shape=(8, 8, 1), latent_dim=32, max_start_size=2)
    genome = space.repair(dcgan_genome())
    assert genome == dcgan_genome(), "the hand-designed genome must be valid as written"
    extractor = features.DomainExtractor.for_data(
        data.train, data.train_labels, fingerprint=data.fingerprint()
    )
    real = extractor.features(data.eval)
    config = EvaluationConfig(
        steps=args.steps,
        batch_size=64,
        num_samples=args.num_samples,
        kid_subset_size=min(500, args.num_samples),
        seed=args.seed,
    )
    evaluator = Evaluator(data.train, space, config, extractor, real)
    noise = (
        np.random.default_rng(args.seed)
        .uniform(-1, 1, size=(args.num_samples,) + data.image_shape)
        .astype("float32")
    )
    noise_scores = evaluator.score_images(noise, seed=args.seed)
    real_fid = metrics.fid(real, extractor.features(data.train[: len(data.eval)]))
    started = time.perf_counter()
    save_dir = os.path.join(RESULTS, "dcgan_digits")
    fitness = evaluator.evaluate(genome, save_dir=save_dir)
    elapsed = time.perf_counter() - started
    result = {
        "benchmark": "dcgan_digits",
        "genome": genome.describe(),
        "generator_params": space.generator_params(genome),
        "status": fitness.status,
        "reason": fitness.reason,
        "steps": fitness.steps,
        "seconds": fitness.seconds,
        "wall_seconds": round(elapsed, 1),
        "fid_domain": fitness.fid,
        "kid_domain": fitness.kid,
        "is_domain": fitness.inception_score,
        "is_domain_std": fitness.inception_score_std,
        "fid_domain_uniform_noise": noise_scores["fid"],
        "is_domain_uniform_noise": noise_scores["inception_score"],
        "fid_domain_real_train_vs_eval": real_fid,
        "extractor_accuracy": extractor.accuracy,
    }
    print(f"{'':24}{'fid_domain':>12}{'is_domain':>11}")
    print(
        f"{'DCGAN ' + str(fitness.steps) + ' steps':24}{fitness.fid:>12.3f}"
        f"{fitness.inception_score:>11.3f}"
    )
    print(
        f"{'uniform noise':24}{noise_scores['fid']:>12.3f}{noise_scores['inception_score']:>11.3f}"
    )
    print(f"{'real train vs eval':24}{real_fid:>12.3f}")
    print(
        f"ratio DCGAN / noise FID: {fitness.fid / noise_scores['fid']:.3f}  "
        f"(status {fitness.status}, {elapsed:.0f} s; samples in {save_dir}/samples.png)"
    )
    result["searched"] = [
        train_searched_genome(run_dir, data, config, extractor, real, noise_scores["fid"])
        for run_dir in args.genome_from
    ]
    write_result("dcgan_digits", result)
    return result


def train_searched_genome(run_dir, data, config, extractor, real, noise_fid):
    """Trains a run's best genome from scratch with the DCGAN's protocol; prints a row."""
    from kgan_nas.results.search_result import SearchResult

    search = SearchResult(run_dir)
    genome, space = search.best_genome, search.space
    fitness = Evaluator(data.train, space, config, extractor, real).evaluate(genome)
    label = f"{os.path.basename(os.path.normpath(run_dir))} best"
    print(
        f"{label + ' ' + str(fitness.steps) + ' steps':24}{fitness.fid:>12.3f}"
        f"{fitness.inception_score:>11.3f}  (in its search: "
        f"{search.best_record['objective']:.3f}; ratio to noise {fitness.fid / noise_fid:.3f})"
    )
    return {
        "run": os.path.relpath(run_dir),
        "key": genome.key(),
        "genome": genome.describe(),
        "generator_params": space.generator_params(genome),
        "status": fitness.status,
        "steps": fitness.steps,
        "fid_domain": fitness.fid,
        "kid_domain": fitness.kid,
        "is_domain": fitness.inception_score,
        "fid_domain_in_search": search.best_record["objective"],
        "search_steps_per_candidate": search.config["evaluation"]["steps"],
    }


if __name__ == "__main__":
    main()
