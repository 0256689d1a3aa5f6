"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) of image batches.

A policy is a comma-separated list of ops from `AUGMENT_OPS`, applied in the
order given to real and generated images before every discriminator call, so
the discriminator never sees an image the augmentation could not have made
and the generator's gradients flow back through the augmentation:

* `"translation"`: shift by a whole number of pixels, up to 1/8 of the side
  (rounded, at least 1) along each axis, independently; the pixels shifted
  in are 0 (mid-grey for images in [-1, 1]; DiffAugment pads with 0 too);
* `"cutout"`: set a rectangle of half the height by half the width (rounded)
  to 0, at a random place fully inside the image;
* `"color"`: random brightness (add U(-0.5, 0.5)), saturation (scale the
  distance from the pixel's channel mean by U(0, 2)) and contrast (scale
  the distance from the image's mean by U(0.5, 1.5)), as DiffAugment;
  3-channel images only.

Each image of a batch is augmented with probability `probability` (one draw
per image for the whole policy); an image not drawn passes unchanged.

Everything is written with `keras.ops` and takes its randomness as an input
tensor of uniform numbers, `(batch, UNIFORMS_PER_IMAGE)` in [0, 1), so it is
backend-neutral, has static shapes and compiles with XLA; the train steps
draw that tensor from the GAN's seeded noise (`noise.tf_uniform`, or a JAX
key split from the seed state).
"""

import keras
from keras import ops

from kgan_nas import validate
from kgan_nas.core.genome import AUGMENT_OPERATIONS as AUGMENT_OPS

# Columns of the uniform draw: the probability mask, then each op's numbers.
UNIFORMS_PER_IMAGE = 8
_MASK = 0
_TRANSLATION = slice(1, 3)
_CUTOUT = slice(3, 5)
_COLOR = slice(5, 8)
# The value translation shifts in and cutout writes (DiffAugment's 0).
PAD_VALUE = 0.0


def check_augment(augment, channels=None):
    """Checks an augmentation policy and returns its ops.

    Args:
        augment: None or `""` (no augmentation), or a comma-separated list of
            ops from `AUGMENT_OPS`, e.g. `"translation,cutout"` (spaces
            around the names are ignored).
        channels: The images' channel count, to check that `"color"` gets
            RGB images. Defaults to None (not checked).

    Returns:
        A tuple of op names in the policy's order (empty for no
        augmentation).

    Raises:
        ValueError: if `augment` is not a string or None, names an unknown op,
            has an empty item or a repeated op, or asks for `"color"` on
            images with other than 3 channels.
    """
    if augment is None:
        return ()
    if not isinstance(augment, str):
        raise ValueError(
            f"augment must be None or a comma-separated string of ops from "
            f"{', '.join(AUGMENT_OPS)} (e.g. 'translation,cutout'), got {augment!r}."
        )
    if not augment.strip():
        return ()
    names = tuple(item.strip() for item in augment.split(","))
    for name in names:
        if not name:
            raise ValueError(
                f"augment {augment!r} has an empty item; separate op names by single "
                f"commas, e.g. 'translation,cutout'."
            )
        if name not in AUGMENT_OPS:
            raise ValueError(
                f"Unknown augmentation op {name!r} in augment={augment!r}. "
                f"Use ops from: {', '.join(AUGMENT_OPS)}."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"augment {augment!r} repeats an op; name each op once.")
    if "color" in names and channels is not None and channels != 3:
        raise ValueError(
            f"augment op 'color' needs RGB images (3 channels), but these have "
            f"{channels}; drop 'color' from augment (e.g. augment='translation,cutout')."
        )
    return names


def check_augment_probability(probability):
    """Checks the per-image augmentation probability; returns it as a float.

    Args:
        probability: A number in (0, 1].

    Returns:
        The probability as a Python float.

    Raises:
        ValueError: if `probability` is not a number in (0, 1].
    """
    if not validate.is_finite_number(probability) or not 0.0 < probability <= 1.0:
        raise ValueError(
            f"augment_probability must be a number in (0, 1], got {probability!r}; "
            "use 1.0 to augment every image."
        )
    return float(probability)


def augment_images(images, names, probability, uniform):
    """Applies a checked policy to a batch with the given random numbers.

    Args:
        images: Images `(batch, height, width, channels)`.
        names: Op names from `check_augment`, applied in this order.
        probability: Chance that an image is augmented, in (0, 1].
        uniform: Uniform numbers in [0, 1), `(batch, UNIFORMS_PER_IMAGE)`
            (any float dtype): column 0 selects the images (`u < probability`),
            the others drive the ops.

    Returns:
        The augmented batch, same shape and dtype as `images`.
    """
    if not names:
        return images
    uniform = ops.cast(uniform, "float32")
    out = images
    for name in names:
        if name == "translation":
            out = translate(out, uniform[:, _TRANSLATION])
        elif name == "cutout":
            out = cutout(out, uniform[:, _CUTOUT])
        else:
            out = color(out, uniform[:, _COLOR])
    if probability >= 1.0:
        return out
    chosen = ops.reshape(uniform[:, _MASK] < probability, (-1, 1, 1, 1))
    return ops.where(chosen, out, images)


def diff_augment(images, augment, *, probability=1.0, seed=None):
    """Augments a batch of images with a policy, outside training (to look at it).

    Args:
        images: Images `(batch, height, width, channels)`, e.g. in [-1, 1].
        augment: A policy, see `check_augment`.
        probability: Chance that an image is augmented, in (0, 1]. Defaults
            to 1.0.
        seed: Integer seed of the random numbers; the same seed gives the
            same augmentation. Defaults to None (fresh randomness).

    Returns:
        A tensor of the images' shape and dtype.

    Raises:
        ValueError: if the policy or probability is invalid.
    """
    images = ops.convert_to_tensor(images)
    names = check_augment(augment, images.shape[-1])
    probability = check_augment_probability(probability)
    uniform = keras.random.uniform((ops.shape(images)[0], UNIFORMS_PER_IMAGE), seed=seed)
    return augment_images(images, names, probability, uniform)


def _whole_numbers(uniform, count):
    """Uniform [0, 1) -> whole numbers 0..count-1, equally likely (float32)."""
    return ops.minimum(ops.floor(uniform * count), count - 1)


def _shift_matrices(shift, size, dtype):
    """`(batch, size, size)` one-hot rows: row y picks source pixel y - shift (or none)."""
    target = ops.arange(size, dtype="float32")[None, :, None]
    source = ops.arange(size, dtype="float32")[None, None, :]
    picks = ops.equal(source, target - ops.reshape(shift, (-1, 1, 1)))
    return ops.cast(picks, dtype)


def translation_limit(size):
    """The largest shift translation makes along a side of `size` pixels (DiffAugment's)."""
    return max(1, int(size * 0.125 + 0.5))


def translate(images, uniform):
    """Shifts each image by whole pixels; pixels shifted in are `PAD_VALUE`.

    Args:
        images: `(batch, height, width, channels)`.
        uniform: `(batch, 2)` uniforms in [0, 1): the row and column shifts,
            each uniform over `-s..s` with `s = translation_limit(side)`.

    Returns:
        The shifted images (same shape and dtype): `out[y, x] = in[y - dy,
        x - dx]` where that is inside the image, else `PAD_VALUE`.
    """
    height, width = images.shape[1], images.shape[2]
    limits = (translation_limit(height), translation_limit(width))
    dy = _whole_numbers(uniform[:, 0], 2 * limits[0] + 1) - limits[0]
    dx = _whole_numbers(uniform[:, 1], 2 * limits[1] + 1) - limits[1]
    rows = _shift_matrices(dy, height, images.dtype)
    cols = _shift_matrices(dx, width, images.dtype)
    # One-hot matrix products gather with zero fill, keep shapes static and
    # are differentiable everywhere; PAD_VALUE is 0, so the fill is right.
    out = ops.einsum("byk,bkxc->byxc", rows, images)
    return ops.einsum("bxk,bykc->byxc", cols, out)


def cutout_size(size):
    """The side of the cutout along a side of `size` pixels (half, rounded, at least 1)."""
    return max(1, int(size * 0.5 + 0.5))


def cutout(images, uniform):
    """Sets one rectangle per image to `PAD_VALUE`, fully inside the image.

    Args:
        images: `(batch, height, width, channels)`.
        uniform: `(batch, 2)` uniforms in [0, 1): the rectangle's top row and
            left column, uniform over every place it fits.

    Returns:
        The images (same shape and dtype) with a `cutout_size(height)` by
        `cutout_size(width)` rectangle set to `PAD_VALUE`.
    """
    height, width = images.shape[1], images.shape[2]
    size_y, size_x = cutout_size(height), cutout_size(width)
    top = ops.reshape(_whole_numbers(uniform[:, 0], height - size_y + 1), (-1, 1))
    left = ops.reshape(_whole_numbers(uniform[:, 1], width - size_x + 1), (-1, 1))
    rows = ops.arange(height, dtype="float32")[None, :]
    cols = ops.arange(width, dtype="float32")[None, :]
    in_rows = ops.logical_and(rows >= top, rows < top + size_y)
    in_cols = ops.logical_and(cols >= left, cols < left + size_x)
    inside = ops.logical_and(in_rows[:, :, None], in_cols[:, None, :])[..., None]
    return ops.where(inside, ops.cast(PAD_VALUE, images.dtype), images)


def color(images, uniform):
    """DiffAugment's colour jitter: brightness, saturation, contrast (RGB images).

    Args:
        images: `(batch, height, width, 3)`.
        uniform: `(batch, 3)` uniforms in [0, 1) for the three jitters.

    Returns:
        The jittered images, same shape and dtype.
    """
    dtype = images.dtype
    u = ops.reshape(ops.cast(uniform, dtype), (-1, 1, 1, 3))
    out = images + (u[..., 0:1] - 0.5)
    mean = ops.mean(out, axis=3, keepdims=True)
    out = (out - mean) * (u[..., 1:2] * 2.0) + mean
    mean = ops.mean(out, axis=(1, 2, 3), keepdims=True)
    return (out - mean) * (u[..., 2:3] + 0.5) + mean
