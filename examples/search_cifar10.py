"""Search GAN architectures for CIFAR-10 (downloads it through keras.datasets).

Offline, it stops with a message saying where to put the file or how to pass a
local .npz / image folder instead (--data PATH).

    python examples/search_cifar10.py --preset quick --directory runs/cifar10
"""

from _cli import run_named_dataset

if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    run_named_dataset("cifar10", (32, 32, 3), __doc__.splitlines()[0])
