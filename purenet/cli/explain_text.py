"""How purenet.explain writes a step out: the step's dict as fit takes it (:func:`stepped`),
the names of the numbers, and :class:`Writer`, which writes every number of a fully connected
network's step (:mod:`purenet.cli.explain_conv` writes a conv network's).
"""

import itertools
import random

from .. import reference as ref
from ..dataset import Dataset
from ..deep import zeros_like

WIDTH = 19                                              # the function-name column


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
