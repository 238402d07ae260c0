"""Ask a trained model about your own digits: ``python -m purenet.predict MODEL IMAGE...``.

MODEL is a model file (``purenet-train --save``); each IMAGE a PNG, PGM or (with Pillow)
JPEG file (:mod:`purenet.formats.images`) of any size.  Each image is made into the
network's input the way MNIST's digits were made (:func:`purenet.formats.digits.mnist_input`):
dark ink on light paper inverted, the background removed, cropped to the ink, scaled to
fit a 20x20 box and centred by its centre of mass in 28x28 (for a model of side² inputs,
the same steps scaled to side).  An image that is already an MNIST input
(:func:`~purenet.formats.digits.is_mnist_style`: side x side, a dark border, its centre
of mass in the middle) is taken as it is, as is any image with ``--as-is``: pixel p
becomes the input p / 255.0, the division the MNIST loader makes, so an MNIST image
saved as a PNG gets exactly the outputs ``net.feedforward(test.x(i))`` gives.

For each image it prints the predicted class and every output activation (``--json``:
one JSON object a line); ``--show`` draws the input the network saw in text, and
``--save-input DIR`` writes it as a PNG.  ``--invert`` says the ink is darker than the
paper where the border does not tell; a note says when an image was inverted.

It runs on the C engine where it is built and on the reference otherwise (the same
outputs, bit for bit), so it needs nothing but the standard library (and Pillow for
JPEG): copy the ``purenet`` folder and the model file anywhere Python runs.
"""

import json
import math
import os
import sys

from ..dataset import argmax
from ..errors import ImageError, ModelFileError, SaveTargetError, UsageError
from ..formats.atomic import write_atomically
from ..formats.digits import INVERTED, is_mnist_style, light_border, mnist_input
from ..formats.images import Image, encode_png, read_image
from ..network import load
from .options import Output, Parser, backend_for, exit_code

PROG = "purenet-predict"


def build_parser():
    p = Parser(prog=PROG, description="Predict the digit in each image with a trained model.")
    p.add_argument("model", metavar="MODEL", help="a model file (purenet-train --save)")
    p.add_argument("images", metavar="IMAGE", nargs="+",
                   help="PNG (8-bit grey, RGB, palette, with or without alpha), PGM or, with "
                        "Pillow, JPEG files of any size")
    p.add_argument("--invert", action="store_true",
                   help="the ink is darker than the paper: use 255 - p (default: a light "
                        "border means dark ink, and the image is inverted)")
    p.add_argument("--as-is", action="store_true",
                   help="no preprocessing: the image is the network's input already (28x28 "
                        "light ink on black for MNIST), pixel p is p / 255")
    p.add_argument("--show", action="store_true",
                   help="draw the input the network saw in text (on stderr with --json)")
    p.add_argument("--save-input", metavar="DIR", default=None,
                   help="write the input the network saw as DIR/NAME.input.png")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per image: {\"image\", \"class\", \"outputs\"}")
    p.add_argument("--backend", choices=["python", "c"], default=None,
                   help="python: the reference, standard library only; c: the C engine; the "
                        "same outputs either way (default: c where it is built, else python)")
    return p


def load_model(path, backend):
    """The Network in the model file, and the side of the square images it takes.

    An unbuilt C engine is a UsageError (exit 2, as for purenet-train); a file that is
    not a model, or a model whose inputs are not a square image, a ModelFileError.
    """
    net = load(path, backend=backend_for(backend))
    n = net.sizes[0]
    side = math.isqrt(n)
    if side * side != n:
        raise ModelFileError("%s: the model takes %d inputs, not the pixels of a square "
                             "image (an MNIST model takes 784 = 28x28)" % (path, n))
    return net, side


def light_background_note(pixels, side, inverted):
    """A note when the image's border (its outermost pixels) is on average lighter than
    mid-grey, where MNIST has black; else None."""
    if not light_border(Image(side, side, pixels)):
        return None
    if inverted:
        return ("--invert makes it dark ink on a light background: it is light on dark "
                "already, leave out --invert")
    return "looks like dark ink on a light background: try --invert"


def shown(path):
    """path for a line of text: bytes that are not UTF-8 in a file name as \\x escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def result_line(path, outputs, as_json):
    """The line printed for one image: its class and its outputs."""
    best = argmax(outputs)
    if as_json:
        return json.dumps({"image": path, "class": best, "outputs": outputs})
    return "%s: %d   %s" % (shown(path), best,
                            " ".join("%d:%.4f" % (k, v) for k, v in enumerate(outputs)))


SHADES = " .:-=+*#%@"       # ten levels, dark to light: shade p * 10 // 256 of p in 0..255


def as_text(pixels, side):
    """The side x side pixels as lines of text, two characters a pixel (a character is
    about twice as tall as wide), framed so that the margins show."""
    rule = "+" + "-" * (2 * side) + "+"
    rows = ["|" + "".join(2 * SHADES[p * len(SHADES) // 256]
                          for p in pixels[y * side:(y + 1) * side]) + "|" for y in range(side)]
    return [rule] + rows + [rule]


def network_input(path, side, invert, as_is):
    """(pixels, note or None): the side*side bytes the network is given for the image at
    path.  As it is, when --as-is or when the image is MNIST-style already (after
    --invert); else MNIST's preprocessing.  An ImageError names the file."""
    image = read_image(path, (side, side) if as_is else None)
    pixels = image.pixels.translate(INVERTED) if invert else image.pixels
    if as_is:
        return pixels, light_background_note(pixels, side, invert)
    if is_mnist_style(Image(image.width, image.height, pixels), side):
        return pixels, None
    try:
        pixels, inverted = mnist_input(image, side, True if invert else None)
    except ImageError as e:
        raise ImageError("%s: %s" % (path, e)) from None
    if inverted and not invert:
        return pixels, "dark ink on a light background (a light border): inverted"
    return pixels, None


def predict(net, side, path, args):
    """(outputs, pixels, note or None) for the image at path; an ImageError if it cannot
    be read or holds no digit."""
    pixels, note = network_input(path, side, args.invert, args.as_is)
    return net.feedforward([p / 255.0 for p in pixels]), pixels, note   # as Dataset.x


def input_folder(folder):
    """Create the --save-input folder before any image is read; a UsageError (exit 2) if
    it is a file or cannot be made."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError("--save-input %s: that is a file, not a folder" % folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UsageError("--save-input %s: cannot create that folder: %s"
                         % (folder, e.strerror or e)) from None


def input_name(path, taken):
    """NAME.input.png for the image at path: its file name without the extension, and
    -2, -3, ... after it when an earlier image of the run had the same name."""
    stem = os.path.splitext(os.path.basename(path))[0] or "image"
    name, k = stem, 1
    while name in taken:
        k += 1
        name = "%s-%d" % (stem, k)
    taken.add(name)
    return name + ".input.png"


def run(args):
    """Predict every image; the exit code: 0, or 1 when an image could not be read."""
    net, side = load_model(args.model, args.backend)
    if args.save_input is not None:
        input_folder(args.save_input)
    emit = Output(sys.stdout)
    drawing = Output(sys.stderr) if args.json else emit
    failed, taken = False, set()
    for path in args.images:
        try:
            outputs, pixels, note = predict(net, side, path, args)
            if args.save_input is not None:
                write_atomically(os.path.join(args.save_input, input_name(path, taken)),
                                 encode_png(Image(side, side, pixels)), "digit.png")
        except (ImageError, SaveTargetError, OSError) as e:
            print("%s: error: %s" % (PROG, e), file=sys.stderr)
            failed = True
            continue
        if note:
            print("%s: note: %s: %s" % (PROG, path, note), file=sys.stderr)
        emit(result_line(path, outputs, args.json))
        if args.show:
            for line in as_text(pixels, side):
                drawing(line)
    return 1 if failed else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    return exit_code(PROG, lambda: run(args))

