"""Ask a trained model about your own digits: ``python -m purenet.predict MODEL IMAGE...``.

MODEL is a model file (``purenet-train --save``); each IMAGE a PNG or PGM file
(:mod:`purenet.formats.images`) of side x side pixels for a model of side² inputs: 28x28 for
MNIST's 784.  Pixel p becomes the input p / 255.0, the division the MNIST loader makes,
so an MNIST image saved as a PNG gets exactly the outputs ``net.feedforward(test.x(i))``
gives.  For each image it prints the predicted class and every output activation
(``--json``: one JSON object a line).

MNIST digits are light ink on a dark background.  ``--invert`` turns a drawing of dark
ink on white into that (p -> 255 - p); an image whose border is lighter than mid-grey
gets a note suggesting it (or, with ``--invert``, suggesting to leave it out).

It runs on the C engine where it is built and on the reference otherwise (the same
outputs, bit for bit), so it needs nothing but the standard library: copy the
``purenet`` folder and the model file anywhere Python runs.
"""

import json
import math
import os
import sys

from .. import cengine
from ..dataset import argmax
from ..errors import CEngineUnavailable, ImageError, ModelFileError, UsageError
from ..formats.images import read_image
from ..network import load
from .options import Output, Parser

PROG = "purenet-predict"


def build_parser():
    p = Parser(prog=PROG, description="Predict the digit in each image with a trained model.")
    p.add_argument("model", metavar="MODEL", help="a model file (purenet-train --save)")
    p.add_argument("images", metavar="IMAGE", nargs="+",
                   help="PNG (8-bit grey, RGB, palette, with or without alpha) or PGM files "
                        "of the model's input size (28x28 for MNIST)")
    p.add_argument("--invert", action="store_true",
                   help="the images are dark ink on a light background: use 255 - p")
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
    if backend is None:
        backend = "c" if cengine.available() else "python"
    elif backend == "c":                           # is the C engine built?
        try:
            cengine.lib_and_ffi()
        except CEngineUnavailable as e:
            raise UsageError(str(e)) from None
    net = load(path, backend=backend)
    n = net.sizes[0]
    side = math.isqrt(n)
    if side * side != n:
        raise ModelFileError("%s: the model takes %d inputs, not the pixels of a square "
                             "image (an MNIST model takes 784 = 28x28)" % (path, n))
    return net, side


def light_background_note(pixels, side, inverted):
    """A note when the image's border (its outermost pixels) is on average lighter than
    mid-grey, where MNIST has black; else None."""
    last = len(pixels) - side
    border = [p for i, p in enumerate(pixels)
              if i < side or i >= last or i % side in (0, side - 1)]
    if 2 * sum(border) <= 255 * len(border):
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


def predict(net, side, path, invert):
    """(outputs, note or None) for the image at path; an ImageError if it cannot be read."""
    pixels = read_image(path, (side, side)).pixels
    if invert:
        pixels = bytes(255 - p for p in pixels)
    note = light_background_note(pixels, side, invert)
    return net.feedforward([p / 255.0 for p in pixels]), note   # as Dataset.x: p / 255.0


def run(args):
    """Predict every image; the exit code: 0, or 1 when an image could not be read."""
    net, side = load_model(args.model, args.backend)
    emit = Output(sys.stdout)
    failed = False
    for path in args.images:
        try:
            outputs, note = predict(net, side, path, args.invert)
        except ImageError as e:
            print("%s: error: %s" % (PROG, e), file=sys.stderr)
            failed = True
            continue
        if note:
            print("%s: note: %s: %s" % (PROG, path, note), file=sys.stderr)
        emit(result_line(path, outputs, args.json))
    return 1 if failed else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    except ModelFileError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

