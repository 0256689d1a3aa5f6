"""Checking the class labels a user asks a conditional generator for (pure Python).

`GAN.generate(n, labels=...)`, `SearchResult.sample(n, labels=...)` and
`kgan-nas sample --class K` all check the requested classes here, so a
wrong length, type or class id gets the same clear message everywhere.
`sample_grid_labels` lays out a conditional sample grid, one class per row.
"""

import numpy as np


def check_labels(labels, num_classes, n=None):
    """Class labels to sample: int32 `(n, 1)`, each in `0..num_classes-1`.

    Args:
        labels: An integer, or a sequence / array of integers.
        num_classes: The generator's number of classes.
        n: How many images; an integer label is repeated `n` times, and a
            sequence must have `n` entries. None takes the sequence's length.

    Returns:
        An int32 `np.ndarray` `(n, 1)`.

    Raises:
        ValueError: for labels that are not integers, of the wrong length or
            out of range.
    """
    array = np.asarray(labels)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or (array.size == 0 and array.ndim == 1)
    ):
        raise ValueError(
            f"labels must be integer class ids, got {labels!r} (dtype {array.dtype}); pass "
            "e.g. labels=3 or labels=[0, 1, 2]."
        )
    if array.ndim == 0:
        array = np.full((0 if n is None else n,), int(array))
    array = array.reshape(len(array), -1) if array.ndim == 2 else array
    if array.ndim != 1 and not (array.ndim == 2 and array.shape[1] == 1):
        raise ValueError(f"labels must be one class id per image, got shape {array.shape}.")
    array = array.reshape(-1)
    if n is not None and len(array) != n:
        raise ValueError(
            f"labels has {len(array)} entries for {n} images; give one class id per image "
            "or a single integer."
        )
    bad = array[(array < 0) | (array >= num_classes)]
    if len(bad):
        raise ValueError(
            f"Class id {int(bad[0])} is out of range: this generator knows classes "
            f"0..{num_classes - 1}."
        )
    return array.astype("int32").reshape(-1, 1)


def sample_grid_labels(num_classes, n, label=None):
    """Labels and row width of a sample grid: one class per row, or all of class `label`.

    Args:
        num_classes: The run's classes, or None for an unconditional run.
        n: Images in the grid.
        label: One class for every image, or None.

    Returns:
        `(labels, nrow)`: `(None, None)` for an unconditional run (a square
        grid); otherwise the class ids and the images per row.

    Raises:
        ValueError: for a `label` in an unconditional run.
    """
    if num_classes is None:
        if label is not None:
            raise ValueError(
                "--labels needs a class-conditional run (search --conditional); this run "
                "is unconditional."
            )
        return None, None
    if label is not None:
        return label, None
    per_row = -(-n // num_classes)
    return np.arange(n) // per_row, per_row
