"""python -m purenet.predict MODEL IMAGE...: an MNIST image saved as PNG or PGM gets exactly
the outputs feedforward gives it; --invert and the light-background note; one line and
exit 1 for each image or model that cannot be read, exit 2 for bad options; and the
embedding story: a copy of the purenet folder predicts with nothing but the standard
library."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from purenet import Network, data
from purenet.predict import main
from conftest import ROOT, mnist_dir, needs_c, needs_mnist
from test_images import GOOD, make_pgm, make_png, with_header

TIMEOUT = 120


def python(*args, cwd=ROOT, pythonpath=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PURENET_DATA", "PURENET_REQUIRE_C")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable] + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT, env=env)


def pixels_of(dataset, i):
    """Sample i's 784 pixel bytes, as an image file holds them."""
    return dataset.pixels[i * 784:(i + 1) * 784]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 784-16-10 network trained on the tiny fake MNIST, saved; and its test set."""
    from conftest import make_tiny_mnist
    folder = tmp_path_factory.mktemp("predict")
    train, test = data.load_mnist_files(make_tiny_mnist(str(folder / "mnist")))
    net = Network([784, 16, 10], seed=1, cost="cross-entropy", init="scaled")
    net.fit(train, 5, batch_size=5, lr=0.5)
    model = str(folder / "model.json")
    net.save(model)
    return net, model, test, folder


def write_images(folder, test, count, kind="png", invert=False):
    """The first count test images as files, every PNG row filter in turn."""
    paths = []
    for i in range(count):
        pixels = pixels_of(test, i)
        if invert:
            pixels = bytes(255 - p for p in pixels)
        path = os.path.join(str(folder), "%s%d.%s" % ("inv" if invert else "", i, kind))
        with open(path, "wb") as f:
            f.write(make_png(28, 28, pixels, 0, filters=(i % 5, 4, 3, 2, 1, 0)) if kind == "png"
                    else make_pgm(28, 28, pixels))
        paths.append(path)
    return paths


def run(capsys, *argv):
    """(exit code, stdout lines, stderr lines) of main(argv)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# --- the numbers ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["png", "pgm"])
def test_an_mnist_image_gets_exactly_feedforwards_outputs(tiny, capsys, kind):
    """Ten test images written as files: --json gives, bit for bit, the outputs
    net.feedforward(test.x(i)) gives, and its class; the text line shows the same."""
    net, model, test, folder = tiny
    paths = write_images(folder, test, 10, kind)
    code, out, err = run(capsys, model, "--json", *paths)
    assert code == 0 and err == []
    assert len(out) == 10
    classes = set()
    for i, (path, line) in enumerate(zip(paths, out)):
        record = json.loads(line)
        assert record == {"image": path, "class": net.predict(test.x(i)),
                          "outputs": net.feedforward(test.x(i))}
        classes.add(record["class"])
    assert len(classes) > 3 and sum(json.loads(line)["class"] == test.label(i)
                                    for i, line in enumerate(out)) >= 8    # it learned
    code, text, err = run(capsys, model, *paths[:2])
    assert code == 0 and err == []
    for i, line in enumerate(text):
        outputs = net.feedforward(test.x(i))
        assert line == "%s: %d   %s" % (paths[i], net.predict(test.x(i)), " ".join(
            "%d:%.4f" % (k, v) for k, v in enumerate(outputs)))


@needs_mnist
def test_real_mnist_test_images_predict_as_in_memory(tmp_path, capsys):
    """The first 20 real MNIST test images as PNGs: the outputs of a network trained on 300
    real images are those of feedforward, bit for bit."""
    train, test = data.load_mnist_files(mnist_dir())
    net = Network([784, 20, 10], seed=0)
    net.fit(train.head(300), 1, batch_size=10, lr=3.0)
    model = str(tmp_path / "model.json")
    net.save(model)
    paths = write_images(tmp_path, test, 20)
    code, out, err = run(capsys, model, "--json", *paths)
    assert code == 0 and err == []
    assert [json.loads(line)["outputs"] for line in out] == [
        net.feedforward(test.x(i)) for i in range(20)]


@needs_c
def test_the_c_engine_predicts_the_same_bits(tiny, capsys):
    net, model, test, folder = tiny
    paths = write_images(folder, test, 5)
    python_out = run(capsys, model, "--json", *paths)
    c_out = run(capsys, model, "--json", "--backend", "c", *paths)
    assert c_out == python_out and python_out[0] == 0 and len(c_out[1]) == 5


def test_backend_c_without_the_engine_is_exit_2(tiny):
    net, model, test, folder = tiny
    code = ("import sys; sys.modules['purenet._ckernels'] = None; "
            "from purenet.predict import main; sys.exit(main(sys.argv[1:]))")
    out = python("-c", code, model, "--backend", "c", write_images(folder, test, 1)[0])
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("purenet-predict: error: the C engine is not built"), out.stderr
    assert len(out.stderr.splitlines()) == 1


# --- light on dark ----------------------------------------------------------------------

def test_invert_takes_dark_ink_on_light(tiny, capsys):
    """An MNIST digit saved dark on light: with --invert, exactly the original's outputs and
    no note; without, a note to try --invert (and still a prediction)."""
    net, model, test, folder = tiny
    light = write_images(folder, test, 3, invert=True)
    code, out, err = run(capsys, model, "--json", "--invert", *light)
    assert code == 0 and err == []
    assert [json.loads(line)["outputs"] for line in out] == [
        net.feedforward(test.x(i)) for i in range(3)]
    code, out, err = run(capsys, model, light[0])
    assert code == 0 and len(out) == 1
    assert err == ["purenet-predict: note: %s: looks like dark ink on a light background: "
                   "try --invert" % light[0]]


def test_invert_on_light_on_dark_says_to_leave_it_out(tiny, capsys):
    net, model, test, folder = tiny
    dark = write_images(folder, test, 1)
    code, out, err = run(capsys, model, "--invert", dark[0])
    assert code == 0 and len(out) == 1
    assert err == ["purenet-predict: note: %s: --invert makes it dark ink on a light "
                   "background: it is light on dark already, leave out --invert" % dark[0]]


@pytest.mark.parametrize("border,noted", [(127, False), (128, True), (0, False), (255, True)])
def test_the_note_is_about_the_border(tiny, capsys, tmp_path, border, noted):
    """The border's mean against mid-grey (127.5); the middle does not count: a white
    square in the middle of a black image is no light background."""
    net, model, test, folder = tiny
    pixels = bytearray([border] * 784)
    for r in range(1, 27):
        pixels[r * 28 + 1:r * 28 + 27] = bytes([255 - border]) * 26
    path = str(tmp_path / "b.png")
    with open(path, "wb") as f:
        f.write(make_png(28, 28, bytes(pixels), 0))
    code, out, err = run(capsys, model, path)
    assert code == 0 and len(out) == 1
    assert (err != []) == noted, err


# --- what is refused ------------------------------------------------------------------------

def one_error(err, path, problem):
    assert len(err) == 1, err
    assert err[0].startswith("purenet-predict: error: %s: " % path), err
    assert problem in err[0], err


def test_another_size_is_refused_with_both_sizes(tiny, capsys, tmp_path):
    net, model, test, folder = tiny
    path = str(tmp_path / "big.png")
    with open(path, "wb") as f:
        f.write(make_png(32, 28, bytes(32 * 28), 0))
    code, out, err = run(capsys, model, path)
    assert code == 1 and out == []
    one_error(err, path, "the image is 32x28 pixels, but 28x28 are needed: scale it to 28x28")


def test_a_model_of_64_inputs_takes_8x8_images(tmp_path, capsys):
    """The size needed is the model's: √n_in on a side."""
    net = Network([64, 5, 10], seed=0)
    model = str(tmp_path / "digits.json")
    net.save(model)
    pixels = bytes(range(0, 256, 4))
    path = str(tmp_path / "eight.pgm")
    with open(path, "wb") as f:
        f.write(make_pgm(8, 8, pixels))
    code, out, err = run(capsys, model, "--json", path)
    assert code == 0 and json.loads(out[0])["outputs"] == net.feedforward(
        [p / 255.0 for p in pixels])
    code, out, err = run(capsys, model, str(tmp_path / "eight.pgm"), write_mnist_sized(tmp_path))
    assert code == 1 and len(out) == 1
    one_error(err, str(tmp_path / "m.png"), "28x28 pixels, but 8x8 are needed")


def write_mnist_sized(tmp_path):
    path = str(tmp_path / "m.png")
    with open(path, "wb") as f:
        f.write(make_png(28, 28, bytes(784), 0))
    return path


BAD = [("truncated", GOOD[:100], "truncated PNG"),
       ("not-png", b"GIF89a" + bytes(50), "not a PNG or PGM image"),
       ("interlaced", with_header(interlace=1), "interlaced (Adam7)"),
       ("16-bit", with_header(depth=16), "16-bit greyscale; only 8-bit PNGs are read"),
       ("bad-crc", GOOD[:-1] + bytes([GOOD[-1] ^ 4]), "the CRC of its IEND chunk is wrong"),
       ("pgm-16-bit", make_pgm(28, 28, bytes(1568), maxval=1000), "maxval 1000 (16-bit)")]


@pytest.mark.parametrize("content,problem", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_image_is_one_line_and_exit_1(tiny, capsys, tmp_path, content, problem):
    """Each bad image: one line naming it and the problem; the good images around it are
    still predicted; the exit code is 1."""
    net, model, test, folder = tiny
    good = write_images(folder, test, 2)
    bad = str(tmp_path / "bad.png")
    with open(bad, "wb") as f:
        f.write(content)
    code, out, err = run(capsys, model, good[0], bad, good[1])
    assert code == 1
    assert [line.split(":")[0] for line in out] == good
    one_error(err, bad, problem)


def test_unreadable_images_are_one_line_each(tiny, capsys, tmp_path):
    net, model, test, folder = tiny
    missing = str(tmp_path / "missing.png")
    code, out, err = run(capsys, model, str(tmp_path), missing)
    assert code == 1 and out == []
    assert err == ["purenet-predict: error: %s: cannot read: Is a directory" % tmp_path,
                   "purenet-predict: error: %s: cannot read: No such file or directory"
                   % missing]


def test_model_problems_are_one_line_and_exit_1(tiny, capsys, tmp_path):
    net, model, test, folder = tiny
    image = write_images(folder, test, 1)[0]
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    odd = str(tmp_path / "odd.json")
    Network([10, 3, 2], seed=0).save(odd)
    for path, problem in ((str(tmp_path / "none.json"), "cannot read: No such file"),
                          (str(not_json), "not a purenet model file (invalid JSON"),
                          (image, "not a purenet model file"),
                          (odd, "the model takes 10 inputs, not the pixels of a square "
                                "image (an MNIST model takes 784 = 28x28)")):
        code, out, err = run(capsys, path, image)
        assert code == 1 and out == []
        one_error(err, path, problem)


@pytest.mark.parametrize("argv,problem", [
    ([], "the following arguments are required: MODEL, IMAGE"),
    (["model.json"], "the following arguments are required: IMAGE"),
    (["--backend", "fortran", "m.json", "x.png"], "argument --backend: invalid choice"),
    (["--frobnicate", "m.json", "x.png"], "unrecognized arguments: --frobnicate"),
])
def test_bad_options_are_exit_2(capsys, argv, problem):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert err.startswith("purenet-predict: error: ") and problem in err
    assert len(err.splitlines()) == 1


# --- the command line, as a user runs it ------------------------------------------------------

def test_a_file_name_that_is_not_utf8_prints(tiny, tmp_path):
    """A name with a byte that is not UTF-8 (a Linux file system allows it): shown with a
    \\x escape, no UnicodeEncodeError."""
    net, model, test, folder = tiny
    name = os.fsdecode(b"seven-\xff.png")
    shutil.copy(write_images(folder, test, 1)[0], str(tmp_path / name))
    out = python("-m", "purenet.predict", model, name, cwd=str(tmp_path), pythonpath=ROOT)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout.startswith("seven-\\xff.png: %d   0:" % net.predict(test.x(0)))


def test_into_a_closed_pipe_no_traceback(tiny):
    """``python -m purenet.predict m.json *.png | head -1``: the reader goes, no traceback."""
    net, model, test, folder = tiny
    paths = write_images(folder, test, 3)
    proc = subprocess.Popen([sys.executable, "-m", "purenet.predict", model] + paths,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                     # before the process can have written anything
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=TIMEOUT) == 0 and err == b"", err


EMBEDDED = r"""
import os, sys
before = set(sys.modules)
import purenet.cli.predict
assert purenet.cli.predict.__file__.startswith(os.getcwd()), purenet.cli.predict.__file__
code = purenet.cli.predict.main(sys.argv[1:])
foreign = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] not in sys.stdlib_module_names | {"purenet"})
print(code, foreign)
"""


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names needs Python 3.10")
def test_a_copy_of_the_folder_predicts_with_the_standard_library_only(tiny, tmp_path):
    """The embedding story, as the README tells it: the purenet folder's .py files and the
    model copied elsewhere, ``python -S`` (no site-packages): predict runs from the copy
    and loads no module outside the standard library."""
    net, model, test, folder = tiny
    app = tmp_path / "app"
    shutil.copytree(os.path.join(ROOT, "purenet"), str(app / "purenet"),
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copy(model, str(app / "model.json"))
    shutil.copy(write_images(folder, test, 1)[0], str(app / "digit.png"))
    out = python("-S", "-c", EMBEDDED, "model.json", "digit.png", cwd=str(app))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "digit.png: %d   %s" % (net.predict(test.x(0)), " ".join(
            "%d:%.4f" % kv for kv in enumerate(net.feedforward(test.x(0))))),
        "0 []"]


def test_the_readmes_example_digits(tiny, capsys):
    """docs/digits: seven.png is light on dark (no note); three.png (RGB) and two.png are
    dark on light (the note), as the README shows."""
    net, model, test, folder = tiny
    paths = [os.path.join(ROOT, "docs", "digits", n) for n in ("seven.png", "three.png",
                                                                "two.png")]
    code, out, err = run(capsys, model, *paths)
    assert code == 0 and len(out) == 3
    assert err == ["purenet-predict: note: %s: looks like dark ink on a light background: "
                   "try --invert" % p for p in paths[1:]]


def test_ctrl_c_is_exit_130_without_a_traceback(tiny, capsys, monkeypatch):
    import purenet.cli.predict

    def interrupted(*args):
        raise KeyboardInterrupt
    net, model, test, folder = tiny
    monkeypatch.setattr(purenet.cli.predict, "predict", interrupted)
    code, out, err = run(capsys, model, write_images(folder, test, 1)[0])
    assert (code, out, err) == (130, [], [])
