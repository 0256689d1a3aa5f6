"""A nearest-neighbour memorisation score: `memorisation_score`.

On small data sets a generator that reproduces its training images scores
well on FID and KID, since copies have exactly the training distribution's
features. This compares how close generated samples come to the training
set with how close *held-out* real images come to it: a generator that
makes new images from the data distribution sits about as close as the
held-out images do; one that copies sits much closer.
"""

import numpy as np

from kgan_nas import validate
from kgan_nas.metrics.neighbours import nearest_distances

__all__ = ["memorisation_score"]

# The share of held-out images closest to the training set that sets the
# "too close" distance; a generator as novel as held-out data puts about this
# share of its samples below it.
CLOSE_QUANTILE = 0.05


def memorisation_score(train_features, heldout_features, generated_features):
    """How much closer generated samples come to the training set than held-out images do.

    For every generated sample and every held-out real image, takes the
    Euclidean distance to its nearest training image (in feature space),
    and returns:

    - `ratio`: median generated distance / median held-out distance. About
      1 for a generator as novel as new real images; near 0 for one that
      copies training images; above 1 for one whose samples are far from
      any real image (poor quality, not memorisation).
    - `share`: the share of generated samples closer to a training image
      than the 5 % of held-out images closest to one. About 0.05 for a
      novel generator, near 1 for a copying one.

    A low ratio can also come from samples collapsed onto the densest, most
    typical training images rather than from copies: look at the samples.

    Args:
        train_features: Features of the training images, `(N_train, dim)`.
        heldout_features: Features of held-out real images (never trained
            on), `(N_heldout, dim)`.
        generated_features: Features of generated images, `(N, dim)`.

    Returns:
        A tuple `(ratio, share)` of Python floats; `ratio` is inf when the
        held-out median distance is 0 (held-out images duplicated in the
        training set) and the generated one is not.

    Raises:
        TypeError: If the features are not real numeric arrays.
        ValueError: If an array is not 2-D, is empty, holds NaN or
            infinity, or the dimensions differ.
    """
    train = validate.as_feature_matrix(train_features, "train_features")
    heldout = validate.as_feature_matrix(heldout_features, "heldout_features")
    generated = validate.as_feature_matrix(generated_features, "generated_features")
    for name, array in (("heldout_features", heldout), ("generated_features", generated)):
        if array.shape[1] != train.shape[1]:
            raise ValueError(
                f"`{name}` has {array.shape[1]} features but `train_features` has "
                f"{train.shape[1]}. Use the same feature extractor for all three."
            )
    for name, array in (
        ("train_features", train),
        ("heldout_features", heldout),
        ("generated_features", generated),
    ):
        if len(array) == 0:
            raise ValueError(f"`{name}` has no rows. Pass at least one feature vector.")
    heldout_distances = nearest_distances(heldout, train)
    generated_distances = nearest_distances(generated, train)
    heldout_median = float(np.median(heldout_distances))
    generated_median = float(np.median(generated_distances))
    if heldout_median > 0:
        ratio = generated_median / heldout_median
    else:
        ratio = 1.0 if generated_median == 0 else float("inf")
    threshold = float(np.quantile(heldout_distances, CLOSE_QUANTILE))
    # `<=`: a training set that holds exact copies of over 5 % of the held-out
    # images gives a threshold of 0, and exact copies must still count.
    share = float(np.mean(generated_distances <= threshold))
    return ratio, share
