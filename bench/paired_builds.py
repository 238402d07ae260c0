"""Two builds of the C engine in one process, paired: the same network trained by each
in turns of CHUNK batches (which one goes first alternates), so that both see the same
machine state; prints the ratio new/old of the time per round, and checks that every
parameter is equal (==) at the end.

    python bench/paired_builds.py OLD.so [--threads 1] [--epochs 2] [--chunk 300]
                                         [--simd LEVEL] [--cpu] [--data-dir DIR]

OLD.so: another build's purenet/_ckernels*.so (copy it somewhere first); the new build is
the one `import purenet` finds.  Load order matters: the new build is imported first (the
old one, loaded first, would also answer `import purenet._ckernels`).
"""

import argparse
import importlib.machinery
import importlib.util
import statistics
import sys
import time
from array import array

import epoch_speed as es


def load_build(path):
    """A _ckernels module from path, under its own package name (the init function is
    PyInit__ckernels whatever the package)."""
    name = "pn_old_build._ckernels"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def engine(cengine, lib, ffi, threads):
    saved = cengine._lib, cengine._ffi
    cengine._lib, cengine._ffi = lib, ffi
    try:
        return cengine.CEngine(es.SIZES, *es.initial_params("large"), threads=threads)
    finally:
        cengine._lib, cengine._ffi = saved


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=300, help="batches per turn")
    ap.add_argument("--simd", type=int, choices=(0, 1, 2),
                    help="pn_limit_simd for both builds (1: the AVX2 row sums, not AVX-512)")
    ap.add_argument("--cpu", action="store_true",
                    help="time the calling thread's CPU time, not the wall clock (1 thread "
                         "only: steadier than wall time on a loaded machine)")
    ap.add_argument("--data-dir")
    args = ap.parse_args(argv)
    if args.cpu and args.threads != 1:
        ap.error("--cpu needs --threads 1 (a worker's time is not the caller's)")
    clock = time.thread_time if args.cpu else time.perf_counter

    from purenet import cengine
    from purenet.data import load_mnist_files
    new_lib, new_ffi = cengine.lib_and_ffi()
    old = load_build(args.old)
    if args.simd is not None:
        new_lib.pn_limit_simd(args.simd)
        old.lib.pn_limit_simd(args.simd)
    train, _ = load_mnist_files(es.find_data(args.data_dir))
    engines = {"old": engine(cengine, old.lib, old.ffi, args.threads),
               "new": engine(cengine, new_lib, new_ffi, args.threads)}
    cfg = es.CONFIGS["seed"]
    per = args.chunk * es.BATCH
    times = {"old": [], "new": []}
    turn = 0
    for order in es.orders(train.n, args.epochs):
        for at in range(0, len(order), per):
            part = array("q", order[at:at + per])
            names = ("old", "new") if turn % 2 == 0 else ("new", "old")
            for name in names:
                t = clock()
                engines[name].train_order(train, part, es.BATCH, cfg.lr)
                times[name].append(clock() - t)
            turn += 1
    same = engines["old"].get_params() == engines["new"].get_params()
    ratios = [n / o for n, o in zip(times["new"], times["old"])]
    print("%sthreads %d, %d epochs, %d turns of %d batches: new/old median %.4f, "
          "total %.4f (old %.3f s, new %.3f s); parameters equal: %s"
          % ("CPU time, " if args.cpu else "", args.threads, args.epochs, len(ratios),
             args.chunk, statistics.median(ratios),
             sum(times["new"]) / sum(times["old"]), sum(times["old"]), sum(times["new"]), same))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
