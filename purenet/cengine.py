"""The C engine (``backend="c"``): the reference's arithmetic in C, bit for bit.

The parameters live in one flat ``array('d')`` for the whole network, in the C
engine's layout (each weight matrix transposed, so the C loops run across output
neurons); :meth:`CEngine.get_params` copies them back into nested lists on demand.
A training call hands the C code the dataset's own buffers (pixels as bytes, the
256-entry table of ``p / divisor``, labels or targets) through ``ffi.from_buffer``,
the sample order as one int64 array and the batch sizes as another: one C call per
list of mini-batches, no Python per sample, no NumPy.

Importing this module needs only the standard library: the compiled module (and
so cffi) is imported on the first use of the C engine.
"""

import math
import random
from array import array

from .checks import check_sizes, has_shape, layers_of, param_shapes, rows_of
from .dataset import Dataset
from .errors import (CEngineError, CEngineMemoryError, CEngineUnavailable, InvalidArgument,
                     InvalidType)
from .reference import shuffled_order

BUILD_HINT = ("the C engine is not built: run `pip install .` (needs a C compiler and cffi) "
              "or `python build_ext.py` in a checkout")


_lib = _ffi = None


def _load():
    global _lib, _ffi
    if _lib is None:
        try:
            from . import _ckernels
        except ImportError as e:         # not built, or built but cffi is missing
            missing = getattr(e, "name", None)
            if missing == "_cffi_backend":
                raise CEngineUnavailable(
                    "the C engine is built but cffi is not installed: `pip install cffi`") from e
            raise CEngineUnavailable(BUILD_HINT + " (%s)" % e) from e
        _lib, _ffi = _ckernels.lib, _ckernels.ffi
    return _lib, _ffi


def available():
    """True when the compiled C engine can be imported."""
    try:
        _load()
        return True
    except CEngineUnavailable:
        return False


def lib_and_ffi():
    """The raw cffi ``lib`` and ``ffi`` (for tests and benchmarks)."""
    return _load()


def simd_name():
    """The instructions the C engine's vector kernels run with on this CPU."""
    lib, _ = _load()
    return ("baseline", "AVX2", "AVX2 + AVX-512")[lib.pn_simd_level()]


def _c_shuffle(rng, n):
    """random.Random.shuffle of 0..n-1 with the swaps in C (pn_shuffle): the 32-bit words it
    would draw one getrandbits(k) call at a time are drawn in one call per round, as many
    as the rest of the shuffle may need, so that rng ends in the same state."""
    lib, ffi = _load()
    order = array("q", bytes(8 * n))
    buf, top = ffi.from_buffer("int64_t[]", order), ffi.new("size_t *", max(n - 1, 0))
    _check(lib.pn_shuffle(buf, n, 1, ffi.NULL, 0, top), "shuffled_order")
    while top[0] > 0:
        words = rng.getrandbits(32 * top[0]).to_bytes(4 * top[0], "little")
        _check(lib.pn_shuffle(buf, n, 0, words, top[0], top), "shuffled_order")
    return order


_same = []


def _same_shuffle():
    """True when this Python's random.shuffle is the algorithm pn_shuffle follows (tried
    once, on 1,000 samples: the same order and the same generator state after)."""
    if not _same:
        a, b = random.Random(11), random.Random(11)
        want = list(range(1000))
        a.shuffle(want)
        _same.append(_c_shuffle(b, 1000).tolist() == want and a.getstate() == b.getstate())
    return _same[0]


def _check(code, what):
    if code != 0:
        lib, ffi = _load()
        msg = ffi.string(lib.pn_strerror(code)).decode()
        if code == lib.PN_ERR_NOMEM:
            raise CEngineMemoryError("%s: %s" % (what, msg))
        raise CEngineError("%s: C engine error %d: %s" % (what, code, msg))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int64_view(order):
    """order as a 1-D contiguous memoryview of native int64: a buffer that is one already
    (an ``array('q')``, a slice of a memoryview of one) is not copied; any other sequence
    of whole numbers is copied into an ``array('q')``.  ValueError for anything else."""
    try:
        view = memoryview(order)
    except TypeError:                    # not a buffer: a list, a range, ...
        view = None
    if (view is not None and view.ndim == 1 and view.contiguous and view.itemsize == 8
            and view.format in ("q", "l")):
        return view
    try:                                 # (a buffer's values, not its raw bytes)
        return memoryview(array("q", order if view is None else view.tolist()))
    except (TypeError, OverflowError) as e:
        raise InvalidArgument("train_order: order must be a sequence of whole-number sample "
                              "indices (%s)" % e) from None


COSTS = {"quadratic": "PN_QUADRATIC", "cross-entropy": "PN_CROSS_ENTROPY",
         "log-likelihood": "PN_LOG_LIKELIHOOD"}
ACTIVATIONS = {"sigmoid": "PN_SIGMOID", "tanh": "PN_TANH", "relu": "PN_RELU"}


class CEngine:
    """Runs a Network's arithmetic in C (``backend="c"``); same interface as
    :class:`purenet.reference.ReferenceEngine`."""


    def __init__(self, sizes, weights, biases, threads=1, cost="quadratic", activation="sigmoid"):
        self.lib, self.ffi = _load()
        self._model = self._c_model(cost, activation)
        sizes = check_sizes(sizes)               # within PN_MAX_LAYERS and PN_MAX_SIZE
        if not _is_int(threads) or not 1 <= threads <= self.lib.PN_MAX_THREADS:
            raise InvalidArgument("threads must be a whole number from 1 to %d, got %r"
                                  % (self.lib.PN_MAX_THREADS, threads))
        self.sizes = sizes
        self.threads = threads
        self._csizes = self.ffi.new("int[]", sizes)
        self.n_textbook = self.lib.pn_param_count(self._csizes, len(sizes))
        self.n_params = self.lib.pn_fast_param_count(self._csizes, len(sizes))
        if self.n_params == 0 or self.n_textbook == 0:
            raise InvalidArgument("sizes %r are too large for the C engine" % (sizes,))
        self._params, self._pbuf = self._aligned()
        self._velocities = self._vbuf = None         # made by the first momentum step
        self.set_params(weights, biases)

    def _c_model(self, cost, activation):
        """The pn_model of a cost and a hidden activation (InvalidArgument for others)."""
        if cost not in COSTS or activation not in ACTIVATIONS:
            raise InvalidArgument("the C engine has no cost %r / activation %r: use one of %s / %s"
                                  % (cost, activation, ", ".join(COSTS), ", ".join(ACTIVATIONS)))
        return self.ffi.new("pn_model *", {
            "cost": getattr(self.lib, COSTS[cost]),
            "activation": getattr(self.lib, ACTIVATIONS[activation])})

    def _aligned(self):
        """One flat zeroed buffer for the whole network (fast layout), and a pointer
        to its first 64-byte boundary (the array is never resized, so it never moves)."""
        buf = array("d", bytes(8 * (self.n_params + 8)))
        whole = self.ffi.from_buffer("double[]", buf)
        skip = (-int(self.ffi.cast("uintptr_t", whole)) % 64) // 8
        return buf, whole + skip

    # --- parameters ------------------------------------------------------------

    def set_params(self, weights, biases):
        """Copy nested lists weights[l][j][k], biases[l][j] into the flat C buffer."""
        self._to_fast(weights, biases, self._pbuf)

    def get_params(self):
        """(weights, biases) as fresh nested lists of the current values."""
        return self._from_fast(self._pbuf)

    def all_finite(self):
        """True when no weight or bias is NaN or infinite (checked in C: pn_all_finite)."""
        code = self.lib.pn_all_finite(self._pbuf, self.n_params)
        if code == self.lib.PN_ERR_NONFINITE:
            return False
        _check(code, "all_finite")
        return True

    def get_velocities(self):
        """The momentum velocities (vw, vb) as nested lists, or None before any momentum step."""
        return None if self._vbuf is None else self._from_fast(self._vbuf)

    def set_velocities(self, vw, vb):
        if self._vbuf is None:
            self._velocities, self._vbuf = self._aligned()
        self._to_fast(vw, vb, self._vbuf)

    def _to_fast(self, weights, biases, dest):
        sizes, layers = self.sizes, len(self.sizes) - 1
        if len(weights) != layers or len(biases) != layers:
            raise InvalidArgument("expected %d weight matrices and %d bias vectors for sizes %s, "
                                  "got %d and %d"
                                  % (layers, layers, sizes, len(weights), len(biases)))
        flat = array("d")
        for l in range(layers):
            n_in, n_out = sizes[l], sizes[l + 1]
            w, b = weights[l], biases[l]
            if len(w) != n_out or any(len(row) != n_in for row in w):
                raise InvalidArgument("weights[%d] must be %d rows of %d values (layer %d -> %d)"
                                      % (l, n_out, n_in, l, l + 1))
            if len(b) != n_out:
                raise InvalidArgument("biases[%d] must have %d values, got %d" % (l, n_out, len(b)))
            for row in w:
                flat.extend(map(float, row))
            flat.extend(map(float, b))
        code = self.lib.pn_to_fast(self._csizes, len(sizes), self.ffi.from_buffer("double[]", flat),
                                   len(flat), dest, self.n_params)
        _check(code, "set_params")

    def _from_fast(self, src):
        sizes = self.sizes
        flat = array("d", bytes(8 * self.n_textbook))
        code = self.lib.pn_from_fast(self._csizes, len(sizes), src, self.n_params,
                                     self.ffi.from_buffer("double[]", flat), len(flat))
        _check(code, "get_params")
        weights, biases, pos = [], [], 0
        for l in range(len(sizes) - 1):
            n_in, n_out = sizes[l], sizes[l + 1]
            weights.append([flat[pos + j * n_in:pos + (j + 1) * n_in].tolist()
                            for j in range(n_out)])
            pos += n_in * n_out
            biases.append(flat[pos:pos + n_out].tolist())
            pos += n_out
        return weights, biases

    # --- data --------------------------------------------------------------------

    def _doubles(self, values, count, kind, data, what, keep):
        """A double[] pointer (and its length) for count values; keeps the buffer alive."""
        if not (isinstance(values, array) and values.typecode == "d"):
            values = array("d", values)
        if len(values) != count:
            raise InvalidArgument("%s: %s has %d %s values, expected %d"
                                  % (what, data.name, len(values), kind, count))
        buf = self.ffi.from_buffer("double[]", values)
        keep += [values, buf]
        return buf, len(values)

    def _cdata(self, data, need_targets, what):
        """A pn_data for a Dataset, plus the buffers it points into (keep them alive)."""
        if not isinstance(data, Dataset):
            raise InvalidType("%s: the C engine needs a purenet.dataset.Dataset, got %s"
                              % (what, type(data).__name__))
        if data.n_in != self.sizes[0]:
            raise InvalidArgument("%s: %s has %d inputs per sample but the network takes %d"
                                  % (what, data.name, data.n_in, self.sizes[0]))
        if need_targets and data.n_out != self.sizes[-1]:
            raise InvalidArgument("%s: %s has %d outputs per sample but the network gives %d"
                                  % (what, data.name, data.n_out, self.sizes[-1]))
        ffi = self.ffi
        d = ffi.new("pn_data *")
        keep = [d]
        d.n, d.n_in, d.n_out = data.n, data.n_in, self.sizes[-1]
        n_in = data.n_in
        if data.pixels is not None:
            if len(data.pixels) != data.n * n_in:
                raise InvalidArgument("%s: %s has %d pixel bytes, expected %d"
                                      % (what, data.name, len(data.pixels), data.n * n_in))
            table = array("d", data.table)          # table[p] == p / divisor
            if len(table) != 256:
                raise InvalidArgument("%s: the pixel table must have 256 entries" % what)
            pix = ffi.from_buffer("uint8_t[]", data.pixels)
            tab = ffi.from_buffer("double[]", table)
            keep += [data.pixels, table, pix, tab]
            d.pixels, d.pixels_len, d.table, d.table_len = pix, len(data.pixels), tab, 256
        elif data.xs is not None:
            d.xs, d.xs_len = self._doubles(data.xs, data.n * n_in, "input", data, what, keep)
        else:
            raise InvalidArgument("%s: %s has no inputs" % (what, data.name))
        if need_targets:
            n_out = self.sizes[-1]
            if data.labels is not None:
                if len(data.labels) != data.n:
                    raise InvalidArgument("%s: %s has %d labels for %d samples"
                                          % (what, data.name, len(data.labels), data.n))
                # (every label < data.n_out == n_out: Dataset checked it; the C code
                # checks the labels of the samples it uses again)
                lb = ffi.from_buffer("uint8_t[]", data.labels)
                keep += [data.labels, lb]
                d.labels, d.labels_len = lb, len(data.labels)
            elif data.ys is not None:
                d.ys, d.ys_len = self._doubles(data.ys, data.n * n_out, "target", data, what, keep)
            else:
                raise InvalidArgument("%s: %s has no targets" % (what, data.name))
        return d, keep

    # --- the engine interface ---------------------------------------------------------

    def feedforward(self, x):
        """Output activations for one input vector x."""
        x = array("d", map(float, x))
        if len(x) != self.sizes[0]:
            raise InvalidArgument("feedforward: input has %d values, the network takes %d"
                                  % (len(x), self.sizes[0]))
        data = Dataset(self.sizes[0], self.sizes[-1], xs=x,
                       ys=array("d", bytes(8 * self.sizes[-1])), name="input")
        return self.outputs(data, 0, 1)[0]

    def train_batches(self, data, batches, lr, n=None, l2=0.0, l1=0.0, momentum=0.0):
        """One update for each batch (a list of sample indices into data), in order,
        in one C call: as ReferenceEngine.train_batches."""
        d, keep = self._cdata(data, True, "train_batches")     # checks data first
        step = self._step("train_batches", data, lr, n, l2, l1, momentum)
        arrays = self._batch_arrays(data, batches)
        if arrays is not None:
            self._train(d, *arrays, step, "train_batches")
        del keep

    def _batch_arrays(self, data, batches):
        """(indices, counts) of a list of batches as two int64 arrays, checked; None when
        there is no batch."""
        indices = array("q")
        counts = array("q")
        for b, batch in enumerate(batches):
            before = len(indices)
            try:
                indices.extend(batch)
            except (TypeError, OverflowError):
                raise InvalidArgument("train_batches: batch %d must be a list of whole-number "
                                      "sample "
                                      "indices" % b) from None
            if len(indices) == before:
                raise InvalidArgument("train_batches: batch %d is empty" % b)
            counts.append(len(indices) - before)
        if not counts:
            return None
        lo, hi = min(indices), max(indices)
        if lo < 0 or hi >= data.n:
            bad = lo if lo < 0 else hi
            raise InvalidArgument("train_batches: sample index %d is out of range for %s "
                                  "(%d samples)"
                                  % (bad, data.name, data.n))
        return indices, counts

    def shuffled_order(self, rng, n):
        """The samples 0..n-1 in the order rng.shuffle puts them, as an array('q'), with
        rng left in the state rng.shuffle leaves it: the swaps are made in C (_c_shuffle).
        Any other generator, or a Python whose shuffle is not that one, shuffles itself."""
        if type(rng) is random.Random and n < 2 ** 32 and _same_shuffle():
            return _c_shuffle(rng, n)
        return shuffled_order(rng, n)

    def train_order(self, data, order, batch_size, lr, n=None, l2=0.0, l1=0.0, momentum=0.0):
        """train_batches of order cut into batches of batch_size consecutive samples (the
        last one may be smaller), in one C call, with no Python per batch.

        order: sample indices into data, checked and handed to C as one int64 buffer: an
        ``array('q')`` or a memoryview of one (fit's case) is used without a copy, any
        other sequence of whole numbers is copied."""
        d, keep = self._cdata(data, True, "train_order")       # checks data first
        step = self._step("train_order", data, lr, n, l2, l1, momentum)
        self._train(d, *self._order_arrays(data, order, batch_size), step, "train_order")
        del keep

    def _order_arrays(self, data, order, batch_size):
        """(indices, counts): order as an int64 buffer (not copied when it is one already),
        cut into batches of batch_size, checked."""
        if not _is_int(batch_size) or batch_size < 1:
            raise InvalidArgument("train_order: batch_size must be a whole number >= 1, got %r"
                                  % (batch_size,))
        indices = _int64_view(order)
        if len(indices) == 0:
            raise InvalidArgument("train_order: order is empty: give at least one sample index")
        # As unsigned numbers, negative indices are >= 2**63: one max() checks both ends.
        if max(indices.cast("B").cast("Q")) >= data.n:
            bad = next(i for i in indices if not 0 <= i < data.n)
            raise InvalidArgument("train_order: sample index %d is out of range for %s (%d samples)"
                                  % (bad, data.name, data.n))
        full, rest = divmod(len(indices), batch_size)
        counts = array("q", [batch_size]) * full
        if rest:
            counts.append(rest)
        return indices, counts

    def _step(self, what, data, lr, n, l2, l1, momentum):
        """The pn_step of a training call, checked: lr > 0, n >= 1 (default data.n), finite
        l2, l1 >= 0 and 0 <= momentum < 1."""
        step = self.ffi.new("pn_step *", {"lr": float(lr), "n": float(data.n if n is None else n),
                                          "l2": float(l2), "l1": float(l1),
                                          "momentum": float(momentum)})
        if not (step.lr > 0 and step.n >= 1 and step.l2 >= 0 and step.l1 >= 0
                and 0 <= step.momentum < 1
                and all(map(math.isfinite, (step.lr, step.l2, step.l1)))):
            raise InvalidArgument("%s: need lr > 0, n >= 1, l2 >= 0, l1 >= 0 (finite) and "
                                  "0 <= momentum < 1, got lr=%r n=%r l2=%r l1=%r momentum=%r"
                                  % (what, lr, n, l2, l1, momentum))
        return step

    def _train(self, d, indices, counts, step, what):
        """pn_train_batches: one update per batch of counts[b] consecutive samples of indices
        (both int64 buffers, checked by the caller)."""
        ffi = self.ffi
        if step.momentum > 0 and self._vbuf is None:
            self._velocities, self._vbuf = self._aligned()  # velocities start at 0
        code = self.lib.pn_train_batches(
            self._csizes, len(self.sizes), self._model, self._pbuf,
            self._vbuf if step.momentum > 0 else ffi.NULL, self.n_params, d,
            ffi.from_buffer("int64_t[]", indices), len(indices),
            ffi.from_buffer("int64_t[]", counts), len(counts), step, self.threads)
        _check(code, what)

    def outputs(self, data, start=0, stop=None):
        """Output activations of samples start..stop-1 of data, one list each."""
        d, keep = self._cdata(data, False, "outputs")          # checks data first
        stop = data.n if stop is None else stop
        if not (_is_int(start) and _is_int(stop)) or not 0 <= start <= stop <= data.n:
            raise InvalidArgument("outputs: need 0 <= start <= stop <= %d, got start=%r stop=%r"
                                  % (data.n, start, stop))
        n_out = self.sizes[-1]
        if stop == start:
            return []
        out = array("d", bytes(8 * n_out * (stop - start)))
        code = self._c_outputs(d, start, stop, self.ffi.from_buffer("double[]", out), len(out))
        del keep
        _check(code, "outputs")
        flat = out.tolist()
        return [flat[i:i + n_out] for i in range(0, len(flat), n_out)]

    def _c_outputs(self, d, start, stop, out, out_len):
        return self.lib.pn_outputs(self._csizes, len(self.sizes), self._model, self._pbuf,
                                   self.n_params, d, start, stop, out, out_len, self.threads)

    def total_cost(self, data, l2=0.0, l1=0.0):
        """total_cost over every sample of data (reference.py's, or deep.py's for a layered
        network), computed in C."""
        l2, l1 = float(l2), float(l1)
        if not (l2 >= 0 and l1 >= 0 and math.isfinite(l2) and math.isfinite(l1)):
            raise InvalidArgument("total_cost: need finite l2 >= 0 and l1 >= 0, got %r, %r"
                                  % (l2, l1))
        d, keep = self._cdata(data, True, "total_cost")
        if data.n == 0:
            raise InvalidArgument("total_cost: %s has no samples" % data.name)
        cost = self.ffi.new("double *")
        code = self._c_cost(d, l2, l1, cost)
        del keep
        _check(code, "total_cost")
        return cost[0]

    def _c_cost(self, d, l2, l1, cost):
        return self.lib.pn_cost(self._csizes, len(self.sizes), self._model, self._pbuf,
                                self.n_params, d, l2, l1, cost, self.threads)


# --- layered networks (chapter 6): conv, pool and fully connected layers, dropout ---------

LAYER_KINDS = {"full": "PN_FULL", "conv": "PN_CONV", "pool": "PN_POOL"}


def _nested(flat, shape):
    """flat (a list) as nested lists of the given shape (row-major)."""
    if len(shape) == 1:
        return flat[:shape[0]]
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nested(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


class CNetEngine(CEngine):
    """A layered network's arithmetic in C (the pn_net_* calls): sizes may hold conv and
    pool layers ("conv20x5", "pool2"), and training takes dropout on the fully connected
    hidden layers.  Same interface as :class:`purenet.deep.DeepEngine`, bit for bit.

    The parameters live in one flat ``array('d')`` in the textbook layout (each layer's
    weights nested row-major, [F][C][K][K] for a conv layer, then its biases); the C code
    keeps them in a layout of its own during a call."""

    def __init__(self, sizes, weights, biases, threads=1, cost="quadratic", activation="sigmoid"):
        self.lib, self.ffi = _load()
        self._model = self._c_model(cost, activation)
        self.sizes = check_sizes(sizes)          # shapes that fit, within the C engine's limits
        if not _is_int(threads) or not 1 <= threads <= self.lib.PN_MAX_THREADS:
            raise InvalidArgument("threads must be a whole number from 1 to %d, got %r"
                                  % (self.lib.PN_MAX_THREADS, threads))
        self.threads = threads
        self.layers = layers_of(self.sizes)
        self.shapes = param_shapes(self.sizes)
        self.units = sum(layer.n for layer in self.layers[1:-1] if layer.kind == "full")
        self._clayers = self.ffi.new("pn_layer[]", [
            {"kind": getattr(self.lib, LAYER_KINDS[layer.kind]), "n": layer.n, "k": layer.k}
            for layer in self.layers])
        self.n_params = self.lib.pn_net_param_count(self._clayers, len(self.layers))
        if self.n_params == 0:
            raise InvalidArgument("sizes %r are too large for the C engine" % (self.sizes,))
        self._pbuf = array("d", bytes(8 * self.n_params))
        self._vbuf = None                            # made by the first momentum step
        self.set_params(weights, biases)

    # --- parameters ------------------------------------------------------------

    def set_params(self, weights, biases):
        """Copy nested lists weights[l], biases[l] (see checks.param_shapes) into the buffer."""
        self._pbuf[:] = self._flatten(weights, biases)

    def get_params(self):
        return self._unflatten(self._pbuf)

    def get_velocities(self):
        return None if self._vbuf is None else self._unflatten(self._vbuf)

    def set_velocities(self, vw, vb):
        self._vbuf = self._flatten(vw, vb)

    def all_finite(self):
        code = self.lib.pn_all_finite(self.ffi.from_buffer("double[]", self._pbuf), self.n_params)
        if code == self.lib.PN_ERR_NONFINITE:
            return False
        _check(code, "all_finite")
        return True

    def _flatten(self, weights, biases):
        layers = len(self.shapes)
        if len(weights) != layers or len(biases) != layers:
            raise InvalidArgument("expected %d weight lists and %d bias lists for sizes %s, "
                                  "got %d and %d"
                                  % (layers, layers, self.sizes, len(weights), len(biases)))
        flat = array("d")
        for l, (w_shape, b_shape) in enumerate(self.shapes):
            w, b = weights[l], biases[l]
            if not has_shape(w, w_shape) or len(b) != b_shape[0]:
                raise InvalidArgument("weights[%d] must be nested lists of shape %s and "
                                      "biases[%d] %d values (layer %s)"
                                      % (l, "x".join(map(str, w_shape)), l, b_shape[0],
                                         self.sizes[l + 1]))
            if w_shape[0]:
                for row in rows_of(w, len(w_shape)):
                    flat.extend(map(float, row))
            flat.extend(map(float, b))
        return flat

    def _unflatten(self, buf):
        flat, weights, biases, pos = buf.tolist(), [], [], 0
        for w_shape, b_shape in self.shapes:
            count = math.prod(w_shape) if w_shape[0] else 0
            weights.append(_nested(flat[pos:pos + count], w_shape) if count else [])
            pos += count
            biases.append(flat[pos:pos + b_shape[0]])
            pos += b_shape[0]
        return weights, biases

    # --- training ------------------------------------------------------------------

    def hidden_units(self):
        """U: the units of the fully connected hidden layers, each one keep byte a sample."""
        return self.units

    def train_batches(self, data, batches, lr, n=None, l2=0.0, l1=0.0, momentum=0.0,
                      dropout=None):
        """As DeepEngine.train_batches: one update per batch, in one C call; dropout None or
        (scale, keep), keep one byte per sample and fully connected hidden unit."""
        d, keep = self._cdata(data, True, "train_batches")
        step = self._step("train_batches", data, lr, n, l2, l1, momentum)
        arrays = self._batch_arrays(data, batches)
        if arrays is not None:
            self._train_net(d, *arrays, step, dropout, "train_batches")
        del keep

    def train_order(self, data, order, batch_size, lr, n=None, l2=0.0, l1=0.0, momentum=0.0,
                    dropout=None):
        """train_batches of order cut into batches of batch_size (the last may be smaller)."""
        d, keep = self._cdata(data, True, "train_order")
        step = self._step("train_order", data, lr, n, l2, l1, momentum)
        indices, counts = self._order_arrays(data, order, batch_size)
        self._train_net(d, indices, counts, step, dropout, "train_order")
        del keep

    def _dropout(self, dropout, count, what):
        """The pn_dropout of (scale, keep) for count samples (and the buffers it holds), or
        NULL for None."""
        if dropout is None:
            return self.ffi.NULL, ()
        try:
            scale, keep = dropout
            scale = float(scale)
            view = memoryview(keep).cast("B")
        except (TypeError, ValueError):
            raise InvalidArgument("%s: dropout must be None or (scale, keep bytes), got %s"
                                  % (what, type(dropout).__name__)) from None
        if not (math.isfinite(scale) and scale > 0):
            raise InvalidArgument("%s: the dropout scale must be a finite number > 0, got %r"
                                  % (what, scale))
        if len(view) != count * self.units:
            raise InvalidArgument("%s: dropout needs %d keep bytes (%d samples x %d hidden "
                                  "units), got %d"
                                  % (what, count * self.units, count, self.units, len(view)))
        buf = self.ffi.from_buffer("uint8_t[]", view) if len(view) else self.ffi.NULL
        drop = self.ffi.new("pn_dropout *", {"scale": scale, "keep": buf, "keep_len": len(view)})
        return drop, (view, buf)

    def _train_net(self, d, indices, counts, step, dropout, what):
        ffi = self.ffi
        drop, held = self._dropout(dropout, len(indices), what)
        if step.momentum > 0 and self._vbuf is None:
            self._vbuf = array("d", bytes(8 * self.n_params))     # velocities start at 0
        vel = ffi.from_buffer("double[]", self._vbuf) if step.momentum > 0 else ffi.NULL
        code = self.lib.pn_net_train_batches(
            self._clayers, len(self.layers), self._model,
            ffi.from_buffer("double[]", self._pbuf), vel, self.n_params, d,
            ffi.from_buffer("int64_t[]", indices), len(indices),
            ffi.from_buffer("int64_t[]", counts), len(counts), step, drop, self.threads)
        del held
        _check(code, what)

    # --- forward ---------------------------------------------------------------------

    def _c_outputs(self, d, start, stop, out, out_len):
        return self.lib.pn_net_outputs(self._clayers, len(self.layers), self._model,
                                       self.ffi.from_buffer("double[]", self._pbuf),
                                       self.n_params, d, start, stop, out, out_len,
                                       self.threads)

    def _c_cost(self, d, l2, l1, cost):
        return self.lib.pn_net_cost(self._clayers, len(self.layers), self._model,
                                    self.ffi.from_buffer("double[]", self._pbuf), self.n_params,
                                    d, l2, l1, cost, self.threads)
