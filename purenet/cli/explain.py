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
import itertools
import json
import math
import random
import sys

from .. import reference as ref
from ..checks import INITS, is_layered
from ..dataset import Dataset
from ..deep import zeros_like
from ..errors import UsageError
from ..network import Network
from .options import (Output, Parser, count, exit_code, layer_sizes, momentum_value, penalty,
                      positive_int, positive_number)

PROG = "purenet.explain"
EXAMPLE_X, EXAMPLE_Y = [0.05, 0.10], [0.01, 0.99]      # Matt Mazur's worked example
WIDTH = 19                                              # the function-name column


# --- the step -----------------------------------------------------------------------

def fit_order(rng, m):
    """The order in which ``fit`` takes m samples in its first epoch: it shuffles
    range(m) with the network's generator (a copy here: rng is not advanced)."""
    copy = random.Random()
    copy.setstate(rng.getstate())
    order = list(range(m))
    copy.shuffle(order)
    return order


def update_name(l2, l1, momentum):
    """The reference function the engine's train_batches steps with for these settings."""
    if momentum:
        return "momentum_update"
    return "regularized_update" if (l2 or l1) else "update_mini_batch"


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
        return conv_part().layered_step(net, samples, lr, l2, l1, momentum)
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


def stepped(net, engine, samples, order, lr, l2, l1, momentum, trace):
    """The step's dict: engine (holding net's parameters) takes the step as fit does, on
    the samples in fit's order; trace holds the traced numbers."""
    weights, biases = net.weights, net.biases
    if momentum:                      # the net's velocities, zeros before its first step
        velocities = net.engine.get_velocities() or (zeros_like(weights), zeros_like(biases))
        engine.set_velocities(*velocities)
    data = Dataset.from_pairs(samples, n_out=net.sizes[-1], name="the batch")
    engine.train_batches(data, [order], lr, n=len(samples), l2=l2, l1=l1, momentum=momentum)
    new_w, new_b = engine.get_params()
    doc = {"sizes": net.sizes, "seed": net.seed, "cost": net.cost_name,
           "activation": net.activation, "init": net.init, "lr": lr, "l2": l2, "l1": l1,
           "momentum": momentum, "n": len(samples), "update": update_name(l2, l1, momentum),
           "order": order, **trace,
           "weights": weights, "biases": biases, "new_weights": new_w, "new_biases": new_b}
    if momentum:
        doc["velocities"] = list(velocities)
        doc["new_velocities"] = engine.get_velocities()
    return doc


def conv_part():
    """purenet.cli.explain_conv, which builds on this module (so it is imported when
    first needed, not at the top)."""
    from . import explain_conv
    return explain_conv


# --- writing it out -----------------------------------------------------------------

SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
NEURON = {"sigmoid": ("σ(%s)", "σ′(%s)"), "tanh": ("tanh(%s)", "tanh′(%s)"),
          "relu": ("max(0, %s)", "relu′(%s)")}


def name(letter, l, *index):
    """A symbol such as w¹₀₁ (layer as a superscript, indices as subscripts; a comma
    between indices once one has two digits)."""
    sep = "," if any(i >= 10 for i in index) else ""
    return letter + str(l).translate(SUP) + sep.join(map(str, index)).translate(SUB)


def conv_name(letter, l, *index):
    """A symbol of a conv or pool layer, such as w¹[0][0][1][2] or z¹[1][0][3]: the layer
    as a superscript, the indices in brackets as in net.weights[l−1][f][c][i][j]."""
    return letter + str(l).translate(SUP) + "".join("[%d]" % i for i in index)


def at(nested, index):
    """nested[i][j]...[k] for index (i, j, ..., k)."""
    for i in index:
        nested = nested[i]
    return nested


def exact(v):
    """A result: Python's repr, the shortest text that reads back as the same float."""
    return repr(float(v))


class Writer:
    """The text of a step (see :func:`step`): lines of ``function  equation``.

    digits: significant digits of the operands inside written-out sums (0: exact);
    max_terms: the most terms of a sum, and lines of a block, shown (0: all).
    """

    def __init__(self, doc, digits=6, max_terms=10):
        self.doc, self.digits, self.max_terms = doc, digits, max_terms
        self.act = ref.ACTIVATIONS[doc["activation"]]
        self.cost = ref.COSTS[doc["cost"]]
        self.fn, self.prime = NEURON[doc["activation"]]
        self.out = len(doc["sizes"]) - 1                # the output layer's number, L
        self.touched = [set(t) for t in doc["touched"]] if "touched" in doc else None

    def num(self, v):
        return exact(v) if not self.digits else "%.*g" % (self.digits, v)

    def factor(self, v):
        """An operand of a product: a negative one in parentheses."""
        text = self.num(v)
        return "(%s)" % text if text.startswith("-") else text

    def cut(self, items, what):
        """The first max_terms of items, then how many more there are."""
        if self.max_terms and len(items) > self.max_terms:
            return items[:self.max_terms] + ["… %d more %s" % (len(items) - self.max_terms,
                                                               what)]
        return items

    def terms(self, items, what="terms"):
        """The terms of a sum, joined by " + " (cut after max_terms)."""
        return " + ".join(self.cut(items, what))

    def listed(self, values, what):
        """A vector's values, comma-separated (cut after max_terms)."""
        return ", ".join(self.cut([self.num(v) for v in values], what))

    def block(self, lines, total, what):
        """The first max_terms of the total lines (a generator: the rest are never
        written), then how many more there are."""
        limit = self.max_terms or total
        yield from itertools.islice(lines, limit)
        if total > limit:
            yield "  … %d more %s (all of them in --json)" % (total - limit, what)

    @staticmethod
    def line(function, text):
        return "  %-*s %s" % (WIDTH, function, text)

    # The parts of the trace, in the order of reference.py.

    def lines(self):
        yield from self.header()
        for s, sample in enumerate(self.doc["samples"]):
            yield ""
            yield from self.forward(s, sample)
            yield from self.cost_lines(sample)
            yield from self.backward(sample)
            yield from self.gradients(sample)
        yield ""
        yield from self.sums()
        yield ""
        yield from self.update()

    def header(self):
        d = self.doc
        yield ("One step of gradient descent: Network(%s, seed=%d, cost=%r, activation=%r, "
               "init=%r), η = %s, a mini-batch of m = %d sample%s"
               % (d["sizes"], d["seed"], d["cost"], d["activation"], d["init"],
                  exact(d["lr"]), d["n"], "" if d["n"] == 1 else "s")
               + "".join(", %s = %s" % (k, exact(d[key])) for k, key in
                         (("λ₂", "l2"), ("λ₁", "l1"), ("μ", "momentum")) if d[key]) + ".")
        yield ("Operands are shown to %s; results are exact (Python's repr). "
               "Numbering: layer 0 is the input; wˡⱼₖ joins neuron k of layer l−1 to "
               "neuron j of layer l (net.weights[l−1][j][k])."
               % ("%d significant digits (--digits)" % self.digits if self.digits
                  else "full precision"))
        if d["n"] > 1:
            yield ("fit shuffles the batch with the network's generator: it takes the "
                   "samples in the order %s (numbered as given, from 1)."
                   % ", ".join(str(i + 1) for i in d["order"]))

    def forward(self, s, sample):
        L = self.out
        given = (" (given as sample %d)" % (sample["index"] + 1)) if self.doc["n"] > 1 else ""
        yield ("Sample %d of %d%s: forward_pass: z = w·a + b (weighted_sums), a = %s, "
               "output layer %s" % (s + 1, self.doc["n"], given, self.fn % "z",
                                    self.cost.output.__name__))
        yield self.line("forward_pass", "a⁰ = x = (%s), y = (%s)" % (
            self.listed(sample["x"], "inputs"), self.listed(sample["y"], "targets")))
        for l in range(1, L + 1):
            z, a, a_in = sample["z"][l - 1], sample["a"][l], sample["a"][l - 1]
            yield from self.block((self.weighted_sum(l, j, a_in, z[j]) for j in range(len(z))),
                                  len(z), "weighted sums of layer %d" % l)
            yield from self.block((self.activation(l, j, z) + exact(a[j]) for j in range(len(z))),
                                  len(z), "activations of layer %d" % l)

    def weighted_sum(self, l, j, a_in, z_j):
        """zˡⱼ = Σₖ wˡⱼₖ·aˡ⁻¹ₖ + bˡⱼ with its numbers; the terms of inputs that are 0 are
        skipped by the reference (they add exactly 0), and said to be."""
        w, b = self.doc["weights"][l - 1][j], self.doc["biases"][l - 1][j]
        ks = [k for k in range(len(a_in)) if a_in[k] != 0.0]
        symbols = [name("w", l, j, k) + "·" + name("a", l - 1, k) for k in ks]
        numbers = [self.factor(w[k]) + "·" + self.factor(a_in[k]) for k in ks]
        skipped = len(a_in) - len(ks)
        note = ("  (%d term%s skipped: input 0)" % (skipped, "" if skipped == 1 else "s")
                if skipped else "")
        return self.line("weighted_sums", "%s = %s = %s = %s%s" % (
            name("z", l, j), " + ".join(filter(None, [self.terms(symbols), name("b", l, j)])),
            " + ".join(filter(None, [self.terms(numbers), self.factor(b)])), exact(z_j), note))

    def activation(self, l, j, z):
        """aˡⱼ = σ(zˡⱼ) (or the output layer's softmax) written out, up to its value."""
        a, zj = name("a", l, j), name("z", l, j)
        if l < self.out:
            return self.line(self.act.fn.__name__, "%s = %s = %s = " % (
                a, self.fn % zj, self.fn % self.num(z[j])))
        if self.cost.output is ref.softmax:
            exps = ["e^%s" % self.factor(v) for v in z]
            return self.line("softmax", "%s = e^%s / Σₖ e^%sₖ = e^%s / (%s) = " % (
                a, zj, "z" + str(l).translate(SUP), self.factor(z[j]), self.terms(exps)))
        return self.line("sigmoids", "%s = σ(%s) = σ(%s) = " % (a, zj, self.num(z[j])))

    def cost_lines(self, sample):
        a, y, z = sample["a"][-1], sample["y"], sample["z"][-1]
        L, fn = str(self.out).translate(SUP), self.cost.fn
        if fn is ref.quadratic_cost:
            text = "C = ½·Σⱼ (a%sⱼ − yⱼ)² = ½·(%s)" % (L, self.terms(
                ["(%s − %s)²" % (self.num(a[j]), self.factor(y[j])) for j in range(len(a))]))
        elif fn is ref.cross_entropy_cost:
            text = "C = Σⱼ yⱼ·softplus(−z%sⱼ) + (1 − yⱼ)·softplus(z%sⱼ) = %s" % (L, L, self.terms(
                ["%s·softplus(%s) + (1 − %s)·softplus(%s)" % (
                    self.factor(y[j]), self.num(-z[j]), self.num(y[j]), self.num(z[j]))
                 for j in range(len(z))]))
        else:
            text = "C = Σⱼ yⱼ·(lse − z%sⱼ), lse = ln Σₖ e^z%sₖ: = %s" % (L, L, self.terms(
                ["%s·(lse − %s)" % (self.factor(y[j]), self.factor(z[j]))
                 for j in range(len(z))]))
        yield "Cost of the sample (%s):" % fn.__name__
        yield self.line(fn.__name__, "%s = %s" % (text, exact(sample["cost"])))

    def backward(self, sample):
        L, z, a, y = self.out, sample["z"], sample["a"], sample["y"]
        delta = sample["delta"]
        yield ("Backward: backward_pass: the output error δ%s = ∂C/∂z%s (%s), then "
               "δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ %s (backward_error)"
               % (str(L).translate(SUP), str(L).translate(SUP), self.cost.delta.__name__,
                  self.prime % "zˡ"))
        yield from self.block((self.output_error(j, a[-1], y, z[-1], delta[-1][j])
                               for j in range(len(y))), len(y), "output errors")
        for l in range(L - 1, 0, -1):
            size = len(delta[l - 1])
            yield from self.block((self.backward_error(l, k, z[l - 1][k], delta)
                                   for k in range(size)), size, "errors of layer %d" % l)

    def output_error(self, j, a, y, z, d):
        L = self.out
        diff = "(%s − %s)" % (self.num(a[j]), self.factor(y[j]))
        if self.cost.delta is ref.output_error:
            text = "%s = (%s − y%s)·σ′(%s) = %s·σ′(%s) = %s·%s" % (
                name("δ", L, j), name("a", L, j), str(j).translate(SUB), name("z", L, j),
                diff, self.num(z[j]), diff, self.factor(ref.sigmoid_prime(z[j])))
        else:
            text = "%s = %s − y%s = %s − %s" % (name("δ", L, j), name("a", L, j),
                                               str(j).translate(SUB), self.num(a[j]),
                                               self.factor(y[j]))
        return self.line(self.cost.delta.__name__, "%s = %s" % (text, exact(d)))

    def backward_error(self, l, k, z_k, delta):
        """δˡₖ = (Σⱼ wˡ⁺¹ⱼₖ·δˡ⁺¹ⱼ)·σ′(zˡₖ) written out."""
        w, after = self.doc["weights"][l], delta[l]
        symbols = [name("w", l + 1, j, k) + "·" + name("δ", l + 1, j) for j in range(len(after))]
        numbers = [self.factor(w[j][k]) + "·" + self.factor(after[j]) for j in range(len(after))]
        zk = name("z", l, k)
        return self.line("backward_error", "%s = (%s)·%s = (%s)·%s = %s" % (
            name("δ", l, k), self.terms(symbols), self.prime % zk, self.terms(numbers),
            self.factor(self.act.prime(z_k)), exact(delta[l - 1][k])))

    def parameters(self, l, bias_line, weight_line, what):
        """Layer l's lines for its biases, then for its weights (row by row), as the
        reference goes through them."""
        n_out, n_in = self.doc["sizes"][l], self.doc["sizes"][l - 1]
        yield from self.block((bias_line(l, j) for j in range(n_out)), n_out,
                              "%s of layer %d's biases" % (what, l))
        yield from self.block((weight_line(l, j, k) for j in range(n_out) for k in range(n_in)),
                              n_out * n_in, "%s of layer %d's weights" % (what, l))

    def gradients(self, sample):
        yield "Gradients: backprop: ∂C/∂bˡ = δˡ, ∂C/∂wˡ = δˡ (aˡ⁻¹)ᵀ (weight_gradient)"
        delta, a, gb, gw = sample["delta"], sample["a"], sample["grad_b"], sample["grad_w"]
        for l in range(1, self.out + 1):
            yield from self.parameters(l, lambda l, j: self.line("backprop", "∂C/∂%s = %s = %s" % (
                name("b", l, j), name("δ", l, j), exact(gb[l - 1][j]))),
                lambda l, j, k: self.line("weight_gradient", "∂C/∂%s = %s·%s = %s·%s = %s" % (
                    name("w", l, j, k), name("δ", l, j), name("a", l - 1, k),
                    self.factor(delta[l - 1][j]), self.factor(a[l - 1][k]),
                    exact(gw[l - 1][j][k]))), "gradients")

    def sums(self):
        d = self.doc
        if d["n"] == 1:
            yield ("Summed over the batch: gradient_sums: with one sample, Σ∂C/∂b and Σ∂C/∂w "
                   "are its gradients (the terms of inputs that are 0 skipped: they add "
                   "exactly 0)")
            return
        yield ("Summed over the batch: gradient_sums: Σ∂C/∂b = Σ δ, Σ∂C/∂w = Σ δ aᵀ, "
               "sample by sample in batch order from 0, adding δⱼ·aₖ only where aₖ ≠ 0")
        samples = d["samples"]
        for l in range(1, self.out + 1):
            yield from self.parameters(l, lambda l, j: self.sum_line(
                name("b", l, j), [s["grad_b"][l - 1][j] for s in samples],
                d["sum_grad_b"][l - 1][j]),
                lambda l, j, k: self.sum_line(name("w", l, j, k), [
                    s["grad_w"][l - 1][j][k] if s["a"][l - 1][k] != 0.0 else None
                    for s in samples], d["sum_grad_w"][l - 1][j][k]), "sums")

    def sum_line(self, symbol, parts, total):
        """Σ∂C/∂(parameter) = the samples' terms in batch order; None: a skipped term."""
        shown = [self.factor(v) for v in parts if v is not None]
        skipped = [str(s + 1) for s, v in enumerate(parts) if v is None]
        note = ("  (sample%s %s skipped: input 0)" % ("s" if len(skipped) > 1 else "",
                                                       ", ".join(skipped)) if skipped else "")
        return self.line("gradient_sums", "Σ∂C/∂%s = %s = %s%s" % (
            symbol, self.terms(shown, "samples") or "0", exact(total), note))

    def update(self):
        scale = self.doc["lr"] / self.doc["n"]          # η/m, as the update functions have it
        yield from self.update_header(scale)
        for l in range(1, self.out + 1):
            yield from self.parameters(l, lambda l, j: self.bias_update(l, j, scale),
                                       lambda l, j, k: self.weight_update(l, (j, k), scale),
                                       "updates")

    def symbol(self, letter, l, index):
        """The symbol of a parameter of layer l: w¹₀₁, b¹₀."""
        return name(letter, l, *index)

    def update_header(self, scale):
        d = self.doc
        rule = {"update_mini_batch": "w ← w − (η/m)·Σ∂C/∂w, b ← b − (η/m)·Σ∂C/∂b",
                "regularized_update": "w ← (1 − ηλ₂/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∂C/∂w, "
                                      "b ← b − (η/m)·Σ∂C/∂b",
                "momentum_update": "v ← μ·v − (ηλ₂/n)·w − (ηλ₁/n)·sgn(w) − (η/m)·Σ∂C/∂w, "
                                   "w ← w + v; v_b ← μ·v_b − (η/m)·Σ∂C/∂b, b ← b + v_b"}
        consts = ["η/m = %s/%d = %s" % (exact(d["lr"]), d["n"], exact(scale))]
        if d["update"] != "update_mini_batch":
            consts += ["n = %d (the training set: this batch)" % d["n"]]
        yield "The step: %s: %s; %s" % (d["update"], rule[d["update"]], ", ".join(consts))

    def bias_update(self, l, j, scale):
        d = self.doc
        b, g, new = d["biases"][l - 1][j], d["sum_grad_b"][l - 1][j], d["new_biases"][l - 1][j]
        sym = self.symbol("b", l, (j,))
        if d["update"] == "momentum_update":
            v = d["velocities"][1][l - 1][j]
            text = "v[%s] ← μ·v − (η/m)·Σ∂C/∂%s = %s·%s − %s·%s = %s; %s ← %s + v" % (
                sym, sym, self.factor(d["momentum"]), self.factor(v), self.factor(scale),
                self.factor(g), exact(d["new_velocities"][1][l - 1][j]), sym, sym)
        else:
            text = "%s ← %s − (η/m)·Σ∂C/∂%s = %s − %s·%s" % (
                sym, sym, sym, self.num(b), self.factor(scale), self.factor(g))
        return self.line(d["update"], "%s: %s → %s" % (text, exact(b), exact(new)))

    def weight_update(self, l, index, scale):
        """The update of the weight wˡ[index] (index: (j, k), or a conv layer's (f, c, i,
        j))."""
        d = self.doc
        w, g = at(d["weights"][l - 1], index), at(d["sum_grad_w"][l - 1], index)
        new, sym = at(d["new_weights"][l - 1], index), self.symbol("w", l, index)
        n, lr = d["n"], d["lr"]
        if d["update"] == "update_mini_batch":
            k = index[-1]
            if self.touched is not None and k not in self.touched[l - 1]:
                return self.line(d["update"], "%s stays %s: %s was 0 in every sample, so the "
                                 "column is skipped" % (sym, exact(w), name("a", l - 1, k)))
            text = "%s ← %s − (η/m)·Σ∂C/∂%s = %s − %s·%s" % (
                sym, sym, sym, self.num(w), self.factor(scale), self.factor(g))
            return self.line(d["update"], "%s: %s → %s" % (text, exact(w), exact(new)))
        shrink = ([("(ηλ₁/n)·sgn(%s)" % sym, "%s·%s" % (self.factor(lr * d["l1"] / n),
                                                         self.factor(ref.sgn(w))))]
                  if d["l1"] else [])
        grad = [("(η/m)·Σ∂C/∂%s" % sym, "%s·%s" % (self.factor(scale), self.factor(g)))]
        if d["update"] == "momentum_update":
            decay = ([("(ηλ₂/n)·%s" % sym, "%s·%s" % (self.factor(lr * d["l2"] / n),
                                                      self.factor(w)))] if d["l2"] else [])
            v = at(d["velocities"][0][l - 1], index)
            parts = [("μ·v", "%s·%s" % (self.factor(d["momentum"]), self.factor(v)))]
            parts += decay + shrink + grad
            text = "v[%s] ← %s = %s = %s; %s ← %s + v" % (
                sym, " − ".join(p[0] for p in parts), " − ".join(p[1] for p in parts),
                exact(at(d["new_velocities"][0][l - 1], index)), sym, sym)
        else:
            kept = (("(1 − ηλ₂/n)·%s" % sym, "%s·%s" % (self.factor(1.0 - lr * d["l2"] / n),
                                                        self.factor(w)))
                    if d["l2"] else (sym, self.num(w)))
            parts = [kept] + shrink + grad
            text = "%s ← %s = %s" % (sym, " − ".join(p[0] for p in parts),
                                     " − ".join(p[1] for p in parts))
        return self.line(d["update"], "%s: %s → %s" % (text, exact(w), exact(new)))


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
        writer = conv_part().LayeredWriter if is_layered(args.sizes) else Writer
        for line in writer(doc, args.digits, args.max_terms).lines():
            out(line)


def main(argv=None, stream=None):
    args = build_parser().parse_args(argv)
    return exit_code(PROG, lambda: run(args, Output(stream or sys.stdout)))

