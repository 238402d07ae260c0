"""Network: what every engine shares — sizes, parameters, seeding, the SGD loop,
evaluation and model files.

The arithmetic of a mini-batch is done by an *engine*:

* ``backend="python"``: :class:`purenet.reference.ReferenceEngine`, the textbook;
* ``backend="c"``: :class:`purenet.cengine.CEngine`, the same maths in C.

Everything that decides *which* numbers an engine sees lives here: the seeded
initial weights, the per-epoch shuffle and the size of the mini-batches.  So
two engines given the same seed see the same samples in the same order, and
differ only in how fast they do the arithmetic.

An engine is made for a cost and a hidden-layer activation, and has:
``set_params(weights, biases)``, ``get_params()``, ``get_velocities()``,
``set_velocities(vw, vb)``, ``feedforward(x)``, ``train_batches(data, batches,
lr, n, l2, l1, momentum)`` (one update per list of sample indices, in order),
``train_order(data, order, batch_size, lr, n, l2, l1, momentum)`` (the same for order
cut into batches of batch_size consecutive samples),
``outputs(data, start, stop)``, ``total_cost(data, l2, l1)`` and ``all_finite()`` (no
weight or bias is NaN or infinite: fit's divergence check after every epoch).
"""

import math
import os
import random
import time

from . import cengine
from .checks import (BACKENDS, INITS, check_choice, check_finite, check_fit_settings,
                     check_params, check_penalty, check_sizes, is_layered, is_whole,
                     param_shapes, short)
from .dataset import argmax, as_dataset
from .deep import DeepEngine, keep_masks
from .errors import DataError, InvalidArgument, TrainingDiverged
from .formats import checkpoint as checkpoint_file, model as model_file
from .formats.atomic import check_target, probe_target, write_atomically
from .reference import ACTIVATIONS, COSTS, ReferenceEngine
from .schedule import Schedule


def make_engine(backend, sizes, weights, biases, threads=1, cost="quadratic",
                activation="sigmoid", layered=False):
    """The engine for a backend name ("python" or "c"): for a network of fully connected
    layers, the chapter 1-3 engine, unless layered (dropout needs the layered engine); for
    one with a conv or pool layer, the layered engine."""
    layered = layered or is_layered(sizes)
    if backend == "python":
        engine = DeepEngine if layered else ReferenceEngine
        return engine(sizes, weights, biases, cost=cost, activation=activation)
    if backend == "c":
        engine = cengine.CNetEngine if layered else cengine.CEngine
        return engine(sizes, weights, biases, threads=threads, cost=cost, activation=activation)
    raise InvalidArgument("unknown backend %r: use one of %s" % (backend, ", ".join(BACKENDS)))


class Network:
    """A fully connected network trained by mini-batch gradient descent.

    ``Network([784, 100, 10])``: 784 inputs, a hidden layer of 100, 10 outputs.

    The defaults are the seed's network: sigmoid neurons, the quadratic cost and
    N(0, 1) initial weights.  Chapter 3 of the book gives the alternatives:

    * ``cost``: "quadratic", "cross-entropy" (sigmoid outputs) or "log-likelihood"
      (a softmax output layer);
    * ``activation`` of the hidden layers: "sigmoid", "tanh" or "relu";
    * ``init``: "large" (weights and biases N(0, 1)) or "scaled" (weights
      N(0, 1)/√n_in, where n_in is the number of inputs of the neuron; biases N(0, 1)).

    Attributes (as in Nielsen's network.py):

    * ``sizes``: neurons per layer;
    * ``weights[l][j][k]``: weight from neuron k of layer l to neuron j of layer l+1;
    * ``biases[l][j]``: bias of neuron j of layer l+1.

    Reading ``weights``/``biases`` gives the current values whatever the engine, as
    nested lists copied from the engine once and kept until the parameters change
    (training, assignment, :meth:`set_params`), so ``net.weights[l][j][k]`` in a loop
    costs no copy.  They are the network's copy, not the engine's numbers: changing
    them changes nothing until they are assigned back (``net.weights = w``), which
    sets the parameters (shapes checked).  ``fit_settings`` holds the settings of the
    last :meth:`fit` (or of the checkpoint :func:`resume` read), as keyword arguments
    of fit, or None.  ``random.Random(seed)`` draws the initial
    parameters, in this order: every bias, layer by layer (biases[0][0],
    biases[0][1], ...), then every weight, layer by layer and row by row
    (weights[0][0][0], weights[0][0][1], ...; a conv layer's w[f][c][i][j] with j
    fastest), each ``rng.gauss(0.0, 1.0)`` (a "scaled" weight is that draw divided by
    ``math.sqrt(n_in)``, n_in = the inputs of one neuron: C·K·K for a conv filter).  The
    same generator then draws every shuffle of :meth:`fit`, and its dropout masks.

    Chapter 6: an entry of sizes may be a conv layer "conv{F}x{K}" or a pool layer
    "pool{P}" (see :mod:`purenet.deep`); ``weights[l]`` of a conv layer is nested
    [F][C][K][K], ``biases[l]`` [F], and a pool layer has empty lists.
    """

    def __init__(self, sizes, seed=None, backend="python", threads=1, cost="quadratic",
                 activation="sigmoid", init="large"):
        self.sizes = check_sizes(sizes)
        check_choice("backend", backend, BACKENDS)
        check_choice("cost", cost, tuple(COSTS))
        check_choice("activation", activation, tuple(ACTIVATIONS))
        check_choice("init", init, INITS)
        if seed is None:
            seed = random.SystemRandom().randrange(2 ** 32)
        elif not is_whole(seed):
            raise InvalidArgument("seed must be a whole number (or None for a random one), "
                                  "got %s" % short(seed))
        seed = int(seed)
        self.seed = seed
        self.rng = random.Random(seed)
        shapes = param_shapes(self.sizes)
        biases = [drawn(self.rng, b_shape) for _, b_shape in shapes]
        weights = [drawn(self.rng, w_shape) for w_shape, _ in shapes]
        if init == "scaled":
            weights = [divided(w, math.sqrt(math.prod(w_shape[1:])))
                       for w, (w_shape, _) in zip(weights, shapes)]
        self.backend, self.cost_name, self.activation, self.init = backend, cost, activation, init
        self.threads = threads
        self.engine = make_engine(backend, self.sizes, weights, biases, threads=threads,
                                  cost=cost, activation=activation)
        self.history = []            # one dict per trained epoch
        self.test_outputs = None     # output activations on fit's test data, last epoch
        self.meta = {"seed": seed}
        self.trained_on = None       # set by resume(): the data the run was trained on
        self.schedule = None         # set by resume(): the schedule its next fit continues
        self.checkpointed = None     # (path, epochs) of the last checkpoint written or resumed
        self.fit_settings = None     # the last fit's settings (or the resumed checkpoint's)
        self._params = None          # (weights, biases) as read from the engine, until changed

    # --- parameters -------------------------------------------------------

    def _read_params(self):
        if self._params is None:
            self._params = self.engine.get_params()
        return self._params

    def _changed(self):
        """The engine's parameters changed: the next read copies them again."""
        self._params = None

    @property
    def weights(self):
        return self._read_params()[0]

    @weights.setter
    def weights(self, value):
        self.set_params(value, self.biases)

    @property
    def biases(self):
        return self._read_params()[1]

    @biases.setter
    def biases(self, value):
        self.set_params(self.weights, value)

    def set_params(self, weights, biases):
        """Set both weights and biases (shapes checked)."""
        check_params(self.sizes, weights, biases)
        self.engine.set_params(weights, biases)
        self._changed()

    # --- using the network ---------------------------------------------------

    def feedforward(self, x):
        """Output activations aᴸ for the input vector x (finite numbers only)."""
        if len(x) != self.sizes[0]:
            raise InvalidArgument("input has %d values, the network takes %d"
                                  % (len(x), self.sizes[0]))
        check_finite(x, "input")
        return self.engine.feedforward(x)

    def predict(self, x):
        """The class the network picks for x: the index of its largest output."""
        return argmax(self.feedforward(x))

    def _data(self, data, what):
        data = as_dataset(data, n_out=self.sizes[-1], name=what)
        if data.n_in != self.sizes[0]:
            raise DataError("%s has %d inputs per sample but the network takes %d: use "
                            "--sizes %d,...,%d"
                            % (what, data.n_in, self.sizes[0], data.n_in, self.sizes[-1]))
        if data.n_out != self.sizes[-1]:
            raise DataError("%s has %d classes/targets but the network has %d outputs"
                            % (what, data.n_out, self.sizes[-1]))
        return data

    def outputs(self, data):
        """Output activations for every sample of data (a list of lists)."""
        data = self._data(data, "data")
        return self.engine.outputs(data, 0, data.n)

    def predictions(self, data):
        """The predicted class of every sample of data."""
        return [argmax(o) for o in self.outputs(data)]

    def cost(self, data, l2=0.0, l1=0.0):
        """The mean cost over the n samples of data, plus the regularisation terms
        (λ₂/2n) Σ w² + (λ₁/n) Σ |w| (n = len(data), as in Nielsen's network2)."""
        l2, l1 = check_penalty("l2", l2), check_penalty("l1", l1)
        data = self._data(data, "data")
        if data.n == 0:
            raise DataError("data has no samples: the mean cost is undefined")
        return self.engine.total_cost(data, l2, l1)

    def _test_data(self, data, what="test data"):
        """data to evaluate on: at least one sample, as for cost(), whatever its type."""
        data = self._data(data, what)
        if data.n == 0:
            raise DataError("%s has no samples: there is nothing to evaluate" % what)
        return data

    def evaluate(self, data):
        """Number of samples whose predicted class (argmax of the output) is right.

        data: a Dataset, or (x, y) pairs where y is a label or a one-hot vector; empty data
        is a DataError, as in cost().  A sample with a NaN output is never a hit.
        """
        data = self._test_data(data)
        return _hits(self.engine.outputs(data, 0, data.n), data)

    # --- learning ------------------------------------------------------------

    def fit(self, training_data, epochs, batch_size=10, lr=3.0, test=None,
            callback=None, progress=None, l2=0.0, l1=0.0, momentum=0.0, checkpoint=None,
            validation=None, monitor=False, early_stop=None, lr_schedule=None, dropout=0.0):
        """Stochastic gradient descent: for each epoch, shuffle, slice into
        mini-batches of ``batch_size`` and take one gradient step per batch.

        training_data: a Dataset or (x, y) pairs with one-hot/target vectors y.
        test, validation: optional data (at least one sample each) evaluated after each
        epoch; the validation data is what early stopping and the schedule watch.
        monitor: also record, per epoch, the cost and accuracy on the training data
        and the cost on the validation and test data (see :meth:`cost`, with l2, l1).
        l2, l1: regularisation λ₂, λ₁ (with n = the number of training samples);
        momentum: μ in [0, 1).  The velocities start at 0 and are kept: a second
        fit continues with them (see reference.regularized_update and
        reference.momentum_update for the equations).
        early_stop, lr_schedule: K epochs without a better validation (else test)
        accuracy stop training / halve η (see :mod:`purenet.schedule`).  With
        early_stop the network ends as it was after its best epoch.
        dropout: p in [0, 1), the probability that a unit of a fully connected hidden layer
        is dropped at each training step (:mod:`purenet.deep`); the masks are drawn from
        the network's generator after each epoch's shuffle.
        checkpoint: a path where the whole training state is written, atomically,
        after every epoch (see :mod:`purenet.formats.checkpoint`); :func:`purenet.resume`
        reads it back, and the resumed network's next fit continues its schedule and
        checks that training_data is the data the checkpoint was made with.
        callback(record): called after each epoch with its record, a dict: epoch, lr,
        seconds, samples_per_s; hits/n_test/accuracy with test data, the same with
        a ``validation_`` prefix with validation data; training_cost,
        training_accuracy, test_cost, validation_cost with monitor; lr_halved_to and
        stopped when the schedule acts.
        progress(done, total): called within an epoch as batches complete.
        Returns the list of per-epoch records.  Raises TrainingDiverged when an epoch leaves
        a weight or bias NaN or infinite, before that epoch is evaluated, recorded or
        passed to the callback.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise InvalidArgument("epochs must be a whole number >= 0, got %r" % (epochs,))
        settings = check_fit_settings(batch_size, lr, l2, l1, momentum, early_stop, lr_schedule,
                                      dropout)
        train = self._data(training_data, "training data")
        if train.n == 0:
            raise DataError("training data has no samples")
        test = self._test_data(test) if test is not None else None
        validation = (self._test_data(validation, "validation data")
                      if validation is not None else None)
        schedule = self.schedule or Schedule(settings["lr"], early_stop, lr_schedule)
        if schedule.active and validation is None and test is None:
            raise InvalidArgument("early_stop and lr_schedule watch the validation accuracy "
                                  "(or the test accuracy): give validation or test data")
        if checkpoint is not None:
            probe_target(checkpoint, "run.ckpt")
        trained_on = self._fingerprint(train, checkpoint is not None)
        if settings["dropout"] and not hasattr(self.engine, "hidden_units"):
            self._layered_engine()
        self.schedule, self.fit_settings, records = schedule, settings, []
        self.meta.pop("best_epoch", None)         # set again below, by this fit's schedule
        for _ in range(epochs):
            if schedule.stopped:
                break
            record = self._epoch(train, settings, schedule.lr, progress)
            self._changed()
            self._evaluate(record, train, test, validation, monitor, settings)
            watched = record.get("validation_hits", record.get("hits"))
            if schedule.active:
                halved = schedule.after_epoch(record["epoch"], watched, self.engine)
                if halved is not None:
                    record["lr_halved_to"] = halved
                if schedule.stopped:
                    record["stopped"] = schedule.stopped
            self.history.append(record)
            records.append(record)
            self.meta.update(settings, epochs=len(self.history), train_samples=train.n,
                             backend=self.backend)
            if checkpoint is not None:
                self._checkpoint(checkpoint, settings, trained_on)
            if callback is not None:
                callback(record)
        if schedule.early_stop:
            schedule.restore_best(self.engine)
            self._changed()
            self.meta["best_epoch"] = schedule.best_epoch
        self.schedule = None
        return records

    def _layered_engine(self):
        """Move the parameters (and velocities) to the layered engine of this backend, the
        one that has dropout: the same numbers, the same bits from here on."""
        weights, biases = self.engine.get_params()
        velocities = self.engine.get_velocities()
        self.engine = make_engine(self.backend, self.sizes, weights, biases, self.threads,
                                  self.cost_name, self.activation, layered=True)
        if velocities is not None:
            self.engine.set_velocities(*velocities)

    def _fingerprint(self, train, needed):
        """The fingerprint of train, when needed or when this network was resumed (else
        None).  A resumed network must train on the data its checkpoint was made with:
        DataError otherwise, naming both."""
        if not needed and self.trained_on is None:
            return None
        seen, was = checkpoint_file.fingerprint(train), self.trained_on
        if was is not None and seen != was:
            raise DataError(
                "the training data differs from the checkpoint's: %d samples (sha256 %s...) "
                "where the run was trained on %d samples (sha256 %s...); resume with the same "
                "data" % (seen["n"], seen["sha256"][:12], was["n"], was["sha256"][:12]))
        return seen

    def _checkpoint(self, path, settings, trained_on):
        """Write the training state to path (see :mod:`purenet.formats.checkpoint`) and set
        ``checkpointed`` to (path, epochs) once it is there."""
        doc = checkpoint_file.document(
            self.document(), self.rng.getstate(), self.engine.get_velocities(), settings,
            trained_on, self.schedule.state() if self.schedule is not None else None)
        epochs = len(self.history)

        def written():
            self.checkpointed = (os.fspath(path), epochs)
        checkpoint_file.write(path, doc, written)

    def _epoch(self, train, settings, lr, progress):
        """One shuffle and one step per mini-batch; the epoch's record (so far).

        The shuffled order goes to the engine as one int64 array: in one call (each call
        has a fixed cost), or with progress in slices of whole batches of about 3,000
        samples (20 on MNIST), after each of which progress is called."""
        n = train.n
        batch_size = min(settings["batch_size"], n)      # one batch of all n either way
        order = memoryview(self.engine.shuffled_order(self.rng, n))   # rng.shuffle's order
        start = time.perf_counter()
        chunk = n if progress is None else (3000 // batch_size or 1) * batch_size
        p = settings["dropout"]
        for c in range(0, n, chunk):
            part = order[c:c + chunk]
            extra = {}
            if p:
                keep = keep_masks(self.rng, len(part) * self.engine.hidden_units(), p)
                extra["dropout"] = (1.0 / (1.0 - p), keep)
            self.engine.train_order(train, part, batch_size, lr, n=n, l2=settings["l2"],
                                    l1=settings["l1"], momentum=settings["momentum"], **extra)
            if progress is not None:
                progress(min(c + chunk, n), n)
        epoch = len(self.history) + 1
        if not self.engine.all_finite():          # before anything records this epoch
            raise TrainingDiverged(epoch)
        seconds = time.perf_counter() - start
        return {"epoch": epoch, "lr": lr, "seconds": seconds,
                "samples_per_s": train.n / seconds if seconds > 0 else float("inf")}

    def _evaluate(self, record, train, test, validation, monitor, settings):
        """Add the accuracies (and with monitor the costs) of the epoch to its record."""
        t0 = time.perf_counter()
        if validation is not None:
            hits = _hits(self.engine.outputs(validation, 0, validation.n), validation)
            record.update(validation_hits=hits, n_validation=validation.n,
                          validation_accuracy=hits / validation.n)
        if test is not None:
            self.test_outputs = self.engine.outputs(test, 0, test.n)  # kept for reports
            hits = _hits(self.test_outputs, test)
            record.update(hits=hits, n_test=test.n, accuracy=hits / test.n)
        if monitor:
            l2, l1 = settings["l2"], settings["l1"]
            hits = _chunked_hits(self.engine, train)
            record.update(training_cost=self.engine.total_cost(train, l2, l1),
                          training_accuracy=hits / train.n)
            for what, data in (("validation", validation), ("test", test)):
                if data is not None:
                    record[what + "_cost"] = self.engine.total_cost(data, l2, l1)
        record["eval_seconds"] = time.perf_counter() - t0

    # --- model files ---------------------------------------------------------

    def save(self, path, meta=None):
        """Write the network to a JSON model file (:mod:`purenet.formats.model`), atomically
        (:mod:`purenet.formats.atomic`).

        A symlink is written through; the file's mode is kept, or follows the umask for a
        new file. Raises ValueError for NaN/infinite parameters and for a path that cannot
        be a file (empty, a directory, a FIFO or device: ``SaveTargetError``), and an
        OSError naming the path for what the system refuses (a missing folder, a full disk).
        Nothing is left behind on failure, Ctrl-C included.
        """
        check_target(path)                         # a bad path before the work of encoding
        write_atomically(path, model_file.encode(self.document(meta)))

    def document(self, meta=None):
        """The model file's content (a dict for JSON): what :meth:`save` writes."""
        weights, biases = self.engine.get_params()
        kind = {"cost": self.cost_name, "activation": self.activation, "init": self.init}
        return model_file.document(self.sizes, kind, weights, biases,
                                   dict(self.meta, **(meta or {})), self.history)


def drawn(rng, shape):
    """A nested list of the given shape (lengths per level) of rng.gauss(0.0, 1.0) draws,
    in row-major order."""
    if len(shape) == 1:
        return [rng.gauss(0.0, 1.0) for _ in range(shape[0])]
    return [drawn(rng, shape[1:]) for _ in range(shape[0])]


def divided(nested, divisor):
    """Every number of a nested list divided by divisor."""
    if isinstance(nested, list):
        return [divided(v, divisor) for v in nested]
    return nested / divisor


def _hits(outputs, data):
    """How many samples' largest output is their label (a NaN output picks no class)."""
    labels = data.labels if data.labels is not None else map(data.label, range(data.n))
    return sum(1 for o, y in zip(outputs, labels)
               if argmax(o) == y and not any(map(math.isnan, o)))


# Samples whose outputs monitor holds at once while it counts the training hits: the
# outputs are lists of floats, about 400 bytes a sample with 10 outputs, so all 300,000
# of expanded MNIST at once would be 113 MB beside its 235 MB of pixels.
MONITOR_CHUNK = 10000


def _chunked_hits(engine, data):
    """_hits over every sample of data, MONITOR_CHUNK samples' outputs at a time."""
    return sum(_hits(engine.outputs(data, start, min(start + MONITOR_CHUNK, data.n)),
                     data.part(start, min(start + MONITOR_CHUNK, data.n)))
               for start in range(0, data.n, MONITOR_CHUNK))


def load(path, backend="python", threads=1):
    """Read a model file written by :meth:`Network.save` (JSON; nothing is executed).

    Whatever the file holds, a problem with it is a ModelFileError naming the file.
    """
    doc, fail = model_file.read_json(path)
    return _from_parsed(model_file.parse(doc, fail), backend, threads)


def resume(path, backend="python", threads=1):
    """The network of the checkpoint at path (:mod:`purenet.formats.checkpoint`), in the
    state its last epoch left it.

    ``net.fit_settings`` holds fit's settings as keyword arguments (batch_size, lr,
    l2, l1, momentum, early_stop, lr_schedule) and ``len(net.history)`` the epochs
    done; the next fit continues the schedule (``net.schedule``) where it stopped.  Every
    problem with the file is a ModelFileError naming it.  ``backend=None`` resumes on the
    backend the run was on (recorded in the checkpoint), or on the reference where the C
    engine is not built: the engines give the same bits, so this changes only the speed.
    """
    state = checkpoint_file.read(path)
    if backend is None:
        backend = state["model"]["meta"].get("backend")
        if backend not in BACKENDS or (backend == "c" and not cengine.available()):
            backend = "python"
    net = _from_parsed(state["model"], backend, threads)
    net.checkpointed = (os.fspath(path), len(net.history))
    net.fit_settings, net.trained_on = state["fit"], state["data"]
    net.rng.setstate(state["rng"])
    if state["velocities"] is not None:
        net.engine.set_velocities(*state["velocities"])
    net.schedule = state["schedule"]
    return net


def _from_parsed(parsed, backend, threads):
    """The Network a parsed model document (model_file.parse) describes."""
    seed = parsed["meta"].get("seed")
    net = Network(parsed["sizes"], seed=seed if is_whole(seed) else 0, backend=backend,
                  threads=threads, **parsed["kind"])
    net.set_params(parsed["weights"], parsed["biases"])
    net.meta, net.history = parsed["meta"], parsed["history"]
    return net
