"""Check backprop against finite differences: ``python -m purenet.gradcheck``.

For a network (``--sizes``, ``--seed``, ``--init``), a few samples and each cost ×
activation asked for (all nine by default), it compares the gradient of the cost over
the n samples,

    (1/n) Σₓ ∂Cₓ/∂θ + λ₂/n·w + λ₁/n·sgn(w)      (the λ terms for the weights only)

as backprop computes it (``reference.gradient_sums``), with the central difference
(C(θ+h) − C(θ−h)) / 2h of ``reference.total_cost``, parameter by parameter.  It prints
the largest error per layer, for the weights and the biases, and exits 1 naming the
worst parameter when an error is above the tolerance (0 otherwise).

A network with conv and pool layers (``--sizes 36,conv2x3,pool2,5,3``) is checked with
``deep.gradient_sums`` and ``deep.total_cost`` instead; a conv layer's weights are
nested [F][C][K][K] (wˡ[f][c][i][j]) and a pool layer has no parameters to check.  With
``--dropout p`` each sample keeps one fixed dropout mask (drawn by random.Random(SEED +
2)), the same for backprop and for every ±h, so the cost stays a smooth function.

``--gradient MODULE:FUNCTION`` (or ``path/to/file.py:FUNCTION``) checks your own
gradient instead: FUNCTION(weights, biases, x, y) returns (nabla_b, nabla_w), one
sample's ∂C/∂b and ∂C/∂w without regularisation, laid out as purenet's weights and
biases (``reference.backprop`` is one such function).

A ReLU has a kink at 0, L1 one at w = 0, and max-pooling one where a window's
maximum changes hands: where the ±h step crosses one, the difference is no
derivative, so that parameter is left out and counted.

Standard library only.
"""

import importlib
import importlib.util
import itertools
import math
import os
import random
import sys

from .. import deep
from .. import reference as ref
from ..checks import is_layered, layers_of, param_shapes, short
from ..errors import GradientError, UsageError
from ..network import Network
from .explain import add_network_options, add_sample_options, samples
from .explain_text import conv_name, name
from .options import (Output, Parser, count, exit_code, momentum_value, penalty,
                      positive_number)

PROG = "purenet.gradcheck"


# --- the gradients ---------------------------------------------------------------------

def reference_gradient(weights, biases, pairs, act, cost):
    """Σₓ ∂Cₓ/∂b and Σₓ ∂Cₓ/∂w as training computes them (gradient_sums)."""
    nabla_b, nabla_w, _ = ref.gradient_sums(weights, biases, pairs, act, cost)
    return nabla_b, [[list(row) for row in w] for w in nabla_w]


class Textbook:
    """The functions a check uses: reference.py's for a fully connected network, deep.py's
    for one with conv or pool layers, or with dropout (keeps: one fixed keep mask per
    sample, see deep.forward_pass; scale = 1/(1 − p))."""

    def __init__(self, sizes, keeps=None, scale=1.0):
        self.sizes, self.keeps, self.scale = list(sizes), keeps, scale
        self.layered = is_layered(sizes) or keeps is not None
        self.layers = layers_of(sizes) if self.layered else None
        self.module = "deep" if self.layered else "reference"
        self.pools = self.layered and any(layer.kind == "pool" for layer in self.layers)

    def gradient(self, weights, biases, pairs, act, cost):
        """Σₓ ∂Cₓ/∂b and Σₓ ∂Cₓ/∂w, as training computes them."""
        if not self.layered:
            return reference_gradient(weights, biases, pairs, act, cost)
        return deep.gradient_sums(self.layers, weights, biases, pairs, act, cost, self.keeps,
                                  self.scale)

    def forward(self, weights, biases, pairs, act, cost):
        """deep.forward_pass of each sample, with its keep mask."""
        for s, (x, _) in enumerate(pairs):
            keep = self.keeps[s] if self.keeps is not None else None
            yield deep.forward_pass(self.layers, weights, biases, x, act, cost, keep, self.scale)

    def total_cost(self, weights, biases, pairs, act, cost, l2, l1):
        """C: reference.total_cost, deep.total_cost, or with dropout deep.total_cost's
        sum with each sample's mask."""
        if not self.layered:
            return ref.total_cost(weights, biases, pairs, act, cost, l2, l1)
        if self.keeps is None:
            return deep.total_cost(self.layers, weights, biases, pairs, act, cost, l2, l1)
        total, n = 0.0, len(pairs)
        for (zs, activations, _), (_, y) in zip(self.forward(weights, biases, pairs, act, cost),
                                                pairs):
            total += cost.fn(activations[-1], y, zs[-1])
        flat = [v for w in weights for row in deep.weight_rows(w) for v in row]
        return (total / n + 0.5 * (l2 / n) * sum(v * v for v in flat)
                + (l1 / n) * sum(map(abs, flat)))

    def watches(self, act):
        """Whether a step can cross a kink of the network: a ReLU's, or a pool's."""
        return act is ref.RELU or self.pools

    def pattern(self, weights, biases, pairs, act, cost):
        """What a ±h step must leave as it is, sample by sample: which hidden ReLUs have
        z > 0 (a ReLU's side of its kink), and each pool window's chosen unit."""
        if not self.layered:
            return [[[v > 0.0 for v in z] for z in
                     ref.forward_pass(weights, biases, x, act, cost)[0][:-1]] for x, _ in pairs]
        relu, hidden = act is ref.RELU, self.layers[1:-1]
        return [([[v > 0.0 for v in deep.as_vector(z, layer)] for z, layer in zip(zs[1:-1], hidden)
                  if relu and layer.kind != "pool"], choices)
                for zs, _, choices in self.forward(weights, biases, pairs, act, cost)]


def flat(nested):
    """The numbers of a nested list, in order."""
    for v in nested:
        if isinstance(v, list):
            yield from flat(v)
        else:
            yield v


def add_into(total, part):
    """total += part, element by element, for nested lists of one shape."""
    for i, v in enumerate(part):
        if isinstance(v, list):
            add_into(total[i], v)
        else:
            total[i] += v


def user_gradient(function, label):
    """A summed gradient from a per-sample function(weights, biases, x, y), which gets
    copies of the parameters and is checked for purenet's layout."""
    def summed(weights, biases, pairs, act, cost):
        total_b, total_w = deep.zeros_like(biases), deep.zeros_like(weights)
        for x, y in pairs:
            try:
                result = function(deep.copied(weights), deep.copied(biases), list(x), list(y))
            except Exception as e:
                raise GradientError("%s raised %s: %s" % (label, type(e).__name__, e)) from None
            nabla_b, nabla_w = checked(result, weights, biases, label)
            add_into(total_b, nabla_b)
            add_into(total_w, nabla_w)
        return total_b, total_w
    return summed


def shaped(value, like):
    """value as floats nested as like is (TypeError or ValueError if it is not)."""
    if not isinstance(like, list):
        return float(value)
    if isinstance(value, (str, bytes)) or len(value) != len(like):
        raise ValueError("not shaped as expected")
    return [shaped(v, l) for v, l in zip(value, like)]


def shape_text(w):
    """How a layer's weights are laid out: "3 rows of 2", "2×1×3×3 ([F][C][K][K])", "0"."""
    if not w:
        return "0 (a pool layer)"
    if not isinstance(w[0][0], list):
        return "%d rows of %d" % (len(w), len(w[0]))
    return "%d×%d×%d×%d ([F][C][K][K])" % (len(w), len(w[0]), len(w[0][0]), len(w[0][0][0]))


def checked(result, weights, biases, label):
    """result as (nabla_b, nabla_w) of floats shaped like biases and weights, or a
    GradientError saying what was expected."""
    shape = "(nabla_b, nabla_w) shaped like the biases and weights: %s" % ", ".join(
        "nabla_b[%d] of %d, nabla_w[%d] of %s" % (l, len(b), l, shape_text(w))
        for l, (w, b) in enumerate(zip(weights, biases)))
    try:
        nabla_b, nabla_w = result
        nabla_b, nabla_w = shaped(nabla_b, biases), shaped(nabla_w, weights)
    except (TypeError, ValueError):
        raise GradientError("%s returned %s; expected %s" % (label, short(result), shape)) from None
    if not all(map(math.isfinite, flat([nabla_b, nabla_w]))):
        raise GradientError("%s returned NaN or infinity" % label)
    return nabla_b, nabla_w


# --- the check -------------------------------------------------------------------------

def chosen(sizes, sample, rng):
    """Per layer l (0-based), the indices of the weights ((j, k), or (f, c, i, j) for a
    conv layer) and the j of the biases checked: all of them, or at most `sample` of each
    drawn by rng (sample 0: all).  A pool layer has none."""
    picks = []
    for w_shape, (n_out,) in param_shapes(sizes):
        ws = list(itertools.product(*map(range, w_shape)))
        bs = list(range(n_out))
        if sample and len(ws) > sample:
            ws = sorted(rng.sample(ws, sample))
        if sample and len(bs) > sample:
            bs = sorted(rng.sample(bs, sample))
        picks.append((ws, bs))
    return picks


def difference(textbook, weights, biases, row, k, pairs, act, cost, l2, l1, h, kink_at_0):
    """The central difference (C(θ+h) − C(θ−h)) / (θ+h − (θ−h)) for the parameter θ =
    row[k] (changed in place and restored), C being the textbook's total_cost; None
    where the step crosses a kink: a ReLU's z = 0, a pool window's maximum changing
    hands, or θ = 0 when kink_at_0 (an L1-regularised weight: |w|)."""
    theta = row[k]
    if kink_at_0 and theta - h <= 0.0 <= theta + h:
        return None
    watch = textbook.watches(act)
    before = textbook.pattern(weights, biases, pairs, act, cost) if watch else None
    costs = []
    for t in (theta + h, theta - h):
        row[k] = t
        costs.append(textbook.total_cost(weights, biases, pairs, act, cost, l2, l1))
        if watch and textbook.pattern(weights, biases, pairs, act, cost) != before:
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


def cell(nested, index):
    """(the innermost list that holds nested[i][j]...[k], k) for index (i, j, ..., k)."""
    for i in index[:-1]:
        nested = nested[i]
    return nested, index[-1]


def check(weights, biases, pairs, act, cost, gradient, l2=0.0, l1=0.0, h=1e-5,
          tolerance=1e-6, picks=None, textbook=None):
    """Compare gradient(weights, biases, pairs, act, cost) (summed over the pairs, as
    reference_gradient) with central differences of the textbook's total_cost (default
    reference.py's, for a fully connected network), on the parameters picks names (see
    chosen; default all).  Returns (results, floor): a Result per parameter.
    """
    textbook = textbook or Textbook([len(weights[0][0])] + [len(b) for b in biases])
    n = len(pairs)
    sum_b, sum_w = gradient(weights, biases, pairs, act, cost)
    least = floor(textbook.total_cost(weights, biases, pairs, act, cost, l2, l1), h, tolerance)
    picks = picks or chosen(textbook.sizes, 0, None)
    results = []
    for l, (ws, bs) in enumerate(picks):
        conv = textbook.layered and textbook.layers[l + 1].kind == "conv"
        for j in bs:
            results.append(Result(l + 1, "bias", (j,), conv, sum_b[l][j] / n, difference(
                textbook, weights, biases, biases[l], j, pairs, act, cost, l2, l1, h, False),
                least))
        for index in ws:
            row, k = cell(weights[l], index)
            grad, _ = cell(sum_w[l], index)
            w = row[k]
            analytic = grad[k] / n + l2 / n * w + l1 / n * ref.sgn(w)
            results.append(Result(l + 1, "weight", index, conv, analytic, difference(
                textbook, weights, biases, row, k, pairs, act, cost, l2, l1, h, bool(l1)),
                least))
    return results, least


class Result:
    """One parameter's check: layer (1..L), kind ("weight" or "bias"), index ((j, k) or
    (j,); a conv layer's (f, c, i, j) or (f,)), conv, analytic, numeric (None at a
    kink), and

        error = |analytic − numeric| / max(|analytic|, |numeric|, floor)

    (None at a kink)."""

    def __init__(self, layer, kind, index, conv, analytic, numeric, least):
        self.layer, self.kind, self.index, self.conv = layer, kind, tuple(index), conv
        self.analytic, self.numeric = analytic, numeric
        self.error = None if numeric is None else (
            abs(analytic - numeric) / max(abs(analytic), abs(numeric), least))

    def symbol(self):
        """w²₀₂ or b¹₁; a conv layer's w¹[0][0][1][2] or b¹[0]."""
        letter = "w" if self.kind == "weight" else "b"
        if self.conv:
            return conv_name(letter, self.layer, *self.index)
        return name(letter, self.layer, *self.index)

    def describe(self):
        labels = ("fcij" if self.kind == "weight" else "f") if self.conv else "jk"
        index = " ".join("%s=%d" % pair for pair in zip(labels, self.index))
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
    w_shape, (n_out,) = param_shapes(sizes)[layer - 1]
    kind = sizes[layer]
    if isinstance(kind, str) and kind.startswith("pool"):
        return "  layer %d (%s): no weights or biases (max-pooling has none)" % (layer, kind)
    parts = []
    for what, total in (("weight", math.prod(w_shape)), ("bias", n_out)):
        mine = [r for r in results if r.layer == layer and r.kind == what]
        top = worst(mine)
        left = sum(r.error is None for r in mine)
        text = "%s %d/%d" % ("weights" if what == "weight" else "biases", len(mine) - left,
                             total)
        if top is not None:
            text += ", largest error %.2g (%s)%s" % (top.error, top.symbol(),
                                                     " FAIL" if top.error > tolerance else "")
        if left:
            text += " (%d left out: the step crosses a kink)" % left
        parts.append(text)
    return "  layer %d%s: %s" % (layer, " (%s)" % kind if isinstance(kind, str) else "",
                                 "; ".join(parts))


def header(args, pairs, label, picks, textbook):
    every = all(len(ws) == math.prod(w_shape) and len(bs) == n_out for (ws, bs), (
        w_shape, (n_out,)) in zip(picks, param_shapes(args.sizes)))
    masks = ("; with --dropout %r, one fixed keep mask per sample (random.Random(SEED + 2)), "
             "scale 1/(1 − p)" % args.dropout if textbook.keeps is not None else "")
    return [
        "%s: Network(%s, seed=%d, init=%r), %d sample%s, λ₂ = %r, λ₁ = %r"
        % (PROG, args.sizes, args.seed, args.init, len(pairs), "" if len(pairs) == 1 else "s",
           args.l2, args.l1),
        "Checking %s, averaged over the samples, plus λ₂/n·w + λ₁/n·sgn(w), against "
        "(C(θ+h) − C(θ−h))/2h of %s.total_cost with h = %g, on %s%s."
        % (label, textbook.module, args.step, "every parameter" if every else
           "at most %d weights and %d biases per layer (--sample)" % (args.sample, args.sample),
           masks),
        "error = |analytic − numeric| / max(|analytic|, |numeric|, floor); the floor is "
        "100·2⁻⁵²·max(|C|, 1)/(h·tolerance), what the difference can resolve; tolerance %g."
        % args.tolerance]


def masks(args, pairs):
    """With --dropout p, one keep mask per sample (deep.keep_masks, drawn by
    random.Random(SEED + 2)), and the scale 1/(1 − p); else (None, 1.0)."""
    if not args.dropout:
        return None, 1.0
    units = sum(layer.n for layer in layers_of(args.sizes)[1:-1] if layer.kind == "full")
    keep = deep.keep_masks(random.Random(args.seed + 2), len(pairs) * units, args.dropout)
    return [keep[s * units:(s + 1) * units] for s in range(len(pairs))], 1.0 / (1.0 - args.dropout)


def run(args, out):
    """Check every setting asked for; True when all are within the tolerance."""
    pairs = samples(args)
    net = Network(args.sizes, seed=args.seed, init=args.init)
    weights, biases = net.weights, net.biases
    if args.gradient and args.dropout:
        raise UsageError("--dropout checks purenet's own gradient (yours cannot see the "
                         "masks): leave out --gradient or --dropout")
    textbook = Textbook(args.sizes, *masks(args, pairs))
    if args.gradient:
        gradient, label = user_gradient(*load_gradient(args.gradient)), args.gradient
        gradient(weights, biases, pairs[:1], None, None)   # a broken one fails before any output
    else:
        gradient = textbook.gradient
        label = "backprop (%s.gradient_sums)" % textbook.module
    picks = chosen(args.sizes, args.sample, random.Random(args.seed))
    for line in header(args, pairs, label, picks, textbook):
        out(line)
    failed, tops, asked = [], [], settings(args)
    for cost, activation in asked:
        results, least = check(weights, biases, pairs, ref.ACTIVATIONS[activation],
                               ref.COSTS[cost], gradient, args.l2, args.l1, args.step,
                               args.tolerance, picks, textbook)
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
    p.add_argument("--dropout", type=momentum_value, default=0.0, metavar="P",
                   help="check with dropout p in [0, 1) on the fully connected hidden layers: "
                        "one fixed mask per sample, drawn by random.Random(SEED + 2)")
    p.add_argument("--gradient", default=None, metavar="MODULE:FUNCTION",
                   help="check your own FUNCTION(weights, biases, x, y) -> (nabla_b, nabla_w) "
                        "(one sample, no regularisation, purenet's layout) instead of the "
                        "reference's; also path/to/file.py:FUNCTION")
    return p


def main(argv=None, stream=None):
    args = build_parser().parse_args(argv)
    return exit_code(PROG, lambda: 0 if run(args, Output(stream or sys.stdout)) else 1)

