"""The checks every layer shares: numbers, sizes, parameters and fit's settings.

Each raises :class:`purenet.errors.InvalidArgument` (a ValueError) with one line that
names the value and what it should be; messages show a value with :func:`short`.
"""

import itertools
import math
import numbers
import os
import re
from collections import namedtuple

from .errors import InvalidArgument

# The C engine's limits (PN_MAX_LAYERS, PN_MAX_SIZE, PN_MAX_THREADS in csrc/purenet.h; a test
# checks they agree).  Every network keeps to them, so that a model runs in both engines.
MAX_LAYERS, MAX_NEURONS, MAX_THREADS = 1024, 16777216, 2
# Building a network holds each parameter as a Python float in nested lists (a 24-byte
# float and an 8-byte list slot) and as the engine's 8-byte double: at least 40 bytes.
PARAM_BYTES = 40
UNKNOWN_MEMORY = 16 * 10 ** 9     # assumed where the system does not tell its memory size
BACKENDS = ("python", "c")
INITS = ("large", "scaled")       # N(0, 1) weights, or N(0, 1)/sqrt(n_in) (Network's docstring)


def check_choice(what, value, choices):
    if value not in choices:
        raise InvalidArgument("unknown %s %r: use one of %s" % (what, value, ", ".join(choices)))


def check_penalty(what, value, below_one=False):
    """A finite float >= 0 (and < 1 for the momentum)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument("%s must be a number, got %r" % (what, value))
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0 and (value < 1.0 or not below_one)):
        raise InvalidArgument("%s must be a finite number %s, got %r"
                              % (what, "in [0, 1)" if below_one else ">= 0", value))
    return value


def short(value, limit=60):
    """repr(value), cut to about limit characters: an error message stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_whole(v):
    """An integer (Python's or another Integral such as NumPy's), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_number(v):
    """A finite real number: not a bool, a numeric string, NaN, ±inf or an int beyond float."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:              # an int (or Fraction) too large for a float
        return False


def memory_size():
    """(bytes, description) of this machine's memory, or the UNKNOWN_MEMORY guess."""
    try:
        size = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):      # no sysconf, or no such name here
        size = -1
    if size > 0:
        return size, "this machine's %s" % gigabytes(size)
    return (UNKNOWN_MEMORY,
            "the %s assumed where the memory size is unknown" % gigabytes(UNKNOWN_MEMORY))


def gigabytes(n):
    return "%.1f GB" % (n / 1e9) if n < 1e10 else "{:,.0f} GB".format(n / 1e9)


def check_fit_settings(batch_size, lr, l2, l1, momentum, early_stop=None, lr_schedule=None,
                       dropout=0.0):
    """fit's settings, checked, as a dict (the numbers a checkpoint records)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument("batch size must be a whole number >= 1, got %r" % (batch_size,))
    if not (is_number(lr) and lr > 0):
        raise InvalidArgument("learning rate must be a finite number > 0, got %s" % short(lr))
    for what, k in (("early_stop", early_stop), ("lr_schedule", lr_schedule)):
        if k is not None and not (is_whole(k) and k >= 1):
            raise InvalidArgument("%s must be None or a whole number of epochs >= 1, got %s"
                                  % (what, short(k)))
    return {"batch_size": batch_size, "lr": float(lr), "l2": check_penalty("l2", l2),
            "l1": check_penalty("l1", l1),
            "momentum": check_penalty("momentum", momentum, below_one=True),
            "early_stop": early_stop, "lr_schedule": lr_schedule,
            "dropout": check_penalty("dropout", dropout, below_one=True)}


# --- sizes: neurons, and the layers of chapter 6 -----------------------------------------

# One entry of sizes, parsed: kind "full" (n neurons; the input layer is "full" too),
# "conv" (n filters of k×k) or "pool" (k×k windows, n = 0); shape: its output, (n,) for a
# full layer, (maps, rows, columns) for conv and pool; weights, biases: how many it has.
Layer = namedtuple("Layer", "kind n k shape weights biases")
LAYER_NAME = re.compile(r"(conv)([0-9]+)x([0-9]+)|(pool)([0-9]+)")
SIZES_HELP = ("a conv layer is \"conv{F}x{K}\", a pool layer \"pool{P}\", "
              "e.g. 784,conv20x5,pool2,100,10")


def conv_output_shape(a_shape, f, k, c=None, layer=None):
    """(F, H − K + 1, W − K + 1): the shape of a conv layer's output for input maps of
    shape a_shape = (C, H, W); its filters must have C maps (c, if given) and fit."""
    ch, h, w = a_shape
    layer = layer or "conv%dx%d" % (f, k)
    if f < 1 or k < 1:
        raise InvalidArgument("layer %s: needs at least one filter of at least 1×1, "
                              "not %d filters of %d×%d" % (layer, f, k, k))
    if c is not None and c != ch:
        raise InvalidArgument("layer %s: its filters have %d maps but its input has %d "
                              "(%d×%d×%d, maps×rows×columns)" % (layer, c, ch, ch, h, w))
    if k > h or k > w:
        raise InvalidArgument("layer %s: its %d×%d filters are larger than its input "
                              "maps, %d×%d×%d (maps×rows×columns)" % (layer, k, k, ch, h, w))
    return f, h - k + 1, w - k + 1


def pool_output_shape(a_shape, p, layer=None):
    """(C, H/P, W/P): the shape of a P×P pool layer's output for input maps of shape
    a_shape = (C, H, W); P must divide H and W."""
    ch, h, w = a_shape
    layer = layer or "pool%d" % p
    if p < 1:
        raise InvalidArgument("layer %s: a pool is at least 1×1, not %d×%d" % (layer, p, p))
    if h % p or w % p:
        raise InvalidArgument("layer %s: %d×%d windows do not divide its input maps, "
                              "%d×%d×%d (maps×rows×columns)" % (layer, p, p, ch, h, w))
    return ch, h // p, w // p


def parse_size(size):
    """An entry of sizes as (kind, n, k), or None: a whole number n >= 1 is ("full", n, 0),
    "conv{F}x{K}" is ("conv", F, K), "pool{P}" is ("pool", 0, P)."""
    if is_whole(size):
        return ("full", int(size), 0) if size >= 1 else None
    m = LAYER_NAME.fullmatch(size.strip()) if isinstance(size, str) else None
    if m is None:
        return None
    if m.group(1):
        return "conv", int(m.group(2)), int(m.group(3))
    return "pool", 0, int(m.group(5))


def layers_of(sizes):
    """The layers of a checked sizes list (see check_sizes), with their shapes: a list of
    Layer, the input first.  A conv or pool layer reads the input as a √n×√n image, or the
    maps of the conv or pool layer before it; a fully connected layer reads everything
    before it flattened."""
    layers = [Layer("full", sizes[0], 0, (sizes[0],), 0, 0)]
    for size in sizes[1:]:
        kind, n, k = parse_size(size)
        prev = layers[-1]
        if kind == "full":
            n_in = math.prod(prev.shape)
            layers.append(Layer(kind, n, 0, (n,), n * n_in, n))
            continue
        maps = prev.shape
        if len(maps) == 1:
            if len(layers) > 1:
                raise InvalidArgument("layer %s: a conv or pool layer must follow the input or "
                                      "another conv or pool layer, not a fully connected one"
                                      % size)
            side = math.isqrt(maps[0])
            if side * side != maps[0]:
                raise InvalidArgument("layer %s: its input of %d values is not a square image "
                                      "(a conv or pool layer reads √n×√n inputs)" % (size, maps[0]))
            maps = (1, side, side)
        if kind == "conv":
            shape = conv_output_shape(maps, n, k, layer=size)
            layers.append(Layer(kind, n, k, shape, n * maps[0] * k * k, n))
        else:
            layers.append(Layer(kind, 0, k, pool_output_shape(maps, k, layer=size), 0, 0))
    return layers


def is_layered(sizes):
    """Whether sizes has a conv or pool layer (a network of chapter 6)."""
    return any(isinstance(s, str) for s in sizes)


def check_sizes(sizes):
    """sizes as a list, or ValueError: two to MAX_LAYERS layers, each a whole number of 1 to
    MAX_NEURONS neurons (not a float or bool) or a conv/pool layer ("conv20x5", "pool2")
    whose shapes fit (see layers_of), the first and last whole numbers; few enough
    parameters to build in this machine's memory; checked before anything is allocated."""
    try:
        head = list(itertools.islice(sizes, MAX_LAYERS + 1))
    except TypeError:                  # not iterable
        head = [None]
    parsed = [parse_size(s) for s in head]
    if None in parsed:
        raise InvalidArgument("sizes must be a list of positive integers (neurons) and conv or "
                              "pool layers, got %s; %s" % (short(sizes), SIZES_HELP))
    if len(parsed) < 2 or parsed[0][0] != "full" or parsed[-1][0] != "full":
        raise InvalidArgument("sizes needs at least two layers, the first and last of at least "
                              "one neuron, got %s" % short(sizes))
    sizes = [n if kind == "full" else "conv%dx%d" % (n, k) if kind == "conv" else "pool%d" % k
             for kind, n, k in parsed]
    if len(sizes) > MAX_LAYERS:
        raise InvalidArgument("sizes has more than {:,} layers (the C engine's limit)"
                              .format(MAX_LAYERS))
    layers = layers_of(sizes)
    count = sum(layer.weights + layer.biases for layer in layers)
    memory, which = memory_size()
    if count * PARAM_BYTES > memory:
        raise InvalidArgument(
            "a {} network has {:,} weights and biases: about {} as Python floats, more than {} "
            "of memory".format("-".join(map(str, sizes)), count, gigabytes(count * PARAM_BYTES),
                               which))
    widest = max(max(n, k, math.prod(layer.shape)) for (_, n, k), layer in zip(parsed, layers))
    if widest > MAX_NEURONS:
        raise InvalidArgument("a layer has at most {:,} neurons (the C engine's limit), got {:,}"
                              .format(MAX_NEURONS, widest))
    return sizes


def all_numbers(values):
    """all(map(is_number, values)), faster: the types are checked once each."""
    types = set(map(type, values))
    try:
        return (all(issubclass(t, numbers.Real) and not issubclass(t, bool) for t in types)
                and all(map(math.isfinite, values)))
    except OverflowError:              # an int too large for a float
        return False


def check_finite(values, what):
    """Raise ValueError naming the first of values that is not a finite number."""
    if not all_numbers(values):
        k, v = next((k, v) for k, v in enumerate(values) if not is_number(v))
        raise InvalidArgument("%s[%d] is %s, not a finite number" % (what, k, short(v)))


def param_shapes(sizes):
    """The nested shape of each layer's weights and biases, as tuples of lengths: (rows,
    columns) and (rows,) for a fully connected layer, (F, C, K, K) and (F,) for a conv
    layer, (0,) and (0,) for a pool layer (empty lists)."""
    layers = layers_of(sizes)
    shapes = []
    for prev, layer in zip(layers, layers[1:]):
        if layer.kind == "full":
            shapes.append(((layer.n, math.prod(prev.shape)), (layer.n,)))
        elif layer.kind == "conv":
            maps = prev.shape[0] if len(prev.shape) == 3 else 1
            shapes.append(((layer.n, maps, layer.k, layer.k), (layer.n,)))
        else:
            shapes.append(((0,), (0,)))
    return shapes


def rows_of(nested, depth):
    """The innermost lists of a nested list depth levels deep (depth 1: nested itself)."""
    rows = [nested]
    for _ in range(depth - 1):
        rows = [r for outer in rows for r in outer]
    return rows


def has_shape(nested, shape):
    """Whether nested is lists (of lists ...) with the lengths shape gives at each level."""
    level = [nested]
    for length in shape:
        if not all(isinstance(r, list) and len(r) == length for r in level):
            return False
        level = [v for r in level for v in r]
    return True


def check_params(sizes, weights, biases):
    """Raise ValueError unless weights/biases have the shapes sizes asks for (see
    param_shapes) and hold only finite numbers (not NaN, ±inf, bools or numeric strings)."""
    shapes = param_shapes(sizes)
    layers = len(shapes)
    if len(weights) != layers or len(biases) != layers:
        raise InvalidArgument("expected %d weight matrices and %d bias vectors for sizes %s, "
                              "got %d and %d"
                              % (layers, layers, sizes, len(weights), len(biases)))
    for l, (w_shape, b_shape) in enumerate(shapes):
        if not has_shape(weights[l], w_shape):
            what = ("%d rows of %d values" % w_shape if len(w_shape) == 2
                    else "[F][C][K][K], %d×%d×%d×%d values" % w_shape if len(w_shape) == 4
                    else "[] (a pool layer has no weights)")
            raise InvalidArgument("weights[%d] must be %s (layer %s -> %s)"
                                  % (l, what, sizes[l], sizes[l + 1]))
        if len(biases[l]) != b_shape[0]:
            raise InvalidArgument("biases[%d] must have %d values, got %d"
                                  % (l, b_shape[0], len(biases[l])))
    for l, (w_shape, _) in enumerate(shapes):
        where = itertools.product(*map(range, w_shape[:-1]))
        for at, row in zip(where, rows_of(weights[l], len(w_shape))):
            check_finite(row, "weights[%d]%s" % (l, "".join("[%d]" % i for i in at)))
        check_finite(biases[l], "biases[%d]" % l)
