"""purenet.deep: the layered network of chapter 6 (conv, pool, fully connected, dropout).

Checked independently of itself:
* finite differences of the cost through whole conv/pool networks, every cost, with and
  without a dropout mask, for every weight and bias;
* a hand-worked dropout example;
* on fully connected networks it is the chapter 1-3 engine, bit for bit;
* masks drawn in parts are the masks drawn at once; a dropout run resumes exactly.
"""

import json
import math
import random

import pytest

from purenet import Network, load, resume
from purenet import deep, reference as ref
from purenet.checks import layers_of, param_shapes
from purenet.dataset import Dataset
from purenet.errors import InvalidArgument, ModelFileError
from purenet.reference import ReferenceEngine

from helpers import assert_same, epoch_batches, flat, random_params


def pixel_data(rnd, n, n_in, n_out, zeros=0.7):
    pixels = bytes(0 if rnd.random() < zeros else rnd.randint(1, 255) for _ in range(n * n_in))
    labels = bytes(rnd.randrange(n_out) for _ in range(n))
    return Dataset(n_in, n_out, pixels=pixels, divisor=255.0, labels=labels, name="pixels")


def nested_params(sizes, rnd, scale=0.5):
    """Random weights and biases shaped as sizes asks (checks.param_shapes)."""
    def draw(shape):
        if len(shape) == 1:
            return [rnd.gauss(0.0, scale) for _ in range(shape[0])]
        return [draw(shape[1:]) for _ in range(shape[0])]
    shapes = param_shapes(sizes)
    return [draw(w) for w, _ in shapes], [draw(b) for _, b in shapes]


def cells(nested):
    """Every innermost list of a nested list of numbers, with the index of each number."""
    if nested and isinstance(nested[0], list):
        return [c for v in nested for c in cells(v)]
    return [(nested, j) for j in range(len(nested))]


# --- finite differences through whole networks ----------------------------------------------

NETWORKS = [
    # sizes, activation, cost
    ([36, "conv2x3", "pool2", 5, 3], "sigmoid", "quadratic"),
    ([49, "conv3x2", "pool2", "conv2x2", 4, 3], "tanh", "cross-entropy"),
    ([64, "pool2", "conv3x3", "conv2x2", 3], "tanh", "log-likelihood"),
    ([25, "conv4x5", 3, 2], "sigmoid", "log-likelihood"),
]


@pytest.mark.parametrize("sizes,activation,cost", NETWORKS, ids=lambda v: str(v))
@pytest.mark.parametrize("with_dropout", [False, True])
def test_finite_differences_every_weight_and_bias(sizes, activation, cost, with_dropout):
    rnd = random.Random(str(sizes) + str(with_dropout))
    layers = layers_of(sizes)
    weights, biases = nested_params(sizes, rnd, 0.7)
    act, c = ref.ACTIVATIONS[activation], ref.COSTS[cost]
    x = [0.0 if rnd.random() < 0.3 else rnd.uniform(-1, 1) for _ in range(sizes[0])]
    y = [0.0] * sizes[-1]
    y[rnd.randrange(sizes[-1])] = 1.0
    units = sum(layer.n for layer in layers[1:-1] if layer.kind == "full")
    keep, scale = (bytes(rnd.randrange(2) for _ in range(units)), 1.0 / (1.0 - 0.4)) \
        if with_dropout else (None, 1.0)
    nabla_b, nabla_w = deep.gradient_sums(layers, weights, biases, [(x, y)], act, c,
                                          [keep] if keep is not None else None, scale)

    def cost_now():
        zs, a, _ = deep.forward_pass(layers, weights, biases, x, act, c, keep, scale)
        return c.fn(a[-1], y, zs[-1])

    worst, checked, h = 0.0, 0, 1e-6
    for params, grads in ((weights, nabla_w), (biases, nabla_b)):
        for (row, j), (grow, gj) in zip(cells(params), cells(grads)):
            v = row[j]
            row[j] = v + h
            up = cost_now()
            row[j] = v - h
            down = cost_now()
            row[j] = v
            numeric = (up - down) / (2 * h)
            worst = max(worst, abs(grow[gj] - numeric) / max(abs(numeric), abs(grow[gj]), 1e-2))
            checked += 1
    assert checked == sum(len(flat(w)) + len(b) for w, b in zip(weights, biases))
    assert worst < 1e-6, worst


def test_dropout_by_hand():
    """x = 1 → 2 ReLU units (w = 2, 3; b = 0) → 1 sigmoid output (w = 0.5, 0.25; b = 0),
    quadratic cost, y = 0, the second unit dropped, p = 0.5 (scale 2):
    a¹ = (2·1·2, 0) = (4, 0); z² = 0.5·4 = 2; a² = σ(2);
    δ² = (σ(2) − 0)·σ′(2); δ¹ = ((0.5·δ²)·relu′(2))·2 for the kept unit, 0 for the other;
    ∂C/∂w¹ = δ¹·x, ∂C/∂w² = δ²·a¹ = (4δ², 0)."""
    layers = layers_of([1, 2, 1])
    weights, biases = [[[2.0], [3.0]], [[0.5, 0.25]]], [[0.0, 0.0], [0.0]]
    keep = bytes([1, 0])
    zs, a, _ = deep.forward_pass(layers, weights, biases, [1.0], ref.RELU, ref.QUADRATIC,
                                 keep, 2.0)
    assert a[1] == [4.0, 0.0] and zs[2] == [2.0] and a[2] == [ref.sigmoid(2.0)]
    d2 = ref.sigmoid(2.0) * ref.sigmoid_prime(2.0)
    nabla_b, nabla_w = deep.gradient_sums(layers, weights, biases, [([1.0], [0.0])], ref.RELU,
                                          ref.QUADRATIC, [keep], 2.0)
    assert nabla_b == [[0.5 * d2 * 1.0 * 2.0, 0.0], [d2]]
    assert nabla_w == [[[0.5 * d2 * 1.0 * 2.0], [0.0]], [[4.0 * d2, 0.0]]]


# --- the chapter 1-3 engine, bit for bit ------------------------------------------------------

@pytest.mark.parametrize("cost", sorted(ref.COSTS))
@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
def test_fully_connected_is_the_reference_bit_for_bit(cost, activation):
    rnd = random.Random(cost + activation)
    sizes = [rnd.randint(3, 12), rnd.randint(2, 9), rnd.randint(2, 8), rnd.randint(2, 5)]
    weights, biases = random_params(sizes, rnd)
    data = pixel_data(rnd, 23, sizes[0], sizes[-1])
    engines = [ReferenceEngine(sizes, weights, biases, cost, activation),
               deep.DeepEngine(sizes, weights, biases, cost, activation)]
    for settings in ({}, {"l2": 0.3, "l1": 0.01}, {"momentum": 0.6, "l2": 0.1}):
        batches = epoch_batches(rnd, data.n, rnd.choice([1, 3, 7, 10]))
        for engine in engines:
            engine.train_batches(data, batches, 0.4, **settings)
    (w0, b0), (w1, b1) = (e.get_params() for e in engines)
    assert_same("weights", flat(w1), flat(w0))
    assert_same("biases", flat(b1), flat(b0))
    assert_same("outputs", flat(engines[1].outputs(data)), flat(engines[0].outputs(data)))
    assert engines[1].total_cost(data, 0.2, 0.1) == engines[0].total_cost(data, 0.2, 0.1)


# --- Network: sizes with layers, dropout, files -------------------------------------------

def test_layers_in_sizes_give_nested_parameters():
    net = Network([784, "conv20x5", "pool2", "conv40x5", "pool2", 100, 10], seed=3)
    assert [len(b) for b in net.biases] == [20, 0, 40, 0, 100, 10]
    w = net.weights
    assert (len(w[0]), len(w[0][0]), len(w[0][0][0]), len(w[0][0][0][0])) == (20, 1, 5, 5)
    assert (len(w[2]), len(w[2][0]), len(w[2][0][0])) == (40, 20, 5)
    assert w[1] == [] and w[3] == [] and len(w[4][0]) == 640
    scaled = Network([784, "conv20x5", "pool2", "conv40x5", "pool2", 100, 10], seed=3,
                     init="scaled")
    assert scaled.weights[2][7][3][1][4] == w[2][7][3][1][4] / math.sqrt(20 * 5 * 5)
    assert scaled.weights[4][9][600] == w[4][9][600] / math.sqrt(640)
    assert scaled.biases == net.biases


@pytest.mark.parametrize("sizes,message", [
    ([784, "conv20x30", 10], r"^layer conv20x30: its 30×30 filters are larger than its input "
                             r"maps, 1×28×28"),
    ([784, "conv20x5", "pool5", 10], r"^layer pool5: 5×5 windows do not divide its input maps, "
                                     r"20×24×24"),
    ([783, "conv2x3", 10], r"^layer conv2x3: its input of 783 values is not a square image"),
    ([784, 100, "pool2", 10], r"^layer pool2: a conv or pool layer must follow the input"),
    ([784, "conv2x3"], r"^sizes needs at least two layers, the first and last"),
    ([784, "conv2y3", 10], r"^sizes must be a list of positive integers .* \"conv\{F\}x\{K\}\""),
])
def test_sizes_that_do_not_fit_are_one_line(sizes, message):
    with pytest.raises(InvalidArgument, match=message) as e:
        Network(sizes)
    assert "\n" not in str(e.value)


def test_dropout_masks_drawn_in_parts_are_drawn_at_once():
    r1, r2 = random.Random(5), random.Random(5)
    parts = deep.keep_masks(r1, 7, 0.3) + deep.keep_masks(r1, 0, 0.3) + deep.keep_masks(r1, 9, 0.3)
    assert parts == deep.keep_masks(r2, 16, 0.3) and r1.getstate() == r2.getstate()
    many = deep.keep_masks(random.Random(1), 100000, 0.3)
    assert set(many) == {0, 1} and abs(sum(many) / len(many) - 0.7) < 0.01
    assert deep.keep_masks(random.Random(1), 50, 0.0) == bytes([1]) * 50


def test_dropout_with_progress_chunks_is_the_same_run():
    """fit with progress hands the engine its epoch in parts, each with its masks."""
    rnd = random.Random(2)
    data = pixel_data(rnd, 3100, 6, 3)
    nets = [Network([6, 5, 4, 3], seed=1) for _ in range(2)]
    nets[0].fit(data, 2, batch_size=7, lr=0.5, dropout=0.4)
    nets[1].fit(data, 2, batch_size=7, lr=0.5, dropout=0.4, progress=lambda done, n: None)
    assert_same("weights", flat(nets[1].weights), flat(nets[0].weights))
    other = Network([6, 5, 4, 3], seed=1)
    other.fit(data, 2, batch_size=7, lr=0.5)
    assert flat(other.weights) != flat(nets[0].weights)       # the masks did something


def test_a_conv_run_with_dropout_resumes_bit_for_bit(tmp_path):
    rnd = random.Random(4)
    data = pixel_data(rnd, 30, 36, 3)
    sizes = [36, "conv3x3", "pool2", 6, 3]
    kw = dict(batch_size=4, lr=0.2, momentum=0.5, l2=0.1, dropout=0.3)
    whole = Network(sizes, seed=7, activation="relu", cost="log-likelihood")
    whole.fit(data, 3, **kw)
    part = Network(sizes, seed=7, activation="relu", cost="log-likelihood")
    part.fit(data, 1, checkpoint=tmp_path / "run.ckpt", **kw)
    back = resume(tmp_path / "run.ckpt")
    assert back.fit_settings["dropout"] == 0.3 and back.sizes == sizes
    back.fit(data, 2, **back.fit_settings)
    assert_same("weights", flat(back.weights), flat(whole.weights))
    assert_same("biases", flat(back.biases), flat(whole.biases))


def test_a_conv_model_file_round_trip_and_older_versions(tmp_path):
    net = Network([16, "conv2x3", "pool2", 3], seed=2)
    net.save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["version"] == 3 and doc["sizes"] == [16, "conv2x3", "pool2", 3]
    back = load(tmp_path / "m.json")
    assert back.weights == net.weights and back.biases == net.biases
    x = [0.1 * i for i in range(16)]
    assert back.feedforward(x) == net.feedforward(x)
    doc["version"] = 2
    (tmp_path / "old.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="conv or pool layers, which a version 2 file"):
        load(tmp_path / "old.json")
    doc["weights"][0][1][0][2] = [1.0]
    doc["version"] = 3
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"weights\[0\] must be \[F\]\[C\]\[K\]\[K\]"):
        load(tmp_path / "bad.json")


def test_a_batch_sums_its_samples_gradients_in_order():
    """Σ over a batch = (0 + the first sample's gradient) + the second's ..., every layer."""
    rnd = random.Random(9)
    sizes = [25, "conv3x2", "pool2", "conv2x2", 4, 3]
    layers, (weights, biases) = layers_of(sizes), nested_params(sizes, rnd)
    pairs = [([rnd.uniform(-1, 1) for _ in range(25)], [0.0, 1.0, 0.0]) for _ in range(3)]
    singles = [deep.gradient_sums(layers, weights, biases, [p], ref.TANH, ref.QUADRATIC)
               for p in pairs]
    together = deep.gradient_sums(layers, weights, biases, pairs, ref.TANH, ref.QUADRATIC)
    for part in (0, 1):
        want = [(a + b) + c for a, b, c in zip(*(flat(s[part]) for s in singles))]
        assert_same("batch sums", flat(together[part]), want)


class Words:
    """A stand-in for random.Random whose getrandbits gives chosen 32-bit words."""
    def __init__(self, words):
        self.words = words

    def getrandbits(self, k):
        assert k == 32 * len(self.words)
        return sum(w << (32 * i) for i, w in enumerate(self.words))


def test_a_unit_is_dropped_when_its_word_is_below_the_threshold():
    t = int(0.25 * 2 ** 32)                         # 1073741824
    words = [0, t - 1, t, t + 1, 2 ** 32 - 1]
    assert deep.keep_masks(Words(words), 5, 0.25) == bytes([0, 0, 1, 1, 1])
