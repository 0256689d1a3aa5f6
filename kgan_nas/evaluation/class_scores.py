"""Scores and grids of class-conditional generators.

`class_scores` measures what an unconditional FID cannot: whether a
conditional generator makes the class it is asked for. `class_accuracy` is
the share of generated images that the domain classifier (trained on the
data's labels) assigns to their requested class, `fid_per_class` the mean
over classes of the FID between a class's generated and real images.
`generation_labels` draws the classes to generate from the data's class
frequencies; `class_grid` makes the per-class sample grid (one row per class).
"""

import math
import warnings

import numpy as np

# Images per class (one row each) in a per-class grid.
GRID_PER_CLASS = 10


def generation_labels(train_labels, n, seed):
    """`n` class ids drawn from the training labels' class frequencies.

    Args:
        train_labels: Integer labels `(N,)` of the training images.
        n: How many labels.
        seed: Seed of the draw.

    Returns:
        An int32 array `(n,)`.
    """
    rng = np.random.default_rng([int(seed), 7])
    return rng.choice(np.asarray(train_labels), size=int(n)).astype("int32")


def measures_classes(extractor):
    """Whether `extractor`'s class predictions are the data's own labels."""
    metadata = getattr(extractor, "metadata", None) or {}
    return metadata.get("label_source") == "labels"


def class_scores(images, labels, extractor, real_features, real_labels):
    """`class_accuracy` and `fid_per_class` of conditionally generated images.

    Args:
        images: Generated images `(n, H, W, C)` in [-1, 1].
        labels: The class each image was generated for, `(n,)`.
        extractor: The search's feature extractor. Class accuracy needs a
            domain classifier trained on the data's labels (see
            `measures_classes`); otherwise it is None.
        real_features: Features of the real evaluation images `(m, d)`.
        real_labels: Their labels `(m,)`.

    Returns:
        A dict with `class_accuracy` (float in [0, 1], or None) and
        `fid_per_class` (the mean FID over the classes with at least two
        generated and two real images; inf for non-finite images).
    """
    from kgan_nas import metrics

    labels = np.asarray(labels).reshape(-1)
    if not np.all(np.isfinite(images)):
        return {"class_accuracy": 0.0, "fid_per_class": math.inf}
    features, probabilities = extractor.features_and_probabilities(images)
    accuracy = None
    if measures_classes(extractor):
        accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    real_labels = np.asarray(real_labels).reshape(-1)
    distances = []
    with warnings.catch_warnings():
        # A class has few images, fewer than the feature size: FID is biased
        # but still ranks generators at a fixed sample count.
        warnings.simplefilter("ignore")
        for label in np.unique(labels):
            fake = features[labels == label]
            real = real_features[real_labels == label]
            if len(fake) >= 2 and len(real) >= 2:
                distances.append(metrics.fid(real, fake))
    fid_per_class = float(np.mean(distances)) if distances else math.inf
    return {"class_accuracy": accuracy, "fid_per_class": fid_per_class}


def class_grid(gan, per_class=GRID_PER_CLASS, seed=0, generate=None):
    """Images for a per-class grid: row `k` holds `per_class` images of class `k`.

    Args:
        gan: A conditional `kgan_nas.GAN` (its `num_classes` set).
        per_class: Images per class (the grid's width).
        seed: Seed of the latents.
        generate: The sampling function, with `GAN.generate`'s arguments
            (e.g. of the averaged generator, `evaluate.user_generator`).
            Defaults to `gan.generate`.

    Returns:
        `(images, nrow)`: float32 images `(num_classes * per_class, H, W, C)`
        in row order, and the row width to pass to `save_image_grid`.
    """
    labels = np.repeat(np.arange(gan.num_classes), per_class)
    generate = gan.generate if generate is None else generate
    return generate(len(labels), seed=seed, labels=labels), per_class
