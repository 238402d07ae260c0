"""The ablation table of docs/results.md, from the JSON files bench/seed_runs.py wrote.

    python bench/seed_runs.py                                            # seed_runs.json
    python bench/seed_runs.py --cost cross-entropy --out bench/results/ablation-cross-entropy.json
    python bench/seed_runs.py --init scaled --out bench/results/ablation-scaled-init.json
    python bench/seed_runs.py --l2 5 --out bench/results/ablation-l2.json
    python bench/seed_runs.py --cost cross-entropy --init scaled --l2 5 \\
        --out bench/results/ablation-all-lr3.json
    python bench/seed_runs.py --cost cross-entropy --init scaled --l2 5 --lr 0.5 \\
        --out bench/results/ablation-all-lr0.5.json
    python bench/seed_runs.py --preset network2                          # seed_runs-network2.json
    python bench/ablation_table.py

Prints one markdown table: the final test accuracy of each configuration for each seed,
then the best, median and worst.
"""

import json
import os
import statistics

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
COLUMNS = [("seed_runs.json", "seed (quadratic, N(0,1), η 3)"),
           ("ablation-cross-entropy.json", "+ cross-entropy"),
           ("ablation-scaled-init.json", "+ scaled init"),
           ("ablation-l2.json", "+ L2 λ=5"),
           ("ablation-all-lr3.json", "all three, η 3"),
           ("ablation-all-lr0.5.json", "all three, η 0.5"),
           ("seed_runs-network2.json", "--preset network2")]


def finals(doc):
    """{seed: final test accuracy} of a seed_runs JSON file (old or new format)."""
    return {r["seed"]: r["final"] if "final" in r else r["accuracy"][-1] for r in doc["runs"]}


def main():
    cols = []
    for name, title in COLUMNS:
        path = os.path.join(RESULTS, name)
        if os.path.exists(path):
            with open(path) as f:
                cols.append((title, finals(json.load(f))))
    seeds = sorted(set().union(*(c for _, c in cols)))
    print("| seed | " + " | ".join(t for t, _ in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for s in seeds:
        print("| %d | " % s + " | ".join("%.2f" % c[s] if s in c else "" for _, c in cols) + " |")
    for what, f in (("best", max), ("median", statistics.median), ("worst", min)):
        print("| **%s** | " % what + " | ".join("**%.2f**" % f(list(c.values())) for _, c in cols)
              + " |")


if __name__ == "__main__":
    main()
