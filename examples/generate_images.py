"""Load a run's best generator and write a PNG grid of new images.

python examples/generate_images.py runs/digits --n 64 --out digits.png
"""

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="a kgan_nas run directory")
    parser.add_argument("--n", type=int, default=64, help="number of images")
    parser.add_argument("--out", default="generated.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--key", help="a candidate key from history.jsonl instead of the best")
    args = parser.parse_args(argv)
    # Imported after parsing, so --help answers without loading Keras.
    import keras
    import numpy as np

    from kgan_nas import SearchResult
    from kgan_nas.data import save_image_grid

    result = SearchResult(args.directory)
    # A plain keras.Model, loaded with safe_mode=True: use it like any other.
    generator = result.generator(args.key) if args.key else result.best_generator()
    latent = (
        np.random.default_rng(args.seed)
        .normal(size=(args.n, generator.input_shape[-1]))
        .astype("float32")
    )
    images = keras.ops.convert_to_numpy(generator.predict(latent, verbose=0))
    save_image_grid(images, args.out)
    print(f"wrote {args.out}: {args.n} images of shape {images.shape[1:]}")


if __name__ == "__main__":
    main()
