"""What docs/performance.md profiles: 4 epochs of the seed configuration, C engine, 1 thread.

    perf record -o /tmp/perf.data python bench/profile_epoch.py [--epochs 4] [--threads 1]
    perf report -i /tmp/perf.data --sort symbol --stdio
"""

import argparse
import time

import common
from purenet import Network


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    train, _ = common.load_mnist()
    net = Network([784, 100, 10], seed=0, backend="c", threads=args.threads)
    start = time.perf_counter()
    net.fit(train, args.epochs, 10, 3.0)
    print("%d epochs in %.2f s" % (args.epochs, time.perf_counter() - start))


if __name__ == "__main__":
    main()
