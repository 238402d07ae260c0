"""Pictures of training (``purenet.train --plots DIR``, purenet/plots.py): every picture is
written as a PNG, redrawn as training goes within its time budget, shows what it claims,
and --plots is refused before any data loads when matplotlib is missing or DIR is unusable."""

import os
import struct
import subprocess
import sys
from importlib.util import find_spec

import pytest

from conftest import ROOT
from purenet import Network
from purenet.cli import train
from purenet.data import load_dataset
from purenet.dataset import Dataset

needs_matplotlib = pytest.mark.skipif(
    find_spec("matplotlib") is None,
    reason='matplotlib is not installed: pip install "purenet[plot]" (CI installs it)')

PICTURES = ("learning-curve.png", "confusion.png", "misclassified.png", "hidden-weights.png",
            "output-activations.png")


def png_size(path):
    """(width, height) of a PNG file, after checking that Pillow decodes all of it."""
    from PIL import Image
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    with Image.open(path) as image:
        image.load()                              # every byte, not just the header
    return struct.unpack(">II", head[16:24])


def run_cli(*args, blocked=None):
    """python -m purenet.train args in a subprocess; ``blocked``: modules (comma-separated)
    made unimportable first (as if not installed)."""
    code = "import sys; from purenet.train import main; sys.exit(main(sys.argv[1:]))"
    for name in (blocked or "").split(",") if blocked else ():
        code = "import sys; sys.modules[%r] = None; %s" % (name, code)
    env = {k: v for k, v in os.environ.items() if k != "PURENET_DATA"}
    return subprocess.run([sys.executable, "-c", code] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


# --- refused before training -----------------------------------------------------------

def test_without_matplotlib_plots_is_refused_before_any_data_loads(tmp_path):
    """The data folder does not exist: the matplotlib line comes first, so no data was read."""
    pictures = tmp_path / "pictures"
    out = run_cli("--data-dir", str(tmp_path / "no-data"), "--no-download",
                  "--plots", str(pictures), blocked="matplotlib")
    assert out.returncode == 2 and out.stdout == "", out.stdout + out.stderr
    assert out.stderr.startswith('purenet-train: error: --plots needs matplotlib: pip install '
                                 '"purenet[plot]"'), out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert not pictures.exists()


@pytest.mark.parametrize("missing", ["matplotlib", pytest.param("numpy", marks=needs_matplotlib),
                                     pytest.param("PIL", marks=needs_matplotlib),
                                     "numpy,matplotlib"])
def test_the_plots_message_names_what_is_missing_once(tmp_path, missing):
    """Without matplotlib: the one line says to install it, and names no other module; with
    matplotlib but without numpy or Pillow: it says which is missing."""
    out = run_cli("--data-dir", str(tmp_path / "no-data"), "--no-download",
                  "--plots", str(tmp_path / "pictures"), blocked=missing)
    line = 'purenet-train: error: --plots needs matplotlib: pip install "purenet[plot]"'
    if "matplotlib" not in missing:             # without it, matplotlib is all it names
        line += " (%s is missing)" % missing
    assert out.returncode == 2 and out.stderr == line + "\n", out.stderr


@needs_matplotlib
@pytest.mark.parametrize("make, name, message", [
    (lambda p: p.write_text("x"), "file", "that is a file, not a folder"),
    (lambda p: p.write_text("x"), os.path.join("file", "sub"), "Not a directory"),
    (lambda p: (p / "learning-curve.png").mkdir(parents=True), "pictures",
     "cannot save to %s: it is a directory" % os.path.join("{}", "learning-curve.png")),
    (lambda p: None, "", "--plots needs the name of a folder"),
])
def test_an_unusable_folder_is_refused_before_any_data_loads(tmp_path, make, name, message):
    make(tmp_path / (name.split(os.sep)[0] or "unused"))
    folder = str(tmp_path / name) if name else ""
    out = train_in_process(["--data-dir", str(tmp_path / "no-data"), "--no-download",
                            "--plots", folder])
    assert out[0] == 2, out
    assert out[1].startswith("purenet-train: error: --plots"), out
    assert message.format(folder) in out[1], out
    assert len(out[1].splitlines()) == 1, out


def train_in_process(argv):
    """(exit code, stderr) of train.main(argv), run in this process (faster than a
    subprocess, which would import matplotlib again)."""
    import contextlib
    import io
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = train.main(argv)
    return code, stderr.getvalue()


# --- a run with --plots ----------------------------------------------------------------

@needs_matplotlib
def test_a_run_writes_every_picture(tiny_mnist, tmp_path):
    """Exit 0, five complete PNGs of a sensible size in a folder --plots creates, and no
    temp file left beside them."""
    folder = tmp_path / "new" / "pictures"
    out = run_cli("--data-dir", tiny_mnist, "--sizes", "784,12,10", "--epochs", "2",
                  "--plots", str(folder))
    assert out.returncode == 0, out.stderr
    assert "pictures of the run in %s" % folder in out.stdout
    assert sorted(os.listdir(str(folder))) == sorted(PICTURES)
    for name in PICTURES:
        width, height = png_size(str(folder / name))
        assert 250 <= width <= 800 and 150 <= height <= 800, (name, width, height)
        assert os.path.getsize(str(folder / name)) < 100000, name


@needs_matplotlib
def test_monitor_adds_the_cost_panel(tiny_mnist, tmp_path):
    """--monitor's costs make the learning curve a second panel, so it is wider."""
    widths = []
    for extra in ([], ["--monitor"]):
        folder = tmp_path / ("run%d" % len(widths))
        code, err = train_in_process(["--data-dir", tiny_mnist, "--sizes", "784,6,10",
                                      "--epochs", "2", "--quiet", "--plots", str(folder)]
                                     + extra)
        assert code == 0, err
        widths.append(png_size(str(folder / "learning-curve.png"))[0])
    assert widths[1] > 1.5 * widths[0], widths


@needs_matplotlib
def test_after_early_stopping_the_pictures_are_of_the_kept_network(tiny_mnist, tmp_path,
                                                                   monkeypatch):
    """The run keeps its best epoch, not its last: the confusion matrix drawn at the end
    is that of the saved (kept) network."""
    from purenet.cli import plots
    from purenet.dataset import argmax
    drawn = []
    confusion = plots.confusion
    monkeypatch.setattr(plots, "confusion", lambda l, p, c: drawn.append(p) or confusion(l, p, c))
    model = tmp_path / "m.json"
    code, err = train_in_process(["--data-dir", tiny_mnist, "--sizes", "784,6,10", "--seed",
                                  "3", "--epochs", "8", "--validation", "20", "--early-stop",
                                  "1", "--quiet", "--save", str(model), "--plots",
                                  str(tmp_path / "p")])
    assert code == 0, err
    import purenet
    net = purenet.load(str(model))
    assert net.meta["best_epoch"] < len(net.history)          # it did stop early
    test = load_dataset("mnist", data_dir=tiny_mnist, download=False)[1]
    assert len(drawn) >= 2 and drawn[-1] == [argmax(o) for o in net.outputs(test)]


@needs_matplotlib
def test_learning_curve_plots_each_measured_series():
    from purenet.cli import plots
    history = [{"epoch": 1, "accuracy": 0.5, "validation_accuracy": 0.25},
               {"epoch": 2, "accuracy": 0.75, "validation_accuracy": 0.5, "test_cost": 0.2,
                "validation_cost": 0.3}]
    fig = plots.learning_curve(history)
    accuracy, cost = fig.axes
    assert {l.get_label(): (list(l.get_xdata()), list(l.get_ydata())) for l in accuracy.lines} \
        == {"validation": ([1, 2], [25.0, 50.0]), "test": ([1, 2], [50.0, 75.0])}
    assert {l.get_label(): list(l.get_ydata()) for l in cost.lines} == {
        "validation": [0.3], "test": [0.2]}
    assert len(plots.learning_curve(history[:1]).axes) == 1   # no cost measured: one panel


@needs_matplotlib
def test_without_test_samples_only_the_curve_and_the_weights_are_drawn(tiny_mnist, tmp_path):
    out = run_cli("--data-dir", tiny_mnist, "--sizes", "784,6,10", "--epochs", "1",
                  "--test-limit", "0", "--plots", str(tmp_path / "p"))
    assert out.returncode == 0, out.stderr
    assert "(no confusion, misclassified or output-activations picture: no test samples)" \
        in out.stdout
    assert sorted(os.listdir(str(tmp_path / "p"))) == ["hidden-weights.png",
                                                        "learning-curve.png"]


# --- redrawn as training goes ----------------------------------------------------------

class SteppingClock:
    """A clock that moves ``step`` on every reading (so each drawing takes one step),
    and that a test can move on between epochs."""

    def __init__(self, step=1.0):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def tiny_run(tiny_mnist, folder, clock, budget=0.05):
    from purenet.cli import plots
    train_data, test = load_dataset("mnist", data_dir=tiny_mnist, download=False)
    net = Network([784, 6, 10], seed=2)
    notes = []
    pictures = plots.Plots(str(folder), net, test, notes.append, budget=budget, clock=clock)
    return net, train_data, test, pictures, notes


def contents(folder):
    return {name: (folder / name).read_bytes() for name in PICTURES if (folder / name).exists()}


@needs_matplotlib
def test_pictures_are_redrawn_when_drawing_them_fits_the_budget(tiny_mnist, tmp_path):
    """All five after the first epoch; then a group only once its last drawing took at most
    5% of the time since (20 steps for a drawing of one step); and all at the end."""
    clock = SteppingClock()
    net, train_data, test, pictures, _ = tiny_run(tiny_mnist, tmp_path, clock)
    seen = []

    def after_epoch(record):
        clock.now += {1: 0, 2: 10, 3: 30}[record["epoch"]]
        pictures.after_epoch()
        seen.append(contents(tmp_path))

    net.fit(train_data, 3, 10, 3.0, test=test, callback=after_epoch)
    assert sorted(seen[0]) == sorted(PICTURES)
    assert seen[1] == seen[0]                     # 10 steps later: not due, nothing redrawn
    for name in ("learning-curve.png", "hidden-weights.png"):   # 3 epochs, new weights
        assert seen[2][name] != seen[1][name], name
    pictures.finish()                             # at the end, due or not
    assert contents(tmp_path)["learning-curve.png"] == seen[2]["learning-curve.png"]
    net.fit(train_data, 1, 10, 3.0, test=test)
    pictures.finish()
    final = contents(tmp_path)
    for name in ("learning-curve.png", "hidden-weights.png"):
        assert final[name] != seen[2][name], name


# --- what the pictures show ------------------------------------------------------------

@needs_matplotlib
def test_output_activations_show_a_dead_unit_in_the_lowest_bin_in_red():
    """Unit 2 sits at a <= 0.001 for every input, its own digit's included (the seed's
    failure): its row of the own-class panel has every count in the bin from 0 to 0.05,
    and its label is red; a unit that learned its digit has them higher up."""
    from purenet.cli import plots
    labels = [k % 3 for k in range(30)]
    outputs = [[(0.97 if k % 2 else 0.5) if l == 0 else 0.01, 0.9 if l == 1 else 0.3,
                0.001 * (k % 2)] for k, l in enumerate(labels)]
    fig = plots.output_activations(outputs, labels)
    own, other = fig.axes[0], fig.axes[1]
    counts = own.images[0].get_array().filled(0)
    assert list(counts[2]) == [10] + [0] * 19          # the ten 2s, all near 0
    assert list(counts[0]) == [0] * 10 + [5] + [0] * 8 + [5]   # the ten 0s: 0.5 and 0.97
    assert other.images[0].get_array().filled(0)[2][0] == 20
    colours = [t.get_color() for t in own.get_yticklabels()]
    assert colours[2] == "red" and colours[0] != "red" and colours[1] != "red", colours


@needs_matplotlib
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
def test_output_activations_caption_names_the_run_cost_and_fits(cost):
    """The caption says what saturation means under the run's cost, and no word of it is cut
    off at the figure's edge."""
    from purenet.cli import plots
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    labels = [k % 10 for k in range(100)]
    outputs = [[0.97 if l == j else 0.01 for j in range(10)] for l in labels]
    fig = plots.output_activations(outputs, labels, cost)
    caption = fig.texts[-1]
    assert "the %s cost" % cost in caption.get_text()
    assert [c for c in ("quadratic", "cross-entropy", "log-likelihood")
            if c in caption.get_text()] == [cost]
    renderer = FigureCanvasAgg(fig).get_renderer()
    box, page = caption.get_window_extent(renderer), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 <= box.y1 <= page.y1


@needs_matplotlib
def test_confusion_and_misclassified_show_the_counts_and_the_labels():
    from purenet.cli import plots
    labels, predictions = [0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 2, 0]
    fig = plots.confusion(labels, predictions, 3)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in fig.axes[0].texts}
    assert cells == {(0, 0): "1", (0, 1): "1", (1, 1): "2", (1, 2): "1", (2, 0): "1"}
    assert "3 of 6 test samples right (50.00%)" in fig.axes[0].get_title()
    test = Dataset(4, 3, pixels=bytes(range(24)), labels=bytes(labels))
    fig = plots.misclassified(test, labels, predictions, 2)
    assert [t.get_text() for t in fig.axes[0].texts] == ["0 → 1", "1 → 2", "2 → 0"]
    assert fig._suptitle.get_text().startswith("3 of 6 test images misclassified")


@needs_matplotlib
def test_inputs_that_are_not_square_images_skip_two_pictures_with_a_note(tmp_path):
    from purenet.cli import plots
    data = Dataset(3, 2, xs=[0.1, 0.9, 0.5, 0.7, 0.2, 0.4], labels=bytes([0, 1]))
    net = Network([3, 4, 2], seed=1)
    notes = []
    pictures = plots.Plots(str(tmp_path), net, data, notes.append)
    net.fit(data, 1, 1, 1.0, test=data, callback=lambda r: pictures.after_epoch())
    pictures.finish()
    assert sorted(os.listdir(str(tmp_path))) == ["confusion.png", "learning-curve.png",
                                                 "output-activations.png"]
    assert notes[1] == "  (no hidden-weights or misclassified picture: the 3 inputs are not " \
                       "a square image)"


@needs_matplotlib
def test_a_conv_network_draws_its_filters(tiny_mnist, tmp_path):
    """The first conv layer's filters, in place of the hidden units' weights, each K×K tile
    the filter's values on one scale (max |w| = 1)."""
    out = run_cli("--data-dir", tiny_mnist, "--sizes", "784,conv3x4,pool5,10", "--epochs", "1",
                  "--test-limit", "0", "--backend", "python", "--plots", str(tmp_path / "p"))
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(str(tmp_path / "p"))) == ["filters.png", "learning-curve.png"]
    from purenet.cli import plots
    net = Network([784, "conv3x4", "pool5", 10], seed=1)
    fig = plots.conv_filters(net.weights[0])
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (4, 3 * 5 - 1) and "3 filters, 4×4" in fig.texts[0].get_text()
    scale = max(abs(v) for f in net.weights[0] for row in f[0] for v in row)
    assert [list(r) for r in mosaic[:, 5:9]] == [[v / scale for v in row]
                                                 for row in net.weights[0][1][0]]
