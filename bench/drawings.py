"""Accuracy on drawings: MNIST test digits drawn the way people's digits arrive, read by
``purenet.predict``, next to the model's accuracy on MNIST's test set itself.

    python bench/drawings.py MODEL [--n 1000] [--seed 0] [--keep DIR]

Each of the first N test digits is rendered as a drawing: dark ink (0..60) on a white or
light-grey page (200..255), on a canvas of one of several sizes (160x160 to 1000x750),
the digit 30% to 80% of the canvas's shorter side, anywhere on it (off-centre), saved as
a grey PNG, an RGB PNG, an RGBA PNG (black ink whose alpha is the ink, on a transparent
canvas, as drawing apps export) or, with Pillow, a JPEG (quality 85).  Two ways to read
them are measured:

* ``purenet.predict`` (MNIST's preprocessing, purenet.formats.digits);
* the path before it: the whole canvas scaled to 28x28 by area averaging, then
  ``purenet.predict --as-is --invert``.

The digit is enlarged by repeating pixels (nearest neighbour), so a drawing holds exactly
the strokes of its MNIST digit; what differs is the scale, the place, the paper, the ink
and the file format.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import purenet                                                     # noqa: E402
from purenet import data                                           # noqa: E402
from purenet.cli.predict import main as predict                   # noqa: E402
from purenet.formats.digits import integrals                      # noqa: E402
from purenet.formats.images import Image, encode_png, read_image  # noqa: E402

CANVASES = [(160, 160), (300, 240), (480, 640), (1000, 750)]   # phone crops to screenshots
DIGIT_SHARE = (0.3, 0.8)       # the digit's height, of the canvas's shorter side
PAPER = (200, 255)             # white to light grey
INK = (0, 60)                  # black to dark grey pens
KINDS = ["grey", "RGB", "RGBA", "JPEG"]
JPEG_QUALITY = 85              # a phone's usual setting


def render(digit, rnd):
    """A drawing of the 28x28 digit (light on black): (width, height, grey pixels, ink
    alpha) with dark ink on paper; the alpha is the digit itself (0..255)."""
    width, height = rnd.choice(CANVASES)
    side = int(min(width, height) * rnd.uniform(*DIGIT_SHARE))
    x0, y0 = rnd.randrange(width - side + 1), rnd.randrange(height - side + 1)
    paper, ink = rnd.randint(*PAPER), rnd.randint(*INK)
    shade = bytes(paper - (paper - ink) * v // 255 for v in range(256))
    cols = [x * 28 // side for x in range(side)]
    grey, alpha = bytearray([paper]) * (width * height), bytearray(width * height)
    for y in range(side):
        row = bytes(digit[(y * 28 // side) * 28 + c] for c in cols)
        at = (y0 + y) * width + x0
        grey[at:at + side] = row.translate(shade)
        alpha[at:at + side] = row
    return width, height, bytes(grey), bytes(alpha)


def save(path, kind, width, height, grey, alpha):
    """Write the drawing as a grey, RGB or RGBA PNG, or a JPEG (Pillow)."""
    if kind == "JPEG":
        from PIL import Image as Pillow            # only when Pillow is installed
        Pillow.frombytes("L", (width, height), grey).convert("RGB").save(
            path, "JPEG", quality=JPEG_QUALITY)
        return
    if kind == "grey":
        content = encode_png(Image(width, height, grey))
    else:
        content = png_rgb(width, height, grey, alpha if kind == "RGBA" else None)
    with open(path, "wb") as f:
        f.write(content)


def png_rgb(width, height, grey, alpha):
    """An RGB PNG of grey (R = G = B), or an RGBA PNG of black ink whose alpha is the ink."""
    import struct
    import zlib
    n = 4 if alpha is not None else 3
    samples = bytearray(width * height * n)
    if alpha is None:
        samples[0::3] = samples[1::3] = samples[2::3] = grey
    else:
        samples[3::4] = alpha                       # R = G = B = 0: black ink
    stride = width * n
    raw = b"".join(b"\0" + bytes(samples[y * stride:(y + 1) * stride]) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha is not None else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def squashed(image, side=28):
    """The whole image scaled to side x side by area averaging (each axis on its own), as
    an image editor's "resize to 28x28" does: each output pixel is the mean of its
    (width/side) x (height/side) rectangle, rounded half up."""
    width, height, pixels = image
    along = [integrals(pixels[y * width:(y + 1) * width], [j * width for j in range(side + 1)],
                       side) for y in range(height)]
    down = [integrals(col, [i * height for i in range(side + 1)], side) for col in zip(*along)]
    area2 = 2 * width * height
    return bytes(((down[j + 1][i + 1] - down[j][i + 1] - down[j + 1][i] + down[j][i]) * 2
                  + area2 // 2) // area2 for i in range(side) for j in range(side))


def classes(model, paths, flags=()):
    """The class purenet.predict gives each path (None where it printed an error)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        predict(list(flags) + ["--json", model] + paths)
    found = {r["image"]: r["class"] for r in map(json.loads, out.getvalue().splitlines())}
    return [found.get(p) for p in paths]


def make_drawings(test, n, seed, folder, kinds):
    """Render and save the first n test digits; [(path, label, kind)] and the time taken."""
    rnd = random.Random(seed)
    made = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        drawing = render(test.pixels[i * 784:(i + 1) * 784], rnd)
        path = os.path.join(folder, "%05d-%d.%s" % (i, test.label(i),
                                                   "jpg" if kind == "JPEG" else "png"))
        save(path, kind, *drawing)
        made.append((path, test.label(i), kind))
    return made


def accuracy(found, made):
    return sum(c == label for c, (_, label, _) in zip(found, made)) / len(made)


def per_kind(found, made, kinds):
    """'grey 97.0%  RGB 96.5%  ...': the accuracy of each file kind."""
    parts = []
    for kind in kinds:
        hits = [c == label for c, (_, label, k) in zip(found, made) if k == kind]
        parts.append("%s %.1f%%" % (kind, 100 * sum(hits) / len(hits)))
    return "  ".join(parts)


def today(model, made, folder):
    """The path before: each drawing squashed to 28x28, then predict --as-is --invert."""
    paths = []
    for path, _, _ in made:
        small = os.path.join(folder, os.path.basename(path) + ".28.png")
        with open(small, "wb") as f:
            f.write(encode_png(Image(28, 28, squashed(read_image(path)))))
        paths.append(small)
    return classes(model, paths, ["--as-is", "--invert"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--n", type=int, default=1000, help="test digits drawn (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", metavar="DIR", help="keep the drawings in DIR")
    args = p.parse_args(argv)
    kinds = KINDS if pillow() else KINDS[:3]
    _, test = data.load_mnist()
    net = purenet.load(args.model, backend="c" if purenet.cengine.available() else "python")
    print("%s on %s, Python %s, %s" % (time.strftime("%Y-%m-%d"), platform.machine(),
                                       platform.python_version(), args.model))
    print("MNIST test accuracy: %.2f%% (10,000 digits)" % (100 * net.evaluate(test) / len(test)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        made = make_drawings(test, args.n, args.seed, folder, kinds)
        start = time.perf_counter()
        found = classes(args.model, [m[0] for m in made])
        seconds = time.perf_counter() - start
        old = today(args.model, made, tmp)
    print("drawings: the first %d test digits, %s, seed %d" % (args.n, ", ".join(kinds), args.seed))
    print("  purenet.predict (MNIST's preprocessing): %.2f%%   (%s; %.0f ms an image)"
          % (100 * accuracy(found, made), per_kind(found, made, kinds), 1000 * seconds / args.n))
    print("  scaled to 28x28, --as-is --invert:       %.2f%%   (%s)"
          % (100 * accuracy(old, made), per_kind(old, made, kinds)))


def pillow():
    try:
        import PIL                                   # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
