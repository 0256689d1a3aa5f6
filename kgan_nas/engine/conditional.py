"""Setting up a class-conditional search: the checks and the space (pure Python).

`search(dataset, conditional=True)` comes here once the data is loaded: the
data must carry labels of at least two classes, each with training images,
and the search space gets `num_classes`. The conditional objectives
(`class_accuracy`, `fid_per_class`) are refused for unconditional searches.
"""

import dataclasses

import numpy as np

from kgan_nas.core.objectives import CONDITIONAL_OBJECTIVES


def check_objectives(objectives, conditional, extractor="domain", what="objective(s)"):
    """Raises `ValueError` for a class objective the search cannot measure.

    Args:
        objectives: The objective names (or the names of targets to stop at).
        conditional: Whether the search is class-conditional.
        extractor: The metric's feature extractor; class accuracy needs the
            domain classifier (trained on the data's labels).
        what: What the names are, for the message (`"stop_at target(s)"`: a
            target never measured would let the search run to its end silently).
    """
    wanted = [name for name in objectives if name in CONDITIONAL_OBJECTIVES]
    if wanted and not conditional:
        raise ValueError(
            f"The {what} {wanted} are measured for class-conditional generators "
            "only; pass conditional=True (--conditional) with labelled data, or drop them."
        )
    if "class_accuracy" in objectives and extractor != "domain":
        raise ValueError(
            f"class_accuracy is measured with the domain classifier of the data's classes, "
            f"which a {extractor} metric does not train; use a *_domain metric (e.g. "
            "metric='fid_domain') or drop class_accuracy."
        )


# The budget keys that bound a default space (a preset may set any of them).
SPACE_BOUNDS = ("max_params", "max_train_macs", "max_generator_macs")


def conditional_space(data, space, conditional, budget):
    """The search space for `data`, class-conditional when asked (or when `space` is).

    Args:
        data: The loaded `kgan_nas.data.ImageData`.
        space: The user's `SearchSpace`, or None for the default one.
        conditional: Whether `search` was called with `conditional=True`.
        budget: The resolved budget; its `SPACE_BOUNDS` bound a default space.

    Returns:
        The `SearchSpace`: with `num_classes=data.num_classes` for a
        conditional search, unchanged otherwise.

    Raises:
        ValueError: for a conditional search on data without labels, with a
            single class, or with a class that has no training image; or a
            space whose `num_classes` differs from the data's.
    """
    from kgan_nas.core.space import SearchSpace

    if space is None:
        bounds = {key: budget[key] for key in SPACE_BOUNDS if budget.get(key) is not None}
        space = SearchSpace(image_shape=data.image_shape, **bounds)
    if not (conditional or space.conditional):
        return space
    num_classes = check_labels(data)
    if space.conditional and space.num_classes != num_classes:
        raise ValueError(
            f"The search space has num_classes={space.num_classes} but the data set's labels "
            f"give {num_classes} classes; use SearchSpace(num_classes={num_classes}, ...)."
        )
    return dataclasses.replace(space, num_classes=num_classes)


def check_labels(data):
    """The number of classes of `data`, checked for a conditional search.

    Raises:
        ValueError: without labels, with one class, or with a class that has
            no training image (its generator could never learn it).
    """
    if data.train_labels is None:
        raise ValueError(
            "conditional=True needs class labels, but this data set has none. Give "
            "labels=... with an array, a .npz holding `y`, a folder with one subfolder "
            "per class, or a named dataset with labels (e.g. 'digits')."
        )
    num_classes = data.num_classes
    if num_classes < 2:
        raise ValueError(
            "conditional=True needs at least two classes, but every label is 0; "
            "search unconditionally instead (conditional=False)."
        )
    counts = np.bincount(np.asarray(data.train_labels), minlength=num_classes)
    empty = [int(label) for label in np.flatnonzero(counts == 0)]
    if empty:
        raise ValueError(
            f"Class(es) {empty} have no training images, so a conditional generator cannot "
            "learn them; use labels 0..K-1 that all occur in the training data."
        )
    return num_classes
