"""The textbook, chapter 6: convolution and max-pooling, in plain Python (lists only).

A sibling of :mod:`purenet.reference`, in its style: one short function per equation,
every sum an explicit loop in a fixed order from 0.0, so that a C engine can do the
same IEEE operations in the same order and get the same bits.

Notation:

* A layer's activations are maps ``a[c][y][x]``: C maps of H rows by W columns (an
  image is one map, C = 1).  ``(C, H, W)`` is their shape.
* A conv layer has F filters, each K×K over all C input maps: weights ``w[f][c][i][j]``
  ([F][C][K][K]) and biases ``b[f]``.  Stride 1, no padding, so its F output maps are
  (H − K + 1)×(W − K + 1).  It is a cross-correlation, as PyTorch's ``Conv2d``.
* A pool layer takes the maximum of each P×P window, stride P (H and W multiples of P).
  It has no weights.
* In a network: conv → the neuron σ, map by map → pool → ... → flatten → fully connected.

Forward:

* z[f][y][x] = (Σ_c Σ_i Σ_j w[f][c][i][j]·a[c][y+i][x+j]) + b[f]   :func:`conv_sums`
* a[f][y][x] = σ(z[f][y][x])                                      :func:`map_activations`
* m[c][Y][X] = max over the window a[c][PY+u][PX+v], 0 ≤ u, v < P  :func:`max_pool`
* the maps as one vector, [map][row][column] order                 :func:`flatten`

Backward (δ = ∂C/∂z, as in the book):

* into a pool layer: δ goes to its window's chosen unit, 0 to the others  :func:`pool_backward`
* through a conv layer, before ⊙σ′:
  s[c][y][x] = Σ_f Σ_i Σ_j w[f][c][i][j]·δ[f][y−i][x−j]  (the (f, i, j) that reach (y, x):
  the full correlation of δ with the flipped filters)      :func:`conv_backward_error`
* then δ_prev = s ⊙ σ′(z_prev)                             :func:`map_error`
* ∂C/∂w[f][c][i][j] = Σ_y Σ_x δ[f][y][x]·a[c][y+i][x+j]     :func:`conv_weight_gradient`
* ∂C/∂b[f] = Σ_y Σ_x δ[f][y][x]                             :func:`conv_bias_gradient`

The order of every sum (a C engine must follow it; none does yet):

* Each sum starts from 0.0 and adds its terms in the order its docstring gives: the
  indices outermost first, each ascending.  A bias is added last.
* A term with a factor that is data (an input a, an error δ) exactly 0.0 is skipped.
  With finite numbers this changes no bit: the term is ±0, and a sum started from +0.0
  is never −0.0, so adding ±0 leaves it as it is.  With an inf or nan weight it does
  matter (inf·0 is nan), so a C engine must skip the same terms.
* Max-pooling: the first maximum of a window in row-major order wins (a later equal value
  does not replace it; 0.0 and −0.0 are equal), and only it receives δ.  A nan is taken
  as larger than everything, so a diverged network shows it as PyTorch's max_pool2d
  does; the window's first nan wins (PyTorch's chooses its last).

A size that does not fit (a filter larger than its input, a pool that does not divide
it) raises :class:`purenet.errors.InvalidArgument`, one line naming the layer and the
shapes.
"""

import math

from .checks import conv_output_shape, pool_output_shape
from .errors import InvalidArgument


# --- shapes -------------------------------------------------------------------------

def shape(a):
    """(C, H, W) of maps a[c][y][x]."""
    return len(a), len(a[0]), len(a[0][0])


def zero_maps(c, h, w):
    """C maps of H×W zeros."""
    return [[[0.0] * w for _ in range(h)] for _ in range(c)]


def check_conv(w, b, a_shape, layer=None):
    """The output shape of filters w (with biases b) over maps of shape a_shape; refuses
    filters that do not fit, are not [F][C][K][K], or biases that are not [F]."""
    f, c, k = len(w), len(w[0]), len(w[0][0])
    layer = layer or "conv%dx%d" % (f, k)
    square = all(len(wf) == c and all(len(wc) == k and all(len(row) == k for row in wc)
                                      for wc in wf) for wf in w)
    if not square or len(b) != f:
        raise InvalidArgument("layer %s: weights must be [F][C][K][K] (K×K filters, each over "
                              "C maps) and biases [F], F = %d, C = %d, K = %d; got %d biases"
                              % (layer, f, c, k, len(b)))
    return conv_output_shape(a_shape, f, k, c, layer)


# --- forward ------------------------------------------------------------------------

def conv_sums(w, b, a, layer=None):
    """z[f][y][x] = (Σ_c Σ_i Σ_j w[f][c][i][j]·a[c][y+i][x+j]) + b[f].

    The weighted sums of a conv layer: each filter f slid over the input maps a, stride 1,
    no padding (cross-correlation, as PyTorch's Conv2d).  Each sum starts from 0.0 and
    runs c, then i, then j ascending, skipping a term whose input a[c][y+i][x+j] is
    exactly 0 (it adds exactly 0); then + b[f]."""
    fs, h, wd = check_conv(w, b, shape(a), layer)
    ch, k = len(a), len(w[0][0])
    z = zero_maps(fs, h, wd)
    for f in range(fs):
        for y in range(h):
            for x in range(wd):
                s = 0.0
                for c in range(ch):
                    for i in range(k):
                        row, wrow = a[c][y + i], w[f][c][i]
                        for j in range(k):
                            if row[x + j] != 0.0:
                                s += wrow[j] * row[x + j]     # w[f][c][i][j]·a[c][y+i][x+j]
                z[f][y][x] = s + b[f]
    return z


def map_activations(z, act):
    """a[f][y][x] = σ(z[f][y][x]): the neuron act (reference.SIGMOID, RELU, ...) applied
    to every unit of every map."""
    return [[[act.fn(v) for v in row] for row in m] for m in z]


def max_pool(a, p, layer=None):
    """m[c][Y][X] = max of a[c][PY+u][PX+v] over 0 ≤ u, v < P: P×P max-pooling, stride P.

    Returns (m, choices): choices[c][Y][X] = (y, x), the unit of a[c] that gave the
    maximum, the one that receives δ.  The window is read row-major (u, then v
    ascending) and only a strictly larger value replaces the best so far, so the first
    maximum wins a tie.  A nan counts as the largest: the window's first nan wins."""
    ch, h, w = pool_output_shape(shape(a), p, layer)
    m = zero_maps(ch, h, w)
    choices = [[[None] * w for _ in range(h)] for _ in range(ch)]
    for c in range(ch):
        for Y in range(h):
            for X in range(w):
                best, at = a[c][p * Y][p * X], (p * Y, p * X)
                for u in range(p):
                    for v in range(p):
                        value = a[c][p * Y + u][p * X + v]
                        if value > best or (math.isnan(value) and not math.isnan(best)):
                            best, at = value, (p * Y + u, p * X + v)
                m[c][Y][X], choices[c][Y][X] = best, at
    return m, choices


def flatten(a):
    """The maps a[c][y][x] as one vector, in [map][row][column] order (PyTorch's
    flatten): element (c·H + y)·W + x is a[c][y][x]."""
    return [v for m in a for row in m for v in row]


def unflatten(v, a_shape):
    """The inverse of flatten: the vector v as maps of shape a_shape = (C, H, W)."""
    ch, h, w = a_shape
    if len(v) != ch * h * w:
        raise InvalidArgument("cannot unflatten %d values into %d×%d×%d maps "
                              "(maps×rows×columns)" % (len(v), ch, h, w))
    return [[v[(c * h + y) * w:(c * h + y + 1) * w] for y in range(h)] for c in range(ch)]


# --- backward -----------------------------------------------------------------------

def pool_backward(delta_pooled, choices, a_shape):
    """δ[c][y][x] = δ_pooled[c][Y][X] if (y, x) is choices[c][Y][X], else 0: the error
    into a pool layer's input maps (of shape a_shape) goes to each window's chosen
    unit only.  A pool layer has no σ: the error of its output is the error of the
    chosen input."""
    delta = zero_maps(*a_shape)
    for c in range(len(delta_pooled)):
        for Y in range(len(delta_pooled[c])):
            for X in range(len(delta_pooled[c][Y])):
                y, x = choices[c][Y][X]
                delta[c][y][x] = delta_pooled[c][Y][X]
    return delta


def conv_backward_error(w, delta, a_shape):
    """s[c][y][x] = Σ_f Σ_i Σ_j w[f][c][i][j]·δ[f][y−i][x−j], over the (f, i, j) with
    0 ≤ y−i < H′ and 0 ≤ x−j < W′: the error δ of a conv layer (F maps H′×W′) moved
    back to its input maps (shape a_shape = (C, H, W)), before ⊙σ′ (see map_error).

    It is the full correlation of δ with the flipped filters: each input unit gathers
    the errors of every output unit it fed, through the weight that joined them.  Each
    sum starts from 0.0 and runs f, then i, then j ascending, skipping a term whose
    δ is exactly 0 (ReLU zeros and pooling's unchosen units give many)."""
    ch, h, wd = a_shape
    fs, k = len(w), len(w[0][0])
    oh, ow = len(delta[0]), len(delta[0][0])
    if (len(delta), oh, ow) != conv_output_shape(a_shape, fs, k, len(w[0])):
        raise InvalidArgument("layer conv%dx%d: an error of %d×%d×%d maps cannot come from "
                              "input maps of %d×%d×%d" % (fs, k, len(delta), oh, ow, ch, h, wd))
    s = zero_maps(ch, h, wd)
    for c in range(ch):
        for y in range(h):
            for x in range(wd):
                t = 0.0
                for f in range(fs):
                    for i in range(max(0, y - oh + 1), min(k, y + 1)):      # 0 ≤ y−i < H′
                        for j in range(max(0, x - ow + 1), min(k, x + 1)):  # 0 ≤ x−j < W′
                            d = delta[f][y - i][x - j]
                            if d != 0.0:
                                t += w[f][c][i][j] * d       # w[f][c][i][j]·δ[f][y−i][x−j]
                s[c][y][x] = t
    return s


def map_error(s, z, act):
    """δ[c][y][x] = s[c][y][x]·σ′(z[c][y][x]): the error moved back, times the slope of
    the neuron, unit by unit (δ = s ⊙ σ′(z), as in reference.backward_error)."""
    return [[[s[c][y][x] * act.prime(z[c][y][x]) for x in range(len(z[c][y]))]
             for y in range(len(z[c]))] for c in range(len(z))]


def conv_weight_gradient(delta, a, k):
    """∂C/∂w[f][c][i][j] = Σ_y Σ_x δ[f][y][x]·a[c][y+i][x+j]: each weight's error summed
    over every place the filter was applied, for K×K filters over the input maps a.

    Each sum starts from 0.0 and runs over the output units in row-major order (y, then
    x ascending), skipping a term whose δ or input a is exactly 0 (it adds exactly 0)."""
    ch = len(a)
    fs, oh, ow = shape(delta)
    nabla_w = [[[[0.0] * k for _ in range(k)] for _ in range(ch)] for _ in range(fs)]
    for f in range(fs):
        for c in range(ch):
            for i in range(k):
                for j in range(k):
                    s = 0.0
                    for y in range(oh):
                        drow, arow = delta[f][y], a[c][y + i]
                        for x in range(ow):
                            if drow[x] != 0.0 and arow[x + j] != 0.0:
                                s += drow[x] * arow[x + j]      # δ[f][y][x]·a[c][y+i][x+j]
                    nabla_w[f][c][i][j] = s
    return nabla_w


def conv_bias_gradient(delta):
    """∂C/∂b[f] = Σ_y Σ_x δ[f][y][x]: a filter's bias feeds every unit of its map.
    Each sum starts from 0.0, in row-major order (y, then x ascending)."""
    nabla_b = []
    for m in delta:
        s = 0.0
        for row in m:
            for d in row:
                s += d
        nabla_b.append(s)
    return nabla_b
