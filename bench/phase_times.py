"""Where an epoch of the C engine's time goes, phase by phase (docs/performance.md).

    python bench/phase_times.py [--epochs 3] [--threads 1,2] [--data-dir DIR]

Builds the C engine with -DPN_PHASE_TIMES into a temporary copy of the repository
(the normal build is not touched): run_batches then adds up, per thread, the cycles
of each phase of a mini-batch (csrc/fastpath.c, the comment above run_batches):

* B forward: the forward sums and activations of the thread's panel of layer 1;
* B barrier: waiting for the other thread to finish its panel;
* C forward+errors+steps (thread 0): layer 2's forward pass, the errors, the steps
  of layer 2;
* C gather (the last thread): the next batch's non-zero pixels and touched rows;
* C barrier: waiting for the other thread's part of phase C;
* D step: the gradient step of the thread's panel of layer 1.

It trains the seed's 784-100-10 (batch 10, lr 3.0) with Network.fit on full MNIST
and prints, per thread, milliseconds per epoch (the best epoch after the first), and
"Python in fit": the epoch's wall time minus its C call (the shuffle, the int64 order,
the checks).  Cycles become seconds by the ratio of the C call's wall time to the
cycles thread 0 counted in it.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r"""
import sys, time
sys.path.insert(0, {repo!r})
from purenet import Network, data
assert data.__file__.startswith({repo!r})
train, _ = data.load_mnist({data_dir!r}, download=False)
net = Network([784, 100, 10], seed=0, backend="c", threads={threads})
engine, inner = net.engine, net.engine.train_order
def timed(*a, **k):
    t = time.perf_counter(); inner(*a, **k)
    print("pn_call %.6f" % (time.perf_counter() - t), file=sys.stderr, flush=True)
engine.train_order = timed
for _ in range({epochs}):
    t = time.perf_counter(); net.fit(train, 1, 10, 3.0)
    print("pn_epoch %.6f" % (time.perf_counter() - t), file=sys.stderr, flush=True)
"""


def build(repo):
    for item in ("build_ext.py", "pyproject.toml", "csrc", "purenet"):
        src = os.path.join(ROOT, item)
        (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(repo, item))
    for f in os.listdir(os.path.join(repo, "purenet")):
        if f.startswith("_ckernels"):
            os.remove(os.path.join(repo, "purenet", f))
    env = dict(os.environ, PURENET_CFLAGS="-O3 -DPN_PHASE_TIMES")
    subprocess.run([sys.executable, "build_ext.py", "-q"], cwd=repo, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def epochs_of(stderr):
    """Per epoch: (epoch wall s, C call wall s, {(thread, phase): cycles})."""
    out, phases, call = [], {}, None
    for line in stderr.splitlines():
        m = re.match(r"pn_phase thread (\d) (.+): (\d+)$", line)
        if m:
            phases[int(m.group(1)), m.group(2)] = int(m.group(3))
        elif line.startswith("pn_call "):
            call = float(line.split()[1])
        elif line.startswith("pn_epoch "):
            out.append((float(line.split()[1]), call, phases))
            phases = {}
    return out


def report(threads, epochs):
    best = min(epochs[1:] or epochs)
    wall, call, phases = best
    ticks0 = sum(v for (t, _), v in phases.items() if t == 0)
    per_s = ticks0 / call
    print("%d thread%s: best epoch %.3f s wall, of which the C call %.3f s"
          % (threads, "s" if threads > 1 else "", wall, call))
    names = [n for (t, n) in phases if t == 0]
    print("  %-26s" % "phase" + "".join("%12s" % ("thread %d ms" % t) for t in range(threads)))
    for name in names:
        print("  %-26s" % name + "".join("%12.1f" % (1e3 * phases[t, name] / per_s)
                                         for t in range(threads)))
    print("  %-26s%12.1f" % ("Python in fit", 1e3 * (wall - call)))
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    shared = os.path.join(ROOT, "..", "shared", "data", "mnist")
    data_dir = args.data_dir or os.environ.get("PURENET_DATA") or (
        shared if os.path.isdir(shared) else None)
    with tempfile.TemporaryDirectory(prefix="purenet-phases-") as repo:
        build(repo)
        for threads in map(int, args.threads.split(",")):
            code = CHILD.format(repo=repo, data_dir=data_dir, threads=threads, epochs=args.epochs)
            run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if run.returncode:
                sys.exit(run.stderr)
            report(threads, epochs_of(run.stderr))


if __name__ == "__main__":
    main()
