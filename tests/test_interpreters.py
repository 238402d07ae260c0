"""Bit for bit across interpreters: one network2 run (cross-entropy, scaled weights, L2, a
validation split and its schedule) trained four ways, the reference and the C engine under
CPython and under PyPy, ends with equal parameters; a model file written under one loads and
predicts identically under the other; a checkpoint taken under either resumes under the other
to the same bits.

The other interpreter runs as a subprocess in this checkout: $PURENET_PYPY (a PyPy venv's
python, which .ci/run sets), else pypy3 on PATH, with purenet and its C engine importable.
Where there is none the tests skip and say why; with PURENET_PYPY set, or CI=true, they fail.
They run from CPython's suite only: under PyPy the other interpreter would be CPython, and
the same runs would be made twice.
"""

import json
import os
import platform
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, needs_c, needs_mnist

RUN = ["--preset", "network2", "--limit", "2500", "--validation", "500",   # 2,000 trained on
       "--test-limit", "200", "--quiet"]
EPOCHS = 2
PREDICT = r"""
import json, sys
import purenet
from purenet import data
net, test = purenet.load(sys.argv[1]), data.load_mnist()[1]
outputs = [net.feedforward(test.x(i)) for i in range(100)]
print(json.dumps([[repr(a) for a in out] for out in outputs]))
print(json.dumps([net.predict(test.x(i)) for i in range(100)]))
"""


def probe(exe):
    """Why exe cannot run purenet and its C engine from this checkout (None when it can)."""
    try:
        out = subprocess.run([exe, "-c", "import purenet._ckernels"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    except OSError as e:
        return "%s cannot run: %s" % (exe, e)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines() or ["exit status %d" % out.returncode]
        return "%s cannot import purenet's C engine here: %s" % (exe, lines[-1])
    return None


def find_pypy():
    """(PyPy's python, None), or (None, why there is none to use)."""
    exe = os.environ.get("PURENET_PYPY") or shutil.which("pypy3")
    if not exe:
        return None, "no PyPy: set PURENET_PYPY to a PyPy venv's python with purenet installed"
    why = probe(exe)
    return (None, why) if why else (exe, None)


def other_interpreter():
    """PyPy's python, or a skip (a failure where PyPy must be there: PURENET_PYPY or CI)."""
    if platform.python_implementation() != "CPython":
        pytest.skip("run from CPython's suite, with PyPy as the other interpreter")
    exe, why = find_pypy()
    if why and (os.environ.get("PURENET_PYPY") or os.environ.get("CI") == "true"):
        pytest.fail("the cross-interpreter tests must run here: " + why)
    if why:
        pytest.skip(why)
    return exe


def train(exe, folder, name, *args):
    """python -m purenet.train under exe; the model is saved as folder/name.json."""
    path = os.path.join(folder, name + ".json")
    out = subprocess.run([exe, "-m", "purenet.train", *args, "--save", path], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (exe, args, out.stderr)
    return path


def parameters(path):
    """The model file's weights and biases as their number tokens (repr: equal = same bits)."""
    with open(path) as f:
        doc = json.load(f, parse_float=str)
    return doc["weights"], doc["biases"]


def predictions(exe, path):
    out = subprocess.run([exe, "-c", PREDICT, path], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, (exe, out.stderr)
    return out.stdout


def start_slow_run(folder):
    """The reference under CPython, the slowest run, started in the background:
    (the process, its model file)."""
    path = os.path.join(folder, "cpython-python.json")
    proc = subprocess.Popen([sys.executable, "-m", "purenet.train", "--backend", "python", *RUN,
                             "--epochs", str(EPOCHS), "--save", path], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, path


def resumed(first, then, folder, name):
    """Epoch 1 under first, with a checkpoint; the rest resumed from it under then."""
    ckpt = os.path.join(folder, name + ".ckpt")
    train(first, folder, name + "-epoch1", "--backend", "c", *RUN, "--epochs", "1",
          "--checkpoint", ckpt)
    return train(then, folder, name, "--backend", "c", "--resume", ckpt, "--quiet",
                 "--epochs", str(EPOCHS))


@pytest.fixture(scope="module")
def pypy():
    return other_interpreter()


@pytest.fixture(scope="module")
def runs(pypy, tmp_path_factory):
    """The model file of each run, by name."""
    folder = str(tmp_path_factory.mktemp("interpreters"))
    slow, slow_path = start_slow_run(folder)
    epochs = ("--epochs", str(EPOCHS))
    files = {
        "pypy-python": train(pypy, folder, "pypy-python", "--backend", "python", *RUN, *epochs),
        "pypy-c": train(pypy, folder, "pypy-c", "--backend", "c", *RUN, *epochs),
        "cpython-c": train(sys.executable, folder, "cpython-c", "--backend", "c", *RUN, *epochs),
        "resumed-pypy-to-cpython": resumed(pypy, sys.executable, folder, "pypy-to-cpython"),
        "resumed-cpython-to-pypy": resumed(sys.executable, pypy, folder, "cpython-to-pypy"),
    }
    _, err = slow.communicate(timeout=600)
    assert slow.returncode == 0, err
    files["cpython-python"] = slow_path
    return files


pytestmark = [needs_mnist, needs_c]


def test_four_ways_give_equal_parameters(runs):
    want = parameters(runs["cpython-python"])
    for name in ("cpython-c", "pypy-python", "pypy-c"):
        assert parameters(runs[name]) == want, name + " differs from the reference under CPython"


def test_a_checkpoint_resumes_under_the_other_interpreter_to_the_same_bits(runs):
    want = parameters(runs["cpython-python"])
    for name in ("resumed-pypy-to-cpython", "resumed-cpython-to-pypy"):
        assert parameters(runs[name]) == want, name


def test_a_model_file_predicts_identically_under_either_interpreter(pypy, runs):
    for name in ("cpython-python", "pypy-python"):         # written by CPython, by PyPy
        assert predictions(sys.executable, runs[name]) == predictions(pypy, runs[name]), name


# Chapter 6: a conv net with every piece (pooling, ReLU, softmax, L2, momentum, dropout and
# expanded data), small enough for the reference under CPython.
CONV_RUN = ["--sizes", "784,conv4x5,pool4,12,10", "--cost", "log-likelihood",
            "--activation", "relu", "--init", "scaled", "--lr", "0.1", "--l2", "0.1",
            "--momentum", "0.5", "--dropout", "0.3", "--expand", "--limit", "40",
            "--test-limit", "20", "--epochs", "2", "--quiet"]


def test_a_conv_run_four_ways_gives_equal_parameters(pypy, tmp_path):
    folder = str(tmp_path)
    files = {"%s-%s" % (name, backend): train(exe, folder, "%s-%s" % (name, backend),
                                              "--backend", backend, *CONV_RUN)
             for name, exe in (("cpython", sys.executable), ("pypy", pypy))
             for backend in ("python", "c")}
    want = parameters(files["cpython-python"])
    for name in ("cpython-c", "pypy-python", "pypy-c"):
        assert parameters(files[name]) == want, name + " differs from the reference under CPython"
