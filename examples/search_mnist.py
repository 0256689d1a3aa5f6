"""Search GAN architectures for MNIST (downloads it through keras.datasets).

Offline, it stops with a message saying where to put the file or how to pass a
local .npz / image folder instead (--data PATH). `--data mnist_5k` searches
5,000 real MNIST digits that need no download (`pip install "kgan_nas[data]"`);
the `mnist_cpu` preset sizes that search for about 20 minutes on 2 CPU cores.

    python examples/search_mnist.py --preset quick --directory runs/mnist
    python examples/search_mnist.py --data mnist_5k --preset mnist_cpu --directory runs/mnist_5k
"""

from _cli import run_named_dataset

if __name__ == "__main__":  # Worker processes are spawned: keep the guard.
    run_named_dataset("mnist", (28, 28, 1), __doc__.splitlines()[0], offline="mnist_5k")
