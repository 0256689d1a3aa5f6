"""How `DomainExtractor.fit` builds and trains its classifier.

The network (a small convnet sized to the image), the checks on `fit`'s
arguments, the training targets (given labels or k-means pseudo-labels), the
held-out split and the default number of epochs.
"""

import keras
import numpy as np

from kgan_nas import validate
from kgan_nas.features.pseudo_labels import kmeans_pseudo_labels

_FEATURE_LAYER = "features"


def _build_domain_classifier(image_shape, num_classes, feature_dim):
    """Convnet sized to the image: halve the resolution down to ~4 pixels.

    Layout: a 3x3 stem conv (16 filters), one stride-2 conv per halving (at
    most three, doubling the filters up to 64), a 3x3 conv, global average
    pooling, a `feature_dim` dense layer named "features" (its
    pre-activation output is the embedding, which avoids the dead all-zero
    dimensions a ReLU output would give FID), ReLU, softmax.
    """
    height, width, channels = image_shape
    num_halvings = 0
    side = min(height, width)
    while side > 4 and num_halvings < 3:
        side = (side + 1) // 2
        num_halvings += 1

    # Narrow on purpose: the classifier must train in seconds on a CPU.
    filters = 16
    inputs = keras.Input(shape=(height, width, channels), name="images")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="stem")(inputs)
    for index in range(num_halvings):
        filters = min(2 * filters, 64)
        x = keras.layers.Conv2D(
            filters, 3, strides=2, padding="same", activation="relu", name=f"down{index}"
        )(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="head_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(feature_dim, name=_FEATURE_LAYER)(x)
    x = keras.layers.Activation("relu", name="features_relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="domain_classifier")


def _split_holdout(num_samples, fraction, batch_size, seed):
    """Random (train, held-out) index split and the training batch size.

    The training part is trimmed to whole batches and the remainder joins
    the held-out part: every training step then has one shape, and under
    JAX each new shape would cost another XLA compilation.
    """
    order = np.random.default_rng(seed).permutation(num_samples)
    num_holdout = min(max(1, int(round(num_samples * fraction))), num_samples - 1)
    num_train = num_samples - num_holdout
    batch_size = min(batch_size, num_train)
    num_train = num_train // batch_size * batch_size
    return order[:num_train], order[num_train:], batch_size


def _auto_epochs(num_train, batch_size, target_steps=400):
    """Enough epochs for about `target_steps` updates, within [3, 50]."""
    steps_per_epoch = int(np.ceil(num_train / batch_size))
    return int(np.clip(np.ceil(target_steps / steps_per_epoch), 3, 50))


def _encode_labels(labels, num_images):
    """Maps arbitrary integer labels to 0..k-1, checking shape and count."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (num_images,):
        raise ValueError(
            f"`labels` must have shape ({num_images},) to match the images, "
            f"got {labels.shape}. Pass one integer class per image."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"`labels` must be integers, got dtype {labels.dtype}. Pass "
            "class indices, not one-hot vectors or names."
        )
    classes, encoded = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "`labels` must contain at least two classes; pass labels=None "
            "to use k-means pseudo-labels instead."
        )
    return encoded.reshape(-1)


def _check_fit_arguments(images, validation_fraction, batch_size, epochs):
    """Raises unless `DomainExtractor.fit` can train with these arguments.

    Args:
        images: The validated training images.
        validation_fraction: Share of the images held out.
        batch_size: Training batch size.
        epochs: Training epochs, or None for the automatic number.

    Raises:
        ValueError: If there are fewer than 2 images, or `validation_fraction`,
            `batch_size` or `epochs` is out of range.
    """
    if len(images) < 2:
        raise ValueError(
            "`DomainExtractor.fit` needs at least 2 images (one is held "
            f"out to measure accuracy); got {len(images)}."
        )
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"`validation_fraction` must be in (0, 1), got {validation_fraction!r}.")
    for name, value in (("batch_size", batch_size), ("epochs", epochs)):
        if value is None and name == "epochs":
            continue
        if not validate.is_integer(value) or value < 1:
            raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


def _training_targets(images, labels, num_clusters, seed):
    """The classes the classifier learns: `labels` encoded, or k-means clusters.

    Args:
        images: The validated training images.
        labels: Integer class labels `(N,)`, or None for k-means pseudo-labels.
        num_clusters: k-means clusters when `labels` is None.
        seed: Seed for k-means.

    Returns:
        A tuple `(targets, label_source)`: an int array `(N,)` with values in
        `0..k-1`, and `"labels"` or `"kmeans"`.

    Raises:
        ValueError: If the labels do not match the images or hold fewer than
            two classes, or there are fewer than two distinct images to cluster.
    """
    if labels is None:
        targets = kmeans_pseudo_labels(images, num_clusters=num_clusters, seed=seed)
        label_source = "kmeans"
    else:
        targets = _encode_labels(labels, len(images))
        label_source = "labels"
    return targets, label_source


def _compiled_classifier(image_shape, num_classes, feature_dim, learning_rate):
    """Builds the domain classifier and compiles it for training with Adam.

    Args:
        image_shape: `(H, W, C)` of the training images.
        num_classes: Number of target classes.
        feature_dim: Width of the feature layer.
        learning_rate: Adam learning rate.

    Returns:
        The compiled `keras.Model`.
    """
    classifier = _build_domain_classifier(image_shape, num_classes, feature_dim)
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # XLA compilation costs more than it saves for this tiny model
        # on TensorFlow; JAX always traces with jit.
        jit_compile=keras.backend.backend() == "jax",
    )
    return classifier
