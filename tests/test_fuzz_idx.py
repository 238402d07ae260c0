"""Fuzzing the IDX reader: whatever the bytes, one DataError naming the file, and
memory that follows what the file really holds.

Inputs are the seed corpus in tests/fuzz_corpus/idx/ and IDX files built from random
header values (type byte, dimension count, dimensions up to 2**32 - 1), each then
truncated, bit-flipped, extended, gzip-wrapped (before or after the damage) or given
a gzip trailer forged to agree with the declared size.  Every reader is run under
tracemalloc: a reader that sizes a read from the header or the trailer shows up as a
MemoryError or as a peak far above the file's size.

Runs are derandomized (the same examples on every run) and keep no example database.
"""

import gzip
import os
import shutil
import struct
import tempfile
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from purenet.formats import idx
from purenet import data
from purenet.errors import DataError

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_corpus", "idx")
SEEDS = sorted(os.listdir(CORPUS))

# Far above what reading any input here needs (1 MB read steps, a few KB of data),
# far below what a read sized from a forged header or trailer takes.
PEAK_LIMIT = 8 << 20

FUZZ = settings(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

READERS = {
    "read_idx": idx.read_idx,
    "read_images": idx.read_images,
    "read_labels": lambda path: idx.read_labels(path, classes=10),
}


def idx_bytes(dims, payload, dtype=0x08, zero=b"\x00\x00"):
    return (zero + bytes([dtype, len(dims)]) + struct.pack(">%dI" % len(dims), *dims)
            + bytes(payload))


def product(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def gz(content):
    return gzip.compress(content, mtime=0)


def forge_trailer(packed, size):
    """packed (a gzip stream) with its trailer's size field set to size mod 2**32."""
    return packed[:-4] + struct.pack("<I", size % (1 << 32))


@pytest.fixture(scope="module")
def folder():
    d = tempfile.mkdtemp(prefix="purenet-fuzz-")
    yield d
    shutil.rmtree(d)


def put(folder, name, content):
    """Write a new file (removing the old one first: truncating a file is 20 times slower)."""
    path = os.path.join(folder, name)
    if os.path.exists(path):
        os.remove(path)
    with open(path, "wb") as f:
        f.write(content)
    return path


def call(reader, path):
    """reader(path) under tracemalloc: (result or the DataError, peak bytes above the start).

    Anything but a DataError propagates and fails the test.
    """
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        try:
            result = reader(path)
        except DataError as e:
            result = e
        return result, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def check_reader(name, path, content):
    """The contract of every reader, whatever the file holds."""
    result, peak = call(READERS[name], path)
    assert peak < PEAK_LIMIT, (name, peak, content[:64])
    if isinstance(result, DataError):
        msg = str(result)
        assert msg.startswith(path + ":") and "\n" not in msg, msg
        return None
    if name == "read_idx":
        dims, payload = result
        assert len(payload) == product(dims)
    elif name == "read_images":
        count, rows, cols, pixels = result
        assert len(pixels) == count * rows * cols
    else:
        count, labels = result
        assert len(labels) == count and all(b < 10 for b in labels)
    return result


# --------------------------------------------------------------------------- strategies

dimension = st.one_of(
    st.integers(0, 6),
    st.sampled_from([0xFFFFFFFF, 1 << 31, 60000, 47040000]),
    st.integers(0, (1 << 32) - 1),
)


@st.composite
def headers(draw):
    """IDX bytes from random header values, with a payload that may or may not fit."""
    dtype = draw(st.one_of(st.just(0x08), st.integers(0, 255)))
    ndims = draw(st.one_of(st.sampled_from([1, 3]), st.integers(0, 6), st.integers(7, 255)))
    if ndims <= 6:
        dims = draw(st.lists(dimension, min_size=ndims, max_size=ndims))
    else:                       # many dimensions: a few values, repeated (cheap to draw)
        few = draw(st.lists(dimension, min_size=1, max_size=3))
        dims = (few * ndims)[:ndims]
    zero = draw(st.one_of(st.just(b"\x00\x00"), st.binary(min_size=2, max_size=2)))
    n = product(dims)
    if n <= 256 and draw(st.booleans()):
        payload = draw(st.binary(min_size=n, max_size=n))
    else:
        payload = draw(st.binary(max_size=64))
    return idx_bytes(dims, payload, dtype, zero)


def seeds():
    def read(name):
        with open(os.path.join(CORPUS, name), "rb") as f:
            return f.read()
    return st.sampled_from(SEEDS).map(read)


@st.composite
def damaged(draw, base):
    """base with up to three truncations, bit flips or appended bytes."""
    content = bytearray(base)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["cut", "flip", "append"]))
        if op == "cut":
            del content[draw(st.integers(0, len(content))):]
        elif op == "flip" and content:
            i = draw(st.integers(0, len(content) - 1))
            content[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "append":
            content += draw(st.binary(min_size=1, max_size=16))
    return bytes(content)


@st.composite
def files(draw):
    """Raw or gzip IDX files, damaged before or after compression."""
    content = draw(st.one_of(seeds(), headers()))
    wrap = draw(st.sampled_from(["raw", "gzip", "gzip-then-damage", "forged-trailer"]))
    if wrap == "raw":
        return draw(damaged(content))
    if wrap == "gzip":
        return gz(draw(damaged(content)))
    if wrap == "gzip-then-damage":
        return draw(damaged(gz(content)))
    if len(content) < 8 or content[:2] != b"\x00\x00":
        return gz(content)
    ndims = content[3]
    dims = struct.unpack(">%dI" % ndims, content[4:4 + 4 * ndims].ljust(4 * ndims, b"\x00"))
    return forge_trailer(gz(content), 4 + 4 * ndims + product(dims))


# --------------------------------------------------------------------------- the corpus

# What each seed gives: a result, or the start of the message after "path: ".
CORPUS_OUTCOMES = {
    "images-2x3x4.idx": ((2, 3, 4), bytes(range(24))),
    "images-4-dims.idx": ((1, 2, 2, 1), bytes(range(4))),
    "images-forged-trailer.idx.gz": "corrupt gzip stream",
    "labels-5.idx.gz": ((5,), bytes([0, 1, 9, 3, 4])),
    "labels-two-members.idx.gz": ((3,), bytes([1, 2, 3])),
}


def test_the_corpus_is_small_and_every_seed_has_a_known_outcome():
    assert sorted(CORPUS_OUTCOMES) == SEEDS
    assert sum(os.path.getsize(os.path.join(CORPUS, name)) for name in SEEDS) < 1024


@pytest.mark.parametrize("name", SEEDS)
def test_corpus_outcomes(name):
    path = os.path.join(CORPUS, name)
    result, peak = call(idx.read_idx, path)
    assert peak < PEAK_LIMIT
    expected = CORPUS_OUTCOMES[name]
    if isinstance(expected, str):
        assert isinstance(result, DataError) and str(result).startswith(
            "%s: %s" % (path, expected)), result
    else:
        assert result == expected


# --------------------------------------------------------------------------- properties

@settings(FUZZ, max_examples=2500)
@given(content=files(), reader=st.sampled_from(sorted(READERS)))
@example(content=forge_trailer(gz(idx_bytes((60000, 60000, 60), b"")), 16 + 216 * 10 ** 9),
         reader="read_images")
@example(content=forge_trailer(gz(idx_bytes((1000, 1000, 100), b"")), 16 + 10 ** 8),
         reader="read_idx")
@example(content=idx_bytes((0xFFFFFFFF,) * 255, b""), reader="read_idx")
def test_readers_only_raise_data_error_in_bounded_memory(folder, content, reader):
    check_reader(reader, put(folder, "fuzzed", content), content)


@settings(FUZZ, max_examples=300)
@given(dims=st.lists(st.integers(0, 5), min_size=1, max_size=4), compress=st.booleans(),
       data_=st.data())
def test_valid_files_read_back_exactly(folder, dims, compress, data_):
    payload = data_.draw(st.binary(min_size=product(dims), max_size=product(dims)))
    content = idx_bytes(dims, payload)
    path = put(folder, "valid", gz(content) if compress else content)
    assert idx.read_idx(path) == (tuple(dims), payload)


def tiny_mnist_files():
    """The four files of a 3-train, 2-test MNIST of 2x2 images (name -> content)."""
    out = {}
    for prefix, n in (("train", 3), ("t10k", 2)):
        out[prefix + "-images-idx3-ubyte"] = idx_bytes((n, 2, 2), bytes(range(4 * n)))
        out[prefix + "-labels-idx1-ubyte"] = idx_bytes((n,), bytes(range(n)))
    return out


@settings(FUZZ, max_examples=500)
@given(role=st.sampled_from(sorted(tiny_mnist_files())), compress=st.booleans(),
       data_=st.data())
def test_load_mnist_files_only_raises_data_error(folder, role, compress, data_):
    """One of four good files damaged; the error, if any, names a file of the folder."""
    d = os.path.join(folder, "mnist")
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    for name, content in tiny_mnist_files().items():
        if name == role:
            content = data_.draw(st.one_of(damaged(content), headers()))
        put(d, name + ".gz" if compress else name, gz(content) if compress else content)
    result, peak = call(data.load_mnist_files, d)
    assert peak < PEAK_LIMIT
    if isinstance(result, DataError):
        msg = str(result)
        assert msg.startswith(d + os.sep) and "\n" not in msg, msg
    else:
        train, test = result
        assert train.n >= 1 and len(train.pixels) == train.n * train.n_in
        assert len(test.labels) == test.n and len(test.pixels) == test.n * test.n_in
