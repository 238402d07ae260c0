"""A compact dataset: the samples an engine trains on, without a float per pixel.

MNIST as Python floats would take about 1.5 GB; as bytes it is 47 MB.  So a
dataset keeps its inputs as one of

* ``pixels``: ``bytes`` of ``n * n_in`` unsigned bytes, read as x = pixel / divisor
  (divisor 255.0 for MNIST, 16.0 for scikit-learn's 8x8 digits), or
* ``xs``: an ``array('d')`` of ``n * n_in`` doubles (any real-valued input),

and its targets as one of

* ``labels``: ``bytes`` of ``n`` class labels (the target is the one-hot vector), or
* ``ys``: an ``array('d')`` of ``n * n_out`` target values (any target vector).

Floats are made only when a sample is used (:meth:`x`, :meth:`y`).  Every engine
reads the same numbers: pixel p becomes ``p / divisor`` (one IEEE division), which
the C engine reproduces bit for bit with a 256-entry table of the same quotients.

:func:`expand` adds the four one-pixel shifts of every image (the book's
``expand_mnist.py``), still as bytes: 5 x 50,000 MNIST images are 196 MB.
"""

import math
import mmap
import numbers
import reprlib
from array import array

from .errors import DataError


class Dataset:
    """n samples of n_in inputs and n_out outputs, kept compact (see the module).

    ``name`` is used in messages ("training data: ..."); ``origin`` says where the
    samples came from (a folder, "scikit-learn's bundled digits"), or is None.
    Float inputs and targets must be finite: NaN or infinity is a DataError naming
    the first bad sample (pixels and labels are bytes, always finite).
    """

    def __init__(self, n_in, n_out, pixels=None, divisor=255.0, xs=None,
                 labels=None, ys=None, name="data", origin=None):
        self.n_in, self.n_out, self.name, self.origin = int(n_in), int(n_out), name, origin
        if (pixels is None) == (xs is None):
            raise DataError("%s: give exactly one of pixels or xs" % name)
        if (labels is None) == (ys is None):
            raise DataError("%s: give exactly one of labels or ys" % name)
        if pixels is not None:
            pixels = _bytes(pixels, name, "pixels")
            n = len(pixels) // self.n_in if self.n_in else 0
            if self.n_in <= 0 or len(pixels) != n * self.n_in:
                raise DataError("%s: %d pixel bytes is not a whole number of %d-pixel samples"
                                % (name, len(pixels), self.n_in))
            if not divisor > 0:
                raise DataError("%s: pixel divisor must be > 0" % name)
        else:
            xs = _doubles(xs, name, "inputs")
            n = len(xs) // self.n_in if self.n_in else 0
            if self.n_in <= 0 or len(xs) != n * self.n_in:
                raise DataError("%s: %d input values is not a whole number of %d-value samples"
                                % (name, len(xs), self.n_in))
            _check_finite(xs, self.n_in, name, "input")
        if labels is not None:
            labels = _bytes(labels, name, "labels")
            if len(labels) != n:
                raise DataError("%s: %d inputs but %d labels" % (name, n, len(labels)))
            if n and max(labels) >= self.n_out:
                raise DataError("%s: label %d does not fit %d output neurons"
                                % (name, max(labels), self.n_out))
        else:
            ys = _doubles(ys, name, "targets")
            if len(ys) != n * self.n_out:
                raise DataError("%s: %d inputs but %d target values (expected %d)"
                                % (name, n, len(ys), n * self.n_out))
            _check_finite(ys, self.n_out, name, "target")
        self.n = n
        self.pixels, self.divisor, self.xs = pixels, float(divisor), xs
        self.labels, self.ys = labels, ys
        # The 256 possible inputs of a pixel, divided once: table[p] == p / divisor.
        self.table = [p / self.divisor for p in range(256)] if pixels is not None else None

    def __len__(self):
        return self.n

    def __repr__(self):
        return "<Dataset %s: %d samples, %d inputs, %d outputs>" % (
            self.name, self.n, self.n_in, self.n_out)

    def x(self, i):
        """Input vector of sample i, as a list of floats."""
        d = self.n_in
        if self.pixels is not None:
            t = self.table
            return [t[p] for p in self.pixels[i * d:(i + 1) * d]]
        return self.xs[i * d:(i + 1) * d].tolist()

    def y(self, i):
        """Target vector of sample i (one-hot when the dataset has labels)."""
        if self.labels is not None:
            v = [0.0] * self.n_out
            v[self.labels[i]] = 1.0
            return v
        return self.ys[i * self.n_out:(i + 1) * self.n_out].tolist()

    def label(self, i):
        """Class of sample i: its label, or the index of the largest target value."""
        if self.labels is not None:
            return self.labels[i]
        return argmax(self.ys[i * self.n_out:(i + 1) * self.n_out])

    def head(self, count):
        """The first ``count`` samples (all of them if count is None or larger)."""
        if count is None or count >= self.n:
            return self
        return self.part(0, max(0, int(count)))

    def part(self, start, stop, name=None):
        """Samples start..stop-1, as a Dataset of their own.  Pixels and labels are
        shared with this one, not copied (they are immutable bytes): splitting off
        a validation set costs no memory."""
        d, o = self.n_in, self.n_out
        return Dataset(
            d, o,
            pixels=_shared(self.pixels, start * d, stop * d),
            divisor=self.divisor,
            xs=self.xs[start * d:stop * d] if self.xs is not None else None,
            labels=_shared(self.labels, start, stop),
            ys=self.ys[start * o:stop * o] if self.ys is not None else None,
            name=name or self.name, origin=self.origin)

    @classmethod
    def from_pairs(cls, pairs, n_out=None, name="pairs"):
        """Build from Nielsen-style ``(x, y)`` pairs.

        x is a sequence of numbers; y is a target vector or (for evaluation) a class
        label.  Labels need ``n_out`` (the number of output neurons).  A pair that is
        not two items, a string or a bool where a number belongs (float() would take
        "0.5" and True), NaN or infinity: a DataError naming the sample.
        """
        try:
            pairs = list(pairs)
        except TypeError:
            raise DataError("%s: expected a Dataset or a sequence of (x, y) pairs, got %s"
                            % (name, reprlib.repr(pairs))) from None
        if not pairs:
            raise DataError("%s: no samples" % name)
        xs, targets, n_in = array("d"), [], None
        for i, pair in enumerate(pairs):
            try:
                x, y = pair
            except (TypeError, ValueError):
                raise DataError("%s: sample %d is not an (x, y) pair: %s"
                                % (name, i, reprlib.repr(pair))) from None
            row = _numbers(x, "%s: the inputs of sample %d" % (name, i), "a sequence of numbers")
            if n_in is None:
                n_in = len(row)
            elif len(row) != n_in:
                raise DataError("%s: sample %d has %d inputs, sample 0 has %d"
                                % (name, i, len(row), n_in))
            xs.extend(row)
            targets.append(y)
        if _is_label(targets[0]):
            if n_out is None:
                raise DataError("%s: labels given as integers need n_out" % name)
            labels = []
            for i, y in enumerate(targets):
                if not _is_label(y) or not 0 <= y < n_out:
                    raise DataError("%s: the target of sample %d is %s, not a class label in "
                                    "0..%d%s" % (name, i, reprlib.repr(y), n_out - 1,
                                                 " (sample 0 has one)" if i else ""))
                labels.append(int(y))
            return cls(n_in, n_out, xs=xs, labels=bytes(labels), name=name)
        ys = array("d")
        for i, y in enumerate(targets):
            row = _numbers(y, "%s: the target of sample %d" % (name, i),
                           "a class label (int) or a sequence of numbers")
            if n_out is None:
                n_out = len(row)
            if len(row) != n_out:
                raise DataError("%s: target of sample %d has %d values, expected %d"
                                % (name, i, len(row), n_out))
            ys.extend(row)
        return cls(n_in, n_out, xs=xs, ys=ys, name=name)


def _is_label(y):
    return isinstance(y, numbers.Integral) and not isinstance(y, bool)


def _numbers(values, what, expected):
    """values, a sequence of real numbers, as an array('d'); else a DataError saying what.

    Strings, bytes and bools are refused although float() takes them: "0.5" or True
    among the inputs is a mistake upstream, not a number.  (NaN and infinity are
    refused by the Dataset, which names the sample.)
    """
    if isinstance(values, (str, bytes, bytearray)) or not hasattr(values, "__iter__"):
        raise DataError("%s must be %s, got %s" % (what, expected, reprlib.repr(values)))
    if type(values) in (list, tuple) and set(map(type, values)) <= {float, int}:
        try:
            return array("d", values)       # the common case, converted in C
        except OverflowError:
            pass                            # an int too large: the loop below says which
    row = array("d")
    for j, v in enumerate(values):
        if type(v) is not float and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise DataError("%s: value %d is %s, not a number" % (what, j, reprlib.repr(v)))
        try:
            row.append(v)
        except OverflowError:
            raise DataError("%s: value %d is too large for a float" % (what, j)) from None
    return row


def _doubles(values, name, what):
    """values as an array('d') (a copy), or a DataError naming the dataset."""
    try:
        return array("d", values)
    except (TypeError, ValueError, OverflowError) as e:
        raise DataError("%s: %s must be real numbers: %s" % (name, what, e)) from None


def _shared(data, start, stop):
    """data[start:stop] of immutable bytes without a copy (a memoryview), or None."""
    return None if data is None else memoryview(data)[start:stop]


def _bytes(values, name, what):
    """values as bytes (a memoryview of bytes is kept as it is: see _shared; so is the
    read-only view of the buffer that expand() filled: see _Filled), or a DataError
    naming the dataset."""
    if isinstance(values, memoryview) and values.format == "B" and values.ndim == 1 and (
            isinstance(values.obj, bytes)
            or (isinstance(values.obj, _Filled) and values.readonly)):
        return values
    try:
        return bytes(values)
    except (TypeError, ValueError) as e:
        raise DataError("%s: %s must be bytes, whole numbers in 0..255: %s"
                        % (name, what, e)) from None


def _check_finite(values, width, name, what):
    """A DataError naming the first sample with a NaN or infinite value (width per sample).

    One pass of math.isfinite in C; the search for the culprit runs only on failure.
    """
    if all(map(math.isfinite, values)):
        return
    k = next(k for k, v in enumerate(values) if not math.isfinite(v))
    raise DataError("%s: %s %d of sample %d is %r; %ss must be finite numbers"
                    % (name, what, k % width, k // width, values[k], what))


def argmax(values):
    """Index of the largest value; the first one on a tie (as numpy.argmax).  (max keeps
    the first of equal values and a NaN it starts from, and index finds that one.)"""
    return values.index(max(values))


def as_dataset(data, n_out, name="data"):
    """A Dataset as it is, or one built from a sequence of (x, y) pairs."""
    if isinstance(data, Dataset):
        return data
    return Dataset.from_pairs(data, n_out=n_out, name=name)


# ---------------------------------------------------------------------------
# Expanded training data: the book's expand_mnist.py

# The shifts expand() appends after the originals, in this order: (name, dy, dx), where
# pixel (y, x) of the shifted image is the original's (y + dy, x + dx), 0 where that is
# outside the image.  "up": every row moves up one, the bottom row becomes 0.
SHIFTS = (("up", 1, 0), ("down", -1, 0), ("left", 0, 1), ("right", 0, -1))
EXPANSION = 1 + len(SHIFTS)         # the originals, then one copy per shift


class _Filled(mmap.mmap):
    """The pixels expand() writes in place: anonymous memory, zero until written.  Its
    Dataset holds the only reference, through a read-only memoryview, so they are as
    immutable as bytes; a copy into bytes would hold expanded MNIST (235 MB) twice.  (A
    bytearray would do on CPython, but PyPy's touches every page twice over.)"""


def image_side(n_in):
    """r when n_in = r·r (the image is r×r), else None."""
    r = math.isqrt(n_in)
    return r if r * r == n_in else None


def expand(data):
    """``data`` with every image added again shifted by one pixel up, down, left and right
    (the book's ``expand_mnist.py``): a new Dataset of 5·n samples.

    Order: sample ``k·n + i`` is sample i shifted by SHIFTS[k - 1] (k = 0: sample i
    itself), so the first n samples are the originals, then n shifted up, n down, n left,
    n right.  A shifted-in row or column is 0 (0.0 for float inputs).  Labels and targets
    follow their images.  Images must be square (n_in = r·r, read row by row, as conv
    layers read them): anything else is a DataError.  Pixels stay bytes (MNIST's 50,000
    training images: 39 MB in, 196 MB out, no other copy); float inputs become an
    array('d') five times as long.
    """
    side = image_side(data.n_in)
    if side is None:
        raise DataError("%s: expanding shifts square images, and %d inputs per sample is not "
                        "r x r pixels" % (data.name, data.n_in))
    total = data.n * data.n_in
    if data.pixels is not None:
        out = _Filled(-1, EXPANSION * total) if total else bytearray()   # mmap: not empty
        zeros = bytes
        src, dst = memoryview(data.pixels), memoryview(out)
    else:
        out = array("d", [0.0]) * (EXPANSION * total)
        zeros = _zero_doubles
        src, dst = memoryview(data.xs), memoryview(out)
    dst[0:total] = src
    for k, (_, dy, dx) in enumerate(SHIFTS, 1):
        _shift(dst[k * total:(k + 1) * total], src, data.n, side, dy, dx, zeros)
    del dst, src
    return Dataset(
        data.n_in, data.n_out,
        pixels=(memoryview(out).toreadonly() if total else b"") if data.pixels is not None
        else None,
        divisor=data.divisor, xs=out if data.xs is not None else None,
        labels=bytes(data.labels) * EXPANSION if data.labels is not None else None,
        ys=data.ys * EXPANSION if data.ys is not None else None,
        name=data.name, origin=data.origin)


def _zero_doubles(count):
    return memoryview(bytes(8 * count)).cast("d")


def _shift(dst, src, count, side, dy, dx, zeros):
    """dst (zeros on entry, count images of side×side) gets src's images shifted:
    dst[y][x] = src[y + dy][x + dx], 0 where that is outside the image.

    One flat copy moves every image at once; what it brought in from the next row or
    the next image (the rows and columns a shift empties) is then set to 0, one strided
    slice per emptied pixel position."""
    n, offset, total = side * side, dy * side + dx, count * side * side
    if offset >= 0:
        dst[0:total - offset] = src[offset:total]
    else:
        dst[-offset:total] = src[0:total + offset]
    for y in _emptied(side, dy):
        for x in range(side):
            dst[y * side + x::n] = zeros(count)
    for x in _emptied(side, dx):
        dst[x::side] = zeros(count * side)


def _emptied(side, d):
    """The rows (or columns) that a shift by d leaves with nothing to show."""
    return range(side - d, side) if d > 0 else range(0, -d)
