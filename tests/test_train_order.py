"""train_order(data, order, batch_size, ...): train_batches of the order cut into batches,
in both engines, and Network.fit, which hands its shuffled order to it.

Parameters are compared by their IEEE bit patterns (stricter than ==, which lets 0.0
and -0.0 pass as equal).
"""

import random
from array import array

import pytest

from conftest import needs_c
from purenet import cengine
from purenet.dataset import Dataset
from purenet.network import Network
from purenet.reference import ReferenceEngine

# Widths below and above 100; 23 samples leave a shorter last batch for 3, 7 and 10.
SHAPES = ([6, 5, 3], [9, 7, 4, 3], [12, 104, 4])
N = 23
BATCH_SIZES = (1, 3, 7, 10)
RULES = {"plain": {}, "l2+momentum": {"l2": 0.7, "l1": 0.05, "momentum": 0.6}}


def bits(engine):
    """Every weight, bias and velocity of engine as bytes: equal bytes, equal bits."""
    values = array("d")
    for part in (engine.get_params(), engine.get_velocities() or ()):
        for group in part:
            for v in group:
                for row in v if isinstance(v[0], list) else [v]:
                    values.extend(row)
    return values.tobytes()


def dataset(rnd, n, sizes, kind):
    n_in, n_out = sizes[0], sizes[-1]
    if kind == "pixels":
        pixels = bytes(0 if rnd.random() < 0.8 else rnd.randint(1, 255) for _ in range(n * n_in))
        labels = bytes(rnd.randrange(n_out) for _ in range(n))
        return Dataset(n_in, n_out, pixels=pixels, labels=labels, name="pixels")
    xs = array("d", (0.0 if rnd.random() < 0.3 else rnd.gauss(0.0, 1.5) for _ in range(n * n_in)))
    ys = array("d", (rnd.random() for _ in range(n * n_out)))
    return Dataset(n_in, n_out, xs=xs, ys=ys, name="floats")


def params(rnd, sizes):
    weights = [[[rnd.gauss(0.0, 1.0) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return weights, [[rnd.gauss(0.0, 1.0) for _ in range(n)] for n in sizes[1:]]


def make(backend, sizes, weights, biases, threads=1, cost="quadratic"):
    if backend == "python":
        return ReferenceEngine(sizes, weights, biases, cost=cost)
    return cengine.CEngine(sizes, weights, biases, threads=threads, cost=cost)


def sliced(order, batch_size):
    return [list(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]


ENGINES = [pytest.param("python", 1, id="python"),
           pytest.param("c", 1, id="c-1thread", marks=needs_c),
           pytest.param("c", 2, id="c-2threads", marks=needs_c)]


@pytest.mark.parametrize("backend,threads", ENGINES)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("rule", RULES)
def test_train_order_is_train_batches_of_the_sliced_order(backend, threads, sizes, batch_size,
                                                          rule):
    """Two epochs of train_order == two epochs of train_batches on the same order cut
    into batch_size slices (the last one shorter), in the same engine."""
    rnd = random.Random(repr((sizes, batch_size, rule)))
    data = dataset(rnd, N, sizes, "pixels" if batch_size % 2 else "floats")
    weights, biases = params(rnd, sizes)
    by_order = make(backend, sizes, weights, biases, threads)
    by_batches = make(backend, sizes, weights, biases, threads)
    step = dict(RULES[rule], n=N)
    for epoch in range(2):
        order = list(range(N))
        rnd.shuffle(order)
        by_order.train_order(data, order, batch_size, 0.9, **step)
        by_batches.train_batches(data, sliced(order, batch_size), 0.9, **step)
        assert bits(by_order) == bits(by_batches), "epoch %d" % (epoch + 1)
    assert bits(by_order) != bits(make(backend, sizes, weights, biases)), "nothing was trained"


def order_forms(order):
    """The same order as each kind of sequence the C engine takes: a list, a tuple, an
    array('q'), a memoryview slice of a longer array('q') (those two used as they are),
    an array('i') (another item size) and a non-contiguous memoryview (both copied)."""
    longer = array("q", [0] + order + [0])
    doubled = array("q", [v for v in order for _ in range(2)])
    return {"list": order, "tuple": tuple(order), "array": array("q", order),
            "view slice": memoryview(longer)[1:-1], "array('i')": array("i", order),
            "strided view": memoryview(doubled)[::2]}


@needs_c
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("rule", RULES)
def test_c_train_order_is_the_reference(sizes, batch_size, rule):
    """C (1 and 2 threads) == the reference, both through train_order, whatever form the
    order comes in."""
    rnd = random.Random(repr((sizes, batch_size, rule, "c")))
    data = dataset(rnd, N, sizes, "floats" if batch_size % 2 else "pixels")
    weights, biases = params(rnd, sizes)
    cost = "cross-entropy" if rule == "plain" else "quadratic"
    python = make("python", sizes, weights, biases, cost=cost)
    forms = order_forms(list(range(N)))
    cs = {(form, threads): make("c", sizes, weights, biases, threads, cost)
          for form in forms for threads in (1, 2)}
    step = dict(RULES[rule], n=N)
    for epoch in range(2):
        order = list(range(N))
        rnd.shuffle(order)
        python.train_order(data, order, batch_size, 1.3, **step)
        want = bits(python)
        for form, value in order_forms(order).items():
            for threads in (1, 2):
                engine = cs[form, threads]
                engine.train_order(data, value, batch_size, 1.3, **step)
                assert bits(engine) == want, "%s, %d thread(s), epoch %d" % (form, threads,
                                                                              epoch + 1)


@needs_c
def test_int64_buffers_are_used_without_a_copy():
    q = array("q", [3, 1, 2, 0])
    assert cengine._int64_view(q).obj is q
    assert cengine._int64_view(memoryview(q)[1:3]).obj is q
    assert cengine._int64_view(memoryview(q)[1:3]).tolist() == [1, 2]
    for other in ([3, 1, 2], range(3), array("i", [3, 1, 2]), bytes([3, 1, 2]),
                  memoryview(q)[::2]):
        view = cengine._int64_view(other)
        assert view.obj is not other and view.format == "q"
        assert view.tolist() == list(other)          # the values, not the raw bytes


class CountingLib:
    """The C library, counting the calls of pn_train_batches."""

    def __init__(self, lib):
        self.lib, self.calls = lib, 0

    def __getattr__(self, name):
        return getattr(self.lib, name)

    def pn_train_batches(self, *args):
        self.calls += 1
        return self.lib.pn_train_batches(*args)


BAD_ORDERS = [
    ([0, 0.5, 2], "order must be a sequence of whole-number sample indices"),
    ([0, "1"], "order must be a sequence of whole-number sample indices"),
    ([[0, 1]], "order must be a sequence of whole-number sample indices"),
    (None, "order must be a sequence of whole-number sample indices"),
    ("012", "order must be a sequence of whole-number sample indices"),
    (array("d", [0.0, 1.0]), "order must be a sequence of whole-number sample indices"),
    ([0, 2 ** 63], "order must be a sequence of whole-number sample indices"),
    ([], "order is empty"),
    (array("q"), "order is empty"),
    (memoryview(array("q", [1, 2]))[2:], "order is empty"),
    ([0, 1, N], "sample index %d is out of range" % N),
    ([0, -1, 1], "sample index -1 is out of range"),
    (array("q", [5, -2 ** 63]), "sample index -%d is out of range" % 2 ** 63),
    (array("q", [2 ** 63 - 1]), "sample index %d is out of range" % (2 ** 63 - 1)),
]


def counted_engine(seed):
    """A small C engine whose library counts its calls, its data, and the bits of its
    parameters before any call."""
    rnd = random.Random(seed)
    sizes = [6, 5, 3]
    c = make("c", sizes, *params(rnd, sizes))
    data = dataset(rnd, N, sizes, "pixels")
    before = bits(c)
    c.lib = CountingLib(c.lib)
    return c, data, before


@needs_c
@pytest.mark.parametrize("order,message", BAD_ORDERS)
def test_bad_orders_are_refused_before_c(order, message):
    c, data, before = counted_engine(1)
    with pytest.raises(ValueError, match="^train_order: " + message):
        c.train_order(data, order, 3, 0.5)
    assert c.lib.calls == 0 and bits(c) == before
    c.train_order(data, [0, 1, 2], 3, 0.5)           # the counting works: one call
    assert c.lib.calls == 1 and bits(c) != before


@needs_c
@pytest.mark.parametrize("kwargs,message", [
    ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
    ({"batch_size": -3}, "batch_size must be a whole number >= 1, got -3"),
    ({"batch_size": 2.0}, "batch_size must be a whole number >= 1, got 2.0"),
    ({"batch_size": True}, "batch_size must be a whole number >= 1, got True"),
    ({"batch_size": None}, "batch_size must be a whole number >= 1, got None"),
    ({"lr": 0.0}, "need lr > 0"),
    ({"lr": float("nan")}, "need lr > 0"),
    ({"n": 0}, "need lr > 0, n >= 1"),
    ({"l2": -1.0}, "need lr > 0, n >= 1, l2 >= 0"),
    ({"momentum": 1.0}, "need lr > 0, n >= 1, l2 >= 0, l1 >= 0 .finite. and 0 <= momentum < 1"),
])
def test_bad_settings_are_refused_before_c(kwargs, message):
    c, data, before = counted_engine(2)
    call = dict({"batch_size": 3, "lr": 0.5}, **kwargs)
    with pytest.raises(ValueError, match="^train_order: " + message):
        c.train_order(data, list(range(N)), **call)
    assert c.lib.calls == 0 and bits(c) == before


# --- Network.fit hands its order to train_order ---------------------------------------

FIT_ENGINES = [pytest.param("python", 1, id="python"),
               pytest.param("c", 1, id="c-1thread", marks=needs_c),
               pytest.param("c", 2, id="c-2threads", marks=needs_c)]


def progress_of_batches(n, batch_size):
    """The (done, total) calls of one epoch as fit made them when it sliced the order
    into lists: a call after every chunk of 60000 // (20 * batch_size) batches (at least
    one), counting the samples of the batches done."""
    batches = -(-n // batch_size)
    chunk = max(1, min(batches, 60000 // (batch_size * 20) or 1))
    return [(min((c + chunk) * batch_size, n), n) for c in range(0, batches, chunk)]


@pytest.mark.parametrize("backend,threads", FIT_ENGINES)
@pytest.mark.parametrize("batch_size", (1, 7, 10, 2999, 4000))
@pytest.mark.parametrize("watched", (True, False), ids=("progress", "no-progress"))
def test_fit_is_train_batches_on_its_shuffles(backend, threads, batch_size, watched):
    """Two epochs of fit == train_batches on the slices of two shuffles drawn from a
    copy of the network's generator, which fit leaves in the same state; with a
    progress callback, it sees the (done, total) sequence it always saw."""
    n, sizes = 3500, [4, 3, 2]                       # 2 progress calls for batch 1
    data = dataset(random.Random(batch_size), n, sizes, "pixels")
    net = Network(sizes, seed=batch_size, backend=backend, threads=threads)
    rng = random.Random()
    rng.setstate(net.rng.getstate())
    twin = make(backend, sizes, net.weights, net.biases, threads)
    calls = []
    net.fit(data, 2, batch_size=batch_size, lr=0.8, l2=0.4, momentum=0.3,
            progress=(lambda done, total: calls.append((done, total))) if watched else None)
    for _ in range(2):
        order = list(range(n))
        rng.shuffle(order)
        twin.train_batches(data, sliced(order, batch_size), 0.8, n=n, l2=0.4, momentum=0.3)
    assert bits(net.engine) == bits(twin)
    assert net.rng.getstate() == rng.getstate()
    assert calls == (progress_of_batches(n, batch_size) * 2 if watched else [])


# --- the shuffle fit hands over ------------------------------------------------------

SHUFFLE_ENGINES = [pytest.param("python", id="python"), pytest.param("c", id="c", marks=needs_c)]


@pytest.mark.parametrize("backend", SHUFFLE_ENGINES)
@pytest.mark.parametrize("n", (0, 1, 2, 3, 4, 5, 8, 9, 17, 64, 65, 1000, 60000))
def test_shuffled_order_is_random_shuffle(backend, n):
    """The order and the generator state after are those of random.Random.shuffle of a
    list 0..n-1: sizes around powers of two (where the words' shift changes), MNIST's.
    The C engine's own shuffle must be the one in use (it checks itself against this
    Python's random.shuffle once, and would otherwise leave the shuffle to Python)."""
    engine = make(backend, [3, 2], [[[0.0] * 3] * 2], [[0.0] * 2], 1)
    if backend == "c":
        cengine._same.clear()
        assert cengine._same_shuffle()
    for seed in range(3 if n > 1000 else 8):
        mine, theirs = random.Random(seed), random.Random(seed)
        want = list(range(n))
        theirs.shuffle(want)
        order = engine.shuffled_order(mine, n)
        assert isinstance(order, array) and order.typecode == "q"
        assert order.tolist() == want
        assert mine.getstate() == theirs.getstate()


class CountingRandom(random.Random):
    """A generator of another class: shuffled_order must leave the shuffle to it."""

    def getrandbits(self, k):
        self.widest = max(getattr(self, "widest", 0), k)
        return super().getrandbits(k)


@needs_c
def test_c_shuffle_leaves_other_generators_and_other_pythons_to_themselves(monkeypatch):
    engine = make("c", [3, 2], [[[0.0] * 3] * 2], [[0.0] * 2], 1)
    mine, theirs = CountingRandom(5), random.Random(5)
    want = list(range(300))
    theirs.shuffle(want)
    assert engine.shuffled_order(mine, 300).tolist() == want
    assert mine.widest <= 9                          # one getrandbits(k) per draw, as shuffle does

    def backwards(self, x):                          # a Python with another shuffle
        x.reverse()
    monkeypatch.setattr(random.Random, "shuffle", backwards)
    monkeypatch.setattr(cengine, "_same", [])
    assert engine.shuffled_order(random.Random(5), 5).tolist() == [4, 3, 2, 1, 0]


@needs_c
def test_pn_shuffle_checks_its_arguments():
    lib, ffi = cengine.lib_and_ffi()
    order = ffi.new("int64_t[]", 4)
    top = ffi.new("size_t *", 3)
    words = b"\xff" * 8
    assert lib.pn_shuffle(order, 4, 1, words, 2, ffi.NULL) == lib.PN_ERR_NULL
    assert lib.pn_shuffle(ffi.NULL, 4, 1, words, 2, top) == lib.PN_ERR_NULL
    assert lib.pn_shuffle(order, 4, 1, ffi.NULL, 2, top) == lib.PN_ERR_NULL
    for n, t in ((4, 4), (4, 9), (0, 1)):
        top[0] = t
        assert lib.pn_shuffle(order, n, 1, words, 2, top) == lib.PN_ERR_RANGE
    top[0] = 3
    assert lib.pn_shuffle(order, 2 ** 32, 0, words, 2, top) == lib.PN_ERR_RANGE
    top[0] = 0
    assert lib.pn_shuffle(ffi.NULL, 0, 1, ffi.NULL, 0, top) == lib.PN_OK
    # By hand, n = 4.  i = 3 (bit_length(4) = 3, j = word >> 29): 0x40000000 gives j = 2,
    # swap 3 and 2; i = 2 (bit_length(3) = 2, j = word >> 30): 0xffffffff gives 3 > 2,
    # drawn again, and the words have run out: top = 2.
    top[0] = 3
    def le(*ws):
        return b"".join(w.to_bytes(4, "little") for w in ws)
    assert lib.pn_shuffle(order, 4, 1, le(0x40000000, 0xFFFFFFFF), 2, top) == lib.PN_OK
    assert (list(order), top[0]) == ([0, 1, 3, 2], 2)
    # Then i = 2: 0 gives j = 0, swap 2 and 0; i = 1 (still >> 30): 0x80000000 gives
    # 2 > 1, drawn again; 0x40000000 gives 1, swap 1 with itself; i = 0: done.
    assert lib.pn_shuffle(order, 4, 0, le(0, 0x80000000, 0x40000000), 3, top) == lib.PN_OK
    assert (list(order), top[0]) == ([3, 1, 0, 2], 0)
