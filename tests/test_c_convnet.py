"""The C engine's layered networks (pn_net_*, cengine.CNetEngine) against the reference,
purenet.deep.DeepEngine (chapter 6: conv, pool and fully connected layers, with dropout), bit
for bit.  Every comparison is exact (assert_same: the IEEE bit patterns), after epochs of
training, on every parameter, velocity, output and the total cost; at each SIMD level (the
simd_level fixture) and with 1 and 2 threads.
"""

import math
import random
import subprocess
import sys
from array import array

import pytest

from purenet.checks import check_sizes, layers_of
from purenet.deep import DeepEngine
from purenet.network import Network
from purenet.dataset import Dataset
from purenet.errors import CEngineError, InvalidArgument  # noqa: F401 (error tests below)

from helpers import assert_same, flat, needs_c

try:
    from purenet import cengine
except ImportError:          # pragma: no cover - cengine itself needs only the stdlib
    cengine = None

pytestmark = needs_c


def leaves(v):
    """The innermost lists of a nested list (a layer's rows of weights)."""
    if v and isinstance(v[0], list):
        return [r for x in v for r in leaves(x)]
    return [v]


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


POISONS = (math.inf, -math.inf, math.nan, 1e300, -1e300)


def poison(weights, rnd, fraction, first):
    """Replace that fraction of the weights with inf, -inf, NaN or +-1e300, in place, and
    one weight of the first layer with `first`."""
    for w in weights:
        for row in (leaves(w) if w else []):
            for k in range(len(row)):
                if rnd.random() < fraction:
                    row[k] = rnd.choice(POISONS)
    row = rnd.choice(leaves(weights[0]))
    row[rnd.randrange(len(row))] = first


def keep_bytes(rnd, count, units, p):
    return bytes(rnd.random() >= p for _ in range(count * units))


# --- runs: one configuration, trained by the spec (once, cached) and by the C engine ------

DEFAULTS = dict(cost="cross-entropy", activation="sigmoid", data="pixels", n=24, epochs=2,
                batch_size=7, lr=0.5, l2=0.0, l1=0.0, momentum=0.0, p=None, batches=False,
                scale=0.5, poison=None, seed=0)


def config(sizes, **kw):
    cfg = dict(DEFAULTS, sizes=sizes, **kw)
    assert set(cfg) == set(DEFAULTS) | {"sizes"}, cfg
    return cfg


def key_of(cfg):
    return repr(sorted(cfg.items()))


def setup(cfg):
    """The data, the initial parameters and the epochs' orders and masks of a config."""
    rnd = random.Random(key_of(cfg))
    sizes = cfg["sizes"]
    make = pixel_images if cfg["data"] == "pixels" else float_images
    data = make(rnd, cfg["n"], sizes[0], sizes[-1])
    w, b = random_net_params(sizes, rnd, cfg["scale"])
    if cfg["poison"] is not None:
        poison(w, rnd, cfg["poison"], POISONS[cfg["seed"] % len(POISONS)])
    units = sum(ly.n for ly in layers_of(check_sizes(sizes))[1:-1] if ly.kind == "full")
    epochs = []
    for _ in range(cfg["epochs"]):
        order = list(range(data.n))
        rnd.shuffle(order)
        drop = None
        if cfg["p"] is not None:
            drop = (1.0 / (1.0 - cfg["p"]), keep_bytes(rnd, len(order), units, cfg["p"]))
        epochs.append((order, drop))
    return data, w, b, epochs


def train(engine, cfg, data, epochs):
    steps = (cfg["lr"], None, cfg["l2"], cfg["l1"], cfg["momentum"])
    bs = cfg["batch_size"]
    for order, drop in epochs:
        if cfg["batches"]:
            cut = [order[i:i + bs] for i in range(0, len(order), bs)]
            engine.train_batches(data, cut, *steps, dropout=drop)
        else:
            engine.train_order(data, order, bs, *steps, dropout=drop)


_spec_cache = {}


def spec_results(cfg):
    """The reference's parameters, outputs and cost after training (once per config)."""
    key = key_of(cfg)
    if key not in _spec_cache:
        data, w, b, epochs = setup(cfg)
        ref = DeepEngine(cfg["sizes"], w, b, cfg["cost"], cfg["activation"])
        train(ref, cfg, data, epochs)
        wr, br = ref.get_params()
        _spec_cache[key] = dict(
            w=wr, b=br, vel=ref.get_velocities(), out=ref.outputs(data),
            cost=ref.total_cost(data, 0.3, 0.2),
            moved=sum(x != y for x, y in zip(flat(w), flat(wr))))
    return _spec_cache[key]


def c_results(cfg, threads):
    data, w, b, epochs = setup(cfg)
    c = cengine.CNetEngine(cfg["sizes"], w, b, threads, cfg["cost"], cfg["activation"])
    train(c, cfg, data, epochs)
    wc, bc = c.get_params()
    return dict(w=wc, b=bc, vel=c.get_velocities(), out=c.outputs(data),
                cost=c.total_cost(data, 0.3, 0.2))


def canonical(values):
    """flat(values) with every NaN the same NaN.  Which NaN an operation on NaNs returns
    (its sign, its payload) depends on the order of the operands of + and *, which the
    compiler picks on either side (CPython's float_add is compiled too); which values are
    NaN does not."""
    return [math.nan if v != v else v for v in flat(values)]


def check(cfg, threads, what=""):
    want, got = spec_results(cfg), c_results(cfg, threads)
    if cfg["poison"] is not None or cfg["lr"] > 1e100:
        want, got = ({k: canonical(v) if k not in ("moved",) and v is not None else v
                      for k, v in r.items()} for r in (want, got))
    assert want["moved"] > 0, "the reference's training moved no weight"
    what = "%s %s/%s threads=%d" % (what or cfg["sizes"], cfg["cost"], cfg["activation"], threads)
    assert_same(what + " weights", got["w"], want["w"])
    assert_same(what + " biases", got["b"], want["b"])
    if cfg["momentum"]:
        assert_same(what + " velocities", list(got["vel"]), list(want["vel"]))
    assert_same(what + " outputs", got["out"], want["out"])
    assert_same(what + " total_cost", flat([got["cost"]]), flat([want["cost"]]))


# --- agreement ------------------------------------------------------------------------------

COMBOS = [(c, a) for c in ("quadratic", "cross-entropy", "log-likelihood")
          for a in ("sigmoid", "tanh", "relu")]

SHAPES = [
    [64, "conv3x3", "pool2", 10],                      # one conv-pool layer
    [64, "conv4x3", "pool2", "conv5x2", 7],            # two conv layers, few maps
    [49, "conv3x3", "pool5", 5],                       # odd sizes: 7x7, 5x5 pooled whole
    [81, "conv2x4", "pool3", "conv3x2", 11, 4],        # odd sizes, conv-pool-conv-full
    [36, "conv21x3", "pool2", "conv9x2", 5],           # 21 maps into a conv (across maps)
    [49, "conv8x3", "conv10x3", 6],                    # conv -> conv without a pool
    [64, "conv3x3", "conv4x3", 5],                     # conv -> conv, few maps
    [64, "pool2", "conv3x3", 5],                       # pool right after the input
    [64, "pool2", "pool2", 3],                         # pool after pool
    [64, "conv4x3", "pool2", 120, 10],                 # a wide fully connected layer
    [100, "conv12x3", "pool2", "conv20x3", "pool2", 30, 10],   # the book's, small
    [36, 5],                                           # one fully connected layer
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_shapes(simd_level, shape, threads):
    cost, act = COMBOS[(shape * 4) % len(COMBOS)]
    cfg = config(SHAPES[shape], cost=cost, activation=act, batch_size=(1, 3, 7, 10)[shape % 4],
                 lr=0.3 if act == "relu" else 0.8)
    check(cfg, threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cost,activation", COMBOS)
def test_costs_and_activations(simd_level, cost, activation, threads):
    data = "floats" if cost == "quadratic" else "pixels"
    cfg = config([49, "conv5x3", "pool5", 12, 4], cost=cost, activation=activation, data=data,
                 lr=0.3 if activation == "relu" else 1.0)
    check(cfg, threads)


STEPS = {"l2": dict(l2=0.5), "l1": dict(l1=0.3), "momentum": dict(momentum=0.6),
         "all": dict(momentum=0.5, l2=0.4, l1=0.2)}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("step", sorted(STEPS))
def test_regularisation_and_momentum(simd_level, step, threads):
    cfg = config([64, "conv6x3", "pool2", "conv9x2", 9, 5], activation="relu", lr=0.2,
                 cost="log-likelihood", **STEPS[step])
    check(cfg, threads, step)


DROPOUT_NETS = [
    [64, "conv4x3", "pool2", 30, 12, 5],               # conv, then two dropped-out layers
    [30, 40, 25, 6],                                   # every layer fully connected
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("net", range(len(DROPOUT_NETS)))
def test_dropout(simd_level, net, momentum, threads):
    cfg = config(DROPOUT_NETS[net], activation=("relu", "tanh")[net], p=0.4, lr=0.3,
                 momentum=momentum, l2=0.1, batches=bool(net))
    check(cfg, threads, "dropout")


@pytest.mark.parametrize("threads", [1, 2])
def test_dropout_without_hidden_full_layers(simd_level, threads):
    """Dropout on a network whose only full layer is the output layer: no keep bytes (U = 0),
    nothing dropped."""
    cfg = config([49, "conv4x3", "pool5", 4], activation="relu", p=0.5, lr=0.3)
    check(cfg, threads, "dropout, U = 0")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch_size", [1, 3, 7, 10, 23])
def test_batch_sizes(simd_level, batch_size, threads):
    cfg = config([64, "conv5x3", "pool3", 16, 4], activation="relu", cost="log-likelihood",
                 batch_size=batch_size, lr=0.3, n=23)
    check(cfg, threads, "batch size %d" % batch_size)


@pytest.mark.parametrize("threads", [1, 2])
def test_float_data(simd_level, threads):
    cfg = config([36, "conv9x3", "pool2", "conv12x2", 6], data="floats", activation="tanh",
                 cost="quadratic", lr=0.5)
    check(cfg, threads, "floats")


@pytest.mark.parametrize("threads", [1, 2])
def test_diverged(simd_level, threads):
    """A learning rate that sends the weights to inf and NaN: the same bits all the same."""
    cfg = config([64, "conv9x3", "pool2", "conv4x2", 10, 4], activation="relu",
                 cost="cross-entropy", data="floats", lr=1e200, scale=3.0, epochs=3)
    want = spec_results(cfg)
    assert any(math.isnan(v) or math.isinf(v) for v in flat(want["w"]))
    check(cfg, threads, "diverged")


NON_FINITE_NETS = [
    [64, "conv9x3", "pool2", "conv4x2", 10, 4],        # a conv across 9 maps
    [64, "conv3x3", "conv4x3", "pool2", 5],            # a conv across filters, inputs not pixels
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("seed", range(len(POISONS)))
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("net", range(len(NON_FINITE_NETS)))
def test_non_finite_weights(simd_level, net, activation, seed, threads):
    """A few weights of inf, -inf, NaN and +-1e300 from the start: NaN in pool windows, inf
    and NaN inputs and errors in conv layers, and the terms skipped where a factor is 0
    (inf * 0 is NaN): the same numbers, NaN where the spec has NaN."""
    cfg = config(NON_FINITE_NETS[net], activation=activation, data="floats", lr=0.1,
                 poison=(0.0, 0.01)[seed % 2], epochs=1, batch_size=4, seed=seed)
    check(cfg, threads, "non-finite")


@pytest.mark.parametrize("threads", [1, 2])
def test_outputs_and_cost_of_many_samples(simd_level, threads):
    """Outputs and the total cost of 150 samples: in chunks, split between two threads."""
    cfg = config([49, "conv7x3", "pool5", 9, 4], activation="tanh", n=150, epochs=1,
                 batch_size=50, cost="log-likelihood")
    check(cfg, threads, "150 samples")


@pytest.mark.parametrize("sizes", [[49, "conv5x3", "pool5", 9, 4], [49, 20, 9, 4]])
def test_network_fit_with_dropout(sizes):
    """Network.fit with dropout, backend "c" (CNetEngine; a fully connected network moves to
    it for the dropout) against backend "python" (DeepEngine): the same parameters, the
    same test outputs, bit for bit."""
    rnd = random.Random(8)
    data, test = pixel_images(rnd, 40, 49, 4), pixel_images(rnd, 12, 49, 4)
    nets = [Network(sizes, seed=3, backend=backend, threads=2, cost="log-likelihood",
                    activation="relu", init="scaled") for backend in ("python", "c")]
    for net in nets:
        net.fit(data, 2, batch_size=6, lr=0.2, test=test, dropout=0.3, momentum=0.2, l2=0.5)
    assert type(nets[1].engine).__name__ == "CNetEngine"
    assert_same("Network.fit with dropout", nets[1].engine.get_params(),
                nets[0].engine.get_params())
    assert_same("test outputs", nets[1].test_outputs, nets[0].test_outputs)


def test_feedforward_and_params():
    rnd = random.Random(5)
    sizes = [49, "conv3x3", "pool5", 4]
    w, b = random_net_params(sizes, rnd)
    ref = DeepEngine(sizes, w, b, "log-likelihood", "relu")
    c = cengine.CNetEngine(sizes, w, b, 1, "log-likelihood", "relu")
    x = [rnd.random() for _ in range(49)]
    assert_same("feedforward", c.feedforward(x), ref.feedforward(x))
    w2, b2 = c.get_params()
    assert_same("get_params", [w2, b2], [w, b])
    assert w2[1] == [] and b2[1] == []                       # the pool layer
    assert len(w2[0]) == 3 and len(w2[0][0]) == 1 and len(w2[0][0][0]) == 3
    c.set_velocities(w, b)
    assert_same("velocities", list(c.get_velocities()), [w, b])
    assert c.all_finite()
    w[0][2][0][1][1] = math.inf
    c.set_params(w, b)
    assert not c.all_finite()


# --- errors: the C calls' codes, and nothing written ----------------------------------------

class Raw:
    """The arguments of a valid pn_net_* call on a small conv net, to spoil one at a time."""

    def __init__(self, sizes=(64, "conv3x3", "pool2", 8, 4), threads=1):
        self.lib, self.ffi = cengine.lib_and_ffi()
        rnd = random.Random(3)
        self.sizes = list(sizes)
        self.data = pixel_images(rnd, 12, sizes[0], sizes[-1])
        w, b = random_net_params(self.sizes, rnd)
        self.engine = cengine.CNetEngine(self.sizes, w, b, threads, "log-likelihood", "relu")
        self.d, self.keep_alive = self.engine._cdata(self.data, True, "test")
        self.step = self.ffi.new("pn_step *", {"lr": 0.1, "n": 12.0, "l2": 0.0, "l1": 0.0,
                                               "momentum": 0.0})
        self.indices = array("q", range(12))
        self.counts = array("q", [5, 5, 2])
        self.keep = bytes([1, 0, 1]) * (12 * 8 // 3)
        self.keep_buf = self.ffi.from_buffer("uint8_t[]", self.keep)
        self.drop = self.ffi.new("pn_dropout *", {"scale": 2.0, "keep": self.keep_buf,
                                                  "keep_len": len(self.keep)})

    def layers(self, entries=None):
        entries = entries if entries is not None else [
            (e.kind, e.n, e.k) for e in self.engine._clayers]
        return self.ffi.new("pn_layer[]", [{"kind": k, "n": n, "k": kk} for k, n, kk in entries]), \
            len(entries)

    def train(self, layers=None, model=None, params=None, velocities=None, n_params=None,
              data=None, indices=None, n_indices=None, counts=None, n_batches=None, step=None,
              dropout="default", threads=1):
        ffi, e = self.ffi, self.engine
        lay, n_layers = layers if layers is not None else self.layers()
        indices = self.indices if indices is None else indices
        counts = self.counts if counts is None else counts
        return self.lib.pn_net_train_batches(
            lay, n_layers, e._model if model is None else model,
            ffi.from_buffer("double[]", e._pbuf) if params is None else params,
            ffi.NULL if velocities is None else velocities,
            e.n_params if n_params is None else n_params, self.d if data is None else data,
            ffi.from_buffer("int64_t[]", indices) if len(indices) else ffi.NULL,
            len(indices) if n_indices is None else n_indices,
            ffi.from_buffer("int64_t[]", counts) if len(counts) else ffi.NULL,
            len(counts) if n_batches is None else n_batches,
            self.step if step is None else step, self.drop if dropout == "default" else dropout,
            threads)


def test_param_count_and_invalid_layers():
    raw = Raw()
    lib, P = raw.lib, raw.lib
    lay, n = raw.layers()
    assert lib.pn_net_param_count(lay, n) == 3 * 9 + 3 + 27 * 8 + 8 + 8 * 4 + 4
    full, conv, pool = P.PN_FULL, P.PN_CONV, P.PN_POOL
    bad = [
        [(full, 64, 0)],                                       # one layer
        [(full, 64, 0), (conv, 3, 3), (full, 8, 0), (conv, 2, 2), (full, 4, 0)],  # conv after full
        [(full, 63, 0), (conv, 3, 3), (full, 4, 0)],           # not a square image
        [(full, 64, 0), (conv, 3, 9), (full, 4, 0)],           # filter larger than the image
        [(full, 64, 0), (pool, 0, 3), (full, 4, 0)],           # pool does not divide 8
        [(full, 64, 0), (conv, 3, 3), (pool, 0, 2)],           # the last layer not full
        [(full, 64, 0), (pool, 1, 2), (full, 4, 0)],           # pool with n != 0
        [(full, 64, 0), (full, 4, 1)],                         # full with k != 0
        [(full, 64, 0), (conv, 0, 3), (full, 4, 0)],           # no filter
        [(full, 64, 0), (conv, 3, 0), (full, 4, 0)],           # 0x0 filters
        [(full, 0, 0), (full, 4, 0)],                          # no input
        [(full, 64, 0), (7, 3, 3), (full, 4, 0)],              # unknown kind
        [(conv, 64, 0), (full, 4, 0)],                         # the input not full
        [(full, 64, 0), (full, P.PN_MAX_SIZE + 1, 0), (full, 4, 0)],
        [(full, 64, 0), (conv, P.PN_MAX_SIZE, 1), (full, 4, 0)],   # a layer over the limit
    ]
    for entries in bad:
        lay, n = raw.layers(entries)
        assert lib.pn_net_param_count(lay, n) == 0, entries
        assert raw.train(layers=(lay, n)) in (lib.PN_ERR_SIZES, lib.PN_ERR_NULL), entries
    assert lib.pn_net_param_count(raw.ffi.NULL, 3) == 0
    assert raw.train(layers=(raw.ffi.NULL, 5)) == lib.PN_ERR_NULL


def test_train_errors_write_nothing():
    raw = Raw()
    lib, ffi = raw.lib, raw.ffi
    before = raw.engine._pbuf.tobytes()

    def step(**kw):
        values = {"lr": 0.1, "n": 12.0, "l2": 0.0, "l1": 0.0, "momentum": 0.0}
        values.update(kw)
        return ffi.new("pn_step *", values)

    def drop(scale=2.0, keep=raw.keep_buf, length=None):
        return ffi.new("pn_dropout *", {"scale": scale, "keep": keep,
                                        "keep_len": len(raw.keep) if length is None else length})

    bad_model = ffi.new("pn_model *", {"cost": 7, "activation": 0})
    vel = ffi.new("double[]", raw.engine.n_params)
    labels = bytearray(raw.data.labels)
    labels[5] = 4
    wrong = Dataset(64, 4, pixels=raw.data.pixels, labels=bytes(12), name="x")
    d_labels, keep1 = raw.engine._cdata(wrong, True, "test")
    d_labels.labels = ffi.from_buffer("uint8_t[]", labels)
    d_short, keep2 = raw.engine._cdata(raw.data, True, "test")
    d_short.pixels_len -= 1
    cases = {
        "model": (dict(model=bad_model), lib.PN_ERR_MODEL),
        "no model": (dict(model=ffi.NULL), lib.PN_ERR_MODEL),
        "no params": (dict(params=ffi.NULL), lib.PN_ERR_NULL),
        "params length": (dict(n_params=raw.engine.n_params - 1), lib.PN_ERR_PARAMS),
        "no step": (dict(step=ffi.NULL), lib.PN_ERR_NULL),
        "lr": (dict(step=step(lr=0.0)), lib.PN_ERR_STEP),
        "momentum without velocities": (dict(step=step(momentum=0.5)), lib.PN_ERR_STEP),
        "momentum 1": (dict(step=step(momentum=1.0), velocities=vel), lib.PN_ERR_STEP),
        "data length": (dict(data=d_short), lib.PN_ERR_DATA),
        "no data": (dict(data=ffi.NULL), lib.PN_ERR_NULL),
        "threads 0": (dict(threads=0), lib.PN_ERR_THREADS),
        "threads 3": (dict(threads=3), lib.PN_ERR_THREADS),
        "batch sum": (dict(counts=array("q", [5, 5, 1])), lib.PN_ERR_BATCH),
        "batch 0": (dict(counts=array("q", [5, 0, 7])), lib.PN_ERR_BATCH),
        "index": (dict(indices=array("q", list(range(11)) + [12])), lib.PN_ERR_INDEX),
        "negative index": (dict(indices=array("q", [-1] + list(range(11)))), lib.PN_ERR_INDEX),
        "label": (dict(data=d_labels), lib.PN_ERR_LABEL),
        "dropout scale 0": (dict(dropout=drop(scale=0.0)), lib.PN_ERR_DROPOUT),
        "dropout scale inf": (dict(dropout=drop(scale=math.inf)), lib.PN_ERR_DROPOUT),
        "dropout scale nan": (dict(dropout=drop(scale=math.nan)), lib.PN_ERR_DROPOUT),
        "dropout keep_len": (dict(dropout=drop(length=len(raw.keep) - 1)), lib.PN_ERR_DROPOUT),
        "dropout no keep": (dict(dropout=drop(keep=ffi.NULL)), lib.PN_ERR_NULL),
    }
    for what, (kw, code) in cases.items():
        assert raw.train(**kw) == code, what
        assert raw.engine._pbuf.tobytes() == before, what
    assert b"dropout" in ffi.string(lib.pn_strerror(lib.PN_ERR_DROPOUT))
    assert raw.train(dropout=ffi.NULL) == lib.PN_OK                 # and it trains
    assert raw.engine._pbuf.tobytes() != before
    assert raw.train(indices=array("q"), counts=array("q"), dropout=ffi.NULL) == lib.PN_OK
    del keep1, keep2


def test_outputs_and_cost_errors():
    raw = Raw()
    lib, ffi, e = raw.lib, raw.ffi, raw.engine
    lay, n = raw.layers()
    out = ffi.new("double[]", 12 * 4)
    cost = ffi.new("double *")
    params = ffi.from_buffer("double[]", e._pbuf)

    def outputs(start=0, stop=12, length=48, buf=out, n_params=e.n_params, threads=1):
        return lib.pn_net_outputs(lay, n, e._model, params, n_params, raw.d, start, stop, buf,
                                  length, threads)

    assert outputs() == lib.PN_OK
    assert outputs(start=3, stop=2, length=0) == lib.PN_ERR_RANGE
    assert outputs(stop=13, length=52) == lib.PN_ERR_RANGE
    assert outputs(length=47) == lib.PN_ERR_RANGE
    assert outputs(buf=ffi.NULL) == lib.PN_ERR_NULL
    assert outputs(n_params=e.n_params + 1) == lib.PN_ERR_PARAMS
    assert outputs(threads=3) == lib.PN_ERR_THREADS
    assert outputs(start=5, stop=5, length=0, buf=ffi.NULL) == lib.PN_OK
    for l2, l1, code in ((0.0, 0.0, lib.PN_OK), (-1.0, 0.0, lib.PN_ERR_RANGE),
                         (math.inf, 0.0, lib.PN_ERR_RANGE), (0.0, math.nan, lib.PN_ERR_RANGE)):
        assert lib.pn_net_cost(lay, n, e._model, params, e.n_params, raw.d, l2, l1, cost,
                               1) == code
    assert lib.pn_net_cost(lay, n, e._model, params, e.n_params, raw.d, 0.0, 0.0, ffi.NULL,
                           1) == lib.PN_ERR_NULL


def test_python_checks():
    raw = Raw()
    e, data = raw.engine, raw.data
    with pytest.raises(InvalidArgument, match="keep bytes"):
        e.train_order(data, list(range(12)), 5, 0.1, dropout=(2.0, bytes(10)))
    with pytest.raises(InvalidArgument, match="scale"):
        e.train_order(data, list(range(12)), 5, 0.1, dropout=(0.0, raw.keep))
    with pytest.raises(InvalidArgument, match="dropout"):
        e.train_order(data, list(range(12)), 5, 0.1, dropout=2.0)
    w, b = e.get_params()
    with pytest.raises(InvalidArgument, match="weights"):
        e.set_params([w[0][:2]] + w[1:], b)
    with pytest.raises(InvalidArgument):
        cengine.CNetEngine([63, "conv3x3", 4], [[]], [[]])
    with pytest.raises(CEngineError):               # the C code checks what Python passed
        raw.d.n_out = 5
        e._train_net(raw.d, raw.indices, raw.counts, raw.step, None, "test")


def test_two_threads_on_a_busy_machine(simd_level):
    """Two threads while two other processes keep both cores busy: the main thread goes
    solo when its worker is late and tries together again (net_team.c), batch by batch,
    within one call; every split gives the bits of one thread."""
    cfg = config([64, "conv6x3", "pool2", "conv9x2", 12, 5], activation="relu", lr=0.1,
                 n=400, epochs=12, batch_size=5, momentum=0.3, p=0.2)
    data, w, b, epochs = setup(cfg)
    one = cengine.CNetEngine(cfg["sizes"], w, b, 1, cfg["cost"], cfg["activation"])
    train(one, cfg, data, epochs)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        two = cengine.CNetEngine(cfg["sizes"], w, b, 2, cfg["cost"], cfg["activation"])
        train(two, cfg, data, epochs)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert_same("busy, 2 threads", [two.get_params(), two.get_velocities()],
                [one.get_params(), one.get_velocities()])
