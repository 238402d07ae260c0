"""The seed's configuration for seeds 0-9: what 784-100-10, batch 10, lr 3.0, 30 epochs
really does on full MNIST.

    python bench/seed_runs.py [--seeds 0-9] [--epochs 30] [--backend c] [--out FILE]

Writes every epoch's test accuracy and the stuck output units of each run to a JSON
file (default bench/results/seed_runs.json) and prints a summary table.
"""

import argparse
import json
import os
import statistics
import time

import common                                      # noqa: E402  (bench/common.py)
from purenet import Network, report          # noqa: E402
from purenet.dataset import argmax           # noqa: E402


def seed_list(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=seed_list, default=list(range(10)))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--backend", default="c")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "results", "seed_runs.json"))
    args = p.parse_args()
    train, test = common.load_mnist(args.data_dir)
    labels = [test.label(i) for i in range(test.n)]
    runs = []
    for seed in args.seeds:
        net = Network([784, 100, 10], seed=seed, backend=args.backend)
        t0 = time.perf_counter()
        acc, stuck = [], []

        def after_epoch(rec):                 # called by fit after each epoch
            acc.append(100.0 * rec["accuracy"])
            units = report.output_units(net.test_outputs, labels)
            stuck.append([u["unit"] for u in units if report.is_saturated(u)])

        net.fit(train, args.epochs, batch_size=10, lr=3.0, test=test, callback=after_epoch)
        units = report.output_units(net.test_outputs, labels)
        preds = [argmax(o) for o in net.test_outputs]
        m = report.confusion_matrix(labels, preds, 10)
        run = {"seed": seed, "accuracy": acc, "seconds": time.perf_counter() - t0,
               "saturated_units_per_epoch": stuck,
               "final_units": units,
               "final_recall": [m[d][d] / max(1, sum(m[d])) for d in range(10)],
               "dead_unit_lines": report.dead_unit_lines(units)}
        runs.append(run)
        best = max(range(len(acc)), key=acc.__getitem__)
        print("seed %d: final %.2f%%, best %.2f%% (epoch %d), %.1f s%s" % (
            seed, acc[-1], acc[best], best + 1, run["seconds"],
            "".join("\n    ! " + l for l in run["dead_unit_lines"])), flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        json.dump({"config": "784-100-10 sigmoid, quadratic cost, N(0,1) init, batch 10, "
                             "lr 3.0, %d epochs, backend %s" % (args.epochs, args.backend),
                   "runs": runs}, f, indent=1)
    os.replace(args.out + ".tmp", args.out)

    marks = [e for e in (1, 5, 10, 30) if e <= args.epochs]
    print()
    print("| seed | " + " | ".join("epoch %d" % e for e in marks) + " | best (epoch) | final |")
    print("|---" * (len(marks) + 3) + "|")
    for r in runs:
        a = r["accuracy"]
        b = max(range(len(a)), key=a.__getitem__)
        print("| %d | " % r["seed"] + " | ".join("%.2f" % a[e - 1] for e in marks)
              + " | %.2f (%d) | %.2f |" % (a[b], b + 1, a[-1]))
    finals = [r["accuracy"][-1] for r in runs]
    print()
    print("final accuracy over %d seeds: best %.2f%%, median %.2f%%, worst %.2f%% "
          "(the seed post claims 96.59%%)" % (len(finals), max(finals),
                                               statistics.median(finals), min(finals)))
    print("results written to %s" % args.out)


if __name__ == "__main__":
    main()
