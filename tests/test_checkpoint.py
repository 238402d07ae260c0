"""Checkpoints: a run resumed from one ends with exactly the bits of the uninterrupted run."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

import purenet
from purenet import DataError, ModelFileError, Network
from purenet.dataset import Dataset

from conftest import ROOT, make_tiny_mnist, needs_c


def pairs(n=23, n_in=5, n_out=3, seed=1):
    rnd = random.Random(seed)
    return [([rnd.random() for _ in range(n_in)],
             [1.0 if j == rnd.randrange(n_out) else 0.0 for j in range(n_out)])
            for _ in range(n)]


def params(net):
    return net.weights, net.biases


SETTINGS = [dict(batch_size=4, lr=0.7),                                   # the seed's step
            dict(batch_size=3, lr=0.5, l2=0.3, l1=0.01),                  # regularised
            dict(batch_size=7, lr=0.2, momentum=0.6, l2=0.1)]             # momentum
ENGINES = [("python", "python")] + [pytest.param(a, b, marks=needs_c)
                                   for a, b in (("c", "c"), ("c", "python"), ("python", "c"))]


@pytest.mark.parametrize("first,then", ENGINES)
@pytest.mark.parametrize("settings", SETTINGS)
def test_resumed_run_is_bit_identical_to_the_uninterrupted_one(tmp_path, first, then, settings):
    data = pairs()
    kw = dict(cost="cross-entropy", activation="tanh", init="scaled")
    full = Network([5, 7, 4, 3], seed=3, backend=first, **kw)
    full.fit(data, 5, **settings)
    ck = tmp_path / "run.ckpt"
    part = Network([5, 7, 4, 3], seed=3, backend=first, **kw)
    part.fit(data, 2, checkpoint=ck, **settings)
    net = purenet.resume(ck, backend=then)
    assert len(net.history) == 2 and net.fit_settings["batch_size"] == settings["batch_size"]
    assert net.rng.getstate() == part.rng.getstate()
    net.fit(data, 3, checkpoint=ck, **net.fit_settings)
    assert params(net) == params(full)
    assert [r["epoch"] for r in net.history] == [1, 2, 3, 4, 5]
    again = purenet.resume(ck, backend=then)              # the last checkpoint is epoch 5's
    assert params(again) == params(full) and again.rng.getstate() == full.rng.getstate()


def test_the_random_state_round_trips_with_a_pending_gaussian(tmp_path):
    # 3*2 + 2 + 2*1 + 1 = 11 draws: an odd count leaves gauss_next set.
    net = Network([3, 2, 1], seed=5)
    assert net.rng.getstate()[2] is not None
    net.fit(pairs(6, 3, 1), 1, batch_size=2, lr=0.1, checkpoint=tmp_path / "c")
    back = purenet.resume(tmp_path / "c")
    assert back.rng.getstate() == net.rng.getstate()
    assert back.rng.gauss(0.0, 1.0) == net.rng.gauss(0.0, 1.0)


def test_velocities_are_kept_and_only_with_momentum(tmp_path):
    for momentum in (0.0, 0.5):
        net = Network([5, 4, 3], seed=1)
        net.fit(pairs(), 1, batch_size=5, lr=0.3, momentum=momentum, checkpoint=tmp_path / "c")
        doc = json.loads((tmp_path / "c").read_text())
        assert (doc["velocities"] is None) == (momentum == 0.0)
        assert purenet.resume(tmp_path / "c").engine.get_velocities() == \
            net.engine.get_velocities()


def test_a_resumed_run_refuses_other_training_data(tmp_path):
    data = pairs()
    Network([5, 4, 3], seed=1).fit(data, 1, checkpoint=tmp_path / "c")
    net = purenet.resume(tmp_path / "c")
    changed = [(list(x), y) for x, y in data]
    changed[7][0][2] += 1e-9
    for other in (data[:-1], changed):
        with pytest.raises(DataError, match="differs from the checkpoint's: 2[23] samples"):
            net.fit(other, 1, **net.fit_settings)
    assert net.history and len(net.history) == 1          # nothing was trained
    net.fit(data, 1, **net.fit_settings)
    assert len(net.history) == 2


def test_the_fingerprint_sees_pixels_labels_and_divisor():
    from purenet.formats.checkpoint import fingerprint
    base = Dataset(2, 3, pixels=b"\x01\x02\x03\x04", labels=b"\x00\x02")
    same = Dataset(2, 3, pixels=b"\x01\x02\x03\x04", labels=b"\x00\x02")
    assert fingerprint(base) == fingerprint(same)
    for other in (Dataset(2, 3, pixels=b"\x01\x02\x03\x05", labels=b"\x00\x02"),
                  Dataset(2, 3, pixels=b"\x01\x02\x03\x04", labels=b"\x00\x01"),
                  Dataset(2, 3, pixels=b"\x01\x02\x03\x04", labels=b"\x00\x02", divisor=16.0),
                  Dataset(2, 3, xs=[1.0, 2.0, 3.0, 4.0], labels=b"\x00\x02")):
        assert fingerprint(other) != fingerprint(base)


def test_model_files_and_checkpoints_are_not_confused(tmp_path):
    net = Network([5, 4, 3], seed=1)
    net.save(tmp_path / "m.json")
    net.fit(pairs(), 1, checkpoint=tmp_path / "c")
    with pytest.raises(ModelFileError, match="m.json: not a purenet checkpoint .*purenet.load"):
        purenet.resume(tmp_path / "m.json")
    with pytest.raises(ModelFileError, match="this is a checkpoint, not a model file"):
        purenet.load(tmp_path / "c")


def _broken(doc, path):
    """A valid checkpoint document with the change at path applied."""
    doc = json.loads(json.dumps(doc))
    *where, last = path[0]
    node = doc
    for k in where:
        node = node[k]
    if path[1] is KeyError:
        del node[last]
    else:
        node[last] = path[1]
    return doc


CORRUPTIONS = [
    (["version"], 3), (["version"], True), (["format"], "purenet"), (["model"], None),
    (["model", "sizes"], [5, 3]), (["rng"], None), (["rng", 0], 2), (["rng", 1], [1, 2]),
    (["rng", 1, 0], -1), (["rng", 1, 0], 2 ** 32), (["rng", 1, 624], 625), (["rng", 1, 3], 1.5),
    (["rng", 2], "x"), (["rng"], KeyError), (["fit"], None), (["fit", "lr"], 0),
    (["fit", "batch_size"], 2.5), (["fit", "momentum"], 1.0), (["fit", "surprise"], 1),
    (["fit", "l2"], KeyError), (["data"], None), (["data", "n"], 0), (["data", "sha256"], "ab"),
    (["velocities"], [[], []]), (["velocities", 1, 0, 0], "0.1"), (["velocities", 0], KeyError),
]


@pytest.mark.parametrize("change", CORRUPTIONS, ids=lambda c: "/".join(map(str, c[0])))
def test_a_corrupt_checkpoint_is_one_model_file_error(tmp_path, change):
    Network([5, 4, 3], seed=1).fit(pairs(), 1, momentum=0.5, checkpoint=tmp_path / "c")
    doc = json.loads((tmp_path / "c").read_text())
    (tmp_path / "bad").write_text(json.dumps(_broken(doc, change)))
    with pytest.raises(ModelFileError, match="bad: "):
        purenet.resume(tmp_path / "bad")


# --- the command line --------------------------------------------------------


def cli(*args, timeout=300):
    env = dict(os.environ)
    env.pop("PURENET_DATA", None)
    return subprocess.run([sys.executable, "-m", "purenet.train"] + [str(a) for a in args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def saved(path):
    doc = json.loads(open(path).read())
    return doc["weights"], doc["biases"]


RUN = ["--sizes", "784,12,10", "--batch-size", "7", "--lr", "0.5", "--momentum", "0.5",
       "--cost", "cross-entropy", "--seed", "2"]


@pytest.mark.parametrize("first,then", ENGINES)
def test_cli_resume_ends_with_the_uninterrupted_bits(tiny_mnist, tmp_path, first, then):
    out = cli("--data-dir", tiny_mnist, *RUN, "--epochs", 4, "--backend", first,
              "--save", tmp_path / "full.json")
    assert out.returncode == 0, out.stderr
    out = cli("--data-dir", tiny_mnist, *RUN, "--epochs", 4, "--backend", first,
              "--checkpoint", tmp_path / "run.ckpt")
    assert out.returncode == 0, out.stderr
    ck = json.loads((tmp_path / "run.ckpt").read_text())
    # The same run stopped after 2 epochs, then resumed to 4.
    out = cli("--data-dir", tiny_mnist, *RUN, "--epochs", 2, "--backend", first,
              "--checkpoint", tmp_path / "half.ckpt")
    assert out.returncode == 0, out.stderr
    out = cli("--data-dir", tiny_mnist, "--resume", tmp_path / "half.ckpt", "--epochs", 4,
              "--backend", then, "--save", tmp_path / "resumed.json")
    assert out.returncode == 0, out.stderr
    assert "resuming %s after epoch 2" % (tmp_path / "half.ckpt") in out.stdout
    assert [l.split(":")[0] for l in out.stdout.splitlines() if l.startswith("Epoch")] == \
        ["Epoch  3", "Epoch  4"]
    assert saved(tmp_path / "resumed.json") == saved(tmp_path / "full.json")
    assert json.loads((tmp_path / "half.ckpt").read_text())["model"]["weights"] == \
        ck["model"]["weights"]                               # it went on checkpointing there


def test_cli_resume_takes_the_settings_and_refuses_contradictions(tiny_mnist, tmp_path):
    ck = tmp_path / "run.ckpt"
    out = cli("--data-dir", tiny_mnist, *RUN, "--epochs", 3, "--limit", 40, "--checkpoint", ck)
    assert out.returncode == 0, out.stderr
    for option, given, kept in (("--lr", "0.25", "--lr 0.5"), ("--sizes", "784,13,10",
                                "--sizes 784,12,10"), ("--limit", "30", "--limit 40"),
                                ("--cost", "quadratic", "--cost cross-entropy"),
                                ("--seed", "3", "--seed 2"), ("--momentum", "0", "--momentum 0.5")):
        out = cli("--data-dir", tiny_mnist, "--resume", ck, "--epochs", 5, option, given)
        assert out.returncode == 2, (option, out.stderr)
        [line] = out.stderr.splitlines()
        assert "contradicts the checkpoint %s, made with %s" % (ck, kept) in line, line
    out = cli("--data-dir", tiny_mnist, "--resume", ck, "--lr", "0.5", "--limit", 40)
    assert out.returncode == 2 and "already has 3 epochs: give --epochs more than 3" in out.stderr
    out = cli("--data-dir", tiny_mnist, "--resume", ck, "--epochs", 4, "--lr", "0.5")
    assert out.returncode == 0, out.stderr
    assert "40 training" in out.stdout and "lr 0.5" in out.stdout and "momentum 0.5" in out.stdout
    assert len(json.loads(ck.read_text())["model"]["meta"]["history"]) == 4


def test_cli_resume_on_other_data_says_so(tiny_mnist, tmp_path):
    ck = tmp_path / "run.ckpt"
    assert cli("--data-dir", tiny_mnist, *RUN, "--epochs", 1, "--checkpoint", ck).returncode == 0
    other = make_tiny_mnist(str(tmp_path / "other"), seed=9)
    out = cli("--data-dir", other, "--resume", ck, "--epochs", 2)
    assert out.returncode == 1
    [line] = out.stderr.splitlines()
    assert "the training data differs from the checkpoint's" in line


def test_cli_bad_checkpoint_paths(tiny_mnist, tmp_path):
    out = cli("--data-dir", tiny_mnist, "--checkpoint", tmp_path / "no" / "run.ckpt")
    assert out.returncode == 2 and "--checkpoint: " in out.stderr and "does not exist" in out.stderr
    out = cli("--data-dir", tiny_mnist, "--resume", tmp_path / "missing.ckpt")
    assert out.returncode == 1 and "missing.ckpt: cannot read" in out.stderr
    (tmp_path / "m.json").write_text("{}")
    out = cli("--data-dir", tiny_mnist, "--resume", tmp_path / "m.json")
    assert out.returncode == 1 and "not a purenet checkpoint" in out.stderr


def _interrupt_after(args, wait_for):
    """Start the CLI, wait until wait_for() is true, send Ctrl-C (SIGINT); its result."""
    env = dict(os.environ)
    env.pop("PURENET_DATA", None)
    p = subprocess.Popen([sys.executable, "-m", "purenet.train"] + [str(a) for a in args],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    deadline = time.time() + 120
    while not wait_for() and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def test_ctrl_c_says_where_the_state_is_and_how_to_resume(tmp_path):
    big = make_tiny_mnist(str(tmp_path / "big"), n_train=1500, n_test=10)
    ck = tmp_path / "run.ckpt"
    code, out, err = _interrupt_after(["--data-dir", big, "--sizes", "784,30,10", "--epochs", 50,
                                       "--backend", "python", "--checkpoint", ck], ck.exists)
    assert code == 130, err
    [line] = err.strip().splitlines()[-1:]
    assert "holds the state after epoch " in line and "--resume %s" % ck in line, line
    epoch = int(line.split("after epoch ")[1].split(";")[0])
    assert len(purenet.resume(ck).history) == epoch >= 1
    started = time.time()
    code, out, err = _interrupt_after(["--data-dir", big, "--sizes", "784,30,10", "--epochs", 50,
                                       "--backend", "python"],
                                      lambda: time.time() > started + 1.5)
    assert code == 130
    assert err.strip().splitlines()[-1].endswith("nothing was saved (--checkpoint PATH keeps "
                                                 "the state after every epoch)")


def test_kill_9_leaves_a_whole_checkpoint(tmp_path):
    """SIGKILL at random moments of a run that checkpoints every few milliseconds."""
    ck = tmp_path / "run.ckpt"
    data = make_tiny_mnist(str(tmp_path / "d"), n_train=30, n_test=5)
    rnd = random.Random(0)
    seen = set()
    for _ in range(12):
        p = subprocess.Popen([sys.executable, "-m", "purenet.train", "--data-dir", data, "--sizes",
                              "784,10,10", "--epochs", "100000", "--checkpoint", str(ck)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not ck.exists():
            time.sleep(0.01)
        time.sleep(rnd.uniform(0.0, 0.5))
        p.kill()
        p.wait()
        seen.add(len(purenet.resume(ck).history))         # whole, or resume() would raise
        ck.unlink()
    assert len(seen) > 3
    temps = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(temps) <= 1, temps      # each run's first save removed what the last kill left


def test_a_diverged_run_keeps_the_last_good_checkpoint(tiny_mnist, tmp_path):
    ck = tmp_path / "run.ckpt"
    out = cli("--data-dir", tiny_mnist, "--sizes", "784,20,20,20,20,20,10", "--activation",
              "relu", "--cost", "log-likelihood", "--init", "scaled", "--lr", "10",
              "--epochs", 4, "--checkpoint", ck)                # NaN in epoch 2 (test_numbers)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "purenet-train: error: training diverged at epoch 2: try a smaller --lr "
        "(%s still holds epoch 1)" % ck]
    net = purenet.resume(ck)
    assert len(net.history) == 1 and net.engine.all_finite()


def test_ctrl_c_during_a_checkpoint_write_waits_until_the_record_of_it(tmp_path, monkeypatch):
    from purenet.formats import checkpoint
    real = checkpoint.write_atomically

    def write_then_ctrl_c(path, data, example):
        real(path, data, example)
        os.kill(os.getpid(), signal.SIGINT)              # Ctrl-C just after the rename
        for _ in range(1000):                            # bytecodes where it could land
            pass

    monkeypatch.setattr(checkpoint, "write_atomically", write_then_ctrl_c)
    other = threading.Event()                 # another thread that could take the signal
    threading.Thread(target=other.wait, daemon=True).start()
    net = Network([5, 4, 3], seed=1)
    with pytest.raises(KeyboardInterrupt):
        net.fit(pairs(), 3, checkpoint=tmp_path / "c")
    other.set()
    resumed = purenet.resume(tmp_path / "c")
    assert net.checkpointed == (str(tmp_path / "c"), 1) == (str(tmp_path / "c"),
                                                            len(resumed.history))


@pytest.mark.parametrize("change", [
    (["schedule", "best", 0, 0], [1.0]), (["schedule", "best", 2], [[], []]),
    (["schedule", "best", 1, 0, 0], "x"), (["schedule", "lr"], 9.0), (["schedule", "lr0"], 0.3),
    (["schedule", "early_stop"], 5), (["schedule", "since_best"], -1),
    (["schedule", "stopped"], 3), (["schedule", "lr"], KeyError)],
    ids=lambda c: "/".join(map(str, c[0])))
def test_a_corrupt_schedule_is_one_model_file_error(tmp_path, change):
    Network([5, 4, 3], seed=1).fit(pairs(), 2, momentum=0.5, validation=pairs(seed=2),
                                   early_stop=3, lr_schedule=1, checkpoint=tmp_path / "c")
    doc = json.loads((tmp_path / "c").read_text())
    assert doc["schedule"]["best"] is not None
    (tmp_path / "bad").write_text(json.dumps(_broken(doc, change)))
    with pytest.raises(ModelFileError, match="bad: bad \"schedule\""):
        purenet.resume(tmp_path / "bad")
