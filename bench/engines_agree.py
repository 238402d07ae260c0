"""One full 60,000-sample epoch with the pure-Python reference and with the C
engine, from the same seed: are all weights and biases bit-identical afterwards?

    python bench/engines_agree.py [--config seed|network2] [--seed 0] [--limit N] [--data-dir DIR]

seed: the seed's network (784-100-10 sigmoid, quadratic cost, N(0, 1), batch 10,
lr 3.0); network2: Nielsen's network2.py (cross-entropy, scaled init, L2 5.0,
lr 0.5).  Takes a few minutes (the reference's epoch).
"""

import argparse
import sys
import time

import common                                      # noqa: E402  (bench/common.py)
from purenet import Network          # noqa: E402

CONFIGS = {"seed": ({}, dict(lr=3.0)),
           "network2": (dict(cost="cross-entropy", init="scaled"), dict(lr=0.5, l2=5.0))}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="train on the first N samples only")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--config", choices=sorted(CONFIGS), default="seed")
    args = p.parse_args()
    net_opts, fit_opts = CONFIGS[args.config]
    train, test = common.load_mnist(args.data_dir)
    train = train.head(args.limit)
    nets, rows = {}, []
    for backend in ("c", "python"):
        net = Network([784, 100, 10], seed=args.seed, backend=backend, **net_opts)
        t0 = time.perf_counter()
        net.fit(train, 1, batch_size=10, **fit_opts)
        seconds = time.perf_counter() - t0
        hits = net.evaluate(test)
        nets[backend] = net
        rows.append((backend, seconds, hits))
        print("%-6s one epoch of %d samples: %8.2f s   test %d / %d = %.2f%%"
              % (backend, train.n, seconds, hits, test.n, 100.0 * hits / test.n), flush=True)
    a, b = nets["python"], nets["c"]
    pairs = [(x, y) for wa, wb in zip(a.weights, b.weights) for ra, rb in zip(wa, wb)
             for x, y in zip(ra, rb)]
    pairs += [(x, y) for ba, bb in zip(a.biases, b.biases) for x, y in zip(ba, bb)]
    differ = [(x, y) for x, y in pairs if x != y]
    max_diff = max((abs(x - y) for x, y in differ), default=0.0)
    print("parameters compared: %d; bit-identical: %s; differing: %d; max |difference|: %g"
          % (len(pairs), "yes" if not differ else "no", len(differ), max_diff))
    print("speed-up of the C engine over the reference: %.0fx" % (rows[1][1] / rows[0][1]))
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
