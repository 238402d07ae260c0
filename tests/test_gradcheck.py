"""purenet.gradcheck: the reference passes for every cost × activation (with L2 and L1),
and the check FAILS, naming the parameter, when a gradient is wrong: a user's function
off in one entry, a broken σ′ or tanh′ in the reference.  Kinks are left out, not failed;
bad options get one line and exit code 2."""

import re

import pytest

from purenet import Network, convolution, deep
from purenet.checks import layers_of
from purenet.cli import gradcheck
from purenet import reference as ref


def run(capsys, *argv):
    code = gradcheck.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the reference passes --------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    [],
    ["--l2", "2"],
    ["--l1", "0.5", "--batch", "3"],
    ["--l2", "1", "--l1", "1", "--sizes", "3,4,4,2", "--batch", "2", "--init", "scaled"],
    ["--sizes", "30,10,3", "--batch", "4", "--seed", "5", "--l2", "5"],
    ["--sizes", "784,30,10", "--sample", "4", "--batch", "2", "--l2", "5"],   # C ≈ 6000
])
def test_every_cost_and_activation_passes(capsys, argv):
    """All nine costs × activations by default: every layer checked, exit 0."""
    code, out, err = run(capsys, *argv)
    assert code == 0 and err == ""
    assert out.count("\n  ok\n") == 9 and "FAIL" not in out
    assert out.splitlines()[-1].startswith("ok: all 9 settings are within the tolerance 1e-06")
    layers = len(re.search(r"Network\((\[.*?\])", out).group(1).split(",")) - 1
    assert len(re.findall(r"^  layer \d: weights \d+/\d+, largest error", out, re.M)) == 9 * layers


@pytest.mark.parametrize("argv", [
    # C ≈ 1e-14 (every output right): rounding is relative to the activations, not to C
    ["--sizes", "2,60,8,3", "--seed", "488", "--cost", "log-likelihood", "--activation",
     "relu", "--sample", "0", "--batch", "1"],
    # 784 outputs, C ≈ 1000: the rounding of a long sum reaches several 2⁻⁵²·|C|
    ["--sizes", "100,1,1,30,784", "--seed", "515", "--cost", "cross-entropy", "--activation",
     "sigmoid", "--batch", "1"],
])
def test_no_false_alarm_where_rounding_limits_the_difference(capsys, argv):
    """The floor, 100·2⁻⁵²·max(|C|, 1)/(h·tolerance): what central differences of C can
    resolve.  These correct gradients fail with max(|C|, 1) replaced by |C| (the first) or
    with the floor cut to a thirtieth (the second)."""
    code, out, _ = run(capsys, *argv)
    assert code == 0, out.splitlines()[-1]


def test_a_sample_of_a_wide_layer(capsys):
    code, out, _ = run(capsys, "--sizes", "50,20,3", "--sample", "7", "--cost", "cross-entropy",
                       "--activation", "tanh")
    assert code == 0
    assert "  layer 1: weights 7/1000, largest error" in out and "biases 7/20," in out
    assert "  layer 2: weights 7/60, largest error" in out and "biases 3/3," in out
    assert "at most 7 weights and 7 biases per layer" in out


# --- a wrong gradient fails, and is named ------------------------------------------------

USER = '''
from purenet import reference as ref

def off(weights, biases, x, y):
    """backprop, but one entry of ∂C/∂w² is off by 0.01."""
    nabla_b, nabla_w = ref.backprop(weights, biases, x, y)
    nabla_w[1][0][2] += 0.01
    return nabla_b, nabla_w

def bias_off(weights, biases, x, y):
    nabla_b, nabla_w = ref.backprop(weights, biases, x, y)
    nabla_b[0][1] *= 1.001
    return nabla_b, nabla_w

def transposed(weights, biases, x, y):
    nabla_b, nabla_w = ref.backprop(weights, biases, x, y)
    return nabla_b, [list(zip(*w)) for w in nabla_w]

def raises(weights, biases, x, y):
    raise ValueError("not written yet")

def nan(weights, biases, x, y):
    nabla_b, nabla_w = ref.backprop(weights, biases, x, y)
    nabla_b[0][0] = float("nan")
    return nabla_b, nabla_w
'''


@pytest.fixture
def user(tmp_path):
    path = tmp_path / "mygrad.py"
    path.write_text(USER)
    return str(path)


def test_your_own_gradient_passes(capsys):
    """reference.backprop has the hook's signature: it passes (quadratic, sigmoid: the
    default with --gradient), with L2 and L1 added by gradcheck."""
    code, out, _ = run(capsys, "--gradient", "purenet.reference:backprop", "--l2", "1",
                       "--l1", "0.5", "--batch", "3")
    assert code == 0
    assert "quadratic cost, sigmoid neurons" in out and "tanh" not in out
    assert out.splitlines()[-1].startswith("ok: the setting is within the tolerance")


def test_a_gradient_off_in_one_entry_fails_and_is_named(capsys, user):
    code, out, _ = run(capsys, "--gradient", user + ":off")
    assert code == 1
    assert re.search(r"^  layer 2: weights 6/6, largest error \S+ \(w²₀₂\) FAIL;", out, re.M)
    assert re.search(r"^  layer 1: weights 6/6, largest error \S+ \(w¹[₀-₉]{2}\);", out, re.M)
    assert "FAIL: 1 parameter above the tolerance" in out
    last = out.splitlines()[-1]
    assert last.startswith("FAIL: 1 of 1 settings have errors above the tolerance 1e-06. "
                           "The worst: w²₀₂ (layer 2 weight j=0 k=2): analytic ")
    analytic, numeric = map(float, re.search(r"analytic (\S+), numeric (\S+),", last).groups())
    assert analytic - numeric == pytest.approx(0.01)


def test_a_bias_off_by_a_thousandth_fails(capsys, user):
    code, out, _ = run(capsys, "--gradient", user + ":bias_off", "--batch", "2")
    assert code == 1
    assert "The worst: b¹₁ (layer 1 bias j=1): analytic" in out


@pytest.mark.parametrize("function, says", [
    ("transposed", "transposed returned ([[-0.0021"),
    ("raises", "raised ValueError: not written yet"),
    ("nan", "returned NaN or infinity"),
])
def test_a_broken_gradient_function_is_one_line_exit_1(capsys, user, function, says):
    code, out, err = run(capsys, "--gradient", "%s:%s" % (user, function))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and says in err, err


def broken_prime(z):
    s = ref.sigmoid(z)
    return s * (1.0 - s) * 1.01           # 1% too steep


def test_a_broken_sigmoid_prime_in_the_reference_fails(capsys, monkeypatch):
    """A learner who breaks σ′ in reference.py: every cost × activation whose δ goes
    through it fails (output_error: the quadratic cost; backward_error: sigmoid neurons)."""
    monkeypatch.setattr(ref, "sigmoid_prime", broken_prime)
    monkeypatch.setitem(ref.ACTIVATIONS, "sigmoid", ref.Activation(ref.sigmoid, broken_prime))
    code, out, _ = run(capsys)
    assert code == 1
    failed = re.findall(r"^(\S+) cost, (\S+) neurons.*\n(?:  layer.*\n)+  FAIL", out, re.M)
    assert set(failed) == {("quadratic", "sigmoid"), ("quadratic", "tanh"),
                           ("quadratic", "relu"), ("cross-entropy", "sigmoid"),
                           ("log-likelihood", "sigmoid")}
    assert re.search(r"^FAIL: 5 of 9 settings .* The worst: [wb]\S+ \(layer \d (weight j=\d k=\d|"
                     r"bias j=\d)\): analytic \S+, numeric \S+, error \S+, with \S+ cost, \S+ "
                     r"neurons\.$", out, re.M)


def test_a_broken_tanh_prime_fails_only_tanh(capsys, monkeypatch):
    monkeypatch.setitem(ref.ACTIVATIONS, "tanh",
                        ref.Activation(ref.tanh, lambda z: 1.0 - ref.tanh(z)))   # not squared
    code, out, _ = run(capsys, "--cost", "all", "--activation", "all", "--batch", "2")
    assert code == 1
    assert "FAIL: 3 of 9 settings" in out.splitlines()[-1]
    assert "tanh neurons." in out.splitlines()[-1]


def test_a_broken_l2_term_of_the_cost_fails(capsys, monkeypatch):
    """total_cost is the other side: a wrong penalty there (λ₂/n Σ w² without the ½)
    disagrees with λ₂/n·w."""
    real = ref.total_cost
    monkeypatch.setattr(ref, "total_cost", lambda w, b, pairs, act, cost, l2=0.0, l1=0.0:
                        real(w, b, pairs, act, cost, 2 * l2, l1))
    code, out, _ = run(capsys, "--l2", "1", "--cost", "quadratic", "--activation", "sigmoid")
    assert code == 1 and re.search(r"The worst: w\S+ \(layer \d weight j=", out)
    code, out, _ = run(capsys, "--cost", "quadratic", "--activation", "sigmoid")
    assert code == 0                        # without λ₂ the penalty plays no part


# --- kinks ----------------------------------------------------------------------------

def test_a_relu_at_its_kink_is_left_out():
    """A hidden ReLU with z = 1e-7: the ±h step on its bias crosses 0, where the difference
    is half a derivative.  That bias (and its weights) are left out and counted, not failed."""
    net = Network([2, 3, 2], seed=0)
    weights, biases = net.weights, net.biases
    x = [0.5, 0.25]
    biases[0][1] = 1e-7 - (weights[0][1][0] * x[0] + weights[0][1][1] * x[1])
    pairs = [(x, [0.0, 1.0])]
    assert ref.forward_pass(weights, biases, x, ref.RELU)[0][0][1] == pytest.approx(1e-7)
    results, _ = gradcheck.check(weights, biases, pairs, ref.RELU, ref.QUADRATIC,
                                 gradcheck.reference_gradient)
    left = {r.symbol() for r in results if r.numeric is None}
    assert "b¹₁" in left and left <= {"b¹₁", "w¹₁₀", "w¹₁₁"}
    assert all(r.error <= 1e-6 for r in results if r.numeric is not None)
    line = gradcheck.layer_line(1, results, [2, 3, 2], 1e-6)
    assert re.search(r"biases 2/3, .*\(1 left out: the step crosses a kink\)", line)


def test_an_l1_weight_at_0_is_left_out():
    net = Network([2, 2, 1], seed=3)
    weights, biases = net.weights, net.biases
    weights[1][0][1] = 2e-6                   # |w| has its kink within ±h
    results, _ = gradcheck.check(weights, biases, [([0.3, 0.6], [1.0])], ref.SIGMOID,
                                 ref.QUADRATIC, gradcheck.reference_gradient, l1=1.0)
    assert [r.symbol() for r in results if r.numeric is None] == ["w²₀₁"]
    assert all(r.error <= 1e-6 for r in results if r.numeric is not None)


# --- conv and pool layers ---------------------------------------------------------------

CONV_NETS = ["36,conv2x3,pool2,5,3", "49,conv3x2,pool2,conv2x2,4,3", "64,pool2,conv3x3,conv2x2,3",
             "25,conv4x5,3,2"]


@pytest.mark.parametrize("sizes", CONV_NETS)
@pytest.mark.parametrize("extra", [[], ["--l2", "1", "--l1", "0.5", "--batch", "2"]],
                         ids=["plain", "l2-l1"])
def test_conv_and_pool_networks_pass(capsys, sizes, extra):
    """deep.gradient_sums against deep.total_cost, every cost × activation: a line per
    layer, a conv layer's named by its kind, a pool layer's saying it has nothing."""
    code, out, err = run(capsys, "--sizes", sizes, *extra)
    assert code == 0 and err == ""
    assert "backprop (deep.gradient_sums)" in out and "of deep.total_cost" in out
    assert out.count("\n  ok\n") == 9 and "FAIL" not in out
    kinds = sizes.split(",")[1:]
    for l, kind in enumerate(kinds, 1):
        if kind.startswith("conv"):
            f, k = map(int, kind[4:].split("x"))
            lines = re.findall(r"^  layer %d \(%s\): weights (\d+)/(\d+), largest error \S+ "
                               r"\(w\S+\[\d\]\[\d\]\[\d\]\[\d\]\); biases %d/%d, largest error "
                               r"\S+ \(b\S+\[\d\]\)" % (l, kind, f, f), out, re.M)
            assert len(lines) == 9 and int(lines[0][1]) % (k * k) == 0
        elif kind.startswith("pool"):
            assert out.count("  layer %d (%s): no weights or biases (max-pooling has none)\n"
                             % (l, kind)) == 9
        else:
            assert len(re.findall(r"^  layer %d: weights" % l, out, re.M)) == 9


def test_conv_weights_are_sampled_from_all_four_indices(capsys):
    """--sample draws among every (f, c, i, j) of a conv layer (4·3·3·3 = 108 in layer 2)."""
    code, out, _ = run(capsys, "--sizes", "81,conv3x2,conv4x3,pool2,2", "--sample", "7",
                       "--cost", "quadratic", "--activation", "sigmoid")
    assert code == 0
    assert "  layer 1 (conv3x2): weights 7/12, largest error" in out
    assert "  layer 2 (conv4x3): weights 7/108, largest error" in out and "biases 4/4," in out


@pytest.mark.parametrize("sizes", ["3,5,4,2", "36,conv2x3,pool2,5,4,3"])
def test_dropout_with_fixed_masks_passes(capsys, sizes):
    code, out, _ = run(capsys, "--sizes", sizes, "--dropout", "0.5", "--batch", "3")
    assert code == 0 and out.count("\n  ok\n") == 9
    assert "with --dropout 0.5, one fixed keep mask per sample" in out


def transposed_filters(delta, a, k):
    """conv_weight_gradient with each filter's gradient transposed (i and j swapped)."""
    g = convolution.conv_weight_gradient(delta, a, k)
    return [[[list(col) for col in zip(*gc)] for gc in gf] for gf in g]


def unflipped(w, delta, a_shape):
    """conv_backward_error without the flip: δ[f][y+i][x+j] where δ[f][y−i][x−j] belongs."""
    ch, h, wd = a_shape
    k, oh, ow = len(w[0][0]), len(delta[0]), len(delta[0][0])
    return [[[sum(w[f][c][i][j] * delta[f][y + i][x + j] for f in range(len(w))
                  for i in range(k) for j in range(k) if y + i < oh and x + j < ow)
              for x in range(wd)] for y in range(h)] for c in range(ch)]


def top_left(delta_pooled, choices, a_shape):
    """pool_backward sending each window's δ to its top-left unit, whichever won."""
    p = a_shape[1] // len(delta_pooled[0])
    corners = [[[(p * Y, p * X) for X in range(len(row))] for Y, row in enumerate(m)]
               for m in choices]
    return convolution.pool_backward(delta_pooled, corners, a_shape)


def convolved(w, b, a, layer=None):
    """conv_sums with flipped filters (a true convolution): backprop, written for the
    cross-correlation, no longer matches it."""
    flipped = [[[row[::-1] for row in wc[::-1]] for wc in wf] for wf in w]
    return convolution.conv_sums(flipped, b, a, layer)


@pytest.mark.parametrize("function, broken, sizes, fails", [
    ("conv_weight_gradient", transposed_filters, "36,conv2x3,pool2,5,3", "w¹["),
    ("conv_backward_error", unflipped, "49,conv3x2,pool2,conv2x2,4,3", "w¹["),
    ("pool_backward", top_left, "36,conv2x3,pool2,5,3", "w¹["),
    ("conv_sums", convolved, "36,conv2x3,pool2,5,3", "w¹["),
])
def test_a_broken_convolution_function_fails(capsys, monkeypatch, function, broken, sizes,
                                             fails):
    """A learner's slip in one of convolution.py's equations (as deep.py calls it) is
    caught, and named; the layers after it still pass."""
    monkeypatch.setattr(deep, function, broken)
    code, out, _ = run(capsys, "--sizes", sizes, "--cost", "cross-entropy", "--activation",
                       "tanh", "--batch", "2")
    assert code == 1
    assert re.search(r"^  layer 1 \(conv\S+\): weights \d+/\d+, largest error \S+ \(w¹\[\d\]"
                     r"\[0\]\[\d\]\[\d\]\) FAIL", out, re.M)
    last = sizes.count(",")
    assert re.search(r"^  layer %d: weights .*\) FAIL" % last, out, re.M) is None
    assert re.search(r"The worst: %s\S+ \(layer 1 (weight f=\d c=0 i=\d j=\d|bias f=\d)\): "
                     r"analytic" % re.escape(fails), out.splitlines()[-1])


def test_a_dropout_backward_without_the_mask_fails(capsys, monkeypatch):
    """δ moved back without the mask (dropped units keep their δ, kept ones unscaled)."""
    real = deep.backward_pass
    monkeypatch.setattr(deep, "backward_pass", lambda *args: real(*args[:8]))
    argv = ["--sizes", "36,conv2x3,pool2,5,4,3", "--batch", "2", "--cost", "quadratic",
            "--activation", "sigmoid"]
    assert run(capsys, *argv)[0] == 0                   # no dropout: no mask to forget
    code, out, _ = run(capsys, *argv, "--dropout", "0.5")
    assert code == 1 and "FAIL: 1 of 1 settings" in out


def test_a_pool_choice_that_a_step_changes_is_left_out():
    """Two units of a pool window 1e-8 apart: the −h step on a filter weight hands the
    maximum to the other, where the cost has a kink.  Those weights are left out, not
    failed; the bias (which moves both alike) and the layer after are checked."""
    sizes = [9, "conv1x2", "pool2", 1]
    weights = [[[[[0.5, -0.3], [0.2, 0.4]]]], [], [[0.7]]]
    biases = [[0.1], [], [0.2]]
    x = [0.3, 0.6, 0.2, 0.9, 0.4, 0.0, -1.0, -1.0, -1.0]
    layers = layers_of(sizes)
    x[5] = (0.41 - 0.42 + 1e-8) / 0.4            # z¹[0][0][1] = z¹[0][0][0] + about 1e-8
    z = deep.forward_pass(layers, weights, biases, x)[0][1][0]
    assert 0 < z[0][1] - z[0][0] < 1e-7 and max(z[1]) < z[0][0]
    textbook = gradcheck.Textbook(sizes)
    results, _ = gradcheck.check(weights, biases, [(x, [1.0])], ref.SIGMOID, ref.QUADRATIC,
                                 textbook.gradient, textbook=textbook)
    left = {r.symbol() for r in results if r.numeric is None}
    assert left == {"w¹[0][0][0][0]", "w¹[0][0][0][1]", "w¹[0][0][1][0]", "w¹[0][0][1][1]"}
    assert all(r.error <= 1e-6 for r in results if r.numeric is not None)
    assert len(results) == 4 + 1 + 1 + 1
    line = gradcheck.layer_line(1, results, sizes, 1e-6)
    assert line == "  layer 1 (conv1x2): weights 0/4 (4 left out: the step crosses a kink); " \
        "biases 1/1, largest error %.2g (b¹[0])" % results[0].error


CONV_USER = """
from purenet import deep
from purenet.checks import layers_of

LAYERS = layers_of([36, "conv2x3", "pool2", 5, 3])

def backprop(weights, biases, x, y):
    return deep.gradient_sums(LAYERS, weights, biases, [(x, y)])

def off(weights, biases, x, y):
    nabla_b, nabla_w = backprop(weights, biases, x, y)
    nabla_w[0][1][0][2][0] += 0.01
    return nabla_b, nabla_w

def flat_filters(weights, biases, x, y):
    nabla_b, nabla_w = backprop(weights, biases, x, y)
    nabla_w[0] = [[v for c in f for row in c for v in row] for f in nabla_w[0]]
    return nabla_b, nabla_w
"""


def test_your_own_conv_gradient(capsys, tmp_path):
    """--gradient on a conv net: nested [F][C][K][K] gradients, checked and named."""
    path = tmp_path / "myconv.py"
    path.write_text(CONV_USER)
    argv = ["--sizes", "36,conv2x3,pool2,5,3", "--gradient"]
    assert run(capsys, *argv, "%s:backprop" % path)[0] == 0
    code, out, _ = run(capsys, *argv, "%s:off" % path)
    assert code == 1
    assert "The worst: w¹[1][0][2][0] (layer 1 weight f=1 c=0 i=2 j=0): analytic" in out
    code, out, err = run(capsys, *argv, "%s:flat_filters" % path)
    assert code == 1 and out == ""
    assert "expected (nabla_b, nabla_w) shaped like the biases and weights: nabla_b[0] of 2, " \
           "nabla_w[0] of 2×1×3×3 ([F][C][K][K]), nabla_b[1] of 0, nabla_w[1] of 0 (a pool " \
           "layer), nabla_b[2] of 5" in err


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, says", [
    (["--gradient", "nocolon"], "give MODULE:FUNCTION"),
    (["--gradient", "no_such_module_here:f"], "there is no module no_such_module_here"),
    (["--gradient", "purenet.reference:nothing"], "purenet.reference has no function nothing"),
    (["--gradient", "/no/such/file.py:f"], "there is no file /no/such/file.py"),
    (["--step", "0"], "--step"),
    (["--tolerance", "-1"], "--tolerance"),
    (["--sample", "-1"], "--sample"),
    (["--cost", "hinge"], "--cost"),
    (["--x", "1,2,3", "--y", "0,1"], "--x 1.0,2.0,3.0 has 3 values but --sizes 2,3,2 has 2"),
    (["--dropout", "1"], "--dropout"),
    (["--dropout", "0.5", "--gradient", "purenet.reference:backprop"], "leave out --gradient"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, says):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(gradcheck.main(argv))
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert err.count("\n") == 1 and says in err, err


def test_a_module_that_fails_to_import_is_exit_1(capsys, tmp_path):
    (tmp_path / "broken.py").write_text("import no_such_dependency\n")
    code, out, err = run(capsys, "--gradient", str(tmp_path / "broken.py") + ":f")
    assert code == 1 and out == ""
    assert "importing" in err and "no_such_dependency" in err and err.count("\n") == 1


def test_a_module_on_the_path(capsys, tmp_path, monkeypatch):
    """MODULE:FUNCTION imports MODULE as Python does (python -m runs from the current
    folder, which is on the path)."""
    (tmp_path / "mynet.py").write_text(USER)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run(capsys, "--gradient", "mynet:off")
    assert code == 1 and "The worst: w²₀₂" in out


def test_the_readme_example_is_real_output(capsys, tmp_path, monkeypatch):
    """README.md's gradcheck example: a mynet.py whose backprop has one entry of ∂C/∂w²
    off by 0.01 (the USER module's `off`)."""
    from test_explain import readme_example
    argv, lines = readme_example("python -m purenet.gradcheck")
    (tmp_path / "mynet.py").write_text(USER + "\nbackprop = off\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, *argv)
    assert code == 1
    shown = [line for line in lines if line != "…"]
    assert len(shown) > 5 and set(shown) <= set(out.splitlines())


def test_the_cli_docs_conv_example_is_real_output(capsys):
    from test_explain import readme_example
    argv, lines = readme_example("python -m purenet.gradcheck", "cli.md")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    shown = [line for line in lines if line != "…"]
    assert len(shown) == 3 and set(shown) <= set(out.splitlines())
