"""The C engine's epoch of a layered network on MNIST (cengine.CNetEngine), seconds per
60,000 images, with 1 and 2 threads.

    PURENET_DATA=/work/shared/data/mnist python bench/cnet_speed.py [--images N] [--rounds R]
        [--sizes 784,conv20x5,pool2,conv40x5,pool2,100,10] [--threads 1,2] [--torch]

Trains the book's network (ReLU, log-likelihood, batches of 10, lr 0.03, float64) from the
same start on N training images (a shuffled order), each thread count in turn, R rounds,
and prints each time scaled to 60,000 images and the best of each.  The parameters after
the round must be the same bits for every thread count.  --torch: each round also times
PyTorch (float64, one thread, the same network, images and batches; SGD with the same
L2 as weight decay), the book's network only."""

import argparse
import math
import random
import time
from array import array

import common  # noqa: F401  (the repository's purenet first on the path)
from purenet import cengine, data  # noqa: E402
from purenet.checks import check_sizes, layers_of  # noqa: E402


def initial(sizes, rnd):
    """network3's start: N(0, 1/fan_out) weights for conv layers (as the book), N(0, 1/n_in)
    for fully connected ones, N(0, 1) biases."""
    layers = layers_of(check_sizes(sizes))
    weights, biases = [], []
    for prev, ly in zip(layers, layers[1:]):
        if ly.kind == "pool":
            weights.append([])
            biases.append([])
        elif ly.kind == "conv":
            maps = prev.shape[0] if len(prev.shape) == 3 else 1
            sd = math.sqrt(1.0 / (ly.n * ly.k * ly.k / 4))
            weights.append([[[[rnd.gauss(0, sd) for _ in range(ly.k)] for _ in range(ly.k)]
                             for _ in range(maps)] for _ in range(ly.n)])
            biases.append([rnd.gauss(0, 1) for _ in range(ly.n)])
        else:
            n_in = math.prod(prev.shape)
            weights.append([[rnd.gauss(0, math.sqrt(1.0 / n_in)) for _ in range(n_in)]
                            for _ in range(ly.n)])
            biases.append([rnd.gauss(0, 1) for _ in range(ly.n)])
    return weights, biases


def torch_epoch(train, order, batch, lr, l2):
    """Seconds of PyTorch's epoch (float64, 1 thread) over order, batches of `batch`."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 20, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(20, 40, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(640, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10)).double()
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=l2 / train.n)
    images = torch.tensor(list(train.pixels), dtype=torch.float64).view(-1, 1, 28, 28) / 255.0
    labels = torch.tensor(list(train.labels), dtype=torch.long)
    index = torch.tensor(list(order), dtype=torch.long)
    t0 = time.perf_counter()
    for i in range(0, len(index), batch):
        at = index[i:i + batch]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(images[at]), labels[at])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sizes", default="784,conv20x5,pool2,conv40x5,pool2,100,10")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--simd", type=int, default=2, help="the highest SIMD level to use (2, 1)")
    ap.add_argument("--torch", action="store_true", help="also time PyTorch, float64, 1 thread")
    args = ap.parse_args()
    cengine.lib_and_ffi()[0].pn_limit_simd(args.simd)
    sizes = [int(s) if s.isdigit() else s for s in args.sizes.split(",")]
    train, _ = data.load_mnist(download=False)
    rnd = random.Random(1)
    w, b = initial(sizes, rnd)
    order = list(range(train.n))
    rnd.shuffle(order)
    order = array("q", order[:args.images])
    print("C engine: %s; %s, %d images a round" % (cengine.simd_name(), args.sizes, args.images))
    best, params = {}, {}
    for r in range(args.rounds):
        for threads in map(int, args.threads.split(",")):
            e = cengine.CNetEngine(sizes, w, b, threads, "log-likelihood", "relu")
            t0, c0 = time.perf_counter(), time.process_time()
            e.train_order(train, order, args.batch, 0.03, l2=0.1)
            dt = (time.perf_counter() - t0) * 60000 / args.images
            cpu = (time.process_time() - c0) * 60000 / args.images
            best[threads] = min(best.get(threads, dt), dt)
            params[threads] = e._pbuf.tobytes()
            print("round %d, %d thread%s: %.2f s per 60,000 images (CPU time %.2f s)"
                  % (r + 1, threads, "s" if threads > 1 else "", dt, cpu), flush=True)
        if args.torch:
            dt = torch_epoch(train, order, args.batch, 0.03, 0.1) * 60000 / args.images
            best["torch"] = min(best.get("torch", dt), dt)
            print("round %d, PyTorch float64, 1 thread: %.2f s per 60,000 images" % (r + 1, dt),
                  flush=True)
    assert len(set(params.values())) == 1, "the thread counts disagree"
    torch_best = best.pop("torch", None)
    for threads, dt in sorted(best.items()):
        print("best, %d thread%s: %.2f s per 60,000 images" % (threads, "s" if threads > 1 else "",
                                                               dt))
    if 1 in best and 2 in best:
        print("2 threads / 1 thread: %.3f" % (best[2] / best[1]))
    if torch_best is not None:
        print("best, PyTorch: %.2f s per 60,000 images" % torch_best)
        for threads, dt in sorted(best.items()):
            print("C, %d thread%s / PyTorch: %.3f" % (threads, "s" if threads > 1 else "",
                                                      dt / torch_best))


if __name__ == "__main__":
    main()
