"""Weight inheritance: a mutated network starts from its parent's trained weights.

Used by `EvolveArchitecture` (children of the model in `fit`) and by the
search itself when a strategy names a parent (`GeneticSearch(inherit_weights=True)`).
Works on any Keras models; imports nothing heavy itself.
"""

import os


def inherit_weights(source, target):
    """Copies weights from `source` into `target` wherever layers match.

    The layers that own weights are paired in order, as the longest common
    subsequence of their signatures (layer class and the shapes of all its
    weights), and each pair gets `source`'s weights. So when a mutation
    inserts, removes or reshapes a layer, the layers before and after it
    keep their trained weights; only the changed ones keep their fresh
    initialisation.

    Example:

    ```python
    child_generator, child_discriminator = kgan_nas.evaluation.decode.build_models(child, space)
    inherit_weights(gan.generator, child_generator)
    ```

    Args:
        source: A Keras model with trained weights (e.g. a parent generator).
        target: A Keras model to receive them (e.g. a child's generator).

    Returns:
        The copied `(source layer name, target layer name)` pairs, in order.
    """
    source_layers = [layer for layer in source.layers if layer.weights]
    target_layers = [layer for layer in target.layers if layer.weights]
    pairs = _common_subsequence(
        [layer_signature(layer) for layer in source_layers],
        [layer_signature(layer) for layer in target_layers],
    )
    for i, j in pairs:
        target_layers[j].set_weights(source_layers[i].get_weights())
    return [(source_layers[i].name, target_layers[j].name) for i, j in pairs]


def layer_signature(layer):
    """A layer's class name and the shapes of all its weights (what must match to copy them)."""
    return type(layer).__name__, tuple(tuple(weight.shape) for weight in layer.weights)


def _common_subsequence(first, second):
    """Index pairs `(i, j)` of a longest common subsequence of two sequences.

    Pairs increase in both indices and `first[i] == second[j]` for each.
    Among equally long answers it prefers the earliest elements of `first`.
    """
    rows, cols = len(first), len(second)
    # lengths[i][j]: LCS length of first[i:] and second[j:].
    lengths = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if first[i] == second[j]:
                lengths[i][j] = lengths[i + 1][j + 1] + 1
            else:
                lengths[i][j] = max(lengths[i + 1][j], lengths[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < rows and j < cols:
        if first[i] == second[j] and lengths[i][j] == lengths[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif lengths[i][j + 1] >= lengths[i + 1][j]:
            j += 1
        else:
            i += 1
    return pairs


def inherit_from_saved(gan, directory):
    """Copies weights from a saved candidate into `gan`'s two networks.

    Args:
        gan: A `kgan_nas.GAN` (or any object with `generator` and
            `discriminator` models) freshly built for a child genome.
        directory: A candidate folder holding `generator.keras` and
            `discriminator.keras` (what the search saves for each candidate).

    Returns:
        The number of layers that received weights (0 when the folder has no
        saved models, e.g. the parent failed).
    """
    import keras

    from kgan_nas import layers  # noqa: F401  (registers MinibatchStd for loading)

    copied = 0
    for name in ("generator", "discriminator"):
        path = os.path.join(directory, f"{name}.keras")
        if not os.path.isfile(path):
            return copied
        source = keras.saving.load_model(path, compile=False, safe_mode=True)
        copied += len(inherit_weights(source, getattr(gan, name)))
    return copied
