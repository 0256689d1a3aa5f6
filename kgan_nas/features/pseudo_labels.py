"""k-means pseudo-labels, the classes an unlabeled domain extractor learns.

Without labels, `DomainExtractor.fit` clusters the real images on their
block-averaged pixels with scikit-learn's `KMeans` and trains the classifier on
those clusters. scikit-learn is imported only when clustering runs.
"""

import numpy as np

__all__ = ["kmeans_pseudo_labels"]


def _downsample_for_clustering(images, max_side=16):
    """Block-averages images so k-means works on at most ~16x16 pixels."""
    factor = max(1, int(np.ceil(max(images.shape[1:3]) / max_side)))
    if factor > 1:
        height = images.shape[1] // factor * factor
        width = images.shape[2] // factor * factor
        n, _, _, channels = images.shape
        images = (
            images[:, :height, :width]
            .reshape(n, height // factor, factor, width // factor, factor, channels)
            .mean(axis=(2, 4))
        )
    return images.reshape(len(images), -1)


def kmeans_pseudo_labels(images, *, num_clusters=10, seed=0, max_fit_samples=20000):
    """Clusters images into pseudo-classes for the unlabeled domain extractor.

    Args:
        images: float32 array `(N, H, W, C)`.
        num_clusters: Number of pseudo-classes; capped at the number of
            distinct images. Defaults to 10.
        seed: Seed for the subsample and the k-means initialisation.
        max_fit_samples: k-means is fitted on at most this many images (a
            random subset) and then assigns all of them. Defaults to 20000.

    Returns:
        int array `(N,)` with values in `[0, clusters)`, every value used.

    Raises:
        ValueError: If fewer than two distinct images are given.
    """
    from sklearn.cluster import KMeans

    pixels = _downsample_for_clustering(np.asarray(images, np.float32))
    distinct = len(np.unique(pixels, axis=0))
    if distinct < 2:
        raise ValueError(
            "k-means pseudo-labels need at least two distinct images; pass "
            "more (and more varied) real images, or pass `labels`."
        )
    rng = np.random.default_rng(seed)
    subset = pixels
    if len(pixels) > max_fit_samples:
        subset = pixels[rng.choice(len(pixels), max_fit_samples, replace=False)]
    kmeans = KMeans(n_clusters=min(num_clusters, distinct), n_init=4, random_state=seed)
    kmeans.fit(subset)
    clusters = kmeans.predict(pixels)
    # Renumber so that the labels are 0..k-1 even if a cluster stays empty.
    return np.unique(clusters, return_inverse=True)[1].reshape(-1)
