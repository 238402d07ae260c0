"""Peak memory of a training run with --expand: the issue's bound is 400 MB.

    python bench/expand_memory.py [--data-dir DIR] [--epochs 1] [--plain] [-- TRAIN OPTIONS]

Runs ``python -m purenet.train --expand --epochs 1 --backend c --quiet`` on full MNIST
in a child process (options after ``--`` are added to its command line) and prints the
child's peak resident set size (its ru_maxrss, from os.wait4), its wall time and its
last line.  With ``--plain`` it runs the same command without --expand first, so the
two figures show what the expanded data costs.

The expanded pixels are bytes, 5 x 60,000 x 784 = 235 MB (196 MB with --validation
10000); a float per pixel would be 1.9 GB.
"""

import argparse
import os
import subprocess
import sys
import time

from common import ROOT, data

LIMIT_MB = 400              # the bound on a full --expand run's peak RSS


def peak_rss(cmd, env):
    """(peak RSS in MB, seconds, exit status, its summary line, else its last) of cmd run
    to its end (os.wait4 reaps it, with the resource usage of that child alone)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
    lines = child.stdout.read().strip().splitlines() or ["(no output)"]
    summary = [l for l in lines if l.startswith(("Best:", "Kept epoch", "Final:"))]
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)          # Popen must not wait again
    return (usage.ru_maxrss / 1024.0, time.perf_counter() - start, child.returncode,
            (summary or lines)[-1])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", help="the MNIST folder (else $PURENET_DATA, else the cache)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs to train (default 1)")
    ap.add_argument("--plain", action="store_true",
                    help="also run without --expand, first, for comparison")
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    folder = data.find_mnist(args.data_dir)
    if folder is None:
        sys.exit("MNIST not found: pass --data-dir or set PURENET_DATA")
    env = dict(os.environ, PURENET_DATA=folder)
    base = [sys.executable, "-m", "purenet.train", "--backend", "c", "--quiet",
            "--epochs", str(args.epochs)] + extra
    print("%s, MNIST from %s" % (sys.version.split()[0], folder))
    for expand in ([False, True] if args.plain else [True]):
        cmd = base + (["--expand"] if expand else [])
        mb, seconds, code, last = peak_rss(cmd, env)
        print("\n$ " + " ".join(["python"] + cmd[1:]))
        if code != 0:
            print("  failed (exit %d): %s" % (code, last))
            continue
        print("  " + last)
        verdict = (" (limit %d MB: %s)" % (LIMIT_MB, "met" if mb <= LIMIT_MB else "NOT met")
                   if expand else "")
        print("  peak RSS %.0f MB, %.1f s in all%s" % (mb, seconds, verdict))


if __name__ == "__main__":
    main()
