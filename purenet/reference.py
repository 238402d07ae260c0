"""The textbook: how a sigmoid network learns, in plain Python (lists and ``math``).

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

Every sum is an explicit loop in index order starting from 0.0 (not ``sum()``,
whose rounding changed in Python 3.12), so the C engine (``csrc/purenet.c``, same
function names with a ``pn_`` prefix) can do the same IEEE operations in the same
order and get the same bits.

One shortcut, which changes no bit: a term whose input a_k is exactly 0 adds
w·0 = 0 to a sum, so it is skipped.  About 81% of MNIST pixels are 0, so this
removes most of the first layer's work (forward sums, gradients and updates).
"""

import math
from array import array


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


# --- forward ----------------------------------------------------------------

def feedforward(weights, biases, x):
    """The network's output aᴸ for input x: a ← σ(w·a + b), layer after layer."""
    a = x
    for w, b in zip(weights, biases):
        a = [sigmoid(z) for z in weighted_sums(w, a, b)]
    return a


def forward_pass(weights, biases, x):
    """Like :func:`feedforward`, but keep what backprop needs.

    Returns (zs, activations): zs[l] = z of layer l+1, activations[l] = a of
    layer l (activations[0] is x itself).
    """
    activations, zs = [x], []
    for w, b in zip(weights, biases):
        z = weighted_sums(w, activations[-1], b)
        zs.append(z)
        activations.append([sigmoid(v) for v in z])
    return zs, activations


# --- backward ---------------------------------------------------------------

def output_error(a, y, z):
    """δᴸ_j = (aᴸ_j − y_j) σ′(zᴸ_j): ∂C/∂z for C = ½‖a − y‖² (chain rule)."""
    return [(a[j] - y[j]) * sigmoid_prime(z[j]) for j in range(len(z))]


def backward_error(w_next, delta_next, z):
    """δˡ_k = (Σ_j wˡ⁺¹_jk δˡ⁺¹_j) σ′(zˡ_k): the error moved back through wᵀ."""
    delta = []
    for k in range(len(z)):
        s = 0.0
        for j in range(len(delta_next)):      # ((wˡ⁺¹)ᵀ δˡ⁺¹)_k, j ascending
            s += w_next[j][k] * delta_next[j]
        delta.append(s * sigmoid_prime(z[k]))
    return delta


def backward_pass(weights, zs, activations, y):
    """All the errors δ of one sample, output layer first, returned in layer order."""
    deltas = [output_error(activations[-1], y, zs[-1])]
    for l in range(len(weights) - 2, -1, -1):
        deltas.insert(0, backward_error(weights[l + 1], deltas[0], zs[l]))
    return deltas


def weight_gradient(delta, a):
    """∂C/∂w_jk = δ_j a_k: the outer product δ aᵀ."""
    return [[d * a_k for a_k in a] for d in delta]


def backprop(weights, biases, x, y):
    """Gradient of one sample's cost: (∂C/∂b, ∂C/∂w) for every layer, as in Nielsen."""
    zs, activations = forward_pass(weights, biases, x)
    deltas = backward_pass(weights, zs, activations, y)
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


def update_mini_batch(weights, biases, batch, lr):
    """One step of gradient descent on a mini-batch of (x, y) pairs, in place.

    Σ ∂C/∂w is summed sample by sample (in batch order) into nabla_w, adding
    δ_j a_k for the non-zero a_k only (the others add exactly 0), then
    w ← w − (η/m) Σ ∂C/∂w and b ← b − (η/m) Σ ∂C/∂b.
    """
    nabla_b = [[0.0] * len(b) for b in biases]
    nabla_w = [[zeros(len(row)) for row in w] for w in weights]
    touched = [set() for _ in weights]        # inputs k that were non-zero at least once
    for x, y in batch:
        zs, activations = forward_pass(weights, biases, x)
        deltas = backward_pass(weights, zs, activations, y)
        for l, delta in enumerate(deltas):
            a = activations[l]
            terms = nonzero(a)
            touched[l].update(k for k, _ in terms)
            nb, nw = nabla_b[l], nabla_w[l]
            for j in range(len(delta)):
                d = delta[j]
                nb[j] += d                      # Σ ∂C/∂b_j  = Σ δ_j
                row = nw[j]
                for k, a_k in terms:
                    row[k] += d * a_k           # Σ ∂C/∂w_jk = Σ δ_j a_k
    scale = lr / len(batch)                     # η/m
    for l in range(len(weights)):
        w, b, nw, nb = weights[l], biases[l], nabla_w[l], nabla_b[l]
        columns = sorted(touched[l])            # untouched: w − (η/m)·0 = w
        for j in range(len(b)):
            b[j] = b[j] - scale * nb[j]
            row, grad = w[j], nw[j]
            for k in columns:
                row[k] = row[k] - scale * grad[k]


# --- the engine Network uses ---------------------------------------------------

class ReferenceEngine:
    """Runs a Network's arithmetic with the functions above (``backend="python"``).

    The parameters live in ``self.weights`` (rows of packed doubles, see
    :func:`zeros`; the functions above read them like lists) and ``self.biases``;
    :meth:`get_params` hands them out as fresh lists.
    """

    name = "python"

    def __init__(self, sizes, weights, biases):
        self.sizes = list(sizes)
        self.set_params(weights, biases)

    def set_params(self, weights, biases):
        # Rows as packed doubles (see zeros): the same values as lists of floats.
        self.weights = [[array("d", map(float, row)) for row in w] for w in weights]
        self.biases = [list(map(float, b)) for b in biases]

    def get_params(self):
        return ([[row.tolist() for row in w] for w in self.weights],
                [list(b) for b in self.biases])

    def feedforward(self, x):
        return feedforward(self.weights, self.biases, list(map(float, x)))

    def train_batches(self, data, batches, lr):
        """update_mini_batch for each batch (a list of sample indices into data)."""
        for batch in batches:
            update_mini_batch(self.weights, self.biases,
                              [(data.x(i), data.y(i)) for i in batch], lr)

    def outputs(self, data, start=0, stop=None):
        """Output activations of samples start..stop-1 of data, one list each."""
        stop = data.n if stop is None else stop
        return [feedforward(self.weights, self.biases, data.x(i))
                for i in range(start, stop)]
