"""The textbook, chapter 6, whole networks: conv, pool and fully connected layers, and dropout.

:mod:`purenet.convolution` has one function per equation of a conv or pool layer; this file
puts them in a network beside :mod:`purenet.reference`'s fully connected layers, as the book's
``network3.py`` does:

    Network([784, "conv20x5", "pool2", "conv40x5", "pool2", 100, 10], ...)

reads each 784-pixel image as one 28×28 map, makes 20 maps of 24×24 with 5×5 filters, pools
them to 12×12, makes 40 maps of 8×8, pools them to 4×4, and hands the 40×4×4 = 640 values,
flattened in [map][row][column] order, to a fully connected layer of 100 and the 10 outputs.
``checks.layers_of`` gives each layer's shape.

Forward, layer by layer (a⁰ = x):

* fully connected: z = w·a + b (``reference.weighted_sums``), a = σ(z), or the cost's output
  layer (σ or softmax) for the last layer;
* conv: z = the conv sums (``convolution.conv_sums``), a = σ(z) unit by unit;
* pool: a = the maximum of each window (``convolution.max_pool``); no σ, so its z is its a.

Backward, δ = ∂C/∂z from the output layer down (:func:`backward_pass`): δᴸ is the cost's
output error; the error moved back through layer l+1 is wᵀδ (fully connected), the full
correlation with the flipped filters (conv), or δ sent to each window's chosen unit (pool);
times σ′(zˡ) unless layer l is a pool layer (its slope is 1).

Dropout (the book's chapter 3, used in chapter 6 on the fully connected layers): while
training, each unit of a fully connected hidden layer is dropped (its a set to 0) with
probability p, and a kept unit is scaled by 1/(1 − p) ("inverted" dropout), so the expected
input of the next layer is unchanged and the network predicts without dropout.  A dropped
unit's δ is 0; a kept one's is (wᵀδ ⊙ σ′(z)) · 1/(1 − p).  Which units are dropped is drawn by
the caller (:meth:`purenet.Network.fit`) and handed over as ``keep`` bytes, so both engines
see the same masks.

Each sum keeps the order that reference.py and convolution.py document, and the updates are
reference.py's three, on every weight whatever its layer's shape, so the C engine
(``pn_net_*`` in ``csrc/``) can do the same IEEE operations in the same order.
"""

import math
import sys
from array import array

from .checks import layers_of, rows_of
from .convolution import (conv_backward_error, conv_bias_gradient, conv_sums,
                          conv_weight_gradient, flatten, map_activations, map_error, max_pool,
                          pool_backward, unflatten)
from .reference import (ACTIVATIONS, COSTS, QUADRATIC, SIGMOID, Activation, backward_error,
                        nonzero, sgn, shuffled_order, weighted_sums)

# A pool layer's output is its own z: as a neuron, its slope is 1 (s·1.0 is s, bit for bit).
IDENTITY = Activation(lambda z: z, lambda z: 1.0)


def as_maps(a, layer):
    """The activations a of layer as maps a[c][y][x]: the input, a flat image of n values,
    is one √n×√n map; a conv or pool layer's are maps already."""
    if len(layer.shape) == 3:
        return a
    side = math.isqrt(len(a))
    return unflatten(a, (1, side, side))


def as_vector(a, layer):
    """The activations a of layer as one vector (maps flattened, [map][row][column])."""
    return a if len(layer.shape) == 1 else flatten(a)


def dropout(a, keep, scale):
    """a_j · scale for a kept unit (keep[j] = 1), 0.0 for a dropped one: inverted dropout,
    scale = 1/(1 − p)."""
    return [v * scale if kept else 0.0 for v, kept in zip(a, keep)]


def keep_masks(rng, count, p):
    """count keep bytes for dropout with probability p: one 32-bit word of rng for each
    (``rng.getrandbits(32·count)``, read little-endian, so that masks drawn in parts are
    the masks drawn at once), 0 (dropped) when the word is below int(p·2³²), else 1."""
    if count == 0:
        return b""
    words = array("I", rng.getrandbits(32 * count).to_bytes(4 * count, "little"))
    if sys.byteorder == "big":
        words.byteswap()
    return bytes(map(int(p * 2 ** 32).__le__, words))


# --- forward ----------------------------------------------------------------------------

def forward_pass(layers, weights, biases, x, act=SIGMOID, cost=QUADRATIC, keep=None, scale=1.0):
    """a ← each layer of a (see the module's docstring), keeping what backprop needs.

    layers: checks.layers_of(sizes); weights[l-1], biases[l-1]: layer l's (empty for a pool).
    keep: while training with dropout, one byte per unit of the fully connected hidden
    layers, layer after layer (1 = kept), and scale = 1/(1 − p).
    Returns (zs, activations, choices), each indexed by layer (index 0 is the input x):
    zs[l], the weighted sums (maps for conv and pool layers); activations[l]; choices[l], the
    chosen unit of each window of a pool layer (None for the others)."""
    zs, activations, choices = [None], [x], [None]
    used = 0                                     # the keep bytes used so far
    for l in range(1, len(layers)):
        layer, prev, w, b = layers[l], layers[l - 1], weights[l - 1], biases[l - 1]
        chosen = None
        if layer.kind == "conv":
            z = conv_sums(w, b, as_maps(activations[-1], prev))
            a = map_activations(z, act)
        elif layer.kind == "pool":
            a, chosen = max_pool(as_maps(activations[-1], prev), layer.k)
            z = a
        else:
            z = weighted_sums(w, as_vector(activations[-1], prev), b)
            if l == len(layers) - 1:
                a = cost.output(z)
            else:
                a = [act.fn(v) for v in z]
                if keep is not None:
                    a = dropout(a, keep[used:used + layer.n], scale)
                    used += layer.n
        zs.append(z)
        activations.append(a)
        choices.append(chosen)
    return zs, activations, choices


def feedforward(layers, weights, biases, x, act=SIGMOID, cost=QUADRATIC):
    """The network's output aᴸ for input x (no dropout)."""
    return forward_pass(layers, weights, biases, x, act, cost)[1][-1]


# --- backward ---------------------------------------------------------------------------

def moved_back(layers, l, w_next, delta_next, z, choices_next, act):
    """δ of layer l from δ of layer l+1 (l ≥ 1), before dropout: the error moved back
    through layer l+1, times σ′(zˡ) (times 1 when layer l is a pool layer)."""
    layer, nxt = layers[l], layers[l + 1]
    neuron = IDENTITY if layer.kind == "pool" else act
    if nxt.kind == "full":                              # (wˡ⁺¹)ᵀ δˡ⁺¹ ⊙ σ′(zˡ)
        delta = backward_error(w_next, delta_next, as_vector(z, layer), neuron)
        return delta if len(layer.shape) == 1 else unflatten(delta, layer.shape)
    if nxt.kind == "conv":
        s = conv_backward_error(w_next, delta_next, layer.shape)
    else:
        s = pool_backward(delta_next, choices_next, layer.shape)
    return map_error(s, z, neuron)


def backward_pass(layers, weights, zs, activations, choices, y, act=SIGMOID, cost=QUADRATIC,
                  keep=None, scale=1.0):
    """The errors δ of one sample, indexed by layer (index 0, the input, is None): δᴸ from
    the cost, then each layer's from the one after it (:func:`moved_back`).  With dropout
    (keep, scale as in forward_pass), a dropped unit's δ is 0.0 and a kept one's is
    multiplied by scale."""
    last = len(layers) - 1
    deltas = [None] * (last + 1)
    deltas[last] = cost.delta(activations[last], y, zs[last])
    used = sum(layer.n for layer in layers[1:last] if layer.kind == "full")
    for l in range(last - 1, 0, -1):
        delta = moved_back(layers, l, weights[l], deltas[l + 1], zs[l], choices[l + 1], act)
        if keep is not None and layers[l].kind == "full":
            used -= layers[l].n
            delta = dropout(delta, keep[used:used + layers[l].n], scale)
        deltas[l] = delta
    return deltas


# --- learning ---------------------------------------------------------------------------

def weight_rows(w):
    """The innermost lists of a layer's weights: the rows w[j] of a fully connected layer,
    w[f][c][i] of a conv layer (none for a pool layer)."""
    return rows_of(w, 4) if w and isinstance(w[0][0], list) else w


def zeros_like(nested):
    """A nested list of 0.0 shaped as nested."""
    return [zeros_like(v) for v in nested] if isinstance(nested, list) else 0.0


def add_full_gradient(nb, nw, delta, a):
    """Σ ∂C/∂b_j += δ_j and Σ ∂C/∂w_jk += δ_j a_k for the non-zero a_k, k ascending: one
    sample's terms of a fully connected layer (as in reference.gradient_sums)."""
    terms = nonzero(a)
    for j in range(len(delta)):
        d = delta[j]
        nb[j] += d
        row = nw[j]
        for k in terms:
            row[k] += d * a[k]


def add_conv_gradient(nb, nw, delta, a, k):
    """Σ ∂C/∂b[f] += ∂C/∂b[f] and Σ ∂C/∂w[f][c][i][j] += ∂C/∂w[f][c][i][j]: one sample's
    gradient of a conv layer (convolution.conv_weight_gradient and conv_bias_gradient, each
    summed over its map from 0.0), added to the batch's sums."""
    gb = conv_bias_gradient(delta)
    for f in range(len(nb)):
        nb[f] += gb[f]
    for sums, grads in zip(rows_of(nw, 4), rows_of(conv_weight_gradient(delta, a, k), 4)):
        for j in range(len(sums)):
            sums[j] += grads[j]


def gradient_sums(layers, weights, biases, batch, act=SIGMOID, cost=QUADRATIC, keeps=None,
                  scale=1.0):
    """Σ ∂C/∂b and Σ ∂C/∂w over a mini-batch of (x, y) pairs, from 0.0, sample by sample in
    batch order.  keeps: with dropout, each sample's keep bytes (see forward_pass)."""
    nabla_b, nabla_w = zeros_like(biases), zeros_like(weights)
    for s, (x, y) in enumerate(batch):
        keep = keeps[s] if keeps is not None else None
        zs, activations, choices = forward_pass(layers, weights, biases, x, act, cost, keep,
                                                scale)
        deltas = backward_pass(layers, weights, zs, activations, choices, y, act, cost, keep,
                               scale)
        for l in range(1, len(layers)):
            layer, prev, a = layers[l], layers[l - 1], activations[l - 1]
            if layer.kind == "full":
                add_full_gradient(nabla_b[l - 1], nabla_w[l - 1], deltas[l], as_vector(a, prev))
            elif layer.kind == "conv":
                add_conv_gradient(nabla_b[l - 1], nabla_w[l - 1], deltas[l], as_maps(a, prev),
                                  layer.k)
    return nabla_b, nabla_w


def descend(rows, grads, scale):
    """p ← p − (η/m)·Σ∂C/∂p for every p of rows (a bias, or with the seed's update a weight)."""
    for row, grad in zip(rows, grads):
        for k in range(len(row)):
            row[k] = row[k] - scale * grad[k]


def regularized_step(rows, grads, scale, keep, shrink):
    """w ← (1 − ηλ₂/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∂C/∂w (reference.regularized_update)."""
    for row, grad in zip(rows, grads):
        for k in range(len(row)):
            row[k] = keep * row[k] - shrink * sgn(row[k]) - scale * grad[k]


def momentum_step(rows, grads, speeds, scale, mu, decay, shrink):
    """v ← μ·v − (ηλ₂/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∂C/∂w, then w ← w + v
    (reference.momentum_update)."""
    for row, grad, v in zip(rows, grads, speeds):
        for k in range(len(row)):
            v[k] = mu * v[k] - decay * row[k] - shrink * sgn(row[k]) - scale * grad[k]
            row[k] = row[k] + v[k]


def update(weights, biases, velocities, nabla_w, nabla_b, m, lr, n, l2, l1, mu):
    """One step on every weight and bias, in place, chosen as ReferenceEngine does:
    reference.py's update_mini_batch (l2 = l1 = mu = 0), regularized_update (mu = 0) or
    momentum_update, with the same expressions, whatever the shape of a layer's weights
    (their innermost lists are its rows)."""
    rows = [r for w in weights for r in weight_rows(w)]
    grads = [g for nw in nabla_w for g in weight_rows(nw)]
    scale = lr / m                                        # η/m
    decay, shrink = lr * l2 / n, lr * l1 / n              # ηλ₂/n, ηλ₁/n
    if mu:
        vw, vb = velocities
        for b, nb, v in zip(biases, nabla_b, vb):          # v_b ← μ·v_b − (η/m)·Σ∂C/∂b
            for j in range(len(b)):
                v[j] = mu * v[j] - scale * nb[j]
                b[j] = b[j] + v[j]
        momentum_step(rows, grads, [v for w in vw for v in weight_rows(w)], scale, mu,
                      decay, shrink)
        return
    descend(biases, nabla_b, scale)
    if l2 or l1:
        regularized_step(rows, grads, scale, 1.0 - lr * l2 / n, shrink)
    else:
        descend(rows, grads, scale)


def total_cost(layers, weights, biases, pairs, act=SIGMOID, cost=QUADRATIC, l2=0.0, l1=0.0):
    """reference.total_cost for a network of any layers: the mean cost over pairs plus
    (λ₂/2n) Σ w² + (λ₁/n) Σ |w|, the weights in the order of the model file."""
    total, n = 0.0, 0
    for x, y in pairs:
        zs, activations, _ = forward_pass(layers, weights, biases, x, act, cost)
        total += cost.fn(activations[-1], y, zs[-1])
        n += 1
    squares, sizes = 0.0, 0.0
    for w in weights:
        for row in weight_rows(w):
            for v in row:
                squares += v * v
                sizes += abs(v)
    return total / n + 0.5 * (l2 / n) * squares + (l1 / n) * sizes


# --- the engine Network uses ----------------------------------------------------------------

def copied(nested):
    """A copy of a nested list of numbers, as floats."""
    return [copied(v) for v in nested] if isinstance(nested, list) else float(nested)


class DeepEngine:
    """Runs a network of any layers with the functions above (``backend="python"`` for
    sizes with a conv or pool layer, and for dropout): ReferenceEngine's interface, and
    train_batches / train_order take ``dropout=(scale, keep)``: scale = 1/(1 − p), keep one
    byte per unit of the fully connected hidden layers for each sample, in training order."""

    def __init__(self, sizes, weights, biases, cost="quadratic", activation="sigmoid"):
        self.sizes, self.layers = list(sizes), layers_of(sizes)
        self.cost, self.act = COSTS[cost], ACTIVATIONS[activation]
        # U: the units of the fully connected hidden layers, each one keep byte a sample
        self.units = sum(layer.n for layer in self.layers[1:-1] if layer.kind == "full")
        self.velocities = None
        self.set_params(weights, biases)

    def set_params(self, weights, biases):
        self.weights, self.biases = copied(weights), copied(biases)

    def get_params(self):
        return copied(self.weights), copied(self.biases)

    def get_velocities(self):
        return None if self.velocities is None else copied(list(self.velocities))

    def set_velocities(self, vw, vb):
        self.velocities = (copied(vw), copied(vb))

    def all_finite(self):
        flat = ([v for w in self.weights for row in weight_rows(w) for v in row]
                + [v for b in self.biases for v in b])
        return all(map(math.isfinite, flat))

    def feedforward(self, x):
        return feedforward(self.layers, self.weights, self.biases, list(map(float, x)),
                           self.act, self.cost)

    def train_batches(self, data, batches, lr, n=None, l2=0.0, l1=0.0, momentum=0.0,
                      dropout=None):
        """One update for each batch (a list of sample indices into data), in order."""
        n = data.n if n is None else n
        if momentum and self.velocities is None:
            self.set_velocities(zeros_like(self.weights), zeros_like(self.biases))
        scale, keep = dropout if dropout is not None else (1.0, None)
        units, used = self.units, 0
        for batch in batches:
            pairs = [(data.x(i), data.y(i)) for i in batch]
            keeps = None
            if keep is not None:
                keeps = [keep[(used + s) * units:(used + s + 1) * units]
                         for s in range(len(batch))]
                used += len(batch)
            nabla_b, nabla_w = gradient_sums(self.layers, self.weights, self.biases, pairs,
                                             self.act, self.cost, keeps, scale)
            update(self.weights, self.biases, self.velocities, nabla_w, nabla_b, len(batch),
                   lr, n, l2, l1, momentum)

    def shuffled_order(self, rng, n):
        return shuffled_order(rng, n)

    def train_order(self, data, order, batch_size, lr, n=None, l2=0.0, l1=0.0, momentum=0.0,
                    dropout=None):
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        self.train_batches(data, batches, lr, n, l2, l1, momentum, dropout)

    def outputs(self, data, start=0, stop=None):
        stop = data.n if stop is None else stop
        return [feedforward(self.layers, self.weights, self.biases, data.x(i), self.act,
                            self.cost) for i in range(start, stop)]

    def total_cost(self, data, l2=0.0, l1=0.0):
        return total_cost(self.layers, self.weights, self.biases,
                          ((data.x(i), data.y(i)) for i in range(data.n)),
                          self.act, self.cost, l2, l1)
