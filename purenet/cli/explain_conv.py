"""One learning step of a network with conv and pool layers, every equation once:
``python -m purenet.explain --sizes 16,conv2x3,pool2,3``.

:func:`layered_step` traces the step with :mod:`purenet.deep` (``forward_pass``,
``backward_pass``, ``gradient_sums``) and takes it with its ``DeepEngine``, the engine
``fit`` uses for such a network, so the new parameters are fit's, bit for bit.

:class:`LayeredWriter` writes it out.  A fully connected layer is written as in any
network (every sum, cut by --max-terms); a conv or pool layer has too many sums to read,
so each of its equations is written once, with its numbers (the first unit, window or
weight; every other number is in --json):

* one conv sum term by term, in conv_sums' order (c, then i, then j ascending), the
  terms whose input is 0 skipped and named, and its activation;
* one pooling choice: the first window, its values, and the unit that wins (max_pool:
  the first maximum in row-major order);
* the error moved back through a pool layer (pool_backward: the window's δ goes to the
  unit that won it, 0 to the others, then ⊙σ′ by map_error), through a conv layer (one
  sum of conv_backward_error), or through a fully connected one (backward_error);
* the gradient of one conv weight as its sum over the filter's positions
  (conv_weight_gradient) and of one bias (conv_bias_gradient), and their update.
"""

import math

from .. import deep
from .. import reference as ref
from ..checks import layers_of
from ..convolution import conv_backward_error
from .explain_text import SUP, Writer, conv_name, exact, fit_order, name, stepped


# --- the step -----------------------------------------------------------------------

def trace_sample(layers, weights, biases, x, y, act, cost):
    """One sample's numbers, each from the deep.py function that computes it; z, δ and
    choices indexed from layer 1, a from the input."""
    zs, activations, choices = deep.forward_pass(layers, weights, biases, x, act, cost)
    deltas = deep.backward_pass(layers, weights, zs, activations, choices, y, act, cost)
    grad_b, grad_w = deep.gradient_sums(layers, weights, biases, [(x, y)], act, cost)
    return {"x": x, "y": y, "z": zs[1:], "a": activations, "choices": choices[1:],
            "cost": cost.fn(activations[-1], y, zs[-1]), "delta": deltas[1:],
            "grad_b": grad_b, "grad_w": grad_w}


def layered_step(net, samples, lr, l2=0.0, l1=0.0, momentum=0.0):
    """explain.step for a network with conv or pool layers (see its docstring): per
    sample also ``choices``, each pool window's chosen (y, x); no ``touched``."""
    act, cost = ref.ACTIVATIONS[net.activation], ref.COSTS[net.cost_name]
    layers, weights, biases = layers_of(net.sizes), net.weights, net.biases
    samples = [(list(map(float, x)), list(map(float, y))) for x, y in samples]
    order = fit_order(net.rng, len(samples))
    batch = [samples[i] for i in order]
    traced = [dict(trace_sample(layers, weights, biases, x, y, act, cost), index=i)
              for i, (x, y) in zip(order, batch)]
    sum_b, sum_w = deep.gradient_sums(layers, weights, biases, batch, act, cost)
    engine = deep.DeepEngine(net.sizes, weights, biases, net.cost_name, net.activation)
    return stepped(net, engine, samples, order, lr, l2, l1, momentum,
                   {"samples": traced, "sum_grad_b": sum_b, "sum_grad_w": sum_w})


# --- writing it out -----------------------------------------------------------------

def unravel(k, shape):
    """The (c, y, x) of element k of maps of shape (C, H, W) flattened."""
    _, h, w = shape
    return k // (h * w), k // w % h, k % w


def flat(v):
    """A layer's values as one vector (maps flattened, [map][row][column])."""
    return [u for m in v for row in m for u in row] if v and isinstance(v[0], list) else v


class LayeredWriter(Writer):
    """The text of a layered step (see the module's docstring)."""

    def __init__(self, doc, digits=6, max_terms=10):
        super().__init__(doc, digits, max_terms)
        self.layers = layers_of(doc["sizes"])

    def maps(self, l):
        """The (C, H, W) of layer l's activations as maps (the input is one √n×√n map),
        or None for a fully connected layer."""
        if l == 0:
            side = math.isqrt(self.layers[0].n)
            return 1, side, side
        return self.layers[l].shape if len(self.layers[l].shape) == 3 else None

    def as_maps(self, v, l):
        return deep.unflatten(v, self.maps(l)) if l == 0 else v

    def unit(self, letter, l, index):
        """The symbol of a unit of layer l: a¹[0][2][3] for maps, a³₄ for a vector."""
        return (conv_name if self.maps(l) else name)(letter, l, *index)

    def symbol(self, letter, l, index):
        return (conv_name if self.layers[l].kind == "conv" else name)(letter, l, *index)

    def more(self, count, what, l):
        """A line for the count units or parameters of layer l not written out; what:
        their name, singular and plural ("window", "windows")."""
        if count:
            yield "  … %d more %s of layer %d, the same way (all of them in --json)" % (
                count, what[count > 1], l)

    def header(self):
        yield from super().header()
        parts = ["0: the input, read as 1 map of %d×%d" % self.maps(0)[1:]]
        for l, (size, layer) in enumerate(zip(self.doc["sizes"][1:], self.layers[1:]), 1):
            parts.append("%d: %s" % (l, "%s, %d map%s of %d×%d" % (
                size, layer.shape[0], "" if layer.shape[0] == 1 else "s", layer.shape[1],
                layer.shape[2]) if self.maps(l) else "%d neurons" % layer.n))
        yield "Layers: %s." % "; ".join(parts)
        yield ("A conv layer's wˡ[f][c][i][j] is net.weights[l−1][f][c][i][j] (filter f, input "
               "map c, row i, column j), bˡ[f] its bias; maps are zˡ[c][y][x], aˡ[c][y][x]. Of a "
               "conv or pool layer each equation is written out once, for its first unit.")

    # --- forward

    def forward(self, s, sample):
        given = (" (given as sample %d)" % (sample["index"] + 1)) if self.doc["n"] > 1 else ""
        yield "Sample %d of %d%s: forward_pass (deep.py), layer by layer" % (
            s + 1, self.doc["n"], given)
        yield self.line("forward_pass", "a⁰ = x = (%s), y = (%s)" % (
            self.listed(sample["x"], "inputs"), self.listed(sample["y"], "targets")))
        for l in range(1, self.out + 1):
            kind = self.layers[l].kind
            part = (self.conv_forward if kind == "conv" else self.pool_forward
                    if kind == "pool" else self.full_forward)
            yield from part(l, sample)

    def conv_forward(self, l, sample):
        """The first sum of the layer, z[0][0][0], term by term, and its activation."""
        layer, (c_in, _, _) = self.layers[l], self.maps(l - 1)
        k, up, top = layer.k, str(l).translate(SUP), str(l - 1).translate(SUP)
        a_in, z, a = self.as_maps(sample["a"][l - 1], l - 1), sample["z"][l - 1], sample["a"][l]
        w, b = self.doc["weights"][l - 1][0], self.doc["biases"][l - 1][0]
        yield ("Layer %d, %s: z%s[f][y][x] = Σ_c Σ_i Σ_j w%s[f][c][i][j]·a%s[c][y+i][x+j] + "
               "b%s[f] (conv_sums: c, then i, then j ascending, from 0), a%s = %s:"
               % (l, self.doc["sizes"][l], up, up, top, up, up, self.fn % ("z" + up)))
        cells = [(c, i, j) for c in range(c_in) for i in range(k) for j in range(k)]
        kept = [(c, i, j) for c, i, j in cells if a_in[c][i][j] != 0.0]
        skipped = [self.unit("a", l - 1, t) for t in cells if a_in[t[0]][t[1]][t[2]] == 0.0]
        symbols = [conv_name("w", l, 0, c, i, j) + "·" + self.unit("a", l - 1, (c, i, j))
                   for c, i, j in kept]
        numbers = [self.factor(w[c][i][j]) + "·" + self.factor(a_in[c][i][j]) for c, i, j in kept]
        note = ("  (%d term%s skipped, input 0: %s)" % (
            len(skipped), "" if len(skipped) == 1 else "s",
            ", ".join(self.cut(skipped, "inputs"))) if skipped else "")
        zs = conv_name("z", l, 0, 0, 0)
        yield self.line("conv_sums", "%s = %s" % (
            zs, " + ".join(filter(None, [self.terms(symbols), conv_name("b", l, 0)]))))
        yield self.line("", "= %s = %s%s" % (
            " + ".join(filter(None, [self.terms(numbers), self.factor(b)])),
            exact(z[0][0][0]), note))
        yield self.line(self.act.fn.__name__, "%s = %s = %s = %s" % (
            conv_name("a", l, 0, 0, 0), self.fn % zs, self.fn % self.num(z[0][0][0]),
            exact(a[0][0][0])))
        yield from self.more(math.prod(layer.shape) - 1, ("conv sum and activation",
                                                           "conv sums and activations"), l)

    def pool_forward(self, l, sample):
        """The first window of the first map: its values and the one that wins."""
        layer, p = self.layers[l], self.layers[l].k
        a_in, m = self.as_maps(sample["a"][l - 1], l - 1), sample["a"][l]
        yield ("Layer %d, %s: a%s[c][Y][X] = the maximum of its %d×%d window (max_pool: read "
               "row by row, a value wins only if larger, so the first maximum wins):"
               % (l, self.doc["sizes"][l], str(l).translate(SUP), p, p))
        window = [(0, u, v) for u in range(p) for v in range(p)]
        won = (0,) + tuple(sample["choices"][l - 1][0][0][0])
        best = a_in[won[0]][won[1]][won[2]]
        ties = sum(a_in[c][u][v] == best for c, u, v in window) - 1
        yield self.line("max_pool", "%s = max(%s) = max(%s) = %s: %s wins%s" % (
            conv_name("a", l, 0, 0, 0), ", ".join(self.cut(
                [self.unit("a", l - 1, t) for t in window], "units")),
            ", ".join(self.cut([self.num(a_in[c][u][v]) for c, u, v in window], "values")),
            exact(m[0][0][0]), self.unit("a", l - 1, won),
            " (the first of %d equal values)" % (ties + 1) if ties else ""))
        yield from self.more(math.prod(layer.shape) - 1, ("window", "windows"), l)

    def full_forward(self, l, sample):
        """Every weighted sum and activation, as in a fully connected network."""
        z, a, a_in = sample["z"][l - 1], sample["a"][l], flat(sample["a"][l - 1])
        up, top = str(l).translate(SUP), str(l - 1).translate(SUP)
        read = ""
        if self.maps(l - 1):
            _, h, w = self.maps(l - 1)
            read = (" on a%s flattened: a%sₖ = a%s[c][y][x], k = (c·%d + y)·%d + x"
                    % (top, top, top, h, w))
        yield "Layer %d, %d neurons: z%s = w%s·a%s + b%s (weighted_sums)%s, a%s = %s:" % (
            l, len(z), up, up, top, up, read, up, self.fn % ("z" + up) if l < self.out
            else "%s(z%s)" % (self.cost.output.__name__, up))
        yield from self.block((self.weighted_sum(l, j, a_in, z[j]) for j in range(len(z))),
                              len(z), "weighted sums of layer %d" % l)
        yield from self.block((self.activation(l, j, z) + exact(a[j]) for j in range(len(z))),
                              len(z), "activations of layer %d" % l)

    # --- backward

    def backward(self, sample):
        L = str(self.out).translate(SUP)
        delta, a, y, z = sample["delta"], sample["a"], sample["y"], sample["z"]
        yield ("Backward: backward_pass (deep.py): the output error δ%s = ∂C/∂z%s (%s), then "
               "each layer's from the one after it" % (L, L, self.cost.delta.__name__))
        yield from self.block((self.output_error(j, a[-1], y, z[-1], delta[-1][j])
                               for j in range(len(y))), len(y), "output errors")
        for l in range(self.out - 1, 0, -1):
            kind = self.layers[l + 1].kind
            part = (self.from_conv if kind == "conv" else self.from_pool
                    if kind == "pool" else self.from_full)
            yield from part(l, sample)

    def slope(self, l):
        """σ′ as written for layer l: none for a pool layer (its slope is 1)."""
        return None if self.layers[l].kind == "pool" else self.prime

    def from_full(self, l, sample):
        """δˡ = (wˡ⁺¹)ᵀδˡ⁺¹ ⊙ σ′(zˡ), unit by unit (maps flattened)."""
        up, nx = str(l).translate(SUP), str(l + 1).translate(SUP)
        maps = self.maps(l)
        yield ("Layer %d from layer %d: δ%sₖ = %s (backward_error)%s:" % (
            l, l + 1, up, "(Σⱼ w%sⱼₖ·δ%sⱼ)·%s" % (nx, nx, self.prime % ("z" + up + "ₖ"))
            if self.slope(l) else "Σⱼ w%sⱼₖ·δ%sⱼ" % (nx, nx),
            "" if not maps else ", k = (c·%d + y)·%d + x%s" % (
                maps[1], maps[2], " (no σ′: a pool layer's slope is 1)"
                if not self.slope(l) else "")))
        n = len(flat(sample["z"][l - 1]))
        yield from self.block((self.moved(l, k, sample) for k in range(n)), n,
                              "errors of layer %d" % l)

    def moved(self, l, k, sample):
        w, after = self.doc["weights"][l], sample["delta"][l]
        here, z = flat(sample["delta"][l - 1]), flat(sample["z"][l - 1])
        sym = (conv_name("δ", l, *unravel(k, self.maps(l))) if self.maps(l)
               else name("δ", l, k))
        symbols = [name("w", l + 1, j, k) + "·" + name("δ", l + 1, j) for j in range(len(after))]
        numbers = [self.factor(w[j][k]) + "·" + self.factor(after[j]) for j in range(len(after))]
        if not self.slope(l):
            return self.line("backward_error", "%s = %s = %s = %s" % (
                sym, self.terms(symbols), self.terms(numbers), exact(here[k])))
        zk = (conv_name("z", l, *unravel(k, self.maps(l))) if self.maps(l) else name("z", l, k))
        return self.line("backward_error", "%s = (%s)·%s = (%s)·%s = %s" % (
            sym, self.terms(symbols), self.prime % zk, self.terms(numbers),
            self.factor(self.act.prime(z[k])), exact(here[k])))

    def from_pool(self, l, sample):
        """The first window's δ routed back to the unit that won it."""
        p, up = self.layers[l + 1].k, str(l).translate(SUP)
        delta, z = sample["delta"][l - 1], sample["z"][l - 1]
        yield ("Layer %d from layer %d (%s): pool_backward sends each window's δ to the unit "
               "that won it and 0 to the others%s. The first window:" % (
                   l, l + 1, self.doc["sizes"][l + 1],
                   "; then δ%s = that ⊙ %s (map_error)" % (up, self.prime % ("z" + up))
                   if self.slope(l) else " (no σ′: a pool layer's slope is 1)"))
        won = (0,) + tuple(sample["choices"][l][0][0][0])
        others = [(0, u, v) for u in range(p) for v in range(p) if (0, u, v) != won]
        d = sample["delta"][l][0][0][0]
        source = conv_name("δ", l + 1, 0, 0, 0)
        yield self.line("pool_backward", "%s = %s goes to %s (it won the window); %s get 0" % (
            source, self.num(d), self.unit("a", l, won),
            ", ".join(self.cut([self.unit("a", l, t) for t in others], "units"))))
        target = conv_name("δ", l, *won)
        if self.slope(l):
            zw = conv_name("z", l, *won)
            routed = "%s = %s·%s = %s·%s = %s" % (
                target, source, self.prime % zw, self.factor(d),
                self.factor(self.act.prime(z[won[0]][won[1]][won[2]])),
                exact(delta[won[0]][won[1]][won[2]]))
        else:
            routed = "%s = %s = %s" % (target, source, exact(delta[won[0]][won[1]][won[2]]))
        yield self.line("map_error" if self.slope(l) else "pool_backward", routed)
        values = [exact(delta[c][y][x]) for c, y, x in others]
        names = self.cut([conv_name("δ", l, *t) for t in others], "units")
        zero = "0·%s = " % (self.prime % "z") if self.slope(l) else ""
        yield self.line("map_error" if self.slope(l) else "pool_backward", "%s = %s%s" % (
            " = ".join(names), zero, values[0]) if len(set(values)) == 1 else ", ".join(
                "%s = %s" % pair for pair in zip(names, values)))
        yield from self.more(math.prod(self.layers[l + 1].shape) - 1, ("window", "windows"), l)

    def from_conv(self, l, sample):
        """One sum of conv_backward_error, then ⊙σ′."""
        nxt, (_, h, w) = self.layers[l + 1], self.maps(l)
        k, oh, ow = nxt.k, nxt.shape[1], nxt.shape[2]
        up, nx = str(l).translate(SUP), str(l + 1).translate(SUP)
        weights, after = self.doc["weights"][l], sample["delta"][l]
        y, x = min(k - 1, h - 1), min(k - 1, w - 1)           # a unit every row i reaches
        yield ("Layer %d from layer %d (%s): s%s[c][y][x] = Σ_f Σ_i Σ_j w%s[f][c][i][j]·"
               "δ%s[f][y−i][x−j] over the (i, j) that reach (y, x) (conv_backward_error: f, "
               "then i, then j ascending, from 0), then δ%s = s%s%s:" % (
                   l, l + 1, self.doc["sizes"][l + 1], up, nx, nx, up, up,
                   " ⊙ %s (map_error)" % (self.prime % ("z" + up)) if self.slope(l)
                   else " (a pool layer's slope is 1)"))
        cells = [(f, i, j) for f in range(nxt.n) for i in range(k) for j in range(k)
                 if 0 <= y - i < oh and 0 <= x - j < ow]
        kept = [(f, i, j) for f, i, j in cells if after[f][y - i][x - j] != 0.0]
        symbols = [conv_name("w", l + 1, f, 0, i, j) + "·" + conv_name("δ", l + 1, f, y - i, x - j)
                   for f, i, j in kept]
        numbers = [self.factor(weights[f][0][i][j]) + "·" + self.factor(after[f][y - i][x - j])
                   for f, i, j in kept]
        s = conv_backward_error(weights, after, self.maps(l))[0][y][x]
        skipped = len(cells) - len(kept)
        sym = conv_name("s", l, 0, y, x)
        yield self.line("conv_backward_error", "%s = %s" % (sym, self.terms(symbols) or "0"))
        yield self.line("", "= %s = %s%s" % (
            self.terms(numbers) or "0", exact(s),
            "  (%d term%s skipped: δ 0)" % (skipped, "" if skipped == 1 else "s")
            if skipped else ""))
        d = sample["delta"][l - 1][0][y][x]
        if self.slope(l):
            zs = conv_name("z", l, 0, y, x)
            yield self.line("map_error", "%s = %s·%s = %s·%s = %s" % (
                conv_name("δ", l, 0, y, x), sym, self.prime % zs, self.factor(s),
                self.factor(self.act.prime(sample["z"][l - 1][0][y][x])), exact(d)))
        else:
            yield self.line("conv_backward_error", "%s = %s = %s" % (
                conv_name("δ", l, 0, y, x), sym, exact(d)))
        yield from self.more(math.prod(self.layers[l].shape) - 1, ("error", "errors"), l)

    # --- gradients, sums, update

    def parameters(self, l, bias_line, weight_line, what):
        """A fully connected layer's lines, biases then weights row by row."""
        n_out, n_in = self.layers[l].n, math.prod(self.layers[l - 1].shape)
        yield from self.block((bias_line(l, j) for j in range(n_out)), n_out,
                              "%s of layer %d's biases" % (what, l))
        yield from self.block((weight_line(l, j, k) for j in range(n_out) for k in range(n_in)),
                              n_out * n_in, "%s of layer %d's weights" % (what, l))

    def gradients(self, sample):
        yield ("Gradients: gradient_sums (deep.py) of this sample: a fully connected layer's "
               "∂C/∂bˡ = δˡ, ∂C/∂wˡ = δˡ (aˡ⁻¹)ᵀ (add_full_gradient, inputs 0 skipped); a conv "
               "layer's by conv_bias_gradient and conv_weight_gradient; a pool layer has none")
        for l in range(1, self.out + 1):
            kind = self.layers[l].kind
            if kind == "conv":
                yield from self.conv_gradient(l, sample)
            elif kind == "full":
                yield from self.parameters(l, lambda l, j: self.bias_gradient(l, j, sample),
                                           lambda l, j, k: self.weight_gradient(l, j, k, sample),
                                           "gradients")

    def bias_gradient(self, l, j, sample):
        return self.line("add_full_gradient", "∂C/∂%s = %s = %s" % (
            name("b", l, j), name("δ", l, j), exact(sample["grad_b"][l - 1][j])))

    def weight_gradient(self, l, j, k, sample):
        """∂C/∂wˡⱼₖ = δˡⱼ·aˡ⁻¹ₖ, left at 0 where the input is 0 (add_full_gradient)."""
        a, g = flat(sample["a"][l - 1])[k], exact(sample["grad_w"][l - 1][j][k])
        product = ("%s·%s = %s" % (self.factor(sample["delta"][l - 1][j]), self.factor(a), g)
                   if a != 0.0 else "%s  (skipped: input 0)" % g)
        return self.line("add_full_gradient", "∂C/∂%s = %s·%s = %s" % (
            name("w", l, j, k), name("δ", l, j), name("a", l - 1, k), product))

    def conv_gradient(self, l, sample):
        """∂C/∂b[0] over the map, and ∂C/∂w[0][0][0][0] over the filter's positions."""
        up = str(l).translate(SUP)
        delta = sample["delta"][l - 1][0]
        a_in = self.as_maps(sample["a"][l - 1], l - 1)[0]
        cells = [(y, x) for y in range(len(delta)) for x in range(len(delta[0]))]
        yield self.line("conv_bias_gradient", "∂C/∂%s = Σ_y Σ_x δ%s[0][y][x] = %s = %s" % (
            conv_name("b", l, 0), up, self.terms([self.factor(delta[y][x]) for y, x in cells]),
            exact(sample["grad_b"][l - 1][0])))
        kept = [(y, x) for y, x in cells if delta[y][x] != 0.0 and a_in[y][x] != 0.0]
        skipped = len(cells) - len(kept)
        symbols = [conv_name("δ", l, 0, y, x) + "·" + self.unit("a", l - 1, (0, y, x))
                   for y, x in kept]
        yield self.line("conv_weight_gradient", "∂C/∂%s = Σ_y Σ_x δ%s[0][y][x]·a%s[0][y+0][x+0] "
                        "= %s" % (conv_name("w", l, 0, 0, 0, 0), up, str(l - 1).translate(SUP),
                                  self.terms(symbols) or "0"))
        yield self.line("", "= %s = %s%s" % (
            self.terms(["%s·%s" % (self.factor(delta[y][x]), self.factor(a_in[y][x]))
                        for y, x in kept]) or "0", exact(sample["grad_w"][l - 1][0][0][0][0]),
            "  (%d term%s skipped: δ or a 0)" % (skipped, "" if skipped == 1 else "s")
            if skipped else ""))
        yield from self.more(self.layers[l].weights + self.layers[l].biases - 2,
                             ("gradient", "weight and bias gradients"), l)

    def sums(self):
        d = self.doc
        if d["n"] == 1:
            yield ("Summed over the batch: gradient_sums: with one sample, Σ∂C/∂b and Σ∂C/∂w "
                   "are its gradients")
            return
        yield ("Summed over the batch: gradient_sums: sample by sample in batch order from 0; "
               "a fully connected layer adds δⱼ·aₖ only where aₖ ≠ 0, a conv layer adds each "
               "sample's gradient")
        samples = d["samples"]
        for l in range(1, self.out + 1):
            kind = self.layers[l].kind
            if kind == "conv":
                yield self.sum_line(conv_name("b", l, 0), [s["grad_b"][l - 1][0] for s in samples],
                                    d["sum_grad_b"][l - 1][0])
                yield self.sum_line(conv_name("w", l, 0, 0, 0, 0),
                                    [s["grad_w"][l - 1][0][0][0][0] for s in samples],
                                    d["sum_grad_w"][l - 1][0][0][0][0])
                yield from self.more(self.layers[l].weights + self.layers[l].biases - 2,
                                     ("sum", "sums"), l)
            elif kind == "full":
                yield from self.parameters(l, lambda l, j: self.sum_line(
                    name("b", l, j), [s["grad_b"][l - 1][j] for s in samples],
                    d["sum_grad_b"][l - 1][j]),
                    lambda l, j, k: self.sum_line(name("w", l, j, k), [
                        s["grad_w"][l - 1][j][k] if flat(s["a"][l - 1])[k] != 0.0 else None
                        for s in samples], d["sum_grad_w"][l - 1][j][k]), "sums")

    def update(self):
        scale = self.doc["lr"] / self.doc["n"]          # η/m, as deep.update has it
        yield from self.update_header(scale)
        for l in range(1, self.out + 1):
            kind = self.layers[l].kind
            if kind == "conv":
                yield self.bias_update(l, 0, scale)
                yield self.weight_update(l, (0, 0, 0, 0), scale)
                yield from self.more(self.layers[l].weights + self.layers[l].biases - 2,
                                     ("update", "updates"), l)
            elif kind == "full":
                yield from self.parameters(l, lambda l, j: self.bias_update(l, j, scale),
                                           lambda l, j, k: self.weight_update(l, (j, k), scale),
                                           "updates")
