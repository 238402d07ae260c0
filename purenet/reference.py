"""The textbook: how a network learns, in plain Python (lists and ``math``).

Notation (as in Nielsen's book and the seed post):

* layers 0..L; ``sizes[l]`` neurons in layer l; layer 0 is the input x.
* ``weights[l][j][k]``: the weight from neuron k of layer l to neuron j of layer
  l+1; ``biases[l][j]``: the bias of neuron j of layer l+1.
* z = w·a + b        the weighted sums of a layer
* a = σ(z)           its activations, σ(z) = 1 / (1 + e^(−z))
* C = ½ ‖aᴸ − y‖²    the quadratic cost of one sample, so ∂C/∂aᴸ = aᴸ − y

Backpropagation (the four equations):

* δᴸ = (aᴸ − y) ⊙ σ′(zᴸ)                   output error          :func:`output_error`
* δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ′(zˡ)               error one layer back  :func:`backward_error`
* ∂C/∂bˡ = δˡ,  ∂C/∂wˡ = δˡ (aˡ⁻¹)ᵀ         the gradients          :func:`backprop`
* w ← w − (η/m) Σ ∂C/∂w,  b ← b − (η/m) Σ ∂C/∂b   one SGD step      :func:`update_mini_batch`

That is the seed's network (the book's chapters 1 and 2), and the first half of
this file.  The second half is the book's chapter 3, each piece beside the one it
replaces: the cross-entropy cost, softmax with the log-likelihood cost, L2 and L1
regularisation, momentum, and tanh and ReLU neurons.  The functions of the first
half take the neuron (``act``) and the cost (``cost``) as arguments whose defaults
are the seed's, so the seed's path reads as it always did.

Every sum is an explicit loop in index order starting from 0.0 (not ``sum()``,
whose rounding changed in Python 3.12), so the C engine (``csrc/textbook.c``, same
function names with a ``pn_`` prefix) can do the same IEEE operations in the same
order and get the same bits.

One shortcut, which changes no bit: a term whose input a_k is exactly 0 adds
w·0 = 0 to a sum, so it is skipped.  About 81% of MNIST pixels are 0, so this
removes most of the first layer's work (forward sums and gradients; with the
seed's update, also the weight update of the untouched columns).
"""

import math
from array import array
from collections import namedtuple

# A neuron: its activation function and the function's derivative.
Activation = namedtuple("Activation", "fn prime")
# A cost: the output layer's activation (a function of the whole vector zᴸ), the
# cost C of one sample, and the output error δᴸ = ∂C/∂zᴸ; fn and delta take (a, y, z).
Cost = namedtuple("Cost", "output fn delta")


# --- the neuron -------------------------------------------------------------

def sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z)), never overflowing.

    For z < 0, e^(−z) overflows once z < −709, so we use the equal form
    σ(z) = e^z / (1 + e^z) there; e^z then only underflows, to 0.
    """
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def sigmoid_prime(z):
    """σ′(z) = σ(z) (1 − σ(z)), the slope of the sigmoid."""
    s = sigmoid(z)
    return s * (1.0 - s)


SIGMOID = Activation(sigmoid, sigmoid_prime)


def nonzero(a):
    """The pairs (k, a_k) with a_k != 0: the only terms that can change a sum w·a."""
    return [(k, a[k]) for k in range(len(a)) if a[k] != 0.0]


def weighted_sums(w, a, b):
    """z_j = Σ_k w_jk a_k + b_j for every neuron j of a layer (z = w·a + b)."""
    terms = nonzero(a)
    z = []
    for j in range(len(w)):
        row = w[j]
        s = 0.0
        for k, a_k in terms:          # Σ_k w_jk a_k, k ascending
            s += row[k] * a_k
        z.append(s + b[j])            # ... + b_j
    return z


# --- the output layer and the cost --------------------------------------------

def sigmoids(z):
    """aᴸ_j = σ(zᴸ_j): the seed's output layer, sigmoid neurons like the others."""
    return [sigmoid(v) for v in z]


def quadratic_cost(a, y, z):
    """C = ½ ‖a − y‖² = ½ Σ_j (a_j − y_j)²."""
    s = 0.0
    for j in range(len(a)):
        d = a[j] - y[j]
        s += d * d
    return 0.5 * s


def output_error(a, y, z):
    """δᴸ_j = (aᴸ_j − y_j) σ′(zᴸ_j): ∂C/∂z for C = ½‖a − y‖² (chain rule)."""
    return [(a[j] - y[j]) * sigmoid_prime(z[j]) for j in range(len(z))]


QUADRATIC = Cost(sigmoids, quadratic_cost, output_error)


# --- forward ----------------------------------------------------------------

def forward_pass(weights, biases, x, act=SIGMOID, cost=QUADRATIC):
    """a ← σ(w·a + b), layer after layer, keeping what backprop needs.

    Returns (zs, activations): zs[l] = z of layer l+1, activations[l] = a of
    layer l (activations[0] is x itself).  The hidden layers use act.fn; the
    output layer is the cost's (σ, or softmax for the log-likelihood cost).
    """
    activations, zs = [x], []
    last = len(weights) - 1
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = weighted_sums(w, activations[-1], b)
        zs.append(z)
        activations.append(cost.output(z) if l == last else [act.fn(v) for v in z])
    return zs, activations


def feedforward(weights, biases, x, act=SIGMOID, cost=QUADRATIC):
    """The network's output aᴸ for input x."""
    return forward_pass(weights, biases, x, act, cost)[1][-1]


# --- backward ---------------------------------------------------------------

def backward_error(w_next, delta_next, z, act=SIGMOID):
    """δˡ_k = (Σ_j wˡ⁺¹_jk δˡ⁺¹_j) σ′(zˡ_k): the error moved back through wᵀ."""
    delta = []
    for k in range(len(z)):
        s = 0.0
        for j in range(len(delta_next)):      # ((wˡ⁺¹)ᵀ δˡ⁺¹)_k, j ascending
            s += w_next[j][k] * delta_next[j]
        delta.append(s * act.prime(z[k]))
    return delta


def backward_pass(weights, zs, activations, y, act=SIGMOID, cost=QUADRATIC):
    """All the errors δ of one sample, output layer first, returned in layer order."""
    deltas = [cost.delta(activations[-1], y, zs[-1])]
    for l in range(len(weights) - 2, -1, -1):
        deltas.insert(0, backward_error(weights[l + 1], deltas[0], zs[l], act))
    return deltas


def weight_gradient(delta, a):
    """∂C/∂w_jk = δ_j a_k: the outer product δ aᵀ."""
    return [[d * a_k for a_k in a] for d in delta]


def backprop(weights, biases, x, y, act=SIGMOID, cost=QUADRATIC):
    """Gradient of one sample's cost: (∂C/∂b, ∂C/∂w) for every layer, as in Nielsen."""
    zs, activations = forward_pass(weights, biases, x, act, cost)
    deltas = backward_pass(weights, zs, activations, y, act, cost)
    nabla_b = deltas                                           # ∂C/∂bˡ = δˡ
    nabla_w = [weight_gradient(deltas[l], activations[l])      # ∂C/∂wˡ = δˡ (aˡ⁻¹)ᵀ
               for l in range(len(deltas))]
    return nabla_b, nabla_w


# --- learning ---------------------------------------------------------------

def zeros(n):
    """A row of n zeros, held as packed doubles (array('d')): the same numbers as
    [0.0] * n, but 8 bytes each and side by side in memory, which keeps a big
    weight matrix in the CPU's caches."""
    return array("d", bytes(8 * n))


def gradient_sums(weights, biases, batch, act=SIGMOID, cost=QUADRATIC):
    """Σ ∂C/∂b and Σ ∂C/∂w over a mini-batch of (x, y) pairs, summed sample by
    sample in batch order, adding δ_j a_k for the non-zero a_k only (the others
    add exactly 0).  Returns (nabla_b, nabla_w, touched): touched[l] is the set
    of inputs k of layer l that were non-zero in some sample."""
    nabla_b = [[0.0] * len(b) for b in biases]
    nabla_w = [[zeros(len(row)) for row in w] for w in weights]
    touched = [set() for _ in weights]
    for x, y in batch:
        zs, activations = forward_pass(weights, biases, x, act, cost)
        deltas = backward_pass(weights, zs, activations, y, act, cost)
        for l, delta in enumerate(deltas):
            terms = nonzero(activations[l])
            touched[l].update(k for k, _ in terms)
            nb, nw = nabla_b[l], nabla_w[l]
            for j in range(len(delta)):
                d = delta[j]
                nb[j] += d                      # Σ ∂C/∂b_j  = Σ δ_j
                row = nw[j]
                for k, a_k in terms:
                    row[k] += d * a_k           # Σ ∂C/∂w_jk = Σ δ_j a_k
    return nabla_b, nabla_w, touched


def update_mini_batch(weights, biases, batch, lr, act=SIGMOID, cost=QUADRATIC):
    """One step of gradient descent on a mini-batch of (x, y) pairs, in place:
    w ← w − (η/m) Σ ∂C/∂w and b ← b − (η/m) Σ ∂C/∂b."""
    nabla_b, nabla_w, touched = gradient_sums(weights, biases, batch, act, cost)
    scale = lr / len(batch)                     # η/m
    for l in range(len(weights)):
        w, b, nw, nb = weights[l], biases[l], nabla_w[l], nabla_b[l]
        columns = sorted(touched[l])            # untouched: w − (η/m)·0 = w
        for j in range(len(b)):
            b[j] = b[j] - scale * nb[j]
            row, grad = w[j], nw[j]
            for k in columns:
                row[k] = row[k] - scale * grad[k]


# =============================================================================
# Chapter 3: improving the way the network learns
# =============================================================================

# --- the cross-entropy cost -----------------------------------------------------

def softplus(z):
    """ln(1 + e^z), never overflowing: max(z, 0) + ln(1 + e^(−|z|))."""
    return (z if z > 0.0 else 0.0) + math.log1p(math.exp(-abs(z)))


def cross_entropy_cost(a, y, z):
    """C = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)], computed from z.

    With a = σ(z): −ln a = softplus(−z) and −ln(1 − a) = softplus(z), so
    C = Σ_j y_j softplus(−z_j) + (1 − y_j) softplus(z_j).  (From a itself, a σ
    rounded to exactly 1.0 would give ln 0.)
    """
    c = 0.0
    for j in range(len(z)):
        c += y[j] * softplus(-z[j]) + (1.0 - y[j]) * softplus(z[j])
    return c


def cross_entropy_error(a, y, z):
    """δᴸ_j = aᴸ_j − y_j: ∂C/∂z of the cross-entropy cost (σ′ cancels out), and
    of the log-likelihood cost with a softmax output layer."""
    return [a[j] - y[j] for j in range(len(a))]


CROSS_ENTROPY = Cost(sigmoids, cross_entropy_cost, cross_entropy_error)


# --- softmax and the log-likelihood cost ------------------------------------------

def softmax(z):
    """a_j = e^(z_j − max z) / Σ_k e^(z_k − max z): the same as e^(z_j) / Σ_k e^(z_k),
    but no exponent is above 0, so nothing overflows."""
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = 0.0
    for v in e:
        s += v
    return [v / s for v in e]


def log_likelihood_cost(a, y, z):
    """C = −Σ_j y_j ln a_j (= −ln a_label for a one-hot y), computed from z:
    ln a_j = z_j − lse(z), with lse(z) = ln Σ_k e^(z_k) = max z + ln Σ_k e^(z_k − max z),
    so C = Σ_j y_j (lse(z) − z_j).  (The targets y should sum to 1.)"""
    m = max(z)
    s = 0.0
    for v in z:
        s += math.exp(v - m)
    lse = m + math.log(s)
    c = 0.0
    for j in range(len(z)):
        c += y[j] * (lse - z[j])
    return c


LOG_LIKELIHOOD = Cost(softmax, log_likelihood_cost, cross_entropy_error)

COSTS = {"quadratic": QUADRATIC, "cross-entropy": CROSS_ENTROPY,
         "log-likelihood": LOG_LIKELIHOOD}


def total_cost(weights, biases, pairs, act=SIGMOID, cost=QUADRATIC, l2=0.0, l1=0.0):
    """The mean cost over the n samples of pairs, plus the regularisation terms:
    (1/n) Σ_x C_x + (λ₂/2n) Σ w² + (λ₁/n) Σ |w|  (weights only, not biases)."""
    total, n = 0.0, 0
    for x, y in pairs:
        zs, activations = forward_pass(weights, biases, x, act, cost)
        total += cost.fn(activations[-1], y, zs[-1])
        n += 1
    squares, sizes = 0.0, 0.0
    for w in weights:
        for row in w:
            for v in row:
                squares += v * v
                sizes += abs(v)
    return total / n + 0.5 * (l2 / n) * squares + (l1 / n) * sizes


# --- regularisation: L2 (weight decay) and L1 ---------------------------------------

def sgn(w):
    """The sign of w: 1, −1, or 0 for w = 0 (the L1 step leaves a zero weight alone)."""
    return 1.0 if w > 0.0 else -1.0 if w < 0.0 else 0.0


def regularized_update(weights, biases, batch, lr, n, l2=0.0, l1=0.0, act=SIGMOID,
                       cost=QUADRATIC):
    """One gradient step on the regularised cost C + (λ₂/2n) Σ w² + (λ₁/n) Σ |w|,
    for a training set of n samples, in place:

        w ← (1 − ηλ₂/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ ∂C/∂w
        b ← b − (η/m)·Σ ∂C/∂b                  (biases are not regularised)

    Every weight shrinks at every step, so every weight is updated (an untouched
    one has Σ ∂C/∂w = 0)."""
    nabla_b, nabla_w, _ = gradient_sums(weights, biases, batch, act, cost)
    scale = lr / len(batch)                     # η/m
    keep = 1.0 - lr * l2 / n                    # 1 − ηλ₂/n: the part of w kept
    shrink = lr * l1 / n                        # ηλ₁/n
    for l in range(len(weights)):
        w, b, nw, nb = weights[l], biases[l], nabla_w[l], nabla_b[l]
        for j in range(len(b)):
            b[j] = b[j] - scale * nb[j]
            row, grad = w[j], nw[j]
            for k in range(len(row)):
                row[k] = keep * row[k] - shrink * sgn(row[k]) - scale * grad[k]


# --- momentum -------------------------------------------------------------------

def momentum_update(weights, biases, velocities, batch, lr, n, mu, l2=0.0, l1=0.0,
                    act=SIGMOID, cost=QUADRATIC):
    """One step of momentum gradient descent, in place.  velocities = (vw, vb),
    shaped like the weights and biases (zeros before the first step):

        v ← μ·v − (ηλ₂/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ ∂C/∂w,  then  w ← w + v
        v_b ← μ·v_b − (η/m)·Σ ∂C/∂b,                         then  b ← b + v_b
    """
    nabla_b, nabla_w, _ = gradient_sums(weights, biases, batch, act, cost)
    scale = lr / len(batch)                     # η/m
    decay = lr * l2 / n                         # ηλ₂/n
    shrink = lr * l1 / n                        # ηλ₁/n
    vw, vb = velocities
    for l in range(len(weights)):
        w, b, nw, nb = weights[l], biases[l], nabla_w[l], nabla_b[l]
        for j in range(len(b)):
            vb[l][j] = mu * vb[l][j] - scale * nb[j]
            b[j] = b[j] + vb[l][j]
            row, grad, v = w[j], nw[j], vw[l][j]
            for k in range(len(row)):
                v[k] = mu * v[k] - decay * row[k] - shrink * sgn(row[k]) - scale * grad[k]
                row[k] = row[k] + v[k]


# --- other neurons: tanh and ReLU -------------------------------------------------

def tanh(z):
    """tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z)) = 2σ(2z) − 1: a sigmoid from −1 to 1."""
    return math.tanh(z)


def tanh_prime(z):
    """tanh′(z) = 1 − tanh²(z)."""
    t = math.tanh(z)
    return 1.0 - t * t


def relu(z):
    """The rectified linear unit: max(0, z)."""
    return z if z > 0.0 else 0.0


def relu_prime(z):
    """relu′(z) = 1 for z > 0, else 0 (a ReLU at 0 passes no error back)."""
    return 1.0 if z > 0.0 else 0.0


TANH = Activation(tanh, tanh_prime)
RELU = Activation(relu, relu_prime)
ACTIVATIONS = {"sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}


# --- the engine Network uses ---------------------------------------------------

def shuffled_order(rng, n):
    """The samples 0..n-1 in the order rng.shuffle puts them (an epoch's order), as
    an array('q')."""
    order = list(range(n))
    rng.shuffle(order)
    return array("q", order)


class ReferenceEngine:
    """Runs a Network's arithmetic with the functions above (``backend="python"``).

    The parameters live in ``self.weights`` (rows of packed doubles, see
    :func:`zeros`; the functions above read them like lists) and ``self.biases``;
    :meth:`get_params` hands them out as fresh lists.  ``self.velocities`` holds
    the momentum velocities (vw, vb) once a momentum step has been taken.
    """


    def __init__(self, sizes, weights, biases, cost="quadratic", activation="sigmoid"):
        self.sizes = list(sizes)
        self.cost, self.act = COSTS[cost], ACTIVATIONS[activation]
        self.velocities = None
        self.set_params(weights, biases)

    def set_params(self, weights, biases):
        # Rows as packed doubles (see zeros): the same values as lists of floats.
        self.weights = [[array("d", map(float, row)) for row in w] for w in weights]
        self.biases = [list(map(float, b)) for b in biases]

    def get_params(self):
        return ([[row.tolist() for row in w] for w in self.weights],
                [list(b) for b in self.biases])

    def get_velocities(self):
        """(vw, vb) as fresh nested lists, or None before any momentum step."""
        if self.velocities is None:
            return None
        vw, vb = self.velocities
        return [[row.tolist() for row in w] for w in vw], [list(b) for b in vb]

    def set_velocities(self, vw, vb):
        self.velocities = ([[array("d", map(float, row)) for row in w] for w in vw],
                           [list(map(float, b)) for b in vb])

    def all_finite(self):
        """True when no weight or bias is NaN or infinite (fit checks after every epoch)."""
        return (all(all(map(math.isfinite, row)) for w in self.weights for row in w)
                and all(all(map(math.isfinite, b)) for b in self.biases))

    def feedforward(self, x):
        return feedforward(self.weights, self.biases, list(map(float, x)), self.act, self.cost)

    def train_batches(self, data, batches, lr, n=None, l2=0.0, l1=0.0, momentum=0.0):
        """One update for each batch (a list of sample indices into data), in order:
        the seed's update_mini_batch, or with l2/l1 the regularised update, or with
        momentum > 0 the momentum update; n (default data.n) is the training-set
        size in the regularisation terms."""
        n = data.n if n is None else n
        if momentum and self.velocities is None:
            self.set_velocities([[[0.0] * len(row) for row in w] for w in self.weights],
                                [[0.0] * len(b) for b in self.biases])
        for batch in batches:
            pairs = [(data.x(i), data.y(i)) for i in batch]
            if momentum:
                momentum_update(self.weights, self.biases, self.velocities, pairs, lr, n,
                                momentum, l2, l1, self.act, self.cost)
            elif l2 or l1:
                regularized_update(self.weights, self.biases, pairs, lr, n, l2, l1,
                                   self.act, self.cost)
            else:
                update_mini_batch(self.weights, self.biases, pairs, lr, self.act, self.cost)

    def shuffled_order(self, rng, n):
        return shuffled_order(rng, n)

    def train_order(self, data, order, batch_size, lr, n=None, l2=0.0, l1=0.0, momentum=0.0):
        """train_batches of order (sample indices) cut into batches of batch_size
        consecutive samples; the last one may be smaller."""
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        self.train_batches(data, batches, lr, n, l2, l1, momentum)

    def outputs(self, data, start=0, stop=None):
        """Output activations of samples start..stop-1 of data, one list each."""
        stop = data.n if stop is None else stop
        return [feedforward(self.weights, self.biases, data.x(i), self.act, self.cost)
                for i in range(start, stop)]

    def total_cost(self, data, l2=0.0, l1=0.0):
        """total_cost over every sample of data."""
        return total_cost(self.weights, self.biases,
                          ((data.x(i), data.y(i)) for i in range(data.n)),
                          self.act, self.cost, l2, l1)
