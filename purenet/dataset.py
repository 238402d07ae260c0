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
"""

from array import array


class DataError(ValueError):
    """A dataset that cannot be used: the message names the problem and the fix."""


class Dataset:
    def __init__(self, n_in, n_out, pixels=None, divisor=255.0, xs=None,
                 labels=None, ys=None, name="data"):
        self.n_in, self.n_out, self.name = int(n_in), int(n_out), name
        if (pixels is None) == (xs is None):
            raise DataError("%s: give exactly one of pixels or xs" % name)
        if (labels is None) == (ys is None):
            raise DataError("%s: give exactly one of labels or ys" % name)
        if pixels is not None:
            pixels = bytes(pixels)
            n = len(pixels) // self.n_in if self.n_in else 0
            if self.n_in <= 0 or len(pixels) != n * self.n_in:
                raise DataError("%s: %d pixel bytes is not a whole number of %d-pixel samples"
                                % (name, len(pixels), self.n_in))
            if not divisor > 0:
                raise DataError("%s: pixel divisor must be > 0" % name)
        else:
            xs = array("d", xs)
            n = len(xs) // self.n_in if self.n_in else 0
            if self.n_in <= 0 or len(xs) != n * self.n_in:
                raise DataError("%s: %d input values is not a whole number of %d-value samples"
                                % (name, len(xs), self.n_in))
        if labels is not None:
            labels = bytes(labels)
            if len(labels) != n:
                raise DataError("%s: %d inputs but %d labels" % (name, n, len(labels)))
            if n and max(labels) >= self.n_out:
                raise DataError("%s: label %d does not fit %d output neurons"
                                % (name, max(labels), self.n_out))
        else:
            ys = array("d", ys)
            if len(ys) != n * self.n_out:
                raise DataError("%s: %d inputs but %d target values (expected %d)"
                                % (name, n, len(ys), n * self.n_out))
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
        count = max(0, int(count))
        d, o = self.n_in, self.n_out
        return Dataset(
            d, o,
            pixels=self.pixels[:count * d] if self.pixels is not None else None,
            divisor=self.divisor,
            xs=self.xs[:count * d] if self.xs is not None else None,
            labels=self.labels[:count] if self.labels is not None else None,
            ys=self.ys[:count * o] if self.ys is not None else None,
            name=self.name)

    @classmethod
    def from_pairs(cls, pairs, n_out=None, name="pairs"):
        """Build from Nielsen-style ``(x, y)`` pairs.

        x is a sequence of floats; y is a target vector or (for evaluation) a class
        label.  Labels need ``n_out`` (the number of output neurons).
        """
        pairs = list(pairs)
        if not pairs:
            raise DataError("%s: no samples" % name)
        n_in = len(pairs[0][0])
        xs = array("d")
        for i, (x, _) in enumerate(pairs):
            if len(x) != n_in:
                raise DataError("%s: sample %d has %d inputs, sample 0 has %d"
                                % (name, i, len(x), n_in))
            xs.extend(float(v) for v in x)
        y0 = pairs[0][1]
        if isinstance(y0, int) or (hasattr(y0, "__index__") and not hasattr(y0, "__len__")):
            if n_out is None:
                raise DataError("%s: labels given as integers need n_out" % name)
            labels = []
            for i, (_, y) in enumerate(pairs):
                y = int(y)
                if not 0 <= y < n_out:
                    raise DataError("%s: label %d of sample %d is not in 0..%d"
                                    % (name, y, i, n_out - 1))
                labels.append(y)
            return cls(n_in, n_out, xs=xs, labels=bytes(labels), name=name)
        n_out = len(y0) if n_out is None else n_out
        ys = array("d")
        for i, (_, y) in enumerate(pairs):
            if len(y) != n_out:
                raise DataError("%s: target of sample %d has %d values, expected %d"
                                % (name, i, len(y), n_out))
            ys.extend(float(v) for v in y)
        return cls(n_in, n_out, xs=xs, ys=ys, name=name)


def argmax(values):
    """Index of the largest value; the first one on a tie (as numpy.argmax)."""
    best, best_i = values[0], 0
    for i in range(1, len(values)):
        if values[i] > best:
            best, best_i = values[i], i
    return best_i


def as_dataset(data, n_out, name="data"):
    """A Dataset as it is, or one built from a sequence of (x, y) pairs."""
    if isinstance(data, Dataset):
        return data
    return Dataset.from_pairs(data, n_out=n_out, name=name)
