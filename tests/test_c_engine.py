"""The C engine agrees with the reference bit for bit.

Every comparison here is exact: the floats are compared by their IEEE bit
patterns (stricter than ==, which would let 0.0 and -0.0 pass as equal).  When
bits differ, the assertion names the routine, how many values differ and the
largest relative difference, so a platform that cannot keep identical bits is
reported precisely instead of being hidden by a tolerance.

Without the compiled module the whole file is skipped, except with
PURENET_REQUIRE_C=1 (CI), where its tests fail instead (test_c_engine_is_built says why).
The tests taking the simd_level fixture run at each SIMD level of the CPU (conftest.py).
"""

import math
import random
from array import array

import pytest

from purenet import reference as ref
from purenet.dataset import Dataset
from purenet.reference import ReferenceEngine

from helpers import (C_MISSING, REQUIRE_C, assert_same, epoch_batches, flat, mnist_dir,
                     needs_c, needs_mnist, random_params)

try:
    from purenet import cengine
    HAVE_C = cengine.available()
except ImportError:          # pragma: no cover - cengine itself needs only the stdlib
    cengine, HAVE_C = None, False

SKIP_REASON = "the C engine is unavailable: %s" % C_MISSING


def test_c_engine_is_built():
    """In CI (PURENET_REQUIRE_C=1) a missing C engine is a failure, not a skip."""
    if not HAVE_C and not REQUIRE_C:
        pytest.skip(SKIP_REASON)
    assert HAVE_C, "PURENET_REQUIRE_C=1 but the C engine cannot be imported: " + SKIP_REASON


# --- helpers (the shared ones are in helpers.py) ----------------------------------------

def random_shape(rnd, max_width=40):
    hidden = [rnd.randint(1, max_width) for _ in range(rnd.randint(1, 4))]
    return [rnd.randint(1, max_width)] + hidden + [rnd.randint(1, max_width)]


def pixel_dataset(rnd, n, n_in, n_out, zero_fraction=0.8, divisor=255.0):
    pixels = bytes(0 if rnd.random() < zero_fraction else rnd.randint(1, 255)
                   for _ in range(n * n_in))
    labels = bytes(rnd.randrange(n_out) for _ in range(n))
    return Dataset(n_in, n_out, pixels=pixels, divisor=divisor, labels=labels, name="pixels")


def float_dataset(rnd, n, n_in, n_out, zero_fraction=0.3):
    xs = array("d", (0.0 if rnd.random() < zero_fraction else rnd.gauss(0.0, 1.5)
                     for _ in range(n * n_in)))
    ys = array("d", (rnd.uniform(-0.5, 1.5) for _ in range(n * n_out)))
    return Dataset(n_in, n_out, xs=xs, ys=ys, name="floats")


class Raw:
    """The raw cffi library with helpers for the textbook (untransposed) layout."""

    def __init__(self):
        self.lib, self.ffi = cengine.lib_and_ffi()

    def d(self, values):
        """(keep-alive array, double* pointer) for a list of floats."""
        a = array("d", values if values else [0.0])
        return a, self.ffi.from_buffer("double[]", a)

    def sizes(self, sizes):
        return self.ffi.new("int[]", list(sizes))

    def model(self, cost="quadratic", activation="sigmoid"):
        """A pn_model* (the seed's network by default)."""
        return self.ffi.new("pn_model *", {
            "cost": getattr(self.lib, cengine.COSTS[cost]),
            "activation": getattr(self.lib, cengine.ACTIVATIONS[activation])})

    def params(self, weights, biases):
        out = []
        for w, b in zip(weights, biases):
            out += flat(w) + flat(b)
        return out

    def unflatten(self, sizes, values):
        weights, biases, pos = [], [], 0
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            weights.append([values[pos + j * n_in:pos + (j + 1) * n_in] for j in range(n_out)])
            pos += n_in * n_out
            biases.append(values[pos:pos + n_out])
            pos += n_out
        return weights, biases


@pytest.fixture(scope="module")
def raw():
    if not HAVE_C and not REQUIRE_C:
        pytest.skip(SKIP_REASON)
    return Raw()


# --- the textbook routines ------------------------------------------------------------

SIGMOID_POINTS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-300, -1e-300, 5e-324, -5e-324, 1e-17,
                  36.0, -36.0, 37.5, -37.5, 700.0, -700.0, 709.0, -709.0, 709.78, -709.78,
                  710.0, -710.0, 745.0, -745.0, 746.0, -746.0, 1000.0, -1000.0, 1e308, -1e308,
                  float("inf"), float("-inf")]


@needs_c
def test_sigmoid_and_prime_exact(raw):
    rnd = random.Random(1)
    zs = SIGMOID_POINTS + [rnd.gauss(0.0, s) for s in (1.0, 10.0, 300.0) for _ in range(300)]
    assert_same("pn_sigmoid", [raw.lib.pn_sigmoid(z) for z in zs], [ref.sigmoid(z) for z in zs])
    assert_same("pn_sigmoid_prime", [raw.lib.pn_sigmoid_prime(z) for z in zs],
                [ref.sigmoid_prime(z) for z in zs])
    assert math.isnan(raw.lib.pn_sigmoid(float("nan")))


@needs_c
@pytest.mark.parametrize("seed", range(6))
def test_layer_routines_exact(raw, seed):
    rnd = random.Random(seed)
    n_in, n_out, n_next = rnd.randint(1, 40), rnd.randint(1, 40), rnd.randint(1, 40)
    w = [[rnd.gauss(0, 1) for _ in range(n_in)] for _ in range(n_out)]
    a = [0.0 if rnd.random() < 0.4 else rnd.gauss(0, 2) for _ in range(n_in)]
    b = [rnd.gauss(0, 1) for _ in range(n_out)]
    z = array("d", [0.0] * n_out)
    keep = [raw.d(flat(w)), raw.d(a), raw.d(b)]
    assert raw.lib.pn_weighted_sums(n_out, n_in, keep[0][1], keep[1][1], keep[2][1],
                                    raw.ffi.from_buffer("double[]", z)) == 0
    assert_same("pn_weighted_sums", list(z), ref.weighted_sums(w, a, b))

    act = [ref.sigmoid(v) for v in z]
    y = [rnd.random() for _ in range(n_out)]
    delta = array("d", [0.0] * n_out)
    k2 = [raw.d(act), raw.d(y), raw.d(list(z))]
    assert raw.lib.pn_output_error(n_out, k2[0][1], k2[1][1], k2[2][1],
                                   raw.ffi.from_buffer("double[]", delta)) == 0
    assert_same("pn_output_error", list(delta), ref.output_error(act, y, list(z)))

    w_next = [[rnd.gauss(0, 1) for _ in range(n_out)] for _ in range(n_next)]
    d_next = [rnd.gauss(0, 0.1) for _ in range(n_next)]
    back = array("d", [0.0] * n_out)
    k3 = [raw.d(flat(w_next)), raw.d(d_next), raw.d(list(z))]
    assert raw.lib.pn_backward_error(n_next, n_out, k3[0][1], k3[1][1], k3[2][1],
                                     raw.lib.PN_SIGMOID, raw.ffi.from_buffer("double[]", back)) == 0
    assert_same("pn_backward_error", list(back), ref.backward_error(w_next, d_next, list(z)))


COSTS = ["quadratic", "cross-entropy", "log-likelihood"]
ACTIVATIONS = ["sigmoid", "tanh", "relu"]
MODELS = [(c, a) for c in COSTS for a in ACTIVATIONS]


def targets(rnd, cost, n):
    """A target vector: one-hot for the log-likelihood cost (targets that sum to 1)."""
    if cost == "log-likelihood":
        y = [0.0] * n
        y[rnd.randrange(n)] = 1.0
        return y
    return [rnd.random() for _ in range(n)]


@needs_c
@pytest.mark.parametrize("cost,activation", MODELS)
@pytest.mark.parametrize("seed", range(2))
def test_feedforward_backprop_update_textbook(raw, cost, activation, seed):
    """pn_feedforward / pn_backprop / pn_total_cost and the three updates
    (pn_update_mini_batch, pn_regularized_update, pn_momentum_update) against
    their Python twins, for every cost and activation."""
    rnd = random.Random(100 + 10 * MODELS.index((cost, activation)) + seed)
    sizes = random_shape(rnd)
    scale = 30.0 if seed == 1 else 1.0            # saturating: activations exactly 0 (or 1)
    weights, biases = random_params(sizes, rnd, scale=scale, zeros=0.1)
    act, cst, model = ref.ACTIVATIONS[activation], ref.COSTS[cost], raw.model(cost, activation)
    cs, L = raw.sizes(sizes), len(sizes)
    n = raw.lib.pn_param_count(cs, L)
    params = raw.params(weights, biases)
    assert n == len(params)
    pk = raw.d(params)
    what = "%s %s/%s" % (sizes, cost, activation)
    for _ in range(3):
        x = [0.0 if rnd.random() < 0.5 else rnd.gauss(0, 1) for _ in range(sizes[0])]
        y = targets(rnd, cost, sizes[-1])
        xk, yk = raw.d(x), raw.d(y)
        out = array("d", [0.0] * sizes[-1])
        assert raw.lib.pn_feedforward(cs, L, model, pk[1], n, xk[1],
                                      raw.ffi.from_buffer("double[]", out)) == 0
        assert_same("pn_feedforward " + what, list(out),
                    ref.feedforward(weights, biases, x, act, cst))
        grad = array("d", [0.0] * n)
        assert raw.lib.pn_backprop(cs, L, model, pk[1], n, xk[1], yk[1],
                                   raw.ffi.from_buffer("double[]", grad)) == 0
        nabla_b, nabla_w = ref.backprop(weights, biases, x, y, act, cst)
        gw, gb = raw.unflatten(sizes, list(grad))
        assert_same("pn_backprop nabla_w " + what, gw, nabla_w)
        assert_same("pn_backprop nabla_b " + what, gb, nabla_b)

    velocities = ([[[0.0] * len(r) for r in w] for w in weights], [[0.0] * len(b) for b in biases])
    vbuf = array("d", [0.0] * n)
    for rule, m in (("plain", 1), ("l2", 3), ("l1", 2), ("l2+l1", 5), ("momentum", 3),
                    ("momentum", 4), ("plain", 4)):
        xs = [[0.0 if rnd.random() < 0.5 else rnd.gauss(0, 1) for _ in range(sizes[0])]
              for _ in range(m)]
        ys = [targets(rnd, cost, sizes[-1]) for _ in range(m)]
        batch = list(zip(xs, ys))
        buf = array("d", raw.params(weights, biases))
        xk, yk = raw.d(flat(xs)), raw.d(flat(ys))
        p = raw.ffi.from_buffer("double[]", buf)
        l2 = 1.3 if "l2" in rule or rule == "momentum" else 0.0
        l1 = 0.4 if "l1" in rule else 0.0
        if rule == "plain":
            assert raw.lib.pn_update_mini_batch(cs, L, model, p, n, xk[1], yk[1], m, 3.0) == 0
            ref.update_mini_batch(weights, biases, batch, 3.0, act, cst)
        elif rule == "momentum":
            v = raw.ffi.from_buffer("double[]", vbuf)
            assert raw.lib.pn_momentum_update(cs, L, model, p, v, n, xk[1], yk[1], m, 0.5, 20.0,
                                              0.8, l2, 0.1) == 0
            ref.momentum_update(weights, biases, velocities, batch, 0.5, 20, 0.8, l2, 0.1, act, cst)
            assert_same("pn_momentum_update velocities " + what, raw.unflatten(sizes, list(vbuf)),
                        velocities)
        else:
            assert raw.lib.pn_regularized_update(cs, L, model, p, n, xk[1], yk[1], m, 0.7, 25.0,
                                                 l2, l1) == 0
            ref.regularized_update(weights, biases, batch, 0.7, 25, l2, l1, act, cst)
        gw, gb = raw.unflatten(sizes, list(buf))
        assert_same("%s update weights %s m=%d" % (rule, what, m), gw, weights)
        assert_same("%s update biases %s m=%d" % (rule, what, m), gb, biases)

    cost_out = raw.ffi.new("double *")
    pk = raw.d(raw.params(weights, biases))
    for l2, l1 in ((0.0, 0.0), (2.5, 0.0), (0.0, 0.7), (1.0, 3.0)):
        assert raw.lib.pn_total_cost(cs, L, model, pk[1], n, xk[1], yk[1], m, l2, l1, cost_out) == 0
        assert_same("pn_total_cost " + what, [cost_out[0]],
                    [ref.total_cost(weights, biases, batch, act, cst, l2, l1)])


CH3_POINTS = SIGMOID_POINTS + [0.25, -3.5, 19.0, -19.0, 1e-8, -1e-8, 354.0, -354.0]


@needs_c
def test_chapter3_scalars_exact(raw):
    """tanh, relu, their derivatives, softplus and sgn: the same libm calls."""
    rnd = random.Random(2)
    zs = CH3_POINTS + [rnd.gauss(0.0, s) for s in (0.5, 5.0, 300.0) for _ in range(300)]
    lib = raw.lib
    for name in ("tanh", "tanh_prime", "relu", "relu_prime", "softplus", "sgn"):
        assert_same("pn_" + name, [getattr(lib, "pn_" + name)(z) for z in zs],
                    [getattr(ref, name)(z) for z in zs])


@needs_c
@pytest.mark.parametrize("seed", range(4))
def test_costs_softmax_and_errors_exact(raw, seed):
    rnd = random.Random(seed)
    n = rnd.choice([1, 2, 10, 37])
    spread = [1.0, 20.0, 400.0, 1000.0][seed]             # 400, 1000: saturated outputs
    z = [rnd.gauss(0.0, spread) for _ in range(n)]
    a = [ref.sigmoid(v) for v in z]
    y = [rnd.random() for _ in range(n)]
    zk, ak, yk = raw.d(z), raw.d(a), raw.d(y)
    out, c = array("d", [0.0] * n), raw.ffi.new("double *")
    op = raw.ffi.from_buffer("double[]", out)
    assert raw.lib.pn_softmax(n, zk[1], op) == 0
    assert_same("pn_softmax", list(out), ref.softmax(z))
    assert raw.lib.pn_cross_entropy_error(n, ak[1], yk[1], zk[1], op) == 0
    assert_same("pn_cross_entropy_error", list(out), ref.cross_entropy_error(a, y, z))
    for name in ("quadratic_cost", "cross_entropy_cost", "log_likelihood_cost"):
        assert getattr(raw.lib, "pn_" + name)(n, ak[1], yk[1], zk[1], c) == 0
        want = getattr(ref, name)(a, y, z)
        assert math.isfinite(want)
        assert_same("pn_" + name, [c[0]], [want])


@needs_c
def test_fast_layout_round_trip(raw):
    rnd = random.Random(5)
    for _ in range(10):
        sizes = random_shape(rnd)
        weights, biases = random_params(sizes, rnd)
        cs = raw.sizes(sizes)
        n, nf = raw.lib.pn_param_count(cs, len(sizes)), raw.lib.pn_fast_param_count(cs, len(sizes))
        tb = raw.d(raw.params(weights, biases))
        fast = array("d", [1.5] * nf)
        back = array("d", [0.0] * n)
        fp = raw.ffi.from_buffer("double[]", fast)
        assert raw.lib.pn_to_fast(cs, len(sizes), tb[1], n, fp, nf) == 0
        back_buf = raw.ffi.from_buffer("double[]", back)
        assert raw.lib.pn_from_fast(cs, len(sizes), fp, nf, back_buf, n) == 0
        assert back.tobytes() == tb[0].tobytes()
        engine = cengine.CEngine(sizes, weights, biases)
        assert_same("CEngine get_params", engine.get_params(), (weights, biases))


# --- the fast path -------------------------------------------------------------------

def make_data(kind, rnd, n, sizes):
    if kind == "pixels":
        return pixel_dataset(rnd, n, sizes[0], sizes[-1],
                             zero_fraction=rnd.choice([0.5, 0.8, 0.95]))
    return float_dataset(rnd, n, sizes[0], sizes[-1])


@needs_c
@pytest.mark.parametrize("kind", ["pixels", "floats"])
@pytest.mark.parametrize("seed", range(5))
def test_outputs_and_feedforward_exact(kind, seed, simd_level):
    rnd = random.Random(1000 + seed)
    sizes = random_shape(rnd)
    weights, biases = random_params(sizes, rnd, scale=30.0 if seed == 4 else 1.0)
    data = make_data(kind, rnd, 70, sizes)        # 70 > the C code's chunk of 64 samples
    python = ReferenceEngine(sizes, weights, biases)
    c = cengine.CEngine(sizes, weights, biases)
    assert_same("outputs %s" % sizes, c.outputs(data), python.outputs(data))
    assert_same("outputs[5:9]", c.outputs(data, 5, 9), python.outputs(data, 5, 9))
    assert c.outputs(data, 3, 3) == []
    big = make_data(kind, rnd, 300, sizes)         # >= 256 samples: 2 threads split them
    c2 = cengine.CEngine(sizes, weights, biases, threads=2)
    assert_same("outputs, 2 threads", c2.outputs(big), python.outputs(big))
    for i in (0, 17, 69):
        assert_same("feedforward", c.feedforward(data.x(i)), python.feedforward(data.x(i)))


TRAIN_CASES = [(seed, kind, bs) for seed in range(6) for kind in ("pixels", "floats")
               for bs in (1, 3, 10, 7)]


@needs_c
@pytest.mark.parametrize("seed,kind,batch_size", TRAIN_CASES)
def test_train_batches_exact(seed, kind, batch_size, simd_level):
    """Three epochs through the fast path == three epochs of reference.update_mini_batch."""
    rnd = random.Random(seed * 7919 + batch_size)
    sizes = random_shape(rnd, max_width=40 if batch_size != 1 else 20)
    n = 300 if batch_size > 1 else 150                # 300 % 7 != 0: a shorter last batch
    scale = 30.0 if seed == 5 else 1.0                # saturating: hidden activations hit 0.0
    weights, biases = random_params(sizes, rnd, scale=scale)
    data = make_data(kind, rnd, n, sizes)
    python = ReferenceEngine(sizes, weights, biases)
    c = cengine.CEngine(sizes, weights, biases)
    c2 = cengine.CEngine(sizes, weights, biases, threads=2)
    lr = rnd.choice([3.0, 0.5, 0.1])
    for epoch in range(3):
        batches = epoch_batches(rnd, n, batch_size)
        python.train_batches(data, batches, lr)
        c.train_batches(data, batches[:len(batches) // 2], lr)   # two C calls per epoch
        c.train_batches(data, batches[len(batches) // 2:], lr)
        c2.train_batches(data, batches, lr)
        got, want = c.get_params(), python.get_params()
        what = "train_batches %s %s batch %d epoch %d" % (sizes, kind, batch_size, epoch + 1)
        assert_same(what + " weights", got[0], want[0])
        assert_same(what + " biases", got[1], want[1])
        assert_same(what + " with 2 threads", c2.get_params(), want)
    assert_same("outputs after training", c.outputs(data), python.outputs(data))


@needs_c
@pytest.mark.parametrize("batch_size,rule", [(31, "plain"), (32, "momentum"), (33, "plain"),
                                             (50, "momentum")])
def test_pixel_rows_batch_limit_exact(batch_size, rule, simd_level):
    """With AVX-512, the first layer's step reads a pixel batch of up to 32 samples from
    32-bit sample masks per row (internal.h: pixel_rows), and a larger batch from lists.
    Both sides of the limit equal the reference: 37 inputs (masks of 16 pixels and a
    partial last one), few zero pixels (rows touched by all 32 samples), uneven last
    batches."""
    rnd = random.Random(batch_size)
    data = pixel_dataset(rnd, 110, 37, 5, zero_fraction=0.1)
    check_engines_agree([37, 20, 5], "cross-entropy", "sigmoid", rule, batch_size, data, rnd,
                        3, 0.5)


# Penalties and rates that are not powers of two, so that lr*l2/n and lr*(l2/n) round
# differently and a reordered step shows.
RULES = {"plain": {}, "l2": {"l2": 2.3}, "l1": {"l1": 0.35},
         "momentum": {"momentum": 0.6, "l2": 1.7, "l1": 0.15}}
BATCHES = (1, 3, 7, 10)


def ch3_cases():
    """Every cost x activation x update rule once; the batch size and the data kind
    cycle so that each cost, activation and rule meets every batch size and kind."""
    out = []
    for c, cost in enumerate(COSTS):
        for a, activation in enumerate(ACTIVATIONS):
            for r, rule in enumerate(RULES):
                out.append((cost, activation, rule, BATCHES[(3 * c + a + r) % 4],
                            ("pixels", "floats")[(c + a + r) % 2]))
    return out


def ch3_data(rnd, kind, n, sizes, cost):
    data = make_data(kind, rnd, n, sizes)
    if kind == "floats" and cost == "log-likelihood":      # targets that sum to 1
        labels = bytes(rnd.randrange(sizes[-1]) for _ in range(n))
        data = Dataset(sizes[0], sizes[-1], xs=data.xs, labels=labels, name="floats")
    return data


def check_engines_agree(sizes, cost, activation, rule, batch_size, data, rnd, epochs, lr):
    weights, biases = random_params(sizes, rnd, scale=0.7)
    opts = dict(cost=cost, activation=activation)
    python = ReferenceEngine(sizes, weights, biases, **opts)
    c = cengine.CEngine(sizes, weights, biases, **opts)
    c2 = cengine.CEngine(sizes, weights, biases, threads=2, **opts)
    step = dict(RULES[rule], n=data.n)
    what = "%s %s/%s %s batch %d" % (sizes, cost, activation, rule, batch_size)
    for epoch in range(epochs):
        batches = epoch_batches(rnd, data.n, batch_size)
        python.train_batches(data, batches, lr, **step)
        c.train_batches(data, batches[:len(batches) // 2], lr, **step)   # two C calls
        c.train_batches(data, batches[len(batches) // 2:], lr, **step)
        c2.train_batches(data, batches, lr, **step)
        want = python.get_params()
        assert_same("%s epoch %d" % (what, epoch + 1), c.get_params(), want)
        assert_same("%s epoch %d, 2 threads" % (what, epoch + 1), c2.get_params(), want)
        if rule == "momentum":
            assert_same(what + " velocities", c.get_velocities(), python.get_velocities())
            assert_same(what + " velocities, 2 threads", c2.get_velocities(),
                        python.get_velocities())
    assert_same(what + " outputs", c.outputs(data), python.outputs(data))
    for l2, l1 in ((0.0, 0.0), (3.0, 0.5)):
        want = python.total_cost(data, l2, l1)
        assert math.isfinite(want)
        assert_same(what + " cost", [c.total_cost(data, l2, l1), c2.total_cost(data, l2, l1)],
                    [want, want])


@needs_c
@pytest.mark.parametrize("cost,activation,rule,batch_size,kind", ch3_cases())
def test_chapter3_train_batches_exact(cost, activation, rule, batch_size, kind, simd_level):
    """Three epochs of the fast path == three epochs of the reference, for every
    cost, activation and update rule: weights, biases, velocities, outputs, cost."""
    index = ch3_cases().index((cost, activation, rule, batch_size, kind))
    rnd = random.Random(5000 + index)
    sizes = random_shape(rnd, max_width=30 if batch_size != 1 else 16)
    n = 150 if batch_size > 1 else 60
    data = ch3_data(rnd, kind, n, sizes, cost)
    check_engines_agree(sizes, cost, activation, rule, batch_size, data, rnd, 3,
                        rnd.choice([0.3, 0.07]))


@needs_c
@pytest.mark.parametrize("rule", ["l2", "momentum"])
def test_step_constants_round_as_in_the_reference(rule):
    """1 − ηλ₂/n, ηλ₂/n and ηλ₁/n are computed as 1.0 - lr*l2/n, lr*l2/n, lr*l1/n:
    for these values lr*(l2/n) and lr*(l1/n) round differently (checked here), and
    the fast path must round as the reference does.  (With most values 1.0 - x
    absorbs the difference, which is why the epochs above cannot see it.)"""
    lr, l2, l1, n = 0.94, 2.3, 0.37, 150
    assert 1.0 - lr * l2 / n != 1.0 - lr * (l2 / n)
    assert lr * l2 / n != lr * (l2 / n) and lr * l1 / n != lr * (l1 / n)
    rnd = random.Random(31)
    sizes = [9, 12, 4]
    weights, biases = random_params(sizes, rnd)
    data = float_dataset(rnd, 20, 9, 4)
    step = dict(n=n, l2=l2, l1=l1, momentum=0.5 if rule == "momentum" else 0.0)
    python = ReferenceEngine(sizes, weights, biases, cost="cross-entropy")
    c = cengine.CEngine(sizes, weights, biases, cost="cross-entropy")
    batches = epoch_batches(rnd, 20, 5)
    python.train_batches(data, batches, lr, **step)
    c.train_batches(data, batches, lr, **step)
    assert_same("%s step constants" % rule, c.get_params(), python.get_params())


WIDE_CASES = [([140, 104, 10], "cross-entropy", "sigmoid", "l2", 10, "pixels"),
              ([120, 100, 12], "log-likelihood", "relu", "momentum", 7, "pixels"),
              ([100, 112, 9], "quadratic", "tanh", "l1", 3, "floats"),
              ([110, 101, 30, 10], "cross-entropy", "relu", "plain", 10, "floats"),
              ([105, 128, 10], "log-likelihood", "tanh", "l2", 1, "pixels"),
              ([130, 100, 10], "quadratic", "sigmoid", "plain", 1, "pixels")]


@needs_c
@pytest.mark.parametrize("sizes,cost,activation,rule,batch_size,kind", WIDE_CASES)
def test_chapter3_wide_layers_exact(sizes, cost, activation, rule, batch_size, kind, simd_level):
    """Widths of 100 and more take the widest vector blocks (784-100-10 does)."""
    rnd = random.Random(sum(sizes) + batch_size)
    data = ch3_data(rnd, kind, 40 if batch_size == 1 else 70, sizes, cost)
    check_engines_agree(sizes, cost, activation, rule, batch_size, data, rnd, 2, 0.3)


@needs_c
def test_train_batches_with_repeated_and_uneven_batches():
    """Batches of any sizes and repeated indices, with a non-standard pixel divisor."""
    rnd = random.Random(77)
    sizes = [12, 9, 4]
    weights, biases = random_params(sizes, rnd)
    data = pixel_dataset(rnd, 40, 12, 4, zero_fraction=0.6, divisor=16.0)
    batches = [[0], [1, 1, 1], [5, 3, 39, 0, 2, 2, 7], list(range(40)), [39] * 11,
               list(range(40)) * 3]                   # 120 samples in one batch
    python = ReferenceEngine(sizes, weights, biases)
    c = cengine.CEngine(sizes, weights, biases)
    c2 = cengine.CEngine(sizes, weights, biases, threads=2)
    python.train_batches(data, batches, 1.7)
    c.train_batches(data, batches, 1.7)
    c2.train_batches(data, batches, 1.7)
    assert_same("uneven batches", c.get_params(), python.get_params())
    assert_same("uneven batches, 2 threads", c2.get_params(), python.get_params())
    c.train_batches(data, [], 1.7)                   # nothing to do
    assert_same("no batches", c.get_params(), python.get_params())


@needs_c
def test_network_backend_c_equals_python():
    network = pytest.importorskip("purenet.network")
    rnd = random.Random(3)
    whole = pixel_dataset(rnd, 210, 30, 5)
    data, test = whole.part(0, 150), whole.part(150, 210)      # views of whole's bytes
    copy = Dataset(30, 5, pixels=bytes(data.pixels), labels=bytes(data.labels))
    nets = {b: network.Network([30, 12, 7, 5], seed=11, backend=b) for b in ("python", "c")}
    for net in nets.values():
        net.fit(data, epochs=2, batch_size=7, lr=2.0)
    on_copy = network.Network([30, 12, 7, 5], seed=11, backend="c")
    on_copy.fit(copy, epochs=2, batch_size=7, lr=2.0)
    assert on_copy.weights == nets["c"].weights
    assert_same("Network weights", nets["c"].weights, nets["python"].weights)
    assert_same("Network biases", nets["c"].biases, nets["python"].biases)
    assert nets["c"].evaluate(test) == nets["python"].evaluate(test)
    assert_same("Network.outputs", nets["c"].outputs(test), nets["python"].outputs(test))


# --- real MNIST ------------------------------------------------------------------------
#
# The C engine equals the reference on real MNIST at real widths (784-100-10 and 784-30-10),
# with 1 and 2 threads, at each SIMD level: every parameter (and momentum velocity), every
# test output and the cost are the same bits.  One test runs four cases, through both ways
# an engine is driven:
# - "fit": Network.fit (the shuffle drawn by the engine's shuffled_order, then
#   train_order), from the Network's own seeded initial weights;
# - "batches": engine.train_batches with lists of sample indices, from given weights.
# A few hundred to a thousand samples keep the reference to about a second a case; its
# results are computed once per case and compared with the C engine at every level.

# n: training and test samples (the first ones of each set); hits: fewer test samples
# right than this (chance is a tenth) means the case did not learn.
MNIST_CASES = {
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
    from purenet import data
    return data.load_mnist_files(mnist_dir())


def mnist_train(case, backend, threads, train_set):
    """An engine of the given backend after the case's training, and its initial parameters."""
    c = MNIST_CASES[case]
    if c["via"] == "fit":
        from purenet.network import Network
        net = Network(c["sizes"], backend=backend, threads=threads, **c["net"])
        start = net.engine.get_params()
        net.fit(train_set, c["epochs"], batch_size=10, lr=c["lr"], **c.get("step", {}))
        return net.engine, start
    rnd = random.Random(c["params_seed"])
    weights, biases = random_params(c["sizes"], rnd)
    if backend == "python":
        engine = ReferenceEngine(c["sizes"], weights, biases)
    else:
        engine = cengine.CEngine(c["sizes"], weights, biases, threads=threads)
    for _ in range(c["epochs"]):
        engine.train_batches(train_set, epoch_batches(rnd, train_set.n, 10), c["lr"])
    return engine, (weights, biases)


def mnist_results(engine, test_set):
    """What is compared: parameters, velocities, test outputs, and the cost with and
    without an L2 term."""
    return dict(params=engine.get_params(), velocities=engine.get_velocities(),
                outputs=engine.outputs(test_set),
                cost=[engine.total_cost(test_set, 0.0, 0.0), engine.total_cost(test_set, 5.0, 0.0)])


_mnist_reference = {}


def mnist_reference(case, train_set, test_set):
    """The reference's results for a case, computed once for all the SIMD levels."""
    if case not in _mnist_reference:
        engine, start = mnist_train(case, "python", 1, train_set)
        assert engine.get_params() != start                     # it did train
        _mnist_reference[case] = mnist_results(engine, test_set)
    return _mnist_reference[case]


def hits(outputs, test_set):
    return sum(1 for i, o in enumerate(outputs)
               if max(range(len(o)), key=o.__getitem__) == test_set.labels[i])


@needs_c
@needs_mnist
@pytest.mark.parametrize("case", list(MNIST_CASES))
def test_engines_agree_on_real_mnist(case, mnist, simd_level):
    n_train, n_test = MNIST_CASES[case]["n"]
    train_set, test_set = mnist[0].head(n_train), mnist[1].head(n_test)
    want = mnist_reference(case, train_set, test_set)
    for threads in (1, 2):
        engine, _ = mnist_train(case, "c", threads, train_set)
        got = mnist_results(engine, test_set)
        for key in ("params", "velocities", "outputs", "cost"):
            if want[key] is None:                   # no velocities without momentum
                assert got[key] is None, key
                continue
            assert_same("MNIST %s, SIMD level %s, %d thread(s): %s"
                        % (case, simd_level, threads, key), got[key], want[key])
    assert hits(want["outputs"], test_set) > MNIST_CASES[case]["hits"], case


# --- errors: Python side ---------------------------------------------------------------

@needs_c
def test_engine_rejects_bad_arguments():
    rnd = random.Random(9)
    sizes = [6, 4, 3]
    weights, biases = random_params(sizes, rnd)
    c = cengine.CEngine(sizes, weights, biases)
    data = pixel_dataset(rnd, 20, 6, 3)
    before = c.get_params()
    with pytest.raises(ValueError, match="out of range"):
        c.train_batches(data, [[0, 1], [20]], 3.0)
    with pytest.raises(ValueError, match="out of range"):
        c.train_batches(data, [[-1]], 3.0)
    with pytest.raises(ValueError, match="empty"):
        c.train_batches(data, [[0], []], 3.0)
    with pytest.raises(ValueError, match="whole-number"):
        c.train_batches(data, [[0.5]], 3.0)
    assert c.get_params() == before                  # nothing was half done
    with pytest.raises(ValueError, match="inputs"):
        c.train_batches(pixel_dataset(rnd, 5, 7, 3), [[0]], 3.0)
    with pytest.raises(ValueError, match="outputs"):
        c.train_batches(pixel_dataset(rnd, 5, 6, 4), [[0]], 3.0)
    with pytest.raises(ValueError, match="start"):
        c.outputs(data, 5, 3)
    with pytest.raises(ValueError, match="start"):
        c.outputs(data, 0, 21)
    with pytest.raises(ValueError, match="input has"):
        c.feedforward([0.0] * 5)
    with pytest.raises(ValueError):
        c.set_params(weights[:1], biases)
    with pytest.raises(ValueError):
        c.set_params([weights[0], [row[:-1] for row in weights[1]]], biases)
    with pytest.raises(ValueError):
        c.set_params(weights, [biases[0], biases[1][:-1]])
    with pytest.raises(ValueError):
        cengine.CEngine([6], [], [])
    with pytest.raises(ValueError):
        cengine.CEngine([6, 0, 3], weights, biases)
    with pytest.raises(ValueError, match="threads"):
        cengine.CEngine(sizes, weights, biases, threads=0)
    with pytest.raises(TypeError):
        c.train_batches([([0.0] * 6, [0.0] * 3)], [[0]], 3.0)
    assert c.get_params() == before


def test_unavailable_error_is_an_import_error_with_instructions():
    if cengine is None:
        pytest.skip("purenet.cengine missing")
    assert issubclass(cengine.CEngineUnavailable, ImportError)
    assert "pip install ." in cengine.BUILD_HINT and "python build_ext.py" in cengine.BUILD_HINT


# --- errors: C side (the checks the C code makes itself) ---------------------------------

@needs_c
def test_c_checks_its_arguments(raw):
    lib, ffi = raw.lib, raw.ffi
    assert ffi.string(lib.pn_strerror(0)) == b"ok"
    for code in range(1, 14):
        assert len(ffi.string(lib.pn_strerror(code))) > 10
    assert b"unknown" in ffi.string(lib.pn_strerror(999))

    sizes = [5, 4, 3]
    cs = raw.sizes(sizes)
    n, nf = lib.pn_param_count(cs, 3), lib.pn_fast_param_count(cs, 3)
    assert n == 5 * 4 + 4 + 4 * 3 + 3 and nf == 5 * 8 + 8 + 4 * 8 + 8      # rows padded to 8
    # A first layer wider than 8: its wT in two column panels (8 and 12 columns, rows
    # padded to 8 and 16), 512 doubles apart, then its biases (20 padded to 24).
    wide = raw.sizes([5, 20, 3])
    assert lib.pn_fast_param_count(wide, 3) == 5 * 8 + 512 + 5 * 16 + 24 + 20 * 8 + 8
    assert lib.pn_param_count(cs, 1) == 0
    assert lib.pn_param_count(raw.sizes([5, 0, 3]), 3) == 0
    assert lib.pn_param_count(raw.sizes([5, -2, 3]), 3) == 0
    assert lib.pn_param_count(ffi.NULL, 3) == 0

    rnd = random.Random(4)
    weights, biases = random_params(sizes, rnd)
    tb = raw.d(raw.params(weights, biases))
    fast = array("d", [0.0] * nf)
    fp = ffi.from_buffer("double[]", fast)
    assert lib.pn_to_fast(cs, 3, tb[1], n, fp, nf) == 0
    saved = fast.tobytes()

    x, y = raw.d([0.5] * 5), raw.d([0.1] * 3)
    out = raw.d([0.0] * 3)
    seed = raw.model()
    bad_models = [ffi.NULL, ffi.new("pn_model *", {"cost": 3, "activation": 0}),
                  ffi.new("pn_model *", {"cost": 0, "activation": -1})]
    assert lib.pn_feedforward(cs, 3, seed, tb[1], n - 1, x[1], out[1]) == lib.PN_ERR_PARAMS
    assert lib.pn_feedforward(cs, 1, seed, tb[1], n, x[1], out[1]) == lib.PN_ERR_SIZES
    assert lib.pn_feedforward(cs, 3, seed, ffi.NULL, n, x[1], out[1]) == lib.PN_ERR_NULL
    assert lib.pn_feedforward(cs, 3, seed, tb[1], n, ffi.NULL, out[1]) == lib.PN_ERR_NULL
    for bad in bad_models:
        assert lib.pn_feedforward(cs, 3, bad, tb[1], n, x[1], out[1]) == lib.PN_ERR_MODEL
    assert lib.pn_backprop(cs, 3, seed, tb[1], n, x[1], ffi.NULL, out[1]) == lib.PN_ERR_NULL
    assert lib.pn_update_mini_batch(cs, 3, seed, tb[1], n, x[1], y[1], 0, 3.0) == lib.PN_ERR_BATCH
    assert lib.pn_backward_error(3, 4, tb[1], x[1], x[1], 7, out[1]) == lib.PN_ERR_MODEL
    assert lib.pn_softmax(0, x[1], out[1]) == lib.PN_ERR_SIZES
    assert lib.pn_cross_entropy_cost(3, x[1], y[1], ffi.NULL, out[1]) == lib.PN_ERR_NULL
    vel = raw.d([0.0] * n)
    for args in ((0.0, 10.0, 0.0, 0.0), (float("nan"), 10.0, 0.0, 0.0), (1.0, 0.5, 0.0, 0.0),
                 (1.0, 10.0, -1.0, 0.0), (1.0, 10.0, 0.0, float("inf"))):
        assert lib.pn_regularized_update(cs, 3, seed, tb[1], n, x[1], y[1], 1,
                                         *args) == lib.PN_ERR_STEP
    for mu in (0.0, 1.0, -0.5, float("nan")):
        assert lib.pn_momentum_update(cs, 3, seed, tb[1], vel[1], n, x[1], y[1], 1, 1.0, 10.0, mu,
                                      0.0, 0.0) == lib.PN_ERR_STEP
    assert lib.pn_momentum_update(cs, 3, seed, tb[1], ffi.NULL, n, x[1], y[1], 1, 1.0, 10.0, 0.5,
                                  0.0, 0.0) == lib.PN_ERR_STEP
    assert lib.pn_total_cost(cs, 3, seed, tb[1], n, x[1], y[1], 0, 0.0, 0.0,
                             out[1]) == lib.PN_ERR_BATCH
    assert tb[0].tobytes() == array("d", raw.params(weights, biases)).tobytes()   # untouched
    assert lib.pn_weighted_sums(0, 5, tb[1], x[1], tb[1], out[1]) == lib.PN_ERR_SIZES
    assert lib.pn_to_fast(cs, 3, tb[1], n, fp, nf + 1) == lib.PN_ERR_PARAMS
    assert lib.pn_from_fast(cs, 3, fp, nf, tb[1], n - 1) == lib.PN_ERR_PARAMS

    data = pixel_dataset(rnd, 10, 5, 3)
    keep = []

    def pn_data(**over):
        d = ffi.new("pn_data *")
        table = array("d", data.table)
        pix = ffi.from_buffer("uint8_t[]", data.pixels)
        lab = ffi.from_buffer("uint8_t[]", data.labels)
        tab = ffi.from_buffer("double[]", table)
        keep.extend([table, pix, lab, tab, d])
        d.n, d.n_in, d.n_out = data.n, 5, 3
        d.pixels, d.pixels_len, d.table, d.table_len = pix, len(data.pixels), tab, 256
        d.labels, d.labels_len = lab, data.n
        for k, v in over.items():
            setattr(d, k, v)
        return d

    velocities = array("d", [0.0] * nf)
    vp = ffi.from_buffer("double[]", velocities)

    def train(d, idx, bs, threads=1, params_len=nf, model=seed, vel=ffi.NULL, **step):
        ia, ba = array("q", idx), array("q", bs)
        st = dict(lr=3.0, n=10.0, l2=0.0, l1=0.0, momentum=0.0)
        st.update(step)
        return lib.pn_train_batches(cs, 3, model, fp, vel, params_len, d,
                                    ffi.from_buffer("int64_t[]", ia), len(ia),
                                    ffi.from_buffer("int64_t[]", ba), len(ba),
                                    ffi.new("pn_step *", st), threads)

    assert train(pn_data(), [0, 1, 2], [2, 1]) == 0
    saved = fast.tobytes()
    assert train(pn_data(), [0, 1, 10], [3]) == lib.PN_ERR_INDEX
    assert train(pn_data(), [0, -1], [2]) == lib.PN_ERR_INDEX
    assert train(pn_data(), [0, 1, 2], [2, 2]) == lib.PN_ERR_BATCH
    assert train(pn_data(), [0, 1, 2], [2]) == lib.PN_ERR_BATCH
    assert train(pn_data(), [0, 1, 2], [3, 0]) == lib.PN_ERR_BATCH
    assert train(pn_data(), [0, 1, 2], [-1, 4]) == lib.PN_ERR_BATCH
    assert train(pn_data(), [0], [1], params_len=n) == lib.PN_ERR_PARAMS
    assert train(pn_data(), [0], [1], threads=0) == lib.PN_ERR_THREADS
    assert train(pn_data(), [0], [1], threads=lib.PN_MAX_THREADS + 1) == lib.PN_ERR_THREADS
    assert train(pn_data(n_in=4), [0], [1]) == lib.PN_ERR_DATA
    assert train(pn_data(n_out=4), [0], [1]) == lib.PN_ERR_DATA
    assert train(pn_data(pixels_len=49), [0], [1]) == lib.PN_ERR_DATA
    assert train(pn_data(table_len=255), [0], [1]) == lib.PN_ERR_DATA
    assert train(pn_data(table=ffi.NULL), [0], [1]) == lib.PN_ERR_DATA
    assert train(pn_data(labels=ffi.NULL), [0], [1]) == lib.PN_ERR_DATA
    assert train(pn_data(labels_len=9), [0], [1]) == lib.PN_ERR_DATA
    xs = array("d", [0.0] * 50)
    short_xs = pn_data(xs=ffi.from_buffer("double[]", xs), xs_len=50)
    assert train(short_xs, [0], [1]) == lib.PN_ERR_DATA
    bad_labels = bytearray(data.labels)
    bad_labels[4] = 3
    lb = ffi.from_buffer("uint8_t[]", bad_labels)
    assert train(pn_data(labels=lb), [0, 1, 2], [3]) == 0          # sample 4 is not used
    saved = fast.tobytes()
    assert train(pn_data(labels=lb), [0, 4], [2]) == lib.PN_ERR_LABEL
    step = ffi.new("pn_step *", dict(lr=3.0, n=10.0, l2=0.0, l1=0.0, momentum=0.0))
    assert lib.pn_train_batches(cs, 3, seed, fp, ffi.NULL, nf, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0,
                                step, 1) == lib.PN_ERR_NULL
    assert lib.pn_train_batches(cs, 3, seed, fp, ffi.NULL, nf, pn_data(), ffi.NULL, 1,
                                ffi.from_buffer("int64_t[]", array("q", [1])), 1, step,
                                1) == lib.PN_ERR_NULL
    assert lib.pn_train_batches(cs, 3, seed, fp, ffi.NULL, nf, pn_data(), ffi.NULL, 0, ffi.NULL, 0,
                                ffi.NULL, 1) == lib.PN_ERR_NULL
    for bad in bad_models:
        assert train(pn_data(), [0], [1], model=bad) == lib.PN_ERR_MODEL
    for step in ({"lr": 0.0}, {"lr": float("inf")}, {"n": 0.0}, {"l2": -1.0}, {"l1": float("nan")},
                 {"momentum": 1.0}, {"momentum": -0.1}, {"momentum": 0.5}):   # 0.5: no velocities
        assert train(pn_data(), [0], [1], **step) == lib.PN_ERR_STEP, step
    assert fast.tobytes() == saved                    # no failed call changed a parameter
    assert train(pn_data(), [0, 1], [2], vel=vp, momentum=0.5, l2=1.0) == 0
    assert velocities.tobytes() != bytes(8 * nf)      # the velocities moved with the weights
    saved = fast.tobytes()

    outs = array("d", [0.0] * 30)
    op = ffi.from_buffer("double[]", outs)
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(), 0, 10, op, 30, 1) == 0
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(), 0, 11, op, 33, 1) == lib.PN_ERR_RANGE
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(), 4, 3, op, 0, 1) == lib.PN_ERR_RANGE
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(), 0, 10, op, 29, 1) == lib.PN_ERR_RANGE
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(), 0, 10, ffi.NULL, 30, 1) == lib.PN_ERR_NULL
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(labels=ffi.NULL), 0, 10, op, 30, 1) == 0
    assert lib.pn_outputs(cs, 3, seed, fp, nf, pn_data(pixels=ffi.NULL), 0, 10, op, 30,
                          1) == lib.PN_ERR_DATA
    assert lib.pn_outputs(cs, 3, bad_models[1], fp, nf, pn_data(), 0, 10, op, 30,
                          1) == lib.PN_ERR_MODEL

    c = ffi.new("double *", 1.5)
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(), 0.0, 0.0, c, 1) == 0 and c[0] != 1.5
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(labels=ffi.NULL), 0.0, 0.0, c,
                       1) == lib.PN_ERR_DATA
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(), -1.0, 0.0, c, 1) == lib.PN_ERR_RANGE
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(), 0.0, 0.0, ffi.NULL, 1) == lib.PN_ERR_NULL
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(n=0, pixels_len=0, labels_len=0), 0.0, 0.0, c,
                       1) == lib.PN_ERR_RANGE
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(labels=lb), 0.0, 0.0, c, 1) == lib.PN_ERR_LABEL
    assert lib.pn_cost(cs, 3, seed, fp, nf, pn_data(), 0.0, 0.0, c, 3) == lib.PN_ERR_THREADS
    assert fast.tobytes() == saved


@needs_c
def test_pn_all_finite_finds_every_nan_and_infinity(raw):
    """fit's divergence check in C: any NaN or ±inf among the first n values, nothing beyond."""
    lib, ffi = raw.lib, raw.ffi
    values = [0.5, -1e308, 5e-324, 0.0, -0.0, 7.0]
    assert lib.pn_all_finite(raw.d(values)[1], len(values)) == lib.PN_OK
    for bad in (float("nan"), float("inf"), float("-inf"), -float("nan")):
        for at in range(len(values)):
            buf = raw.d(values[:at] + [bad] + values[at + 1:])
            assert lib.pn_all_finite(buf[1], len(values)) == lib.PN_ERR_NONFINITE, (bad, at)
            assert lib.pn_all_finite(buf[1], at) == lib.PN_OK          # before it: all finite
    assert lib.pn_all_finite(ffi.NULL, 0) == lib.PN_OK
    assert lib.pn_all_finite(ffi.NULL, 1) == lib.PN_ERR_NULL
    assert b"NaN or infinite" in ffi.string(lib.pn_strerror(lib.PN_ERR_NONFINITE))


@needs_c
def test_c_error_becomes_python_exception(monkeypatch):
    """A non-zero C code turns into an exception carrying pn_strerror's message."""
    lib, _ = cengine.lib_and_ffi()
    with pytest.raises(cengine.CEngineError, match="sample index is out of range"):
        cengine._check(lib.PN_ERR_INDEX, "train_batches")
    with pytest.raises(MemoryError):
        cengine._check(lib.PN_ERR_NOMEM, "outputs")


@needs_c
def test_simd_limit_switches_the_level_in_use():
    """pn_limit_simd(1) turns the AVX-512 row sums off where the CPU has them, and
    pn_limit_simd(2) turns them back on; the level reported is the one in use."""
    lib, _ = cengine.lib_and_ffi()
    top = lib.pn_simd_level()
    try:
        assert lib.pn_limit_simd(1) == min(top, 1) == lib.pn_simd_level()
        assert cengine.simd_name() == ("baseline", "AVX2")[min(top, 1)]
    finally:
        assert lib.pn_limit_simd(2) == top == lib.pn_simd_level()
