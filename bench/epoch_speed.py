"""Seconds per MNIST epoch: the C engine against NumPy and PyTorch, in one run.

    python bench/epoch_speed.py [--repeat 3] [--data-dir DIR] [--threads 1,2]

One epoch = 60,000 samples of 784-100-10, mini-batches of 10, lr 3.0, float64:
19.2 GFLOP (159,800 multiply-adds per sample, forward + backward + update, as if
dense).  Every engine starts from the same weights and sees the same sample
orders.  The C engine skips zero pixels (about 81% of MNIST), so its GFLOP/s is
"effective" (dense-equivalent).  NumPy and PyTorch are optional: a row says
"(not installed)" when they are missing; both are pinned to one thread, like
the C engine's 1-thread row, so the comparison holds on a shared machine.
Timings on a busy machine are noisy: the table reports the best and the median
of --repeat epochs.
"""

import argparse
import os
import random
import resource
import statistics
import sys
import time

# One BLAS/OpenMP thread for NumPy and PyTorch (must be set before they load).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(var, "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

SIZES = [784, 100, 10]
BATCH = 10
LR = 3.0
GFLOP_PER_EPOCH = 19.2


def find_data(arg):
    for d in (arg, os.environ.get("PURENET_DATA"), os.path.join(ROOT, "..", "shared", "data", "mnist"),
              os.path.join(ROOT, "data", "mnist")):
        if d and os.path.isdir(d):
            return d
    sys.exit("MNIST not found: pass --data-dir or set PURENET_DATA to the folder with the four "
             "IDX files")


def initial_params(seed=0):
    rnd = random.Random(seed)
    biases = [[rnd.gauss(0.0, 1.0) for _ in range(n)] for n in SIZES[1:]]
    weights = [[[rnd.gauss(0.0, 1.0) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    return weights, biases


def orders(n, repeat, seed=1):
    rnd = random.Random(seed)
    out = []
    for _ in range(repeat):
        order = list(range(n))
        rnd.shuffle(order)
        out.append(order)
    return out


def hits(outs, labels):
    return sum(1 for o, y in zip(outs, labels) if max(range(len(o)), key=o.__getitem__) == y)


def bench_c(train, test, epochs, threads):
    from purenet import cengine
    weights, biases = initial_params()
    engine = cengine.CEngine(SIZES, weights, biases, threads=threads)
    times = []
    for order in epochs:
        batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
        t = time.perf_counter()
        engine.train_batches(train, batches, LR)
        times.append(time.perf_counter() - t)
    return times, hits(engine.outputs(test), test.labels)


def bench_numpy(train, test, epochs):
    import numpy as np
    weights, biases = initial_params()
    w1, w2 = (np.array(w, dtype=np.float64) for w in weights)
    b1, b2 = (np.array(b, dtype=np.float64) for b in biases)
    X = np.frombuffer(train.pixels, dtype=np.uint8).reshape(train.n, 784).astype(np.float64) / 255.0
    Y = np.zeros((train.n, 10))
    Y[np.arange(train.n), np.frombuffer(train.labels, dtype=np.uint8)] = 1.0
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))          # noqa: E731 (overflow warnings are harmless)
    times = []
    with np.errstate(over="ignore"):
        for order in epochs:
            order = np.array(order)
            t = time.perf_counter()
            for i in range(0, len(order), BATCH):
                idx = order[i:i + BATCH]
                x, y = X[idx], Y[idx]                        # (m, 784), (m, 10)
                a1 = sig(x @ w1.T + b1)                      # (m, 100)
                a2 = sig(a1 @ w2.T + b2)                     # (m, 10)
                d2 = (a2 - y) * a2 * (1.0 - a2)
                d1 = (d2 @ w2) * a1 * (1.0 - a1)
                scale = LR / len(idx)
                w2 -= scale * (d2.T @ a1)
                b2 -= scale * d2.sum(axis=0)
                w1 -= scale * (d1.T @ x)
                b1 -= scale * d1.sum(axis=0)
            times.append(time.perf_counter() - t)
        Xt = np.frombuffer(test.pixels, dtype=np.uint8).reshape(test.n, 784) / 255.0
        out = sig(sig(Xt @ w1.T + b1) @ w2.T + b2)
    return times, int((out.argmax(axis=1) == np.frombuffer(test.labels, dtype=np.uint8)).sum())


def bench_torch(train, test, epochs):
    import torch
    torch.set_num_threads(1)
    weights, biases = initial_params()
    f64 = torch.float64
    w1, w2 = (torch.tensor(w, dtype=f64) for w in weights)
    b1, b2 = (torch.tensor(b, dtype=f64) for b in biases)
    X = torch.frombuffer(bytearray(train.pixels), dtype=torch.uint8).reshape(train.n, 784).to(f64) / 255.0
    labels = torch.frombuffer(bytearray(train.labels), dtype=torch.uint8).long()
    Y = torch.nn.functional.one_hot(labels, 10).to(f64)
    times = []
    with torch.no_grad():
        for order in epochs:
            order = torch.tensor(order)
            t = time.perf_counter()
            for i in range(0, len(order), BATCH):
                idx = order[i:i + BATCH]
                x, y = X[idx], Y[idx]
                a1 = torch.sigmoid(x @ w1.T + b1)
                a2 = torch.sigmoid(a1 @ w2.T + b2)
                d2 = (a2 - y) * a2 * (1.0 - a2)
                d1 = (d2 @ w2) * a1 * (1.0 - a1)
                scale = LR / len(idx)
                w2 -= scale * (d2.T @ a1)
                b2 -= scale * d2.sum(0)
                w1 -= scale * (d1.T @ x)
                b1 -= scale * d1.sum(0)
            times.append(time.perf_counter() - t)
        Xt = torch.frombuffer(bytearray(test.pixels), dtype=torch.uint8).reshape(test.n, 784).to(f64) / 255.0
        out = torch.sigmoid(torch.sigmoid(Xt @ w1.T + b1) @ w2.T + b2)
        tl = torch.frombuffer(bytearray(test.labels), dtype=torch.uint8).long()
    return times, int((out.argmax(1) == tl).sum())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--repeat", type=int, default=3, help="epochs timed per engine (default 3)")
    ap.add_argument("--threads", default=None,
                    help="C engine thread counts, e.g. 1,2 (default: 1 and, if supported, 2)")
    ap.add_argument("--skip", default="", help="comma-separated: c,numpy,torch")
    args = ap.parse_args(argv)

    from purenet.data import load_mnist_files
    train, test = load_mnist_files(find_data(args.data_dir))
    epochs = orders(train.n, args.repeat)
    skip = set(filter(None, args.skip.split(",")))
    rows = []                   # (name, times or None, hits, note)

    if "c" not in skip:
        try:
            from purenet import cengine
            lib, _ = cengine.lib_and_ffi()
            counts = ([int(t) for t in args.threads.split(",")] if args.threads
                      else list(range(1, min(2, lib.PN_MAX_THREADS) + 1)))
            for threads in counts:
                times, h = bench_c(train, test, epochs, threads)
                rows.append(("C engine, %d thread%s" % (threads, "s" if threads > 1 else ""),
                             times, h, ""))
        except ImportError as e:
            rows.append(("C engine", None, None, "(not built: %s)" % e))
    rss_c = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    for name, fn, mod in (("NumPy matrix-batched, 1 thread", bench_numpy, "numpy"),
                          ("PyTorch f64, 1 thread", bench_torch, "torch")):
        if mod in skip:
            continue
        try:
            __import__(mod)
        except ImportError:
            rows.append((name, None, None, "(not installed)"))
            continue
        times, h = fn(train, test, epochs)
        rows.append((name, times, h, ""))

    numpy_best = next((min(t) for n, t, _, _ in rows if n.startswith("NumPy") and t), None)
    print("MNIST %s, batch %d, lr %.1f, float64: one epoch = %d samples = %.1f GFLOP (dense)"
          % ("-".join(map(str, SIZES)), BATCH, LR, train.n, GFLOP_PER_EPOCH))
    print("best / median of %d epochs; test hits after those epochs (of %d)\n" % (args.repeat, test.n))
    head = "%-32s %10s %10s %9s %10s %8s" % ("engine", "best s", "median s", "GFLOP/s",
                                             "vs NumPy", "hits")
    print(head)
    print("-" * len(head))
    for name, times, h, note in rows:
        if times is None:
            print("%-32s %s" % (name, note))
            continue
        best, med = min(times), statistics.median(times)
        ratio = "%.2fx" % (numpy_best / best) if numpy_best else "-"
        print("%-32s %10.3f %10.3f %9.1f %10s %8d" % (name, best, med, GFLOP_PER_EPOCH / best, ratio, h))
    c_rows = [(n, min(t)) for n, t, _, _ in rows if n.startswith("C engine") and t]
    if c_rows and numpy_best:
        for n, best in c_rows:
            print("\n%s / NumPy time ratio: %.2f (%.2fx faster)" % (n, best / numpy_best, numpy_best / best),
                  end="")
        print()
    print("\npeak RSS after the C engine runs: %.0f MB (includes the dataset, 47 MB of pixels)" % rss_c)


if __name__ == "__main__":
    main()
