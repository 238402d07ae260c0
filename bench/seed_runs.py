"""One configuration for seeds 0-9 on full MNIST: what it really does, seed by seed.

    python bench/seed_runs.py [--seeds 0-9] [--out FILE] [purenet-train options...]

    python bench/seed_runs.py                                # the seed's run (--preset seed)
    python bench/seed_runs.py --preset network2              # chapter 3
    python bench/seed_runs.py --preset network3 --seeds 0-4 --threads 2   # chapter 6
    python bench/seed_runs.py --cost cross-entropy --out bench/results/ablation-ce.json

The options after ours are purenet-train's (default ``--backend c``), resolved exactly as
the command line resolves them (presets, the validation split), so each run is the run
``python -m purenet.train --seed N ...`` makes.  Writes every epoch's figures, the kept
epoch and the stuck output units of each run to a JSON file (default
bench/results/seed_runs[-PRESET].json) and prints a table.
"""

import argparse
import json
import os
import statistics
import time

import common                                      # noqa: F401  (puts purenet on the path)
from purenet import Network
from purenet.cli import report, train as cli
from purenet.dataset import argmax

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def seed_list(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def run_seed(argv, seed):
    """Train one seed as ``purenet-train ARGV --seed SEED`` would; its figures."""
    args = cli.parse_args(["--backend", "c"] + argv + ["--seed", str(seed), "--quiet"])
    train, validation, test = cli.load_data(args)
    net = Network(args.sizes, seed=seed, backend=args.backend, threads=args.threads,
                  cost=args.cost, activation=args.activation, init=args.init)
    labels = [test.label(i) for i in range(test.n)]
    stuck = []

    def after_epoch(rec):
        units = report.output_units(net.test_outputs, labels)
        stuck.append([u["unit"] for u in units if report.is_saturated(u)])

    t0 = time.perf_counter()
    records = net.fit(train, args.epochs, batch_size=args.batch_size, lr=args.lr, test=test,
                      validation=validation, l2=args.l2, l1=args.l1, momentum=args.momentum,
                      early_stop=args.early_stop, lr_schedule=args.lr_schedule,
                      dropout=args.dropout, callback=after_epoch)
    seconds = time.perf_counter() - t0
    outputs = net.outputs(test)                      # the network kept: the best epoch's
    preds = [argmax(o) for o in outputs]
    units = report.output_units(outputs, labels)
    m = report.confusion_matrix(labels, preds, test.n_out)
    return args, {
        "seed": seed, "seconds": seconds, "epochs": len(records),
        "accuracy": [100.0 * r["accuracy"] for r in records],
        "validation_accuracy": [100.0 * r["validation_accuracy"] for r in records
                                if "validation_accuracy" in r],
        "lr": [r["lr"] for r in records],
        "kept_epoch": net.meta.get("best_epoch", len(records)),
        "final": 100.0 * sum(p == y for p, y in zip(preds, labels)) / test.n,
        "saturated_units_per_epoch": stuck, "final_units": units,
        "final_recall": [m[d][d] / max(1, sum(m[d])) for d in range(test.n_out)],
        "dead_unit_lines": report.dead_unit_lines(units)}


def describe(args, n_train, n_validation):
    return ("%s, %s cost, %s hidden neurons, %s init, batch %d, lr %g, l2 %g, l1 %g, "
            "momentum %g, dropout %g, %d training samples%s%s%s, up to %d epochs, backend %s "
            "(--preset %s)"
            % ("-".join(map(str, args.sizes)), args.cost, args.activation, args.init,
               args.batch_size, args.lr, args.l2, args.l1, args.momentum, args.dropout, n_train,
               ", validation %d" % n_validation if n_validation else "",
               ", lr schedule %d" % args.lr_schedule if args.lr_schedule else "",
               ", early stop %d" % args.early_stop if args.early_stop else "",
               args.epochs, args.backend, args.preset))


def table(runs):
    marks = [e for e in (1, 5, 10, 30, 60) if any(len(r["accuracy"]) >= e for r in runs)]
    lines = ["| seed | " + " | ".join("epoch %d" % e for e in marks)
             + " | epochs run | kept epoch | final test accuracy |",
             "|---" * (len(marks) + 4) + "|"]
    for r in runs:
        a = r["accuracy"]
        lines.append("| %d | " % r["seed"] + " | ".join(
            "%.2f" % a[e - 1] if e <= len(a) else "" for e in marks)
            + " | %d | %d | %.2f |" % (r["epochs"], r["kept_epoch"], r["final"]))
    finals = [r["final"] for r in runs]
    lines.append("")
    lines.append("final test accuracy over %d seeds: best %.2f%%, median %.2f%%, worst %.2f%%"
                 % (len(finals), max(finals), statistics.median(finals), min(finals)))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=seed_list, default=list(range(10)))
    p.add_argument("--out", default=None, help="the JSON file to write")
    ours, argv = p.parse_known_args()
    runs, config = [], None
    for seed in ours.seeds:
        args, run = run_seed(argv, seed)
        if config is None:
            train, validation, _ = cli.load_data(args)
            config = describe(args, train.n, validation.n if validation else 0)
            print(config, flush=True)
        runs.append(run)
        print("seed %d: %d epochs, kept epoch %d, test %.2f%%, %.1f s%s" % (
            seed, run["epochs"], run["kept_epoch"], run["final"], run["seconds"],
            "".join("\n    ! " + l for l in run["dead_unit_lines"])), flush=True)
    out = ours.out or os.path.join(RESULTS, "seed_runs%s.json" % (
        "" if args.preset == "seed" else "-" + args.preset))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out + ".tmp", "w") as f:
        json.dump({"config": config, "options": argv, "runs": runs}, f, indent=1)
    os.replace(out + ".tmp", out)
    print()
    print(table(runs))
    print("results written to %s" % out)


if __name__ == "__main__":
    main()
