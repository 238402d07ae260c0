"""Pictures of training: ``python -m purenet.train ... --plots DIR``.

Five PNG files in DIR, kept up to date while the network trains, so that a long run
can be watched in an image viewer:

* ``learning-curve.png``: the accuracy per epoch (test, and validation / training when
  measured), and the cost when ``--monitor`` measures it;
* ``confusion.png``: the confusion matrix on the test data, counts in the cells;
* ``misclassified.png``: test images the network gets wrong, true → predicted;
* ``hidden-weights.png``: each first-layer hidden unit's incoming weights, drawn as an
  image of the input (square inputs only: 28×28 for MNIST);
* ``output-activations.png``: per output unit, how its activation is spread over the
  test inputs.  A unit saturated near 0 (the seed's failure: σ′ ≈ 0, so it has stopped
  learning) has every input in the lowest bin, its own digit's included.

matplotlib is an optional extra (``pip install "purenet[plot]"``) and only this module
imports it, so purenet itself needs only the standard library.  Figures are drawn with
the Agg renderer (no screen), and each file is replaced atomically
(:func:`purenet.formats.atomic.write_atomically`), so a viewer never sees half a PNG.
"""

import io
import math
import os
import time

from ..dataset import argmax
from ..errors import UsageError
from ..formats.atomic import check_target, write_atomically
from . import report

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    import numpy
    import PIL.Image
    MISSING = None
except ImportError as e:                     # matplotlib (or its numpy) is not installed
    MISSING = e

INSTALL = 'pip install "purenet[plot]"'
PICTURES = ("learning-curve.png", "confusion.png", "misclassified.png", "hidden-weights.png",
            "output-activations.png")
DPI = 80
COLOURS = 64             # in each PNG's palette
MAX_UNITS = 100          # hidden units drawn at most
MAX_WRONG = 50           # misclassified digits drawn at most
BUDGET = 0.05            # share of the run's time each group of pictures may take to redraw


def check(folder):
    """Before any training: matplotlib is importable, and ``folder`` exists (it is
    created) and can take every picture.  A UsageError with one line otherwise."""
    if MISSING is not None:
        missing = (MISSING.name or "matplotlib").split(".")[0]
        raise UsageError("--plots needs matplotlib: %s%s" % (
            INSTALL, "" if missing == "matplotlib" else " (%s is missing)" % missing))
    if not folder:
        raise UsageError("--plots needs the name of a folder for the pictures (e.g. --plots "
                         "plots)")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError("--plots %s: that is a file, not a folder (name a folder for the "
                         "pictures)" % folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UsageError("--plots %s: cannot create that folder: %s (choose another)"
                         % (folder, e.strerror or e)) from None
    for name in PICTURES:
        try:
            check_target(os.path.join(folder, name), name)
        except (ValueError, OSError) as e:      # a folder of that name, an unwritable folder
            raise UsageError("--plots %s: %s"
                             % (folder, getattr(e, "strerror", None) or e)) from None


def image_side(n_in):
    """The side of the square image an input of n_in values is (28 for MNIST), or None."""
    side = math.isqrt(n_in)
    return side if side * side == n_in else None


class Plots:
    """The pictures of one run of ``net`` in ``folder`` (see the module docstring; the
    folder is checked, and created, by :func:`check`).  ``say`` takes the notes on what is
    drawn, ``test`` is the data they show.

    :meth:`finish` draws them all.  :meth:`after_epoch` draws the learning curve
    (0.1–0.2 s for MNIST) and the other four (0.7–1.5 s together) after the first epoch,
    then each group again once drawing it last time took at most ``budget`` of the time
    since: so watching costs at most 2 × budget of the run however fast its epochs are.
    With the C engine's epochs of about a second, the curve is then redrawn every two to
    four epochs and the others every 15–30 s; with the reference's epochs of minutes,
    after every epoch.
    """

    def __init__(self, folder, net, test, say, budget=BUDGET, clock=time.perf_counter):
        check(folder)
        self.folder, self.net, self.test, self.budget, self.clock = (folder, net, test,
                                                                     budget, clock)
        self.labels = [test.label(i) for i in range(test.n)]
        self.side = image_side(net.sizes[0])
        self.last = {}           # group of pictures: (when last drawn, how long it took)
        say("pictures of the run in %s: redrawn as it goes (taking under %d%% of its time) "
            "and at the end" % (folder, round(200 * budget)))
        if not test.n:
            say("  (no confusion, misclassified or output-activations picture: no test samples)")
        if self.side is None:
            say("  (no hidden-weights or misclassified picture: the %d inputs are not a square "
                "image)" % net.sizes[0])

    def after_epoch(self):
        """Redraw the learning curve, and the other pictures, each when it is due."""
        self._when_due("curve", self._draw_curve)
        self._when_due("others", lambda: self._draw_others(self.net.test_outputs))

    def finish(self):
        """Draw every picture for the network as it ends (after early stopping's restore
        too: net.test_outputs is then None, and the test data is run again)."""
        self._draw_curve()
        outputs = self.net.test_outputs
        if outputs is None and self.test.n:
            outputs = self.net.outputs(self.test)
        self._draw_others(outputs)

    def _when_due(self, group, draw):
        """draw() if the group was never drawn, or if drawing it last time took at most
        budget of the time since."""
        last = self.last.get(group)
        if last is None or last[1] <= self.budget * (self.clock() - last[0]):
            start = self.clock()
            draw()
            end = self.clock()
            self.last[group] = (end, end - start)

    def _draw_curve(self):
        self._save("learning-curve.png", learning_curve(self.net.history))

    def _draw_others(self, outputs):
        if outputs is not None:
            predictions = [argmax(o) for o in outputs]
            self._save("confusion.png", confusion(self.labels, predictions, self.net.sizes[-1]))
            if self.side is not None:
                self._save("misclassified.png", misclassified(self.test, self.labels,
                                                              predictions, self.side))
            self._save("output-activations.png",
                       output_activations(outputs, self.labels, self.net.cost_name))
        first = str(self.net.sizes[1])
        if first.startswith("conv"):
            self._save("filters.png", conv_filters(self.net.weights[0]))
        elif self.side is not None and not first.startswith("pool"):
            self._save("hidden-weights.png", hidden_weights(self.net.weights[0], self.side))

    def _save(self, name, figure):
        write_atomically(os.path.join(self.folder, name), png(figure), name)


def png(figure):
    """The figure as PNG bytes: drawn by Agg, then reduced to a palette of COLOURS
    colours with Pillow (which matplotlib needs anyway): a third of the bytes or less,
    the same picture to the eye."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    image = PIL.Image.fromarray(numpy.asarray(canvas.buffer_rgba())).convert("RGB")
    data = io.BytesIO()
    image.quantize(COLOURS, method=2).save(data, "png", optimize=True)  # 2: fast octree
    return data.getvalue()


def _figure(width, height, left=0.65, right=0.15, bottom=0.5, top=0.35, **grid):
    """A figure of width × height inches whose subplots leave these margins (inches).
    Fixed margins, not a layout engine: drawing is then several times faster."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, **grid)
    return fig


def _image_figure(mosaic, title, max_px=600, **imshow):
    """A figure showing the array mosaic at a whole number of pixels per value (at most
    max_px wide), with a title band above it; NaN cells are left white."""
    rows, cols = mosaic.shape
    scale = max(1, max_px // cols)
    band = 34
    width, height = cols * scale, rows * scale + band
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, rows * scale / height))
    ax.imshow(mosaic, interpolation="nearest", aspect="auto", **imshow)
    ax.set_axis_off()
    fig.suptitle(title, y=1 - 3 / height, va="top", fontsize=9)
    return fig, ax


def _mosaic(tiles, side, cols, band=0):
    """side×side tiles (flat sequences) in rows of cols, as one array, a NaN gap of one
    value between them and a NaN band of ``band`` rows above each (for a label)."""
    rows = max(1, math.ceil(len(tiles) / cols))
    h, w = band + side + 1, side + 1
    mosaic = numpy.full((rows * h - 1, cols * w - 1), numpy.nan)
    for k, tile in enumerate(tiles):
        top, left = (k // cols) * h + band, (k % cols) * w
        mosaic[top:top + side, left:left + side] = numpy.reshape(tile, (side, side))
    return mosaic


# --- the pictures: each function returns a matplotlib Figure ---------------------------

def learning_curve(history):
    """Accuracy (%) per epoch for each data set measured, and the costs when monitored."""
    costs = [w for w in ("training", "validation", "test") if any(w + "_cost" in r
                                                                   for r in history)]
    fig = _figure(7.0 if costs else 4.2, 3.0, wspace=0.35 if costs else None)
    axes = fig.subplots(1, 2 if costs else 1, squeeze=False)[0]
    for key, name in (("training_accuracy", "training"), ("validation_accuracy", "validation"),
                      ("accuracy", "test")):
        _series(axes[0], history, key, name, 100.0)
    _label_axes(axes[0], history, "accuracy (%)")
    if costs:
        for w in costs:
            _series(axes[1], history, w + "_cost", w, 1.0)
        _label_axes(axes[1], history, "cost")
    return fig


def _series(ax, history, key, name, scale):
    points = [(r["epoch"], scale * r[key]) for r in history if key in r]
    if points:
        ax.plot(*zip(*points), marker="o", markersize=3, label=name)


def _label_axes(ax, history, ylabel):
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no epochs measured yet" if not history else "nothing measured",
                ha="center", va="center", transform=ax.transAxes)


def confusion(labels, predictions, classes):
    """The confusion matrix: counts in the cells, coloured by the share of the true class
    (so a digit that is never predicted shows as an empty column)."""
    m = report.confusion_matrix(labels, predictions, classes)
    share = [[v / max(1, sum(row)) for v in row] for row in m]
    fig = _figure(4.6, 4.6, left=0.55, bottom=0.5, top=0.55)
    ax = fig.subplots()
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for t in range(classes):
        for p in range(classes):
            if m[t][p]:
                ax.text(p, t, str(m[t][p]), ha="center", va="center", fontsize=7,
                        color="white" if share[t][p] > 0.5 else "black")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    hits = sum(m[c][c] for c in range(classes))
    ax.set_title("%d of %d test samples right (%.2f%%)\ncolour: share of the true class's "
                 "samples" % (hits, len(labels), 100.0 * hits / max(1, len(labels))),
                 fontsize=9)
    return fig


def misclassified(test, labels, predictions, side):
    """The first misclassified test images (up to MAX_WRONG), each labelled true → predicted."""
    wrong = [i for i, (t, p) in enumerate(zip(labels, predictions)) if t != p]
    shown, cols, band = wrong[:MAX_WRONG], 10, side // 3
    fig, ax = _image_figure(
        _mosaic([test.x(i) for i in shown], side, cols, band),
        "%d of %d test images misclassified%s (true → predicted)"
        % (len(wrong), len(labels), ", the first %d" % len(shown)
           if len(shown) < len(wrong) else ""), cmap="gray", vmin=0.0, vmax=1.0)
    for k, i in enumerate(shown):
        ax.text((k % cols) * (side + 1) + side / 2, (k // cols) * (band + side + 1) + band - 1,
                "%d → %d" % (labels[i], predictions[i]), ha="center", va="bottom", fontsize=8)
    return fig


def hidden_weights(weights, side):
    """Each first-layer unit's incoming weights (weights[0], a row per unit: the hidden
    units') as a side×side image, up to MAX_UNITS units, each on its own symmetric scale
    (red +, blue −)."""
    shown = weights[:MAX_UNITS]
    tiles = [row / (numpy.abs(row).max() or 1.0) for row in map(numpy.array, shown)]
    fig, _ = _image_figure(
        _mosaic(tiles, side, math.ceil(math.sqrt(len(shown)))),
        "first-layer units' incoming weights%s\n(red +, blue −, each unit on its own scale)"
        % (" (the first %d of %d)" % (len(shown), len(weights))
           if len(shown) < len(weights) else ""), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    return fig


def conv_filters(weights):
    """The first conv layer's filters (weights[0], [F][C][K][K]), the first map of each as a
    K×K image, every filter on the same symmetric scale (red +, blue −): the features the
    layer looks for."""
    tiles = [numpy.array(f[0]).ravel() for f in weights]
    scale = max(numpy.abs(t).max() for t in tiles) or 1.0
    k = len(weights[0][0])
    fig, _ = _image_figure(
        _mosaic([t / scale for t in tiles], k, min(10, len(tiles))),
        "the first conv layer's %d filters, %d×%d\n(red +, blue −, one scale for all)"
        % (len(tiles), k, k), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    return fig


def output_activations(outputs, labels, cost="quadratic"):
    """Per output unit j (a row), how its activation is spread over 20 bins from 0 to 1:
    on the test inputs of class j, where it should be high, and on the others, where it
    should be low; counts on a log colour scale.  A saturated unit (σ′ = a(1 − a) below
    report.SATURATED_SLOPE for every input) is named in red."""
    classes = len(outputs[0])
    units = report.output_units(outputs, labels)
    a, own = numpy.array(outputs), numpy.array(labels)
    bins = numpy.linspace(0.0, 1.0, 21)
    height = 0.25 * classes + 1.3
    fig = _figure(7.0, height, left=0.45, right=0.9, bottom=0.85, top=0.45, wspace=0.15)
    axes = fig.subplots(1, 2, sharey=True)
    counts = [[numpy.histogram(a[(own == j) == mine, j], bins)[0] for j in range(classes)]
              for mine in (True, False)]
    norm = LogNorm(1, max(10, max(c.max() for side in counts for c in side)))
    for ax, side, title in zip(axes, counts, ("on its own class's test inputs (y = 1)",
                                              "on the other test inputs (y = 0)")):
        image = ax.imshow(numpy.ma.masked_equal(side, 0), cmap="viridis", norm=norm,
                          aspect="auto", interpolation="nearest", extent=(0, 1, classes - 0.5,
                                                                         -0.5))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("activation a", fontsize=9)
        ax.set_xticks((0.0, 0.5, 1.0))
    axes[0].set_ylabel("output unit", fontsize=9)
    axes[0].set_yticks(range(classes))
    dead = [u for u in units if report.is_saturated(u)]
    for u in dead:
        axes[0].get_yticklabels()[u["unit"]].set_color("red")
    fig.colorbar(image, cax=fig.add_axes((1 - 0.8 / 7.0, 0.85 / height, 0.12 / 7.0,
                                          1 - 1.3 / height)), label="test inputs")
    fig.text(0.01, 0.03, "red marks a saturated unit%s: σ′ = a(1 − a) < %g for every test "
             "input,\n%s" % ("" if dead else " (none here)", report.SATURATED_SLOPE,
                             SATURATED_UNDER[cost]), fontsize=8)
    return fig


# What a saturated output unit means under each cost (the caption's second line).
SATURATED_UNDER = {
    "quadratic": "so the quadratic cost barely moves it (δ = (a − y) σ′)",
    "cross-entropy": "but the cross-entropy cost still moves it (δ = a − y, no σ′)",
    "log-likelihood": "but the log-likelihood cost still moves it (δ = a − y, no σ′)",
}
