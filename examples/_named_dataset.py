"""Shared command line of the MNIST / Fashion-MNIST / CIFAR-10 examples."""

import argparse

import kgan_nas


def run(dataset, image_shape, description, argv=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--directory", default=f"runs/{dataset}")
    parser.add_argument("--preset", default="default", choices=["quick", "default", "paper"])
    parser.add_argument("--generations", type=int)
    parser.add_argument("--population", type=int)
    parser.add_argument("--steps", type=int, help="training steps per candidate")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--data", default=dataset,
                        help=f"{dataset!r} downloads through keras.datasets (needs internet); "
                             "or pass a .npz / image folder you have locally")
    parser.add_argument("--metric", default="fid_domain",
                        choices=["fid_domain", "fid_inception"])
    args = parser.parse_args(argv)
    try:
        result = kgan_nas.search(
            args.data, space=kgan_nas.SearchSpace(image_shape=image_shape),
            preset=args.preset, generations=args.generations, population=args.population,
            steps_per_candidate=args.steps, workers=args.workers, metric=args.metric,
            directory=args.directory)
    except RuntimeError as exc:  # e.g. offline: the message says what to do.
        parser.exit(2, f"error: {exc}\n")
    print(result.summary())
    return result
