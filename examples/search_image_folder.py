"""Search GAN architectures for a folder of your own PNG/JPEG images.

All images must have the same size. Subfolders, when there are two or more,
are read as classes (the domain feature extractor then trains on them).

    python examples/search_image_folder.py path/to/images --preset quick --directory runs/mine
"""

import argparse

import kgan_nas
from kgan_nas import data


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Images are found recursively; files and folders starting with '.' are skipped.")
    parser.add_argument("folder", help="folder of PNG/JPEG images, all of one size")
    parser.add_argument("--directory", default="runs/image-folder", help="run directory")
    parser.add_argument("--preset", default="quick", choices=["quick", "default", "paper"])
    parser.add_argument("--generations", type=int)
    parser.add_argument("--population", type=int)
    parser.add_argument("--steps", type=int, help="training steps per candidate")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--num-samples", type=int, help="generated images scored per candidate")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--executor", default="subprocess", choices=["subprocess", "inprocess"])
    parser.add_argument("--no-xla", action="store_true",
                        help="skip XLA compilation (faster start, slower steps)")
    parser.add_argument("--max-params", type=int, default=2_000_000,
                        help="bound on generator + discriminator parameters")
    args = parser.parse_args(argv)

    # Read the folder once to learn the image shape (and fail early on a bad folder).
    try:
        images = data.load_dataset(args.folder)
    except (ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"{len(images.train) + len(images.eval)} images of shape {images.image_shape}"
          + (f", classes {list(images.class_names)}" if images.class_names else ""))
    space = kgan_nas.SearchSpace(image_shape=images.image_shape, max_params=args.max_params)
    result = kgan_nas.search(
        args.folder, space=space, preset=args.preset, generations=args.generations,
        population=args.population, steps_per_candidate=args.steps,
        batch_size=args.batch_size, num_samples=args.num_samples, workers=args.workers,
        executor=args.executor, jit_compile=not args.no_xla, directory=args.directory)
    print(result.summary())
    print(f"kgan-nas report {args.directory}   # writes {args.directory}/report.html")
    return result


if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    main()
