"""The C engine equals the reference at the seed's real widths: 784-100-10 on real MNIST,
with 1 and 2 threads.  A few hundred samples keep the reference to a few seconds."""

import pytest

from purenet import Network
from conftest import mnist_dir, needs_c, needs_mnist


@pytest.fixture(scope="module")
def mnist_head():
    from purenet import data
    train, test = data.load_mnist_files(mnist_dir())
    return train.head(400), test.head(200)


def differing(a, b):
    """How many of two equally shaped nested lists' numbers are not ==."""
    if isinstance(a, list):
        return sum(differing(x, y) for x, y in zip(a, b))
    return a != b


@needs_c
@needs_mnist
def test_seed_network_on_real_mnist_is_bit_identical(mnist_head, simd_level):
    """The seed's settings (sigmoid, quadratic cost, N(0, 1) weights, batches of 10,
    η = 3.0), two epochs: every parameter and every test output is == across engines."""
    train, test = mnist_head
    nets = [Network([784, 100, 10], seed=0, backend=b, threads=t)
            for b, t in (("python", 1), ("c", 1), ("c", 2))]
    for net in nets:
        net.fit(train, 2, batch_size=10, lr=3.0)
    want = nets[0]
    for net in nets[1:]:
        what = "C engine, %d thread(s)" % net.engine.threads
        assert net.weights == want.weights, (what, differing(net.weights, want.weights))
        assert net.biases == want.biases, (what, differing(net.biases, want.biases))
        assert net.outputs(test) == want.outputs(test), what
    assert want.weights != Network([784, 100, 10], seed=0).weights     # it did train
