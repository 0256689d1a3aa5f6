"""Pareto dominance, non-dominated sorting and crowding distance (NSGA-II).

Pure numpy. Every objective is minimised. NaN counts as +inf (a value that
was not measured can never be good), so a failed candidate whose objectives
are all infinite is dominated by every finite point and ties with other
failures.
"""

import math

import numpy as np


def _as_points(points):
    """Validates `points` and returns a float64 `(n, m)` array, NaN -> +inf."""
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "points must be a sequence of equal-length sequences of numbers "
            f"(one objective vector per point); got {points!r} ({exc})."
        ) from None
    if array.size == 0 and array.ndim <= 1:
        return array.reshape(0, 0)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(
            "points must be 2-D: one row per point and one column per "
            f"objective, got an array of shape {array.shape}. Wrap a single "
            "objective as [[v0], [v1], ...]."
        )
    return np.where(np.isnan(array), np.inf, array)


def dominates(a, b):
    """Whether objective vector `a` Pareto-dominates `b` (minimisation).

    `a` dominates `b` when it is no worse in every objective and strictly
    better in at least one. Equal vectors do not dominate each other.

    Args:
        a: Sequence of numbers (one per objective).
        b: Sequence of numbers of the same length.

    Returns:
        bool.

    Raises:
        ValueError: if the vectors are empty or differ in length.
    """
    points = _as_points([a, b])
    return bool(np.all(points[0] <= points[1]) and np.any(points[0] < points[1]))


def non_dominated_sort(points):
    """Splits points into Pareto fronts (fast non-dominated sort, NSGA-II).

    Front 0 holds the points no other point dominates; front `k + 1` holds
    the points dominated only by points of fronts `0..k`. Identical points
    land in the same front.

    Args:
        points: `n` objective vectors of equal length `m` (lower is better).

    Returns:
        A list of fronts, each a list of point indices in increasing order.
        Every index `0..n-1` appears in exactly one front; `[]` for no
        points.

    Raises:
        ValueError: if `points` is not an `(n, m)` collection of numbers.
    """
    array = _as_points(points)
    count = array.shape[0]
    if count == 0:
        return []
    no_worse = np.all(array[:, None, :] <= array[None, :, :], axis=2)
    better = np.any(array[:, None, :] < array[None, :, :], axis=2)
    dominance = no_worse & better  # dominance[i, j]: i dominates j.
    dominated_by_count = dominance.sum(axis=0)
    fronts = []
    current = [i for i in range(count) if dominated_by_count[i] == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in np.flatnonzero(dominance[i]):
                dominated_by_count[j] -= 1
                if dominated_by_count[j] == 0:
                    following.append(int(j))
        current = sorted(following)
    return fronts


def crowding_distance(points, front):
    """NSGA-II crowding distance of each point of one front.

    For each objective the front is sorted; its two boundary points get an
    infinite distance and every interior point adds the normalised gap
    between its two neighbours. Larger means more isolated, which NSGA-II
    prefers to keep diversity. An objective on which the whole front is
    equal adds nothing to interior points; an objective with infinite values
    in the front contributes only its (infinite) boundaries, because gaps to
    infinity cannot be normalised. Ties are ordered by index, so the result
    is deterministic.

    Args:
        points: All objective vectors (`(n, m)`), as for
            `non_dominated_sort`.
        front: Indices into `points` of the front to measure.

    Returns:
        A list of floats aligned with `front` (`front[i]` has distance
        `result[i]`); all are `>= 0` and boundary points are `inf`.

    Raises:
        ValueError: if `points` is malformed or `front` holds an index out
            of range.
    """
    array = _as_points(points)
    front = [int(i) for i in front]
    for i in front:
        if not 0 <= i < array.shape[0]:
            raise ValueError(f"front index {i} is out of range for {array.shape[0]} points.")
    size = len(front)
    if size == 0:
        return []
    if size <= 2:
        return [math.inf] * size
    values = array[front]
    distance = np.zeros(size)
    for objective in range(values.shape[1]):
        column = values[:, objective]
        order = np.argsort(column, kind="stable")
        distance[order[0]] = distance[order[-1]] = np.inf
        low, high = column[order[0]], column[order[-1]]
        if not (np.isfinite(low) and np.isfinite(high)) or high == low:
            continue
        gaps = (column[order[2:]] - column[order[:-2]]) / (high - low)
        distance[order[1:-1]] += gaps
    return [float(d) for d in distance]


def front_of(items, point):
    """The items that no other item dominates, in their given order.

    The one Pareto front of the project: `SearchResult.pareto_front` (over
    history records) and `Strategy.pareto_front` (over told results) both
    call it.

    Args:
        items: A sequence of anything.
        point: Function from an item to its tuple of lower-is-better values.

    Returns:
        A list of the non-dominated items (empty for no items).
    """
    items = list(items)
    if not items:
        return []
    front = set(non_dominated_sort([point(item) for item in items])[0])
    return [item for index, item in enumerate(items) if index in front]
