"""The command line, end to end: python -m purenet.train."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, mnist_dir, needs_c, needs_mnist


def run(*args, env=None, timeout=300):
    e = dict(os.environ)
    e.pop("PURENET_DATA", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "purenet.train"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=e)


def test_trains_and_saves_on_a_tiny_dataset(tiny_mnist, tmp_path):
    model = tmp_path / "net.json"
    out = run("--data-dir", tiny_mnist, "--sizes", "784,12,10", "--epochs", "3", "--backend",
              "python", "--batch-size", "5", "--lr", "1.0", "--seed", "4", "--save", str(model))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("purenet: 784-12-10 network, python backend, 60 training / 20 test")
    epochs = [l for l in lines if l.startswith("Epoch")]
    assert len(epochs) == 3
    assert "/ 20 =" in epochs[0] and "samples/s" in epochs[0]
    assert any(l.startswith("Best: ") and "final: " in l and "total time" in l for l in lines)
    doc = json.loads(model.read_text())
    assert doc["sizes"] == [784, 12, 10] and doc["meta"]["seed"] == 4
    assert doc["meta"]["epochs"] == 3 and len(doc["meta"]["history"]) == 3


def test_header_names_every_setting(tiny_mnist):
    out = run("--data-dir", tiny_mnist, "--sizes", "784,8,10", "--epochs", "1", "--cost",
              "cross-entropy", "--activation", "tanh", "--init", "scaled", "--l2", "5",
              "--l1", "0.25", "--momentum", "0.9", "--lr", "0.5")
    assert out.returncode == 0, out.stderr
    head = out.stdout.splitlines()[0]
    for part in ("cost cross-entropy", "activation tanh", "init scaled", "batch 10", "lr 0.5",
                 "l2 5", "l1 0.25", "momentum 0.9", "1 epoch,", "seed 0"):
        assert part in head, (part, head)
    default = run("--data-dir", tiny_mnist, "--sizes", "784,8,10", "--epochs", "0")
    assert ("cost quadratic, activation sigmoid, init large, batch 10, lr 3, l2 0, l1 0, "
            "momentum 0") in default.stdout.splitlines()[0]


def test_same_seed_same_output(tiny_mnist):
    a = run("--data-dir", tiny_mnist, "--sizes", "784,8,10", "--epochs", "2", "--quiet")
    b = run("--data-dir", tiny_mnist, "--sizes", "784,8,10", "--epochs", "2", "--quiet")
    assert a.returncode == b.returncode == 0
    assert a.stdout.split("total time")[0] == b.stdout.split("total time")[0]
    assert a.stdout.count("\n") == 1        # --quiet: the summary line only


def test_limits(tiny_mnist):
    out = run("--data-dir", tiny_mnist, "--sizes", "784,8,10", "--epochs", "1",
              "--limit", "15", "--test-limit", "7")
    assert out.returncode == 0, out.stderr
    assert "15 training / 7 test" in out.stdout and "/ 7 =" in out.stdout


@pytest.mark.parametrize("args,message", [
    (["--lr", "0"], "--lr: must be a finite number > 0"),
    (["--lr", "-1"], "--lr: must be a finite number > 0"),
    (["--batch-size", "0"], "--batch-size: must be at least 1"),
    (["--backend", "gpu"], "invalid choice: 'gpu'"),
    (["--sizes", "784"], "needs at least two layers"),
    (["--sizes", "784,x,10"], "not a comma-separated list"),
    (["--sizes", "100,10"], "--sizes starts with 100 inputs but mnist images have 784 pixels"),
    (["--sizes", "784,30,7"], "ends with 7 outputs but mnist has 10 classes"),
    (["--epochs", "-2"], "--epochs: must be 0 or more"),
    (["--momentum", "1"], "--momentum: must be in [0, 1)"),
    (["--momentum", "-0.5"], "--momentum: must be a finite number >= 0"),
    (["--l2", "-1"], "--l2: must be a finite number >= 0"),
    (["--l1", "nan"], "--l1: must be a finite number >= 0"),
    (["--l2", "x"], "--l2: 'x' is not a number"),
    (["--cost", "hinge"], "--cost: invalid choice: 'hinge'"),
    (["--activation", "elu"], "--activation: invalid choice: 'elu'"),
    (["--init", "xavier"], "--init: invalid choice: 'xavier'"),
])
def test_invalid_values_exit_2_with_one_line(tiny_mnist, args, message):
    out = run("--data-dir", tiny_mnist, *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_missing_data_says_where_to_put_it(tmp_path):
    out = run("--data-dir", str(tmp_path / "empty"), "--no-download")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in out.stderr
    assert str(tmp_path / "empty") in out.stderr


def test_save_into_missing_folder_fails_before_training(tiny_mnist, tmp_path):
    out = run("--data-dir", tiny_mnist, "--save", str(tmp_path / "no" / "m.json"))
    assert out.returncode == 2 and "does not exist" in out.stderr
    assert "Epoch" not in out.stdout


def test_corrupt_data_is_one_clear_line(tiny_mnist):
    path = os.path.join(tiny_mnist, "t10k-images-idx3-ubyte.gz")
    with open(path, "wb") as f:
        f.write(b"\x00\x00\x08\x03garbage")
    out = run("--data-dir", tiny_mnist, "--no-download")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "t10k-images-idx3-ubyte.gz" in out.stderr


def test_installed_module_entry_point(tiny_mnist):
    out = subprocess.run([sys.executable, "-m", "purenet", "--data-dir", tiny_mnist,
                          "--epochs", "0", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Final: ")


@needs_mnist
def test_real_mnist_small_run():
    out = run("--data-dir", mnist_dir(), "--sizes", "784,30,10", "--limit", "1000",
              "--test-limit", "500", "--epochs", "2")
    assert out.returncode == 0, out.stderr
    assert "1000 training / 500 test samples (mnist)" in out.stdout
    final = float(out.stdout.split("final: ")[1].split("%")[0])
    assert final > 30.0              # chance is 10%


@needs_c
def test_both_backends_print_the_same_numbers(tiny_mnist):
    common = ["--data-dir", tiny_mnist, "--sizes", "784,16,10", "--epochs", "3",
              "--batch-size", "7", "--seed", "2", "--report"]
    py, c = run("--backend", "python", *common), run("--backend", "c", *common)
    assert py.returncode == 0 and c.returncode == 0, py.stderr + c.stderr

    def numbers(text):          # everything but the timings
        return [l.split("train")[0] for l in text.splitlines()
                if not l.startswith("purenet:") and "total time" not in l]
    assert numbers(py.stdout) == numbers(c.stdout)
    assert "confusion matrix" in c.stdout
    assert any("c backend (%s, 1 thread)" % simd in c.stdout
               for simd in ("baseline", "AVX2", "AVX2 + AVX-512"))


@needs_c
def test_both_backends_print_the_same_numbers_with_chapter_3(tiny_mnist):
    common = ["--data-dir", tiny_mnist, "--sizes", "784,16,10", "--epochs", "2", "--seed", "3",
              "--cost", "log-likelihood", "--activation", "relu", "--init", "scaled",
              "--l2", "2", "--momentum", "0.5", "--lr", "0.2"]
    py, c = run("--backend", "python", *common), run("--backend", "c", *common)
    assert py.returncode == 0 and c.returncode == 0, py.stderr + c.stderr
    epochs = [[l.split("train")[0] for l in out.stdout.splitlines() if l.startswith("Epoch")]
              for out in (py, c)]
    assert len(epochs[0]) == 2 and epochs[0] == epochs[1]


def test_digits_dataset():
    pytest.importorskip("sklearn", reason="--dataset digits needs scikit-learn "
                                          "(pip install 'purenet[sklearn]')")
    out = run("--dataset", "digits", "--sizes", "64,30,10", "--epochs", "8", "--lr", "3.0")
    assert out.returncode == 0, out.stderr
    assert "1500 training / 297 test samples (digits)" in out.stdout
    final = float(out.stdout.split("final: ")[1].split("%")[0])
    assert final > 80.0


def test_openml_without_sklearn_is_a_clear_error():
    code = ("import sys; sys.modules['sklearn'] = None; "
            "from purenet.train import main; sys.exit(main(['--source', 'openml']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1
    assert "needs scikit-learn" in out.stderr and "Traceback" not in out.stderr


def test_a_batch_as_large_as_the_data_is_said_and_trains_as_one_batch(tiny_mnist, tmp_path):
    """--batch-size beyond the training set: one line says each epoch is one step on the
    whole set, and the model equals the one --batch-size 60 (the set's size) gives."""
    models = []
    for size in ("100000", "60"):                    # the tiny set has 60 training samples
        models.append(str(tmp_path / ("m%s.json" % size)))
        out = run("--data-dir", tiny_mnist, "--sizes", "784,5,10", "--epochs", "2",
                  "--batch-size", size, "--save", models[-1])
        assert out.returncode == 0, out.stderr
        assert ("  (--batch-size %s is the whole training set of 60: each epoch is one gradient "
                "step" % size) in out.stdout
    with open(models[0]) as a, open(models[1]) as b:
        da, db = json.load(a), json.load(b)
    assert da["weights"] == db["weights"] and da["biases"] == db["biases"]


@needs_c
def test_the_default_backend_is_the_c_engine_where_it_is_built_and_says_so(tiny_mnist):
    out = run("--data-dir", tiny_mnist, "--sizes", "784,5,10", "--epochs", "1")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert ", c backend (" in first and "1 thread; the default where the C engine is built)" \
        in first, first


@pytest.mark.parametrize("backend", [None, "python"])
def test_threads_with_the_reference_is_refused_in_one_line(tiny_mnist, backend):
    """--threads 2 with --backend python, or where the default is the reference (the C
    engine not built), was silently ignored: now one line, exit 2, before any data loads."""
    args = ["--data-dir", tiny_mnist + "-missing", "--threads", "2"]
    if backend:
        out = run(*args, "--backend", backend)
    else:                                        # as if the C engine were not built
        code = ("import sys; sys.modules['purenet._ckernels'] = None; "
                "from purenet.train import main; sys.exit(main(sys.argv[1:]))")
        out = subprocess.run([sys.executable, "-c", code] + args, cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == "", out.stdout + out.stderr
    assert out.stderr == ("purenet-train: error: --threads 2 needs the C engine (--backend c): "
                          "the reference runs on one thread\n"), out.stderr


@needs_c
@pytest.mark.parametrize("first", ["python", "c"])
def test_resume_continues_on_the_checkpoints_backend(tiny_mnist, tmp_path, first):
    """A checkpoint records its backend, and --resume without --backend uses it; --backend
    given chooses another (the same bits either way)."""
    ckpt = str(tmp_path / "run.ckpt")
    common = ["--data-dir", tiny_mnist, "--sizes", "784,5,10", "--checkpoint", ckpt]
    assert run(*common, "--epochs", "1", "--backend", first).returncode == 0
    again = run("--data-dir", tiny_mnist, "--resume", ckpt, "--epochs", "2")
    assert again.returncode == 0, again.stderr
    header = again.stdout.splitlines()[0]
    assert ", %s backend (" % first in header and "the checkpoint's)" in header, header
    other = "c" if first == "python" else "python"
    given = run("--data-dir", tiny_mnist, "--resume", ckpt, "--epochs", "3", "--backend", other)
    assert given.returncode == 0 and ", %s backend" % other in given.stdout, given.stderr
    assert "the checkpoint's" not in given.stdout


@pytest.mark.parametrize("backend,implementation,said", [
    ("python", "CPython", True), ("python", "PyPy", False), ("c", "CPython", False)])
def test_a_long_reference_run_under_cpython_says_how_long_and_what_is_faster(
        tiny_mnist, monkeypatch, backend, implementation, said):
    """Beyond SLOW_REFERENCE_SAMPLES (10,000; 50 here, for the tiny set of 60), the reference
    under CPython names its epoch time, measured on a copy, and the two faster ways."""
    import io
    import platform
    from purenet.cli import train
    if backend == "c":
        pytest.importorskip("purenet._ckernels")
    monkeypatch.setattr(train, "SLOW_REFERENCE_SAMPLES", 50)
    monkeypatch.setattr(platform, "python_implementation", lambda: implementation)
    printed = io.StringIO()
    args = train.parse_args(["--data-dir", tiny_mnist, "--sizes", "784,5,10", "--epochs", "3",
                             "--backend", backend])
    net, _ = train.run(args, out=printed)
    lines = printed.getvalue().splitlines()
    note = [l for l in lines if l.startswith("  (the reference under CPython: about ")]
    assert len(note) == (1 if said else 0), lines
    if said:
        assert lines[1] == note[0] and " an epoch of 60 samples here, " in note[0]
        assert "for 3 epochs; --backend c gives the same numbers in seconds" in note[0]
        assert "pypy3 -m purenet.train --backend python" in note[0]
        assert len(net.history) == 3 and net.history[0]["epoch"] == 1    # the probe trained a copy
