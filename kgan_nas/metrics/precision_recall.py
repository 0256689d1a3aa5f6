"""Precision and recall of generated samples: `precision_recall`.

FID folds two failures into one number: samples that look unlike real
images (low fidelity) and real images the generator never makes (low
coverage, e.g. a missing digit). Precision and recall, in the k-nearest-
neighbour form of Kynkaenniemi et al. ("Improved Precision and Recall Metric
for Assessing Generative Models", NeurIPS 2019), tell them apart:

- precision: the share of generated samples inside the real data's manifold,
  estimated as the union of balls around every real feature vector with
  the radius of its k-th nearest real neighbour;
- recall: the share of real samples inside the generated samples' manifold,
  built the same way from the generated features.

Both are in [0, 1], higher is better; real data against more real data gets
high values on both (not exactly 1: the balls only approximate a manifold).
The k-th neighbour's distance shrinks as a set grows, so sets of different
sizes would bias the two numbers; as in the paper, both sets have one size:
the larger is subsampled (without replacement, seeded) to the smaller's.
"""

import numpy as np

from kgan_nas import validate
from kgan_nas.metrics.neighbours import kth_neighbour_distances
from kgan_nas.metrics.neighbours import squared_distance_blocks

__all__ = ["precision_recall"]


def precision_recall(real_features, fake_features, *, k=3, seed=0):
    """Improved precision and recall (Kynkaenniemi et al., 2019) of generated features.

    Args:
        real_features: Array `(N_real, dim)` of real images' features.
        fake_features: Array `(N_fake, dim)` of generated images' features.
        k: The neighbour whose distance sets each ball's radius. Defaults to
            3, the paper's choice.
        seed: Seed of the subsample that brings the larger set to the
            smaller's size. Defaults to 0.

    Returns:
        A dict with `precision` and `recall` (floats in [0, 1]), `k` and
        `num_samples` (the size both sets were measured at).

    Raises:
        ValueError: for feature arrays that are not 2-D, are not finite or
            differ in width, or a `k` that is not an integer from 1 to
            `min(N_real, N_fake) - 1`.
    """
    real = validate.as_feature_matrix(real_features, "real_features")
    fake = validate.as_feature_matrix(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real_features and fake_features must have the same width, got "
            f"{real.shape[1]} and {fake.shape[1]}; extract both with one extractor."
        )
    smallest = min(len(real), len(fake))
    if not validate.is_integer(k) or not 1 <= k <= smallest - 1:
        raise ValueError(
            f"k must be an integer from 1 to {smallest - 1} (one less than the smaller "
            f"set, {smallest} samples), got {k!r}; pass more samples or a smaller k."
        )
    real, fake = equal_sizes(real, fake, seed)
    return {
        "precision": _share_inside(fake, real, kth_neighbour_distances(real, k)),
        "recall": _share_inside(real, fake, kth_neighbour_distances(fake, k)),
        "k": int(k),
        "num_samples": len(real),
    }


def equal_sizes(real, fake, seed=0):
    """`(real, fake)` with the larger subsampled, without replacement, to the smaller's size."""
    size = min(len(real), len(fake))
    rng = np.random.default_rng(seed)

    def cut(features):
        if len(features) == size:
            return features
        return features[np.sort(rng.choice(len(features), size, replace=False))]

    return cut(real), cut(fake)


def _share_inside(queries, centres, radii):
    """The share of `queries` within the ball of at least one of `centres`."""
    squared_radii = radii**2
    inside = np.zeros(len(queries), dtype=bool)
    for start, squared in squared_distance_blocks(queries, centres):
        inside[start : start + len(squared)] = (squared <= squared_radii[None, :]).any(axis=1)
    return float(inside.mean())
