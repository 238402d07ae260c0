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
from purenet.formats.digits import mnist_input
from purenet.formats.images import Image, read_image
from purenet.predict import main
from conftest import ROOT, mnist_dir, needs_c, needs_mnist
from helpers import STANDARD_LIBRARY
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
    """Ten test images written as files, --as-is (the fake digits are bars whose row is
    the class: not centred like MNIST's): --json gives, bit for bit, the outputs
    net.feedforward(test.x(i)) gives, and its class; the text line shows the same."""
    net, model, test, folder = tiny
    paths = write_images(folder, test, 10, kind)
    code, out, err = run(capsys, model, "--json", "--as-is", *paths)
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
    code, text, err = run(capsys, model, "--as-is", *paths[:2])
    assert code == 0 and err == []
    for i, line in enumerate(text):
        outputs = net.feedforward(test.x(i))
        assert line == "%s: %d   %s" % (paths[i], net.predict(test.x(i)), " ".join(
            "%d:%.4f" % (k, v) for k, v in enumerate(outputs)))


@needs_mnist
def test_real_mnist_test_images_predict_as_in_memory(tmp_path, capsys):
    """The first 20 real MNIST test images as PNGs: MNIST-style, so taken as they are
    without --as-is: the outputs of a network trained on 300 real images are those of
    feedforward, bit for bit; and saved dark on light, with --invert."""
    train, test = data.load_mnist_files(mnist_dir())
    net = Network([784, 20, 10], seed=0)
    net.fit(train.head(300), 1, batch_size=10, lr=3.0)
    model = str(tmp_path / "model.json")
    net.save(model)
    expected = [net.feedforward(test.x(i)) for i in range(20)]
    for flags, invert in (([], False), (["--as-is"], False), (["--invert"], True)):
        paths = write_images(tmp_path, test, 20, invert=invert)
        code, out, err = run(capsys, model, "--json", *(flags + paths))
        assert code == 0 and err == []
        assert [json.loads(line)["outputs"] for line in out] == expected


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
    """A fake MNIST digit saved dark on light: with --as-is --invert, exactly the
    original's outputs and no note; without, it is inverted because its border is light,
    preprocessed, and a note says so."""
    net, model, test, folder = tiny
    light = write_images(folder, test, 3, invert=True)
    code, out, err = run(capsys, model, "--json", "--as-is", "--invert", *light)
    assert code == 0 and err == []
    assert [json.loads(line)["outputs"] for line in out] == [
        net.feedforward(test.x(i)) for i in range(3)]
    code, out, err = run(capsys, model, "--json", light[0])
    assert code == 0 and len(out) == 1
    seen, inverted = mnist_input(read_image(light[0]))
    assert inverted and json.loads(out[0])["outputs"] == inputs_of(net, seen)
    assert err == ["purenet-predict: note: %s: dark ink on a light background (a light "
                   "border): inverted" % light[0]]


def inputs_of(net, pixels):
    """The outputs for the network input of pixels: p / 255.0."""
    return net.feedforward([p / 255.0 for p in pixels])


def test_invert_on_light_on_dark_is_one_line_and_exit_1(tiny, capsys):
    """--invert on light ink on black leaves nothing lighter than the paper: no digit, one
    line saying not to invert; with --as-is, as before, a prediction and a note."""
    net, model, test, folder = tiny
    dark = write_images(folder, test, 1)
    code, out, err = run(capsys, model, "--invert", dark[0])
    assert code == 1 and out == []
    one_error(err, dark[0], "no digit found: no pixel is lighter than the background (255) "
                            "by more than 8 once inverted (if the ink is the light part, do "
                            "not invert it)")
    code, out, err = run(capsys, model, "--as-is", "--invert", dark[0])
    assert code == 0 and len(out) == 1
    assert err == ["purenet-predict: note: %s: --invert makes it dark ink on a light "
                   "background: it is light on dark already, leave out --invert" % dark[0]]


@pytest.mark.parametrize("border,noted", [(127, False), (128, True), (0, False), (255, True)])
def test_the_as_is_note_is_about_the_border(tiny, capsys, tmp_path, border, noted):
    """--as-is: the border's mean against mid-grey (127.5); the middle does not count: a
    white square in the middle of a black image is no light background."""
    net, model, test, folder = tiny
    pixels = bytearray([border] * 784)
    for r in range(1, 27):
        pixels[r * 28 + 1:r * 28 + 27] = bytes([255 - border]) * 26
    path = str(tmp_path / "b.png")
    with open(path, "wb") as f:
        f.write(make_png(28, 28, bytes(pixels), 0))
    code, out, err = run(capsys, model, "--as-is", path)
    assert code == 0 and len(out) == 1
    assert (err != []) == noted, err


# --- drawings: MNIST's preprocessing ---------------------------------------------------------

def write_drawing(folder, test, i, colour=2, name=None, scale=5, at=(37, 11), size=(230, 170)):
    """MNIST test image i as a drawing: dark ink on white, each pixel a scale x scale
    block, at (x, y) on a canvas of size; grey (colour 0), RGB (2) or RGBA (6)."""
    width, height = size
    grey = bytearray([255]) * (width * height)
    digit = pixels_of(test, i)
    for y in range(28 * scale):
        row = bytes(255 - digit[(y // scale) * 28 + x // scale] for x in range(28 * scale))
        start = (at[1] + y) * width + at[0]
        grey[start:start + 28 * scale] = row
    samples = bytes(grey) if colour == 0 else bytes(
        v for p in grey for v in ((p, p, p) if colour == 2 else (p, p, p, 255)))
    path = os.path.join(str(folder), name or "drawing%d-%d.png" % (i, colour))
    with open(path, "wb") as f:
        f.write(make_png(width, height, samples, colour))
    return path


@pytest.mark.parametrize("colour", [0, 2, 6], ids=["grey", "RGB", "RGBA"])
def test_a_drawing_is_preprocessed_as_mnist(tiny, capsys, colour):
    """A large dark-on-light canvas, off-centre: the outputs are those of mnist_input's
    pixels / 255, the image inverted (the note), and 28x28 is not required."""
    net, model, test, folder = tiny
    path = write_drawing(folder, test, 0, colour)
    code, out, err = run(capsys, model, "--json", path)
    assert code == 0 and len(out) == 1
    seen, inverted = mnist_input(read_image(path))
    assert inverted and json.loads(out[0])["outputs"] == inputs_of(net, seen)
    assert err == ["purenet-predict: note: %s: dark ink on a light background (a light "
                   "border): inverted" % path]


def test_an_off_centre_28x28_image_is_preprocessed(tiny, capsys, tmp_path):
    """An MNIST digit moved 4 pixels left is no longer MNIST-style: it is recentred (the
    outputs of mnist_input's pixels); with --as-is it is taken as it is."""
    net, model, test, folder = tiny
    digit = pixels_of(test, 0)
    moved = b"".join(digit[y * 28 + 4:(y + 1) * 28] + bytes(4) for y in range(28))
    path = write(tmp_path, "left.png", make_png(28, 28, moved, 0))
    code, out, err = run(capsys, model, "--json", path)
    assert code == 0 and err == []
    seen, inverted = mnist_input(Image(28, 28, moved))
    assert not inverted and seen != moved
    assert json.loads(out[0])["outputs"] == inputs_of(net, seen)
    code, out, err = run(capsys, model, "--json", "--as-is", path)
    assert code == 0 and json.loads(out[0])["outputs"] == inputs_of(net, moved)


def write(tmp_path, name, content):
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def test_show_draws_the_input_in_text(tiny, capsys):
    """--show: after the result line, a frame of 30 lines, each row two characters a pixel
    in ten shades (' ' for 0, '@' for 255); on stderr with --json."""
    net, model, test, folder = tiny
    path = write_images(folder, test, 1)[0]
    code, out, err = run(capsys, model, "--show", "--as-is", path)
    assert code == 0 and err == [] and len(out) == 31
    assert out[1] == out[-1] == "+" + "-" * 56 + "+"
    digit = pixels_of(test, 0)
    shades = " .:-=+*#%@"
    for y in range(28):
        assert out[2 + y] == "|%s|" % "".join(2 * shades[p * 10 // 256]
                                              for p in digit[y * 28:(y + 1) * 28])
    assert "@@" in "".join(out) and set("".join(out[2:-1])) <= set(shades + "|")
    code, out, err = run(capsys, model, "--show", "--json", "--as-is", path)
    assert code == 0 and len(out) == 1 and len(err) == 30 and json.loads(out[0])


def test_save_input_writes_what_the_network_saw(tiny, capsys, tmp_path):
    """--save-input DIR (created): NAME.input.png, 28x28, the pixels the network saw; a
    second image of the same name gets -2."""
    net, model, test, folder = tiny
    drawing = write_drawing(folder, test, 1, name="digit.png")
    other = tmp_path / "other"
    other.mkdir()
    again = write_drawing(other, test, 2, name="digit.png")
    target = tmp_path / "seen" / "inputs"
    code, out, err = run(capsys, model, "--save-input", str(target), drawing, again)
    assert code == 0 and len(out) == 2
    assert sorted(os.listdir(str(target))) == ["digit-2.input.png", "digit.input.png"]
    for name, path in (("digit.input.png", drawing), ("digit-2.input.png", again)):
        saved = read_image(str(target / name))
        assert saved == Image(28, 28, mnist_input(read_image(path))[0])


def test_save_input_into_a_file_is_exit_2(tiny, capsys, tmp_path):
    net, model, test, folder = tiny
    a_file = write(tmp_path, "file", b"")
    code, out, err = run(capsys, model, "--save-input", a_file, write_images(folder, test, 1)[0])
    assert code == 2 and out == []
    assert err == ["purenet-predict: error: --save-input %s: that is a file, not a folder"
                   % a_file]


def test_a_blank_image_is_one_line_and_exit_1(tiny, capsys, tmp_path):
    net, model, test, folder = tiny
    blank = write(tmp_path, "white.png", make_png(300, 200, bytes([255]) * 60000, 0))
    good = write_images(folder, test, 1)[0]
    code, out, err = run(capsys, model, blank, good)
    assert code == 1 and len(out) == 1 and out[0].startswith(good)
    one_error(err, blank, "no digit found: no pixel is lighter than the background (0) by "
                          "more than 8 once inverted")


def jpeg_of(tmp_path, name, pixels, size):
    pil = pytest.importorskip("PIL.Image")
    path = str(tmp_path / name)
    pil.frombytes("L", size, bytes(pixels)).convert("RGB").save(path, quality=95)
    return path


def test_a_jpeg_with_pillow(tiny, capsys, tmp_path):
    """A JPEG drawing (Pillow writes it; its RGB read back is made grey by the PNG's
    luminance): predicted as mnist_input makes it; a damaged one is one line."""
    net, model, test, folder = tiny
    png = write_drawing(folder, test, 3, colour=0)
    grey = read_image(png)
    path = jpeg_of(tmp_path, "phone.jpg", grey.pixels, (grey.width, grey.height))
    code, out, err = run(capsys, model, "--json", path)
    assert code == 0 and len(out) == 1 and len(err) == 1      # the note: inverted
    assert json.loads(out[0])["outputs"] == inputs_of(net, mnist_input(read_image(path))[0])
    assert json.loads(out[0])["class"] == json.loads(run(capsys, model, "--json", png)[1][0])[
        "class"]
    cut = write(tmp_path, "cut.jpg", open(path, "rb").read()[:300])
    code, out, err = run(capsys, model, cut)
    assert code == 1 and out == []
    one_error(err, cut, "damaged JPEG: ")


def test_a_jpeg_without_pillow_is_one_line(tiny, tmp_path):
    """Without Pillow (sys.modules['PIL'] = None): one line saying to install it or save a
    PNG, exit 1, and the other images are still predicted."""
    net, model, test, folder = tiny
    path = write(tmp_path, "phone.jpg", b"\xff\xd8\xff\xe0" + bytes(100))
    good = write_images(folder, test, 1)[0]
    code = ("import sys; sys.modules['PIL'] = None; "
            "from purenet.predict import main; sys.exit(main(sys.argv[1:]))")
    out = python("-c", code, model, path, good)
    assert out.returncode == 1 and out.stdout.startswith(good + ": ")
    assert out.stderr == ('purenet-predict: error: %s: a JPEG: reading it needs Pillow (pip '
                          'install "purenet[jpeg]"), or save it as a PNG\n' % path)


# --- what is refused ------------------------------------------------------------------------

def one_error(err, path, problem):
    assert len(err) == 1, err
    assert err[0].startswith("purenet-predict: error: %s: " % path), err
    assert problem in err[0], err


def test_as_is_refuses_another_size_with_both_sizes(tiny, capsys, tmp_path):
    net, model, test, folder = tiny
    path = str(tmp_path / "big.png")
    with open(path, "wb") as f:
        f.write(make_png(32, 28, bytes(32 * 28), 0))
    code, out, err = run(capsys, model, "--as-is", path)
    assert code == 1 and out == []
    one_error(err, path, "the image is 32x28 pixels, but 28x28 are needed: scale it to 28x28")


def test_a_model_of_64_inputs_takes_8x8_images(tmp_path, capsys):
    """The size is the model's, √n_in on a side: --as-is takes 8x8 images only; else the
    preprocessing makes an 8x8 input of any image."""
    net = Network([64, 5, 10], seed=0)
    model = str(tmp_path / "digits.json")
    net.save(model)
    pixels = bytes(range(0, 256, 4))
    path = str(tmp_path / "eight.pgm")
    with open(path, "wb") as f:
        f.write(make_pgm(8, 8, pixels))
    code, out, err = run(capsys, model, "--json", "--as-is", path)
    assert code == 0 and json.loads(out[0])["outputs"] == net.feedforward(
        [p / 255.0 for p in pixels])
    code, out, err = run(capsys, model, "--as-is", path, write_mnist_sized(tmp_path))
    assert code == 1 and len(out) == 1
    one_error(err, str(tmp_path / "m.png"), "28x28 pixels, but 8x8 are needed")
    block = b"".join(bytes(10) + bytes([200] * 20) + bytes(10) if 10 <= y < 20 else bytes(40)
                     for y in range(30))
    dot = write(tmp_path, "dot.png", make_png(40, 30, block, 0))
    code, out, err = run(capsys, model, "--json", dot)
    seen = mnist_input(read_image(dot), side=8)[0]
    # 20 x 10 -> 6 x 3 (box round(8 · 20/28) = 6), centre of mass (2.5, 1) -> (3.5, 3.5)
    assert seen == bytes(24) + bytes([0] + [255] * 6 + [0]) * 3 + bytes(16)
    assert code == 0 and json.loads(out[0])["outputs"] == inputs_of(net, seen)


def write_mnist_sized(tmp_path):
    path = str(tmp_path / "m.png")
    with open(path, "wb") as f:
        f.write(make_png(28, 28, bytes(784), 0))
    return path


BAD = [("truncated", GOOD[:100], "truncated PNG"),
       ("not-png", b"GIF89a" + bytes(50), "not a PNG, PGM or JPEG image"),
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
    out = python("-m", "purenet.predict", "--as-is", model, name, cwd=str(tmp_path),
                 pythonpath=ROOT)
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


EMBEDDED = STANDARD_LIBRARY + r"""
before = set(sys.modules)
import purenet.cli.predict
assert purenet.cli.predict.__file__.startswith(os.getcwd()), purenet.cli.predict.__file__
code = purenet.cli.predict.main(sys.argv[1:])
print(code, foreign(before))
"""


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
    drawing = write_drawing(app, test, 1, name="drawing.png")
    out = python("-S", "-c", EMBEDDED, "model.json", "--as-is", "digit.png", cwd=str(app))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "digit.png: %d   %s" % (net.predict(test.x(0)), " ".join(
            "%d:%.4f" % kv for kv in enumerate(net.feedforward(test.x(0))))),
        "0 []"]
    out = python("-S", "-c", EMBEDDED, "model.json", "drawing.png", cwd=str(app))
    outputs = inputs_of(net, mnist_input(read_image(drawing))[0])
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "drawing.png: %d   %s" % (outputs.index(max(outputs)),
                                  " ".join("%d:%.4f" % kv for kv in enumerate(outputs))),
        "0 []"]


def test_the_readmes_example_digits(tiny, capsys):
    """docs/digits: seven.png is MNIST-style (no note); three.png (RGB) and two.png are
    dark on light (inverted: the note), as the README shows."""
    net, model, test, folder = tiny
    paths = [os.path.join(ROOT, "docs", "digits", n) for n in ("seven.png", "three.png",
                                                                "two.png")]
    code, out, err = run(capsys, model, *paths)
    assert code == 0 and len(out) == 3
    assert err == ["purenet-predict: note: %s: dark ink on a light background (a light "
                   "border): inverted" % p for p in paths[1:]]


def test_ctrl_c_is_exit_130_without_a_traceback(tiny, capsys, monkeypatch):
    import purenet.cli.predict

    def interrupted(*args):
        raise KeyboardInterrupt
    net, model, test, folder = tiny
    monkeypatch.setattr(purenet.cli.predict, "predict", interrupted)
    code, out, err = run(capsys, model, write_images(folder, test, 1)[0])
    assert (code, out, err) == (130, [], [])
