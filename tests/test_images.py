"""purenet.images: PNG and PGM files decoded with the standard library.  The PNGs are
written here, by a small encoder (every colour type, every filter type), and two by an
independent encoder (Pillow, committed in tests/images/); every bad file is one
ImageError naming the file, and nothing else comes out of the decoder (a fuzz test)."""

import math
import os
import random
import struct
import zlib
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from purenet.formats import images
from purenet.formats.images import ImageError, read_image

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


# --- a PNG encoder, from the PNG specification -----------------------------------------

def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def filter_row(kind, row, prev, bpp):
    """The filter-type byte and the row filtered: each byte minus its prediction, mod 256."""
    out = bytearray([kind])
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        c = prev[i - bpp] if i >= bpp else 0
        b = prev[i]
        out.append((x - (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]) % 256)
    return bytes(out)


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(width, height, samples, colour=0, filters=(0, 1, 2, 3, 4), depth=8, interlace=0,
             palette=None, trns=None, idat_chunks=1, before_idat=b""):
    """PNG bytes: samples (8-bit, width * channels per row) filtered row y with filter
    filters[y % len(filters)], deflated and split over idat_chunks IDAT chunks."""
    bpp = CHANNELS[colour]
    stride = width * bpp
    raw, prev = b"", bytes(stride)
    for y in range(height):
        row = samples[y * stride:(y + 1) * stride]
        raw += filter_row(filters[y % len(filters)], row, prev, bpp)
        prev = row
    z = zlib.compress(raw)
    cut = [len(z) * k // idat_chunks for k in range(idat_chunks + 1)]
    return (SIGNATURE
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0,
                                         interlace))
            + (chunk(b"PLTE", palette) if palette is not None else b"")
            + (chunk(b"tRNS", trns) if trns is not None else b"")
            + before_idat
            + b"".join(chunk(b"IDAT", z[cut[k]:cut[k + 1]]) for k in range(idat_chunks))
            + chunk(b"IEND", b""))


def grey_png(pixels, width=28, height=28, **kw):
    return make_png(width, height, bytes(pixels), 0, **kw)


def make_pgm(width, height, pixels, maxval=255, ascii=False):
    if ascii:
        return (b"P2\n# a comment\n%d %d\n%d\n" % (width, height, maxval)
                + b"\n".join(b" ".join(b"%d" % v for v in pixels[r * width:(r + 1) * width])
                             for r in range(height)) + b"\n")
    return b"P5 %d\n# a comment\n%d %d\n" % (width, height, maxval) + bytes(pixels)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def random_bytes(n, seed=0):
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(n))


# --- the expected grey values, written from the documented formulas ---------------------

def half_up(q):
    return math.floor(q + Fraction(1, 2))


def luma(r, g, b):
    return half_up(Fraction(299, 1000) * r + Fraction(587, 1000) * g + Fraction(114, 1000) * b)


def on_white(v, a):
    return half_up(Fraction(v * a + 255 * (255 - a), 255))


def expected_grey(samples, colour, palette=None, palette_alpha=b""):
    n = CHANNELS[colour]
    px = [samples[i:i + n] for i in range(0, len(samples), n)]
    if colour == 0:
        return bytes(samples)
    if colour == 2:
        return bytes(luma(*p) for p in px)
    if colour == 4:
        return bytes(on_white(p[0], p[1]) for p in px)
    if colour == 6:
        return bytes(on_white(luma(*p[:3]), p[3]) for p in px)
    alphas = palette_alpha + b"\xff" * 256
    return bytes(on_white(luma(*palette[3 * i:3 * i + 3]), alphas[i]) for i in samples)


# --- what is read -------------------------------------------------------------------------

FILTERS = [(0,), (1,), (2,), (3,), (4,), (0, 1, 2, 3, 4), (4, 3, 2, 1, 0, 4, 4, 3)]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "filters" + "".join(map(str, f)))
@pytest.mark.parametrize("colour", [0, 2, 3, 4, 6], ids=lambda c: images._COLOUR_NAMES[c])
def test_each_colour_type_and_filter_decodes_to_the_documented_grey(tmp_path, colour, filters):
    """Random samples, every row filtered with the filter of its turn: the decoded grey is
    the documented luminance (BT.601, rounded half up) composited over white."""
    width, height = 9, 11             # odd sizes: no filter lines up with a power of two
    palette = palette_alpha = None
    if colour == 3:
        palette, palette_alpha = random_bytes(3 * 40, seed=5), random_bytes(25, seed=6)
        samples = bytes(b % 40 for b in random_bytes(width * height, seed=colour))
    else:
        samples = random_bytes(width * height * CHANNELS[colour], seed=colour)
    data = make_png(width, height, samples, colour, filters=filters, palette=palette,
                    trns=palette_alpha)
    image = read_image(write(tmp_path, "x.png", data))
    assert (image.width, image.height) == (width, height)
    assert image.pixels == expected_grey(samples, colour, palette, palette_alpha or b"")


def test_luminance_is_bt601_rounded_and_keeps_grey():
    """The documented values: pure red, green and blue, and grey staying grey."""
    assert [images.luminance(*c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))] == [76, 150, 29]
    assert all(images.luminance(v, v, v) == v for v in range(256))
    assert images.over_white(0, 0) == 255 and images.over_white(0, 255) == 0
    assert images.over_white(0, 128) == 127             # 127.5 rounds up from 0.5 ink


def test_a_grey_image_with_an_opaque_alpha_channel_keeps_its_values(tmp_path):
    pixels = random_bytes(28 * 28, seed=3)
    rgba = bytes(v for p in pixels for v in (p, p, p, 255))
    grey_alpha = bytes(v for p in pixels for v in (p, 255))
    for colour, samples in ((6, rgba), (4, grey_alpha)):
        data = make_png(28, 28, samples, colour)
        assert read_image(write(tmp_path, "a.png", data)).pixels == pixels


def test_transparent_colour_keys_are_white(tmp_path):
    """tRNS for greyscale and RGB names one colour transparent: it reads as 255."""
    grey = bytes([0, 7, 200, 7])
    data = make_png(2, 2, grey, 0, trns=b"\x00\x07")
    assert read_image(write(tmp_path, "g.png", data)).pixels == bytes([0, 255, 200, 255])
    rgb = bytes([1, 2, 3, 1, 2, 4])
    data = make_png(2, 1, rgb, 2, trns=b"\x00\x01\x00\x02\x00\x03")
    assert read_image(write(tmp_path, "c.png", data)).pixels == bytes([255, luma(1, 2, 4)])
    data = make_png(2, 2, grey, 0, trns=b"\x01\x07")          # 263: no 8-bit pixel has it
    assert read_image(write(tmp_path, "h.png", data)).pixels == grey


def test_several_idat_chunks_and_ancillary_chunks(tmp_path):
    """The image data split over several IDAT chunks (one of them empty), with ancillary
    chunks before it (gAMA, tEXt, and a private one): the same pixels."""
    pixels = random_bytes(28 * 28, seed=4)
    extra = chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"tEXt", b"Title\0seven") \
        + chunk(b"prVt", b"\0\1")
    for parts in (1, 2, 7):
        data = grey_png(pixels, idat_chunks=parts, before_idat=extra)
        assert read_image(write(tmp_path, "s.png", data)).pixels == pixels
    z = zlib.compress(b"".join(b"\0" + pixels[r * 28:(r + 1) * 28] for r in range(28)))
    data = grey_png(pixels, filters=(0,)).replace(chunk(b"IDAT", z), chunk(b"IDAT", z[:10]) + chunk(
        b"IDAT", b"") + chunk(b"IDAT", z[10:]))
    assert chunk(b"IDAT", b"") in data
    assert read_image(write(tmp_path, "e.png", data)).pixels == pixels


def pillow_rows(name, bpp):
    """The filter type of each row of a committed PNG."""
    data = open(os.path.join(HERE, "images", name), "rb").read()
    pos, z = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            z += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(z)
    return {raw[y * (28 * bpp + 1)] for y in range(28)}


def test_pngs_written_by_pillow_decode_to_their_source():
    """Another encoder's files: tests/images/pillow-*.png were written by Pillow 13.0
    (``Image.open("pillow-grey.pgm").save("pillow-grey.png")``, likewise from the RGB .ppm);
    its adaptive filtering chose filter types 0, 1, 2 and 4 (Paeth) row by row.  They decode
    to the pixels of the PGM / PPM they were made from."""
    folder = os.path.join(HERE, "images")
    assert pillow_rows("pillow-grey.png", 1) >= {0, 1, 2, 4}
    assert pillow_rows("pillow-rgb.png", 3) >= {0, 1, 2, 4}
    grey = read_image(os.path.join(folder, "pillow-grey.png"))
    assert grey == read_image(os.path.join(folder, "pillow-grey.pgm"))
    ppm = open(os.path.join(folder, "pillow-rgb.ppm"), "rb").read()
    header = b"P6\n28 28\n255\n"
    assert ppm.startswith(header)
    assert read_image(os.path.join(folder, "pillow-rgb.png")).pixels == expected_grey(
        ppm[len(header):], 2)
    assert len(set(grey.pixels)) > 100              # not a flat image


@pytest.mark.parametrize("ascii", [False, True], ids=["P5", "P2"])
def test_pgm_round_trips(tmp_path, ascii):
    pixels = random_bytes(28 * 27, seed=8)
    image = read_image(write(tmp_path, "p.pgm", make_pgm(28, 27, pixels, ascii=ascii)))
    assert image == (28, 27, pixels)


@pytest.mark.parametrize("maxval", [1, 15, 100, 254])
def test_pgm_maxval_is_scaled_to_255(tmp_path, maxval):
    values = bytes(v % (maxval + 1) for v in range(256))[:16 * 16]
    image = read_image(write(tmp_path, "m.pgm", make_pgm(16, 16, values, maxval)))
    assert image.pixels == bytes(half_up(Fraction(255 * v, maxval)) for v in values)
    assert max(image.pixels) == 255


def test_the_size_is_refused_before_the_pixels_are_decoded(tmp_path):
    """A 27x28 PNG whose image data is garbage: the size is what is reported."""
    png = grey_png(bytes(27 * 28), width=27)
    bad = SIGNATURE + png[8:IHDR_END] + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b"")
    path = write(tmp_path, "wide.png", bad)
    with pytest.raises(ImageError) as e:
        read_image(path, (28, 28))
    assert str(e.value) == ("%s: the image is 27x28 pixels, but 28x28 are needed: scale it "
                            "to 28x28" % path)
    with pytest.raises(ImageError, match="does not inflate"):
        read_image(path)
    pgm = write(tmp_path, "wide.pgm", make_pgm(27, 28, bytes(10)))
    with pytest.raises(ImageError, match="is 27x28 pixels, but 28x28"):
        read_image(pgm, (28, 28))


# --- what is refused ----------------------------------------------------------------------

GOOD = grey_png(random_bytes(28 * 28, seed=9))
IHDR_END = 8 + 25                      # the signature and the IHDR chunk
IDAT_AT = GOOD.index(b"IDAT") - 4


def with_header(width=28, height=28, depth=8, colour=0, compression=0, filtering=0,
                interlace=0):
    return (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour,
                                                   compression, filtering, interlace))
            + GOOD[IHDR_END:])


def with_crc_fixed(data, at, new):
    """data with the bytes at `at` replaced by `new`, inside one chunk, its CRC recomputed."""
    start = 8
    while True:
        length = struct.unpack(">I", data[start:start + 4])[0]
        if start + 12 + length > at:
            break
        start += 12 + length
    body = data[start + 4:start + 8 + length]              # type and body
    k = max(at - start - 4, 0)                             # (at in a length field: the type)
    body = body[:k] + new + body[k + len(new):]
    return data[:start] + chunk(body[:4], body[4:]) + data[start + 12 + length:]


def rows_filtered_with(kind):
    raw = b"".join(bytes([kind]) + bytes(28) for _ in range(28))
    return SIGNATURE + GOOD[8:IHDR_END] + chunk(b"IDAT", zlib.compress(raw)) + \
        chunk(b"IEND", b"")


BAD_FILES = [
    ("empty", b"", "not a PNG or PGM image"),
    ("jpeg", b"\xff\xd8\xff\xe0" + bytes(100), "not a PNG or PGM image"),
    ("text", b"hello\n", "not a PNG or PGM image"),
    ("signature-only", SIGNATURE, "truncated PNG: the file ends before its IEND chunk"),
    ("cut-in-IHDR", GOOD[:20], "truncated PNG: the file ends inside its IHDR chunk"),
    ("cut-in-IDAT", GOOD[:IDAT_AT + 20], "truncated PNG: the file ends inside its IDAT chunk"),
    ("cut-before-IEND", GOOD[:-12], "truncated PNG: the file ends before its IEND chunk"),
    ("text-mode-copy", GOOD.replace(b"\r\n", b"\n"), "damaged PNG signature"),
    ("bad-crc", GOOD[:IDAT_AT + 10] + bytes([GOOD[IDAT_AT + 10] ^ 1]) + GOOD[IDAT_AT + 11:],
     "damaged PNG: the CRC of its IDAT chunk is wrong"),
    ("interlaced", with_header(interlace=1), "interlaced (Adam7); save it without interlacing"),
    ("16-bit-grey", with_header(depth=16), "16-bit greyscale; only 8-bit PNGs are read"),
    ("16-bit-rgba", with_header(depth=16, colour=6), "16-bit RGBA; only 8-bit PNGs are read"),
    ("1-bit-grey", with_header(depth=1), "1-bit greyscale; only 8-bit"),
    ("4-bit-palette", with_header(depth=4, colour=3), "4-bit palette; only 8-bit"),
    ("colour-type-5", with_header(colour=5), "colour type 5 with 8-bit samples does not exist"),
    ("rgb-4-bit", with_header(depth=4, colour=2), "colour type 2 with 4-bit samples does not"),
    ("interlace-2", with_header(interlace=2), "unknown interlace method 2"),
    ("compression-1", with_header(compression=1), "unknown compression or filter method"),
    ("zero-width", with_header(width=0), "it is 0x28 pixels"),
    ("huge", with_header(width=5000, height=5000), "5000x5000 pixels is too large"),
    ("filter-5", rows_filtered_with(5), "row 0 has filter type 5 (0 to 4 exist)"),
    ("no-IDAT", SIGNATURE + GOOD[8:IHDR_END] + chunk(b"IEND", b""), "no IDAT chunk"),
    ("short-data", SIGNATURE + GOOD[8:IHDR_END] + chunk(b"IDAT", zlib.compress(bytes(100)))
     + chunk(b"IEND", b""), "its image data holds 100 of the 812 bytes its size needs"),
    ("not-zlib", SIGNATURE + GOOD[8:IHDR_END] + chunk(b"IDAT", b"not zlib at all")
     + chunk(b"IEND", b""), "its image data does not inflate"),
    ("IDAT-first", SIGNATURE + GOOD[IHDR_END:], "the first chunk is IDAT, not IHDR"),
    ("two-IHDR", GOOD[:IHDR_END] + GOOD[8:IHDR_END] + GOOD[IHDR_END:], "a second IHDR chunk"),
    ("short-IHDR", SIGNATURE + chunk(b"IHDR", bytes(12)) + GOOD[IHDR_END:],
     "its IHDR chunk has 12 bytes, not 13"),
    ("critical-chunk", GOOD[:IHDR_END] + chunk(b"ZZZZ", b"x") + GOOD[IHDR_END:],
     "it has a ZZZZ chunk, which this reader does not know"),
    ("palette-no-PLTE", make_png(28, 28, bytes(784), 3), "a palette image without a PLTE chunk"),
    ("palette-index", make_png(28, 28, bytes([0, 1, 2, 3]) * 196, 3, palette=bytes(9)),
     "a pixel uses palette entry 3 of 3"),
    ("PLTE-size", make_png(28, 28, bytes(784), 3, palette=bytes(10)), "PLTE chunk has 10 bytes"),
    ("tRNS-long", make_png(28, 28, bytes(784), 3, palette=bytes(9), trns=bytes(4)),
     "tRNS chunk has more entries than the palette"),
    ("tRNS-size", make_png(28, 28, bytes(784), 0, trns=bytes(3)), "tRNS chunk has 3 bytes"),
    ("pgm-header", b"P5\n28 28\n", "damaged or truncated PGM header"),
    ("pgm-16-bit", make_pgm(28, 28, bytes(2 * 784), maxval=65535),
     "unsupported PGM: maxval 65535 (16-bit)"),
    ("pgm-truncated", make_pgm(28, 28, bytes(700)), "truncated PGM: 700 of the 784 pixel"),
    ("pgm-extra", make_pgm(28, 28, bytes(790)), "6 values more than its 28x28 pixels"),
    ("pgm-above-maxval", make_pgm(28, 28, bytes([16]) * 784, maxval=15),
     "a pixel value 16 is above its maxval 15"),
    ("pgm-zero", make_pgm(0, 28, b""), "damaged PGM: 0x28 pixels"),
    ("pgm-ascii-word", b"P2 2 1 255\n1 x\n", "P2 pixels are not all whole numbers"),
    ("pgm-ascii-short", make_pgm(28, 28, bytes(784), ascii=True)[:-10],
     "truncated PGM: 779 of the 784"),
    ("pgm-digits", b"P5 1234567890 1 255\n\0", "damaged or truncated PGM header"),
]


@pytest.mark.parametrize("data,problem", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_one_message_naming_it(tmp_path, data, problem):
    path = write(tmp_path, "bad", data)
    with pytest.raises(ImageError) as e:
        read_image(path)
    message = str(e.value)
    assert message.startswith(path + ": ") and problem in message, message
    assert "\n" not in message


def test_unreadable_paths(tmp_path, monkeypatch):
    """A directory, a missing file and a file beyond the size bound: ImageError naming it."""
    for path, problem in ((str(tmp_path), "cannot read: Is a directory"),
                          (str(tmp_path / "nope.png"), "cannot read: No such file")):
        with pytest.raises(ImageError, match="^%s: %s" % (path, problem)):
            read_image(path)
    monkeypatch.setattr(images, "MAX_FILE_BYTES", len(GOOD) - 1)
    path = write(tmp_path, "big.png", GOOD)
    with pytest.raises(ImageError, match="larger than 0 MB: not a small image"):
        read_image(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")
def test_an_endless_file_is_read_only_up_to_the_bound(monkeypatch):
    """/dev/zero given as an image: refused after MAX_FILE_BYTES + 1 bytes (an unbounded
    read, which would never end, fails this test instead)."""
    class Bounded:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def read(self, n=-1):
            assert n is not None and n >= 0, "an unbounded read"
            return self.f.read(n)

    monkeypatch.setattr(images, "open", lambda *a: Bounded(open(*a)), raising=False)
    monkeypatch.setattr(images, "MAX_FILE_BYTES", 3 << 20)
    with pytest.raises(ImageError, match="^/dev/zero: larger than 3 MB"):
        read_image("/dev/zero")


# --- fuzz: nothing but an Image or an ImageError ----------------------------------------------

SEEDS = [make_png(5, 4, random_bytes(5 * 4 * CHANNELS[c], seed=c), c, filters=(0, 1, 2, 3, 4),
                  palette=random_bytes(30) if c == 3 else None, idat_chunks=2)
         for c in (0, 2, 4, 6)] + [
    make_png(5, 4, bytes(v % 10 for v in random_bytes(20)), 3, palette=random_bytes(30),
             trns=b"\x10\x80"),
    make_pgm(5, 4, random_bytes(20)), make_pgm(5, 4, random_bytes(20), ascii=True)]


@st.composite
def mutated(draw):
    """A valid file cut short, with bits flipped anywhere, or with bytes changed inside a
    chunk (or inside the IHDR chunk's fields) whose CRC is then recomputed, which reaches
    past the CRC check."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    how = draw(st.sampled_from(["cut", "flip", "inside", "header"]))
    if how == "cut":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if not data.startswith(SIGNATURE):
        return bytes(data[:draw(st.integers(0, len(data)))]) + draw(st.binary(max_size=8))
    at = draw(st.integers(8 + 4, len(data) - 5) if how == "inside" else st.integers(16, 28))
    return with_crc_fixed(bytes(data), at, draw(st.binary(min_size=1, max_size=4)))


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_only_image_errors_come_out(data):
    try:
        image = images.decode(data)
    except ImageError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert len(image.pixels) == image.width * image.height


def test_the_fuzz_mutations_reach_the_decoder():
    """The 'inside' mutation gets past the CRC check: changing a byte of the image data
    with the CRC fixed is read as other pixels (or as a zlib error), not as a bad CRC."""
    data = with_crc_fixed(SEEDS[0], SEEDS[0].index(b"IHDR") + 7, b"\x06")   # width 5 -> 6
    with pytest.raises(ImageError, match="its image data holds 24 of the 28 bytes"):
        images.decode(data)
