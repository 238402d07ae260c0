"""What the bench scripts share: the import path, where MNIST is, fit's sample orders and
the digest that says two networks' parameters are equal."""

import hashlib
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from purenet import data          # noqa: E402


def load_mnist(data_dir=None):
    """(train, test): --data-dir, else $PURENET_DATA, else the download cache; never
    downloads."""
    return data.load_mnist(data_dir, download=False)


ORDER_SEED = 1      # the sample orders' generator: a benchmarked net's rng is Random(1)


def orders(n, repeat):
    """repeat shuffles of range(n), as Network.fit draws them from random.Random(ORDER_SEED)."""
    rnd = random.Random(ORDER_SEED)
    out = []
    for _ in range(repeat):
        order = list(range(n))
        rnd.shuffle(order)
        out.append(order)
    return out


def params_digest(net):
    """sha256 of every weight's and bias's repr: equal digests, equal parameters."""
    return hashlib.sha256(repr((net.weights, net.biases)).encode()).hexdigest()
