"""The pure-Python reference: hand-worked numbers, gradient check, learning."""

import math
import random

import pytest

from purenet import reference as ref
from purenet import Network


# --- a 2-2-1 network worked by hand ---------------------------------------------
#
#   x = (1, 2)
#   w¹ = [[0.5, −0.25], [0, 1]], b¹ = (0, −2)  →  z¹ = (0.5 − 0.5 + 0, 0 + 2 − 2) = (0, 0)
#   a¹ = σ(0) = (½, ½),   σ′(0) = ¼
#   w² = [[1, −1]], b² = ½                     →  z² = ½ − ½ + ½ = ½
#   a² = σ(½) = 1 / (1 + e^(−½)) = 0.622459331201855
#   y = 1:  δ² = (a² − 1) σ′(½) = (−0.377540668798145)(0.622459331201855 · 0.377540668798145)
#              = −0.0887234586746369
#   δ¹ = (w²)ᵀ δ² ⊙ σ′(z¹) = (δ²/4, −δ²/4) = (−0.0221808646686592, +0.0221808646686592)
#   ∂C/∂w² = δ² (a¹)ᵀ = (δ²/2, δ²/2);    ∂C/∂w¹ = δ¹ xᵀ = [[δ¹₀, 2δ¹₀], [δ¹₁, 2δ¹₁]]
#   one SGD step, η = 1, m = 1:  w ← w − ∂C/∂w,  b ← b − ∂C/∂b

X = [1.0, 2.0]
Y = [1.0]


def hand_net():
    return [[[0.5, -0.25], [0.0, 1.0]], [[1.0, -1.0]]], [[0.0, -2.0], [0.5]]


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


def test_hand_worked_forward():
    w, b = hand_net()
    zs, acts = ref.forward_pass(w, b, X)
    assert zs[0] == [0.0, 0.0]
    assert acts[1] == [0.5, 0.5]
    assert zs[1] == [0.5]
    assert close(acts[2][0], 0.622459331201855)


def test_hand_worked_backward():
    w, b = hand_net()
    nabla_b, nabla_w = ref.backprop(w, b, X, Y)
    d2 = -0.0887234586746369
    assert close(nabla_b[1][0], d2)
    assert close(nabla_b[0][0], d2 / 4) and close(nabla_b[0][1], -d2 / 4)
    assert close(nabla_w[1][0][0], d2 / 2) and close(nabla_w[1][0][1], d2 / 2)
    assert close(nabla_w[0][0][0], d2 / 4) and close(nabla_w[0][0][1], d2 / 2)
    assert close(nabla_w[0][1][0], -d2 / 4) and close(nabla_w[0][1][1], -d2 / 2)


def test_hand_worked_update():
    w, b = hand_net()
    ref.update_mini_batch(w, b, [(X, Y)], 1.0)
    d2 = -0.0887234586746369
    assert close(w[1][0][0], 1.0 - d2 / 2) and close(w[1][0][1], -1.0 - d2 / 2)
    assert close(b[1][0], 0.5 - d2)
    assert close(w[0][0][0], 0.5 - d2 / 4) and close(w[0][0][1], -0.25 - d2 / 2)
    assert close(w[0][1][0], 0.0 + d2 / 4) and close(w[0][1][1], 1.0 + d2 / 2)
    assert close(b[0][0], 0.0 - d2 / 4) and close(b[0][1], -2.0 + d2 / 4)


def test_batch_update_is_mean_of_sample_gradients():
    w, b = hand_net()
    batch = [([1.0, 2.0], [1.0]), ([0.3, -0.7], [0.0]), ([0.0, 1.5], [1.0])]
    grads = [ref.backprop(w, b, x, y) for x, y in batch]
    ref.update_mini_batch(w, b, batch, 0.6)
    w0, b0 = hand_net()
    for l in range(2):
        for j in range(len(b0[l])):
            gb = sum(g[0][l][j] for g in grads)
            assert math.isclose(b[l][j], b0[l][j] - 0.6 / 3 * gb, rel_tol=1e-12)
            for k in range(len(w0[l][j])):
                gw = sum(g[1][l][j][k] for g in grads)
                assert math.isclose(w[l][j][k], w0[l][j][k] - 0.6 / 3 * gw,
                                    rel_tol=1e-12, abs_tol=1e-15)


# --- σ ----------------------------------------------------------------------------

@pytest.mark.parametrize("z", [1000.0, 710.0, 709.0, 0.0, -709.0, -710.0, -1000.0, 1e308, -1e308])
def test_sigmoid_never_raises_or_nans(z):
    s = ref.sigmoid(z)
    assert 0.0 <= s <= 1.0 and not math.isnan(s)
    assert not math.isnan(ref.sigmoid_prime(z))


def test_sigmoid_values():
    assert ref.sigmoid(0.0) == 0.5
    assert ref.sigmoid(1000.0) == 1.0 and ref.sigmoid(710.0) == 1.0
    assert ref.sigmoid(-1000.0) == 0.0
    assert 0.0 < ref.sigmoid(-710.0) < 1e-300           # e^−710, subnormal but not 0
    assert close(ref.sigmoid(-2.0), 1.0 - ref.sigmoid(2.0))
    assert ref.sigmoid_prime(0.0) == 0.25


# --- the gradient is the derivative of the cost --------------------------------------

def cost(w, b, x, y):
    a = ref.feedforward(w, b, x)
    return 0.5 * sum((a[j] - y[j]) ** 2 for j in range(len(y)))


@pytest.mark.parametrize("sizes,seed", [([2, 3, 1], 1), ([3, 4, 2], 2), ([4, 3, 3, 2], 3),
                                        ([2, 5, 4, 3, 2], 4), ([5, 1, 3], 5)])
def test_gradient_matches_finite_differences(sizes, seed):
    rnd = random.Random(seed)
    net = Network(sizes, seed=seed)
    w, b = net.weights, net.biases
    x = [rnd.uniform(-1, 1) for _ in range(sizes[0])]
    y = [rnd.random() for _ in range(sizes[-1])]
    nabla_b, nabla_w = ref.backprop(w, b, x, y)
    h = 1e-5
    checked = 0

    def check(numeric, analytic, what):
        scale = max(abs(numeric), abs(analytic))
        if scale < 1e-7:            # both ~0: compare absolutely
            assert abs(numeric - analytic) < 1e-12, what
        else:
            assert abs(numeric - analytic) / scale <= 1e-6, (what, numeric, analytic)

    for l in range(len(w)):
        for j in range(len(b[l])):
            keep = b[l][j]
            b[l][j] = keep + h
            up = cost(w, b, x, y)
            b[l][j] = keep - h
            down = cost(w, b, x, y)
            b[l][j] = keep
            check((up - down) / (2 * h), nabla_b[l][j], "b[%d][%d]" % (l, j))
            checked += 1
            for k in range(len(w[l][j])):
                keep = w[l][j][k]
                w[l][j][k] = keep + h
                up = cost(w, b, x, y)
                w[l][j][k] = keep - h
                down = cost(w, b, x, y)
                w[l][j][k] = keep
                check((up - down) / (2 * h), nabla_w[l][j][k], "w[%d][%d][%d]" % (l, j, k))
                checked += 1
    n_params = sum(a * c + c for a, c in zip(sizes[:-1], sizes[1:]))
    assert checked == n_params


def test_zero_inputs_are_skipped_without_changing_any_bit():
    rnd = random.Random(7)
    w = [[rnd.gauss(0, 1) for _ in range(6)] for _ in range(4)]
    b = [rnd.gauss(0, 1) for _ in range(4)]
    a = [0.0, 0.3, 0.0, -0.0, 0.9, 0.0]
    z = ref.weighted_sums(w, a, b)
    for j in range(4):
        s = 0.0
        for k in range(6):                 # the unskipped sum, every term
            s += w[j][k] * a[k]
        assert z[j] == s + b[j]


# --- learning ------------------------------------------------------------------

def test_cost_falls_on_a_small_synthetic_set():
    rnd = random.Random(3)
    pairs = []
    for _ in range(60):
        x = [rnd.uniform(-1, 1) for _ in range(3)]
        y = [1.0, 0.0] if x[0] + 0.5 * x[1] > 0 else [0.0, 1.0]
        pairs.append((x, y))
    net = Network([3, 5, 2], seed=11)

    def total_cost():
        return sum(cost(net.weights, net.biases, x, y) for x, y in pairs) / len(pairs)

    before = total_cost()
    net.fit(pairs, epochs=30, batch_size=6, lr=2.0)
    after = total_cost()
    assert after < 0.5 * before
    assert net.evaluate(pairs) >= 54          # ≥ 90% of a linearly separable set


def test_xor_is_learned():
    xor = [([0.0, 0.0], [0.0]), ([0.0, 1.0], [1.0]), ([1.0, 0.0], [1.0]), ([1.0, 1.0], [0.0])]
    net = Network([2, 3, 1], seed=1)
    net.fit(xor, epochs=2000, batch_size=4, lr=3.0)
    for x, y in xor:
        assert abs(net.feedforward(x)[0] - y[0]) < 0.1, (x, net.feedforward(x))


def test_deep_network_of_any_depth():
    """Every layer of a 5-layer net takes part: the output is the composition of the four
    sigmoid layers, computed here from the textbook formula."""
    net = Network([4, 6, 5, 3, 2], seed=0)
    a = [0.1, 0.2, 0.3, 0.4]
    for w, b in zip(net.weights, net.biases):
        assert len(w[0]) == len(a)
        a = [1.0 / (1.0 + math.exp(-(sum(wk * ak for wk, ak in zip(row, a)) + bj)))
             for row, bj in zip(w, b)]
    out = net.feedforward([0.1, 0.2, 0.3, 0.4])
    assert len(out) == 2
    assert all(math.isclose(o, e, rel_tol=1e-12) for o, e in zip(out, a)), (out, a)


# --- the shuffle -------------------------------------------------------------------

def test_every_epoch_has_its_own_shuffle():
    """fit draws a fresh order every epoch from the seeded generator: three epochs equal the
    reference's steps over three successive rng.shuffle orders, and reusing the first
    epoch's order would end elsewhere."""
    sizes, n, m, lr, epochs = [3, 4, 2], 10, 3, 2.0, 3
    rnd = random.Random(4)
    data = []
    for _ in range(n):
        x = [rnd.uniform(-1, 1) for _ in range(sizes[0])]
        data.append((x, [1.0, 0.0] if x[0] > x[1] else [0.0, 1.0]))
    fitted = Network(sizes, seed=8, backend="python")
    fitted.fit(data, epochs, m, lr)

    def replay(fresh_order_each_epoch):
        net = Network(sizes, seed=8, backend="python")
        w, b = net.weights, net.biases
        orders = []
        for _ in range(epochs):
            if fresh_order_each_epoch or not orders:
                order = list(range(n))
                net.rng.shuffle(order)
            orders.append(order)
            for i in range(0, n, m):
                ref.update_mini_batch(w, b, [data[k] for k in order[i:i + m]], lr)
        return w, b, orders

    w, b, orders = replay(True)
    assert len(set(map(tuple, orders))) == epochs            # the orders do differ
    assert fitted.weights == w and fitted.biases == b
    w1, b1, _ = replay(False)
    assert (w1, b1) != (w, b)                               # so the test can tell
