"""Shared test helpers: where the real MNIST files are, and a tiny fake MNIST."""

import gzip
import os
import random
import struct

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def mnist_dir():
    """The directory holding real MNIST ($PURENET_DATA, else ../shared/data/mnist), or None."""
    for d in (os.environ.get("PURENET_DATA"), os.path.join(ROOT, "..", "shared", "data", "mnist")):
        if d and all(os.path.exists(os.path.join(d, f)) for f in MNIST_FILES):
            return d
    return None


needs_mnist = pytest.mark.skipif(
    mnist_dir() is None,
    reason="real MNIST not found: set PURENET_DATA to a folder with the four IDX .gz files "
           "(CI uses ../shared/data/mnist)")


def write_idx(path, dims, payload, magic_type=0x08):
    header = struct.pack(">BBBB", 0, 0, magic_type, len(dims)) + b"".join(
        struct.pack(">I", d) for d in dims)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + bytes(payload))


def make_tiny_mnist(folder, n_train=60, n_test=20, seed=0):
    """Four IDX files of 28x28 images: digit d is a bright bar in row band d."""
    rnd = random.Random(seed)

    def images(n):
        pix, labels = bytearray(), bytearray()
        for _ in range(n):
            d = rnd.randrange(10)
            img = bytearray(784)
            for r in range(2 * d + 2, 2 * d + 6):
                for c in range(4, 24):
                    img[r * 28 + c] = rnd.randrange(150, 256)
            pix += img
            labels.append(d)
        return pix, labels

    os.makedirs(folder, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pix, labels = images(n)
        write_idx(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"), (n, 28, 28), pix, )
        write_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"), (n,), labels)
    return folder


@pytest.fixture
def tiny_mnist(tmp_path):
    return make_tiny_mnist(str(tmp_path / "mnist"))
