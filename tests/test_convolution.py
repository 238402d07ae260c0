"""Chapter 6's textbook (purenet/convolution.py): hand-worked numbers for each equation,
the order of every sum bit for bit, finite differences through a whole conv network
(PyTorch's autograd agrees within 1e-15: bench/conv_vs_pytorch.py)."""

import math
import random

import pytest

from purenet import convolution as cv
from purenet import reference as ref
from purenet.errors import InvalidArgument

INF, NAN = float("inf"), float("nan")


# --- conv_sums: a 1-map 4×4 input, one 2×2 filter, worked by hand ----------------------
#
#   a = [1 2 0 1]     w = [1  −1 ]    b = 0.25
#       [0 1 3 2]         [2  0.5]
#       [2 0 1 0]
#       [1 1 0 2]
#   z[y][x] = a[y][x] − a[y][x+1] + 2·a[y+1][x] + 0.5·a[y+1][x+1] + 0.25
#   z[0][0] = 1 − 2 + 2·0 + 0.5·1 + 0.25 = −0.25     z[0][1] = 2 − 0 + 2·1 + 0.5·3 + 0.25 = 5.75
#   z[0][2] = 0 − 1 + 2·3 + 0.5·2 + 0.25 = 6.25      z[1][0] = 0 − 1 + 2·2 + 0.5·0 + 0.25 = 3.25
#   z[1][1] = 1 − 3 + 2·0 + 0.5·1 + 0.25 = −1.25     z[1][2] = 3 − 2 + 2·1 + 0.5·0 + 0.25 = 3.25
#   z[2][0] = 2 − 0 + 2·1 + 0.5·1 + 0.25 = 4.75      z[2][1] = 0 − 1 + 2·1 + 0.5·0 + 0.25 = 1.25
#   z[2][2] = 1 − 0 + 2·0 + 0.5·2 + 0.25 = 2.25

A4 = [[[1.0, 2.0, 0.0, 1.0], [0.0, 1.0, 3.0, 2.0], [2.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 2.0]]]
W2 = [[[[1.0, -1.0], [2.0, 0.5]]]]


def test_conv_sums_by_hand():
    assert cv.conv_sums(W2, [0.25], A4) == [[[-0.25, 5.75, 6.25], [3.25, -1.25, 3.25],
                                             [4.75, 1.25, 2.25]]]


def test_conv_sums_order_c_then_i_then_j():
    """1e16 + 1 rounds back to 1e16, so the three terms 1e16, −1e16, 1 sum to 1 in this
    order and to 0 in the reverse one.  Each index in turn carries them."""
    big = [1e16, -1e16, 1.0]
    ones = [[[1.0] * 3] * 3]                                   # one 3×3 map of ones
    assert cv.conv_sums([[[[v]] for v in big]], [0.0],
                        [[[1.0]], [[1.0]], [[1.0]]]) == [[[1.0]]]        # over c: 3 maps
    assert cv.conv_sums([[[big, [0.0] * 3, [0.0] * 3]]], [0.0],
                        ones) == [[[1.0]]]                     # over j: the filter's row 0
    assert cv.conv_sums([[[[v, 0.0, 0.0] for v in big]]], [0.0],
                        ones) == [[[1.0]]]                     # over i: its column 0


# Every term of z[0][y][x] for 2 maps and 2×2 filters, in the documented order.
ORDER = [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]


def test_conv_sums_bits_equal_the_sum_written_out():
    rng = random.Random(6)
    a = [[[rng.uniform(-1, 1) for _ in range(5)] for _ in range(4)] for _ in range(2)]
    w = [[[[rng.uniform(-1, 1) for _ in range(2)] for _ in range(2)] for _ in range(2)]]
    b = [rng.uniform(-1, 1)]
    z = cv.conv_sums(w, b, a)
    for y in range(3):
        for x in range(4):
            s = 0.0
            for c, i, j in ORDER:
                s += w[0][c][i][j] * a[c][y + i][x + j]
            assert z[0][y][x] == s + b[0]


def test_conv_sums_skip_zero_inputs():
    """An inf weight over an input of exactly 0 is skipped: inf·0 would be nan."""
    # z = skip(inf·0) + 2·3 + skip(1·0) + 1·1 + 1 = 8; inf·0 would make it nan
    assert cv.conv_sums([[[[INF, 2.0], [1.0, 1.0]]]], [1.0], [[[0.0, 3.0], [0.0, 1.0]]]) \
        == [[[8.0]]]


def test_conv_k1_is_a_sum_over_maps():
    rng = random.Random(1)
    a = [[[rng.uniform(-1, 1) for _ in range(3)] for _ in range(5)] for _ in range(2)]
    w = [[[[rng.uniform(-1, 1)]] for _ in range(2)] for _ in range(3)]
    b = [0.1, 0.2, 0.3]
    z = cv.conv_sums(w, b, a)
    assert cv.shape(z) == (3, 5, 3)
    for f in range(3):
        for y in range(5):
            for x in range(3):
                assert z[f][y][x] == ((0.0 + w[f][0][0][0] * a[0][y][x])
                                      + w[f][1][0][0] * a[1][y][x]) + b[f]


# --- max_pool and pool_backward: ties, worked by hand ------------------------------------
#
#   a = [ 1  3 | 2  2]    windows of 2×2:  [1 3; 3 0]  max 3, first at (0, 1), not (1, 0)
#       [ 3  0 | 2  1]                     [2 2; 2 1]  max 2, first at (0, 2) of three
#       [−1 −2 | 5  5]                     [−1 −2; −3 −1]  max −1, first at (2, 0), not (3, 1)
#       [−3 −1 | 5  4]                     [5 5; 5 4]  max 5, first at (2, 2) of three
#   δ_pooled = [0.5 −1; 2 0.25]  →  δ = 0.5 at (0, 1), −1 at (0, 2), 2 at (2, 0), 0.25 at (2, 2)

TIES = [[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 2.0, 1.0], [-1.0, -2.0, 5.0, 5.0],
         [-3.0, -1.0, 5.0, 4.0]]]


def test_max_pool_by_hand_first_maximum_wins():
    m, choices = cv.max_pool(TIES, 2)
    assert m == [[[3.0, 2.0], [-1.0, 5.0]]]
    assert choices == [[[(0, 1), (0, 2)], [(2, 0), (2, 2)]]]


def test_pool_backward_by_hand():
    _, choices = cv.max_pool(TIES, 2)
    assert cv.pool_backward([[[0.5, -1.0], [2.0, 0.25]]], choices, (1, 4, 4)) == [[
        [0.0, 0.5, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.25, 0.0],
        [0.0, 0.0, 0.0, 0.0]]]


def test_max_pool_zero_and_minus_zero_tie_and_nan_wins():
    m, choices = cv.max_pool([[[-0.0, 0.0], [0.0, -0.0]]], 2)
    assert choices == [[[(0, 0)]]] and math.copysign(1.0, m[0][0][0]) == -1.0
    m, choices = cv.max_pool([[[1.0, NAN], [NAN, 9.0]]], 2)
    assert choices == [[[(0, 1)]]] and math.isnan(m[0][0][0])
    m, choices = cv.max_pool([[[NAN, 5.0], [7.0, NAN]]], 2)
    assert choices == [[[(0, 0)]]]


def test_pool_1_and_3():
    rng = random.Random(3)
    a = [[[float(rng.randint(-2, 2)) for _ in range(6)] for _ in range(3)] for _ in range(2)]
    m, choices = cv.max_pool(a, 1)
    assert m == a and choices == [[[(y, x) for x in range(6)] for y in range(3)]] * 2
    # pool 3 of a 3×6 map: the window of columns 0-2 and that of columns 3-5
    a = [[[1.0, 4.0, 4.0, 0.0, -1.0, 0.0], [4.0, 2.0, 0.0, 0.0, 0.0, -5.0],
          [3.0, 3.0, 4.0, -2.0, 0.0, -0.5]]]
    m, choices = cv.max_pool(a, 3)
    assert m == [[[4.0, 0.0]]] and choices == [[[(0, 1), (0, 3)]]]
    assert cv.pool_backward([[[1.5, -2.0]]], choices, (1, 3, 6)) == [[
        [0.0, 1.5, 0.0, -2.0, 0.0, 0.0], [0.0] * 6, [0.0] * 6]]


# --- conv_backward_error, worked by hand ---------------------------------------------------
#
#   one 3×3 input map, w = [1 2; 3 4], δ = [1 −1; 0.5 2] (its 2×2 output)
#   s[y][x] = Σ_i Σ_j w[i][j]·δ[y−i][x−j] over 0 ≤ y−i, x−j ≤ 1:
#   s[0][0] = w00δ00 = 1                    s[0][1] = w00δ01 + w01δ00 = −1 + 2 = 1
#   s[0][2] = w01δ01 = −2                   s[1][0] = w00δ10 + w10δ00 = 0.5 + 3 = 3.5
#   s[1][1] = w00δ11 + w01δ10 + w10δ01 + w11δ00 = 2 + 1 − 3 + 4 = 4
#   s[1][2] = w01δ11 + w11δ01 = 4 − 4 = 0   s[2][0] = w10δ10 = 1.5
#   s[2][1] = w10δ11 + w11δ10 = 6 + 2 = 8   s[2][2] = w11δ11 = 8

WB = [[[[1.0, 2.0], [3.0, 4.0]]]]
DELTA = [[[1.0, -1.0], [0.5, 2.0]]]


def test_conv_backward_error_by_hand():
    assert cv.conv_backward_error(WB, DELTA, (1, 3, 3)) == [[[1.0, 1.0, -2.0], [3.5, 4.0, 0.0],
                                                             [1.5, 8.0, 8.0]]]


def test_conv_backward_error_order_f_then_i_then_j():
    """s[0][1][1] of a 2×2 input gathers the (f, i, j) = (f, 1, 1) of three 1-unit outputs
    (over f), or (0, i, j) of one 2×2 filter (over i, j): 1e16, −1e16, 1 in order sum to 1."""
    ws = [[[[0.0, 0.0], [0.0, v]]] for v in [1e16, -1e16, 1.0]]
    assert cv.conv_backward_error(ws, [[[1.0]]] * 3, (1, 2, 2))[0][1][1] == 1.0   # over f
    # a 3×3 input, a 2×2 error, one 2×2 filter:
    # s[1][1] = w00δ11 + w01δ10 + w10δ01 + w11δ00 (i, then j ascending) = 1e16 − 1e16 + 1 + 0
    w = [[[[1e16, -1e16], [1.0, 0.0]]]]
    assert cv.conv_backward_error(w, [[[1.0, 1.0], [1.0, 1.0]]], (1, 3, 3))[0][1][1] == 1.0
    # a 5×5 input, a 3×3 error of ones, one 3×3 filter: s[2][2] gathers all nine (i, j)
    big = [[1e16, -1e16, 1.0], [0.0] * 3, [0.0] * 3]
    ones = [[[1.0] * 3] * 3]
    assert cv.conv_backward_error([[big]], ones, (1, 5, 5))[0][2][2] == 1.0       # over j
    column = [list(r) for r in zip(*big)]
    assert cv.conv_backward_error([[column]], ones, (1, 5, 5))[0][2][2] == 1.0    # over i


def test_conv_backward_error_bits_equal_the_sum_written_out():
    rng = random.Random(7)
    w = [[[[rng.uniform(-1, 1) for _ in range(2)] for _ in range(2)]] for _ in range(3)]
    delta = [[[rng.uniform(-1, 1) for _ in range(2)] for _ in range(2)] for _ in range(3)]
    s = cv.conv_backward_error(w, delta, (1, 3, 3))
    t = 0.0                  # s[0][1][1]: every (f, i, j) reaches the centre, in order
    for f, i, j in [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1),
                    (1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 0, 1), (2, 1, 0), (2, 1, 1)]:
        t += w[f][0][i][j] * delta[f][1 - i][1 - j]
    assert s[0][1][1] == t


def test_conv_backward_error_skips_zero_errors():
    """w = [inf 2; 1 1], δ = [0 3] over a 2×3 input: s[0][0] = w00·δ00 and s[1][0] = w10·δ00
    are skipped (0, where inf·0 would be nan); s[0][1] = w00·δ01 + skip = inf,
    s[0][2] = w01·δ01 = 6, s[1][1] = w10·δ01 + skip = 3, s[1][2] = w11·δ01 = 3."""
    s = cv.conv_backward_error([[[[INF, 2.0], [1.0, 1.0]]]], [[[0.0, 3.0]]], (1, 2, 3))
    assert s == [[[0.0, INF, 6.0], [0.0, 3.0, 3.0]]]


# --- conv_weight_gradient and conv_bias_gradient, worked by hand ----------------------------
#
#   a = [1 2 0; 0 1 3; 2 0 1], δ = [1 −1; 0.5 2], K = 2:
#   ∂C/∂w[i][j] = Σ_y Σ_x δ[y][x]·a[y+i][x+j]
#   w00: 1·1 − 1·2 + 0.5·0 + 2·1 = 1      w01: 1·2 − 1·0 + 0.5·1 + 2·3 = 8.5
#   w10: 1·0 − 1·1 + 0.5·2 + 2·0 = 0      w11: 1·1 − 1·3 + 0.5·0 + 2·1 = 0
#   ∂C/∂b = 1 − 1 + 0.5 + 2 = 2.5

A3 = [[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]]


def test_conv_gradients_by_hand():
    assert cv.conv_weight_gradient(DELTA, A3, 2) == [[[[1.0, 8.5], [0.0, 0.0]]]]
    assert cv.conv_bias_gradient(DELTA) == [2.5]


def test_conv_gradients_order_row_major():
    """The three products 1e16, −1e16, 1 at output units (0, 0), (0, 1), (1, 0)."""
    delta = [[[1e16, -1e16], [1.0, 0.0]]]
    assert cv.conv_weight_gradient(delta, [[[1.0, 1.0], [1.0, 1.0]]], 1) == [[[[1.0]]]]
    assert cv.conv_bias_gradient(delta) == [1.0]


def test_conv_weight_gradient_bits_equal_the_sum_written_out():
    rng = random.Random(8)
    a = [[[rng.uniform(-1, 1) for _ in range(3)] for _ in range(3)] for _ in range(2)]
    delta = [[[rng.uniform(-1, 1) for _ in range(2)] for _ in range(2)] for _ in range(2)]
    nw = cv.conv_weight_gradient(delta, a, 2)
    for f in range(2):
        for c in range(2):
            for i in range(2):
                for j in range(2):
                    s = 0.0
                    for y, x in [(0, 0), (0, 1), (1, 0), (1, 1)]:
                        s += delta[f][y][x] * a[c][y + i][x + j]
                    assert nw[f][c][i][j] == s
    assert cv.conv_bias_gradient(delta) == [((0.0 + m[0][0]) + m[0][1] + m[1][0]) + m[1][1]
                                            for m in delta]


def test_conv_weight_gradient_skips_zero_terms():
    """δ·a with δ or a exactly 0 is skipped: inf·0 would be nan."""
    assert cv.conv_weight_gradient([[[0.0, 2.0, 3.0]]], [[[INF, 1.0, 0.0]]], 1) == [[[[2.0]]]]
    assert cv.conv_weight_gradient([[[INF, 2.0]]], [[[0.0, 1.0]]], 1) == [[[[2.0]]]]


# --- flatten ---------------------------------------------------------------------------------

def test_flatten_map_row_column_and_back():
    a = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]]
    v = cv.flatten(a)
    assert v == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]
    assert v[(1 * 2 + 0) * 3 + 2] == a[1][0][2]
    assert cv.unflatten(v, (2, 2, 3)) == a


# --- sizes that do not fit ---------------------------------------------------------------

def test_sizes_that_do_not_fit_are_refused_in_one_line():
    cases = [
        (lambda: cv.conv_sums([[[[1.0] * 5] * 5]], [0.0], [[[1.0] * 4] * 4]),
         ["conv1x5", "5×5", "1×4×4"]),
        (lambda: cv.conv_output_shape((1, 28, 28), 20, 30, layer="conv20x30"),
         ["conv20x30", "30×30", "1×28×28"]),
        (lambda: cv.max_pool([[[1.0] * 5] * 4], 2), ["pool2", "2×2", "1×4×5"]),
        (lambda: cv.pool_output_shape((20, 24, 24), 5, layer="pool5"),
         ["pool5", "5×5", "20×24×24"]),
        (lambda: cv.conv_sums([[[[1.0]]]], [0.0], [[[1.0]], [[1.0]]]),
         ["conv1x1", "1 maps", "has 2"]),
        (lambda: cv.conv_sums([[[[1.0, 1.0]]]], [0.0], [[[1.0] * 3] * 3]),
         ["conv1x1", "[F][C][K][K]"]),
        (lambda: cv.conv_sums(W2, [0.0, 1.0], A4), ["conv1x2", "2 biases"]),
        (lambda: cv.unflatten([1.0] * 5, (1, 2, 3)), ["5 values", "1×2×3"]),
    ]
    for call, words in cases:
        with pytest.raises(InvalidArgument) as e:
            call()
        message = str(e.value)
        assert "\n" not in message and all(w in message for w in words), message


# --- finite differences through a whole network ----------------------------------------------
#
# A network is a list of layers, ("conv", w, b) or ("pool", p), then a fully connected
# output layer (W, B) with sigmoid outputs and the quadratic cost, all from these
# functions and reference.py's.

IDENTITY = ref.Activation(lambda z: z, lambda z: 1.0)      # a pool layer has no σ


def forward(layers, fc, x, act):
    """(per-layer record, aᴸ, zᴸ): the maps in, z and out of every layer."""
    records, a = [], x
    for layer in layers:
        if layer[0] == "conv":
            z = cv.conv_sums(layer[1], layer[2], a)
            records.append((a, z, None))
            a = cv.map_activations(z, act)
        else:
            pooled, choices = cv.max_pool(a, layer[1])
            records.append((a, None, choices))
            a = pooled
    flat = cv.flatten(a)
    z_out = ref.weighted_sums(fc[0], flat, fc[1])
    return records, cv.shape(a), flat, z_out, ref.sigmoids(z_out)


def cost(layers, fc, x, y, act):
    return ref.quadratic_cost(forward(layers, fc, x, act)[4], y, None)


def gradient(layers, fc, x, y, act):
    """{layer index: (∂C/∂w, ∂C/∂b)} of the conv layers, and ∂C/∂x."""
    records, last, flat, z_out, a_out = forward(layers, fc, x, act)
    delta = ref.output_error(a_out, y, z_out)
    g = cv.unflatten(ref.backward_error(fc[0], delta, flat, IDENTITY), last)   # ∂C/∂a
    grads = {}
    for l in range(len(layers) - 1, -1, -1):
        a_in, z, choices = records[l]
        if layers[l][0] == "pool":
            g = cv.pool_backward(g, choices, cv.shape(a_in))
        else:
            delta = cv.map_error(g, z, act)                       # δ = ∂C/∂a ⊙ σ′(z)
            k = len(layers[l][1][0][0])
            grads[l] = (cv.conv_weight_gradient(delta, a_in, k), cv.conv_bias_gradient(delta))
            g = cv.conv_backward_error(layers[l][1], delta, cv.shape(a_in))
    return grads, g


def rand_maps(rng, c, h, w):
    return [[[rng.uniform(-1, 1) for _ in range(w)] for _ in range(h)] for _ in range(c)]


def rand_conv(rng, f, c, k):
    return ("conv", [[[[rng.gauss(0, 0.7) for _ in range(k)] for _ in range(k)]
                      for _ in range(c)] for _ in range(f)], [rng.gauss(0, 0.5) for _ in range(f)])


NETWORKS = {
    # conv → σ → pool → flatten → fully connected → cost
    "conv-pool": (ref.SIGMOID, (1, 7, 7), [(3, 2), 2], 4),
    # two conv layers, odd sizes, K = 1 and a pool of 3, tanh: δ goes back through a conv
    "conv-pool-conv": (ref.TANH, (2, 7, 9), [(3, 2), 2, (4, 1), (3, 2)], 3),
    "pool3": (ref.SIGMOID, (2, 8, 8), [(3, 3), 3, (2, 1)], 2),
}


def build(rng, in_shape, spec, n_out):
    layers, shape = [], in_shape
    for s in spec:
        if isinstance(s, tuple):
            layers.append(rand_conv(rng, s[0], shape[0], s[1]))
            shape = cv.conv_output_shape(shape, s[0], s[1])
        else:
            layers.append(("pool", s))
            shape = cv.pool_output_shape(shape, s)
    n_in = shape[0] * shape[1] * shape[2]
    fc = ([[rng.gauss(0, 1) for _ in range(n_in)] for _ in range(n_out)],
          [rng.gauss(0, 1) for _ in range(n_out)])
    return layers, fc


def central(f, cells, j, h=1e-6):
    """(f(θ + h) − f(θ − h)) / 2h for θ = cells[j]."""
    v = cells[j]
    cells[j] = v + h
    up = f()
    cells[j] = v - h
    down = f()
    cells[j] = v
    return (up - down) / (2 * h)


def relative(analytic, numeric):
    """|analytic − numeric| relative to the larger, or to 0.01 for smaller gradients: the
    central difference resolves about 2⁻⁵²·C/h ≈ 1e-10, so a tiny gradient is compared
    on that scale."""
    return abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-2)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_finite_differences_every_conv_weight_bias_and_input(name):
    act, in_shape, spec, n_out = NETWORKS[name]
    rng = random.Random(name)
    layers, fc = build(rng, in_shape, spec, n_out)
    x = rand_maps(rng, *in_shape)
    x[0][0][0] = 0.0                                        # a skipped input
    y = [rng.random() for _ in range(n_out)]
    grads, dx = gradient(layers, fc, x, y, act)

    def c():
        return cost(layers, fc, x, y, act)
    worst, checked = 0.0, 0
    for l, (nw, nb) in grads.items():
        w, b = layers[l][1], layers[l][2]
        for f in range(len(w)):
            num = central(c, b, f)
            worst = max(worst, relative(nb[f], num))
            checked += 1
            for ch in range(len(w[f])):
                for i in range(len(w[f][ch])):
                    row = w[f][ch][i]
                    for j in range(len(row)):
                        num = central(c, row, j)
                        worst = max(worst, relative(nw[f][ch][i][j], num))
                        checked += 1
    for ch in range(len(x)):
        for yy in range(len(x[ch])):
            row = x[ch][yy]
            for j in range(len(row)):
                num = central(c, row, j)
                worst = max(worst, relative(dx[ch][yy][j], num))
    assert checked > 10 and worst < 1e-6, worst


# --- the transpose: conv_backward_error and conv_weight_gradient are conv_sums' adjoints -----

SHAPES = [  # (C, H, W, F, K)
    (1, 4, 4, 1, 2), (2, 5, 7, 3, 3), (3, 6, 5, 4, 1), (2, 3, 3, 3, 3), (1, 9, 1, 2, 1),
]


@pytest.mark.parametrize("c,h,w,f,k", SHAPES)
def test_backward_is_the_adjoint_of_forward(c, h, w, f, k):
    """⟨δ, conv(w, a)⟩ = ⟨conv_backward_error(w, δ), a⟩ = ⟨conv_weight_gradient(δ, a), w⟩."""
    rng = random.Random(c * 100 + h * 10 + w)
    a = rand_maps(rng, c, h, w)
    wt = rand_conv(rng, f, c, k)[1]
    delta = rand_maps(rng, f, h - k + 1, w - k + 1)
    z = cv.conv_sums(wt, [0.0] * f, a)

    def dot(p, q):
        return math.fsum(u * v for u, v in zip(cv.flatten(p), cv.flatten(q)))
    lhs = dot(delta, z)
    assert math.isclose(lhs, dot(cv.conv_backward_error(wt, delta, (c, h, w)), a), rel_tol=1e-12)
    nw = cv.conv_weight_gradient(delta, a, k)
    assert math.isclose(lhs, math.fsum(dot(nw[g], wt[g]) for g in range(f)), rel_tol=1e-12)
