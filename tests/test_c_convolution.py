"""The C textbook of chapter 6 (csrc/convolution.c) agrees with purenet/convolution.py
bit for bit, routine by routine: pn_conv_sums, pn_map_activations, pn_max_pool,
pn_pool_backward, pn_conv_backward_error, pn_map_error, pn_conv_weight_gradient and
pn_conv_bias_gradient, each against its Python twin.

Every comparison is of IEEE bit patterns (helpers.assert_same), over seeded random
shapes: odd sizes, several maps, 20 or more filters, K = 1 and K = the whole map, data
with many exact zeros (and inf weights, which make a wrongly kept zero term a nan),
pooling windows with ties (0.0 against -0.0 too) and nans, every activation.  Then the
error codes, and that a refused call writes nothing.

These are textbook routines with no SIMD variants: no simd_level fixture.  Without the
compiled module the file is skipped, except with PURENET_REQUIRE_C=1 (CI), where its
tests fail instead.
"""

import math
import random
import struct
from array import array

import pytest

from purenet import convolution as cv
from purenet import reference as ref

from helpers import C_MISSING, REQUIRE_C, assert_same, flat, needs_c

try:
    from purenet import cengine
    HAVE_C = cengine.available()
except ImportError:          # pragma: no cover - cengine itself needs only the stdlib
    cengine, HAVE_C = None, False

SKIP_REASON = "the C engine is unavailable: %s" % C_MISSING
INF, NAN = float("inf"), float("nan")
NEG_NAN = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000001))[0]   # a nan of its own bits
ACTIVATIONS = {"sigmoid": (ref.SIGMOID, "PN_SIGMOID"), "tanh": (ref.TANH, "PN_TANH"),
               "relu": (ref.RELU, "PN_RELU")}
SENTINEL = -12345.5          # what a refused call must leave in its outputs


class Raw:
    """The raw cffi library, with flat buffers for nested lists."""

    def __init__(self):
        self.lib, self.ffi = cengine.lib_and_ffi()

    def d(self, values):
        """A double* to nested lists of floats, flattened (the pointer keeps its array
        alive: ffi.from_buffer)."""
        return self.ffi.from_buffer("double[]", array("d", flat(values) or [0.0]))

    def out(self, n):
        """(array, double*) of n sentinels."""
        a = array("d", [SENTINEL] * max(n, 1))
        return a, self.ffi.from_buffer("double[]", a)

    def ints(self, values):
        a = array("i", list(values) or [0])
        return a, self.ffi.from_buffer("int[]", a)


@pytest.fixture(scope="module")
def raw():
    if not HAVE_C and not REQUIRE_C:
        pytest.skip(SKIP_REASON)
    return Raw()


def ok(rc, raw, what):
    assert rc == raw.lib.PN_OK, "%s returned %d: %s" % (
        what, rc, raw.ffi.string(raw.lib.pn_strerror(rc)).decode())


# --- random data -----------------------------------------------------------------------

def value(rnd, zeros):
    """A random double: exactly 0.0 or -0.0 with probability zeros, else Gaussian."""
    if rnd.random() < zeros:
        return rnd.choice((0.0, -0.0))
    return rnd.gauss(0.0, rnd.choice((0.1, 1.0, 10.0)))


def maps(rnd, ch, h, w, zeros=0.5):
    return [[[value(rnd, zeros) for _ in range(w)] for _ in range(h)] for _ in range(ch)]


def filters(rnd, fs, ch, k, specials=0.02):
    """[F][C][K][K] weights, a few of them ±inf: a term whose data factor is 0 and is
    not skipped then turns its sum into a nan."""
    def weight():
        return rnd.choice((INF, -INF)) if rnd.random() < specials else value(rnd, 0.1)
    return [[[[weight() for _ in range(k)] for _ in range(k)] for _ in range(ch)]
            for _ in range(fs)]


# (name, F, C, H, W, K): odd sizes, several maps, 20+ filters, K = 1, K = the whole map.
FIXED_CONV = [
    ("1x1", 1, 1, 1, 1, 1),
    ("k1", 3, 2, 5, 7, 1),
    ("k-whole-square", 4, 3, 6, 6, 6),
    ("k-whole-rows", 2, 2, 5, 9, 5),
    ("k-whole-cols", 3, 1, 8, 3, 3),
    ("book-first", 20, 1, 12, 12, 5),
    ("24-filters", 24, 3, 9, 11, 3),
    ("odd", 5, 4, 7, 5, 3),
]


def random_conv(seed):
    rnd = random.Random(seed)
    h, w = rnd.randint(1, 11), rnd.randint(1, 11)
    return ("random%d" % seed, rnd.randint(1, 22), rnd.randint(1, 4), h, w,
            rnd.randint(1, min(h, w)))


CONV_CASES = FIXED_CONV + [random_conv(seed) for seed in range(12)]


def conv_case(case):
    name, fs, ch, h, w, k = case
    rnd = random.Random(name)
    return (rnd, fs, ch, h, w, k, filters(rnd, fs, ch, k),
            [value(rnd, 0.1) for _ in range(fs)], maps(rnd, ch, h, w))


def case_ids(cases):
    return [c[0] for c in cases]


# --- forward ---------------------------------------------------------------------------

@needs_c
@pytest.mark.parametrize("case", CONV_CASES, ids=case_ids(CONV_CASES))
def test_conv_sums(raw, case):
    rnd, fs, ch, h, w, k, wts, b, a = conv_case(case)
    want = cv.conv_sums(wts, b, a)
    pw, pb, pa = raw.d(wts), raw.d(b), raw.d(a)
    z, pz = raw.out(fs * (h - k + 1) * (w - k + 1))
    ok(raw.lib.pn_conv_sums(fs, ch, h, w, k, pw, pb, pa, pz), raw, "pn_conv_sums")
    assert_same("pn_conv_sums %s" % case[0], list(z), want)


def activation_points(rnd, n):
    specials = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 20.0, -20.0, 710.0, -745.0, 800.0,
                -800.0, INF, -INF, NAN]
    return [rnd.choice(specials) if rnd.random() < 0.3 else rnd.gauss(0.0, 5.0)
            for _ in range(n)]


MAP_SHAPES = [(1, 1, 1), (3, 5, 7), (20, 4, 4), (2, 9, 3)]


@needs_c
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", MAP_SHAPES, ids=lambda s: "%dx%dx%d" % s)
def test_map_activations(raw, name, shape):
    act, code = ACTIVATIONS[name]
    ch, h, w = shape
    rnd = random.Random("act %s %s" % (name, shape))
    z = [[activation_points(rnd, w) for _ in range(h)] for _ in range(ch)]
    pz, (a, pa) = raw.d(z), raw.out(ch * h * w)
    ok(raw.lib.pn_map_activations(ch, h, w, pz, getattr(raw.lib, code), pa), raw,
       "pn_map_activations")
    assert_same("pn_map_activations %s" % name, list(a), cv.map_activations(z, act))


# --- max-pooling -------------------------------------------------------------------------

# A small alphabet of values, so that windows tie often: 0.0 against -0.0, equal maxima,
# nans of two bit patterns (which one wins shows in the pooled bits), infinities.
POOL_VALUES = [0.0, -0.0, 1.0, 1.0, -1.0, 2.0, -INF, INF, NAN, NEG_NAN]


def pool_maps(rnd, ch, h, w, mix):
    """Maps whose windows tie: mix = "zeros" (0.0 and -0.0 only, every window a tie),
    "ties" (the alphabet), "nans" (half nans), "plain" (Gaussian, many exact zeros)."""
    def draw():
        if mix == "zeros":
            return rnd.choice((0.0, -0.0))
        if mix == "ties":
            return rnd.choice(POOL_VALUES)
        if mix == "nans":
            return rnd.choice((NAN, NEG_NAN)) if rnd.random() < 0.5 else rnd.choice(POOL_VALUES)
        return value(rnd, 0.5)
    return [[[draw() for _ in range(w)] for _ in range(h)] for _ in range(ch)]


# (C, H, W, P): P = 1, P = the whole map, odd sizes, 20+ maps.
POOL_SHAPES = [(1, 1, 1, 1), (2, 3, 5, 1), (3, 6, 4, 2), (2, 9, 9, 3), (4, 8, 12, 4),
               (1, 5, 5, 5), (20, 4, 6, 2), (3, 7, 14, 7)]
POOL_MIXES = ["zeros", "ties", "nans", "plain"]


def c_max_pool(raw, a, p):
    ch, h, w = cv.shape(a)
    n = ch * (h // p) * (w // p)
    pa, (m, pm), (choices, pc) = raw.d(a), raw.out(n), raw.ints([-7] * n)
    ok(raw.lib.pn_max_pool(ch, h, w, p, pa, pm, pc), raw, "pn_max_pool")
    return list(m), list(choices)


@needs_c
@pytest.mark.parametrize("mix", POOL_MIXES)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=lambda s: "%dx%dx%d-p%d" % s)
def test_max_pool(raw, shape, mix):
    ch, h, w, p = shape
    rnd = random.Random("pool %s %s" % (shape, mix))
    for _ in range(3):
        a = pool_maps(rnd, ch, h, w, mix)
        want_m, want_choices = cv.max_pool(a, p)
        m, choices = c_max_pool(raw, a, p)
        assert_same("pn_max_pool %s" % mix, m, want_m)
        assert choices == [y * w + x for y, x in flat_choices(want_choices)], \
            "pn_max_pool chose other units than convolution.max_pool"


def flat_choices(choices):
    return [yx for m in choices for row in m for yx in row]


def test_pool_values_tie_as_documented():
    """The data above has what it claims: 0.0 and -0.0 tie (and the first wins), nans of
    two bit patterns (and the first wins)."""
    m, choices = cv.max_pool([[[-0.0, 0.0], [NEG_NAN, NAN]]], 2)
    assert choices == [[[(1, 0)]]]
    assert struct.pack("<d", m[0][0][0]) == struct.pack("<d", NEG_NAN) != struct.pack("<d", NAN)
    m, choices = cv.max_pool([[[-0.0, 0.0], [0.0, -0.0]]], 2)
    assert choices == [[[(0, 0)]]] and math.copysign(1.0, m[0][0][0]) == -1.0


@needs_c
@pytest.mark.parametrize("mix", POOL_MIXES)
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=lambda s: "%dx%dx%d-p%d" % s)
def test_pool_backward(raw, shape, mix):
    ch, h, w, p = shape
    rnd = random.Random("unpool %s %s" % (shape, mix))
    a = pool_maps(rnd, ch, h, w, mix)
    _, choices = cv.max_pool(a, p)
    delta_pooled = maps(rnd, ch, h // p, w // p, zeros=0.3)
    want = cv.pool_backward(delta_pooled, choices, (ch, h, w))
    pd, (_, pc) = raw.d(delta_pooled), raw.ints([y * w + x for y, x in flat_choices(choices)])
    delta, pdelta = raw.out(ch * h * w)
    ok(raw.lib.pn_pool_backward(ch, h, w, p, pd, pc, pdelta), raw, "pn_pool_backward")
    assert_same("pn_pool_backward %s" % mix, list(delta), want)


# --- backward ----------------------------------------------------------------------------

def conv_error(rnd, fs, oh, ow, zeros=0.6):
    """An error δ of a conv layer, many of it exact zeros (ReLU, pooling)."""
    return maps(rnd, fs, oh, ow, zeros)


@needs_c
@pytest.mark.parametrize("case", CONV_CASES, ids=case_ids(CONV_CASES))
def test_conv_backward_error(raw, case):
    rnd, fs, ch, h, w, k, wts, _, _ = conv_case(case)
    delta = conv_error(rnd, fs, h - k + 1, w - k + 1)
    want = cv.conv_backward_error(wts, delta, (ch, h, w))
    pw, pd, (s, ps) = raw.d(wts), raw.d(delta), raw.out(ch * h * w)
    ok(raw.lib.pn_conv_backward_error(fs, ch, h, w, k, pw, pd, ps), raw, "pn_conv_backward_error")
    assert_same("pn_conv_backward_error %s" % case[0], list(s), want)


@needs_c
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", MAP_SHAPES, ids=lambda s: "%dx%dx%d" % s)
def test_map_error(raw, name, shape):
    act, code = ACTIVATIONS[name]
    ch, h, w = shape
    rnd = random.Random("error %s %s" % (name, shape))
    s = maps(rnd, ch, h, w, zeros=0.3)
    s[0][0][0] = INF                          # inf·0 (a ReLU's slope) is nan: no shortcut
    z = [[activation_points(rnd, w) for _ in range(h)] for _ in range(ch)]
    ps, pz, (delta, pdelta) = raw.d(s), raw.d(z), raw.out(ch * h * w)
    ok(raw.lib.pn_map_error(ch, h, w, ps, pz, getattr(raw.lib, code), pdelta), raw,
       "pn_map_error")
    assert_same("pn_map_error %s" % name, list(delta), cv.map_error(s, z, act))


@needs_c
@pytest.mark.parametrize("case", CONV_CASES, ids=case_ids(CONV_CASES))
def test_conv_weight_gradient(raw, case):
    rnd, fs, ch, h, w, k, _, _, a = conv_case(case)
    delta = conv_error(rnd, fs, h - k + 1, w - k + 1)
    if fs * (h - k + 1) * (w - k + 1) > 1:
        delta[0][0][0] = INF                  # with a zero input: inf·0 unless skipped
    if ch * h * w > 1:
        a[-1][-1][-1] = INF                   # with a zero δ: the same
    want = cv.conv_weight_gradient(delta, a, k)
    pd, pa, (nw, pnw) = raw.d(delta), raw.d(a), raw.out(fs * ch * k * k)
    ok(raw.lib.pn_conv_weight_gradient(fs, ch, h, w, k, pd, pa, pnw), raw,
       "pn_conv_weight_gradient")
    assert_same("pn_conv_weight_gradient %s" % case[0], list(nw), want)


@needs_c
@pytest.mark.parametrize("case", CONV_CASES, ids=case_ids(CONV_CASES))
def test_conv_bias_gradient(raw, case):
    rnd, fs, ch, h, w, k, _, _, _ = conv_case(case)
    oh, ow = h - k + 1, w - k + 1
    delta = conv_error(rnd, fs, oh, ow)
    want = cv.conv_bias_gradient(delta)
    pd, (nb, pnb) = raw.d(delta), raw.out(fs)
    ok(raw.lib.pn_conv_bias_gradient(fs, oh, ow, pd, pnb), raw, "pn_conv_bias_gradient")
    assert_same("pn_conv_bias_gradient %s" % case[0], list(nb), want)


# Terms that sum to 1 only in the documented order: 1e16 + 1 rounds back to 1e16, so
# BIG gives 1 ascending and 0 descending, and T2 gives 1 row-major and 0 column-major
# (an outer and an inner index swapped).
BIG = [1e16, -1e16, 1.0]
T2 = [[1e16, -1e16], [1.0, 0.0]]


def carrying(shape, axes):
    """Nested zeros of shape, with BIG along one axis (axes = (p,), of length 3) or T2
    over two (axes = (p, q), p < q, each of length 2), at index 0 of the other axes."""
    def build(idx):
        if len(idx) == len(shape):
            if any(idx[d] for d in range(len(shape)) if d not in axes):
                return 0.0
            at = [idx[d] for d in axes]
            return BIG[at[0]] if len(axes) == 1 else T2[at[0]][at[1]]
        return [build(idx + [n]) for n in range(shape[len(idx)])]
    return build([])


def ones(ch, h, w):
    return [[[1.0] * w for _ in range(h)] for _ in range(ch)]


def carried_sizes(axes, names):
    """The size of each named index: 3 along one axis, 2 along each of two, else 1."""
    return [3 if len(axes) == 1 and d in axes else 2 if d in axes else 1
            for d in range(len(names))]


SUM_AXES = [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]


@needs_c
@pytest.mark.parametrize("axes", SUM_AXES, ids=str)
def test_conv_sums_order(raw, axes):
    """z = Σ_c Σ_i Σ_j w·a: the terms in w, over (c, i, j), with inputs of 1."""
    ch, ki, kj = carried_sizes(axes, "cij")
    k = max(ki, kj)
    wts = [carrying((ch, k, k), axes)]
    a = ones(ch, k, k)
    z, pz = raw.out(1)
    ok(raw.lib.pn_conv_sums(1, ch, k, k, k, raw.d(wts), raw.d([0.0]), raw.d(a), pz), raw,
       "pn_conv_sums")
    assert list(z) == [1.0] == flat(cv.conv_sums(wts, [0.0], a))


@needs_c
@pytest.mark.parametrize("axes", SUM_AXES, ids=str)
def test_conv_backward_error_order(raw, axes):
    """s[0][K−1][K−1] = Σ_f Σ_i Σ_j w[f][0][i][j]·δ[f][K−1−i][K−1−j]: the terms in w,
    over (f, i, j), with errors of 1 (maps of 2K − 1, so every (i, j) reaches it)."""
    fs, ki, kj = carried_sizes(axes, "fij")
    k = max(ki, kj)
    wts = [[m] for m in carrying((fs, k, k), axes)]
    delta, h = ones(fs, k, k), 2 * k - 1
    s, ps = raw.out(h * h)
    ok(raw.lib.pn_conv_backward_error(fs, 1, h, h, k, raw.d(wts), raw.d(delta), ps), raw,
       "pn_conv_backward_error")
    want = cv.conv_backward_error(wts, delta, (1, h, h))
    assert want[0][k - 1][k - 1] == 1.0
    assert_same("pn_conv_backward_error", list(s), want)


@needs_c
@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1)], ids=str)
def test_gradient_sums_order(raw, axes):
    """∂C/∂b = Σ_y Σ_x δ and ∂C/∂w = Σ_y Σ_x δ·a (1×1 filters, inputs of 1): the terms
    in δ, over (y, x)."""
    oh, ow = carried_sizes(axes, "yx")
    delta = [carrying((oh, ow), axes)]
    (nb, pnb), (nw, pnw) = raw.out(1), raw.out(1)
    ok(raw.lib.pn_conv_bias_gradient(1, oh, ow, raw.d(delta), pnb), raw, "pn_conv_bias_gradient")
    assert list(nb) == [1.0] == cv.conv_bias_gradient(delta)
    a = ones(1, oh, ow)
    ok(raw.lib.pn_conv_weight_gradient(1, 1, oh, ow, 1, raw.d(delta), raw.d(a), pnw), raw,
       "pn_conv_weight_gradient")
    assert list(nw) == [1.0] == flat(cv.conv_weight_gradient(delta, a, 1))


@needs_c
def test_sums_start_from_plus_zero(raw):
    """Every sum starts from +0.0: terms that are all −0.0 sum to +0.0 (from −0.0 they
    would stay −0.0), and so does a −0.0 bias added to it."""
    lib, neg = raw.lib, [[[-0.0] * 2] * 2]                      # a 2×2 map of −0.0
    z, pz = raw.out(1)
    ok(lib.pn_conv_sums(1, 1, 2, 2, 2, raw.d([neg]), raw.d([-0.0]), raw.d(ones(1, 2, 2)), pz),
       raw, "pn_conv_sums")
    assert_same("pn_conv_sums", list(z), cv.conv_sums([neg], [-0.0], ones(1, 2, 2)))
    s, ps = raw.out(4)
    ok(lib.pn_conv_backward_error(1, 1, 2, 2, 1, raw.d([[[[-0.0]]]]), raw.d(ones(1, 2, 2)), ps),
       raw, "pn_conv_backward_error")
    assert_same("pn_conv_backward_error", list(s),
                cv.conv_backward_error([[[[-0.0]]]], ones(1, 2, 2), (1, 2, 2)))
    (nb, pnb), (nw, pnw) = raw.out(1), raw.out(1)
    ok(lib.pn_conv_bias_gradient(1, 2, 2, raw.d(neg), pnb), raw, "pn_conv_bias_gradient")
    assert_same("pn_conv_bias_gradient", list(nb), cv.conv_bias_gradient(neg))
    ok(lib.pn_conv_weight_gradient(1, 1, 2, 2, 1, raw.d(neg), raw.d(ones(1, 2, 2)), pnw), raw,
       "pn_conv_weight_gradient")
    assert_same("pn_conv_weight_gradient", list(nw), cv.conv_weight_gradient(neg, ones(1, 2, 2), 1))
    assert [math.copysign(1.0, v) for v in list(z) + list(s) + list(nb) + list(nw)] == [1.0] * 7


# --- the checks ----------------------------------------------------------------------------

def conv_call(raw, name, fs, ch, h, w, k, nulls=()):
    """Call a conv routine on big enough buffers (or NULL for the arguments in nulls);
    returns (code, every output buffer)."""
    ffi = raw.ffi
    big = 4096

    def buf(arg):
        return (None, ffi.NULL) if arg in nulls else raw.out(big)
    args = {"pn_conv_sums": ("w", "b", "a", "z"),
            "pn_conv_backward_error": ("w", "delta", "s"),
            "pn_conv_weight_gradient": ("delta", "a", "nabla_w")}[name]
    bufs = [buf(arg) for arg in args]
    rc = getattr(raw.lib, name)(fs, ch, h, w, k, *[p for _, p in bufs])
    return rc, [b for b, _ in bufs[-1:] if b is not None]


CONV_ROUTINES = ["pn_conv_sums", "pn_conv_backward_error", "pn_conv_weight_gradient"]
BAD_CONV_SHAPES = [
    (0, 1, 4, 4, 2), (1, 0, 4, 4, 2), (1, 1, 0, 4, 2), (1, 1, 4, 0, 2), (1, 1, 4, 4, 0),
    (-1, 1, 4, 4, 2), (1, 1, 4, 4, -3),
    (1, 1, 4, 4, 5), (1, 1, 3, 8, 4), (1, 1, 8, 3, 4),            # a filter larger than its input
    (1, 1, 1 << 13, 1 << 12, 1),                                   # a map over PN_MAX_SIZE units
    (1 << 25, 1, 1, 1, 1), (1, 1 << 25, 1, 1, 1),                  # too many maps
    (1 << 24, 1 << 24, 4096, 4096, 4096),                          # fs*ch*k*k over 2^64
]


@needs_c
@pytest.mark.parametrize("name", CONV_ROUTINES)
def test_conv_routines_refuse_bad_shapes(raw, name):
    for shape in BAD_CONV_SHAPES:
        rc, outs = conv_call(raw, name, *shape)
        assert rc == raw.lib.PN_ERR_SIZES, "%s%r returned %d" % (name, shape, rc)
        assert all(set(out) == {SENTINEL} for out in outs), "%s%r wrote" % (name, shape)
    rc, _ = conv_call(raw, name, 2, 3, 5, 4, 3)
    ok(rc, raw, name)


@needs_c
@pytest.mark.parametrize("name", CONV_ROUTINES)
def test_conv_routines_refuse_null(raw, name):
    args = {"pn_conv_sums": ("w", "b", "a", "z"),
            "pn_conv_backward_error": ("w", "delta", "s"),
            "pn_conv_weight_gradient": ("delta", "a", "nabla_w")}[name]
    for arg in args:
        rc, outs = conv_call(raw, name, 2, 3, 5, 4, 3, nulls=(arg,))
        assert rc == raw.lib.PN_ERR_NULL, "%s with %s NULL returned %d" % (name, arg, rc)
        assert all(set(out) == {SENTINEL} for out in outs)
    rc, _ = conv_call(raw, name, 2, 3, 5, 4, 0, nulls=args[:1])   # NULL is checked first
    assert rc == raw.lib.PN_ERR_NULL


BAD_MAPS = [(0, 2, 2), (2, 0, 2), (2, 2, 0), (-1, 2, 2), (1, 1 << 13, 1 << 12), (1 << 25, 1, 1)]


@needs_c
def test_map_routines_refuse_bad_arguments(raw):
    lib, ffi = raw.lib, raw.ffi
    (_, pz), (a, pa) = raw.out(64), raw.out(64)
    for ch, h, w in BAD_MAPS:
        assert lib.pn_map_activations(ch, h, w, pz, lib.PN_RELU, pa) == lib.PN_ERR_SIZES
        assert lib.pn_map_error(ch, h, w, pz, pz, lib.PN_RELU, pa) == lib.PN_ERR_SIZES
        assert lib.pn_conv_bias_gradient(ch, h, w, pz, pa) == lib.PN_ERR_SIZES
    for bad in (-1, 3, 99):
        assert lib.pn_map_activations(2, 3, 4, pz, bad, pa) == lib.PN_ERR_MODEL
        assert lib.pn_map_error(2, 3, 4, pz, pz, bad, pa) == lib.PN_ERR_MODEL
    assert lib.pn_map_activations(2, 3, 4, ffi.NULL, lib.PN_TANH, pa) == lib.PN_ERR_NULL
    assert lib.pn_map_activations(2, 3, 4, pz, lib.PN_TANH, ffi.NULL) == lib.PN_ERR_NULL
    for nulls in ((ffi.NULL, pz, pa), (pz, ffi.NULL, pa), (pz, pz, ffi.NULL)):
        assert lib.pn_map_error(2, 3, 4, *nulls[:2], lib.PN_TANH, nulls[2]) == lib.PN_ERR_NULL
    assert lib.pn_conv_bias_gradient(2, 3, 4, ffi.NULL, pa) == lib.PN_ERR_NULL
    assert lib.pn_conv_bias_gradient(2, 3, 4, pz, ffi.NULL) == lib.PN_ERR_NULL
    assert set(a) == {SENTINEL}
    ok(lib.pn_map_activations(2, 3, 4, pz, lib.PN_TANH, pa), raw, "pn_map_activations")


BAD_POOLS = [(0, 4, 4, 2), (1, 0, 4, 2), (1, 4, 0, 2), (1, 4, 4, 0), (1, 4, 4, -2),
             (1, 5, 4, 2), (1, 4, 6, 4), (2, 3, 3, 4), (1, 1 << 13, 1 << 12, 1)]


@needs_c
def test_pool_routines_refuse_bad_arguments(raw):
    lib, ffi = raw.lib, raw.ffi
    (_, pa), (m, pm), (d, pd) = raw.out(64), raw.out(64), raw.out(64)
    choices, pc = raw.ints([0] * 64)
    for shape in BAD_POOLS:
        assert lib.pn_max_pool(*shape, pa, pm, pc) == lib.PN_ERR_SIZES, shape
        assert lib.pn_pool_backward(*shape, pa, pc, pd) == lib.PN_ERR_SIZES, shape
    for nulls in ((ffi.NULL, pm, pc), (pa, ffi.NULL, pc), (pa, pm, ffi.NULL)):
        assert lib.pn_max_pool(1, 4, 4, 2, *nulls) == lib.PN_ERR_NULL
    for nulls in ((ffi.NULL, pc, pd), (pa, ffi.NULL, pd), (pa, pc, ffi.NULL)):
        assert lib.pn_pool_backward(1, 4, 4, 2, *nulls) == lib.PN_ERR_NULL
    assert set(m) == {SENTINEL} == set(d) and set(choices) == {0}
    # A choice must be a unit of its own window: 2 maps of 4×6, 2×2 windows (2×3 of them).
    # Window (Y, X) holds units 12Y + 2X + (0, 1, 6, 7); any of them is a good choice.
    good = [7, 2, 5, 12, 21, 23] * 2
    for at, bad in ((0, -1), (5, 24), (5, 1 << 30), (0, 2), (0, 12), (3, 20), (4, 19),
                    (6, 24), (11, 11)):
        wrong = list(good)
        wrong[at] = bad
        _, pwrong = raw.ints(wrong)
        assert lib.pn_pool_backward(2, 4, 6, 2, pa, pwrong, pd) == lib.PN_ERR_INDEX, (at, bad)
        assert set(d) == {SENTINEL}
    _, pgood = raw.ints(good)
    ok(lib.pn_pool_backward(2, 4, 6, 2, pa, pgood, pd), raw, "pn_pool_backward")
    assert ffi.string(lib.pn_strerror(lib.PN_ERR_INDEX)).decode().endswith("not in its window)")
