"""The reference engine against another version of itself, paired: does a change to
purenet/reference.py make it faster or slower, under PyPy and under CPython?

    python bench/reference_speed.py [--base REV] [--interp /usr/bin/pypy3,python]
                                    [--samples N] [--rounds 5] [--config seed|network2]
                                    [--data-dir DIR]

Each round runs, for each interpreter, this working tree's reference.py against
--base's (default HEAD, from git), the versions taking turns going first, and times
the CPU seconds of the process (time.process_time: the time this shared machine's
other jobs take the core away is not counted; wall times drifted by tens of percent
within seconds):

* under PyPy, one child process per version, --samples 20,000 by default: the JIT's
  warm-up is part of an epoch, and in one process the two versions would share the
  garbage collector (one's allocations would trigger collections the other pays for);
* under CPython, both versions in one child, 20 batches each in turn, --samples 4,000
  by default: both see the same drift of the machine's speed.

A child trains the first --samples samples of epoch_speed.py's first sample order from
its initial weights (784-100-10, batch 10; seed: lr 3.0, quadratic; network2:
cross-entropy, scaled init, lr 0.5, L2 5.0) with ReferenceEngine.train_order and
prints the seconds and the sha256 of every parameter's repr.  The table gives, per
interpreter, the ratio of the two versions' times in each round (median, min, max):
below 1 means the tree is faster.  The hashes must agree: a change to the reference
must not change a bit.
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


def child(paths, samples, config, data_dir, chunk):
    """Train one engine per reference file in paths on the same samples; with several,
    they take turns, chunk batches each, so that all of them see the same drift of
    the machine's speed.  Prints one line per path: seconds and sha256."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    import epoch_speed as es
    from purenet.data import load_mnist_files
    cfg = es.CONFIGS[config]
    train, _ = load_mnist_files(es.find_data(data_dir))
    order = es.orders(train.n, 1)[0][:samples]
    engines = []
    for i, path in enumerate(paths):
        spec = importlib.util.spec_from_file_location("reference_under_test_%d" % i, path)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        engines.append(ref.ReferenceEngine(es.SIZES, *es.initial_params(cfg.init), cost=cfg.cost))
    seconds = [0.0] * len(paths)
    step = chunk * es.BATCH
    for c, start in enumerate(range(0, len(order), step)):
        part = order[start:start + step]
        turn = list(range(len(paths)))
        for i in turn[c % len(turn):] + turn[:c % len(turn)]:
            t = time.process_time()
            engines[i].train_order(train, part, es.BATCH, cfg.lr, n=train.n, l2=cfg.l2)
            seconds[i] += time.process_time() - t
    for s, engine in zip(seconds, engines):
        digest = hashlib.sha256(repr(engine.get_params()).encode()).hexdigest()
        print("%.6f %s" % (s, digest))


def run(interp, paths, args, samples, chunk):
    cmd = [interp, os.path.abspath(__file__), "--child", ",".join(paths), "--samples",
           str(samples), "--config", args.config, "--chunk", str(chunk)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return [(float(s), d) for s, d in (line.split() for line in out.splitlines())]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD")
    ap.add_argument("--interp", default="/usr/bin/pypy3," + sys.executable)
    ap.add_argument("--samples", type=int, default=None,
                    help="samples per child (default: 20,000 under PyPy, 2,000 otherwise)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--config", choices=("seed", "network2"), default="seed")
    ap.add_argument("--data-dir")
    ap.add_argument("--separate", action="store_true",
                    help="CPython too: one process per version")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, default=20, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child.split(","), args.samples, args.config, args.data_dir, args.chunk)

    base_src = subprocess.run(["git", "-C", ROOT, "show", args.base + ":purenet/reference.py"],
                              check=True, stdout=subprocess.PIPE).stdout
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write(base_src)
    versions = {"tree": os.path.join(ROOT, "purenet", "reference.py"), "base": f.name}
    interps = args.interp.split(",")
    times = {(i, v): [] for i in interps for v in versions}
    digests = {i: set() for i in interps}     # one sample count per interpreter
    try:
        for r in range(args.rounds):
            for interp in interps:
                names = ("tree", "base") if r % 2 == 0 else ("base", "tree")
                if "pypy" in interp or args.separate:     # one process per version
                    samples = args.samples or (20000 if "pypy" in interp else 4000)
                    results = [run(interp, [versions[v]], args, samples, samples)[0]
                               for v in names]
                else:                           # both in one process, 20 batches each in turn
                    samples = args.samples or 4000
                    results = run(interp, [versions[v] for v in names], args, samples, 20)
                for v, (seconds, digest) in zip(names, results):
                    times[interp, v].append(seconds)
                    digests[interp].add(digest)
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
    for interp in interps:
        d = sorted(digests[interp])
        print("%-24s parameters %s" % (interp, "identical (sha256 %s)" % d[0][:16] if len(d) == 1
                                       else "DIFFER: %s" % d))
    if any(len(d) != 1 for d in digests.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
