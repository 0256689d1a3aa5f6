"""Search GAN architectures for scikit-learn's 8x8 digits (offline, a few minutes on CPU).

python examples/search_digits.py --directory runs/digits --generations 4
"""

import argparse

import kgan_nas


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", default="runs/digits-example")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--steps", type=int, default=300, help="training steps per candidate")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", default="subprocess", choices=["subprocess", "inprocess"])
    parser.add_argument(
        "--max-params",
        type=int,
        default=150_000,
        help="bound on generator + discriminator parameters",
    )
    parser.add_argument(
        "--no-xla", action="store_true", help="skip XLA compilation (faster start, slower steps)"
    )
    parser.add_argument(
        "--pareto", action="store_true", help="optimise FID and generator size together (NSGA-II)"
    )
    parser.add_argument(
        "--no-final", action="store_true", help="skip the final training (quick has none)"
    )
    args = parser.parse_args(argv)

    space = kgan_nas.SearchSpace(
        image_shape=(8, 8, 1),
        latent_dim=32,
        generator_layers=(1, 4),
        discriminator_layers=(1, 4),
        max_params=args.max_params,
    )
    result = kgan_nas.search(
        "digits",
        space=space,
        preset="quick",
        generations=args.generations,
        population=args.population,
        steps_per_candidate=args.steps,
        directory=args.directory,
        final=None if args.no_final else "preset",
        options=kgan_nas.SearchOptions(
            objectives=("fid", "params") if args.pareto else None,
            jit_compile=False if args.no_xla else "auto",
        ),
        run=kgan_nas.RunSettings(workers=args.workers, executor=args.executor),
    )
    print(result.summary())
    if args.pareto:
        for record in result.pareto_front():
            print(
                f"{record['key']}  fid_domain={record['fid_domain']:.3f}  params={record['params']}"
            )
    return result


if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    main()
