"""Reading a finite `tf.data.Dataset` of images (and labels) into numpy.

The check `_is_tf_dataset` goes by class name, so it needs no TensorFlow
import; TensorFlow is imported only when a dataset is actually read.
"""

from __future__ import annotations

import numpy as np

from kgan_nas.data.sources import _RawImages


def _is_tf_dataset(obj):
    # Checked by class name so that no TensorFlow import is needed.
    return any(
        cls.__module__.startswith("tensorflow") and cls.__name__ in ("DatasetV2", "DatasetV1")
        for cls in type(obj).__mro__
    )


def _read_tf_dataset(dataset):
    import tensorflow as tf

    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(
            "The tf.data.Dataset is infinite (it has .repeat()); pass a "
            "finite one, e.g. remove .repeat() or add .take(n)."
        )
    image_key, label_key = _element_keys(dataset.element_spec)
    image_spec = dataset.element_spec if image_key is None else dataset.element_spec[image_key]
    image_parts, label_parts = [], []
    for element in dataset.as_numpy_iterator():
        image_parts.append(np.asarray(element if image_key is None else element[image_key]))
        if label_key is not None:
            label_parts.append(np.asarray(element[label_key]))
    if not image_parts:
        raise ValueError("The tf.data.Dataset is empty; it yielded no images.")
    _check_not_flat(image_spec.shape, image_parts[0].shape, image_key, label_key is not None)
    batched = _batched(image_spec.shape, image_parts[0].shape)
    join = np.concatenate if batched else np.stack
    try:
        images = join(image_parts)
    except ValueError:
        sizes = sorted({part.shape[1:] if batched else part.shape for part in image_parts})
        shown = ", ".join(str(size) for size in sizes[:3]) + (", ..." if len(sizes) > 3 else "")
        fix = (
            "Decode every file with the same channels, e.g. `tf.io.decode_jpeg(data, channels=3)`."
            if len({size[:-1] for size in sizes}) == 1
            else "Resize them in the pipeline, e.g. `.map(lambda x: tf.image.resize(x, (32, 32)))`."
        )
        raise ValueError(
            f"The tf.data.Dataset yields images of different sizes ({shown}); a search "
            f"needs one size. {fix}"
        ) from None
    labels = join(label_parts) if label_parts else None
    return _RawImages(images, labels, "tf.data")


def _check_not_flat(spec_shape, first_shape, image_key, has_label):
    """Refuses flattened images, which would otherwise load as strips one pixel high.

    A rank-1 element is one flat vector. A rank-2 element whose width holds a
    square number of pixels (times 1 or 3 channels), e.g. 784, is a batch of
    them when its first axis is unknown in the spec (what `.batch()` leaves,
    `(None, 784)`) or, where the spec does not say (`drop_remainder=True`
    gives `(64, 784)`; a `py_function` no rank), when it is wider than high. A
    square element, `(64, 64)`, is one grayscale image.

    Raises:
        ValueError: naming the shape and the reshape that gives images.
    """
    if len(first_shape) not in (1, 2):
        return
    length = first_shape[-1]
    side, channels = _square_side(length)
    batched = len(first_shape) == 2
    if batched:
        unknown_first = spec_shape.rank == 2 and spec_shape[0] is None
        wide = first_shape[1] > first_shape[0] and (
            spec_shape.rank is None or spec_shape[0] is not None
        )
        if side is None or first_shape[0] == first_shape[1] or not (unknown_first or wide):
            return  # a grayscale image
    target = (side or "H", side or "W", channels)
    shape = ", ".join(str(size) for size in ((-1,) + target if batched else target))
    reshape = f"tf.reshape(x, ({shape}))"
    if isinstance(image_key, str):
        mapped = f"lambda d: {{**d, {image_key!r}: tf.reshape(d[{image_key!r}], ({shape}))}}"
    elif image_key is None:
        mapped = f"lambda x: {reshape}"
    elif has_label:
        mapped = f"lambda x, y: ({reshape}, y)"
    else:
        mapped = f"lambda x: ({reshape},)"
    what = "batches of flat vectors" if batched else "flat vectors"
    shown = tuple(spec_shape) if spec_shape.rank is not None else tuple(first_shape)
    raise ValueError(
        f"The tf.data.Dataset yields {what} of {length} values (shape {shown}); a search "
        f"needs images shaped (height, width, channels). Reshape them in the pipeline, "
        f"e.g. `.map({mapped})`."
    )


def _square_side(length):
    """`(side, channels)` when `length` is side x side x 1 or 3 pixels, else `(None, 1)`."""
    for channels in (1, 3):
        side = round((length / channels) ** 0.5)
        if side >= 4 and side * side * channels == length:
            return side, channels
    return None, 1


def _batched(spec_shape, first_shape):
    """Whether the dataset's elements are batches of images rather than single images.

    Rank 4 is a batch; rank 2 one grayscale image. Rank 3 is a batch of
    grayscale images `(B, H, W)` or one image `(H, W, C)`, and the last axis
    decides (the spec's, else the first element's): 1 or 3 is an image's
    channels (decoded files are `(None, None, 3)`; `(None, 28, 1)` comes
    from a reshape), over 4 is a width. 2 or 4 is a tiny grayscale batch
    when `.batch()` left only the first axis unknown, `(None, 4, 4)`, and
    channels otherwise.
    """
    if spec_shape.rank is not None and spec_shape.rank != 3:
        return spec_shape.rank == 4
    if len(first_shape) != 3:
        return len(first_shape) == 4
    known = spec_shape.rank == 3 and spec_shape[-1] is not None
    last = spec_shape[-1] if known else first_shape[-1]
    if last in (1, 3):
        return False
    if last in (2, 4):
        return spec_shape.rank == 3 and spec_shape[0] is None and spec_shape[1] is not None
    return True


def _element_keys(spec):
    """Where a tf.data element keeps its image and label.

    Returns:
        `(image_key, label_key)`: indices or dict keys into the element;
        `image_key` is `None` when the element is the image itself and
        `label_key` is `None` when there is no label.
    """
    if isinstance(spec, dict):
        image_key = next((k for k in ("image", "images", "x") if k in spec), None)
        if image_key is None:
            raise ValueError(
                f"The tf.data.Dataset yields dicts with keys {sorted(spec)}; "
                "expected an 'image' key (and optionally 'label'). Map it to "
                "(image, label) pairs with `.map(...)`."
            )
        label_key = next((k for k in ("label", "labels", "y") if k in spec), None)
        return image_key, label_key
    if isinstance(spec, (tuple, list)):
        if len(spec) not in (1, 2):
            raise ValueError(
                f"The tf.data.Dataset yields {len(spec)}-tuples; expected "
                "images or (image, label) pairs."
            )
        return 0, (1 if len(spec) == 2 else None)
    return None, None
