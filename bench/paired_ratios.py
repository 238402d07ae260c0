"""Issue #11's ratios measured in rounds: each round times one epoch of NumPy, of the C
engine via Network.fit on 1 thread and on 2, back to back, so each ratio compares epochs
run seconds apart.  This machine's speed drifts by up to 1.8x within minutes; the ratios
of one round hold through that, where epoch_speed.py's engine-after-engine rows may not.

    python bench/paired_ratios.py [--rounds 8] [--data-dir DIR]

The seed configuration (epoch_speed.py's "seed"); every epoch starts from the same
weights with the same sample order, so every round does the same work.  The engines
take turns going first.
"""

import argparse
import statistics

import epoch_speed as es

TARGETS = (("C via fit, 1 thread", "NumPy", 0.25),
           ("C via fit, 2 threads", "NumPy", 0.165),
           ("C via fit, 2 threads", "C via fit, 1 thread", 0.65))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--data-dir")
    args = ap.parse_args(argv)

    from purenet.data import load_mnist_files
    train, test = load_mnist_files(es.find_data(args.data_dir))
    order, cfg = es.orders(train.n, 1), es.CONFIGS["seed"]
    kit = es.numpy_kit(train, test)
    runs = {"NumPy": lambda: es.bench_matrix(kit, order, cfg, train.n)[0][0],
            "C via fit, 1 thread": lambda: es.bench_fit(train, test, order, 1, cfg)[0][0],
            "C via fit, 2 threads": lambda: es.bench_fit(train, test, order, 2, cfg)[0][0]}
    names = list(runs)
    times = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % 3:] + names[:r % 3]:
            times[name].append(runs[name]())

    print("MNIST 784-100-10, seed configuration, one epoch per engine per round, %d rounds\n"
          % args.rounds)
    for name in names:
        print("%-22s best %.3f s   median %.3f s" % (name, min(times[name]),
                                                     statistics.median(times[name])))
    print("\nratio (per round)                          median    min    max   target")
    for num, den, target in TARGETS:
        r = [a / b for a, b in zip(times[num], times[den])]
        med = statistics.median(r)
        print("%-40s %8.3f %6.3f %6.3f   <= %.3f: %s" % (
            "%s / %s" % (num, den), med, min(r), max(r), target,
            "met" if med <= target else "not met"))


if __name__ == "__main__":
    main()
