"""Search GAN architectures for MNIST (downloads it through keras.datasets).

Offline, it stops with a message saying where to put the file or how to pass a
local .npz / image folder instead (--data PATH).

    python examples/search_mnist.py --preset quick --directory runs/mnist
"""

from _cli import run_named_dataset

if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    run_named_dataset("mnist", (28, 28, 1), __doc__.splitlines()[0])
