"""Train a handwritten-digit classifier: ``python -m purenet.train [--backend c]``.

Defaults are the seed's: a 784-100-10 sigmoid network, quadratic cost, N(0, 1)
initial weights, mini-batches of 10, learning rate 3.0, 30 epochs on MNIST.
``--cost``, ``--activation``, ``--init``, ``--l2``, ``--l1`` and ``--momentum``
switch on the book's chapter 3, one at a time or together.
"""

import os
import platform
import sys
import time

from .. import __version__, cengine, data
from ..checks import is_layered
from ..dataset import EXPANSION, argmax, expand, image_side
from ..deep import weight_rows
from ..errors import CEngineUnavailable, SaveError, TrainingDiverged, UsageError
from ..network import Network, resume
from . import report
from .options import (Output, Parser, backend_for, check_output_file, count, exit_code,
                      interpreter, layer_sizes, momentum_value, one_line, penalty, plural,
                      positive_int, positive_number, thread_count)

PROG = "purenet-train"


# --preset NAME: the settings it stands for; an option given on the command line wins.
PRESETS = {
    "seed": {},                                  # the blog post's run: the defaults
    "network2": {"cost": "cross-entropy", "init": "scaled", "l2": 5.0, "lr": 0.5,
                 "batch_size": 10, "validation": 10000, "lr_schedule": 3, "early_stop": 10,
                 "epochs": 60},
    # The book's chapter 6 network (network3.py): two conv-pool layers, 100 ReLU, softmax.
    "network3": {"sizes": [784, "conv20x5", "pool2", "conv40x5", "pool2", 100, 10],
                 "cost": "log-likelihood", "activation": "relu", "init": "scaled",
                 "lr": 0.03, "l2": 0.1, "batch_size": 10, "validation": 10000,
                 "lr_schedule": 3, "early_stop": 10, "epochs": 60},
}


def parse_args(argv=None):
    """The options, with the preset's values where none was given; ``args.given`` names
    those the command line gave (a resumed run refuses any that contradict its
    checkpoint)."""
    args = build_parser().parse_args(argv)
    probe, unset = build_parser(), object()
    probe.set_defaults(**{name: unset for name in vars(args)})
    args.given = {k for k, v in vars(probe.parse_args(argv)).items() if v is not unset}
    for name, value in PRESETS[args.preset].items():
        if name not in args.given:
            setattr(args, name, value)
    return args


def checkpoint_settings(net):
    """The options a resumed net's checkpoint decides, by option name."""
    settings = {"sizes": net.sizes, "cost": net.cost_name, "activation": net.activation,
                "init": net.init, "seed": net.meta.get("seed")}
    settings.update(net.fit_settings)
    settings.update((k, v) for k, v in net.meta.get("run", {}).items()
                    if k in ("dataset", "source", "limit", "test_limit", "validation", "expand"))
    return settings


def _shown(name, value):
    option = "--" + name.replace("_", "-")
    if value is None or value is False:
        return "no " + option
    if value is True:
        return option
    return "%s %s" % (option, ",".join(map(str, value)) if isinstance(value, list) else value)


def take_checkpoint_settings(args, net):
    """Set args from the resumed net's checkpoint.  An option given that says otherwise
    is a UsageError naming both values; --epochs is the total to reach."""
    for name, value in checkpoint_settings(net).items():
        if name in getattr(args, "given", ()) and getattr(args, name) != value:
            raise UsageError("%s contradicts the checkpoint %s, made with %s: leave it out to "
                             "resume, or start a new run" % (_shown(name, getattr(args, name)),
                                                             args.resume, _shown(name, value)))
        setattr(args, name, value)
    done = len(net.history)
    if net.schedule is not None and net.schedule.stopped:
        raise UsageError("the run of the checkpoint %s has ended: it stopped after epoch %d (%s)"
                         % (args.resume, done, net.schedule.stopped))
    if "epochs" not in getattr(args, "given", ()):
        args.epochs = net.meta.get("run", {}).get("epochs", args.epochs)
    if args.epochs <= done:
        raise UsageError("the checkpoint %s already has %s: give --epochs more than %d "
                         "to train further" % (args.resume, plural(done, "epoch"), done))


def build_parser():
    p = Parser(
        prog=PROG, description="Train a sigmoid network on handwritten digits (MNIST).")
    p.add_argument("--backend", choices=["python", "c"], default=None,
                   help="python: the readable reference; c: the C engine; the same bits "
                        "either way (default: c where it is built, else python; with --resume, "
                        "the checkpoint's)")
    p.add_argument("--threads", type=thread_count, default=1,
                   help="threads for the C engine: 1 or 2 (default 1)")
    p.add_argument("--sizes", type=layer_sizes, default=None,
                   help="neurons per layer, input first (default 784,100,10; "
                        "the input size must match the data)")
    p.add_argument("--epochs", type=count, default=30, help="epochs (default 30)")
    p.add_argument("--batch-size", type=positive_int, default=10,
                   help="mini-batch size (default 10)")
    p.add_argument("--lr", type=positive_number, default=3.0, help="learning rate η (default 3.0)")
    p.add_argument("--cost", choices=["quadratic", "cross-entropy", "log-likelihood"],
                   default="quadratic", help="quadratic (default), cross-entropy, or "
                   "log-likelihood with a softmax output layer")
    p.add_argument("--activation", choices=["sigmoid", "tanh", "relu"], default="sigmoid",
                   help="the hidden layers' neurons (default sigmoid)")
    p.add_argument("--init", choices=["large", "scaled"], default="large",
                   help="initial weights: large = N(0, 1) (default), scaled = N(0, 1)/sqrt(n_in)")
    p.add_argument("--l2", type=penalty, default=0.0, metavar="λ",
                   help="L2 regularisation λ₂ (weight decay; default 0)")
    p.add_argument("--l1", type=penalty, default=0.0, metavar="λ",
                   help="L1 regularisation λ₁ (default 0)")
    p.add_argument("--momentum", type=momentum_value, default=0.0, metavar="μ",
                   help="momentum coefficient μ in [0, 1) (default 0: plain gradient descent)")
    p.add_argument("--dropout", type=momentum_value, default=0.0, metavar="P",
                   help="drop each unit of the fully connected hidden layers with probability "
                        "P in [0, 1) at every training step (default 0: none)")
    p.add_argument("--validation", type=count, default=None, metavar="N",
                   help="hold out the last N training samples as validation data (never "
                        "trained on; Nielsen's split is 10000)")
    p.add_argument("--expand", action="store_true",
                   help="add every training image again shifted by one pixel up, down, left "
                        "and right: 5x the training samples (the book's expand_mnist.py; "
                        "the validation and test data are not expanded)")
    p.add_argument("--monitor", action="store_true",
                   help="also print, per epoch, the training cost and accuracy and the "
                        "validation/test cost")
    p.add_argument("--early-stop", type=positive_int, default=None, metavar="K",
                   help="stop when validation accuracy has not improved for K epochs, and keep "
                        "the best epoch's network")
    p.add_argument("--lr-schedule", type=positive_int, default=None, metavar="K",
                   help="halve the learning rate each time validation accuracy has not improved "
                        "for K epochs; stop at 1/128 of the first")
    p.add_argument("--preset", choices=sorted(PRESETS), default="seed",
                   help="seed: the blog post's settings (default); network2: Nielsen's chapter 3 "
                        "(cross-entropy, scaled init, --l2 5 --lr 0.5, --validation 10000 "
                        "--lr-schedule 3 --early-stop 10 --epochs 60); network3: the book's "
                        "chapter 6 (--sizes 784,conv20x5,pool2,conv40x5,pool2,100,10, ReLU, "
                        "log-likelihood, see docs/cli.md); options given win")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the initial weights and every shuffle (default 0)")
    p.add_argument("--limit", type=count, default=None, metavar="N",
                   help="train on the first N training samples")
    p.add_argument("--test-limit", type=count, default=None, metavar="N",
                   help="evaluate on the first N test samples")
    p.add_argument("--dataset", choices=["mnist", "digits"], default="mnist",
                   help="mnist (default) or scikit-learn's bundled 8x8 digits")
    p.add_argument("--source", choices=["files", "openml"], default="files",
                   help="MNIST from the IDX files (default) or OpenML via scikit-learn")
    p.add_argument("--data-dir", default=None,
                   help="directory with the four MNIST IDX files (else $PURENET_DATA, "
                        "else the data/mnist cache)")
    p.add_argument("--no-download", action="store_true",
                   help="never download missing MNIST files")
    p.add_argument("--save", default=None, metavar="PATH",
                   help="write the trained model here (JSON)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="write the whole training state here after every epoch, to --resume from")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue the run of this checkpoint, with its settings, until --epochs "
                        "epochs in total (and keep checkpointing to it)")
    p.add_argument("--plots", default=None, metavar="DIR",
                   help="draw pictures of the run into DIR (PNGs, redrawn as the run goes "
                        "and at the end); needs matplotlib: pip install \"purenet[plot]\"")
    p.add_argument("--report", action="store_true",
                   help="at the end, print per-class accuracy and the confusion matrix")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.add_argument("--version", action="store_true",
                   help="print the version, whether the C engine is built, and where MNIST "
                        "is looked for; then exit")
    return p


def version_text(data_dir=None):
    """--version: what a bug report needs (the version, the C engine's state and SIMD
    level, the MNIST folders in search order), without loading any data."""
    try:
        c = "built (%s)" % cengine.simd_name()
    except CEngineUnavailable as e:
        c = "unavailable: %s" % e
    dirs = data.mnist_dirs(data_dir)
    found = data.find_mnist(data_dir)
    return "\n".join([
        "%s %s (%s, %s)" % (PROG, __version__, interpreter(),
                            os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "C engine: " + c,
        "MNIST is looked for in: " + ", ".join(dirs),
        "MNIST found in: " + found if found else
        "MNIST not found yet: it would be downloaded into " + dirs[0]])


def every_output_stuck(units):
    """Every output unit is near 0 for every test input, or near 1 for every one (σ′ below
    report.SATURATED_SLOPE throughout): what too large a first step does to a network."""
    return all(u["max_slope"] < report.SATURATED_SLOPE and (u["max"] < 0.5 or u["min"] > 0.5)
               for u in units)


class Progress:
    """A line on stderr that updates within an epoch (only on a terminal)."""

    def __init__(self, enabled):
        self.enabled = enabled and sys.stderr.isatty()
        self.epoch = 0
        self.start = time.perf_counter()

    def begin(self, epoch):
        self.epoch, self.start = epoch, time.perf_counter()

    def __call__(self, done, total):
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        sys.stderr.write("\r  epoch %d [%s%s] %d/%d  %.0f samples/s " % (
            self.epoch, "#" * filled, "." * (width - filled), done, total, rate))
        sys.stderr.flush()

    def clear(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def load_data(args):
    """(train, validation or None, test) as the options ask, checked against --sizes."""
    train, test = data.load_dataset(args.dataset, source=args.source, data_dir=args.data_dir,
                                       download=not args.no_download,
                                       progress=not args.quiet and sys.stderr.isatty())
    train, test = train.head(args.limit), test.head(args.test_limit)
    if args.limit == 0:           # an empty training set is refused where it is read
        raise UsageError("--limit 0 leaves no training samples")
    validation = None
    if args.validation:
        if args.validation >= train.n:
            raise UsageError("--validation %d leaves no training samples: there are %d; hold out "
                             "fewer (Nielsen holds out 10000 of 60000)"
                             % (args.validation, train.n))
        keep = train.n - args.validation
        train, validation = train.part(0, keep), train.part(keep, train.n, "validation data")
    if (args.early_stop or args.lr_schedule) and validation is None and test.n == 0:
        raise UsageError("--early-stop and --lr-schedule watch the validation accuracy (or the "
                         "test accuracy), and there is neither: add --validation N")
    sizes = args.sizes or [train.n_in, 100, train.n_out]
    if sizes[0] != train.n_in:
        raise UsageError("--sizes starts with %d inputs but %s images have %d pixels: use "
                         "--sizes %s"
                         % (sizes[0], args.dataset, train.n_in,
                            ",".join(map(str, [train.n_in] + sizes[1:]))))
    if sizes[-1] != train.n_out:
        raise UsageError("--sizes ends with %d outputs but %s has %d classes: use --sizes %s"
                         % (sizes[-1], args.dataset, train.n_out,
                            ",".join(map(str, sizes[:-1] + [train.n_out]))))
    args.sizes = sizes
    if args.expand:                          # the training part only, once all else is checked
        train = expanded(train, args.dataset)
    return train, validation, test


def expanded(train, dataset):
    """--expand: train and its one-pixel shifts; images that are not square are refused."""
    if image_side(train.n_in) is None:
        raise UsageError("--expand shifts square images, and %s's have %d pixels, not r x r: "
                         "leave --expand out" % (dataset, train.n_in))
    return expand(train)


def header(args, engine_note, train, validation, test, origin, seconds):
    """The run's first line: every setting that decides its numbers."""
    extra = "".join(" %s %s," % (name, value) for name, value in (
        ("validation", validation.n if validation else None), ("early-stop", args.early_stop),
        ("lr-schedule", args.lr_schedule), ("dropout", args.dropout)) if value)
    shifts = (" (%d and their 4 one-pixel shifts)" % (train.n // EXPANSION)
              if args.expand else "")
    return ("purenet: %s network, %s backend%s, %d training%s / %d test samples (%s), preset %s, "
            "cost %s, activation %s, init %s, batch %d, lr %g, l2 %g, l1 %g, momentum %g,%s "
            "%s, seed %d (data from %s, loaded in %.1f s)"
            % ("-".join(map(str, args.sizes)), args.backend, engine_note, train.n, shifts, test.n,
               args.dataset, args.preset, args.cost, args.activation, args.init,
               args.batch_size, args.lr, args.l2, args.l1, args.momentum, extra,
               plural(args.epochs, "epoch"), args.seed, origin, seconds))


def notes(args, net, train, validation):
    """The lines after the header: what the settings imply, and what the run continues."""
    lines = []
    if (args.early_stop or args.lr_schedule) and validation is None:
        lines.append("  (no --validation: early stopping and the schedule watch the test "
                     "accuracy, which then no longer measures unseen data)")
    if args.batch_size >= train.n:
        lines.append("  (--batch-size %d is the whole training set of %d: each epoch is one "
                     "gradient step, and holds every sample's activations at once)"
                     % (args.batch_size, train.n))
    if (args.backend == "python" and platform.python_implementation() == "CPython"
            and train.n > SLOW_REFERENCE_SAMPLES):
        lines.append(reference_estimate(args, net, train))
    if args.resume is not None:
        lines.append("resuming %s after epoch %d" % (args.resume, len(net.history)))
    if args.checkpoint is not None:
        lines.append("checkpoint after every epoch: %s" % args.checkpoint)
    return lines


# The reference under CPython trains a few hundred MNIST samples a second: beyond this many
# samples an epoch takes long enough that the run says how long, and what is faster.
SLOW_REFERENCE_SAMPLES = 10000
PROBE_SAMPLES = 200         # trained once, on a copy of the network, to time the reference
PROBE_CONV_SAMPLES = 10     # as many with a conv layer: each takes about 50 times as long


def reference_estimate(args, net, train):
    """How long the reference will take here, from one epoch of a copy on the first
    PROBE_SAMPLES samples (the network itself is not touched), and the faster ways."""
    probe = Network(net.sizes, seed=0, cost=net.cost_name, activation=net.activation)
    start = time.perf_counter()
    probes = PROBE_CONV_SAMPLES if is_layered(net.sizes) else PROBE_SAMPLES
    probe.fit(train.head(probes), 1, batch_size=args.batch_size, lr=args.lr,
              l2=args.l2, l1=args.l1, momentum=args.momentum, dropout=args.dropout)
    epoch = (time.perf_counter() - start) * train.n / min(probes, train.n)
    epochs = args.epochs - len(net.history)
    return ("  (the reference under CPython: about %s an epoch of %d samples here, %s for %s; "
            "--backend c gives the same numbers in seconds, and PyPy runs this same code much "
            "faster: pypy3 -m purenet.train --backend python)"
            % (duration(epoch), train.n, duration(epoch * epochs), plural(epochs, "epoch")))


def duration(seconds):
    """"40 s", "2.7 minutes", "1.4 hours"."""
    if seconds < 90:
        return "%.0f s" % seconds
    if seconds < 5400:
        return "%.1f minutes" % (seconds / 60)
    return "%.1f hours" % (seconds / 3600)


def epoch_lines(rec, watched, patience):
    """What an epoch's record says: accuracies, times, costs, a halved η, a stop."""
    parts = []
    if "validation_hits" in rec:
        parts.append("validation %5d / %d = %6.2f%%" % (
            rec["validation_hits"], rec["n_validation"], 100.0 * rec["validation_accuracy"]))
    if "hits" in rec:
        parts.append(("test " if parts else "") + "%5d / %d = %6.2f%%" % (
            rec["hits"], rec["n_test"], 100.0 * rec["accuracy"]))
    lines = ["Epoch %2d: %s   train %6.2f s  %9.0f samples/s"
             % (rec["epoch"], "   ".join(parts) or "(no test samples)", rec["seconds"],
                rec["samples_per_s"])]
    if "training_cost" in rec:
        costs = ", ".join("%s %.4f" % (w, rec[w + "_cost"]) for w in
                          ("training", "validation", "test") if w + "_cost" in rec)
        lines.append("  cost: %s; training accuracy %.2f%%"
                     % (costs, 100.0 * rec["training_accuracy"]))
    if "lr_halved_to" in rec:
        lines.append("  lr halved to %g: no better %s accuracy in %s"
                     % (rec["lr_halved_to"], watched, plural(patience, "epoch")))
    if "stopped" in rec:
        lines.append("  stopped after epoch %d: %s" % (rec["epoch"], rec["stopped"]))
    return lines


def prepare(args):
    """Everything checked before any data loads: the options, the C engine, the paths to
    write, the checkpoint to resume.  (the resumed net or None, the engine note, plots)"""
    if args.source == "openml" and args.dataset != "mnist":
        raise UsageError("--source openml is only for --dataset mnist")
    if args.backend is not None:
        args.backend = backend_for(args.backend)   # c: is it built?
    net = None
    if args.resume is not None:                  # backend None: the checkpoint's
        net = resume(args.resume, backend=args.backend, threads=args.threads)
    engine_note = choose_backend(args, net)
    if args.save is not None:                    # "" too: refused, not silently ignored
        check_output_file("--save", args.save)
    if net is not None:
        take_checkpoint_settings(args, net)
        args.net = net
        if args.checkpoint is None:
            args.checkpoint = args.resume            # a resumed run goes on checkpointing
    if args.checkpoint is not None:
        check_output_file("--checkpoint", args.checkpoint, "run.ckpt")
    plots = None
    if args.plots is not None:                   # matplotlib only now, and only for this
        from . import plots                      # needs matplotlib: only for --plots
        plots.check(args.plots)
    return net, engine_note, plots


def choose_backend(args, resumed):
    """Settle args.backend: as given, else the resumed checkpoint's, else the C engine where
    it is built, else the reference (the engines give the same bits: only the speed
    differs).  Returns the header's note: the engine's SIMD level and threads, and why this
    engine when no --backend chose it."""
    why = None
    if resumed is not None and args.backend is None:
        args.backend = resumed.backend
        why = "the checkpoint's" if resumed.meta.get("backend") == resumed.backend else \
            "the checkpoint's was c, which is not built here"
    elif args.backend is None:
        args.backend = backend_for(None)
        why = ("the default where the C engine is built" if args.backend == "c" else
               "the default here: the C engine is not built (pip install . builds it)")
    if args.threads > 1 and args.backend == "python":
        raise UsageError("--threads %d needs the C engine (--backend c): the reference runs on "
                         "one thread" % args.threads)
    parts = []
    if args.backend == "c":
        parts.append("%s, %s" % (cengine.simd_name(), plural(args.threads, "thread")))
    if why:
        parts.append(why)
    return " (%s)" % "; ".join(parts) if parts else ""


# After one epoch on MNIST no weight of a network that learns is near this (the seed's run
# and network2: at most 4.2); a first step far too large for any cost passes it at once.
WEIGHT_BLOWUP = 100.0


def largest_weight(net):
    """The largest |w| of the network."""
    return max(abs(v) for w in net.weights for row in weight_rows(w) for v in row)


class UnitWatch:
    """The ``!`` lines after an epoch: a first step too large for any cost (every output
    saturated, or a weight blown up), and (with the quadratic cost) output units that
    saturate, change or recover."""

    def __init__(self, args, net, test, say):
        self.args, self.net, self.say = args, net, say
        self.labels = [test.label(i) for i in range(test.n)]
        self.flagged = []

    def __call__(self, rec):
        first, quadratic = rec["epoch"] == 1, self.args.cost == "quadratic"
        if not self.labels or not (first or quadratic):
            return
        units = report.output_units(self.net.test_outputs, self.labels)
        hint = "the learning rate is probably too high (try --lr %g)" % min(self.args.lr / 10, 0.5)
        if first and every_output_stuck(units):
            self.say("  ! every output unit saturated in epoch 1: " + hint)
        elif first and largest_weight(self.net) >= WEIGHT_BLOWUP:
            self.say("  ! a weight reached %.3g in epoch 1: %s" % (largest_weight(self.net), hint))
        flagged = [u["unit"] for u in report.stuck_units(units)] if quadratic else []
        if flagged != self.flagged:                # say it when it starts, changes or ends
            lines = report.dead_unit_lines(units)
            for line in lines:
                self.say("  ! " + line)
            if not lines:
                self.say("  ! no output unit is saturated or unused any more")
            self.flagged = flagged


def final_line(args, net, results, test, watched, seconds):
    """The last line: the kept epoch, or the best and final accuracy."""
    kept = net.meta.get("best_epoch") if args.early_stop else None
    if kept is not None:
        rec = net.history[kept - 1]
        return "Kept epoch %d (the best %s accuracy)%s   total time %.1f s" % (
            kept, watched, "".join("   %s %.2f%%" % (w, 100.0 * rec[k]) for w, k in (
                ("validation", "validation_accuracy"), ("test", "accuracy")) if k in rec),
            seconds)
    if results and test.n:
        best = max((r for r in net.history if "hits" in r), key=lambda r: r["hits"])
        return "Best: %.2f%% (epoch %d)   final: %.2f%%   total time %.1f s" % (
            100.0 * best["accuracy"], best["epoch"], 100.0 * results[-1]["accuracy"], seconds)
    hits = net.evaluate(test) if test.n else 0
    return "Final: %s   total time %.1f s" % (
        "%d / %d" % (hits, test.n) if test.n else "no test samples", seconds)


def final_report(args, net, test):
    """--report: per-class accuracy, the confusion matrix, and the dead units."""
    outs = net.test_outputs or net.outputs(test)         # the last epoch's, if it was kept
    labels = [test.label(i) for i in range(test.n)]
    lines = [report.format_report(labels, [argmax(o) for o in outs], test.n_out)]
    if args.cost == "quadratic":
        lines += ["! " + l for l in report.dead_unit_lines(report.output_units(outs, labels))]
    return lines


def run(args, out=None):
    emit = Output(out or sys.stdout)
    say = (lambda *a: None) if args.quiet else emit
    net, engine_note, plots = prepare(args)
    t_start = time.perf_counter()
    train, validation, test = load_data(args)
    load_seconds = time.perf_counter() - t_start
    if net is None:
        net = Network(args.sizes, seed=args.seed, backend=args.backend, threads=args.threads,
                      cost=args.cost, activation=args.activation, init=args.init)
        args.net = net                           # for what Ctrl-C says (interrupted)
    net.meta["run"] = {"dataset": args.dataset, "source": args.source, "limit": args.limit,
                       "test_limit": args.test_limit, "validation": args.validation,
                       "expand": args.expand, "epochs": args.epochs}
    say(header(args, engine_note, train, validation, test, train.origin, load_seconds))
    for line in notes(args, net, train, validation):
        say(line)
    watched = "validation" if validation is not None else "test"
    pictures = plots.Plots(args.plots, net, test, say) if plots is not None else None
    progress, watch, results = Progress(not args.quiet), UnitWatch(args, net, test, say), []

    def on_epoch(rec):
        progress.clear()
        results.append(rec)
        for line in epoch_lines(rec, watched, args.lr_schedule):
            say(line)
        watch(rec)
        if pictures is not None:
            pictures.after_epoch()
        progress.begin(rec["epoch"] + 1)

    progress.begin(len(net.history) + 1)
    net.fit(train, args.epochs - len(net.history), batch_size=args.batch_size, lr=args.lr,
            test=test if test.n else None, callback=on_epoch,
            progress=progress if progress.enabled else None,
            l2=args.l2, l1=args.l1, momentum=args.momentum, checkpoint=args.checkpoint,
            validation=validation, monitor=args.monitor, early_stop=args.early_stop,
            lr_schedule=args.lr_schedule, dropout=args.dropout)
    progress.clear()
    if net.meta.get("best_epoch"):
        net.test_outputs = None                  # the last epoch's, not the kept network's
    emit(final_line(args, net, results, test, watched, time.perf_counter() - t_start))
    if args.report and test.n:
        for line in final_report(args, net, test):
            emit(line)
    if pictures is not None:
        pictures.finish()
    if args.save is not None:
        try:
            net.save(args.save, meta={"dataset": args.dataset, "source": args.source})
        except (ValueError, OSError) as e:        # everything save() raises but Ctrl-C
            raise SaveError(one_line(e)) from None
        say("saved the model to %s" % args.save)
    return net, results


def _checkpointed(args):
    """(path, epochs) of the checkpoint this run last wrote or resumed from, or None."""
    net = getattr(args, "net", None)
    return net.checkpointed if net is not None else None


def interrupted(args):
    """What Ctrl-C leaves: the last checkpoint and how to resume from it, or nothing."""
    saved = _checkpointed(args)
    if saved is None:
        if getattr(args, "checkpoint", None) is None:
            return "interrupted: nothing was saved (--checkpoint PATH keeps the state after " \
                   "every epoch)"
        return "interrupted before the first epoch ended: nothing was saved"
    path, epoch = saved
    engine = " --backend c" if args.backend == "c" else ""
    return ("interrupted: %s holds the state after epoch %d; continue with: %s --resume %s%s"
            % (path, epoch, PROG, path, engine))


def main(argv=None):
    args = parse_args(argv)
    if args.version:
        Output(sys.stdout)(version_text(args.data_dir))     # quiet if stdout is closed
        return 0

    def train():
        run(args)
    return exit_code(PROG, train, lambda: interrupted(args), lambda e: error_line(e, args))


def error_line(e, args):
    """An error's line; a divergence also says which epoch the checkpoint still holds."""
    kept = _checkpointed(args) if isinstance(e, TrainingDiverged) else None
    return "%s%s" % (e, "" if kept is None else " (%s still holds epoch %d)" % kept)

