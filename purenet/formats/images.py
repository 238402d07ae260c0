"""Small greyscale images from PNG and PGM files, decoded with the standard library only.

:func:`read_image` returns an :class:`Image`: its width, its height and its pixels as
``bytes``, one grey value 0..255 per pixel, row by row from the top (the layout of an
MNIST image).  The format is told by the file's first bytes, not by its name.

* **PNG**, 8 bits per channel, not interlaced: greyscale (colour type 0), RGB (2),
  palette (3), greyscale with alpha (4) and RGBA (6).  The chunks are checked against
  their CRCs (``zlib.crc32``), the IDAT chunks joined and inflated (``zlib``), and each
  row unfiltered (None, Sub, Up, Average or Paeth).  Colour becomes grey by the
  luminance of ITU-R BT.601, ``0.299 R + 0.587 G + 0.114 B`` rounded half up (computed
  in integers: ``(299 R + 587 G + 114 B + 500) // 1000``), so a grey pixel keeps its
  value.  Transparency (an alpha channel, or a tRNS chunk) is composited over white, as
  an image viewer shows it on a page: ``(v a + 255 (255 - a) + 127) // 255``.  So dark
  ink drawn on a transparent canvas reads as dark on light.
* **PGM**, binary (``P5``) or ASCII (``P2``), maxval at most 255; a maxval other than
  255 is scaled to 0..255 (rounded half up).
* **JPEG**, the format phones save, when Pillow is installed (``pip install
  "purenet[jpeg]"``): Pillow decodes it to RGB, turned upright by its EXIF orientation as
  a viewer shows it, then the same luminance makes it grey.  Without Pillow a JPEG is an
  ImageError saying to install it or to save the image as a PNG.

:func:`encode_png` writes an :class:`Image` as an 8-bit greyscale PNG.

Anything else — another format, 16-bit or 1/2/4-bit samples, Adam7 interlacing, a
damaged or truncated file — is an :class:`ImageError` whose message names the file and
the problem.  Nothing else comes out of the decoders, whatever the bytes.
"""

import collections
import io
import re
import struct
import sys
import zlib

from ..errors import ImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"         # start of image, then the first marker
MAX_FILE_BYTES = 64 * 1024 * 1024      # far more than any digit; a bound for /dev/zero
MAX_PIXELS = 1 << 24                   # an image larger than this is refused, not inflated

# Channels per pixel, by PNG colour type.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# The bit depths the PNG standard allows, by colour type (this module reads 8).
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_COLOUR_NAMES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}

Image = collections.namedtuple("Image", "width height pixels")
Image.__doc__ = "A greyscale image: pixels holds width * height values 0..255, row by row."


def read_image(path, size=None):
    """The greyscale :class:`Image` in the PNG or PGM file at path.

    ``size``, a (width, height) pair, refuses an image of any other size before its
    pixels are decoded (a photo is not inflated only to be refused).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ImageError("%s: cannot read: %s" % (path, e.strerror or e)) from None
    try:
        if len(data) > MAX_FILE_BYTES:
            raise ImageError("larger than %d MB: not a small image" % (MAX_FILE_BYTES >> 20))
        return decode(data, size)
    except ImageError as e:
        e.args = ("%s: %s" % (path, e),)
        raise


def decode(data, size=None):
    """The :class:`Image` in the bytes of a PNG or PGM file (see :func:`read_image`)."""
    if data.startswith(PNG_SIGNATURE):
        return decode_png(data, size)
    if data[:2] in (b"P5", b"P2"):
        return decode_pgm(data, size)
    if data.startswith(JPEG_SIGNATURE):
        return decode_jpeg(data, size)
    if data.startswith(b"\x89PNG"):
        raise ImageError("damaged PNG signature (was the file copied as text?)")
    raise ImageError("not a PNG, PGM or JPEG image: save it as a PNG (8-bit greyscale or "
                     "RGB) or a PGM")


def _check_size(width, height, size):
    """Refuse an image that is not (width, height) == size, or has too many pixels to read."""
    if size is not None and (width, height) != tuple(size):
        raise ImageError("the image is %dx%d pixels, but %dx%d are needed: scale it to %dx%d"
                         % ((width, height) + tuple(size) * 2))
    if width * height > MAX_PIXELS:
        raise ImageError("%dx%d pixels is too large (at most %d pixels are read)"
                         % (width, height, MAX_PIXELS))


# --- PNG ----------------------------------------------------------------------------

def decode_png(data, size=None):
    """The :class:`Image` in the bytes of a PNG file (see the module for what is read)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ImageError("not a PNG file")
    header, chunks = None, {b"PLTE": None, b"tRNS": None}
    idat = []
    for kind, body in _chunks(data):
        if header is None:
            if kind != b"IHDR":
                raise ImageError("damaged PNG: the first chunk is %s, not IHDR" % _name(kind))
            header = _read_header(body, size)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif kind in chunks:
            chunks[kind] = body
        elif kind == b"IHDR":
            raise ImageError("damaged PNG: a second IHDR chunk")
        elif not kind[0] & 0x20:                  # bit 5 of the first letter: ancillary
            raise ImageError("unsupported PNG: it has a %s chunk, which this reader does not "
                             "know" % _name(kind))
    width, height, colour = header
    if not idat:
        raise ImageError("damaged PNG: no image data (no IDAT chunk)")
    samples = _unfilter(_inflate(b"".join(idat), height, width * _CHANNELS[colour]),
                        height, width * _CHANNELS[colour], _CHANNELS[colour])
    return Image(width, height, _to_grey(samples, colour, chunks[b"PLTE"], chunks[b"tRNS"]))


def _chunks(data):
    """(type, body) of each chunk after the signature, each one's CRC checked."""
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ImageError("truncated PNG: the file ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise ImageError("truncated PNG: the file ends inside its %s chunk" % _name(kind))
        body = data[pos + 8:end - 4]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4:end])[0]:
            raise ImageError("damaged PNG: the CRC of its %s chunk is wrong" % _name(kind))
        yield kind, body
        pos = end


def _name(kind):
    """A chunk type for a message: IDAT as it is, four bytes that are not letters as a repr."""
    return kind.decode("ascii") if kind.isalpha() else repr(kind)


def _read_header(body, size):
    """(width, height, colour type) from the IHDR chunk, once every field is checked."""
    if len(body) != 13:
        raise ImageError("damaged PNG: its IHDR chunk has %d bytes, not 13" % len(body))
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", body)
    if width == 0 or height == 0:
        raise ImageError("damaged PNG: it is %dx%d pixels" % (width, height))
    if colour not in _CHANNELS or depth not in _DEPTHS[colour]:
        raise ImageError("damaged PNG: colour type %d with %d-bit samples does not exist"
                         % (colour, depth))
    if depth != 8:
        raise ImageError("unsupported PNG: %d-bit %s; only 8-bit PNGs are read: save it with "
                         "8 bits per channel" % (depth, _COLOUR_NAMES[colour]))
    if compression != 0 or filtering != 0:
        raise ImageError("damaged PNG: unknown compression or filter method (%d, %d)"
                         % (compression, filtering))
    if interlace == 1:
        raise ImageError("unsupported PNG: interlaced (Adam7); save it without interlacing")
    if interlace != 0:
        raise ImageError("damaged PNG: unknown interlace method %d" % interlace)
    _check_size(width, height, size)
    return width, height, colour


def _inflate(compressed, height, stride):
    """The filtered rows: height rows of a filter-type byte and stride bytes."""
    expected = height * (1 + stride)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, expected)
    except zlib.error as e:
        raise ImageError("damaged PNG: its image data does not inflate (zlib: %s)" % e) from None
    if len(raw) < expected:
        raise ImageError("damaged PNG: its image data holds %d of the %d bytes its size needs"
                         % (len(raw), expected))
    return raw


def _paeth(a, b, c):
    """The Paeth predictor: of left (a), up (b) and up-left (c), the one nearest a + b - c."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw, height, stride, bpp):
    """The samples of every row, each row's filter undone (bpp: bytes per pixel).

    Each filter predicts a byte from its left neighbour a (bpp bytes back), the byte
    above b and the one above-left c (0 outside the image), and stores the difference
    modulo 256; this adds the prediction back.  Up is added to the whole row at once
    (:func:`_add_rows`); Sub and Paeth go byte by byte only where a byte is not simply
    its left neighbour again (:func:`_undo_in_runs`), which on a page of paper is most
    of it.
    """
    out = bytearray()
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1 or kind == 4:                               # Sub, Paeth
            _undo_in_runs(row, prev, bpp, kind)
        elif kind == 2:                                          # Up: b
            row = bytearray(_add_rows(row, prev))
        elif kind == 3:                                          # Average: (a + b) // 2
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
        elif kind != 0:
            raise ImageError("damaged PNG: row %d has filter type %d (0 to 4 exist)"
                             % (y, kind))
        out += row
        prev = row
    return bytes(out)


def _add_rows(x, y):
    """(x[i] + y[i]) mod 256 for every byte, on whole rows as big integers: the low 7 bits
    of each byte add without reaching the next byte, and the top bit is their carry xor
    the two top bits."""
    n = len(x)
    low, top = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    a, b = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    return (((a & low) + (b & low)) ^ ((a ^ b) & top)).to_bytes(n, "big")


_BUSY = re.compile(rb"[^\x00]+")


def _undo_in_runs(row, prev, bpp, kind):
    """Undo Sub (kind 1: + a) or Paeth (kind 4) in place.

    Where the stored byte is 0 and, for Paeth, b == c, the prediction is a (Paeth's
    p = a + b - c = a is nearest a), so the byte is its left neighbour: such runs are
    copied a pixel at a time; the other bytes, and the first pixel, are computed."""
    stride = len(row)
    busy = _busy_bytes(row, prev, bpp, kind)
    done = bpp
    for i in range(bpp):
        row[i] = (row[i] + (prev[i] if kind == 4 else 0)) & 255  # a = c = 0: Paeth picks b
    for match in _BUSY.finditer(busy, bpp):
        start, end = match.span()
        _repeat_left(row, bpp, done, start)
        for i in range(start, end):
            if kind == 1:
                row[i] = (row[i] + row[i - bpp]) & 255
            else:
                row[i] = (row[i] + _paeth(row[i - bpp], prev[i], prev[i - bpp])) & 255
        done = end
    _repeat_left(row, bpp, done, stride)


def _busy_bytes(row, prev, bpp, kind):
    """Bytes that are 0 where row[i] is its left neighbour again: the stored byte is 0
    and, for Paeth, prev[i] == prev[i - bpp] (xor 0); the first pixel is never 0."""
    stride = len(row)
    busy = int.from_bytes(row, "big")
    if kind == 4:
        busy |= int.from_bytes(prev[bpp:], "big") ^ int.from_bytes(prev[:stride - bpp], "big")
    return busy.to_bytes(stride, "big")


def _repeat_left(row, bpp, start, end):
    """row[i] = row[i - bpp] for i in start..end-1: the pixel before start, repeated."""
    if end > start:
        pixel = row[start - bpp:start]
        row[start:end] = (pixel * ((end - start) // bpp + 1))[:end - start]


def luminance(r, g, b):
    """ITU-R BT.601 luma of an 8-bit RGB colour, 0.299 R + 0.587 G + 0.114 B, rounded half
    up (in integers, so exactly)."""
    return (299 * r + 587 * g + 114 * b + 500) // 1000


def over_white(value, alpha):
    """A grey value of opacity alpha (0..255) composited over white, rounded."""
    return (value * alpha + 255 * (255 - alpha) + 127) // 255


def _to_grey(samples, colour, palette, transparency):
    """One grey byte per pixel from the unfiltered samples of a colour type."""
    if colour == 3:
        return _from_palette(samples, palette, transparency)
    if colour in (4, 6):                  # an alpha channel: the last sample of each pixel
        n = _CHANNELS[colour]
        grey = samples[::n] if colour == 4 else _luma(samples, 4)
        return _composite(grey, samples[n - 1::n])
    grey = samples if colour == 0 else _luma(samples, 3)
    if transparency is None:
        return grey
    # tRNS for greyscale or RGB: one 16-bit colour (its low byte at 8 bits) is transparent.
    if len(transparency) != (2 if colour == 0 else 6):
        raise ImageError("damaged PNG: its tRNS chunk has %d bytes" % len(transparency))
    if any(transparency[0::2]):
        return grey                       # a 16-bit value: no 8-bit pixel has it
    key = transparency[1::2]
    n = _CHANNELS[colour]
    return bytes(255 if samples[i * n:i * n + n] == key else v for i, v in enumerate(grey))


def _luma(samples, n):
    """The luminance of each pixel of n samples whose first three are R, G, B: R itself
    where R = G = B everywhere (luminance keeps grey), else :func:`luma_in_lanes`."""
    r, g, b = samples[0::n], samples[1::n], samples[2::n]
    if r == g == b:
        return r
    return b"".join(luma_in_lanes(r[k:k + LANE_CHUNK], g[k:k + LANE_CHUNK], b[k:k + LANE_CHUNK])
                    for k in range(0, len(r), LANE_CHUNK))


LANE_CHUNK = 1 << 16           # pixels per big integer: 512 KB, so memory stays small
LUMA_SHIFT = 28                # floor(S · M / 2^28) = floor(S / 1000) for 0 <= S <= 255500,
LUMA_MAGIC = -(-(1 << LUMA_SHIFT) // 1000)        # M = ceil(2^28 / 1000) (checked in tests)


def luma_in_lanes(r, g, b):
    """:func:`luminance` of every pixel at once, exactly: each pixel's channels sit in a
    64-bit lane of one big integer, S = 299 R + 587 G + 114 B + 500 is formed lane by lane
    (at most 255500, no carry into the next lane), S // 1000 is (S · M) >> 28 (at most
    2^37 before the shift), and the low byte of each lane is the luma."""
    n = len(r)

    def lanes(values):
        buf = bytearray(8 * n)
        buf[0::8] = values
        return int.from_bytes(buf, "little")
    ones = lanes(b"\x01" * n)
    total = 299 * lanes(r) + 587 * lanes(g) + 114 * lanes(b) + 500 * ones
    return (((total * LUMA_MAGIC) >> LUMA_SHIFT) & (255 * ones)).to_bytes(8 * n, "little")[0::8]


_OVER_WHITE = []               # the 65536 values over_white(v, a) at a * 256 + v, once needed


def _composite(grey, alpha):
    """over_white of each grey value and its alpha: grey itself where every alpha is 255,
    else looked up in a table of all 65536 pairs."""
    if alpha.count(255) == len(alpha):
        return grey
    if not _OVER_WHITE:
        _OVER_WHITE.append(bytes(over_white(v, a) for a in range(256) for v in range(256)))
    pairs = bytearray(2 * len(grey))
    low, high = (0, 1) if sys.byteorder == "little" else (1, 0)
    pairs[low::2], pairs[high::2] = grey, alpha                  # a * 256 + v, native order
    return bytes(map(_OVER_WHITE[0].__getitem__, memoryview(pairs).cast("H")))


def _from_palette(indices, palette, transparency):
    """Each palette index as the grey of its entry (composited over white by its tRNS
    alpha, 255 where tRNS is shorter than the palette)."""
    if palette is None:
        raise ImageError("damaged PNG: a palette image without a PLTE chunk")
    entries = len(palette) // 3
    if len(palette) % 3 or not 1 <= entries <= 256:
        raise ImageError("damaged PNG: its PLTE chunk has %d bytes" % len(palette))
    alphas = bytes(transparency or b"")
    if len(alphas) > entries:
        raise ImageError("damaged PNG: its tRNS chunk has more entries than the palette")
    alphas += b"\xff" * (entries - len(alphas))
    table = bytes(over_white(luminance(*palette[3 * i:3 * i + 3]), alphas[i])
                  for i in range(entries))
    if max(indices) >= entries:
        raise ImageError("damaged PNG: a pixel uses palette entry %d of %d"
                         % (max(indices), entries))
    return indices.translate(table + bytes(256 - entries))


def encode_png(image):
    """The bytes of an 8-bit greyscale PNG of the :class:`Image`: its rows unfiltered
    (filter type 0), deflated in one IDAT chunk."""
    width, height, pixels = image
    rows = b"".join(b"\0" + pixels[y * width:(y + 1) * width] for y in range(height))
    return (PNG_SIGNATURE
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b""))


def _chunk(kind, body):
    """A PNG chunk: its length, type, body and the CRC of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# --- JPEG (with Pillow) ------------------------------------------------------------

def decode_jpeg(data, size=None):
    """The :class:`Image` in the bytes of a JPEG file, decoded by Pillow (an optional
    dependency) and turned upright by its EXIF orientation; grey by :func:`luminance`."""
    try:
        from PIL import Image as PillowImage, ImageOps        # optional: purenet[jpeg]
    except ImportError:
        raise ImageError('a JPEG: reading it needs Pillow (pip install "purenet[jpeg]"), '
                         "or save it as a PNG") from None
    try:
        with PillowImage.open(io.BytesIO(data)) as jpeg:
            width, height = jpeg.size
            _check_size(width, height, None)            # before decoding its pixels
            upright = ImageOps.exif_transpose(jpeg)
            _check_size(upright.width, upright.height, size)
            rgb = upright.convert("RGB")
            return Image(rgb.width, rgb.height, _luma(rgb.tobytes(), 3))
    except ImageError:
        raise
    except Exception as e:                              # whatever Pillow says about the bytes
        raise ImageError("damaged JPEG: %s" % (str(e).splitlines() or [type(e).__name__])[0]
                         ) from None


# --- PGM ----------------------------------------------------------------------------

# "P5" or "P2", width, height and maxval, separated by whitespace and # comments, then
# one whitespace character before the pixels.
_SEP = rb"(?:\s|#[^\r\n]*[\r\n])+"
_PGM_HEADER = re.compile(rb"P([25])" + _SEP + rb"(\d{1,9})" + _SEP + rb"(\d{1,9})" + _SEP
                         + rb"(\d{1,9})\s")


def decode_pgm(data, size=None):
    """The :class:`Image` in the bytes of a PGM file: binary (P5) or ASCII (P2), one image,
    maxval at most 255 (scaled to 0..255)."""
    match = _PGM_HEADER.match(data)
    if match is None:
        raise ImageError("damaged or truncated PGM header (P5 or P2, width, height, maxval)")
    width, height, maxval = (int(v) for v in match.group(2, 3, 4))
    if width == 0 or height == 0 or maxval == 0:
        raise ImageError("damaged PGM: %dx%d pixels, maxval %d" % (width, height, maxval))
    if maxval > 255:
        raise ImageError("unsupported PGM: maxval %d (16-bit); only maxval up to 255 is read"
                         % maxval)
    _check_size(width, height, size)
    n, body = width * height, data[match.end():]
    if match.group(1) == b"5":
        values, count = body[:n], len(body)
    else:
        words = body.split()
        if not all(w.isdigit() and len(w) < 10 for w in words):
            raise ImageError("damaged PGM: its P2 pixels are not all whole numbers")
        count = len(words)
        values = [int(w) for w in words[:n]]
    if count < n:
        raise ImageError("truncated PGM: %d of the %d pixel values of %dx%d"
                         % (count, n, width, height))
    if count > n:
        raise ImageError("damaged PGM: %d values more than its %dx%d pixels (one image per "
                         "file is read)" % (count - n, width, height))
    if max(values) > maxval:
        raise ImageError("damaged PGM: a pixel value %d is above its maxval %d"
                         % (max(values), maxval))
    if maxval == 255:
        return Image(width, height, bytes(values))
    return Image(width, height, bytes((2 * 255 * v + maxval) // (2 * maxval) for v in values))
