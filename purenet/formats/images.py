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

Anything else — another format, 16-bit or 1/2/4-bit samples, Adam7 interlacing, a
damaged or truncated file — is an :class:`ImageError` whose message names the file and
the problem.  Nothing else comes out of the decoders, whatever the bytes.
"""

import collections
import re
import struct
import zlib

from ..errors import ImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
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
    if data.startswith(b"\x89PNG"):
        raise ImageError("damaged PNG signature (was the file copied as text?)")
    raise ImageError("not a PNG or PGM image: save it as a PNG (8-bit greyscale or RGB) "
                     "or a PGM")


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
    modulo 256; this adds the prediction back.
    """
    out = bytearray()
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:                                            # Sub: a
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 255
        elif kind == 2:                                          # Up: b
            for i in range(stride):
                row[i] = (row[i] + prev[i]) & 255
        elif kind == 3:                                          # Average: (a + b) // 2
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:                                          # Paeth
            for i in range(stride):
                if i >= bpp:
                    row[i] = (row[i] + _paeth(row[i - bpp], prev[i], prev[i - bpp])) & 255
                else:
                    row[i] = (row[i] + prev[i]) & 255            # a = c = 0: Paeth picks b
        elif kind != 0:
            raise ImageError("damaged PNG: row %d has filter type %d (0 to 4 exist)"
                             % (y, kind))
        out += row
        prev = row
    return bytes(out)


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
        return bytes(map(over_white, grey, samples[n - 1::n]))
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
    """The luminance of each pixel of n samples whose first three are R, G, B."""
    return bytes(map(luminance, samples[0::n], samples[1::n], samples[2::n]))


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
