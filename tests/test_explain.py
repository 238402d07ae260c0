"""purenet.explain: its step is fit's step, bit for bit, in both engines; its text shows
the reference's numbers (Matt Mazur's worked example among them); bad options get one
line and exit code 2."""

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from purenet import Network
from purenet.cli import explain
from purenet import reference as ref
from conftest import ROOT, needs_c

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


STDLIB_ONLY = r"""
import sys
before = set(sys.modules)          # the interpreter's own start-up (site, .pth files)
from purenet import %s as tool
code = tool.main(sys.argv[1:])
foreign = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] not in sys.stdlib_module_names | {"purenet"})
print(code, foreign)
"""


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names needs Python 3.10")
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


def readme_example(command):
    """The argv and the lines of the docs' example that starts with ``$ command`` (in
    docs/maths.md)."""
    with open(ROOT + "/docs/maths.md", encoding="utf-8") as f:
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
