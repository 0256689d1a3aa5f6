"""Search class-conditional GANs for scikit-learn's 8x8 digits: ask for a digit, get that digit.

python examples/conditional_digits.py --directory runs/conditional-digits --generations 3

Generators take `(z, class)` and discriminators `(image, class)`; how they take
the class is a gene of the search. The candidates are ranked by domain FID and
class accuracy together (the share of generated images that the data's own
classifier assigns to the requested class; chance is 10 %), and the script
writes a grid with one row per digit from the best generator.
"""

import argparse

from _cli import add_search_arguments
from _cli import search_options

import kgan_nas


def main(argv=None):
    parser = add_search_arguments(
        argparse.ArgumentParser(description=__doc__.splitlines()[0]),
        directory="runs/conditional-digits",
        preset="quick",
        max_params=150_000,
    )
    parser.add_argument("--grid", default="conditional_digits.png", help="PNG of one row per digit")
    args = parser.parse_args(argv)
    space = kgan_nas.SearchSpace(
        image_shape=(8, 8, 1), latent_dim=32, max_params=args.max_params, num_classes=10
    )
    result = kgan_nas.search(
        "digits",
        space=space,
        **search_options(args, conditional=True, objectives=("fid", "class_accuracy")),
    )
    print(result.summary())
    # One row per digit: 8 samples of each class, from the same latent seed.
    labels = [digit for digit in range(10) for _ in range(8)]
    images = result.sample(len(labels), labels=labels)
    kgan_nas.data.save_image_grid(images, args.grid, nrow=8)
    best = result.best_record["fitness"]
    print(
        f"best generator: class accuracy {best['class_accuracy']:.3f} (chance 0.100); "
        f"wrote {args.grid}"
    )
    return result


if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    main()
