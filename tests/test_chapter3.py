"""Chapter 3 in the reference: each new equation worked by hand, every cost ×
activation (and the regularisation terms) checked against finite differences,
and the cost at saturated outputs."""

import math
import copy
import random

import pytest

from purenet import Network
from purenet import reference as ref


def close(a, b, tol=1e-12):
    return math.isclose(a, b, rel_tol=tol, abs_tol=1e-15)


LN3 = 1.0986122886681096914          # ln 3
A2 = 0.62245933120185456464          # σ(½) = 1 / (1 + e^(−½))
D2 = -0.088723458674636874255        # (σ(½) − 1) σ(½)(1 − σ(½)): the seed's δ² below

# --- cross-entropy, worked by hand ----------------------------------------------
#
# The 2-2-1 network of test_reference.py: x = (1, 2), w¹ = [[½, −¼], [0, 1]],
# b¹ = (0, −2) → z¹ = (0, 0), a¹ = (½, ½), σ′(z¹) = (¼, ¼); w² = [[1, −1]], b² = ½
# → z² = ½, a² = σ(½) = 0.6224593312018546.  y = 1.
#   C  = −[1·ln a² + 0·ln(1 − a²)] = ln(1 + e^(−½)) = 0.4740769841801067
#   δ² = a² − y = −0.3775406687981454          (no σ′ factor)
#   δ¹ = (w²)ᵀ δ² ⊙ σ′(z¹) = (δ²/4, −δ²/4)
#   ∂C/∂w² = δ² (a¹)ᵀ = (δ²/2, δ²/2);  ∂C/∂w¹ = δ¹ xᵀ = [[δ²/4, δ²/2], [−δ²/4, −δ²/2]]

X, Y = [1.0, 2.0], [1.0]


def hand_net():
    return [[[0.5, -0.25], [0.0, 1.0]], [[1.0, -1.0]]], [[0.0, -2.0], [0.5]]


def test_cross_entropy_by_hand():
    w, b = hand_net()
    zs, acts = ref.forward_pass(w, b, X, cost=ref.CROSS_ENTROPY)
    assert close(ref.cross_entropy_cost(acts[-1], Y, zs[-1]), 0.47407698418010668087)
    nabla_b, nabla_w = ref.backprop(w, b, X, Y, cost=ref.CROSS_ENTROPY)
    d2 = -0.37754066879814543536
    assert close(nabla_b[1][0], d2)
    assert close(nabla_w[1][0][0], d2 / 2) and close(nabla_w[1][0][1], d2 / 2)
    assert close(nabla_b[0][0], d2 / 4) and close(nabla_b[0][1], -d2 / 4)
    assert close(nabla_w[0][0][1], d2 / 2) and close(nabla_w[0][1][1], -d2 / 2)
    # one step, η = 2, m = 1: w ← w − 2 ∂C/∂w
    ref.update_mini_batch(w, b, [(X, Y)], 2.0, cost=ref.CROSS_ENTROPY)
    assert close(w[1][0][0], 1.0 - d2) and close(w[0][1][1], 1.0 + d2)
    assert close(b[1][0], 0.5 - 2 * d2)


# --- softmax and log-likelihood, worked by hand -------------------------------------
#
# 2-2-2: the same hidden layer (a¹ = (½, ½)); w² = [[1, −1], [0, 0]], b² = (0, ln 3)
# → z² = (0, ln 3), softmax: e^z = (1, 3), a² = (¼, ¾).  Label 0: y = (1, 0).
#   C  = −ln a²₀ = ln 4
#   δ² = a² − y = (−¾, ¾)
#   δ¹_k = (Σ_j w²_jk δ²_j) σ′(0):  δ¹₀ = (1·(−¾) + 0·¾)/4 = −3/16,  δ¹₁ = (−1·(−¾))/4 = 3/16
#   ∂C/∂w² = δ² (a¹)ᵀ = [[−3/8, −3/8], [3/8, 3/8]]

def softmax_net():
    return [[[0.5, -0.25], [0.0, 1.0]], [[1.0, -1.0], [0.0, 0.0]]], [[0.0, -2.0], [0.0, LN3]]


def test_softmax_and_log_likelihood_by_hand():
    w, b = softmax_net()
    y = [1.0, 0.0]
    zs, acts = ref.forward_pass(w, b, X, cost=ref.LOG_LIKELIHOOD)
    assert close(acts[-1][0], 0.25) and close(acts[-1][1], 0.75)
    assert close(ref.log_likelihood_cost(acts[-1], y, zs[-1]), math.log(4.0))
    nabla_b, nabla_w = ref.backprop(w, b, X, y, cost=ref.LOG_LIKELIHOOD)
    assert close(nabla_b[1][0], -0.75) and close(nabla_b[1][1], 0.75)
    assert close(nabla_w[1][0][0], -0.375) and close(nabla_w[1][1][1], 0.375)
    assert close(nabla_b[0][0], -3 / 16) and close(nabla_b[0][1], 3 / 16)
    assert close(nabla_w[0][0][1], -3 / 8) and close(nabla_w[0][1][0], 3 / 16)
    # one step, η = 1, m = 1: w²₀₀ = 1 + 3/8, b²₁ = ln 3 − ¾, w¹₀₁ = −¼ + 3/8
    ref.update_mini_batch(w, b, [(X, y)], 1.0, cost=ref.LOG_LIKELIHOOD)
    assert close(w[1][0][0], 1.375) and close(b[1][1], LN3 - 0.75) and close(w[0][0][1], 0.125)


def test_softmax_is_stable_and_sums_to_one():
    a = ref.softmax([1000.0, 1000.0 + LN3, -1000.0])     # e^1000 would overflow
    assert close(a[0], 0.25) and close(a[1], 0.75) and a[2] == 0.0
    assert close(sum(ref.softmax([0.3, -2.0, 5.0, 1.5])), 1.0, tol=1e-15)


# --- tanh, worked by hand --------------------------------------------------------------
#
# tanh(½ ln 3) = (√3 − 1/√3)/(√3 + 1/√3) = ½, and tanh′ = 1 − ¼ = ¾.
# b¹ = (½ ln 3, −2 − ½ ln 3) → z¹ = (½ ln 3, −½ ln 3), a¹ = (½, −½), tanh′(z¹) = (¾, ¾)
# w² = [[1, −1]], b² = −1 → z² = ½ + ½ − 1 = 0, a² = σ(0) = ½, σ′ = ¼.  Quadratic, y = 1:
#   δ² = (½ − 1)·¼ = −⅛;   δ¹ = (−⅛·¾, (−1)(−⅛)·¾) = (−3/32, 3/32)
#   ∂C/∂w² = δ² (a¹)ᵀ = (−1/16, 1/16);   ∂C/∂w¹ = δ¹ xᵀ = [[−3/32, −3/16], [3/32, 3/16]]

def test_tanh_by_hand():
    w, b = hand_net()
    b = [[LN3 / 2, -2.0 - LN3 / 2], [-1.0]]
    zs, acts = ref.forward_pass(w, b, X, act=ref.TANH)
    assert close(acts[1][0], 0.5) and close(acts[1][1], -0.5)
    assert close(ref.tanh_prime(LN3 / 2), 0.75)
    nabla_b, nabla_w = ref.backprop(w, b, X, Y, act=ref.TANH)
    assert close(nabla_b[1][0], -0.125)
    assert close(nabla_w[1][0][0], -1 / 16) and close(nabla_w[1][0][1], 1 / 16)
    assert close(nabla_b[0][0], -3 / 32) and close(nabla_b[0][1], 3 / 32)
    assert close(nabla_w[0][0][1], -3 / 16) and close(nabla_w[0][1][1], 3 / 16)
    # one step, η = 4, m = 1: w²₀₁ = −1 − 4/16, w¹₁₁ = 1 − 4·3/16, b²₀ = −1 + 4/8
    ref.update_mini_batch(w, b, [(X, Y)], 4.0, act=ref.TANH)
    assert close(w[1][0][1], -1.25) and close(w[0][1][1], 0.25) and close(b[1][0], -0.5)


# --- ReLU, worked by hand ------------------------------------------------------------------
#
# b¹ = (1, −3) → z¹ = (0 + 1, 2 − 3) = (1, −1), a¹ = (1, 0), relu′(z¹) = (1, 0)
# w² = [[1, −1]], b² = −1 → z² = 1 − 0 − 1 = 0, a² = ½.  Quadratic, y = 1: δ² = −⅛
#   δ¹ = (1·(−⅛)·1, (−1)(−⅛)·0) = (−⅛, 0)
#   ∂C/∂w² = δ² (a¹)ᵀ = (−⅛, 0);   ∂C/∂w¹ = [[−⅛, −¼], [0, 0]]

def test_relu_by_hand():
    w, b = hand_net()
    b = [[1.0, -3.0], [-1.0]]
    zs, acts = ref.forward_pass(w, b, X, act=ref.RELU)
    assert acts[1] == [1.0, 0.0] and zs[1] == [0.0]
    nabla_b, nabla_w = ref.backprop(w, b, X, Y, act=ref.RELU)
    assert nabla_b[1] == [-0.125] and nabla_w[1] == [[-0.125, 0.0]]
    assert nabla_b[0] == [-0.125, 0.0]
    assert nabla_w[0] == [[-0.125, -0.25], [0.0, 0.0]]
    # one step, η = 8, m = 1: w²₀₀ = 1 + 1, w¹₀₁ = −¼ + 2, the dead unit's weights stay
    ref.update_mini_batch(w, b, [(X, Y)], 8.0, act=ref.RELU)
    assert w[1][0] == [2.0, -1.0] and w[0] == [[1.5, 1.75], [0.0, 1.0]] and b[1] == [0.0]


# --- L2 and L1, worked by hand --------------------------------------------------------------
#
# The seed's network and gradient (test_reference.py): δ² = D2, so
# Σ∂C/∂w² = (D2/2, D2/2), Σ∂C/∂b² = D2, Σ∂C/∂w¹ = [[D2/4, D2/2], [−D2/4, −D2/2]].
# η = 1, m = 1, n = 4, λ₂ = ½, λ₁ = 0.2:  1 − ηλ₂/n = 0.875,  ηλ₁/n = 0.05
#   w²₀₀ = 0.875·1 − 0.05·1 − D2/2          w²₀₁ = 0.875·(−1) + 0.05 − D2/2
#   w¹₁₀ = 0.875·0 − 0.05·0 − (−D2/4)      (sgn 0 = 0: a zero weight is not pushed)
#   b² = ½ − D2                              (biases are not regularised)

def test_regularized_step_by_hand():
    w, b = hand_net()
    ref.regularized_update(w, b, [(X, Y)], 1.0, 4, l2=0.5, l1=0.2)
    assert close(w[1][0][0], 0.825 - D2 / 2) and close(w[1][0][1], -0.825 - D2 / 2)
    assert close(w[0][0][0], 0.875 * 0.5 - 0.05 - D2 / 4)
    assert close(w[0][0][1], 0.875 * -0.25 + 0.05 - D2 / 2)
    assert close(w[0][1][0], D2 / 4) and close(w[0][1][1], 0.825 + D2 / 2)
    assert close(b[1][0], 0.5 - D2) and close(b[0][1], -2.0 + D2 / 4)


# --- momentum, worked by hand ---------------------------------------------------------------
#
# Velocities all 0.1 before the step, μ = 0.9, η = 1, m = 1, n = 4, λ₂ = ½ (ηλ₂/n = 0.125):
#   v = 0.9·0.1 − 0.125·w − (η/m)·∂C/∂w,  w ← w + v
#   w²₀₀: v = 0.09 − 0.125 − D2/2,  w = 1 + v
#   w¹₁₀: v = 0.09 − 0 + D2/4,      w = 0 + v
#   b²:   v = 0.09 − D2,            b = ½ + v

def test_momentum_step_by_hand():
    w, b = hand_net()
    vw = [[[0.1, 0.1], [0.1, 0.1]], [[0.1, 0.1]]]
    vb = [[0.1, 0.1], [0.1]]
    ref.momentum_update(w, b, (vw, vb), [(X, Y)], 1.0, 4, 0.9, l2=0.5)
    v = 0.09 - 0.125 - D2 / 2
    assert close(vw[1][0][0], v) and close(w[1][0][0], 1.0 + v)
    assert close(vw[0][1][0], 0.09 + D2 / 4) and close(w[0][1][0], 0.09 + D2 / 4)
    assert close(vb[1][0], 0.09 - D2) and close(b[1][0], 0.59 - D2)
    assert close(w[1][0][1], -1.0 + 0.09 + 0.125 - D2 / 2)


def test_velocities_start_at_zero_and_carry_on():
    """Momentum from zero velocities is the regularised step in its other form; a
    second fit continues with the velocities the first one left."""
    rnd = random.Random(4)
    pairs = [([rnd.random() for _ in range(3)], [rnd.random(), rnd.random()]) for _ in range(12)]
    a, b = Network([3, 4, 2], seed=2), Network([3, 4, 2], seed=2)
    a.fit(pairs, 2, 4, 0.5, momentum=0.5)
    b.fit(pairs, 1, 4, 0.5, momentum=0.5)
    b.fit(pairs, 1, 4, 0.5, momentum=0.5)
    assert a.weights == b.weights and a.biases == b.biases
    c = Network([3, 4, 2], seed=2)
    c.fit(pairs, 1, 4, 0.5, momentum=0.5)
    vw, vb = c.engine.get_velocities()
    assert any(v != 0.0 for m in vw for row in m for v in row)
    c.engine.set_velocities([[[0.0] * len(r) for r in m] for m in vw], [[0.0] * len(v) for v in vb])
    c.fit(pairs, 1, 4, 0.5, momentum=0.5)       # from rest again: another second epoch
    assert c.weights != a.weights


# --- the cost at saturated outputs ----------------------------------------------------------

def test_cost_from_z_is_finite_when_outputs_saturate():
    # σ(40) rounds to exactly 1.0: ln(1 − a) would be ln 0.
    assert ref.sigmoid(40.0) == 1.0
    assert ref.cross_entropy_cost([1.0], [0.0], [40.0]) == 40.0 + math.log1p(math.exp(-40.0))
    assert ref.cross_entropy_cost([1.0], [1.0], [40.0]) == math.log1p(math.exp(-40.0))
    assert ref.cross_entropy_cost([0.0], [1.0], [-800.0]) == 800.0
    assert ref.cross_entropy_cost([1.0], [1.0], [800.0]) == 0.0
    z = [900.0, -900.0]
    a = ref.softmax(z)
    assert a == [1.0, 0.0]
    assert ref.log_likelihood_cost(a, [0.0, 1.0], z) == 1800.0
    assert ref.log_likelihood_cost(a, [1.0, 0.0], z) == 0.0


def test_softplus_matches_its_definition():
    for z in (-30.0, -2.5, -0.1, 0.0, 0.7, 3.0, 30.0):
        assert close(ref.softplus(z), math.log(1.0 + math.exp(z)), tol=1e-14)


def test_total_cost_by_hand():
    # Two samples through the cross-entropy hand net: x and x again, y = 1 and y = 0.
    # C₁ = ln(1 + e^(−½)), C₂ = ln(1 + e^(½)); mean = (C₁ + C₂)/2.
    # Σ w² = ¼ + 1/16 + 0 + 1 + 1 + 1 = 3.3125,  Σ |w| = ½ + ¼ + 0 + 1 + 1 + 1 = 3.75
    # λ₂ = 2, λ₁ = 0.4, n = 2:  (λ₂/2n)·3.3125 = 1.65625,  (λ₁/n)·3.75 = 0.75
    w, b = hand_net()
    pairs = [(X, [1.0]), (X, [0.0])]
    mean = (0.47407698418010668087 + 0.97407698418010668087) / 2
    got = ref.total_cost(w, b, pairs, cost=ref.CROSS_ENTROPY, l2=2.0, l1=0.4)
    assert close(got, mean + 1.65625 + 0.75)
    assert close(ref.total_cost(w, b, pairs, cost=ref.CROSS_ENTROPY), mean)


# --- every cost × activation against finite differences -------------------------------------

def fd_check(numeric, analytic, what):
    """Central differences of a cost of size ~1 with h = 1e-6 are good to ~1e-10
    absolute (rounding) plus ~1e-12 relative (truncation): allow 1e-8 + 1e-6·|g|."""
    assert abs(numeric - analytic) <= 1e-8 + 1e-6 * abs(analytic), (what, numeric, analytic)


def batch_for(sizes, cost, rnd, m):
    out = []
    for _ in range(m):
        x = [rnd.uniform(-1, 1) if rnd.random() < 0.8 else 0.0 for _ in range(sizes[0])]
        if cost is ref.LOG_LIKELIHOOD:                  # targets that sum to 1
            y = [0.0] * sizes[-1]
            y[rnd.randrange(sizes[-1])] = 1.0
        else:
            y = [rnd.random() for _ in range(sizes[-1])]
        out.append((x, y))
    return out


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("l2,l1", [(0.0, 0.0), (0.7, 0.0), (0.0, 0.3), (1.1, 0.4)])
def test_update_is_a_step_down_the_finite_difference_gradient(cost, activation, l2, l1):
    """(w − w_new)/η, from the update the engines run, against the central
    difference of total_cost (the mean cost of the batch plus the regularisation
    terms, with n = m) for every weight and bias."""
    act, c = ref.ACTIVATIONS[activation], ref.COSTS[cost]
    rnd = random.Random("%s %s %s %s" % (cost, activation, l2, l1))
    sizes = [3, 4, 3, 3]
    net = Network(sizes, seed=rnd.randrange(100), init="scaled")
    w, b = net.weights, net.biases
    batch = batch_for(sizes, c, rnd, 3)
    new_w, new_b = copy.deepcopy(net.weights), copy.deepcopy(net.biases)
    if l2 or l1:
        ref.regularized_update(new_w, new_b, batch, 1.0, len(batch), l2, l1, act, c)
    else:
        ref.update_mini_batch(new_w, new_b, batch, 1.0, act, c)
    h = 1e-6

    def cost_at():
        return ref.total_cost(w, b, batch, act, c, l2, l1)

    for l in range(len(w)):
        for j in range(len(b[l])):
            keep = b[l][j]
            b[l][j] = keep + h
            up = cost_at()
            b[l][j] = keep - h
            down = cost_at()
            b[l][j] = keep
            fd_check((up - down) / (2 * h), keep - new_b[l][j], "b[%d][%d]" % (l, j))
            for k in range(len(w[l][j])):
                keep = w[l][j][k]
                w[l][j][k] = keep + h
                up = cost_at()
                w[l][j][k] = keep - h
                down = cost_at()
                w[l][j][k] = keep
                fd_check((up - down) / (2 * h), keep - new_w[l][j][k], "w[%d][%d][%d]" % (l, j, k))


def test_activations_known_values():
    """Values worked out by hand (no C engine needed): the kinks and the fixed points."""
    assert ref.relu(0.0) == 0.0 and ref.relu(-2.5) == 0.0 and ref.relu(1.75) == 1.75
    assert ref.relu_prime(0.0) == 0.0 and ref.relu_prime(-1e-300) == 0.0
    assert ref.relu_prime(1e-300) == 1.0 and ref.relu_prime(3.0) == 1.0
    assert ref.tanh(0.0) == 0.0 and ref.tanh_prime(0.0) == 1.0
    assert close(ref.tanh(LN3 / 2), 0.5) and close(ref.tanh_prime(-LN3 / 2), 0.75)
    assert ref.tanh(30.0) == 1.0 and ref.tanh_prime(30.0) == 0.0
    assert ref.sigmoid(0.0) == 0.5 and ref.sigmoid_prime(0.0) == 0.25
    assert close(ref.sigmoid(-LN3), 0.25) and close(ref.sigmoid_prime(LN3), 0.1875)
    assert ref.sgn(0.0) == 0.0 and ref.sgn(-0.0) == 0.0 and ref.sgn(-2.0) == -1.0
    assert ref.sgn(5e-324) == 1.0 and ref.sgn(float("nan")) == 0.0
    assert close(ref.softplus(0.0), math.log(2.0)) and close(ref.softplus(LN3), math.log(4.0))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activation_derivatives_match_finite_differences(name):
    act = ref.ACTIVATIONS[name]
    h = 1e-6
    for z in (-3.0, -0.8, -0.01, 0.02, 0.5, 2.5):
        fd_check((act.fn(z + h) - act.fn(z - h)) / (2 * h), act.prime(z), "%s'(%g)" % (name, z))


def test_momentum_from_rest_is_a_step_down_the_gradient():
    """From zero velocities, momentum's first step is the regularised gradient step."""
    rnd = random.Random(8)
    sizes = [4, 3, 2]
    batch = batch_for(sizes, ref.CROSS_ENTROPY, rnd, 2)
    net = Network(sizes, seed=3)
    w1, b1 = net.weights, net.biases
    w2, b2 = net.weights, net.biases
    vel = ([[[0.0] * 4 for _ in range(3)], [[0.0] * 3 for _ in range(2)]], [[0.0] * 3, [0.0] * 2])
    ref.momentum_update(w1, b1, vel, batch, 0.5, 10, 0.9, 0.6, 0.2, cost=ref.CROSS_ENTROPY)
    ref.regularized_update(w2, b2, batch, 0.5, 10, 0.6, 0.2, cost=ref.CROSS_ENTROPY)
    for l in range(2):
        for j in range(len(b1[l])):
            assert close(b1[l][j], b2[l][j])
            for k in range(len(w1[l][j])):
                assert close(w1[l][j][k], w2[l][j][k]), (l, j, k)
