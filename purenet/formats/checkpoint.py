"""Checkpoints: the whole state of a training run, to resume it bit for bit.

A *model file* (:meth:`Network.save`, :func:`purenet.load`) is the small thing you
ship: sizes, cost, activation, init, weights and biases.  A *checkpoint*
(``fit(..., checkpoint=PATH)``, :func:`resume`) is what you resume a run from: the
model file's content, plus everything that decides the numbers still to come:

* the random generator's state (``random.Random.getstate()``), which draws the
  next epochs' shuffles;
* the momentum velocities, when a momentum step has been taken;
* the state of early stopping and the learning-rate schedule (η now, the best epoch so
  far and its parameters, the epochs since it), when the run has them;
* the epoch count and the history (in the model's ``meta``);
* fit's settings: batch size, η₀, λ₂, λ₁, μ, early_stop, lr_schedule, dropout (version 2;
  a version 1 checkpoint had none);
* the training data's sample count and SHA-256, so that a resumed run is checked
  to train on the same samples.

``fit`` writes it atomically after every epoch (a ``kill -9`` leaves the previous
checkpoint or the new one, never half of one).  A run of E epochs, and the same run
resumed from its checkpoint after k, end with bit-identical parameters, in either
engine and across engines::

    net.fit(train, 30, test=test, checkpoint="run.ckpt")       # interrupted after epoch 12

    net = purenet.resume("run.ckpt", backend="c")
    net.fit(train, 30 - len(net.history), test=test, checkpoint="run.ckpt",
            **net.fit_settings)                                  # epochs 13..30
"""

import contextlib
import hashlib
import os
import signal
import threading

from ..checks import check_fit_settings, check_params, is_number, is_whole
from ..schedule import Schedule
from . import model
from .atomic import write_atomically

FORMAT_NAME = model.CHECKPOINT_FORMAT_NAME
FORMAT_VERSION = 2          # version 1: no "dropout" in "fit" (it was 0)
STATE_WORDS = 625           # random.Random's state: 624 words of the Mersenne Twister + index


def fingerprint(data):
    """{"n": samples, "sha256": hex} of a Dataset's inputs and targets."""
    h = hashlib.sha256(("%d %d %r\n" % (data.n_in, data.n_out, data.divisor)).encode())
    h.update(data.pixels if data.pixels is not None else data.xs.tobytes())
    h.update(data.labels if data.labels is not None else data.ys.tobytes())
    return {"n": data.n, "sha256": h.hexdigest()}


def document(model_doc, rng_state, velocities, settings, trained_on, schedule_state):
    """The checkpoint's content (a dict for JSON): the model document and the run's state."""
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model_doc,
            "rng": _rng_to_json(rng_state),
            "velocities": None if velocities is None else list(velocities),
            "fit": settings, "data": trained_on, "schedule": schedule_state}


def write(path, doc, written):
    """Write the checkpoint document to path, atomically, then call ``written()``: Ctrl-C
    waits for both, so what ``written`` records is what the file holds."""
    data = model.encode(doc)
    with _ctrl_c_held():
        write_atomically(path, data, "run.ckpt")
        written()


@contextlib.contextmanager
def _ctrl_c_held():
    """Ctrl-C (SIGINT) waits until the block ends: so what ``net.checkpointed`` says is
    what the file holds, whenever Ctrl-C comes.  (Outside the main thread, where Python
    cannot set signal handlers, the block runs as it is.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)        # Python's own raises KeyboardInterrupt
        elif caught and previous == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)


def read(path):
    """The checkpoint at path, checked: {"model": model.parse's dict, "fit": fit's settings,
    "data": the training data's fingerprint, "rng": random.Random's state, "velocities":
    [weights, biases] or None, "schedule": a Schedule or None}.  Every problem with the
    file is a ModelFileError naming it."""
    doc, fail = model.read_json(path, "checkpoint")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        fail("not a purenet checkpoint (no \"format\": \"%s\"; a model file is read by "
             "purenet.load, and cannot be resumed)" % FORMAT_NAME)
    if doc.get("version") not in (1, FORMAT_VERSION) or isinstance(doc.get("version"), bool):
        fail("checkpoint version %r is not supported (this purenet reads versions 1 to %d)"
             % (doc.get("version"), FORMAT_VERSION))
    parsed = model.parse(doc.get("model"), fail)
    sizes = parsed["sizes"]
    try:
        settings = check_fit_settings(**doc.get("fit"))
    except (TypeError, ValueError) as e:
        fail("bad \"fit\" settings (%s)" % e)
    trained_on = _data_id(doc.get("data"), fail)
    rng_state = _rng_from_json(doc.get("rng"), fail)
    velocities = doc.get("velocities")
    if velocities is not None and not _like_params(velocities, sizes):
        fail("bad \"velocities\": expected [weights, biases] of finite numbers shaped as "
             "the model's")
    schedule = doc.get("schedule")
    if schedule is not None:
        schedule = _schedule(schedule, sizes, settings, fail)
    return {"model": parsed, "fit": settings, "data": trained_on, "rng": rng_state,
            "velocities": velocities, "schedule": schedule}


def _rng_to_json(state):
    version, words, gauss_next = state
    return [version, list(words), gauss_next]


def _rng_from_json(value, fail):
    """random.Random's state from its JSON list, checked: a wrong one is a fail()."""
    try:
        version, words, gauss_next = value
        ok = (version == 3 and isinstance(words, list) and len(words) == STATE_WORDS
              and all(type(w) is int and 0 <= w < 2 ** 32 for w in words)
              and words[-1] <= STATE_WORDS - 1
              and (gauss_next is None or type(gauss_next) is float))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        fail("bad \"rng\": expected [3, %d words, null or a float] as "
             "random.Random.getstate() gives" % STATE_WORDS)
    return (3, tuple(words), gauss_next)


def _like_params(value, sizes):
    """Whether value is [weights, biases] of finite numbers shaped as sizes asks."""
    try:
        vw, vb = value
        check_params(sizes, vw, vb)            # shapes, and finite numbers only
        return True
    except (TypeError, ValueError, OverflowError):
        return False


def _schedule(value, sizes, settings, fail):
    """The Schedule of a checkpoint's run, checked against its fit settings."""
    try:
        state = {k: value[k] for k in Schedule.FIELDS}
        counts = [state[k] for k in ("best_hits", "best_epoch")]
        ok = (state["lr0"] == settings["lr"]
              and state["early_stop"] == settings["early_stop"]
              and state["lr_schedule"] == settings["lr_schedule"]
              and is_number(state["lr"]) and 0 < state["lr"] <= state["lr0"]
              and all(is_whole(state[k]) and state[k] >= 0
                      for k in ("since_best", "since_change"))
              and (counts == [None, None] or all(is_whole(c) and c >= 0 for c in counts))
              and (state["stopped"] is None or isinstance(state["stopped"], str)))
        best = state["best"]
        if ok and best is not None:
            weights, biases, velocities = best
            ok = _like_params([weights, biases], sizes) and (
                velocities is None or _like_params(velocities, sizes))
    except (TypeError, ValueError, KeyError):
        ok = False
    if not ok:
        fail("bad \"schedule\": expected the state of early stopping and the learning-rate "
             "schedule (the best epoch's parameters shaped as the model's), matching the "
             "\"fit\" settings")
    return Schedule.from_state(state)


def _data_id(value, fail):
    if (not isinstance(value, dict) or set(value) != {"n", "sha256"}
            or type(value["n"]) is not int or value["n"] < 1
            or not isinstance(value["sha256"], str) or len(value["sha256"]) != 64):
        fail("bad \"data\": expected {\"n\": samples, \"sha256\": 64 hex digits}")
    return value
