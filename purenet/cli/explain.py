"""One learning step, every number: ``python -m purenet.explain``.

It takes one mini-batch step of gradient descent on a small network and prints,
in the order of ``reference.py``, every number of it: each weighted sum written out
with its terms, each activation, the cost, the output error, each error moved back
a layer, each gradient, the gradients summed over the batch, and each weight and bias
old → new.  Each line starts with the reference function that computed its number.

The numbers are the reference's own: :func:`step` calls ``forward_pass``,
``backward_pass``, ``backprop``, ``gradient_sums`` and the cost functions, and takes
the step with the reference engine's ``train_batches`` (``update_mini_batch``,
``regularized_update`` or ``momentum_update``), on the batch in the order fit's
shuffle puts it.  So the new parameters are, bit for bit, what
``Network(sizes, seed=seed, ...).fit(samples, 1, len(samples), lr, ...)`` produces,
in either engine.  What is shown inside a written-out equation is the reference's:
its values, and factors it computes along the way (σ′(z), η/m) by the same function
or expression.

A network with conv or pool layers (``--sizes 16,conv2x3,pool2,3``) is traced and
written out by :mod:`purenet.cli.explain_conv`, with deep.py's functions.

Standard library only.
"""

import argparse
import json
import math
import random
import sys

from .. import reference as ref
from ..checks import INITS, is_layered
from ..errors import UsageError
from ..network import Network
from . import explain_conv
from .explain_text import Writer, fit_order, stepped
from .options import (Output, Parser, count, exit_code, layer_sizes, momentum_value, penalty,
                      positive_int, positive_number)

PROG = "purenet.explain"
EXAMPLE_X, EXAMPLE_Y = [0.05, 0.10], [0.01, 0.99]      # Matt Mazur's worked example


# --- the step -----------------------------------------------------------------------

def trace_sample(weights, biases, x, y, act, cost):
    """One sample's numbers, each from the reference function that computes it."""
    zs, activations = ref.forward_pass(weights, biases, x, act, cost)
    deltas = ref.backward_pass(weights, zs, activations, y, act, cost)
    grad_b, grad_w = ref.backprop(weights, biases, x, y, act, cost)
    return {"x": x, "y": y, "z": zs, "a": activations,
            "cost": cost.fn(activations[-1], y, zs[-1]), "delta": deltas,
            "grad_b": grad_b, "grad_w": grad_w}


def step(net, samples, lr, l2=0.0, l1=0.0, momentum=0.0):
    """Trace one step of ``net.fit(samples, 1, len(samples), lr, l2=l2, l1=l1,
    momentum=momentum)`` without changing net.  samples: (x, y) pairs of floats.

    Returns a dict (what ``--json`` prints): the settings, ``order`` (fit's order of
    the samples), per sample in that order its z, a, δ, ∂C/∂b, ∂C/∂w and cost, the
    summed gradients, ``touched`` (per layer, the inputs non-zero in some sample), and
    the parameters (and momentum velocities) before and after the step.  A network with
    conv or pool layers is traced by explain_conv.layered_step.
    """
    if is_layered(net.sizes):
        return explain_conv.layered_step(net, samples, lr, l2, l1, momentum)
    act, cost = ref.ACTIVATIONS[net.activation], ref.COSTS[net.cost_name]
    weights, biases = net.weights, net.biases
    samples = [(list(map(float, x)), list(map(float, y))) for x, y in samples]
    order = fit_order(net.rng, len(samples))
    batch = [samples[i] for i in order]
    traced = [dict(trace_sample(weights, biases, x, y, act, cost), index=i)
              for i, (x, y) in zip(order, batch)]
    sum_b, sum_w, touched = ref.gradient_sums(weights, biases, batch, act, cost)
    engine = ref.ReferenceEngine(net.sizes, weights, biases, net.cost_name, net.activation)
    return stepped(net, engine, samples, order, lr, l2, l1, momentum,
                   {"samples": traced, "sum_grad_b": sum_b, "sum_grad_w": sum_w,
                    "touched": [sorted(t) for t in touched]})


# --- the command line ---------------------------------------------------------------

def vector(text):
    """Comma-separated finite numbers, e.g. 0.05,0.10."""
    values = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError("%r in %r is not a number (e.g. 0.05,0.10)"
                                             % (part, text)) from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError("%r in %r is not a finite number" % (part, text))
        values.append(v)
    return values


def digits(text):
    v = count(text)
    if v > 17:
        raise argparse.ArgumentTypeError("must be from 0 to 17 (0: exact), got %d" % v)
    return v


def add_sample_options(p, batch_help):
    """--x, --y, --label and --batch: the samples (shared with purenet.gradcheck)."""
    p.add_argument("--x", type=vector, action="append", metavar="X",
                   help="a sample's inputs, comma-separated (repeat for a batch; "
                        "default 0.05,0.10 for a net with 2 inputs and 2 outputs)")
    p.add_argument("--y", type=vector, action="append", metavar="Y",
                   help="its target values (one --y per --x; default 0.01,0.99)")
    p.add_argument("--label", type=count, action="append", metavar="L",
                   help="instead of --y: its class, the target being the one-hot vector")
    p.add_argument("--batch", type=positive_int, default=None, metavar="N", help=batch_help)


def add_network_options(p, seed_help):
    """--sizes, --seed and --init: the network (shared with purenet.gradcheck)."""
    p.add_argument("--sizes", type=layer_sizes, default=[2, 3, 2],
                   help="neurons per layer, input first (default 2,3,2)")
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--init", choices=INITS, default="large",
                   help="initial weights: large = N(0, 1) (default), scaled = N(0, 1)/sqrt(n_in)")


def build_parser():
    p = Parser(prog=PROG, description="One step of gradient descent with every number: the "
               "weighted sums written out, the activations, the cost, the errors, the "
               "gradients and each weight old -> new, each line naming the reference.py "
               "function that computed it.")
    add_network_options(p, "seed of Network(sizes, seed=...): the weights, and the shuffle "
                           "of fit (default 0)")
    p.add_argument("--cost", choices=list(ref.COSTS), default="quadratic",
                   help="quadratic (default), cross-entropy, or log-likelihood (softmax output)")
    p.add_argument("--activation", choices=list(ref.ACTIVATIONS), default="sigmoid",
                   help="the hidden layers' neurons (default sigmoid)")
    add_sample_options(p, "a batch of N samples drawn by random.Random(SEED + 1): inputs "
                          "in [0, 1) to 2 decimals, one-hot targets (the default for a net "
                          "without 2 inputs and 2 outputs is 1)")
    p.add_argument("--lr", type=positive_number, default=0.5, help="learning rate η (default 0.5)")
    p.add_argument("--l2", type=penalty, default=0.0, metavar="λ",
                   help="L2 regularisation λ₂, with n = the batch (default 0)")
    p.add_argument("--l1", type=penalty, default=0.0, metavar="λ", help="L1 regularisation λ₁")
    p.add_argument("--momentum", type=momentum_value, default=0.0, metavar="μ",
                   help="momentum μ in [0, 1); the velocities start at 0")
    p.add_argument("--max-terms", type=count, default=10, metavar="N",
                   help="show at most N terms of a sum and N lines of a block (default 10; "
                        "0: all)")
    p.add_argument("--digits", type=digits, default=6, metavar="D",
                   help="significant digits of the operands in sums (default 6; 0: exact); "
                        "results are always exact")
    p.add_argument("--json", action="store_true",
                   help="print the step's numbers as JSON (exact floats) instead")
    return p


def samples(args):
    """The (x, y) pairs the options give, checked against args.sizes (UsageError)."""
    n_in, n_out = args.sizes[0], args.sizes[-1]
    if args.y and args.label:
        raise UsageError("give the targets as --y or as --label, not both")
    targets = args.y or [one_hot(l, n_out) for l in args.label or ()]
    if args.batch and (args.x or targets):
        raise UsageError("--batch draws its samples: leave out --x, --y and --label, or "
                         "--batch")
    if not args.x:
        if targets:
            raise UsageError("--y and --label go with --x: give one --x per target")
        if args.batch is None and n_in == 2 and n_out == 2:
            return [(EXAMPLE_X, EXAMPLE_Y)]
        return drawn(args.seed, args.batch or 1, n_in, n_out)
    if len(targets) != len(args.x):
        raise UsageError("%d --x but %d targets: give one --y (or --label) per --x"
                         % (len(args.x), len(targets)))
    for x, y in zip(args.x, targets):
        for option, values, size, what in (("--x", x, n_in, "inputs"),
                                           ("--y", y, n_out, "outputs")):
            if len(values) != size:
                raise UsageError("%s %s has %d value%s but --sizes %s has %d %s" % (
                    option, ",".join(map(repr, values)), len(values),
                    "" if len(values) == 1 else "s", ",".join(map(str, args.sizes)), size, what))
    return list(zip(args.x, targets))


def one_hot(label, n_out):
    if label >= n_out:
        raise UsageError("--label %d does not fit %d output neurons (0 to %d)"
                         % (label, n_out, n_out - 1))
    return [1.0 if j == label else 0.0 for j in range(n_out)]


def drawn(seed, m, n_in, n_out):
    """m samples from random.Random(seed + 1): inputs in [0, 1) rounded to 2 decimals (so
    some are 0, which the reference skips), a uniform class as a one-hot target."""
    rng = random.Random(seed + 1)
    return [([round(rng.random(), 2) for _ in range(n_in)], one_hot(rng.randrange(n_out), n_out))
            for _ in range(m)]


def floats(value):
    """Every float in a step's dict, however deep."""
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from floats(v)


def run(args, out):
    net = Network(args.sizes, seed=args.seed, cost=args.cost, activation=args.activation,
                  init=args.init)
    doc = step(net, samples(args), args.lr, args.l2, args.l1, args.momentum)
    if not all(map(math.isfinite, floats(doc))):
        raise UsageError("a number of the step overflows to infinity or NaN: give smaller "
                         "inputs or a smaller --lr")
    if args.json:
        out(json.dumps(doc, allow_nan=False))
    else:
        writer = explain_conv.LayeredWriter if is_layered(args.sizes) else Writer
        for line in writer(doc, args.digits, args.max_terms).lines():
            out(line)


def main(argv=None, stream=None):
    args = build_parser().parse_args(argv)
    return exit_code(PROG, lambda: run(args, Output(stream or sys.stdout)))

