"""IDX files, the format MNIST is distributed in: :func:`read_images`, :func:`read_labels`.

An IDX file is a 4-byte magic (0x00 0x00, the data type, the number of dimensions), one
big-endian 32-bit size per dimension, then the data, row-major; raw or gzip.  Only
unsigned bytes (type 0x08) are read: images are magic 0x00000803 (count x rows x
cols), labels 0x00000801 (count).  Everything is validated, and nothing is sized from
an untrusted header alone: the payload is read in bounded chunks.
"""

import gzip
import io
import os
import struct
import zlib

from ..errors import DataError

__all__ = ["read_idx", "read_images", "read_labels"]

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# IDX type codes; only unsigned bytes (0x08) are read here.
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16",
              0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def _payload_kind(ndims):
    return {1: "label", 3: "pixel"}.get(ndims, "data")


def _shape(dims):
    return "x".join(str(d) for d in dims)


class _Reader:
    """Read an IDX file, raw or gzip, turning every read failure into a DataError.

    The payload is read in steps of at most 1 MB, so what is held is what the file
    really has, whatever its header (or a gzip trailer, whose size field is the length
    mod 2**32 and anyone can write it) declares.
    """

    def __init__(self, path, f):
        self.path, self.gz, self.stream = path, False, f
        try:
            self.gz = f.peek(2)[:2] == _GZIP_MAGIC
        except OSError as e:
            self.fail(e)
        if self.gz:
            self.stream = gzip.GzipFile(fileobj=f, mode="rb")

    def fail(self, e):
        if self.gz:
            raise DataError("%s: corrupt gzip stream: %s" % (self.path, e)) from None
        raise DataError("%s: cannot read: %s" % (self.path, e)) from None

    def read(self, n):
        try:
            return self.stream.read(n)
        except (OSError, EOFError, zlib.error) as e:
            self.fail(e)

    def read_payload(self, n):
        """Up to n bytes: fewer when the data runs out first.

        A BytesIO grows in place and hands its buffer over without a copy, so the
        payload is held once (a list of chunks joined at the end would hold it twice).
        """
        buf, got = io.BytesIO(), 0
        while got < n:
            chunk = self.read(min(_CHUNK, n - got))
            if not chunk:
                break
            buf.write(chunk)
            got += len(chunk)
        return buf.getvalue()

    def count_rest(self):
        extra = 0
        while True:
            chunk = self.read(_CHUNK)
            if not chunk:
                return extra
            extra += len(chunk)


# What read_images and read_labels need: dimensions -> (what, their layout and magic).
_NEEDS = {3: ("images", "count x rows x cols, magic 0x00000803"),
          1: ("labels", "count, magic 0x00000801")}


def read_idx(path, ndims=None):
    """Read an IDX file of unsigned bytes: ``(dims, payload)``.

    ``dims`` is a tuple of ints, ``payload`` the ``prod(dims)`` data bytes.  Raw and
    gzip files are both accepted (gzip detected by its magic bytes).  With ``ndims``
    given, a header declaring another number of dimensions is refused before any data
    is read.  Any problem -- missing file, bad magic, unsupported type, wrong number
    of dimensions, truncated or over-long payload, corrupt gzip -- raises
    :class:`DataError` with one line naming the file.  Memory follows the data the
    file really holds, whatever its header declares.
    """
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise DataError("%s: no such file" % path) from None
    except OSError as e:
        raise DataError("%s: cannot open: %s" % (path, e.strerror or e)) from None
    with f:
        r = _Reader(path, f)
        try:
            return _read_idx(r, ndims)
        finally:
            if r.gz:
                r.stream.close()


def _read_idx(r, need):
    path = r.path
    head = r.read(4)
    if len(head) < 4:
        raise DataError("%s: %s: %d bytes, too short for an IDX header"
                        % (path, "empty file" if not head else "truncated", len(head)))
    zero, dtype, ndims = head[:2], head[2], head[3]
    if zero != b"\x00\x00":
        raise DataError("%s: not an IDX file: magic 0x%s (expected 0x00000803 for images "
                        "or 0x00000801 for labels)" % (path, head.hex().upper()))
    if dtype != 0x08:
        raise DataError("%s: unsupported IDX data type 0x%02X (%s) in magic 0x%s; only "
                        "unsigned bytes (0x08) are supported"
                        % (path, dtype, _IDX_TYPES.get(dtype, "unknown type"),
                           head.hex().upper()))
    if ndims == 0:
        raise DataError("%s: IDX magic 0x%s declares 0 dimensions" % (path, head.hex().upper()))
    raw = r.read(4 * ndims)
    if len(raw) < 4 * ndims:
        raise DataError("%s: truncated header: %d dimensions need %d bytes of sizes, file has %d"
                        % (path, ndims, 4 * ndims, len(raw)))
    dims = struct.unpack(">%dI" % ndims, raw)
    if need is not None and ndims != need:
        what, layout = _NEEDS.get(need, ("the data", None))
        raise DataError("%s: %s need %d dimension%s%s, the header declares %d (%s)"
                        % (path, what, need, "s" if need > 1 else "",
                           " (%s)" % layout if layout else "", ndims, _shape(dims)))
    n = 1
    for d in dims:
        n *= d
    payload = r.read_payload(n)
    kind = _payload_kind(ndims)
    if len(payload) < n:
        raise DataError("%s: truncated: header says %s = %d %s bytes, file has %d"
                        % (path, _shape(dims), n, kind, len(payload)))
    extra = r.count_rest()
    if extra:
        raise DataError("%s: %d bytes of trailing garbage after the %s = %d %s bytes "
                        "the header declares" % (path, extra, _shape(dims), n, kind))
    return dims, payload


def read_images(path):
    """Read an IDX image file (magic 0x00000803): ``(count, rows, cols, pixel bytes)``."""
    dims, payload = read_idx(path, ndims=3)
    return dims[0], dims[1], dims[2], payload


def read_labels(path, classes=None):
    """Read an IDX label file (magic 0x00000801): ``(count, label bytes)``.

    With ``classes`` given, every label must be below it (MNIST: 10).
    """
    dims, payload = read_idx(path, ndims=1)
    if classes is not None and payload:
        top = max(payload)
        if top >= classes:
            raise DataError("%s: label %d at index %d is out of range 0..%d"
                            % (os.fspath(path), top, payload.index(top), classes - 1))
    return dims[0], payload
