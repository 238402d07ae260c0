"""The reference engine against another version of itself, paired: does a change to
purenet/reference.py make it faster or slower, under PyPy and under CPython?

    python bench/reference_speed.py [--base REV] [--interp /usr/bin/pypy3,python]
                                    [--samples N] [--rounds 5] [--config seed|network2]
                                    [--data-dir DIR]

Each round runs, for each interpreter, one child process per version (this working
tree's reference.py, and --base's, default HEAD, from git), the versions taking turns
going first.  A child trains the first --samples samples of epoch_speed.py's first
sample order from its initial weights (784-100-10, batch 10; seed: lr 3.0, quadratic;
network2: cross-entropy, scaled init, lr 0.5, L2 5.0) with ReferenceEngine.train_order
and prints the seconds (JIT warm-up included, as in a real epoch) and the sha256 of
every parameter's repr.  The table gives, per interpreter, the ratio of the two
versions' times in each round (median, min, max): below 1 means this tree is faster.
The hashes must agree (a change to the reference must not change a bit).
"""

import argparse
import hashlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(path, samples, config, data_dir):
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    import epoch_speed as es
    from purenet.data import load_mnist_files
    spec = importlib.util.spec_from_file_location("reference_under_test", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    cfg = es.CONFIGS[config]
    train, _ = load_mnist_files(es.find_data(data_dir))
    order = es.orders(train.n, 1)[0][:samples]
    engine = ref.ReferenceEngine(es.SIZES, *es.initial_params(cfg.init), cost=cfg.cost)
    t = time.perf_counter()
    engine.train_order(train, order, es.BATCH, cfg.lr, n=train.n, l2=cfg.l2)
    seconds = time.perf_counter() - t
    digest = hashlib.sha256(repr(engine.get_params()).encode()).hexdigest()
    print("%.6f %s" % (seconds, digest))


def run(interp, path, args):
    cmd = [interp, os.path.abspath(__file__), "--child", path, "--samples", str(args.samples),
           "--config", args.config]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    seconds, digest = out.split()
    return float(seconds), digest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD")
    ap.add_argument("--interp", default="/usr/bin/pypy3," + sys.executable)
    ap.add_argument("--samples", type=int, default=None,
                    help="samples per child (default: 20,000 under PyPy, 2,000 otherwise)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--config", choices=("seed", "network2"), default="seed")
    ap.add_argument("--data-dir")
    ap.add_argument("--child")
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.samples, args.config, args.data_dir)

    base_src = subprocess.run(["git", "-C", ROOT, "show", args.base + ":purenet/reference.py"],
                              check=True, stdout=subprocess.PIPE).stdout
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write(base_src)
    versions = {"tree": os.path.join(ROOT, "purenet", "reference.py"), "base": f.name}
    interps = args.interp.split(",")
    samples_arg = args.samples
    times = {(i, v): [] for i in interps for v in versions}
    digests = set()
    try:
        for r in range(args.rounds):
            for interp in interps:
                args.samples = samples_arg or (20000 if "pypy" in interp else 2000)
                for v in (("tree", "base") if r % 2 == 0 else ("base", "tree")):
                    seconds, digest = run(interp, versions[v], args)
                    times[interp, v].append(seconds)
                    digests.add(digest)
                    print("round %d %-22s %-4s %8.3f s  %s" % (r, interp, v, seconds, digest[:16]),
                          flush=True)
    finally:
        os.unlink(f.name)
    print("\n%s config, tree / %s time ratio per round (below 1: the tree is faster)" % (
        args.config, args.base))
    for interp in interps:
        r = [a / b for a, b in zip(times[interp, "tree"], times[interp, "base"])]
        print("%-24s median %.3f  min %.3f  max %.3f   (tree best %.3f s, base best %.3f s)" % (
            interp, statistics.median(r), min(r), max(r), min(times[interp, "tree"]),
            min(times[interp, "base"])))
    print("parameters: %s" % ("identical (sha256 %s)" % next(iter(digests))[:16]
                              if len(digests) == 1 else "DIFFER: %s" % sorted(digests)))
    if len(digests) != 1:
        sys.exit(1)


if __name__ == "__main__":
    main()
