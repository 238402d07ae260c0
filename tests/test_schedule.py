"""Training like chapter 3: validation data, monitoring, early stopping, the learning-rate
schedule and presets, in both engines."""

import json
import random

import pytest

import purenet
from purenet import Network
from purenet.dataset import Dataset
from purenet.schedule import Schedule

from conftest import needs_c
from test_checkpoint import cli


def pixels(n, seed, n_in=12, n_out=4):
    """A small pixel dataset whose label is the brightest quarter of the image."""
    rnd = random.Random(seed)
    pix, labels = bytearray(), bytearray()
    for _ in range(n):
        img = [rnd.randrange(0, 80) if rnd.random() < 0.6 else 0 for _ in range(n_in)]
        label = rnd.randrange(n_out)
        for k in range(label * 3, label * 3 + 3):
            img[k] = rnd.randrange(100, 256)
        if rnd.random() < 0.25:                          # some noise, so accuracy wanders
            label = rnd.randrange(n_out)
        pix += bytes(img)
        labels.append(label)
    return Dataset(n_in, n_out, pixels=bytes(pix), labels=bytes(labels), name="data")


TRAIN, VALIDATION, TEST = pixels(60, 1), pixels(30, 2), pixels(30, 3)
KIND = dict(cost="cross-entropy", init="scaled")
BACKENDS = ["python", pytest.param("c", marks=needs_c)]


# --- the schedule, by hand -----------------------------------------------------------


class FakeEngine:
    def __init__(self):
        self.params = None

    def get_params(self):
        return ["w%d" % self.params], ["b%d" % self.params]

    def get_velocities(self):
        return None


@pytest.mark.parametrize("hits,lrs,stop_after,why", [
    # K = 2 for the schedule: halve after 2 epochs without a new best, stop at η₀/128.
    # Epoch 2 is a best; 3 and 4 are not, so η halves after 4; 5 is a best; then η halves
    # after every second epoch: after 7, 9, 11, 13, 15 and 17, the seventh halving (η₀/128).
    ([5, 6, 6, 6, 7] + [7] * 12,
     [1, 1, 1, 1, 1 / 2, 1 / 2, 1 / 2, 1 / 4, 1 / 4, 1 / 8, 1 / 8, 1 / 16, 1 / 16, 1 / 32, 1 / 32,
      1 / 64, 1 / 64], 17, "η has fallen to η₀/128"),
    # A halving restarts the count: 4 is no best (3 was), 5 is; 7 is the second after it.
    ([3, 2, 1, 3, 4, 4, 2], [1, 1, 1, 1 / 2, 1 / 2, 1 / 2, 1 / 2], None, None),
])
def test_the_schedule_halves_at_the_right_epochs(hits, lrs, stop_after, why):
    s, engine, used = Schedule(1.0, lr_schedule=2), FakeEngine(), []
    for epoch, h in enumerate(hits, 1):
        used.append(s.lr)
        engine.params = epoch
        s.after_epoch(epoch, h, engine)
        if s.stopped:
            break
    assert used == lrs and s.stopped == why and (stop_after is None or epoch == stop_after)


def test_early_stopping_keeps_the_best_epoch_by_hand():
    s, engine = Schedule(0.5, early_stop=3), FakeEngine()
    for epoch, h in enumerate([4, 9, 9, 8, 9], 1):     # the best is epoch 2; 3 more end it
        engine.params = epoch
        s.after_epoch(epoch, h, engine)
        if s.stopped:
            break
    assert (epoch, s.best_epoch, s.lr, s.stopped) == (5, 2, 0.5, "no improvement in 3 epochs")
    assert s.best == (["w2"], ["b2"], None)


# --- fit ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_validation_samples_are_never_trained_on(backend):
    nets = []
    for validation in (None, VALIDATION, pixels(30, 9)):
        net = Network([12, 6, 4], seed=2, backend=backend, **KIND)
        net.fit(TRAIN, 3, 5, 0.5, validation=validation, l2=0.1)
        nets.append((net.weights, net.biases))
    assert nets[0] == nets[1] == nets[2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_records_hold_validation_test_and_monitored_figures(backend):
    net = Network([12, 6, 4], seed=2, backend=backend, **KIND)

    def check(r):
        assert r["validation_hits"] == net.evaluate(VALIDATION) and r["n_validation"] == 30
        assert r["hits"] == net.evaluate(TEST) and r["accuracy"] == r["hits"] / 30
        assert r["training_accuracy"] == net.evaluate(TRAIN) / 60
        assert r["training_cost"] == net.cost(TRAIN, l2=0.1)
        assert r["validation_cost"] == net.cost(VALIDATION, l2=0.1)
        assert r["test_cost"] == net.cost(TEST, l2=0.1)

    recs = net.fit(TRAIN, 2, 5, 0.5, test=TEST, validation=VALIDATION, monitor=True, l2=0.1,
                   callback=check)
    assert [r["lr"] for r in recs] == [0.5, 0.5]
    assert "training_cost" not in Network([12, 6, 4], seed=2).fit(TRAIN, 1, test=TEST)[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stopping_restores_the_best_epochs_exact_parameters(backend):
    net = Network([12, 6, 4], seed=5, backend=backend, **KIND)
    recs = net.fit(TRAIN, 40, 5, 2.0, validation=VALIDATION, test=TEST, early_stop=3,
                   momentum=0.5)
    best = net.meta["best_epoch"]
    watched = [r["validation_hits"] for r in recs]         # not the test hits
    tested = [r["hits"] for r in recs]
    assert tested.index(max(tested)) + 1 != best           # watching the test set would differ
    assert best == watched.index(max(watched)) + 1 < len(recs) == best + 3
    assert recs[-1]["stopped"] == "no improvement in 3 epochs"
    again = Network([12, 6, 4], seed=5, backend=backend, **KIND)
    again.fit(TRAIN, best, 5, 2.0, momentum=0.5)
    assert (net.weights, net.biases) == (again.weights, again.biases)
    assert net.engine.get_velocities() == again.engine.get_velocities()


@needs_c
@pytest.mark.parametrize("hidden,batch,momentum", [(7, 7, 0.0), (100, 1, 0.0), (120, 10, 0.5)])
def test_both_engines_agree_with_the_schedule_and_early_stopping(hidden, batch, momentum):
    runs = []
    for backend in ("python", "c"):
        net = Network([12, hidden, 4], seed=3, backend=backend, activation="tanh", **KIND)
        recs = net.fit(TRAIN, 30, batch, 1.5, validation=VALIDATION, test=TEST, early_stop=6,
                       lr_schedule=2, l2=0.2, momentum=momentum, monitor=True)
        runs.append((net.weights, net.biases, [(r["lr"], r["validation_hits"], r["hits"],
                                                r["training_cost"], r.get("stopped"))
                                               for r in recs]))
    assert runs[0] == runs[1]
    assert any(lr < 1.5 for lr, *_ in runs[0][2])           # the schedule did act


def test_the_schedule_needs_something_to_watch():
    with pytest.raises(ValueError, match="give validation or test data"):
        Network([12, 6, 4], seed=0).fit(TRAIN, 1, lr_schedule=2)
    with pytest.raises(ValueError, match="early_stop must be None or a whole number"):
        Network([12, 6, 4], seed=0).fit(TRAIN, 1, early_stop=0, test=TEST)


@pytest.mark.parametrize("first,then", [("python", "python"),
                                        pytest.param("c", "python", marks=needs_c)])
def test_a_resumed_run_continues_its_schedule_bit_for_bit(tmp_path, first, then):
    kw = dict(batch_size=5, lr=2.0, validation=VALIDATION, early_stop=4, lr_schedule=2,
              momentum=0.3)
    full = Network([12, 6, 4], seed=5, backend=first, **KIND)
    recs = full.fit(TRAIN, 40, **kw)
    assert 4 < len(recs) < 40                                  # it stopped on its own
    part = Network([12, 6, 4], seed=5, backend=first, **KIND)
    part.fit(TRAIN, 4, checkpoint=tmp_path / "c", **kw)
    net = purenet.resume(tmp_path / "c", backend=then)
    assert net.schedule is not None and net.fit_settings["early_stop"] == 4
    more = net.fit(TRAIN, 40 - 4, validation=VALIDATION, **net.fit_settings)
    assert [r["lr"] for r in net.history] == [r["lr"] for r in recs]
    assert len(more) == len(recs) - 4
    assert (net.weights, net.biases) == (full.weights, full.biases)
    assert net.meta["best_epoch"] == full.meta["best_epoch"]


# --- the command line ----------------------------------------------------------------


def test_cli_validation_holds_out_the_last_samples(tiny_mnist, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    out = cli("--data-dir", tiny_mnist, "--sizes", "784,10,10", "--epochs", 2, "--validation",
              20, "--save", a)
    assert out.returncode == 0, out.stderr
    assert "40 training / 20 test samples" in out.stdout and "validation 20," in out.stdout
    assert "Epoch  1: validation    " in out.stdout
    out = cli("--data-dir", tiny_mnist, "--sizes", "784,10,10", "--epochs", 2, "--limit", 40,
              "--save", b)
    assert out.returncode == 0, out.stderr
    assert json.loads(a.read_text())["weights"] == json.loads(b.read_text())["weights"]


def test_cli_prints_the_schedule_and_keeps_the_best_epoch(tiny_mnist, tmp_path):
    out = cli("--data-dir", tiny_mnist, "--sizes", "784,10,10", "--epochs", 30, "--validation",
              20, "--lr-schedule", 1, "--early-stop", 3, "--monitor", "--cost", "cross-entropy",
              "--lr", 1, "--save", tmp_path / "m.json")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(l.startswith("  lr halved to 0.5: no better validation accuracy in 1 epoch")
               for l in lines)
    assert any(l.startswith("  cost: training ") for l in lines)
    stop = [l for l in lines if l.startswith("  stopped after epoch ")]
    assert len(stop) == 1
    kept = [l for l in lines if l.startswith("Kept epoch ")]
    assert len(kept) == 1, lines
    epoch = int(kept[0].split()[2])
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["meta"]["best_epoch"] == epoch


@pytest.mark.parametrize("args,message", [
    (["--validation", "60"], "--validation 60 leaves no training samples: there are 60"),
    (["--early-stop", "0"], "argument --early-stop: must be at least 1, got 0"),
    (["--lr-schedule", "2", "--test-limit", "0"], "--early-stop and --lr-schedule watch the "
                                                  "validation accuracy (or the test accuracy)"),
    (["--preset", "network4"], "invalid choice: 'network4' (choose from 'network2', 'network3', "
                                   "'seed')"),
])
def test_cli_bad_schedule_options_are_one_line_exit_2(tiny_mnist, args, message):
    out = cli("--data-dir", tiny_mnist, *args)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and message in out.stderr


def test_cli_preset_network2_and_explicit_options_win(tiny_mnist):
    out = cli("--data-dir", tiny_mnist, "--preset", "network2", "--validation", 20, "--lr", 0.25,
              "--epochs", 1, "--sizes", "784,10,10")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    for part in ("preset network2", "cost cross-entropy", "init scaled", "batch 10", "lr 0.25,",
                 "l2 5,", "validation 20,", "early-stop 10,", "lr-schedule 3,", "1 epoch,"):
        assert part in first, (part, first)
    out = cli("--data-dir", tiny_mnist, "--epochs", 1, "--sizes", "784,10,10")
    first = out.stdout.splitlines()[0]
    assert "preset seed, cost quadratic, activation sigmoid, init large, batch 10, lr 3," in first
    assert "validation" not in first and "early-stop" not in first


def test_cli_resume_takes_the_validation_split_and_the_schedule(tiny_mnist, tmp_path):
    run = ["--data-dir", tiny_mnist, "--sizes", "784,10,10", "--cost", "cross-entropy",
           "--lr", 1, "--validation", 20, "--lr-schedule", 1, "--early-stop", 4]
    out = cli(*run, "--epochs", 12, "--save", tmp_path / "full.json")
    assert out.returncode == 0, out.stderr
    assert cli(*run, "--epochs", 2, "--checkpoint", tmp_path / "c").returncode == 0
    out = cli("--data-dir", tiny_mnist, "--resume", tmp_path / "c", "--epochs", 12,
              "--save", tmp_path / "resumed.json")
    assert out.returncode == 0, out.stderr
    assert "validation 20, early-stop 4, lr-schedule 1," in out.stdout.splitlines()[0]
    full, resumed = (json.loads((tmp_path / n).read_text()) for n in ("full.json", "resumed.json"))
    assert resumed["weights"] == full["weights"] and resumed["biases"] == full["biases"]
    assert resumed["meta"]["best_epoch"] == full["meta"]["best_epoch"]
    out = cli("--data-dir", tiny_mnist, "--resume", tmp_path / "c", "--validation", 10)
    assert out.returncode == 2 and "--validation 10 contradicts the checkpoint" in out.stderr
