"""Two threads on a shared machine: one epoch of the seed configuration on 1 thread and
on 2, in turns, first on a quiet machine, then with a busy process (a Python busy loop)
taking a core; prints the median time of each and the ratio 2 threads / 1 thread per
round (issue #18's goal: at most 1.1 with the busy process, and no slower than before
when quiet).

    python bench/contention.py [--rounds 5] [--data-dir DIR]

The busy process is started by this script and ended by its pid.
"""

import argparse
import statistics
import subprocess
import sys
import time

import epoch_speed as es


def rounds(train, n, order):
    from purenet import cengine
    params = es.initial_params("large")
    times = {1: [], 2: []}
    for r in range(n):
        for threads in ((1, 2) if r % 2 == 0 else (2, 1)):
            engine = cengine.CEngine(es.SIZES, *params, threads=threads)
            t = time.perf_counter()
            engine.train_order(train, order, es.BATCH, es.CONFIGS["seed"].lr)
            times[threads].append(time.perf_counter() - t)
    return times


def report(what, times):
    ratios = [b / a for a, b in zip(times[1], times[2])]
    print("%-28s 1 thread %.3f s   2 threads %.3f s   2/1 median %.3f (min %.3f, max %.3f)"
          % (what, statistics.median(times[1]), statistics.median(times[2]),
             statistics.median(ratios), min(ratios), max(ratios)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data-dir")
    args = ap.parse_args(argv)
    from array import array
    from purenet.data import load_mnist_files
    train, _ = load_mnist_files(es.find_data(args.data_dir))
    order = array("q", es.orders(train.n, 1)[0])
    print("MNIST 784-100-10, seed configuration, one epoch per run, %d rounds" % args.rounds)
    report("quiet", rounds(train, args.rounds, order))
    busy = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        time.sleep(0.5)
        report("busy process on a core", rounds(train, args.rounds, order))
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    main()
