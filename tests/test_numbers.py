"""Numbers that can't be trusted are refused (issue 9, §3 and §4): the C engine's limits
and this machine's memory, strict types, non-finite inputs and parameters, a model file's
numbers, divergence during fit, and the warning when the first epoch saturates every
output unit."""

import io
import json
import math
import os
import subprocess
import sys
import time
import tracemalloc

import pytest

import purenet
from purenet import DataError, Dataset, ModelFileError, Network, TrainingDiverged
from purenet import checks
from purenet.cli import train
from conftest import ROOT, make_tiny_mnist

try:
    from purenet import cengine
    HAVE_C = cengine.available()
except ImportError:          # pragma: no cover - cengine itself needs only the stdlib
    cengine, HAVE_C = None, False

needs_c = pytest.mark.skipif(not HAVE_C, reason="the C engine is not built (python build_ext.py)")
BACKENDS = ["python", pytest.param("c", marks=needs_c)]
NAN, INF = float("nan"), float("inf")


def run_cli(*args):
    """python -m purenet.train in a subprocess, without $PURENET_DATA."""
    env = dict(os.environ)
    env.pop("PURENET_DATA", None)
    return subprocess.run([sys.executable, "-m", "purenet.train"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def one_error_line(out, code, message):
    assert out.returncode == code, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert message in out.stderr, out.stderr


# --- §3: --threads and --sizes, refused when the arguments are parsed --------------------

def test_threads_beyond_the_c_engines_limit_are_refused_before_the_data_loads(tmp_path):
    missing = str(tmp_path / "no-data")            # loading data here would fail with exit 1
    one_error_line(run_cli("--data-dir", missing, "--no-download", "--backend", "c",
                           "--threads", "3"),
                   2, "argument --threads: must be from 1 to 2 (the C engine's limit), got 3")
    out = run_cli("--data-dir", missing, "--no-download", "--threads", "2")
    assert out.returncode == 1 and "no-data" in out.stderr      # 2 passed: the data was looked for


@needs_c
def test_the_limits_are_the_c_engines():
    lib, _ = cengine.lib_and_ffi()
    assert (checks.MAX_LAYERS, checks.MAX_NEURONS, checks.MAX_THREADS) == \
        (lib.PN_MAX_LAYERS, lib.PN_MAX_SIZE, lib.PN_MAX_THREADS)


def test_sizes_that_cannot_fit_in_memory_are_refused_before_allocating():
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=r"a 784-20000000-10 network has 15,900,000,010 "
                                             r"weights and biases: about 636 GB as Python "
                                             r"floats, more than .* of memory"):
            Network([784, 20000000, 10])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0 and peak < 1e6


def test_the_memory_estimate_is_this_machines_memory(monkeypatch):
    pages = {"SC_PHYS_PAGES": 250000, "SC_PAGE_SIZE": 4096}          # a 1.0 GB machine
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    assert checks.check_sizes([784, 20000, 10]) == [784, 20000, 10]   # 636 MB: fits
    with pytest.raises(ValueError, match=r"31,800,010 weights and biases: about 1.3 GB as "
                                         r"Python floats, more than this machine's 1.0 GB"):
        Network([784, 40000, 10])

    def unknown(name):
        raise ValueError("unrecognized configuration name")
    monkeypatch.setattr(os, "sysconf", unknown)
    assert checks.check_sizes([784, 500000, 10])                    # 15.9 GB < 16 GB
    with pytest.raises(ValueError, match="more than the 16 GB assumed where the memory size "
                                         "is unknown"):
        Network([784, 600000, 10])


def test_sizes_beyond_the_c_engines_limits_are_refused():
    with pytest.raises(ValueError, match="more than 1,024 layers"):
        Network([1] * 1025)
    with pytest.raises(ValueError, match="at most 16,777,216 neurons .* got 16,777,217"):
        Network([1, 16777217, 1])
    assert len(Network([1] * 1024, seed=0).weights) == 1023


@pytest.mark.parametrize("sizes", [[2.7, 3.9], [True, 2], ["3", 2], [3, 2.0], "32", 5, None])
def test_sizes_must_be_whole_numbers(sizes):
    with pytest.raises(ValueError, match="sizes must be a list of positive integers"):
        Network(sizes)


def test_cli_refuses_huge_sizes_in_one_line_before_the_data_loads(tmp_path):
    start = time.perf_counter()
    out = run_cli("--data-dir", str(tmp_path / "no-data"), "--no-download",
                  "--sizes", "784,20000000,10")
    one_error_line(out, 2, "argument --sizes: a 784-20000000-10 network has 15,900,000,010 "
                           "weights and biases: about 636 GB")
    assert time.perf_counter() - start < 20
    one_error_line(run_cli("--sizes", "784," + "1," * 1024 + "10"), 2, "more than 1,024 layers")


# --- §3: load() and the numbers in a model file -------------------------------------------

def saved_doc(tmp_path):
    path = tmp_path / "m.json"
    Network([3, 2, 2], seed=0).save(path)
    return path, json.loads(path.read_text())


def test_load_refuses_a_400_digit_weight(tmp_path):
    path, doc = saved_doc(tmp_path)
    text = json.dumps(doc).replace(repr(doc["weights"][0][1][2]), "9" * 400, 1)
    path.write_text(text)
    with pytest.raises(ModelFileError, match=r"weights\[0\]\[1\]\[2\] is 999.*, not a finite"):
        purenet.load(path)
    doc["weights"][0][1][2] = 10 ** 300               # a large int that is a finite float
    path.write_text(json.dumps(doc))
    assert purenet.load(path).weights[0][1][2] == 1e300


@pytest.mark.parametrize("text", ["[" * 100000, '{"format": "purenet", "meta": ' + "[" * 100000])
def test_load_refuses_json_nested_100000_deep(tmp_path, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ModelFileError, match="deep.json: not a purenet model file"):
        purenet.load(path)


def test_load_refuses_absurd_sizes_before_building_the_network(tmp_path):
    path, doc = saved_doc(tmp_path)
    doc["sizes"] = [784, 20000000, 10]
    path.write_text(json.dumps(doc))
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match='"sizes": a 784-20000000-10 network has'):
        purenet.load(path)
    assert time.perf_counter() - start < 1.0
    doc["sizes"] = [3, 2.0, 2]
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="sizes must be a list of positive integers"):
        purenet.load(path)


def test_load_turns_a_memory_error_into_a_model_file_error(tmp_path, monkeypatch):
    path, _ = saved_doc(tmp_path)

    def exhausted(f):
        raise MemoryError
    monkeypatch.setattr(json, "load", exhausted)
    with pytest.raises(ModelFileError, match="too large to read into memory"):
        purenet.load(path)


@pytest.mark.parametrize("seed", [True, 3.5, "7", None, [1]])
def test_a_bad_seed_in_the_file_meta_still_loads(tmp_path, seed):
    path, doc = saved_doc(tmp_path)
    doc["meta"]["seed"] = seed
    path.write_text(json.dumps(doc))
    assert purenet.load(path).seed == 0


def test_load_refuses_a_version_written_as_a_float(tmp_path):
    path, doc = saved_doc(tmp_path)
    doc["version"] = 2.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="version 2.0 is not supported"):
        purenet.load(path)


# --- §4: non-finite inputs and parameters -------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [NAN, INF, -INF, "0.5", True, 10 ** 400, None],
                         ids=["nan", "inf", "-inf", "str", "bool", "huge-int", "None"])
def test_feedforward_refuses_what_is_not_a_finite_number(backend, bad):
    net = Network([3, 2, 2], seed=0, backend=backend)
    with pytest.raises(ValueError, match=r"input\[1\] is .*, not a finite number"):
        net.feedforward([0.5, bad, 0.0])
    with pytest.raises(ValueError, match=r"input\[2\] is"):
        net.predict([0.5, 0.0, bad])
    assert net.feedforward([0.5, 1, 0.0]) == net.feedforward([0.5, 1.0, 0.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [NAN, INF, -INF, "0.5", True, 10 ** 400],
                         ids=["nan", "inf", "-inf", "str", "bool", "huge-int"])
def test_parameters_must_be_finite_numbers(backend, bad):
    net = Network([3, 2, 2], seed=0, backend=backend)
    before = net.weights, net.biases
    w = [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.7, 0.8], [0.9, 1.0]]]
    b = [[0.0, 0.1], [0.2, 0.3]]
    w[1][0][1] = bad
    with pytest.raises(ValueError, match=r"weights\[1\]\[0\]\[1\] is .*, not a finite number"):
        net.weights = w
    with pytest.raises(ValueError, match=r"weights\[1\]\[0\]\[1\] is"):
        net.set_params(w, b)
    b[0][1] = bad
    with pytest.raises(ValueError, match=r"biases\[0\]\[1\] is .*, not a finite number"):
        net.biases = b
    assert (net.weights, net.biases) == before                 # nothing was changed
    assert net.engine.all_finite()


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_never_counts_a_nan_output_as_class_0(backend):
    """Finite weights and inputs can still give NaN (inf - inf in a sum): that output picks
    no class, where argmax would pick class 0."""
    net = Network([2, 2], seed=0, backend=backend)
    net.set_params([[[1e308, 1e308], [0.0, 0.0]]], [[0.0, 0.0]])
    x = [1e308, -1e308]                         # z_0 = inf + -inf = NaN; output 1 is 0.5
    assert math.isnan(net.feedforward(x)[0])
    assert net.evaluate([(x, 0)]) == 0
    assert net.evaluate(Dataset(2, 2, xs=x, labels=bytes([0]))) == 0
    assert net.evaluate([(x, 1)]) == 0                      # argmax of [NaN, 0.5] is 0
    assert net.evaluate([([0.0, 0.0], 0)]) == 1             # a real class 0 still counts


# --- §4: strict types -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", [3.0, "3", True, [3]])
def test_seed_must_be_a_whole_number(seed):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        Network([2, 2], seed=seed)


def test_seed_none_and_big_seeds_work():
    assert isinstance(Network([2, 2]).seed, int)
    assert Network([2, 2], seed=2 ** 70).weights == Network([2, 2], seed=2 ** 70).weights


@pytest.mark.parametrize("lr", ["3.0", True, None, NAN, -1.0, 0])
def test_learning_rate_must_be_a_positive_number_not_a_string(lr):
    net = Network([2, 2], seed=0)
    before = net.weights
    with pytest.raises(ValueError, match="learning rate must be a finite number > 0"):
        net.fit([([0.5, 0.5], [1.0, 0.0])], 1, lr=lr)
    assert net.weights == before


def test_empty_data_is_a_data_error_for_a_list_and_for_a_dataset():
    """As cost() does: an empty set has no accuracy, whatever its type."""
    net = Network([2, 2], seed=0)
    empty = Dataset(2, 2, xs=[], labels=b"")
    for data in ([], empty):
        with pytest.raises(DataError, match="no samples"):
            net.evaluate(data)
        with pytest.raises(DataError, match="no samples"):
            net.cost(data)
        with pytest.raises(DataError, match="no samples"):
            net.fit([([0.5, 0.5], 0)] * 3, 1, test=data)


# --- §4: divergence during fit --------------------------------------------------------------

DIVERGES = dict(sizes=[784, 20, 20, 20, 20, 20, 10], activation="relu", cost="log-likelihood",
                init="scaled")                          # with lr 10: NaN in epoch 2, both engines


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from purenet import data
    return data.load_mnist_files(make_tiny_mnist(str(tmp_path_factory.mktemp("mnist"))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_with_a_large_lr_diverges_and_fit_stops(tiny, backend):
    train_set, test_set = tiny
    net = Network(DIVERGES["sizes"], seed=0, backend=backend,
                  **{k: v for k, v in DIVERGES.items() if k != "sizes"})
    seen = []
    with pytest.raises(TrainingDiverged, match="^training diverged at epoch 2: try a smaller "
                                               "--lr$") as caught:
        net.fit(train_set, 5, 10, 10.0, test=test_set, callback=seen.append)
    assert caught.value.epoch == 2 and isinstance(caught.value, ArithmeticError)
    assert [r["epoch"] for r in seen] == [1] and len(net.history) == 1   # epoch 2: no record
    assert not net.engine.all_finite()


@needs_c
def test_both_engines_diverge_identically(tiny):
    nets = {}
    for backend in ("python", "c"):
        nets[backend] = Network(DIVERGES["sizes"], seed=0, backend=backend,
                                **{k: v for k, v in DIVERGES.items() if k != "sizes"})
        with pytest.raises(TrainingDiverged):
            nets[backend].fit(tiny[0], 5, 10, 10.0)
    assert repr(nets["c"].weights) == repr(nets["python"].weights)          # NaN and all
    assert repr(nets["c"].biases) == repr(nets["python"].biases)


@pytest.mark.parametrize("backend", BACKENDS)
def test_engines_tell_whether_every_parameter_is_finite(backend):
    net = Network([3, 4, 2], seed=0, backend=backend)
    assert net.engine.all_finite()
    for bad in (NAN, INF, -INF):
        for l, j in ((0, 3), (1, 1)):
            w, b = net.weights, net.biases
            b[l][j] = bad
            net.engine.set_params(w, b)                  # as a diverged step leaves them
            assert not net.engine.all_finite()
            w[l][j][-1], b[l][j] = bad, 0.0
            net.engine.set_params(w, b)
            assert not net.engine.all_finite()
            w[l][j][-1] = 0.5
            net.engine.set_params(w, b)
            assert net.engine.all_finite()


def test_cli_divergence_is_one_line_exit_1_and_saves_nothing(tmp_path):
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    out = run_cli("--data-dir", data, "--sizes", ",".join(map(str, DIVERGES["sizes"])),
                  "--activation", "relu", "--cost", "log-likelihood", "--init", "scaled",
                  "--lr", "10", "--epochs", "4", "--quiet", "--save", str(tmp_path / "m.json"))
    one_error_line(out, 1, "purenet-train: error: training diverged at epoch 2: try a smaller --lr")
    assert not (tmp_path / "m.json").exists()


# --- §4: every output unit saturated in the first epoch --------------------------------------

@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
def test_a_huge_lr_that_saturates_every_output_is_named(tmp_path, cost):
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    warning = ("  ! every output unit saturated in epoch 1: the learning rate is probably too "
               "high (try --lr 0.5)")
    for lr, expected in (("1e6", True), ("3", False)):
        printed = io.StringIO()
        train.run(train.build_parser().parse_args(
            ["--data-dir", data, "--sizes", "784,30,10", "--epochs", "2", "--cost", cost,
             "--lr", lr]), out=printed)
        out = printed.getvalue()
        assert (warning in out.splitlines()) == expected, out
        assert out.count("every output unit saturated") == expected     # epoch 1 only


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
def test_a_huge_lr_gets_a_hint_whatever_the_cost(tmp_path, cost):
    """lr 1e9: every output saturated, or (cross-entropy, log-likelihood) weights blown up
    where the outputs still move; either way one line says the learning rate is too high."""
    data = make_tiny_mnist(str(tmp_path / "mnist"))
    for lr, expected in (("1e9", 1), ("0.5", 0)):
        printed = io.StringIO()
        train.run(train.build_parser().parse_args(
            ["--data-dir", data, "--sizes", "784,30,10", "--epochs", "2", "--cost", cost,
             "--lr", lr]), out=printed)
        out = printed.getvalue()
        assert out.count("the learning rate is probably too high (try --lr 0.5)") == expected, out


def test_every_output_stuck_needs_each_unit_on_one_side():
    def unit(low, high):
        return {"min": low, "max": high, "max_slope": max(a * (1 - a) for a in (low, high))}
    assert train.every_output_stuck([unit(0.0, 0.01), unit(0.99, 1.0)])
    assert not train.every_output_stuck([unit(0.0, 0.01), unit(0.5, 0.6)])
    assert not train.every_output_stuck([unit(0.0, 0.01), unit(0.001, 0.999)])   # learned
