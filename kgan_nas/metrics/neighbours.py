"""Nearest-neighbour distances between feature sets, in bounded memory.

The memorisation score and precision/recall both need, for each feature
vector, distances to a whole other set. The distance matrix is built in
blocks of query rows, so memory stays bounded whatever the set sizes.
"""

import numpy as np

# Query rows per block of the distance matrix.
_BLOCK_ROWS = 1024


def squared_distance_blocks(queries, reference):
    """Yields `(start, block)`: squared Euclidean distances of query rows to every reference row.

    Args:
        queries: float64 array `(N, dim)`.
        reference: float64 array `(M, dim)`.

    Yields:
        `start`, the first query row of the block, and a `(rows, M)` float64
        array clipped at 0 (round-off can make a tiny distance negative).
    """
    reference_norms = np.einsum("ij,ij->i", reference, reference)
    for start in range(0, len(queries), _BLOCK_ROWS):
        block = queries[start : start + _BLOCK_ROWS]
        squared = (
            np.einsum("ij,ij->i", block, block)[:, None]
            + reference_norms[None, :]
            - 2.0 * (block @ reference.T)
        )
        yield start, np.maximum(squared, 0.0)


def nearest_distances(queries, reference):
    """Euclidean distance from each row of `queries` to its nearest row of `reference`.

    Args:
        queries: float64 array `(N, dim)`.
        reference: float64 array `(M, dim)`.

    Returns:
        A float64 array of shape `(N,)`.
    """
    nearest = np.empty(len(queries))
    for start, squared in squared_distance_blocks(queries, reference):
        nearest[start : start + len(squared)] = squared.min(axis=1)
    return np.sqrt(nearest)


def kth_neighbour_distances(features, k):
    """Distance from each row of `features` to its k-th nearest other row.

    Args:
        features: float64 array `(N, dim)`, N > k.
        k: Which neighbour, >= 1 (the row itself is not a neighbour).

    Returns:
        A float64 array of shape `(N,)`.
    """
    radii = np.empty(len(features))
    for start, squared in squared_distance_blocks(features, features):
        rows = np.arange(len(squared))
        # The row itself sits at distance 0; pushing it to +inf makes the
        # k-th smallest of the rest the (k-1)-th order statistic.
        squared[rows, start + rows] = np.inf
        radii[start : start + len(squared)] = np.partition(squared, k - 1, axis=1)[:, k - 1]
    return np.sqrt(radii)
