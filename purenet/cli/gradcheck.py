"""Check backprop against finite differences: ``python -m purenet.gradcheck``.

For a network (``--sizes``, ``--seed``, ``--init``), a few samples and each cost ×
activation asked for (all nine by default), it compares the gradient of the cost over
the n samples,

    (1/n) Σₓ ∂Cₓ/∂θ + λ₂/n·w + λ₁/n·sgn(w)      (the λ terms for the weights only)

as backprop computes it (``reference.gradient_sums``), with the central difference
(C(θ+h) − C(θ−h)) / 2h of ``reference.total_cost``, parameter by parameter.  It prints
the largest error per layer, for the weights and the biases, and exits 1 naming the
worst parameter when an error is above the tolerance (0 otherwise).

``--gradient MODULE:FUNCTION`` (or ``path/to/file.py:FUNCTION``) checks your own
gradient instead: FUNCTION(weights, biases, x, y) returns (nabla_b, nabla_w), one
sample's ∂C/∂b and ∂C/∂w without regularisation, laid out as purenet's weights and
biases (``reference.backprop`` is one such function).

A ReLU has a kink at 0 and L1 one at w = 0: where the ±h step crosses one, the
difference is no derivative, so that parameter is left out and counted.

Standard library only.
"""

import importlib
import importlib.util
import math
import os
import random
import sys

from .. import reference as ref
from ..checks import short
from ..errors import GradientError, UsageError
from ..network import Network
from .explain import add_network_options, add_sample_options, name, samples
from .options import Output, Parser, count, penalty, positive_number

PROG = "purenet.gradcheck"


# --- the gradients ---------------------------------------------------------------------

def reference_gradient(weights, biases, pairs, act, cost):
    """Σₓ ∂Cₓ/∂b and Σₓ ∂Cₓ/∂w as training computes them (gradient_sums)."""
    nabla_b, nabla_w, _ = ref.gradient_sums(weights, biases, pairs, act, cost)
    return nabla_b, [[list(row) for row in w] for w in nabla_w]


def user_gradient(function, label):
    """A summed gradient from a per-sample function(weights, biases, x, y), which gets
    copies of the parameters and is checked for purenet's layout."""
    def summed(weights, biases, pairs, act, cost):
        total_b = [[0.0] * len(b) for b in biases]
        total_w = [[[0.0] * len(row) for row in w] for w in weights]
        for x, y in pairs:
            try:
                result = function([[list(row) for row in w] for w in weights],
                                  [list(b) for b in biases], list(x), list(y))
            except Exception as e:
                raise GradientError("%s raised %s: %s" % (label, type(e).__name__, e)) from None
            nabla_b, nabla_w = checked(result, weights, biases, label)
            for l in range(len(weights)):
                for j in range(len(biases[l])):
                    total_b[l][j] += nabla_b[l][j]
                    for k in range(len(weights[l][j])):
                        total_w[l][j][k] += nabla_w[l][j][k]
        return total_b, total_w
    return summed


def checked(result, weights, biases, label):
    """result as (nabla_b, nabla_w) of floats shaped like biases and weights, or a
    GradientError saying what was expected."""
    shape = "(nabla_b, nabla_w) shaped like the biases and weights: %s" % ", ".join(
        "nabla_b[%d] of %d, nabla_w[%d] of %d rows of %d" % (l, len(b), l, len(w), len(w[0]))
        for l, (w, b) in enumerate(zip(weights, biases)))
    try:
        nabla_b, nabla_w = result
        ok = (len(nabla_b) == len(biases) and len(nabla_w) == len(weights)
              and all(len(nb) == len(b) for nb, b in zip(nabla_b, biases))
              and all(len(nw) == len(w) and all(len(r) == len(row) for r, row in zip(nw, w))
                      for nw, w in zip(nabla_w, weights)))
        if ok:
            nabla_b = [[float(v) for v in nb] for nb in nabla_b]
            nabla_w = [[[float(v) for v in row] for row in nw] for nw in nabla_w]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GradientError("%s returned %s; expected %s" % (label, short(result), shape))
    if not all(math.isfinite(v) for nb in nabla_b for v in nb) or not all(
            math.isfinite(v) for nw in nabla_w for row in nw for v in row):
        raise GradientError("%s returned NaN or infinity" % label)
    return nabla_b, nabla_w


# --- the check -------------------------------------------------------------------------

def chosen(sizes, sample, rng):
    """Per layer l (0-based), the (j, k) of the weights and the j of the biases checked:
    all of them, or at most `sample` of each drawn by rng (sample 0: all)."""
    picks = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        ws = [(j, k) for j in range(n_out) for k in range(n_in)]
        bs = list(range(n_out))
        if sample and len(ws) > sample:
            ws = sorted(rng.sample(ws, sample))
        if sample and len(bs) > sample:
            bs = sorted(rng.sample(bs, sample))
        picks.append((ws, bs))
    return picks


def pattern(weights, biases, pairs, act, cost):
    """Which hidden neurons have z > 0, sample by sample: a ReLU's side of its kink."""
    return [[[v > 0.0 for v in z] for z in ref.forward_pass(weights, biases, x, act, cost)[0][:-1]]
            for x, _ in pairs]


def difference(weights, biases, row, k, pairs, act, cost, l2, l1, h, kink_at_0):
    """The central difference (C(θ+h) − C(θ−h)) / (θ+h − (θ−h)) for the parameter θ =
    row[k] (changed in place and restored), C being the reference's total_cost; None
    where the step crosses a kink: a ReLU's z = 0, or θ = 0 when kink_at_0 (an
    L1-regularised weight: |w|)."""
    theta = row[k]
    if kink_at_0 and theta - h <= 0.0 <= theta + h:
        return None
    relu = act is ref.RELU
    before = pattern(weights, biases, pairs, act, cost) if relu else None
    costs = []
    for t in (theta + h, theta - h):
        row[k] = t
        costs.append(ref.total_cost(weights, biases, pairs, act, cost, l2, l1))
        if relu and pattern(weights, biases, pairs, act, cost) != before:
            costs = None
            break
    row[k] = theta
    return None if costs is None else (costs[0] - costs[1]) / ((theta + h) - (theta - h))


def floor(c, h, tolerance):
    """The error's absolute floor.  C is computed from numbers of about 1 (activations,
    targets) or about |C| when that is larger, each rounded to 2⁻⁵² of itself, over the
    many terms of its sums: so the difference resolves gradients to about
    100·2⁻⁵²·max(|C|, 1)/h, and a gap that small counts as the tolerance, not more."""
    return 100 * 2.0 ** -52 * max(abs(c), 1.0) / h / tolerance


def check(weights, biases, pairs, act, cost, gradient, l2=0.0, l1=0.0, h=1e-5,
          tolerance=1e-6, picks=None):
    """Compare gradient(weights, biases, pairs, act, cost) (summed over the pairs, as
    reference_gradient) with central differences of total_cost, on the parameters picks
    names (see chosen; default all).  Returns (results, floor): a Result per parameter.
    """
    n = len(pairs)
    sum_b, sum_w = gradient(weights, biases, pairs, act, cost)
    least = floor(ref.total_cost(weights, biases, pairs, act, cost, l2, l1), h, tolerance)
    picks = picks or chosen([len(weights[0][0])] + [len(b) for b in biases], 0, None)
    results = []
    for l, (ws, bs) in enumerate(picks):
        for j in bs:
            results.append(Result(l + 1, "bias", j, None, sum_b[l][j] / n, difference(
                weights, biases, biases[l], j, pairs, act, cost, l2, l1, h, False), least))
        for j, k in ws:
            w = weights[l][j][k]
            analytic = sum_w[l][j][k] / n + l2 / n * w + l1 / n * ref.sgn(w)
            results.append(Result(l + 1, "weight", j, k, analytic, difference(
                weights, biases, weights[l][j], k, pairs, act, cost, l2, l1, h, bool(l1)),
                least))
    return results, least


class Result:
    """One parameter's check: layer (1..L), kind ("weight" or "bias"), j, k (None for a
    bias), analytic, numeric (None at a kink), and

        error = |analytic − numeric| / max(|analytic|, |numeric|, floor)

    (None at a kink)."""

    def __init__(self, layer, kind, j, k, analytic, numeric, least):
        self.layer, self.kind, self.j, self.k = layer, kind, j, k
        self.analytic, self.numeric = analytic, numeric
        self.error = None if numeric is None else (
            abs(analytic - numeric) / max(abs(analytic), abs(numeric), least))

    def symbol(self):
        return name("w", self.layer, self.j, self.k) if self.k is not None else name(
            "b", self.layer, self.j)

    def describe(self):
        index = "j=%d" % self.j + ("" if self.k is None else " k=%d" % self.k)
        return ("%s (layer %d %s %s): analytic %r, numeric %r, error %.2g"
                % (self.symbol(), self.layer, self.kind, index, self.analytic, self.numeric,
                   self.error))


# --- the report ------------------------------------------------------------------------

def worst(results):
    """The result with the largest error (None when none could be checked)."""
    checked = [r for r in results if r.error is not None]
    return max(checked, key=lambda r: r.error) if checked else None


def layer_line(layer, results, sizes, tolerance):
    """One layer's weights and biases: how many were checked of how many, the largest
    error and where."""
    parts = []
    for kind, total in (("weight", sizes[layer - 1] * sizes[layer]), ("bias", sizes[layer])):
        mine = [r for r in results if r.layer == layer and r.kind == kind]
        top = worst(mine)
        left = sum(r.error is None for r in mine)
        text = "%s %d/%d" % ("weights" if kind == "weight" else "biases", len(mine) - left,
                             total)
        if top is not None:
            text += ", largest error %.2g (%s)%s" % (top.error, top.symbol(),
                                                     " FAIL" if top.error > tolerance else "")
        if left:
            text += " (%d left out: the step crosses a kink)" % left
        parts.append(text)
    return "  layer %d: %s" % (layer, "; ".join(parts))


def header(args, pairs, label, picks):
    every = all(len(ws) == n_in * n_out and len(bs) == n_out for (ws, bs), n_in, n_out in
                zip(picks, args.sizes, args.sizes[1:]))
    return [
        "%s: Network(%s, seed=%d, init=%r), %d sample%s, λ₂ = %r, λ₁ = %r"
        % (PROG, args.sizes, args.seed, args.init, len(pairs), "" if len(pairs) == 1 else "s",
           args.l2, args.l1),
        "Checking %s, averaged over the samples, plus λ₂/n·w + λ₁/n·sgn(w), against "
        "(C(θ+h) − C(θ−h))/2h of reference.total_cost with h = %g, on %s."
        % (label, args.step, "every parameter" if every else
           "at most %d weights and %d biases per layer (--sample)" % (args.sample, args.sample)),
        "error = |analytic − numeric| / max(|analytic|, |numeric|, floor); the floor is "
        "100·2⁻⁵²·max(|C|, 1)/(h·tolerance), what the difference can resolve; tolerance %g."
        % args.tolerance]


def run(args, out):
    """Check every setting asked for; True when all are within the tolerance."""
    pairs = samples(args)
    net = Network(args.sizes, seed=args.seed, init=args.init)
    weights, biases = net.weights, net.biases
    if args.gradient:
        gradient, label = user_gradient(*load_gradient(args.gradient)), args.gradient
        gradient(weights, biases, pairs[:1], None, None)   # a broken one fails before any output
    else:
        gradient, label = reference_gradient, "backprop (reference.gradient_sums)"
    picks = chosen(args.sizes, args.sample, random.Random(args.seed))
    for line in header(args, pairs, label, picks):
        out(line)
    failed, tops, asked = [], [], settings(args)
    for cost, activation in asked:
        results, least = check(weights, biases, pairs, ref.ACTIVATIONS[activation],
                               ref.COSTS[cost], gradient, args.l2, args.l1, args.step,
                               args.tolerance, picks)
        setting = "%s cost, %s neurons" % (cost, activation)
        out("")
        out("%s (floor %.2g):" % (setting, least))
        for layer in range(1, len(args.sizes)):
            out(layer_line(layer, results, args.sizes, args.tolerance))
        bad = [r for r in results if r.error is not None and r.error > args.tolerance]
        out("  FAIL: %d parameter%s above the tolerance" % (len(bad), "" if len(bad) == 1 else "s")
            if bad else "  ok")
        tops.append((worst(results), setting))   # never None: the output biases have no kink
        if bad:
            failed.append(setting)
    out("")
    out(summary(failed, tops, len(asked), args.tolerance))
    return not failed


def summary(failed, tops, count, tolerance):
    """The last line: all within the tolerance, or the worst parameter of all."""
    top, setting = max(tops, key=lambda t: t[0].error)
    if not failed:
        return ("ok: %s within the tolerance %g; the largest error is %.2g (%s, %s)."
                % ("all %d settings are" % count if count > 1 else "the setting is", tolerance,
                   top.error, top.symbol(), setting))
    return ("FAIL: %d of %d settings have errors above the tolerance %g. The worst: %s, with "
            "%s." % (len(failed), count, tolerance, top.describe(), setting))


def settings(args):
    """The (cost, activation) pairs asked for: "all" (the default without --gradient) is
    each one; with --gradient the default is the seed's quadratic cost and sigmoids."""
    default = "all" if not args.gradient else None
    costs = args.cost or default or "quadratic"
    activations = args.activation or default or "sigmoid"
    return [(c, a) for c in (ref.COSTS if costs == "all" else [costs])
            for a in (ref.ACTIVATIONS if activations == "all" else [activations])]


def load_gradient(spec):
    """The function --gradient names, MODULE:FUNCTION or path/to/file.py:FUNCTION, and spec."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise UsageError("--gradient %s: give MODULE:FUNCTION or path/to/file.py:FUNCTION "
                         "(e.g. purenet.reference:backprop)" % spec)
    try:
        if module_name.endswith(".py"):
            if not os.path.isfile(module_name):
                raise UsageError("--gradient %s: there is no file %s" % (spec, module_name))
            where = importlib.util.spec_from_file_location("purenet_gradcheck_user", module_name)
            module = importlib.util.module_from_spec(where)
            where.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is None or not module_name.startswith(e.name):
            raise GradientError("--gradient %s: importing %s raised ModuleNotFoundError: %s"
                                % (spec, module_name, e)) from None
        raise UsageError("--gradient %s: there is no module %s here (run from the folder that "
                         "holds it, or give path/to/file.py:%s)"
                         % (spec, module_name, attr)) from None
    except UsageError:
        raise
    except Exception as e:
        raise GradientError("--gradient %s: importing %s raised %s: %s"
                            % (spec, module_name, type(e).__name__, e)) from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise UsageError("--gradient %s: %s has no function %s" % (spec, module_name, attr))
    return function, spec


# --- the command line ------------------------------------------------------------------

def build_parser():
    p = Parser(prog=PROG, description="Compare backprop's gradient with central finite "
               "differences of the cost, parameter by parameter; exit 1 naming the worst "
               "parameter when an error is above the tolerance.")
    add_network_options(p, "seed of Network(sizes, seed=...), and of the sample of "
                           "parameters checked (default 0)")
    p.add_argument("--cost", choices=list(ref.COSTS) + ["all"], default=None,
                   help="the cost to check (default all; quadratic with --gradient)")
    p.add_argument("--activation", choices=list(ref.ACTIVATIONS) + ["all"], default=None,
                   help="the hidden neurons to check (default all; sigmoid with --gradient)")
    p.add_argument("--l2", type=penalty, default=0.0, metavar="λ",
                   help="L2 regularisation λ₂, with n = the samples (default 0)")
    p.add_argument("--l1", type=penalty, default=0.0, metavar="λ", help="L1 regularisation λ₁")
    add_sample_options(p, "N samples drawn by random.Random(SEED + 1): inputs in [0, 1) to "
                          "2 decimals, one-hot targets (the default for a net without 2 "
                          "inputs and 2 outputs is 1)")
    p.add_argument("--sample", type=count, default=30, metavar="N",
                   help="check at most N weights and N biases per layer, drawn by "
                        "random.Random(SEED) (default 30; 0: every parameter)")
    p.add_argument("--step", type=positive_number, default=1e-5, metavar="H",
                   help="the step h of the central difference (default 1e-5)")
    p.add_argument("--tolerance", type=positive_number, default=1e-6,
                   help="the largest error that passes (default 1e-6)")
    p.add_argument("--gradient", default=None, metavar="MODULE:FUNCTION",
                   help="check your own FUNCTION(weights, biases, x, y) -> (nabla_b, nabla_w) "
                        "(one sample, no regularisation, purenet's layout) instead of the "
                        "reference's; also path/to/file.py:FUNCTION")
    return p


def main(argv=None, stream=None):
    args = build_parser().parse_args(argv)
    try:
        ok = run(args, Output(stream or sys.stdout))
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    except GradientError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    return 0 if ok else 1

