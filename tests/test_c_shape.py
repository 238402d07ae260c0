"""The C engine's shape (issue #18): what its structure promises, tested exactly.

Every comparison is with the reference, exact (==) on every parameter.
"""

import os
import random
import threading

import pytest

from purenet.dataset import Dataset
from purenet.reference import ReferenceEngine

try:
    from purenet import cengine
    HAVE_C = cengine.available()
except ImportError:          # pragma: no cover - cengine itself needs only the stdlib
    cengine, HAVE_C = None, False

REQUIRE_C = os.environ.get("PURENET_REQUIRE_C", "") not in ("", "0")
needs_c = pytest.mark.skipif(not HAVE_C and not REQUIRE_C, reason="the C engine is not built")


def pixel_data(rnd, n, n_in, n_out):
    pixels = bytes(0 if rnd.random() < 0.7 else rnd.randint(1, 255) for _ in range(n * n_in))
    labels = bytes(rnd.randrange(n_out) for _ in range(n))
    return Dataset(n_in, n_out, pixels=pixels, divisor=255.0, labels=labels, name="pixels")


def random_params(sizes, rnd):
    weights = [[[rnd.gauss(0.0, 0.7) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [[rnd.gauss(0.0, 1.0) for _ in range(n)] for n in sizes[1:]]
    return weights, biases


@needs_c
@pytest.mark.parametrize("threads", [1, 2])
def test_simd_level_changed_by_another_thread_during_training(threads):
    """pn_limit_simd called from another thread while pn_train_batches runs: each call
    decides its SIMD level (and what follows from it: the pixel-row path, the masks the
    gather writes) once, so the parameters still equal the reference's.  Many short
    calls (one batch each) give the other thread many chances to land between two
    reads of the level."""
    lib, _ = cengine.lib_and_ffi()
    top = lib.pn_simd_level()
    rnd = random.Random(18)
    sizes = [50, 12, 4]
    data = pixel_data(rnd, 64, sizes[0], sizes[-1])
    weights, biases = random_params(sizes, rnd)
    python = ReferenceEngine(sizes, weights, biases)
    c = cengine.CEngine(sizes, weights, biases, threads=threads)
    batches = [rnd.sample(range(data.n), 8) for _ in range(1500)]
    stop = threading.Event()

    def flip():
        while not stop.is_set():
            lib.pn_limit_simd(1)
            lib.pn_limit_simd(2)

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        for batch in batches:
            c.train_batches(data, [batch], 0.5)
    finally:
        stop.set()
        flipper.join()
        lib.pn_limit_simd(top)
    python.train_batches(data, batches, 0.5)
    assert c.get_params() == python.get_params()
