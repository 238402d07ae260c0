"""The checks every layer shares: numbers, sizes, parameters and fit's settings.

Each raises :class:`purenet.errors.InvalidArgument` (a ValueError) with one line that
names the value and what it should be; messages show a value with :func:`short`.
"""

import itertools
import math
import numbers
import os

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


def check_fit_settings(batch_size, lr, l2, l1, momentum, early_stop=None, lr_schedule=None):
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
            "early_stop": early_stop, "lr_schedule": lr_schedule}


def check_sizes(sizes):
    """sizes as a list of ints, or ValueError: two to MAX_LAYERS layers of 1 to MAX_NEURONS
    neurons (whole numbers, not floats or bools), few enough parameters to build in this
    machine's memory; checked before anything is allocated."""
    try:
        head = list(itertools.islice(sizes, MAX_LAYERS + 1))
    except TypeError:                  # not iterable
        head = [None]
    if not all(map(is_whole, head)):
        raise InvalidArgument("sizes must be a list of positive integers, got %s" % short(sizes))
    sizes = [int(s) for s in head]
    if len(sizes) < 2 or min(sizes) < 1:
        raise InvalidArgument("sizes needs at least two layers of at least one neuron, got %s"
                              % short(sizes))
    if len(sizes) > MAX_LAYERS:
        raise InvalidArgument("sizes has more than {:,} layers (the C engine's limit)"
                              .format(MAX_LAYERS))
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    memory, which = memory_size()
    if count * PARAM_BYTES > memory:
        raise InvalidArgument(
            "a {} network has {:,} weights and biases: about {} as Python floats, more than {} "
            "of memory".format("-".join(map(str, sizes)), count, gigabytes(count * PARAM_BYTES),
                               which))
    if max(sizes) > MAX_NEURONS:
        raise InvalidArgument("a layer has at most {:,} neurons (the C engine's limit), got {:,}"
                              .format(MAX_NEURONS, max(sizes)))
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


def check_params(sizes, weights, biases):
    """Raise ValueError unless weights/biases have the shapes sizes asks for and hold
    only finite numbers (not NaN, ±inf, bools or numeric strings)."""
    layers = len(sizes) - 1
    if len(weights) != layers or len(biases) != layers:
        raise InvalidArgument("expected %d weight matrices and %d bias vectors for sizes %s, "
                              "got %d and %d"
                              % (layers, layers, sizes, len(weights), len(biases)))
    for l in range(layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        if len(weights[l]) != n_out or any(len(row) != n_in for row in weights[l]):
            raise InvalidArgument("weights[%d] must be %d rows of %d values (layer %d -> %d)"
                                  % (l, n_out, n_in, l, l + 1))
        if len(biases[l]) != n_out:
            raise InvalidArgument("biases[%d] must have %d values, got %d"
                                  % (l, n_out, len(biases[l])))
    for l in range(layers):
        for j, row in enumerate(weights[l]):
            check_finite(row, "weights[%d][%d]" % (l, j))
        check_finite(biases[l], "biases[%d]" % l)
