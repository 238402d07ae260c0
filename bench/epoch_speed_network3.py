"""``python bench/epoch_speed.py --config network3``: one epoch of the book's chapter-6
network in PyTorch and in purenet's C engine (1 and 2 threads), in one run.

    python bench/epoch_speed.py --config network3 [--samples N] [--repeat 1]
                                [--threads 1,2] [--reference-samples N] [--skip torch,c,reference]

The network: ``[784, "conv20x5", "pool2", "conv40x5", "pool2", 100, 10]`` -- 20 maps of
5×5 filters (24×24), 2×2 max-pooling (12×12), 40 maps of 5×5 filters over the 20
(8×8), pooling (4×4), 100 fully connected ReLU neurons, 10 softmax outputs -- ReLU,
log-likelihood cost, mini-batches of 10, η = 0.03 (the book's for this network with
ReLU), no regularisation, float64.

* PyTorch: ``torch.nn`` Conv2d, ReLU, MaxPool2d, Linear; CrossEntropyLoss (the mean
  over the mini-batch, so SGD's step is w − (η/m) Σ ∂C/∂w, as purenet's) and
  ``torch.optim.SGD``; float64, ``torch.set_num_threads(1)``.
* purenet: ``Network(SIZES, seed=0, backend="c", threads=t, cost="log-likelihood",
  activation="relu", init="scaled")`` and one ``fit(train, 1, batch_size=10, lr=0.03)``
  per timed epoch (the shuffle and the hand-over of the order included).
* The reference (``backend="python"``) under the running interpreter (run this script
  with pypy3 for PyPy's figure), on the first ``--reference-samples`` samples only, its
  time scaled to 60,000; then a C network trains on the same slice in the same order,
  and the table says whether their parameters agree bit for bit (sha256 digests).

Every engine starts from the same weights: the purenet network's (seed 0), copied into
PyTorch's layers; and sees the same sample orders (random.Random(1)'s shuffles, which
is what fit draws with ``net.rng = random.Random(1)``).  So the test hits after training
agree to well within 1% (PyTorch adds its terms in another order); a "!" line says
when they do not.

``--samples N`` times each epoch on the first N training samples and scales the time to
60,000 (default: all 60,000).  Every thread count must end with the same parameters (its
row says so when not).
"""

import platform
import random
import statistics
import time

from common import ORDER_SEED, orders, params_digest

SIZES = [784, "conv20x5", "pool2", "conv40x5", "pool2", 100, 10]
BATCH = 10
LR = 0.03                # the book's η for this network with ReLU units (chapter 6)
EPOCH = 60000            # a full MNIST epoch: every time is also given scaled to it
SETTINGS = dict(cost="log-likelihood", activation="relu", init="scaled")
C_TARGET = 0.5           # issue 21: C, 1 thread, at most 0.5x PyTorch's epoch
THREADS_TARGET = 0.65    # issue 21: 2 threads at most 0.65x the time of 1




def purenet_net(backend, threads=1):
    from purenet.network import Network
    net = Network(SIZES, seed=0, backend=backend, threads=threads, **SETTINGS)
    net.rng = random.Random(ORDER_SEED)       # fit's shuffles: orders()'s
    return net




# --- PyTorch ---------------------------------------------------------------------------

def torch_model(weights, biases):
    """The network in torch.nn, float64, starting from weights and biases (pool layers'
    empty entries left out)."""
    import torch
    from torch import nn
    model = nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 40, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(640, 100), nn.ReLU(), nn.Linear(100, 10)).double()
    layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    params = [(w, b) for w, b in zip(weights, biases) if w]
    with torch.no_grad():
        for layer, (w, b) in zip(layers, params):
            layer.weight.copy_(torch.tensor(w, dtype=torch.float64))
            layer.bias.copy_(torch.tensor(b, dtype=torch.float64))
    return model


def torch_images(data):
    import torch
    pixels = torch.frombuffer(bytearray(data.pixels), dtype=torch.uint8)
    return pixels.reshape(data.n, 1, 28, 28).to(torch.float64) / 255.0


def torch_row(train, test, epochs, params):
    """(times, hits): one epoch of PyTorch per order of epochs."""
    import torch
    torch.set_num_threads(1)
    model = torch_model(*params)
    X, Xt = torch_images(train), torch_images(test)
    Y = torch.frombuffer(bytearray(train.labels), dtype=torch.uint8).long()
    loss_of = torch.nn.CrossEntropyLoss()
    sgd = torch.optim.SGD(model.parameters(), lr=LR)
    times = []
    for order in epochs:
        order = torch.tensor(order)
        t = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            sgd.zero_grad()
            loss_of(model(X[idx]), Y[idx]).backward()
            sgd.step()
        times.append(time.perf_counter() - t)
    labels = torch.frombuffer(bytearray(test.labels), dtype=torch.uint8).long()
    with torch.no_grad():
        hits = sum(int((model(Xt[i:i + 1000]).argmax(1) == labels[i:i + 1000]).sum())
                   for i in range(0, test.n, 1000))
    return times, hits


# --- purenet --------------------------------------------------------------------------

def fit_epochs(net, train, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        net.fit(train, 1, batch_size=BATCH, lr=LR)
        times.append(time.perf_counter() - t)
    return times


def c_rows(train, test, repeat, thread_counts):
    """The C engine's rows: (name, times, samples, hits, note)."""
    rows, digests = [], set()
    for threads in thread_counts:
        name = "C engine via Network.fit, %d thread%s" % (threads, "s" if threads > 1 else "")
        try:
            net = purenet_net("c", threads)
        except Exception as e:         # the C engine is not built here: say so
            return rows + [(name, None, 0, None, "(%s: %s)" % (type(e).__name__, e))]
        rows.append((name, fit_epochs(net, train, repeat), train.n, net.evaluate(test), ""))
        digests.add(params_digest(net))
    if len(digests) > 1:
        rows[-1] = rows[-1][:4] + ("! its parameters differ from 1 thread's: NOT bit-identical",)
    return rows


def reference_row(train, samples):
    """The reference on the first `samples` samples, scaled; and whether the C engine,
    from the same weights through the same order, ends with the same bits."""
    name = "reference (%s) via Network.fit" % platform.python_implementation()
    part = train.head(samples)
    try:
        net = purenet_net("python")
        times = fit_epochs(net, part, 1)
    except Exception as e:
        return (name, None, 0, None, "(%s: %s)" % (type(e).__name__, e))
    try:
        c = purenet_net("c")
        c.fit(part, 1, batch_size=BATCH, lr=LR)
        same = params_digest(c) == params_digest(net)
        note = ("parameters after %d samples %s the C engine's (1 thread)"
                % (part.n, "==" if same else "!= (NOT bit-identical)"))
    except Exception as e:
        note = "(no C engine to compare with: %s)" % type(e).__name__
    return (name, times, part.n, None, note)


# --- the report ------------------------------------------------------------------------

def scaled(seconds, samples):
    return seconds * EPOCH / samples


def best_scaled(rows, prefix):
    return next((scaled(min(t), n) for name, t, n, _, _ in rows
                 if name.startswith(prefix) and t), None)


def ratio(label, num, den, target):
    if num is None or den is None:
        return "%-36s n/a (a row was not measured)" % (label + ":")
    return "%-36s %.2f  (target <= %.2f: %s)" % (label + ":", num / den, target,
                                                 "met" if num / den <= target else "NOT met")


def report(rows, train, test, repeat):
    print("MNIST network3: %s, ReLU, log-likelihood, batch %d, lr %g, float64"
          % ("-".join(map(str, SIZES)), BATCH, LR))
    print("best / median of %d epoch(s) of the samples given, and the best scaled to %d; "
          "test hits (of %d)\n" % (repeat, EPOCH, test.n))
    head = "%-40s %8s %9s %9s %11s %6s" % ("engine", "samples", "best s", "median s",
                                          "s / %d" % EPOCH, "hits")
    print(head)
    print("-" * len(head))
    for name, times, n, hits, note in rows:
        if times is None:
            print("%-40s %s" % (name, note))
            continue
        print("%-40s %8d %9.3f %9.3f %11.1f %6s" % (
            name, n, min(times), statistics.median(times), scaled(min(times), n),
            "-" if hits is None else hits))
        if note:
            print("%-40s %s" % ("", note))
    torch_hits = next((h for name, t, _, h, _ in rows if name.startswith("PyTorch") and t), None)
    for name, t, _, h, _ in rows:
        if t and None not in (h, torch_hits) and abs(h - torch_hits) > test.n // 100:
            print("! %s ends at %d hits, PyTorch at %d: more than 1%% apart"
                  % (name, h, torch_hits))
    print()
    c1 = best_scaled(rows, "C engine via Network.fit, 1 ")
    c2 = best_scaled(rows, "C engine via Network.fit, 2 ")
    print(ratio("C 1 thread / PyTorch", c1, best_scaled(rows, "PyTorch"), C_TARGET))
    print(ratio("C 2 threads / C 1 thread", c2, c1, THREADS_TARGET))


def run(args, train, test):
    """epoch_speed.py's main for --config network3."""
    skip = set(filter(None, args.skip.split(",")))
    repeat = args.repeat or 1
    part = train.head(args.samples) if args.samples else train
    thread_counts = [int(t) for t in (args.threads or "1,2").split(",")]
    rows = []
    if "c" not in skip:
        rows += c_rows(part, test, repeat, thread_counts)
    if "torch" not in skip:
        try:
            import torch  # noqa: F401
        except ImportError:
            rows.append(("PyTorch f64, 1 thread", None, 0, None, "(not installed)"))
        else:
            net = purenet_net("python")
            times, hits = torch_row(part, test, orders(part.n, repeat),
                                    (net.weights, net.biases))
            rows.append(("PyTorch f64, 1 thread", times, part.n, hits,
                         "start: the purenet network's"))
    if "reference" not in skip and args.reference_samples:
        rows.append(reference_row(train, args.reference_samples))
    report(rows, part, test, repeat)
