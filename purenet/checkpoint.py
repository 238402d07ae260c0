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
* fit's settings: batch size, η₀, λ₂, λ₁, μ, early_stop, lr_schedule;
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

from .dataset import DataError
from .files import write_atomically
from .schedule import Schedule

FORMAT_NAME = "purenet-checkpoint"
FORMAT_VERSION = 1
_STATE_WORDS = 625          # random.Random's state: 624 words of the Mersenne Twister + index


def fingerprint(data):
    """{"n": samples, "sha256": hex} of a Dataset's inputs and targets."""
    h = hashlib.sha256(("%d %d %r\n" % (data.n_in, data.n_out, data.divisor)).encode())
    h.update(data.pixels if data.pixels is not None else data.xs.tobytes())
    h.update(data.labels if data.labels is not None else data.ys.tobytes())
    return {"n": data.n, "sha256": h.hexdigest()}


def check_data(net, train, needed):
    """The fingerprint of train, when needed or when net was resumed (else None).

    A resumed network must train on the data its checkpoint was made with: DataError
    otherwise, naming both.
    """
    if not needed and net.trained_on is None:
        return None
    seen = fingerprint(train)
    was = net.trained_on
    if was is not None and seen != was:
        raise DataError(
            "the training data differs from the checkpoint's: %d samples (sha256 %s...) where "
            "the run was trained on %d samples (sha256 %s...); resume with the same data"
            % (seen["n"], seen["sha256"][:12], was["n"], was["sha256"][:12]))
    return seen


def write(net, path, settings, trained_on):
    """Write net's training state to path, atomically (see the module docstring), and
    set ``net.checkpointed`` to (path, epochs) once it is there."""
    from .network import encode
    velocities = net.engine.get_velocities()
    doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": net.document(),
           "rng": _rng_to_json(net.rng.getstate()),
           "velocities": None if velocities is None else list(velocities),
           "fit": settings, "data": trained_on,
           "schedule": net.schedule.state() if net.schedule is not None else None}
    data = encode(doc)
    with _ctrl_c_held():
        write_atomically(path, data, "run.ckpt")
        net.checkpointed = (os.fspath(path), len(net.history))


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


def resume(path, backend="python", threads=1):
    """The network of the checkpoint at path, in the state its last epoch left it.

    ``net.fit_settings`` holds fit's settings as keyword arguments (batch_size, lr,
    l2, l1, momentum, early_stop, lr_schedule) and ``len(net.history)`` the epochs
    done; the next fit continues the schedule (``net.schedule``) where it stopped.  Every problem with
    the file is a ModelFileError naming it.
    """
    from .network import check_fit_settings, from_document, read_json
    doc, fail = read_json(path, "checkpoint")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        fail("not a purenet checkpoint (no \"format\": \"%s\"; a model file is read by "
             "purenet.load, and cannot be resumed)" % FORMAT_NAME)
    if doc.get("version") != FORMAT_VERSION or isinstance(doc.get("version"), bool):
        fail("checkpoint version %r is not supported (this purenet reads version %d)"
             % (doc.get("version"), FORMAT_VERSION))
    net = from_document(doc.get("model"), fail, backend, threads)
    net.checkpointed = (os.fspath(path), len(net.history))
    try:
        net.fit_settings = check_fit_settings(**doc.get("fit"))
    except (TypeError, ValueError) as e:
        fail("bad \"fit\" settings (%s)" % e)
    net.trained_on = _data_id(doc.get("data"), fail)
    net.rng.setstate(_rng_from_json(doc.get("rng"), fail))
    if doc.get("velocities") is not None:
        if not _like_params(doc["velocities"], net.sizes):
            fail("bad \"velocities\": expected [weights, biases] of finite numbers shaped as "
                 "the model's")
        net.engine.set_velocities(*doc["velocities"])
    if doc.get("schedule") is not None:
        net.schedule = _schedule(doc["schedule"], net, fail)
    return net


def _rng_to_json(state):
    version, words, gauss_next = state
    return [version, list(words), gauss_next]


def _rng_from_json(value, fail):
    """random.Random's state from its JSON list, checked: a wrong one is a fail()."""
    try:
        version, words, gauss_next = value
        ok = (version == 3 and isinstance(words, list) and len(words) == _STATE_WORDS
              and all(type(w) is int and 0 <= w < 2 ** 32 for w in words)
              and words[-1] <= _STATE_WORDS - 1
              and (gauss_next is None or type(gauss_next) is float))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        fail("bad \"rng\": expected [3, %d words, null or a float] as "
             "random.Random.getstate() gives" % _STATE_WORDS)
    return (3, tuple(words), gauss_next)


def _like_params(value, sizes):
    """Whether value is [weights, biases] of finite numbers shaped as sizes asks."""
    from .network import _check_params, _is_number
    try:
        vw, vb = value
        _check_params(sizes, vw, vb)
        return all(_is_number(v) for w in vw for row in w for v in row) and all(
            _is_number(v) for b in vb for v in b)
    except (TypeError, ValueError, OverflowError):
        return False


def _schedule(value, net, fail):
    """The Schedule of a checkpoint's run, checked against its fit settings."""
    from .network import _is_number, _is_whole
    settings = net.fit_settings
    try:
        state = {k: value[k] for k in Schedule.FIELDS}
        counts = [state[k] for k in ("best_hits", "best_epoch")]
        ok = (state["lr0"] == settings["lr"]
              and state["early_stop"] == settings["early_stop"]
              and state["lr_schedule"] == settings["lr_schedule"]
              and _is_number(state["lr"]) and 0 < state["lr"] <= state["lr0"]
              and all(_is_whole(state[k]) and state[k] >= 0
                      for k in ("since_best", "since_change"))
              and (counts == [None, None] or all(_is_whole(c) and c >= 0 for c in counts))
              and (state["stopped"] is None or isinstance(state["stopped"], str)))
        best = state["best"]
        if ok and best is not None:
            weights, biases, velocities = best
            ok = _like_params([weights, biases], net.sizes) and (
                velocities is None or _like_params(velocities, net.sizes))
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
