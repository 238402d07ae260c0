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

import itertools
import json
import math
import numbers
import os
import random
import time

from .dataset import DataError, argmax, as_dataset
from . import checkpoint as _checkpoint
from .files import check_target, write_atomically
from .schedule import Schedule
from .reference import ACTIVATIONS, COSTS, ReferenceEngine

FORMAT_NAME = "purenet"
FORMAT_VERSION = 2              # version 1: sigmoid / quadratic / "large" only, no "init"
BACKENDS = ("python", "c")
INITS = ("large", "scaled")

# The C engine's limits (PN_MAX_LAYERS, PN_MAX_SIZE, PN_MAX_THREADS in csrc/purenet.h; a test
# checks they agree).  Every network keeps to them, so that a model runs in both engines.
MAX_LAYERS, MAX_NEURONS, MAX_THREADS = 1024, 16777216, 2
# Building a network holds each parameter as a Python float in nested lists (a 24-byte
# float and an 8-byte list slot) and as the engine's 8-byte double: at least 40 bytes.
PARAM_BYTES = 40
UNKNOWN_MEMORY = 16 * 10 ** 9     # assumed where the system does not tell its memory size


class ModelFileError(ValueError):
    """A model file that cannot be read: the message names the file and the problem."""


class TrainingDiverged(ArithmeticError):
    """fit stopped because a weight or bias became NaN or infinite during an epoch.

    ``epoch`` is that epoch's number (as in the history).  The epoch is not recorded and the
    callback is not called for it; the network keeps the diverged parameters.
    """

    def __init__(self, epoch):
        super().__init__("training diverged at epoch %d: try a smaller --lr" % epoch)
        self.epoch = epoch


def make_engine(backend, sizes, weights, biases, threads=1, cost="quadratic",
                activation="sigmoid"):
    """The engine for a backend name ("python" or "c")."""
    if backend == "python":
        return ReferenceEngine(sizes, weights, biases, cost=cost, activation=activation)
    if backend == "c":
        from .cengine import CEngine     # imported only when asked for: needs cffi
        return CEngine(sizes, weights, biases, threads=threads, cost=cost,
                       activation=activation)
    raise ValueError("unknown backend %r: use one of %s" % (backend, ", ".join(BACKENDS)))


def _check_choice(what, value, choices):
    if value not in choices:
        raise ValueError("unknown %s %r: use one of %s" % (what, value, ", ".join(choices)))


def _check_penalty(what, value, below_one=False):
    """A finite float >= 0 (and < 1 for the momentum)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s must be a number, got %r" % (what, value))
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0 and (value < 1.0 or not below_one)):
        raise ValueError("%s must be a finite number %s, got %r"
                         % (what, "in [0, 1)" if below_one else ">= 0", value))
    return value


def _short(value, limit=60):
    """repr(value), cut to about limit characters: an error message stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_whole(v):
    """An integer (Python's or another Integral such as NumPy's), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
    """A finite real number: not a bool, a numeric string, NaN, ±inf or an int beyond float."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:              # an int (or Fraction) too large for a float
        return False


def _memory_size():
    """(bytes, description) of this machine's memory, or the UNKNOWN_MEMORY guess."""
    try:
        size = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):      # no sysconf, or no such name here
        size = -1
    if size > 0:
        return size, "this machine's %s" % _gigabytes(size)
    return (UNKNOWN_MEMORY,
            "the %s assumed where the memory size is unknown" % _gigabytes(UNKNOWN_MEMORY))


def _gigabytes(n):
    return "%.1f GB" % (n / 1e9) if n < 1e10 else "{:,.0f} GB".format(n / 1e9)


FIT_SETTINGS = ("batch_size", "lr", "l2", "l1", "momentum", "early_stop", "lr_schedule")


def check_fit_settings(batch_size, lr, l2, l1, momentum, early_stop=None, lr_schedule=None):
    """fit's settings, checked, as a dict (the numbers a checkpoint records)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch size must be a whole number >= 1, got %r" % (batch_size,))
    if not (_is_number(lr) and lr > 0):
        raise ValueError("learning rate must be a finite number > 0, got %s" % _short(lr))
    for what, k in (("early_stop", early_stop), ("lr_schedule", lr_schedule)):
        if k is not None and not (_is_whole(k) and k >= 1):
            raise ValueError("%s must be None or a whole number of epochs >= 1, got %s"
                             % (what, _short(k)))
    return {"batch_size": batch_size, "lr": float(lr), "l2": _check_penalty("l2", l2),
            "l1": _check_penalty("l1", l1),
            "momentum": _check_penalty("momentum", momentum, below_one=True),
            "early_stop": early_stop, "lr_schedule": lr_schedule}


def _check_sizes(sizes):
    """sizes as a list of ints, or ValueError: two to MAX_LAYERS layers of 1 to MAX_NEURONS
    neurons (whole numbers, not floats or bools), few enough parameters to build in this
    machine's memory; checked before anything is allocated."""
    try:
        head = list(itertools.islice(sizes, MAX_LAYERS + 1))
    except TypeError:                  # not iterable
        head = [None]
    if not all(map(_is_whole, head)):
        raise ValueError("sizes must be a list of positive integers, got %s" % _short(sizes))
    sizes = [int(s) for s in head]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("sizes needs at least two layers of at least one neuron, got %s"
                         % _short(sizes))
    if len(sizes) > MAX_LAYERS:
        raise ValueError("sizes has more than {:,} layers (the C engine's limit)"
                         .format(MAX_LAYERS))
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    memory, which = _memory_size()
    if count * PARAM_BYTES > memory:
        raise ValueError("a {} network has {:,} weights and biases: about {} as Python floats, "
                         "more than {} of memory".format("-".join(map(str, sizes)), count,
                                                         _gigabytes(count * PARAM_BYTES), which))
    if max(sizes) > MAX_NEURONS:
        raise ValueError("a layer has at most {:,} neurons (the C engine's limit), got {:,}"
                         .format(MAX_NEURONS, max(sizes)))
    return sizes


def _all_numbers(values):
    """all(map(_is_number, values)), faster: the types are checked once each."""
    types = set(map(type, values))
    try:
        return (all(issubclass(t, numbers.Real) and not issubclass(t, bool) for t in types)
                and all(map(math.isfinite, values)))
    except OverflowError:              # an int too large for a float
        return False


def _check_finite(values, what):
    """Raise ValueError naming the first of values that is not a finite number."""
    if not _all_numbers(values):
        k, v = next((k, v) for k, v in enumerate(values) if not _is_number(v))
        raise ValueError("%s[%d] is %s, not a finite number" % (what, k, _short(v)))


def _check_params(sizes, weights, biases):
    """Raise ValueError unless weights/biases have the shapes sizes asks for and hold
    only finite numbers (not NaN, ±inf, bools or numeric strings)."""
    layers = len(sizes) - 1
    if len(weights) != layers or len(biases) != layers:
        raise ValueError("expected %d weight matrices and %d bias vectors for sizes %s, got %d and %d"
                         % (layers, layers, sizes, len(weights), len(biases)))
    for l in range(layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        if len(weights[l]) != n_out or any(len(row) != n_in for row in weights[l]):
            raise ValueError("weights[%d] must be %d rows of %d values (layer %d -> %d)"
                             % (l, n_out, n_in, l, l + 1))
        if len(biases[l]) != n_out:
            raise ValueError("biases[%d] must have %d values, got %d"
                             % (l, n_out, len(biases[l])))
    for l in range(layers):
        for j, row in enumerate(weights[l]):
            _check_finite(row, "weights[%d][%d]" % (l, j))
        _check_finite(biases[l], "biases[%d]" % l)


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

    Reading ``weights``/``biases`` gives the current values whatever the engine,
    as fresh nested lists (changing them changes nothing); assigning lists of the
    right shapes sets the parameters.  ``random.Random(seed)`` draws the initial
    parameters, in this order: every bias, layer by layer (biases[0][0],
    biases[0][1], ...), then every weight, layer by layer and row by row
    (weights[0][0][0], weights[0][0][1], ...), each ``rng.gauss(0.0, 1.0)`` (a
    "scaled" weight is that draw divided by ``math.sqrt(n_in)``).  The same
    generator then draws every shuffle of :meth:`fit`.
    """

    def __init__(self, sizes, seed=None, backend="python", threads=1, cost="quadratic",
                 activation="sigmoid", init="large"):
        self.sizes = _check_sizes(sizes)
        _check_choice("backend", backend, BACKENDS)
        _check_choice("cost", cost, tuple(COSTS))
        _check_choice("activation", activation, tuple(ACTIVATIONS))
        _check_choice("init", init, INITS)
        if seed is None:
            seed = random.SystemRandom().randrange(2 ** 32)
        elif not _is_whole(seed):
            raise ValueError("seed must be a whole number (or None for a random one), got %s"
                             % _short(seed))
        seed = int(seed)
        self.seed = seed
        self.rng = random.Random(seed)
        gauss = self.rng.gauss
        biases = [[gauss(0.0, 1.0) for _ in range(n)] for n in self.sizes[1:]]
        weights = [[[gauss(0.0, 1.0) for _ in range(n_in)] for _ in range(n_out)]
                   for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
        if init == "scaled":
            weights = [[[v / math.sqrt(len(row)) for v in row] for row in w] for w in weights]
        self.backend, self.cost_name, self.activation, self.init = backend, cost, activation, init
        self.engine = make_engine(backend, self.sizes, weights, biases, threads=threads,
                                  cost=cost, activation=activation)
        self.history = []            # one dict per trained epoch
        self.test_outputs = None     # output activations on fit's test data, last epoch
        self.meta = {"seed": seed}
        self.trained_on = None       # set by resume(): the data the run was trained on
        self.schedule = None         # set by resume(): the schedule its next fit continues
        self.checkpointed = None     # (path, epochs) of the last checkpoint written or resumed

    # --- parameters -------------------------------------------------------

    @property
    def weights(self):
        return self.engine.get_params()[0]

    @weights.setter
    def weights(self, value):
        biases = self.biases
        _check_params(self.sizes, value, biases)
        self.engine.set_params(value, biases)

    @property
    def biases(self):
        return self.engine.get_params()[1]

    @biases.setter
    def biases(self, value):
        weights = self.weights
        _check_params(self.sizes, weights, value)
        self.engine.set_params(weights, value)

    def set_params(self, weights, biases):
        """Set both weights and biases (shapes checked)."""
        _check_params(self.sizes, weights, biases)
        self.engine.set_params(weights, biases)

    # --- using the network ---------------------------------------------------

    def feedforward(self, x):
        """Output activations aᴸ for the input vector x (finite numbers only)."""
        if len(x) != self.sizes[0]:
            raise ValueError("input has %d values, the network takes %d" % (len(x), self.sizes[0]))
        _check_finite(x, "input")
        return self.engine.feedforward(x)

    def predict(self, x):
        """The class the network picks for x: the index of its largest output."""
        return argmax(self.feedforward(x))

    def _data(self, data, what):
        data = as_dataset(data, n_out=self.sizes[-1], name=what)
        if data.n_in != self.sizes[0]:
            raise DataError("%s has %d inputs per sample but the network takes %d: use --sizes %d,...,%d"
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
        l2, l1 = _check_penalty("l2", l2), _check_penalty("l1", l1)
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
            validation=None, monitor=False, early_stop=None, lr_schedule=None):
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
        checkpoint: a path where the whole training state is written, atomically,
        after every epoch (see :mod:`purenet.checkpoint`); :func:`purenet.resume`
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
            raise ValueError("epochs must be a whole number >= 0, got %r" % (epochs,))
        settings = check_fit_settings(batch_size, lr, l2, l1, momentum, early_stop, lr_schedule)
        train = self._data(training_data, "training data")
        if train.n == 0:
            raise DataError("training data has no samples")
        test = self._test_data(test) if test is not None else None
        validation = (self._test_data(validation, "validation data")
                      if validation is not None else None)
        schedule = self.schedule or Schedule(settings["lr"], early_stop, lr_schedule)
        if schedule.active and validation is None and test is None:
            raise ValueError("early_stop and lr_schedule watch the validation accuracy (or the "
                             "test accuracy): give validation or test data")
        if checkpoint is not None:
            check_target(checkpoint, "run.ckpt")
        trained_on = _checkpoint.check_data(self, train, checkpoint is not None)
        self.schedule, records = schedule, []
        self.meta.pop("best_epoch", None)         # set again below, by this fit's schedule
        for _ in range(epochs):
            if schedule.stopped:
                break
            record = self._epoch(train, settings, schedule.lr, progress)
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
                _checkpoint.write(self, checkpoint, settings, trained_on)
            if callback is not None:
                callback(record)
        if schedule.early_stop:
            schedule.restore_best(self.engine)
            self.meta["best_epoch"] = schedule.best_epoch
        self.schedule = None
        return records

    def _epoch(self, train, settings, lr, progress):
        """One shuffle and one step per mini-batch; the epoch's record (so far).

        The shuffled order goes to the engine as one int64 array: in one call (each call
        has a fixed cost), or with progress in slices of whole batches of about 3,000
        samples (20 on MNIST), after each of which progress is called."""
        batch_size, n = settings["batch_size"], train.n
        order = memoryview(self.engine.shuffled_order(self.rng, n))   # rng.shuffle's order
        start = time.perf_counter()
        chunk = n if progress is None else (3000 // batch_size or 1) * batch_size
        for c in range(0, n, chunk):
            self.engine.train_order(train, order[c:c + chunk], batch_size, lr, n=n,
                                    l2=settings["l2"], l1=settings["l1"],
                                    momentum=settings["momentum"])
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
            hits = _hits(self.engine.outputs(train, 0, train.n), train)
            record.update(training_cost=self.engine.total_cost(train, l2, l1),
                          training_accuracy=hits / train.n)
            for what, data in (("validation", validation), ("test", test)):
                if data is not None:
                    record[what + "_cost"] = self.engine.total_cost(data, l2, l1)
        record["eval_seconds"] = time.perf_counter() - t0

    # --- model files ---------------------------------------------------------

    def save(self, path, meta=None):
        """Write the network to a JSON model file, atomically (see :mod:`purenet.files`).

        A symlink is written through; the file's mode is kept, or follows the umask for a
        new file. Raises ValueError for NaN/infinite parameters and for a path that cannot
        be a file (empty, a directory, a FIFO or device: ``files.SaveTargetError``), and an
        OSError naming the path for what the system refuses (a missing folder, a full disk).
        Nothing is left behind on failure, Ctrl-C included.
        """
        check_target(path)                         # a bad path before the work of encoding
        write_atomically(path, encode(self.document(meta)))

    def document(self, meta=None):
        """The model file's content (a dict for JSON): what :meth:`save` writes."""
        weights, biases = self.engine.get_params()
        info = dict(self.meta)
        info.update(meta or {})
        info["history"] = self.history
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "sizes": self.sizes,
                "cost": self.cost_name, "activation": self.activation, "init": self.init,
                "weights": weights, "biases": biases, "meta": info}


def encode(doc):
    """JSON bytes of a model or checkpoint document; floats as repr, so they read back
    bit-identical."""
    try:
        text = json.dumps(doc, allow_nan=False)
    except ValueError:
        raise ValueError("cannot save: the network's parameters contain NaN or infinity "
                         "(training diverged; try a smaller --lr)")
    return (text + "\n").encode("utf-8")


def _hits(outputs, data):
    """How many samples' largest output is their label (a NaN output picks no class)."""
    labels = data.labels if data.labels is not None else map(data.label, range(data.n))
    return sum(1 for o, y in zip(outputs, labels)
               if argmax(o) == y and not any(map(math.isnan, o)))


def read_json(path, what="model"):
    """The JSON document in the file at path, and a ``fail(problem)`` that raises
    ModelFileError naming the file."""
    path = os.fspath(path)

    def fail(problem):
        raise ModelFileError("%s: %s" % (path, problem))

    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        fail("cannot read: %s" % (e.strerror or e))
    except ValueError as e:                      # UnicodeDecodeError too
        fail("not a purenet %s file (invalid JSON: %s)" % (what, e))
    except RecursionError:
        fail("not a purenet %s file (JSON nested too deeply)" % what)
    except MemoryError:
        fail("too large to read into memory")
    return doc, fail


def load(path, backend="python", threads=1):
    """Read a model file written by :meth:`Network.save` (JSON; nothing is executed).

    Whatever the file holds, a problem with it is a ModelFileError naming the file.
    """
    doc, fail = read_json(path)
    return from_document(doc, fail, backend, threads)


def from_document(doc, fail, backend="python", threads=1):
    """The Network a model document describes (see :meth:`Network.document`); every
    problem is a ``fail(problem)``."""
    if isinstance(doc, dict) and doc.get("format") == _checkpoint.FORMAT_NAME:
        fail("this is a checkpoint, not a model file: purenet.resume reads it "
             "(purenet-train --resume)")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        fail("not a purenet model file (no \"format\": \"purenet\")")
    version = doc.get("version")
    if not _is_whole(version) or version not in (1, FORMAT_VERSION):
        fail("model format version %s is not supported (this purenet reads versions 1 to %d)"
             % (_short(version), FORMAT_VERSION))
    kind = {"cost": doc.get("cost"), "activation": doc.get("activation"),
            "init": doc.get("init", "large") if version == 1 else doc.get("init")}
    choices = {"cost": tuple(COSTS), "activation": tuple(ACTIVATIONS), "init": INITS}
    if version == 1:
        choices = {"cost": ("quadratic",), "activation": ("sigmoid",), "init": ("large",)}
    for key, value in kind.items():
        if value not in choices[key]:
            fail("%s %s is not supported in a version %d file (use one of %s)"
                 % (key, _short(value), version, ", ".join(choices[key])))
    try:
        sizes = _check_sizes(doc.get("sizes"))       # before anything is allocated
    except ValueError as e:
        fail("\"sizes\": %s" % e)
    weights, biases = doc.get("weights"), doc.get("biases")
    if not isinstance(weights, list) or not isinstance(biases, list):
        fail("\"weights\" and \"biases\" must be lists")
    try:
        _check_params(sizes, weights, biases)
    except ValueError as e:
        fail(str(e))
    except TypeError:
        fail("weights/biases have the wrong structure")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        fail("\"meta\" must be an object")
    seed = meta.get("seed")
    net = Network(sizes, seed=seed if _is_whole(seed) else 0, backend=backend,
                  threads=threads, **kind)
    net.set_params(weights, biases)
    net.meta = dict(meta)
    net.history = list(meta.get("history", [])) if isinstance(meta.get("history"), list) else []
    net.meta.pop("history", None)
    return net
