"""Seconds per MNIST epoch: the C engine and the reference under PyPy against NumPy and
PyTorch, in one run.

    python bench/epoch_speed.py [--config {seed,network2,both,network3}] [--repeat 3]
                                [--data-dir DIR] [--threads 1,2] [--skip c,numpy,torch,pypy]

``--config network3`` is the book's chapter-6 convolutional network against PyTorch,
with options of its own (``--samples``, ``--reference-samples``): see
bench/epoch_speed_network3.py.  What follows is the fully connected configurations.

Two configurations of 784-100-10 sigmoid neurons, mini-batches of 10, float64:

* ``seed`` (the default): the seed's network -- quadratic cost, so
  δᴸ = (a − y) ⊙ σ′(z); weights and biases N(0, 1); lr η = 3.0; the plain step
  w ← w − (η/m) Σ ∂C/∂w, b ← b − (η/m) Σ ∂C/∂b.
* ``network2``: Nielsen's network2.py settings -- cross-entropy cost, so
  δᴸ = a − y (no σ′ factor); "scaled" init (weights N(0, 1)/√n_in, biases
  N(0, 1)); lr η = 0.5; L2 regularisation λ₂ = 5.0 with n = 60,000 (the
  training set), as purenet.reference.regularized_update:
  w ← (1 − ηλ₂/n)·w − (η/m) Σ ∂C/∂w (λ₁ = 0, so no sgn(w) term), b ← b − (η/m) Σ ∂C/∂b.
  Every weight decays at every step, so the C engine cannot skip the update of the
  weights of zero pixels as it does for the seed.
* ``both``: the two in one run, then the ratios the project's issue asks for:
  C network2 / C seed (1 thread, target ≤ 1.5), C network2 / NumPy network2
  (target ≤ 0.5) and C seed / NumPy seed.

Every engine starts from the same weights (``random.Random(0)``, drawn in
Network's order: every bias, then every weight) and sees the same sample orders.
The C engine uses its seed interface for ``seed`` and its chapter-3 interface
(``cost="cross-entropy"``, ``train_batches(..., n=, l2=, l1=, momentum=)``) for
``network2``; if that interface is missing or refuses the call, its row says so
and the other rows are still measured.

The C engine has two rows per thread count.  "C engine <config>, N thread(s)"
times the raw ``engine.train_batches`` call on the pre-sliced epoch.  "C engine
<config> via Network.fit, N thread(s)" times one epoch of ``Network.fit`` (no
test data, so no evaluation): what a user runs, with fit's shuffle of its
seeded generator and the hand-over of the order to the engine included.  Its
network starts from the same weights and its generator is the one that drew
the sample orders, so it shuffles the same orders: it must end at the same test
hits as the train_batches row, and a "!" line says so when it does not.

GFLOP per epoch, dense-equivalent, counted the same way for every engine: 2
flops per multiply-add of the matrix products only -- per sample, the forward
pass (784·100 + 100·10 = 79,400), the error moved back to the hidden layer
(10·100 = 1,000) and the weight gradient δ aᵀ (79,400), 159,800 in all: 19.2
GFLOP for 60,000 samples.  For ``network2`` add 1 flop (a multiply) per weight
per mini-batch for the decay: 79,400 × 6,000 = 0.48 GFLOP, so 19.7 GFLOP.  Not
counted, in either: the sigmoids, the elementwise deltas, the bias sums and the
(η/m)-scaled subtraction of the summed gradient.  The C engine skips zero
pixels (about 81% of MNIST), so its GFLOP/s is "effective".

"reference under PyPy via Network.fit" (when ``pypy3`` is on PATH) is the C fit row
with ``backend="python"``, run by pypy3 in a child process: same weights, same
generator, so the same sample orders, and --repeat epochs, the first with the JIT's
warm-up (its note gives that epoch).  Its parameters after those epochs must be the
C engine's (1 thread, via fit) bit for bit: the table says whether their sha256
digests agree.  Target (issue #19): its best epoch at most 8 times NumPy's.

NumPy and PyTorch share one matrix-batched training loop (the configuration
passes in its output error and its decay factor).  Both are optional: a row
says "(not installed)" when one is missing; both are pinned to one thread, like
the C engine's 1-thread row, so the comparison holds on a shared machine.
Timings on a busy machine are noisy: the table reports the best and the median
of --repeat epochs, and the test hits (of 10,000) after those epochs.
"""

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import namedtuple

# One BLAS/OpenMP thread for NumPy and PyTorch (must be set before they load).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from common import ORDER_SEED, orders, params_digest  # noqa: E402

SIZES = [784, 100, 10]
BATCH = 10


def quadratic_delta(a, y):
    """δᴸ = (a − y) ⊙ σ′(z), with σ′(z) = a (1 − a)."""
    return (a - y) * a * (1.0 - a)


def cross_entropy_delta(a, y):
    """δᴸ = a − y: σ′ cancels out of the cross-entropy cost's ∂C/∂z."""
    return a - y


# cost: the C engine's name for it; delta: δᴸ for the matrix engines; init:
# "large" (N(0, 1)) or "scaled" (weights N(0, 1)/√n_in); l2: λ₂ (0 = no decay).
Config = namedtuple("Config", "name cost delta init lr l2")
CONFIGS = {
    "seed": Config("seed", "quadratic", quadratic_delta, "large", 3.0, 0.0),
    "network2": Config("network2", "cross-entropy", cross_entropy_delta, "scaled", 0.5, 5.0),
}


def describe(cfg):
    init = "N(0,1) init" if cfg.init == "large" else "N(0,1)/sqrt(n_in) init"
    l2 = ", L2 lambda %.1f" % cfg.l2 if cfg.l2 else ""
    return "%s cost, %s%s, lr %.1f" % (cfg.cost, init, l2, cfg.lr)


def gflop(cfg, n):
    """Dense-equivalent GFLOP of one epoch of n samples (see the module docstring)."""
    pairs = list(zip(SIZES[:-1], SIZES[1:]))
    weights = sum(i * o for i, o in pairs)
    back = sum(i * o for i, o in pairs[1:])        # δ moved back through w of layers 2..L
    flops = 2.0 * (2 * weights + back) * n
    if cfg.l2:
        flops += weights * math.ceil(n / BATCH)      # one multiply per weight per step
    return flops / 1e9


def find_data(arg):
    for d in (arg, os.environ.get("PURENET_DATA"),
              os.path.join(ROOT, "..", "shared", "data", "mnist"),
              os.path.join(ROOT, "data", "mnist")):
        if d and os.path.isdir(d):
            return d
    sys.exit("MNIST not found: pass --data-dir or set PURENET_DATA to the folder with the four "
             "IDX files")


def initial_params(init="large", seed=0):
    """Every bias, then every weight, each rnd.gauss(0, 1) (Network's order); a
    "scaled" weight is its draw divided by √n_in."""
    rnd = random.Random(seed)
    biases = [[rnd.gauss(0.0, 1.0) for _ in range(n)] for n in SIZES[1:]]
    weights = [[[rnd.gauss(0.0, 1.0) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    if init == "scaled":
        weights = [[[v / math.sqrt(len(row)) for v in row] for row in w] for w in weights]
    return weights, biases




def hits(outs, labels):
    return sum(1 for o, y in zip(outs, labels) if max(range(len(o)), key=o.__getitem__) == y)


# --- the C engine -----------------------------------------------------------------

def bench_c(train, test, epochs, threads, cfg):
    from purenet import cengine
    weights, biases = initial_params(cfg.init)
    if cfg.name == "seed":      # the seed's interface, as every version of the engine takes it
        engine = cengine.CEngine(SIZES, weights, biases, threads=threads)
        step = {}
    else:                       # the chapter-3 interface
        engine = cengine.CEngine(SIZES, weights, biases, threads=threads, cost=cfg.cost,
                                 activation="sigmoid")
        step = dict(n=train.n, l2=cfg.l2, l1=0.0, momentum=0.0)
    times = []
    for order in epochs:
        batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
        t = time.perf_counter()
        engine.train_batches(train, batches, cfg.lr, **step)
        times.append(time.perf_counter() - t)
    return times, hits(engine.outputs(test), test.labels)


def bench_fit(train, test, epochs, threads, cfg):
    """One epoch of Network.fit per order of epochs, timed around the call; its generator
    is orders()'s, so its shuffles are those orders."""
    from purenet.network import Network
    net = Network(SIZES, seed=0, backend="c", threads=threads, cost=cfg.cost, init=cfg.init)
    net.set_params(*initial_params(cfg.init))
    net.rng = random.Random(ORDER_SEED)
    times = []
    for _ in epochs:
        t = time.perf_counter()
        net.fit(train, 1, batch_size=BATCH, lr=cfg.lr, l2=cfg.l2)
        times.append(time.perf_counter() - t)
    DIGESTS[cfg.name, "c", threads] = params_digest(net)
    return times, hits(net.engine.outputs(test), test.labels)


DIGESTS = {}        # (config, "c" or "pypy", threads): sha256 of the parameters after fit




def c_rows(train, test, epochs, cfg, thread_arg):
    """The C engine's rows for one configuration: (name, times, hits, note)."""
    try:
        from purenet import cengine
        lib, _ = cengine.lib_and_ffi()
    except ImportError as e:
        return [("C engine " + cfg.name, None, None, "(not built: %s)" % e)]
    counts = ([int(t) for t in thread_arg.split(",")] if thread_arg
              else list(range(1, min(2, lib.PN_MAX_THREADS) + 1)))
    # What an unfinished engine raises: a missing keyword or constant, a cost it
    # does not know, or an error code from the C side.
    unfinished = (TypeError, AttributeError, ImportError, ValueError,
                  getattr(cengine, "CEngineError", RuntimeError))
    rows = []
    for threads in counts:
        for how, bench in (("", bench_c), (" via Network.fit", bench_fit)):
            name = "C engine %s%s, %d thread%s" % (cfg.name, how, threads,
                                                  "s" if threads > 1 else "")
            try:
                times, h = bench(train, test, epochs, threads, cfg)
            except unfinished as e:
                what = "has no network2 path yet" if cfg.name == "network2" else "failed"
                rows.append((name, None, None,
                             "(C engine %s: %s: %s)" % (what, type(e).__name__, e)))
                return rows     # the other rows would fail the same way
            rows.append((name, times, h, ""))
    return rows


# --- the reference under PyPy -----------------------------------------------------------

PYPY_ROW = "reference under PyPy via Network.fit"


def pypy_child(config, repeat, data_dir):
    """In the PyPy process: bench_fit's epochs with backend="python"; prints JSON."""
    from purenet.data import load_mnist_files
    from purenet.network import Network
    cfg = CONFIGS[config]
    train, test = load_mnist_files(find_data(data_dir))
    net = Network(SIZES, seed=0, backend="python", cost=cfg.cost, init=cfg.init)
    net.set_params(*initial_params(cfg.init))
    net.rng = random.Random(ORDER_SEED)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        net.fit(train, 1, batch_size=BATCH, lr=cfg.lr, l2=cfg.l2)
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "hits": hits(net.engine.outputs(test), test.labels),
                      "digest": params_digest(net), "version": sys.version.split()[0]}))


def pypy_row(cfg, repeat, data_dir):
    """(name, times, hits, note): the reference engine's epochs under pypy3, in a child
    process (bench_fit's weights and sample orders); the first epoch includes the JIT's
    warm-up, and the note gives it."""
    pypy = shutil.which("pypy3")
    if pypy is None:
        return (PYPY_ROW, None, None, "(pypy3 is not on PATH)")
    cmd = [pypy, os.path.abspath(__file__), "--pypy-child", cfg.name, "--repeat", str(repeat)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
        return (PYPY_ROW, None, None, "(pypy3 failed: %s)" % last)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    DIGESTS[cfg.name, "pypy", 1] = out["digest"]
    return (PYPY_ROW, out["times"], out["hits"], "first epoch %.3f s (JIT warm-up)"
            % out["times"][0])


# --- NumPy and PyTorch: one matrix-batched loop ---------------------------------------

Kit = namedtuple("Kit", "X Y Xt test_labels tensor index sig guard")


def numpy_kit(train, test):
    import numpy as np
    X = np.frombuffer(train.pixels, dtype=np.uint8).reshape(train.n, 784).astype(np.float64) / 255.0
    Y = np.zeros((train.n, 10))
    Y[np.arange(train.n), np.frombuffer(train.labels, dtype=np.uint8)] = 1.0
    Xt = np.frombuffer(test.pixels, dtype=np.uint8).reshape(test.n, 784) / 255.0
    return Kit(X, Y, Xt, np.frombuffer(test.labels, dtype=np.uint8),
               tensor=lambda v: np.array(v, dtype=np.float64), index=np.array,
               sig=lambda z: 1.0 / (1.0 + np.exp(-z)),
               guard=lambda: np.errstate(over="ignore"))   # exp overflow: σ is still right


def torch_kit(train, test):
    import torch
    torch.set_num_threads(1)
    f64 = torch.float64

    def pixels(d):
        pixels = torch.frombuffer(bytearray(d.pixels), dtype=torch.uint8)
        return pixels.reshape(d.n, 784).to(f64) / 255.0

    def labels(d):
        return torch.frombuffer(bytearray(d.labels), dtype=torch.uint8).long()

    Y = torch.nn.functional.one_hot(labels(train), 10).to(f64)
    return Kit(pixels(train), Y, pixels(test), labels(test),
               tensor=lambda v: torch.tensor(v, dtype=f64), index=torch.tensor,
               sig=torch.sigmoid, guard=torch.no_grad)


def bench_matrix(kit, epochs, cfg, n):
    """Train 784-100-10 on kit's arrays, one matrix product per layer per mini-batch;
    returns (seconds per epoch, test hits)."""
    weights, biases = initial_params(cfg.init)
    w1, w2 = map(kit.tensor, weights)
    b1, b2 = map(kit.tensor, biases)
    sig, delta = kit.sig, cfg.delta
    keep = 1.0 - cfg.lr * cfg.l2 / n                      # 1 − ηλ₂/n: the part of w kept
    times = []
    with kit.guard():
        for order in epochs:
            order = kit.index(order)
            t = time.perf_counter()
            for i in range(0, len(order), BATCH):
                idx = order[i:i + BATCH]
                x, y = kit.X[idx], kit.Y[idx]                # (m, 784), (m, 10)
                a1 = sig(x @ w1.T + b1)                      # (m, 100)
                a2 = sig(a1 @ w2.T + b2)                     # (m, 10)
                d2 = delta(a2, y)
                d1 = (d2 @ w2) * a1 * (1.0 - a1)
                scale = cfg.lr / len(idx)                    # η/m
                if cfg.l2:
                    w2 *= keep
                    w1 *= keep
                w2 -= scale * (d2.T @ a1)
                b2 -= scale * d2.sum(0)
                w1 -= scale * (d1.T @ x)
                b1 -= scale * d1.sum(0)
            times.append(time.perf_counter() - t)
        out = sig(sig(kit.Xt @ w1.T + b1) @ w2.T + b2)
    return times, int((out.argmax(1) == kit.test_labels).sum())


MATRIX_ENGINES = (("NumPy matrix-batched, 1 thread", numpy_kit, "numpy"),
                  ("PyTorch f64, 1 thread", torch_kit, "torch"))


# --- the report ---------------------------------------------------------------------

def best(rows, prefix):
    """The best time of the first measured row whose name starts with prefix, or None."""
    return next((min(t) for n, t, _, _ in rows if n.startswith(prefix) and t), None)


def print_table(cfg, rows, train, test, repeat):
    flop = gflop(cfg, train.n)
    numpy_best = best(rows, "NumPy")
    print("MNIST %s sigmoid, %s (%s), batch %d, float64: one epoch = %d samples = "
          "%.1f GFLOP (dense)"
          % ("-".join(map(str, SIZES)), cfg.name, describe(cfg), BATCH, train.n, flop))
    print("best / median of %d epochs; test hits after those epochs (of %d)\n" % (repeat, test.n))
    head = "%-45s %10s %10s %9s %10s %8s" % ("engine", "best s", "median s", "GFLOP/s",
                                             "vs NumPy", "hits")
    print(head)
    print("-" * len(head))
    for name, times, h, note in rows:
        if times is None:
            print("%-45s %s" % (name, note))
            continue
        b, med = min(times), statistics.median(times)
        ratio = "%.2fx" % (numpy_best / b) if numpy_best else "-"
        print("%-45s %10.3f %10.3f %9.1f %10s %8d" % (name, b, med, flop / b, ratio, h))
        if note:
            print("%-45s %s" % ("", note))
    c_best = [(n, min(t)) for n, t, _, _ in rows if n.startswith("C engine") and t]
    if c_best and numpy_best:
        print()
        for n, b in c_best:
            print("%s / NumPy time ratio: %.2f (%.2fx faster)"
                  % (n, b / numpy_best, numpy_best / b))
    pypy_best = best(rows, PYPY_ROW)
    if pypy_best and numpy_best:
        print("%s / NumPy time ratio: %.2f  (target <= 8: %s)" % (
            PYPY_ROW, pypy_best / numpy_best,
            "met" if pypy_best <= 8 * numpy_best else "NOT met"))
    # The reference and the C engine, from the same weights through the same orders:
    # bit-identical parameters (equal digests), or the project's promise is broken.
    pypy_digest, c_digest = DIGESTS.get((cfg.name, "pypy", 1)), DIGESTS.get((cfg.name, "c", 1))
    if pypy_digest and c_digest:
        print("%s parameters %s" % (
            PYPY_ROW,
            "== the C engine's via Network.fit, 1 thread (sha256 %s)" % pypy_digest[:16]
            if pypy_digest == c_digest else "!= the C engine's: NOT bit-identical (!)"))
    # Same maths, different rounding: the hits agree to well within 1%.  Further apart,
    # an engine is not computing this configuration (a cost or decay silently ignored).
    numpy_hits = next((h for n, t, h, _ in rows if n.startswith("NumPy") and t), None)
    for n, t, h, _ in rows:
        if t and numpy_hits is not None and abs(h - numpy_hits) > test.n // 100:
            print("! %s ends at %d hits, NumPy at %d: more than 1%% apart, check that it computes "
                  "the %s configuration" % (n, h, numpy_hits, cfg.name))
    # A fit row computes exactly what the train_batches row of its thread count does.
    hits_of = {n: h for n, t, h, _ in rows if t}
    for n, h in hits_of.items():
        raw = n.replace(" via Network.fit", "")
        if n != raw and hits_of.get(raw, h) != h:
            print("! %s ends at %d hits, %s at %d: fit did not train as train_batches did"
                  % (n, h, raw, hits_of[raw]))
    print()


def ratio_line(label, num, den, target=None):
    if num is None or den is None:
        value = "n/a (a row was not measured)"
    else:
        value = "%.2f" % (num / den)
        if target is not None:
            met = "met" if num / den <= target else "NOT met"
            value += "  (target <= %.1f: %s)" % (target, met)
    print("%-48s %s" % (label + ":", value))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=("seed", "network2", "both", "network3"),
                    default="seed",
                    help="seed: the seed's network (default); network2: Nielsen's network2.py "
                         "settings; both: the two, and the ratios between them; network3: the "
                         "book's chapter-6 conv net against PyTorch (epoch_speed_network3.py)")
    ap.add_argument("--data-dir")
    ap.add_argument("--repeat", type=int, default=None,
                    help="epochs timed per engine (default 3; 1 for network3)")
    ap.add_argument("--threads", default=None,
                    help="C engine thread counts, e.g. 1,2 (default: 1 and, if supported, 2)")
    ap.add_argument("--skip", default="",
                    help="comma-separated: c,numpy,torch,pypy (network3: c,torch,reference)")
    ap.add_argument("--samples", type=int, default=None, metavar="N",
                    help="network3: time epochs of the first N training samples, scaled to "
                         "60,000 (default: all)")
    ap.add_argument("--reference-samples", type=int, default=0, metavar="N",
                    help="network3: also time the reference (backend python) under this "
                         "interpreter on the first N samples, scaled (default 0: not)")
    ap.add_argument("--pypy-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pypy_child:
        return pypy_child(args.pypy_child, args.repeat, args.data_dir)

    from purenet.data import load_mnist_files
    train, test = load_mnist_files(find_data(args.data_dir))
    if args.config == "network3":
        import epoch_speed_network3             # bench/, on sys.path as this script's folder
        return epoch_speed_network3.run(args, train, test)
    args.repeat = args.repeat or 3
    epochs = orders(train.n, args.repeat)
    skip = set(filter(None, args.skip.split(",")))
    names = ("seed", "network2") if args.config == "both" else (args.config,)
    configs = [CONFIGS[c] for c in names]
    rows = {cfg.name: [] for cfg in configs}          # (name, times or None, hits, note)

    # Every C row first, so the peak RSS below is the C engine's (and the dataset's) alone.
    if "c" not in skip:
        for cfg in configs:
            rows[cfg.name] += c_rows(train, test, epochs, cfg, args.threads)
    rss_c = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    for name, make_kit, mod in MATRIX_ENGINES:
        if mod in skip:
            continue
        try:
            __import__(mod)
        except ImportError:
            for cfg in configs:
                rows[cfg.name].append((name, None, None, "(not installed)"))
            continue
        kit = make_kit(train, test)                   # the data as arrays, once for every config
        for cfg in configs:
            rows[cfg.name].append((name,) + bench_matrix(kit, epochs, cfg, train.n) + ("",))
        del kit

    if "pypy" not in skip:      # last: the parent only waits meanwhile
        for cfg in configs:
            rows[cfg.name].append(pypy_row(cfg, args.repeat, args.data_dir))

    for cfg in configs:
        print_table(cfg, rows[cfg.name], train, test, args.repeat)

    if args.config == "both":
        seed, net2 = rows["seed"], rows["network2"]
        c_seed = best(seed, "C engine seed, 1 thread")
        c_net2 = best(net2, "C engine network2, 1 thread")
        print("The issue's figures (best epochs of this run):")
        ratio_line("C network2 / C seed epoch time ratio (1 thread)", c_net2, c_seed, 1.5)
        ratio_line("C network2 / NumPy network2 time ratio", c_net2, best(net2, "NumPy"), 0.5)
        ratio_line("C seed / NumPy seed time ratio", c_seed, best(seed, "NumPy"))
        print()
    if "c" not in skip:
        print("peak RSS after the C engine runs: %.0f MB (includes the dataset, 47 MB of "
              "pixels)" % rss_c)


if __name__ == "__main__":
    main()
