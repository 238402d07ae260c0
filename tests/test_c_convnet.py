"""The C engine's layered networks (pn_net_*, cengine.CNetEngine) against the spec, bit for bit.

The spec (the layered network of chapter 6: conv, pool and fully connected layers, with
dropout) is written out here as a small Python model built from purenet.convolution and
purenet.reference, one sample at a time, in the textbook's orders.  Every comparison is
exact (assert_same: the IEEE bit patterns), after several epochs of training, on every
parameter; at each SIMD level (the simd_level fixture) and with 1 and 2 threads.
"""

import math
import random
from array import array

import pytest

from purenet import convolution as cv
from purenet import reference as ref
from purenet.checks import check_sizes, layers_of
from purenet.dataset import Dataset
from purenet.errors import CEngineError, InvalidArgument

from helpers import assert_same, needs_c

try:
    from purenet import cengine
except ImportError:          # pragma: no cover - cengine itself needs only the stdlib
    cengine = None

pytestmark = needs_c


# --- the spec, in Python ---------------------------------------------------------------

def maps_of(a, layer):
    """The output a of layer as maps: an input vector is one √n×√n map."""
    if len(layer.shape) == 3:
        return a
    side = math.isqrt(len(a))
    return cv.unflatten(a, (1, side, side))


def vector_of(a, layer):
    return a if len(layer.shape) == 1 else cv.flatten(a)


def nested_zeros(v):
    return [nested_zeros(x) for x in v] if isinstance(v, list) else 0.0


def leaves(v):
    """The innermost lists of a nested list (the rows an update runs along)."""
    if v and isinstance(v[0], list):
        return [r for x in v for r in leaves(x)]
    return [v]


class SpecNet:
    """The layered network's spec: forward, backward, gradient sums, update, cost."""

    def __init__(self, sizes, weights, biases, cost, activation):
        self.layers = layers_of(check_sizes(sizes))
        self.cost, self.act = ref.COSTS[cost], ref.ACTIVATIONS[activation]
        self.w = [[*map(_copy, w)] for w in weights]
        self.b = [list(map(float, b)) for b in biases]
        self.vel = None
        self.units = sum(ly.n for ly in self.layers[1:-1] if ly.kind == "full")

    def forward(self, x, keep=None, scale=1.0):
        zs, acts, choices, used, L = [None], [x], [None], 0, len(self.layers) - 1
        for l in range(1, L + 1):
            ly, prev, chosen = self.layers[l], self.layers[l - 1], None
            if ly.kind == "conv":
                z = cv.conv_sums(self.w[l - 1], self.b[l - 1], maps_of(acts[-1], prev))
                a = cv.map_activations(z, self.act)
            elif ly.kind == "pool":
                a, chosen = cv.max_pool(maps_of(acts[-1], prev), ly.k)
                z = a
            else:
                z = ref.weighted_sums(self.w[l - 1], vector_of(acts[-1], prev), self.b[l - 1])
                if l == L:
                    a = self.cost.output(z)
                else:
                    a = [self.act.fn(v) for v in z]
                    if keep is not None:
                        mask = keep[used:used + ly.n]
                        used += ly.n
                        a = [v * scale if k else 0.0 for v, k in zip(a, mask)]
            zs.append(z)
            acts.append(a)
            choices.append(chosen)
        return zs, acts, choices

    def backward(self, zs, acts, choices, y, keep=None, scale=1.0):
        L = len(self.layers) - 1
        deltas = [None] * (L + 1)
        deltas[L] = self.cost.delta(acts[L], y, zs[L])
        used = self.units
        for l in range(L - 1, 0, -1):
            ly, nxt = self.layers[l], self.layers[l + 1]
            if nxt.kind == "full":
                zl = vector_of(zs[l], ly)
                s = [0.0] * len(zl)
                for j, d in enumerate(deltas[l + 1]):          # j ascending, nothing skipped
                    row = self.w[l][j]
                    for k in range(len(zl)):
                        s[k] += row[k] * d
                if ly.kind == "pool":
                    delta = cv.unflatten(s, ly.shape)
                else:
                    delta = [s[k] * self.act.prime(zl[k]) for k in range(len(zl))]
                    if ly.kind == "conv":
                        delta = cv.unflatten(delta, ly.shape)
                    elif keep is not None:
                        used -= ly.n
                        mask = keep[used:used + ly.n]
                        delta = [v * scale if k else 0.0 for v, k in zip(delta, mask)]
            else:
                if nxt.kind == "conv":
                    s = cv.conv_backward_error(self.w[l], deltas[l + 1], ly.shape)
                else:
                    s = cv.pool_backward(deltas[l + 1], choices[l + 1], ly.shape)
                delta = s if ly.kind == "pool" else cv.map_error(s, zs[l], self.act)
            deltas[l] = delta
        return deltas

    def gradient_sums(self, pairs, keeps, scale):
        nb, nw = nested_zeros(self.b), nested_zeros(self.w)
        for s, (x, y) in enumerate(pairs):
            keep = keeps[s] if keeps is not None else None
            zs, acts, choices = self.forward(x, keep, scale)
            deltas = self.backward(zs, acts, choices, y, keep, scale)
            for l in range(1, len(self.layers)):
                ly, prev = self.layers[l], self.layers[l - 1]
                if ly.kind == "full":
                    a = vector_of(acts[l - 1], prev)
                    terms = ref.nonzero(a)
                    for j, d in enumerate(deltas[l]):
                        nb[l - 1][j] += d
                        for k in terms:
                            nw[l - 1][j][k] += d * a[k]
                elif ly.kind == "conv":
                    gb = cv.conv_bias_gradient(deltas[l])
                    for f in range(len(gb)):
                        nb[l - 1][f] += gb[f]
                    g = cv.conv_weight_gradient(deltas[l], maps_of(acts[l - 1], prev), ly.k)
                    for sums, terms in zip(leaves(nw[l - 1]), leaves(g)):
                        for k in range(len(sums)):
                            sums[k] += terms[k]
        return nb, nw

    def train_batches(self, data, batches, lr, n=None, l2=0.0, l1=0.0, momentum=0.0,
                      dropout=None):
        n = data.n if n is None else n
        scale, keep = dropout if dropout is not None else (1.0, None)
        if momentum and self.vel is None:
            self.vel = (nested_zeros(self.w), nested_zeros(self.b))
        used, U = 0, self.units
        for batch in batches:
            pairs = [(data.x(i), data.y(i)) for i in batch]
            keeps = None
            if keep is not None:
                keeps = [keep[(used + s) * U:(used + s + 1) * U] for s in range(len(batch))]
            used += len(batch)
            nb, nw = self.gradient_sums(pairs, keeps, scale)
            self.update(nw, nb, len(batch), lr, n, l2, l1, momentum)

    def train_order(self, data, order, batch_size, lr, n=None, l2=0.0, l1=0.0, momentum=0.0,
                    dropout=None):
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        self.train_batches(data, batches, lr, n, l2, l1, momentum, dropout)

    def update(self, nw, nb, m, lr, n, l2, l1, mu):
        scale, keep = lr / m, 1.0 - lr * l2 / n
        decay, shrink = lr * l2 / n, lr * l1 / n
        for l in range(len(self.w)):
            b = self.b[l]
            for j in range(len(b)):
                if mu:
                    vb = self.vel[1][l]
                    vb[j] = mu * vb[j] - scale * nb[l][j]
                    b[j] = b[j] + vb[j]
                else:
                    b[j] = b[j] - scale * nb[l][j]
            vrows = leaves(self.vel[0][l]) if mu else leaves(nw[l])
            for row, grad, v in zip(leaves(self.w[l]), leaves(nw[l]), vrows):
                for k in range(len(row)):
                    if mu:
                        v[k] = (mu * v[k] - decay * row[k] - shrink * ref.sgn(row[k])
                                - scale * grad[k])
                        row[k] = row[k] + v[k]
                    elif l2 or l1:
                        row[k] = keep * row[k] - shrink * ref.sgn(row[k]) - scale * grad[k]
                    else:
                        row[k] = row[k] - scale * grad[k]

    def outputs(self, data):
        return [self.forward(data.x(i))[1][-1] for i in range(data.n)]

    def total_cost(self, data, l2=0.0, l1=0.0):
        total = 0.0
        for i in range(data.n):
            zs, acts, _ = self.forward(data.x(i))
            total += self.cost.fn(acts[-1], data.y(i), zs[-1])
        squares, sizes = 0.0, 0.0
        for w in self.w:
            for row in (leaves(w) if w else []):
                for v in row:
                    squares += v * v
                    sizes += abs(v)
        n = data.n
        return total / n + 0.5 * (l2 / n) * squares + (l1 / n) * sizes


def _copy(v):
    return [_copy(x) for x in v] if isinstance(v, list) else float(v)


# --- data and parameters ---------------------------------------------------------------------

def random_net_params(sizes, rnd, scale=0.5):
    """Random weights (nested as checks.param_shapes) and biases: N(0, scale²)/√fan-in."""
    layers = layers_of(check_sizes(sizes))
    weights, biases = [], []
    for prev, ly in zip(layers, layers[1:]):
        if ly.kind == "pool":
            weights.append([])
            biases.append([])
            continue
        fan = math.prod(prev.shape) if ly.kind == "full" else (
            (prev.shape[0] if len(prev.shape) == 3 else 1) * ly.k * ly.k)
        sd = scale * 2.0 / math.sqrt(fan)
        if ly.kind == "full":
            weights.append([[rnd.gauss(0.0, sd) for _ in range(math.prod(prev.shape))]
                            for _ in range(ly.n)])
        else:
            maps = prev.shape[0] if len(prev.shape) == 3 else 1
            weights.append([[[[rnd.gauss(0.0, sd) for _ in range(ly.k)] for _ in range(ly.k)]
                             for _ in range(maps)] for _ in range(ly.n)])
        biases.append([rnd.gauss(0.1, 0.3) for _ in range(ly.n)])
    return weights, biases


def pixel_images(rnd, n, n_in, n_out, zeros=0.6, levels=(0, 64, 128, 255)):
    """Pixel data with many zeros and few distinct values (ties in every pool window)."""
    pixels = bytes(0 if rnd.random() < zeros else rnd.choice(levels[1:]) if rnd.random() < 0.5
                   else rnd.randint(1, 255) for _ in range(n * n_in))
    labels = bytes(rnd.randrange(n_out) for _ in range(n))
    del levels
    return Dataset(n_in, n_out, pixels=pixels, divisor=255.0, labels=labels, name="pixels")


def float_images(rnd, n, n_in, n_out, zeros=0.3):
    xs = array("d", (0.0 if rnd.random() < zeros else rnd.gauss(0.0, 1.0)
                     for _ in range(n * n_in)))
    ys = array("d", (rnd.uniform(0.0, 1.0) for _ in range(n * n_out)))
    return Dataset(n_in, n_out, xs=xs, ys=ys, name="floats")


def both(sizes, rnd, cost="cross-entropy", activation="sigmoid", threads=1, scale=0.5):
    w, b = random_net_params(sizes, rnd, scale)
    return (SpecNet(sizes, w, b, cost, activation),
            cengine.CNetEngine(sizes, w, b, threads, cost, activation))


def keep_bytes(rnd, count, units, p):
    return bytes(rnd.random() >= p for _ in range(count * units))


def train_and_compare(spec, c, data, rnd, epochs=3, batch_size=10, lr=0.5, l2=0.0, l1=0.0,
                      momentum=0.0, p=None, batches=False, what=""):
    for epoch in range(epochs):
        order = list(range(data.n))
        rnd.shuffle(order)
        drop = None
        if p is not None:
            drop = (1.0 / (1.0 - p), keep_bytes(rnd, len(order), spec.units, p))
        if batches:
            cut = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
            spec.train_batches(data, cut, lr, None, l2, l1, momentum, drop)
            c.train_batches(data, cut, lr, None, l2, l1, momentum, dropout=drop)
        else:
            spec.train_order(data, order, batch_size, lr, None, l2, l1, momentum, drop)
            c.train_order(data, array("q", order), batch_size, lr, None, l2, l1, momentum,
                          dropout=drop)
    w, b = c.get_params()
    assert_same("%s weights" % what, w, spec.w)
    assert_same("%s biases" % what, b, spec.b)
    if momentum:
        vw, vb = c.get_velocities()
        assert_same("%s velocities" % what, [vw, vb], list(spec.vel))
