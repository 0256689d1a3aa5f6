"""Search GAN architectures for a folder of your own PNG/JPEG images.

All images must have the same size. Subfolders, when there are two or more,
are read as classes (the domain feature extractor then trains on them).

    python examples/search_image_folder.py path/to/images --preset quick --directory runs/mine
"""

import argparse

from _cli import add_search_arguments
from _cli import search_options

import kgan_nas
from kgan_nas import data


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Images are found recursively; files and folders starting with '.' are skipped.",
    )
    parser.add_argument("folder", help="folder of PNG/JPEG images, all of one size")
    add_search_arguments(
        parser, directory="runs/image-folder", preset="quick", max_params=2_000_000
    )
    args = parser.parse_args(argv)

    # Read the folder once to learn the image shape (and fail early on a bad folder).
    try:
        images = data.load_dataset(args.folder)
    except (ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(
        f"{len(images.train) + len(images.eval)} images of shape {images.image_shape}"
        + (f", classes {list(images.class_names)}" if images.class_names else "")
    )
    space = kgan_nas.SearchSpace(image_shape=images.image_shape, max_params=args.max_params)
    result = kgan_nas.search(args.folder, space=space, **search_options(args))
    print(result.summary())
    print(f"kgan-nas report {args.directory}   # writes {args.directory}/report.html")
    return result


if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    main()
