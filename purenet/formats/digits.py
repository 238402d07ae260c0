"""MNIST's preprocessing for any greyscale image, with the standard library only.

LeCun, Cortes and Burges made MNIST's digits this way: the digit's bounding box
size-normalised to fit a 20x20 box keeping its aspect ratio, anti-aliased so that grey
levels appear, then centred in the 28x28 field by its centre of mass.  A drawing or a
photo of a digit needs the same steps before a network trained on MNIST can read it:

1. **polarity**: MNIST is light ink on black.  A border lighter than mid-grey on average
   means dark ink on light paper, so the image is inverted (p -> 255 - p);
2. **background**: its level b is the median of the border, its noise the border's median
   absolute deviation (MAD).  Pixels at most t = b + max(MIN_MARGIN, NOISE_SIGMAS · 1.4826
   · MAD) become 0, the rest are stretched to 1..255: p -> (p - t) · 255 / (peak - t).
   No pixel above t is a blank image; a border too uneven (t - b > MAX_NOISE), or more
   than MAX_INK_SHARE of the image above t, leaves no background to tell the ink from;
3. **crop** to the bounding box of what is left (the ink);
4. **scale** the box's longer side L to N = round(side · 20/28) pixels, s = N / L on both
   axes, with an area-averaging (box) filter: output pixel (i, j) covers input
   [j/s, (j+1)/s) x [i/s, (i+1)/s) and is the mean of the image over that square (outside
   the box the image is 0).  A 1-pixel line thus becomes s · 255: grey, as in MNIST;
5. **centre**: translate by whole pixels so that the centre of mass
   (Σ p·x / Σ p, Σ p·y / Σ p) lands on the field's centre ((side-1)/2, (side-1)/2),
   rounded half up, and kept inside the field.

All of it is integer arithmetic, so every result is exact and the same everywhere.
"""

import itertools

from ..errors import ImageError

MNIST_SIDE, MNIST_BOX = 28, 20       # LeCun et al.: a 20x20 box centred in 28x28
MID_GREY2 = 255                      # 2 x mid-grey (127.5): the border's mean compared at 2x
MAD_TO_SIGMA = 1.4826                # the MAD of Gaussian noise is 0.6745 sigma
NOISE_SIGMAS = 3                     # a pixel within 3 sigma of the paper is paper
MIN_MARGIN = 8                       # a clean PNG has MAD 0; JPEG rings by a few levels
MAX_NOISE = 85                       # noise past a third of 0..255 leaves no room for ink
MAX_INK_SHARE = 0.75                 # MNIST's heaviest digit covers 45% of its 28x28
AS_IS_BORDER = 16                    # as MNIST: the border's mean at most 16 (MNIST: 8.6)
AS_IS_OFFSET = 1.5                   # and its centre of mass within 1.5 px (MNIST: 1.0)


def mnist_input(image, side=MNIST_SIDE, invert=None):
    """MNIST's preprocessing for any greyscale image (formats.images.Image: width, height,
    pixels 0..255 row by row): background found and removed, cropped to the ink, the longer
    side scaled to round(side*20/28) pixels keeping the aspect ratio with an area-averaging
    (box) filter, centred by its centre of mass in side x side.  invert None: decided from
    the border (a light border means dark ink on light paper); True/False forces it.
    Returns (pixels, inverted): pixels are side*side bytes, light ink on black as MNIST's.
    A blank or all-ink image is an ImageError."""
    width, height, pixels = image
    if invert is None:
        invert = light_border(image)
    if invert:
        pixels = pixels.translate(INVERTED)
    ink = remove_background(width, height, pixels, invert)
    left, top, right, bottom = ink_box(width, height, ink)
    box = round(side * MNIST_BOX / MNIST_SIDE)
    scaled = box_filter(width, ink, (left, top, right, bottom), box)
    return centred(scaled, side), invert


INVERTED = bytes(range(255, -1, -1))     # the table of p -> 255 - p


def border(width, height, pixels):
    """The outermost pixels: the first and last rows and columns (each pixel once)."""
    if height <= 2 or width <= 2:
        return pixels
    rows = pixels[:width] + pixels[-width:]
    inner = pixels[width:-width]
    return rows + inner[::width] + inner[width - 1::width]


def light_border(image):
    """Is the border's mean lighter than mid-grey (127.5)?  Then the paper is light."""
    edge = border(*image)
    return 2 * sum(edge) > MID_GREY2 * len(edge)


def median(values):
    """The lower median of a sequence of small whole numbers."""
    return sorted(values)[(len(values) - 1) // 2]


def background(edge):
    """(b, t): b the border's median, t = b + max(MIN_MARGIN, round(3 · 1.4826 · MAD)) with
    MAD the border's median absolute deviation; a pixel at most t is background."""
    level = median(edge)
    mad = median([abs(p - level) for p in edge])
    return level, level + max(MIN_MARGIN, round(NOISE_SIGMAS * MAD_TO_SIGMA * mad))


def remove_background(width, height, pixels, inverted):
    """The pixels with the background at 0 and the ink stretched to 1..255 (see the
    module, step 2); an ImageError when nothing, or nearly everything, is ink."""
    level, threshold = background(border(width, height, pixels))
    if threshold - level > MAX_NOISE:
        raise ImageError("no background found: the border's levels spread too far around %d "
                         "to tell the paper from the ink" % level)
    peak = max(pixels)
    if peak <= threshold:
        raise ImageError("no digit found: no pixel is lighter than the background (%d) by more "
                         "than %d%s" % (level, threshold - level, blank_hint(inverted)))
    span = peak - threshold
    levels = bytes(0 if p <= threshold else min(255, ((p - threshold) * 510 + span) // (2 * span))
                   for p in range(256))          # p above the peak: in no pixel
    ink = pixels.translate(levels)
    share = 1 - ink.count(0) / len(ink)
    if share > MAX_INK_SHARE:
        raise ImageError("no background found: %.0f%% of the image is ink (at most %.0f%% "
                         "can be): crop it with some paper around the digit"
                         % (100 * share, 100 * MAX_INK_SHARE))
    return ink


def blank_hint(inverted):
    """What to try when no ink was found."""
    if inverted:
        return " once inverted (if the ink is the light part, do not invert it)"
    return " (if the ink is darker than the paper, invert it)"


def ink_box(width, height, ink):
    """(left, top, right, bottom) of the pixels that are not 0, right and bottom excluded."""
    rows = [y for y in range(height) if ink[y * width:(y + 1) * width].count(0) != width]
    left, right = width, 0
    for y in rows:
        row = ink[y * width:(y + 1) * width]
        left = min(left, width - len(row.lstrip(b"\0")))
        right = max(right, len(row.rstrip(b"\0")))
    return left, rows[0], right, rows[-1] + 1


def box_filter(width, ink, box, n):
    """The ink inside box, its longer side L scaled to n pixels (s = n / L), by area
    averaging: rows of pixels of the scaled image.

    In units of 1/n input pixel, output pixel j spans [j·L, (j+1)·L), and the integral of
    an input row r from 0 to x is F(x) = n·Σ r[:x//n] + (x mod n)·r[x//n].  Integrating
    the rows' F the same way down the columns gives each output square's integral, in
    units of (1/n pixel)², over its area L²; rounded half up."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    longer = max(w, h)
    cols = [min(j * longer, w * n) for j in range(-(-w * n // longer) + 1)]
    rows = [min(i * longer, h * n) for i in range(-(-h * n // longer) + 1)]
    along = [integrals(ink[y * width + left:y * width + right], cols, n)
             for y in range(top, bottom)]
    down = [integrals(column, rows, n) for column in zip(*along)]
    area2 = 2 * longer * longer
    return [[((down[j + 1][i + 1] - down[j][i + 1] - down[j + 1][i] + down[j][i]) * 2
              + area2 // 2) // area2 for j in range(len(cols) - 1)]
            for i in range(len(rows) - 1)]


def integrals(values, bounds, n):
    """F(x) = ∫₀ˣ of the step function values (one step per n units) at each x in bounds."""
    prefix = list(itertools.accumulate(values, initial=0))
    return [n * prefix[x // n] + (x % n and (x % n) * values[x // n]) for x in bounds]


def centred(scaled, side):
    """side*side bytes: the scaled rows placed so that their centre of mass is nearest the
    field's centre (side-1)/2, kept inside the field."""
    h, w = len(scaled), len(scaled[0])
    mass = sum(map(sum, scaled))
    if mass == 0:
        raise ImageError("no digit found: the ink is a speck too small to show in a %dx%d "
                         "input" % (side, side))
    sx = sum(x * p for row in scaled for x, p in enumerate(row))
    sy = sum(y * p for y, row in enumerate(scaled) for p in row)
    # round((side-1)/2 - sx/mass) half up = floor((side·mass - 2·sx) / (2·mass))
    x0 = min(max((side * mass - 2 * sx) // (2 * mass), 0), side - w)
    y0 = min(max((side * mass - 2 * sy) // (2 * mass), 0), side - h)
    field = bytearray(side * side)
    for y, row in enumerate(scaled):
        field[(y0 + y) * side + x0:(y0 + y) * side + x0 + w] = bytes(row)
    return bytes(field)


def is_mnist_style(image, side=MNIST_SIDE):
    """Is the image already an MNIST input: side x side, its border dark (mean at most
    AS_IS_BORDER) and its centre of mass within AS_IS_OFFSET pixels of the centre on both
    axes?  Every one of MNIST's 70,000 images is (border mean at most 8.6, offset at most
    1.0), and such an image is best read as it is."""
    width, height, pixels = image
    if (width, height) != (side, side):
        return False
    edge = border(*image)
    mass = sum(pixels)
    if sum(edge) > AS_IS_BORDER * len(edge) or mass == 0:
        return False
    centre = (side - 1) / 2
    sx = sum(x * p for y in range(side) for x, p in enumerate(pixels[y * side:(y + 1) * side]))
    sy = sum(y * sum(pixels[y * side:(y + 1) * side]) for y in range(side))
    return max(abs(sx / mass - centre), abs(sy / mass - centre)) <= AS_IS_OFFSET
