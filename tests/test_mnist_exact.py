"""The C engine equals the reference on real MNIST at real widths (784-100-10 and
784-30-10), with 1 and 2 threads, at each SIMD level: every parameter (and momentum
velocity), every test output and the cost are the same bits.  The one test below runs
four cases, through both ways an engine is driven:

- ``fit``: Network.fit (the shuffle drawn by the engine's shuffled_order, then
  train_order), from the Network's own seeded initial weights;
- ``batches``: engine.train_batches with lists of sample indices, from given weights.

A few hundred to a thousand samples keep the reference to about a second a case; its
results are computed once per case and compared with the C engine at every level."""

import random

import pytest

from purenet import Network, data
from purenet.reference import ReferenceEngine

from helpers import (assert_same, epoch_batches, mnist_dir, needs_c, needs_mnist,
                     random_params)

# n: training and test samples (the first ones of each set); hits: fewer test samples
# right than this (chance is a tenth) means the case did not learn.
CASES = {
    # The seed's settings: sigmoid, quadratic cost, N(0, 1) weights, batches of 10, η = 3.0.
    "seed-784-100-10": dict(via="fit", sizes=[784, 100, 10], n=(400, 200), epochs=2, lr=3.0,
                            net=dict(seed=0), hits=40),
    # The seed's settings again, from weights drawn here, one epoch of given batches.
    "seed-784-30-10-batches": dict(via="batches", sizes=[784, 30, 10], n=(1000, 1000),
                                   epochs=1, lr=3.0, params_seed=2024, hits=150),
    # network2's settings: cross-entropy, L2 5.0, scaled init.
    "network2-l2": dict(via="fit", sizes=[784, 30, 10], n=(1000, 500), epochs=1, lr=0.5,
                        net=dict(seed=7, cost="cross-entropy", activation="sigmoid",
                                 init="scaled"), step=dict(l2=5.0), hits=200),
    # A softmax output (log-likelihood), ReLU, momentum.
    "softmax-relu-momentum": dict(via="fit", sizes=[784, 30, 10], n=(1000, 500), epochs=1,
                                  lr=0.1, net=dict(seed=7, cost="log-likelihood",
                                                   activation="relu", init="scaled"),
                                  step=dict(momentum=0.5, l2=1.0), hits=200),
}


@pytest.fixture(scope="module")
def mnist():
    """The real MNIST training and test sets, read by purenet.data."""
    return data.load_mnist_files(mnist_dir())


def train(case, backend, threads, train_set):
    """An engine of the given backend after the case's training, and its initial parameters."""
    c = CASES[case]
    if c["via"] == "fit":
        net = Network(c["sizes"], backend=backend, threads=threads, **c["net"])
        start = net.engine.get_params()
        net.fit(train_set, c["epochs"], batch_size=10, lr=c["lr"], **c.get("step", {}))
        return net.engine, start
    rnd = random.Random(c["params_seed"])
    weights, biases = random_params(c["sizes"], rnd)
    if backend == "python":
        engine = ReferenceEngine(c["sizes"], weights, biases)
    else:
        from purenet import cengine
        engine = cengine.CEngine(c["sizes"], weights, biases, threads=threads)
    for _ in range(c["epochs"]):
        engine.train_batches(train_set, epoch_batches(rnd, train_set.n, 10), c["lr"])
    return engine, (weights, biases)


def results(engine, test_set):
    """What is compared: parameters, velocities, test outputs, and the cost with and
    without an L2 term."""
    return dict(params=engine.get_params(), velocities=engine.get_velocities(),
                outputs=engine.outputs(test_set),
                cost=[engine.total_cost(test_set, 0.0, 0.0), engine.total_cost(test_set, 5.0, 0.0)])


_reference = {}


def reference_results(case, train_set, test_set):
    """The reference's results for a case, computed once for all the SIMD levels."""
    if case not in _reference:
        engine, start = train(case, "python", 1, train_set)
        assert engine.get_params() != start                     # it did train
        _reference[case] = results(engine, test_set)
    return _reference[case]


def hits(outputs, test_set):
    return sum(1 for i, o in enumerate(outputs)
               if max(range(len(o)), key=o.__getitem__) == test_set.labels[i])


@needs_c
@needs_mnist
@pytest.mark.parametrize("case", list(CASES))
def test_engines_agree_on_real_mnist(case, mnist, simd_level):
    n_train, n_test = CASES[case]["n"]
    train_set, test_set = mnist[0].head(n_train), mnist[1].head(n_test)
    want = reference_results(case, train_set, test_set)
    for threads in (1, 2):
        engine, _ = train(case, "c", threads, train_set)
        got = results(engine, test_set)
        for key in ("params", "velocities", "outputs", "cost"):
            if want[key] is None:                   # no velocities without momentum
                assert got[key] is None, key
                continue
            assert_same("MNIST %s, SIMD level %s, %d thread(s): %s"
                        % (case, simd_level, threads, key), got[key], want[key])
    assert hits(want["outputs"], test_set) > CASES[case]["hits"], case
