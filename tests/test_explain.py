"""purenet.explain: its step is fit's step, bit for bit, in both engines; its text shows
the reference's numbers (Matt Mazur's worked example among them); bad options get one
line and exit code 2."""

import json
import random
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from purenet import Network, deep
from purenet.checks import layers_of
from purenet.cli import explain
from purenet.convolution import conv_backward_error, conv_bias_gradient, conv_weight_gradient
from purenet import reference as ref
from conftest import ROOT, needs_c
from helpers import STANDARD_LIBRARY

FEW = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def bits(value):
    """Nested floats as their exact bits (float.hex tells -0.0 from 0.0, which == does not)."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):     # array('d') rows too
        return [bits(v) for v in value]
    return float(value).hex()


def fitted(sizes, seed, samples, lr, backend="python", l2=0.0, l1=0.0, momentum=0.0,
           **kind):
    """The network after fit's one epoch of one mini-batch holding every sample."""
    net = Network(sizes, seed=seed, backend=backend, **kind)
    net.fit(samples, 1, len(samples), lr, l2=l2, l1=l1, momentum=momentum)
    return net


def same_as_fit(doc, net):
    assert bits(doc["new_weights"]) == bits(net.weights)
    assert bits(doc["new_biases"]) == bits(net.biases)
    if doc["momentum"]:
        vw, vb = net.engine.get_velocities()
        assert bits(doc["new_velocities"]) == bits([vw, vb])


def run(capsys, *argv):
    code = explain.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the step is fit's step -------------------------------------------------------------

@st.composite
def cases(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    m = draw(st.integers(1, 5))
    value = st.one_of(st.just(0.0), st.floats(-2.0, 2.0, allow_subnormal=False))
    samples = [([draw(value) for _ in range(sizes[0])],
                [draw(st.floats(0.0, 1.0)) for _ in range(sizes[-1])]) for _ in range(m)]
    rule = draw(st.sampled_from(["plain", "l2", "l1", "both", "momentum"]))
    return dict(sizes=sizes, seed=draw(st.integers(0, 2 ** 32)), samples=samples,
                lr=draw(st.sampled_from([0.01, 0.5, 3.0])),
                cost=draw(st.sampled_from(sorted(ref.COSTS))),
                activation=draw(st.sampled_from(sorted(ref.ACTIVATIONS))),
                init=draw(st.sampled_from(["large", "scaled"])),
                l2=0.7 if rule in ("l2", "both", "momentum") else 0.0,
                l1=0.3 if rule in ("l1", "both") else 0.0,
                momentum=0.9 if rule == "momentum" else 0.0)


def check_against_fit(case, backend):
    kind = {k: case[k] for k in ("cost", "activation", "init")}
    net = Network(case["sizes"], seed=case["seed"], **kind)
    doc = explain.step(net, case["samples"], case["lr"], case["l2"], case["l1"],
                       case["momentum"])
    same_as_fit(doc, fitted(case["sizes"], case["seed"], case["samples"], case["lr"],
                            backend, case["l2"], case["l1"], case["momentum"], **kind))


@FEW
@given(case=cases())
def test_the_new_parameters_are_fits_bit_for_bit(case):
    """Any sizes, seed, cost, activation, init, batch (zeros in it), learning rate and
    update rule: step() reports what fit computes with the reference engine."""
    check_against_fit(case, "python")


@needs_c
@FEW
@given(case=cases())
def test_the_new_parameters_are_the_c_engines_bit_for_bit(case):
    check_against_fit(case, "c")


def test_step_leaves_the_network_as_it_was():
    """Tracing draws fit's shuffle from a copy of the generator: fit afterwards is unchanged."""
    samples = [([0.1, 0.2], [1.0, 0.0]), ([0.3, 0.0], [0.0, 1.0]), ([0.5, 0.6], [1.0, 0.0])]
    net = Network([2, 3, 2], seed=4)
    before = bits([net.weights, net.biases])
    doc = explain.step(net, samples, 0.5)
    assert bits([net.weights, net.biases]) == before
    net.fit(samples, 1, 3, 0.5)
    same_as_fit(doc, net)


def test_the_batch_is_summed_in_fits_shuffled_order():
    """The summed gradient depends on the order of the samples (floating-point addition is
    not associative): the trace takes fit's shuffled order, and the order as given would
    not be bit-identical for this batch."""
    samples = [([0.2, 0.5], [1.0, 0.0]), ([0.6, 0.6], [1.0, 0.0]), ([0.0, 0.8], [1.0, 0.0]),
               ([0.2, 1.0], [1.0, 0.0])]
    net = Network([2, 3, 2], seed=0)
    doc = explain.step(net, samples, 3.0)
    assert doc["order"] != sorted(doc["order"])
    assert [s["index"] for s in doc["samples"]] == doc["order"]
    as_given = (net.weights, net.biases)
    ref.update_mini_batch(*as_given, samples, 3.0)
    fit = fitted([2, 3, 2], 0, samples, 3.0)
    assert bits(as_given) != bits([fit.weights, fit.biases])
    same_as_fit(doc, fit)


def test_the_trace_holds_the_references_numbers():
    """Per sample: z and a of forward_pass, δ of backward_pass, ∂C/∂b and ∂C/∂w of backprop,
    the cost function's C; the sums are gradient_sums' over the batch in fit's order."""
    samples = [([0.5, 0.0, 1.0], [0.0, 1.0]), ([0.0, 0.25, 0.5], [1.0, 0.0])]
    net = Network([3, 4, 2], seed=2, cost="cross-entropy", activation="tanh")
    doc = explain.step(net, samples, 1.0)
    act, cost = ref.TANH, ref.CROSS_ENTROPY
    w, b = net.weights, net.biases
    for s in doc["samples"]:
        x, y = samples[s["index"]]
        zs, activations = ref.forward_pass(w, b, x, act, cost)
        assert bits(s["z"]) == bits(zs) and bits(s["a"]) == bits(activations)
        assert bits(s["delta"]) == bits(ref.backward_pass(w, zs, activations, y, act, cost))
        assert bits([s["grad_b"], s["grad_w"]]) == bits(ref.backprop(w, b, x, y, act, cost))
        assert s["cost"] == ref.cross_entropy_cost(activations[-1], y, zs[-1])
    sums = ref.gradient_sums(w, b, [samples[i] for i in doc["order"]], act, cost)
    assert bits([doc["sum_grad_b"], doc["sum_grad_w"]]) == bits(sums[:2])
    assert doc["touched"] == [[0, 1, 2], [0, 1, 2, 3]]


# --- the command line ------------------------------------------------------------------

CLI_CASES = [
    ["--sizes", "2,3,2"],
    ["--sizes", "4,5,3", "--batch", "4", "--cost", "log-likelihood", "--activation", "relu",
     "--init", "scaled", "--lr", "3"],
    ["--sizes", "3,2,2,2", "--x", "0.5,0,1", "--label", "1", "--x", "0,0.25,0.5", "--label",
     "0", "--x", "1,1,0", "--label", "1", "--l2", "2", "--l1", "0.5", "--seed", "7"],
    ["--batch", "3", "--momentum", "0.5", "--l2", "1", "--cost", "cross-entropy",
     "--activation", "tanh"],
]


def fit_of(doc, backend="python"):
    """fit on the network and samples a --json step describes (samples in the order given)."""
    given = sorted(doc["samples"], key=lambda s: s["index"])
    return fitted(doc["sizes"], doc["seed"], [(s["x"], s["y"]) for s in given], doc["lr"],
                  backend, doc["l2"], doc["l1"], doc["momentum"], cost=doc["cost"],
                  activation=doc["activation"], init=doc["init"])


@pytest.mark.parametrize("backend", ["python", pytest.param("c", marks=needs_c)])
@pytest.mark.parametrize("argv", CLI_CASES)
def test_json_is_fits_step(capsys, argv, backend):
    """--json carries exact floats: its new parameters are fit's on the same network and
    samples (read back from the JSON)."""
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0 and err == ""
    doc = json.loads(out)
    same_as_fit(doc, fit_of(doc, backend))
    assert len(doc["samples"][0]["z"]) == len(doc["sizes"]) - 1
    assert len(doc["samples"][0]["a"]) == len(doc["sizes"])


@pytest.mark.parametrize("argv", CLI_CASES)
def test_the_text_ends_with_fits_parameters(capsys, argv):
    """Every "old → new" (or "stays") of the text, in the reference's order (layer by layer,
    the biases, then the weights row by row), is fit's new value, printed exactly."""
    code, out, _ = run(capsys, "--max-terms", "0", *argv)
    assert code == 0
    net = fit_of(json.loads(run(capsys, "--json", *argv)[1]))
    expected = [v for w, b in zip(net.weights, net.biases)
                for v in b + [x for row in w for x in row]]
    shown = [new or kept for new, kept in re.findall(r"(?:→ (\S+)$|stays (\S+):)", out, re.M)]
    assert shown == [repr(v) for v in expected]


MAZUR = ([[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
         [[0.35, 0.35], [0.60, 0.60]])


def test_mazurs_worked_example():
    """Matt Mazur's "A Step by Step Backpropagation Example" (2-2-2, η = 0.5): his published
    numbers, and the issue's line for z¹₀."""
    net = Network([2, 2, 2], seed=0)
    net.set_params(*MAZUR)
    doc = explain.step(net, [([0.05, 0.10], [0.01, 0.99])], 0.5)
    s = doc["samples"][0]
    assert s["z"][0][0] == pytest.approx(0.3775)
    assert s["a"][1] == pytest.approx([0.593269992, 0.596884378])
    assert s["a"][2] == pytest.approx([0.75136507, 0.772928465])
    assert s["cost"] == pytest.approx(0.298371109)
    new = [v for w in doc["new_weights"] for row in w for v in row]
    assert new == pytest.approx([0.149780716, 0.19956143, 0.24975114, 0.29950229,
                                 0.35891648, 0.408666186, 0.511301270, 0.561370121])
    text = "\n".join(explain.Writer(doc, digits=4).lines())
    assert ("z¹₀ = w¹₀₀·a⁰₀ + w¹₀₁·a⁰₁ + b¹₀ = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775\n"
            in text)
    assert re.search(r"δ²₀ = \(a²₀ − y₀\)·σ′\(z²₀\) = \(0.7514 − 0.01\)·σ′\(1.106\) = "
                     r"\(0.7514 − 0.01\)·0.1868 = 0.1384985616", text)
    assert re.search(r"δ¹₀ = \(w²₀₀·δ²₀ \+ w²₁₀·δ²₁\)·σ′\(z¹₀\) = "
                     r"\(0.4·0.1385 \+ 0.5·\(-0.0381\)\)·0.2413 = 0.0087713546", text)
    assert "w²₀₀ ← w²₀₀ − (η/m)·Σ∂C/∂w²₀₀ = 0.4 − 0.5·0.08217: 0.4 → 0.35891647971788465" in text


def test_zero_inputs_are_skipped_and_said_to_be(capsys):
    """The reference skips the terms of inputs that are exactly 0; the trace says where."""
    code, out, _ = run(capsys, "--x", "0,0.5", "--y", "0,1", "--x", "0,0.25", "--y", "1,0",
                       "--x", "0.5,1", "--y", "0,1")
    assert code == 0
    assert re.search(r"z¹₀ = w¹₀₁·a⁰₁ \+ b¹₀ = .* \(1 term skipped: input 0\)", out)
    assert re.search(r"Σ∂C/∂w¹₀₀ = \S+ = \S+  \(samples \d, \d skipped: input 0\)", out)
    assert re.search(r"Σ∂C/∂w¹₀₁ = \S+ \+ \S+ \+ \S+ = ", out)
    code, out, _ = run(capsys, "--x", "0,0.5", "--y", "0,1")
    assert "w¹₀₀ stays " in out and "w¹₁₀ stays " in out and "w¹₀₁ stays" not in out


def test_wide_layers_are_cut(capsys):
    """--max-terms N: N terms of a sum and N lines of a block, then how many more."""
    code, out, _ = run(capsys, "--sizes", "784,30,10", "--max-terms", "3")
    assert code == 0
    z = re.search(r"^  weighted_sums +z¹₀ = (.*) = (.*) = \S+  \((\d+) terms? skipped", out, re.M)
    assert z.group(1).count("·") == z.group(2).count("·") == 3
    assert z.group(1).endswith(" + … %d more terms + b¹₀" % (784 - 3 - int(z.group(3))))
    assert "… 27 more weighted sums of layer 1" in out
    assert "… 23517 more updates of layer 1's weights" in out
    assert max(map(len, out.splitlines())) < 400
    code, out, _ = run(capsys, "--sizes", "3,40,2", "--max-terms", "0")
    assert len(re.findall(r"^  weight_gradient ", out, re.M)) == 3 * 40 + 40 * 2
    assert "more" not in out


def test_digits(capsys):
    _, out, _ = run(capsys, "--digits", "2")
    assert "z¹₀ = w¹₀₀·a⁰₀ + w¹₀₁·a⁰₁ + b¹₀ = (-0.072)·0.05 + 0.18·0.1 + 0.94 = " in out
    _, out, _ = run(capsys, "--digits", "0")
    assert "(-0.07212002278507135)·0.05 + 0.17919648727485687·0.1" in out


# --- conv and pool layers ----------------------------------------------------------------

CONV_NETS = [[16, "conv2x3", "pool2", 3], [49, "conv3x2", "pool2", "conv2x2", 4, 3],
             [64, "pool2", "conv3x3", "conv2x2", 3], [25, "conv4x5", 3, 2],
             [36, "pool2", "pool3", 2]]


def conv_samples(sizes, m, seed):
    """m samples with about a third of the inputs 0 (the sums skip them)."""
    rnd = random.Random(seed)
    return [([0.0 if rnd.random() < 0.3 else round(rnd.uniform(-1, 1), 3)
              for _ in range(sizes[0])], [float(rnd.random() < 0.5) for _ in range(sizes[-1])])
            for _ in range(m)]


@pytest.mark.parametrize("sizes", CONV_NETS, ids=str)
@pytest.mark.parametrize("rule", [dict(), dict(l2=0.7, l1=0.3), dict(l2=0.7, momentum=0.9)],
                         ids=["plain", "l2-l1", "momentum"])
def test_a_conv_step_is_fits_bit_for_bit(sizes, rule):
    """The layered step (deep.py's DeepEngine) is what fit computes, on a batch of 3."""
    samples = conv_samples(sizes, 3, str(sizes))
    kind = dict(cost="log-likelihood", activation="relu") if len(sizes) % 2 else dict(
        cost="cross-entropy", activation="tanh")
    net = Network(sizes, seed=3, **kind)
    doc = explain.step(net, samples, 0.5, **rule)
    same_as_fit(doc, fitted(sizes, 3, samples, 0.5, **rule, **kind))


def test_the_conv_trace_holds_deeps_numbers():
    """Per sample: z, a and the pool choices of deep.forward_pass, δ of deep.backward_pass,
    the gradients of deep.gradient_sums on the sample; the sums are over fit's order."""
    sizes = [49, "conv3x2", "pool2", "conv2x2", 4, 3]
    samples = conv_samples(sizes, 2, 1)
    net = Network(sizes, seed=2, activation="tanh")
    doc = explain.step(net, samples, 1.0)
    layers, w, b = layers_of(sizes), net.weights, net.biases
    for s in doc["samples"]:
        x, y = samples[s["index"]]
        zs, activations, choices = deep.forward_pass(layers, w, b, x, ref.TANH)
        assert bits(s["z"]) == bits(zs[1:]) and bits(s["a"]) == bits(activations)
        assert s["choices"] == choices[1:]
        deltas = deep.backward_pass(layers, w, zs, activations, choices, y, ref.TANH)
        assert bits(s["delta"]) == bits(deltas[1:])
        assert bits([s["grad_b"], s["grad_w"]]) == bits(
            deep.gradient_sums(layers, w, b, [(x, y)], ref.TANH))
    sums = deep.gradient_sums(layers, w, b, [samples[i] for i in doc["order"]], ref.TANH)
    assert bits([doc["sum_grad_b"], doc["sum_grad_w"]]) == bits(list(sums))


def shown(out, function):
    """The text after the function's column on its lines (a continued sum joined to its
    first line)."""
    lines, found = out.splitlines(), []
    for n, line in enumerate(lines):
        m = re.match(r"^  %s +(.*)$" % re.escape(function), line)
        if m:
            text = m.group(1)
            while n + 1 < len(lines) and lines[n + 1].startswith("  " + " " * 20 + "= "):
                n += 1
                text += " " + lines[n].strip()
            found.append(text)
    return found


def summed(pairs):
    """Σ of the products of printed operands, from 0.0, in the printed order."""
    total = 0.0
    for u, v in pairs:
        total += float(u.strip("()")) * float(v.strip("()"))
    return total


EXACT = explain.Writer({"activation": "sigmoid", "cost": "quadratic", "sizes": [1, 1]}, 0)
# a 4×4 image: the first conv sum (3×3 at the top left) has two zero inputs, (0, 1) and (2, 2)
IMAGE = [0.5, 0.0, -0.25, 0.75, 1.0, 0.125, 0.5, -1.0, 0.25, 0.5, 0.0, 0.375, 0.0, 0.5, 1.0, 0.5]


def test_the_conv_text_shows_deeps_numbers(capsys):
    """One conv sum term by term (c, i, j order, zero inputs skipped and named), one pooling
    choice, the δ routed back through the pool, the gradient of one conv weight as its sum
    over the positions, and the updates: each the number deep.py computes, exactly
    (--digits 0: the operands too, so that their sum can be redone)."""
    argv = ["--sizes", "16,conv2x3,pool2,3", "--x", ",".join(map(str, IMAGE)), "--y", "0,1,0",
            "--digits", "0", "--seed", "4"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    sizes, act = [16, "conv2x3", "pool2", 3], ref.SIGMOID
    layers, net = layers_of(sizes), Network(sizes, seed=4)
    w, b = net.weights, net.biases
    zs, a, choices = deep.forward_pass(layers, w, b, IMAGE, act)
    deltas = deep.backward_pass(layers, w, zs, a, choices, [0.0, 1.0, 0.0], act)
    image = deep.as_maps(IMAGE, layers[0])

    [conv] = shown(out, "conv_sums")
    cells = [(i, j) for i in range(3) for j in range(3) if (i, j) not in ((0, 1), (2, 2))]
    assert conv.startswith("z¹[0][0][0] = " + " + ".join(
        "w¹[0][0][%d][%d]·a⁰[0][%d][%d]" % (i, j, i, j) for i, j in cells) + " + b¹[0] = ")
    numbers = re.search(r" = ((?:\S+·\S+ \+ )+)(\S+) = (\S+)  \(2 terms skipped, input 0: "
                        r"a⁰\[0\]\[0\]\[1\], a⁰\[0\]\[2\]\[2\]\)$", conv)
    pairs = re.findall(r"(\S+)·(\S+)", numbers.group(1))
    assert pairs == [(EXACT.factor(w[0][0][0][i][j]), EXACT.factor(image[0][i][j]))
                     for i, j in cells]
    assert numbers.group(3) == repr(zs[1][0][0][0]) == repr(summed(pairs) + b[0][0])

    [pool] = shown(out, "max_pool")
    window = [a[1][0][u][v] for u in range(2) for v in range(2)]
    y, x = choices[2][0][0][0]
    assert window.index(max(window)) == 2 * y + x
    assert pool == ("a²[0][0][0] = max(a¹[0][0][0], a¹[0][0][1], a¹[0][1][0], a¹[0][1][1]) = "
                    "max(%s) = %r: a¹[0][%d][%d] wins" % (", ".join(map(repr, window)),
                                                          a[2][0][0][0], y, x))

    routed = shown(out, "pool_backward")[0]
    assert routed.startswith("δ²[0][0][0] = %r goes to a¹[0][%d][%d]"
                             % (deltas[2][0][0][0], y, x))
    errors = shown(out, "map_error")
    assert errors[0].endswith("= %r" % deltas[1][0][y][x])
    assert errors[0] == "δ¹[0][%d][%d] = δ²[0][0][0]·σ′(z¹[0][%d][%d]) = %s·%s = %r" % (
        y, x, y, x, EXACT.factor(deltas[2][0][0][0]), EXACT.factor(act.prime(zs[1][0][y][x])),
        deltas[1][0][y][x])
    assert errors[1].endswith("= 0·σ′(z) = 0.0") and errors[1].count("δ¹") == 3

    [grad] = shown(out, "conv_weight_gradient")
    expected = conv_weight_gradient(deltas[1], image, 3)[0][0][0][0]
    places = [(py, px) for py in range(2) for px in range(2)
              if deltas[1][0][py][px] != 0.0 and image[0][py][px] != 0.0]
    assert grad.startswith("∂C/∂w¹[0][0][0][0] = Σ_y Σ_x δ¹[0][y][x]·a⁰[0][y+0][x+0] = "
                           + " + ".join("δ¹[0][%d][%d]·a⁰[0][%d][%d]" % (py, px, py, px)
                                        for py, px in places) + " = ")
    pairs = re.findall(r"(\S+)·(\S+)", grad.split(" = ")[3])
    assert grad.split(" = ")[-1].split()[0] == repr(expected) == repr(summed(pairs))
    [bias] = shown(out, "conv_bias_gradient")
    assert bias.endswith(" = %r" % conv_bias_gradient(deltas[1])[0])

    fit = fitted(sizes, 4, [(IMAGE, [0.0, 1.0, 0.0])], 0.5)
    new = [fit.biases[0][0], fit.weights[0][0][0][0][0]] + fit.biases[2] + [
        v for row in fit.weights[2] for v in row]        # one of layer 1's, all of layer 3's
    assert re.findall(r"→ (\S+)$", out, re.M) == list(map(repr, new))


def test_a_pooling_tie_goes_to_the_first_maximum(capsys):
    code, out, _ = run(capsys, "--sizes", "16,pool2,2", "--x",
                       "0.5,0.5,0,0,0.25,0.5,0,0,0,0,0,0,0,0,0,0", "--y", "1,0")
    assert code == 0
    assert ("max_pool            a¹[0][0][0] = max(a⁰[0][0][0], a⁰[0][0][1], a⁰[0][1][0], "
            "a⁰[0][1][1]) = max(0.5, 0.5, 0.25, 0.5) = 0.5: a⁰[0][0][0] wins (the first of 3 "
            "equal values)") in out
    assert "pool_backward       δ¹[0][0][0] = 0.5 goes to a⁰[0][0][0]" not in out   # no δ⁰


def test_an_error_moved_back_through_a_conv_layer(capsys):
    """Two conv layers: one sum of conv_backward_error, then ⊙σ′: deep's δ, exactly."""
    sizes = [64, "pool2", "conv3x3", "conv2x2", 3]
    code, out, _ = run(capsys, "--sizes", ",".join(map(str, sizes)), "--digits", "0",
                       "--activation", "tanh", "--seed", "1")
    assert code == 0
    net, layers = Network(sizes, seed=1, activation="tanh"), layers_of(sizes)
    [(x, y)] = explain.drawn(1, 1, 64, 3)
    zs, a, choices = deep.forward_pass(layers, net.weights, net.biases, x, ref.TANH)
    deltas = deep.backward_pass(layers, net.weights, zs, a, choices, y, ref.TANH)
    s = conv_backward_error(net.weights[2], deltas[3], layers[2].shape)
    sums = shown(out, "conv_backward_error")
    # conv2x2 makes 1×1 maps of layer 2's 2×2: only (i, j) = (1, 1) reaches (1, 1), for f = 0, 1
    assert sums[0].startswith("s²[0][1][1] = w³[0][0][1][1]·δ³[0][0][0] + "
                              "w³[1][0][1][1]·δ³[1][0][0] = ")
    assert sums[0].endswith(" = %r" % s[0][1][1])
    pairs = re.findall(r"(\S+)·(\S+)", sums[0].split(" = ")[2])
    assert repr(summed(pairs)) == repr(s[0][1][1])
    assert shown(out, "map_error")[0] == (
        "δ²[0][1][1] = s²[0][1][1]·tanh′(z²[0][1][1]) = %s·%s = %r"
        % (EXACT.factor(s[0][1][1]), EXACT.factor(ref.TANH.prime(zs[2][0][1][1])),
           deltas[2][0][1][1]))
    assert sums[2] == "δ¹[0][2][2] = s¹[0][2][2] = %r" % deltas[1][0][2][2]   # a pool: no σ′


@pytest.mark.parametrize("argv", [["--sizes", "16,conv2x3,pool2,3", "--batch", "3"],
                                  ["--sizes", "49,conv3x2,pool2,conv2x2,4,3", "--momentum",
                                   "0.5", "--l2", "1", "--batch", "2", "--cost",
                                   "log-likelihood", "--activation", "relu"]])
def test_conv_json_is_fits_step(capsys, argv):
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0 and err == ""
    doc = json.loads(out)
    same_as_fit(doc, fit_of(doc))
    code, out, err = run(capsys, "--max-terms", "0", *argv)
    net = fit_of(doc)
    expected = [v for w, b, layer in zip(net.weights, net.biases, layers_of(doc["sizes"])[1:])
                for v in ([b[0], w[0][0][0][0]] if layer.kind == "conv" else
                          b + [x for row in w for x in row])]
    assert re.findall(r"→ (\S+)$", out, re.M) == [repr(v) for v in expected]


def test_the_books_first_layers_are_short_enough_to_scan(capsys):
    code, out, _ = run(capsys, "--sizes", "784,conv20x5,pool2,100,10")
    assert code == 0 and len(out.splitlines()) < 220
    assert "… 11519 more conv sums and activations of layer 1, the same way" in out
    assert "… 2879 more windows of layer 2, the same way" in out
    assert len(shown(out, "conv_sums")) == len(shown(out, "max_pool")) == 1


# --- bad input ------------------------------------------------------------------------

@pytest.mark.parametrize("argv, says", [
    (["--x", "0.05", "--y", "0,1"], "--x 0.05 has 1 value but --sizes 2,3,2 has 2 inputs"),
    (["--x", "0.05,0.1", "--y", "1,0,0"], "--y 1.0,0.0,0.0 has 3 values"),
    (["--x", "0.05,abc", "--y", "0,1"], "'abc' in '0.05,abc' is not a number"),
    (["--x", "nan,1", "--y", "0,1"], "is not a finite number"),
    (["--x", "1,2", "--x", "3,4", "--y", "0,1"], "2 --x but 1 targets"),
    (["--y", "0,1"], "--y and --label go with --x"),
    (["--x", "1,2", "--label", "2"], "--label 2 does not fit 2 output neurons"),
    (["--x", "1,2", "--y", "0,1", "--label", "1"], "not both"),
    (["--batch", "2", "--x", "1,2", "--y", "0,1"], "--batch draws its samples"),
    (["--sizes", "2,x"], "not a comma-separated list"),
    (["--lr", "0"], "--lr"),
    (["--momentum", "1"], "--momentum"),
    (["--digits", "18"], "from 0 to 17"),
    (["--batch", "0"], "--batch"),
    (["--x", "1e308,1e308", "--y", "0,1", "--lr", "1e300"], "overflows"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, says):
    with pytest.raises(SystemExit) as e:          # argparse's errors exit; ours return
        raise SystemExit(explain.main(argv))
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert err.count("\n") == 1 and says in err, err


STDLIB_ONLY = STANDARD_LIBRARY + r"""
before = set(sys.modules)          # the interpreter's own start-up (site, .pth files)
from purenet import %s as tool
code = tool.main(sys.argv[1:])
print(code, foreign(before))
"""


@pytest.mark.parametrize("tool, argv", [("explain", ["--batch", "2", "--l2", "1"]),
                                        ("gradcheck", ["--batch", "2"])])
def test_the_tools_load_only_the_standard_library(tool, argv):
    """An allow-list, as for the reference: every module explain and gradcheck load is the
    standard library's or purenet's own."""
    out = subprocess.run([sys.executable, "-c", STDLIB_ONLY % tool] + argv, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "0 []", out.stdout[-300:]


def test_python_dash_m():
    """The module runs as ``python -m purenet.explain`` (its __main__ block)."""
    out = subprocess.run([sys.executable, "-m", "purenet.explain", "--sizes", "2,2,2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "update_mini_batch" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "purenet.gradcheck", "--gradient", "x"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""


def readme_example(command, page="maths.md"):
    """The argv and the lines of the docs' example that starts with ``$ command`` (in
    docs/maths.md, or another page of docs/)."""
    with open(ROOT + "/docs/" + page, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"^\$ %s(.*)\n((?:(?!```).*\n)*)```" % re.escape(command), text, re.M)
    return block.group(1).split("#")[0].split(), block.group(2).splitlines()


def test_the_readme_trace_is_real_output(capsys):
    """The trace in README.md is what the command prints (lines cut out are marked …)."""
    argv, lines = readme_example("python -m purenet.explain")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    shown = [line for line in lines if line != "…"]
    assert len(shown) > 10 and set(shown) <= set(out.splitlines())


def test_the_cli_docs_conv_trace_is_real_output(capsys):
    """docs/cli.md's conv example is what the command prints (lines cut out are marked …)."""
    argv, lines = readme_example("python -m purenet.explain", "cli.md")
    assert "16,conv2x3,pool2,2" in argv
    code, out, _ = run(capsys, *argv)
    assert code == 0
    shown = [line for line in lines if line != "…"]
    assert len(shown) > 10 and set(shown) <= set(out.splitlines())
