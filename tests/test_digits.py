"""purenet.formats.digits: MNIST's preprocessing, each step on hand-made images whose
result is known exactly (worked out in each test's docstring): a centred bar, an
off-centre dot, an inverted square, an image 7x too large, a 1-pixel line that comes out
grey, a tall "1" that keeps its aspect ratio; noise removed; blank and all-ink images
refused; and which images are MNIST-style already."""

import random

import pytest

from purenet.formats import digits
from purenet.formats.digits import is_mnist_style, mnist_input
from purenet.formats.images import Image, ImageError
from conftest import mnist_dir, needs_mnist


def canvas(width, height, paper, rects):
    """An Image of the paper's grey with each (left, top, right, bottom, grey) filled."""
    pixels = bytearray([paper]) * (width * height)
    for left, top, right, bottom, grey in rects:
        for y in range(top, bottom):
            pixels[y * width + left:y * width + right] = bytes([grey]) * (right - left)
    return Image(width, height, bytes(pixels))


def field(rects, side=28):
    """The side x side bytes expected: black with each (left, top, right, bottom, grey)."""
    return canvas(side, side, 0, rects).pixels


def test_a_centred_bar():
    """A black bar 14 wide and 70 tall on white 100x100: inverted; L = 70 -> 20, so
    s = 2/7 and the bar is 4 x 20 pixels of 255, its centre of mass (1.5, 9.5) placed on
    (13.5, 13.5): columns 12..15, rows 4..23."""
    pixels, inverted = mnist_input(canvas(100, 100, 255, [(43, 15, 57, 85, 0)]))
    assert inverted is True
    assert pixels == field([(12, 4, 16, 24, 255)])


def test_a_bar_of_fractional_width_has_a_grey_edge():
    """10 wide and 70 tall: 10 · 2/7 = 2.857 columns; the third covers 6/7 of its square:
    255 · 6/7 = 218.6 -> 219.  Centre of mass x = (255 + 2·219) / 729 = 0.95, so the
    columns start at round(13.5 - 0.95) = 13."""
    pixels, _ = mnist_input(canvas(100, 100, 255, [(45, 15, 55, 85, 0)]))
    assert pixels == field([(13, 4, 15, 24, 255), (15, 4, 16, 24, 219)])


def test_an_off_centre_dot():
    """A light 3x3 dot near the top right of a black 60x60: not inverted; the crop (3x3)
    scaled up to 20x20 and centred: rows and columns 4..23."""
    pixels, inverted = mnist_input(canvas(60, 60, 0, [(50, 5, 53, 8, 255)]))
    assert inverted is False
    assert pixels == field([(4, 4, 24, 24, 255)])


@pytest.mark.parametrize("paper,ink", [(255, 55), (0, 200)], ids=["dark-on-light", "light"])
def test_an_inverted_square(paper, ink):
    """A 20x20 square of 55 on white 50x50 is inverted to 200 on black; a square of 200
    on black is not.  Both: the background (0) removed, the ink stretched to 255, and
    the same 20x20 square of 255 in the middle."""
    pixels, inverted = mnist_input(canvas(50, 50, paper, [(3, 25, 23, 45, ink)]))
    assert inverted is (paper == 255)
    assert pixels == field([(4, 4, 24, 24, 255)])


def test_forcing_the_polarity():
    """invert=True on light ink on black: nothing is lighter than the (now white) paper,
    an ImageError saying so; invert=False on dark ink on white: likewise."""
    light = canvas(50, 50, 0, [(3, 25, 23, 45, 200)])
    assert mnist_input(light, invert=False) == mnist_input(light)
    with pytest.raises(ImageError, match=r"no pixel is lighter than the background \(255\) "
                                         "by more than 8 once inverted \\(if the ink is the "
                                         "light part, do not invert it"):
        mnist_input(light, invert=True)
    dark = canvas(50, 50, 255, [(3, 25, 23, 45, 0)])
    with pytest.raises(ImageError, match="if the ink is darker than the paper, invert it"):
        mnist_input(dark, invert=False)
    assert mnist_input(dark, invert=True) == mnist_input(dark)


def seven_like():
    """A 28x28 MNIST-style shape of 0 and 255: a 20x20 box whose centre of mass is on the
    centre (a bar across the top, a stem down the middle, a bar across the bottom)."""
    return field([(4, 4, 24, 7, 255), (12, 7, 16, 21, 255), (4, 21, 24, 24, 255)])


def test_an_image_7_times_too_large():
    """The MNIST-style shape drawn 7x larger (196x196, each pixel a 7x7 block): each
    output pixel is the mean of one block, so the original comes back exactly."""
    small = seven_like()
    big = bytes(small[(y // 7) * 28 + x // 7] for y in range(196) for x in range(196))
    pixels, inverted = mnist_input(Image(196, 196, big))
    assert inverted is False and pixels == small


def test_a_1_pixel_line_comes_out_grey():
    """A 1-pixel black line 140 tall on white 200x200: s = 20/140 = 1/7, the line covers
    1/7 of each output square: 255/7 = 36.4 -> 36, in one column of 20; its centre of
    mass x = 0 goes to round(13.5) = 14."""
    pixels, _ = mnist_input(canvas(200, 200, 255, [(80, 30, 81, 170, 0)]))
    assert pixels == field([(14, 4, 15, 24, 36)])


def test_a_top_heavy_t_stays_inside_the_field():
    """A T 60 wide and 60 tall (s = 1/3): a bar of 20 x 6 on a stem of 1 x 14.  Its
    centre of mass y = (20·15 + 175) / 134 = 3.5 would put the box at rows 10..29, past
    the field: it is kept inside, rows 8..27; x: columns round(13.5 - 9.5) = 4..23."""
    pixels, _ = mnist_input(canvas(100, 100, 255, [(20, 20, 80, 38, 0), (47, 38, 50, 80, 0)]))
    assert pixels == field([(4, 8, 24, 14, 255), (13, 14, 14, 28, 255)])
    pixels, _ = mnist_input(canvas(100, 100, 255, [(20, 20, 38, 80, 0), (38, 47, 80, 50, 0)]))
    assert pixels == field([(8, 4, 14, 24, 255), (14, 13, 28, 14, 255)])       # on its side


def test_a_tall_1_keeps_its_aspect_ratio():
    """A bar 10 wide and 100 tall on a 300x200 page: 1:10, so 2 x 20 pixels, not a
    square; columns 13..14."""
    pixels, _ = mnist_input(canvas(300, 200, 255, [(200, 50, 210, 150, 0)]))
    assert pixels == field([(13, 4, 15, 24, 255)])


def test_a_wide_shape_keeps_its_aspect_ratio():
    """30 wide and 6 tall on 80x40: 20 x 4, rows 12..15."""
    pixels, _ = mnist_input(canvas(80, 40, 255, [(10, 10, 40, 16, 0)]))
    assert pixels == field([(4, 12, 24, 16, 255)])


def test_noise_and_a_grey_paper_are_removed():
    """Light-grey paper (200 ± 12, uniform noise) with a black bar: the paper becomes 0
    exactly, the bar 255: the result of the clean bar."""
    rnd = random.Random(0)
    image = canvas(100, 100, 200, [(43, 15, 57, 85, 0)])
    noisy = bytes(min(255, max(0, p + rnd.randint(-12, 12))) if p else p for p in image.pixels)
    pixels, inverted = mnist_input(Image(100, 100, noisy))
    assert inverted is True and pixels == field([(12, 4, 16, 24, 255)])


def test_the_noise_threshold():
    """b = the border's median, t = b + max(8, round(3 · 1.4826 · MAD))."""
    assert digits.background(bytes([10] * 9)) == (10, 18)
    edge = bytes([50, 40, 60, 30, 70, 50, 50])          # median 50, |d| median 10
    assert digits.background(edge) == (50, 50 + round(3 * 1.4826 * 10))


def test_other_sides_scale_the_steps():
    """side 8 (scikit-learn's digits): the box is round(8 · 20/28) = 6; the bar of the
    first test becomes 6 x ... : 14 · 6/70 = 1.2 columns: 255 and 0.2 · 255 = 51."""
    pixels, _ = mnist_input(canvas(100, 100, 255, [(43, 15, 57, 85, 0)]), side=8)
    assert len(pixels) == 64
    # centre of mass x = 51 / 306 = 0.17: columns from round(3.5 - 0.17) = 3; rows 1..6
    assert pixels == field([(3, 1, 4, 7, 255), (4, 1, 5, 7, 51)], side=8)


@pytest.mark.parametrize("image,problem", [
    (canvas(40, 40, 255, []), "no digit found: no pixel is lighter"),
    (canvas(40, 40, 0, []), "no digit found: no pixel is lighter"),
    (canvas(40, 40, 130, []), "no digit found"),
    (canvas(40, 40, 0, [(1, 1, 39, 39, 255)]), "no background found: 90% of the image is ink"),
    (Image(16, 16, bytes(range(256))), "no background found: the border's levels spread too "
                                       "far around 127 to tell"),
    (canvas(4000, 10, 255, [(5, 5, 6, 6, 250)]), "no digit found: no pixel"),
    (canvas(2000, 2000, 0, [(5, 5, 6, 6, 255), (1994, 1994, 1995, 1995, 255)]),
     "a speck too small to show"),
], ids=["white", "black", "grey", "all-ink", "gradient", "faint", "speck"])
def test_blank_and_all_ink_images_are_errors(image, problem):
    with pytest.raises(ImageError, match=problem):
        mnist_input(image)


def test_the_ink_share_limit_is_inclusive():
    """75% ink is still a digit; a hair more is not (40x40 inside a 1-pixel black frame:
    38 x 31 + 22 = 1200 of 1600 pixels, then 1201)."""
    assert digits.MAX_INK_SHARE == 0.75
    ink = [(1, 1, 39, 32, 255), (1, 32, 23, 33, 255)]
    mnist_input(canvas(40, 40, 0, ink))
    with pytest.raises(ImageError, match="no background found: 75% of the image is ink"):
        mnist_input(canvas(40, 40, 0, ink + [(23, 32, 24, 33, 255)]))


@pytest.mark.parametrize("values,light", [([127] * 8, False), ([128] * 8, True),
                                          ([127, 128] * 4, False), ([127, 128, 128], True),
                                          ([127, 127, 128], False)])
def test_a_light_border_is_lighter_than_mid_grey_on_average(values, light):
    """The mean against 127.5, exactly: 127.5 is not lighter; 383/3 = 127.67 is."""
    width = 3 if len(values) == 3 else 4
    image = Image(width, len(values) // width if width == 3 else 2, bytes(values))
    assert digits.light_border(image) is light


def test_a_border_of_one_or_two_rows():
    """Images 1 or 2 pixels tall: the border is the whole image (nothing to strip twice)."""
    assert digits.border(5, 2, bytes(range(10))) == bytes(range(10))
    assert digits.border(3, 3, bytes(range(9))) == bytes([0, 1, 2, 6, 7, 8, 3, 5])


# --- which images are MNIST-style already ------------------------------------------------

@needs_mnist
def test_every_mnist_test_image_is_mnist_style():
    from purenet import data
    _, test = data.load_mnist_files(mnist_dir())
    assert all(is_mnist_style(Image(28, 28, test.pixels[i * 784:(i + 1) * 784]))
               for i in range(len(test)))


def test_what_is_not_mnist_style():
    """The 28x28 shape is; shifted 2 pixels, or on a border of mean 17, or 29x28, or on
    white, or blank, it is not."""
    good = seven_like()
    assert is_mnist_style(Image(28, 28, good))
    shifted = bytes(2) + good[:-2]
    assert not is_mnist_style(Image(28, 28, shifted))
    assert is_mnist_style(Image(28, 28, bytes(1) + good[:-1]))              # 1 px: still
    grey = bytes(max(p, 17) for p in good)
    assert not is_mnist_style(Image(28, 28, grey))
    assert is_mnist_style(Image(28, 28, bytes(max(p, 16) for p in good)))
    assert not is_mnist_style(Image(28, 28, bytes(255 - p for p in good)))
    assert not is_mnist_style(Image(28, 28, bytes(784)))
    wide = b"".join(good[y * 28:(y + 1) * 28] + b"\0" for y in range(28))
    assert not is_mnist_style(Image(29, 28, wide))
