"""Reading a folder of PNG/JPEG images, with class labels from subfolders.

Pillow is imported inside the functions that need it.
"""

from __future__ import annotations

import numpy as np

from kgan_nas.data.sources import _RawImages

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _read_folder(folder):
    from PIL import Image

    files = _list_image_files(folder)
    (width, height), target_mode = _common_size_and_mode(files)
    channels = len(target_mode)
    images = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert(target_mode))
        images[i] = pixels.reshape(height, width, channels)
    labels, class_names = _folder_labels(folder, files)
    return _RawImages(images, labels, folder.name, class_names=class_names)


def _list_image_files(folder):
    """PNG/JPEG files under `folder`, recursively, sorted, hidden skipped."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise ValueError(
            f"No PNG/JPEG images found under {folder} (searched recursively "
            f"for {', '.join(IMAGE_EXTENSIONS)}). Pass the folder that holds "
            "the images, or convert them to PNG first."
        )
    return files


def _common_size_and_mode(files):
    """Checks that all images share one size; picks the Pillow mode to load.

    Reads headers only, so a size mismatch is reported before any decoding.
    Grayscale stays "L"; a folder with any colour image is loaded as "RGB"
    (grayscale images are promoted losslessly); any alpha gives "RGBA".

    Returns:
        `((width, height), mode)`.
    """
    from PIL import Image

    first_size, any_alpha, all_gray = None, False, True
    unreadable = []  # all of them at once: one run per bad file would be a chore
    for path in files:
        try:
            with Image.open(path) as image:
                size, mode, info = image.size, image.mode, image.info
        except OSError as error:
            unreadable.append(f"{path} ({error})")
            continue
        if first_size is None:
            first_size = size
        elif size != first_size:
            (w0, h0), (w1, h1) = first_size, size
            raise ValueError(
                "All images must have the same size, but "
                f"{files[0]} is {w0}x{h0} and {path} is {w1}x{h1} (width x "
                "height). Resize them to one size first, e.g. with Pillow "
                f"`Image.open(p).resize(({w0}, {h0})).save(p)`."
            )
        if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            raise ValueError(
                f"{path} is a 16-bit or float image (mode {mode}), which is "
                "not supported; convert the images to 8-bit PNG."
            )
        any_alpha |= mode in ("RGBA", "LA", "PA", "RGBa", "La") or ("transparency" in info)
        all_gray &= mode in ("1", "L", "LA", "La")
    if unreadable:
        shown = "; ".join(unreadable[:5]) + (
            f"; and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        )
        raise ValueError(
            f"Cannot read {len(unreadable)} image file{'' if len(unreadable) == 1 else 's'}: "
            f"{shown}. Remove or re-save {'it' if len(unreadable) == 1 else 'them'}."
        )
    mode = "RGBA" if any_alpha else "L" if all_gray else "RGB"
    return first_size, mode


def _folder_labels(folder, files):
    """Labels from top-level subfolder names, when there are several.

    Returns:
        `(labels, class_names)`, or `(None, None)` with 0 or 1 subfolders.
    """
    relative = [path.relative_to(folder).parts for path in files]
    class_names = sorted({parts[0] for parts in relative if len(parts) > 1})
    if len(class_names) < 2:
        return None, None
    loose = [path for path, parts in zip(files, relative) if len(parts) == 1]
    if loose:
        raise ValueError(
            f"{folder} has class subfolders {class_names} but also "
            f"{len(loose)} image(s) directly inside it (e.g. {loose[0]}); "
            "move them into a class subfolder or into a folder of their own."
        )
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[parts[0]] for parts in relative], dtype=np.int64)
    return labels, tuple(class_names)
