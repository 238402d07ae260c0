"""Tests for purenet.data: IDX reading, MNIST lookup/download, sklearn sources.

No test needs the network: downloads come from a local http.server on 127.0.0.1
serving files the test writes, and every file is written into tmp_path.
"""

import contextlib
import functools
import gzip
import hashlib
import http.server
import subprocess
import os
import socket
import struct
import sys
import threading
import types

import pytest

from purenet.formats import idx
from purenet import data
from purenet.errors import DataError
from purenet.dataset import Dataset, as_dataset

from helpers import mnist_dir, needs_mnist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = [name for _, name in data.MNIST_FILES]


# --------------------------------------------------------------------------- helpers

def idx_bytes(dims, payload, dtype=0x08, magic=None):
    head = magic if magic is not None else bytes([0, 0, dtype, len(dims)])
    return head + struct.pack(">%dI" % len(dims), *dims) + bytes(payload)


def write(path, content, gz=False):
    path = str(path)
    with open(path, "wb") as f:
        f.write(gzip.compress(content, mtime=0) if gz else content)
    return path


def tiny_mnist(n_train=6, n_test=4, rows=2, cols=3, shift=0):
    """The four MNIST files' contents for a tiny fake MNIST (name -> uncompressed bytes)."""
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = bytes((7 * i + shift) % 256 for i in range(n * rows * cols))
        labels = bytes((i + shift) % 10 for i in range(n))
        out["%s-images-idx3-ubyte.gz" % prefix] = idx_bytes((n, rows, cols), pixels)
        out["%s-labels-idx1-ubyte.gz" % prefix] = idx_bytes((n,), labels)
    return out


def write_mnist(directory, gz=True, **kw):
    os.makedirs(str(directory), exist_ok=True)
    for name, content in tiny_mnist(**kw).items():
        write(os.path.join(str(directory), name if gz else name[:-3]), content, gz=gz)
    return str(directory)


def message(excinfo):
    return str(excinfo.value)


def marked_missing(text):
    """The file names that the put-these-files instructions in text mark (missing)."""
    return [line.split()[0] for line in text.splitlines() if line.endswith("(missing)")]


def one_line(excinfo):
    msg = message(excinfo)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $PURENET_DATA, a default cache inside tmp_path, no proxies."""
    monkeypatch.delenv("PURENET_DATA", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    cache = tmp_path / "default-cache"
    monkeypatch.setattr(data, "default_cache_dir", lambda: str(cache))
    return cache


# --------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    pixels = bytes(range(24))
    p = write(tmp_path / "img", idx_bytes((2, 3, 4), pixels), gz=gz)
    assert idx.read_idx(p) == ((2, 3, 4), pixels)
    assert idx.read_images(p) == (2, 3, 4, pixels)
    q = write(tmp_path / "lab", idx_bytes((5,), b"\x00\x01\x09\x03\x04"), gz=gz)
    assert idx.read_labels(q) == (5, b"\x00\x01\x09\x03\x04")


def test_gzip_detected_by_magic_not_name(tmp_path):
    content = idx_bytes((3,), b"\x01\x02\x03")
    raw_named_gz = write(tmp_path / "labels.gz", content)
    gz_named_raw = write(tmp_path / "labels.idx", content, gz=True)
    assert idx.read_labels(raw_named_gz) == (3, b"\x01\x02\x03")
    assert idx.read_labels(gz_named_raw) == (3, b"\x01\x02\x03")


def test_general_ubyte_idx_and_empty_payload(tmp_path):
    p = write(tmp_path / "two", idx_bytes((2, 2), b"abcd"))
    assert idx.read_idx(p) == ((2, 2), b"abcd")
    q = write(tmp_path / "none", idx_bytes((0, 28, 28), b""))
    assert idx.read_images(q) == (0, 28, 28, b"")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path, gz):
    p = write(tmp_path / "train-images-idx3-ubyte.gz",
              idx_bytes((3, 28, 28), bytes(1000)), gz=gz)
    with pytest.raises(DataError) as e:
        idx.read_images(p)
    msg = one_line(e)
    assert msg == "%s: truncated: header says 3x28x28 = 2352 pixel bytes, file has 1000" % p


def test_truncated_header(tmp_path):
    p = write(tmp_path / "f", b"\x00\x00\x08\x03\x00\x00\x00\x02\x00")
    with pytest.raises(DataError) as e:
        idx.read_idx(p)
    assert one_line(e).startswith(p + ": truncated header")
    q = write(tmp_path / "empty", b"")
    with pytest.raises(DataError) as e:
        idx.read_idx(q)
    assert one_line(e).startswith(q + ": empty file")


def test_truncated_labels_say_label_bytes(tmp_path):
    p = write(tmp_path / "l", idx_bytes((10,), bytes(4)), gz=True)
    with pytest.raises(DataError) as e:
        idx.read_labels(p)
    assert "10 = 10 label bytes, file has 4" in one_line(e)


def test_wrong_magic(tmp_path):
    p = write(tmp_path / "png", b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(DataError) as e:
        idx.read_idx(p)
    msg = one_line(e)
    assert msg.startswith(p + ": not an IDX file: magic 0x89504E47")


def test_wrong_type_code(tmp_path):
    p = write(tmp_path / "floats", idx_bytes((2,), bytes(8), dtype=0x0D), gz=True)
    with pytest.raises(DataError) as e:
        idx.read_idx(p)
    msg = one_line(e)
    assert msg.startswith(p + ": unsupported IDX data type 0x0D (float32)")


def test_zero_dimensions(tmp_path):
    p = write(tmp_path / "z", b"\x00\x00\x08\x00\x05")
    with pytest.raises(DataError) as e:
        idx.read_idx(p)
    assert "0 dimensions" in one_line(e)


def test_images_vs_labels_kind(tmp_path):
    lab = write(tmp_path / "lab", idx_bytes((2,), b"\x01\x02"))
    img = write(tmp_path / "img", idx_bytes((1, 1, 2), b"\x01\x02"))
    with pytest.raises(DataError) as e:
        idx.read_images(lab)
    assert one_line(e) == (lab + ": images need 3 dimensions (count x rows x cols, magic "
                           "0x00000803), the header declares 1 (2)")
    with pytest.raises(DataError) as e:
        idx.read_labels(img)
    assert one_line(e) == (img + ": labels need 1 dimension (count, magic 0x00000801), "
                           "the header declares 3 (1x1x2)")


@pytest.mark.parametrize("gz", [False, True])
def test_dimension_count_is_checked_before_the_payload(tmp_path, gz):
    # 4 dimensions and a truncated payload: the wrong count is the problem to name,
    # not the truncation.
    p = write(tmp_path / "four", idx_bytes((2, 3, 4, 5), bytes(7)), gz=gz)
    with pytest.raises(DataError) as e:
        idx.read_images(p)
    assert one_line(e).startswith(p + ": images need 3 dimensions (count x rows x cols")
    assert message(e).endswith("the header declares 4 (2x3x4x5)")
    with pytest.raises(DataError) as e:
        idx.read_labels(p)
    assert one_line(e).startswith(p + ": labels need 1 dimension (count, magic 0x00000801)")


def forged_gzip_trailer(dims):
    """A gzip IDX header declaring dims, whose trailer size field is forged to match them.

    The stream holds only the header: a reader that trusts the trailer asks for
    prod(dims) bytes at once.
    """
    head = idx_bytes(dims, b"")
    n = 1
    for d in dims:
        n *= d
    packed = gzip.compress(head, mtime=0)
    return packed[:-4] + struct.pack("<I", (len(head) + n) % (1 << 32))


def test_gzip_trailer_matching_a_huge_count_does_not_allocate(tmp_path):
    import tracemalloc
    dims = (60000, 60000, 60)        # 216 GB declared; the trailer agrees mod 2**32
    p = write(tmp_path / "bomb.gz", forged_gzip_trailer(dims))
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as e:
            idx.read_images(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert one_line(e).startswith(p + ": corrupt gzip stream")
    assert peak < 4 << 20, peak


@pytest.mark.parametrize("gz", [False, True])
def test_payload_is_read_in_bounded_chunks(tmp_path, monkeypatch, gz):
    # A payload far bigger than one chunk: read whole, in steps of at most a chunk.
    monkeypatch.setattr(idx, "_CHUNK", 1000)
    sizes = []
    real_read = idx._Reader.read

    def read(self, n):
        sizes.append(n)
        return real_read(self, n)

    monkeypatch.setattr(idx._Reader, "read", read)
    pixels = bytes(i % 251 for i in range(5 * 30 * 40))
    p = write(tmp_path / "img", idx_bytes((5, 30, 40), pixels), gz=gz)
    assert idx.read_images(p) == (5, 30, 40, pixels)
    assert max(sizes) <= 1000 and sum(1 for s in sizes if s == 1000) >= 6


@pytest.mark.parametrize("gz", [False, True])
def test_trailing_bytes(tmp_path, gz):
    p = write(tmp_path / "t", idx_bytes((2, 2, 2), bytes(8)) + b"junk!", gz=gz)
    with pytest.raises(DataError) as e:
        idx.read_images(p)
    msg = one_line(e)
    assert msg.startswith(p + ": 5 bytes of trailing garbage after the 2x2x2 = 8 pixel bytes")


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes((50, 4, 4), bytes(range(256)) * 3 + bytes(32)), mtime=0)
    cases = {
        "cut": good[:len(good) // 2],                                  # stream ends early
        "crc": good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:],      # CRC32 mismatch
        "garbage": b"\x1f\x8b" + b"this is not deflate data at all",  # bad gzip header
    }
    for name, content in cases.items():
        p = write(tmp_path / name, content)
        with pytest.raises(DataError) as e:
            idx.read_idx(p)
        msg = one_line(e)
        assert msg.startswith(p + ": corrupt gzip stream"), msg


def test_missing_file(tmp_path):
    p = str(tmp_path / "nope.gz")
    with pytest.raises(DataError) as e:
        idx.read_idx(p)
    assert one_line(e) == p + ": no such file"


def test_huge_header_claim_does_not_allocate(tmp_path):
    # A corrupt header that claims 4 GB * 4 GB must fail fast, not try to allocate it.
    p = write(tmp_path / "big", idx_bytes((0xFFFFFFFF, 0xFFFFFFFF), bytes(10)), gz=True)
    with pytest.raises(DataError) as e:
        idx.read_idx(p)
    assert "truncated" in one_line(e) and "file has 10" in message(e)


# --------------------------------------------------------------------------- MNIST files

@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_files(tmp_path, gz):
    d = write_mnist(tmp_path / "m", gz=gz)
    train, test = data.load_mnist_files(d)
    assert isinstance(train, Dataset) and isinstance(test, Dataset)
    assert (train.n, test.n, train.n_in, train.n_out) == (6, 4, 6, 10)
    assert (train.name, test.name) == ("mnist-train", "mnist-test")
    assert type(train.pixels) is bytes and type(train.labels) is bytes
    assert train.divisor == 255.0
    files = tiny_mnist()
    assert train.pixels == files["train-images-idx3-ubyte.gz"][16:]
    assert test.labels == files["t10k-labels-idx1-ubyte.gz"][8:]
    assert train.x(1) == [p / 255.0 for p in train.pixels[6:12]]


def test_count_mismatch_names_both_files(tmp_path):
    d = write_mnist(tmp_path / "m")
    labels = os.path.join(d, "t10k-labels-idx1-ubyte.gz")
    write(labels, idx_bytes((3,), b"\x01\x02\x03"), gz=True)
    with pytest.raises(DataError) as e:
        data.load_mnist_files(d)
    msg = one_line(e)
    images = os.path.join(d, "t10k-images-idx3-ubyte.gz")
    assert msg == "%s has 4 images but %s has 3 labels" % (images, labels)


def test_label_out_of_range(tmp_path):
    d = write_mnist(tmp_path / "m")
    labels = os.path.join(d, "train-labels-idx1-ubyte.gz")
    write(labels, idx_bytes((6,), b"\x01\x02\x03\x0c\x00\x01"), gz=True)
    with pytest.raises(DataError) as e:
        data.load_mnist_files(d)
    assert one_line(e) == labels + ": label 12 at index 3 is out of range 0..9"


def test_missing_mnist_file_named(tmp_path):
    d = write_mnist(tmp_path / "m")
    os.remove(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(DataError) as e:
        data.load_mnist_files(d)
    assert "t10k-labels-idx1-ubyte.gz" in one_line(e) and d in message(e)


# --------------------------------------------------------------------------- lookup

def test_find_mnist_order(tmp_path, monkeypatch, isolated):
    explicit, env, default = tmp_path / "explicit", tmp_path / "env", isolated
    assert data.find_mnist() is None
    assert data.find_mnist(str(explicit)) is None

    write_mnist(default)
    assert data.find_mnist() == str(default)
    write_mnist(env)
    monkeypatch.setenv("PURENET_DATA", str(env))
    assert data.find_mnist() == str(env)
    assert data.mnist_dirs() == [str(env), str(default)]
    # A directory with only some of the files is passed over.
    os.remove(str(env / "train-images-idx3-ubyte.gz"))
    assert data.find_mnist() == str(default)

    # An explicit folder is the only one looked at.
    assert data.mnist_dirs(str(explicit)) == [str(explicit)]
    assert data.find_mnist(str(explicit)) is None
    write_mnist(explicit)
    assert data.find_mnist(str(explicit)) == str(explicit)
    os.remove(str(explicit / "t10k-labels-idx1-ubyte.gz"))
    assert data.find_mnist(str(explicit)) is None


def test_an_explicit_folder_that_lacks_a_file_is_an_error_naming_it(tmp_path, monkeypatch,
                                                                    isolated):
    # $PURENET_DATA and the default cache both have MNIST: neither may stand in.
    env = write_mnist(tmp_path / "env")
    write_mnist(isolated)
    monkeypatch.setenv("PURENET_DATA", env)
    mine = write_mnist(tmp_path / "mine")
    os.remove(os.path.join(mine, "train-labels-idx1-ubyte.gz"))
    with pytest.raises(DataError) as e:
        data.load_dataset("mnist", data_dir=mine, download=False)
    first = message(e).splitlines()[0]
    assert first == "MNIST files not found in %s (download disabled)" % mine
    assert marked_missing(message(e)) == ["train-labels-idx1-ubyte.gz"]
    assert env not in message(e) and str(isolated) not in message(e)
    with pytest.raises(DataError) as e:
        data.load_dataset("mnist", data_dir="", download=False)
    assert one_line(e).startswith("the MNIST folder is an empty string")
    # Without --data-dir the fall-backs apply, and the datasets say where they came from.
    train, test = data.load_dataset("mnist", download=False)
    assert (train.origin, test.origin) == (env, env)
    assert train.head(2).origin == env


def test_load_mnist_reads_found_files_as_they_are(tmp_path, isolated):
    # Not the official bytes: no checksum is applied to files the user provides.
    d = write_mnist(tmp_path / "mine", gz=False)
    train, test = data.load_mnist(d, download=False)
    assert (train.n, test.n) == (6, 4)


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    monkeypatch.setattr(data, "_CHECKOUT_ROOT", str(checkout))
    # data/ without the checkout's README: an installed package, so the user cache.
    assert data.default_cache_dir() == str(tmp_path / "xdg" / "purenet" / "mnist")
    (checkout / "data" / "README.md").write_text("cache\n")
    assert data.default_cache_dir() == str(checkout / "data" / "mnist")
    monkeypatch.setattr(data, "_CHECKOUT_ROOT", str(tmp_path / "site-packages"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_cache_dir() == str(tmp_path / "home" / ".cache" / "purenet" / "mnist")


def test_this_checkout_caches_in_data_mnist():
    if not os.access(os.path.join(REPO, "data"), os.W_OK):
        pytest.skip("data/ is not writable in this checkout")
    assert data.default_cache_dir() == os.path.join(REPO, "data", "mnist")


# --------------------------------------------------------------------------- download

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def unused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve_tiny_mnist(root, monkeypatch):
    """Write gzipped tiny MNIST into root and make its hashes the known ones."""
    write_mnist(root)
    sums = {}
    for name in NAMES:
        with open(str(root / name), "rb") as f:
            sums[name] = hashlib.sha256(f.read()).hexdigest()
    monkeypatch.setattr(data, "MNIST_SHA256", sums)
    return sums


def test_download_success_with_fallback_mirror(tmp_path, monkeypatch, isolated, capsys):
    served = tmp_path / "served"
    serve_tiny_mnist(served, monkeypatch)
    target = tmp_path / "target"
    (tmp_path / "empty-mirror").mkdir()   # a mirror that answers 404: the next one is tried
    with serve(tmp_path / "empty-mirror") as bad, serve(served) as good:
        train, test = data.load_mnist(str(target), progress=True, mirrors=[bad, good])
    assert (train.n, test.n) == (6, 4)
    assert sorted(os.listdir(str(target))) == sorted(NAMES)   # no temp files left
    for name in NAMES:
        assert (target / name).read_bytes() == (served / name).read_bytes()
    err = capsys.readouterr().err
    assert "\rdownloading train-images-idx3-ubyte.gz" in err and "100%" in err


def test_download_only_missing_into_env_dir(tmp_path, monkeypatch, isolated):
    served = tmp_path / "served"
    serve_tiny_mnist(served, monkeypatch)
    env = tmp_path / "env"
    write_mnist(env)
    os.remove(str(env / "t10k-images-idx3-ubyte.gz"))
    # The kept files are the user's: make them differ from the served ones.
    write(env / "train-labels-idx1-ubyte.gz",
          tiny_mnist(shift=1)["train-labels-idx1-ubyte.gz"], gz=True)
    monkeypatch.setenv("PURENET_DATA", str(env))
    with serve(served) as url:
        train, test = data.load_mnist(mirrors=[url])
    assert test.n == 4 and train.labels == bytes((i + 1) % 10 for i in range(6))
    assert sorted(os.listdir(str(env))) == sorted(NAMES)
    assert not os.path.exists(str(isolated))   # nothing written to the default cache


def test_download_default_cache(tmp_path, monkeypatch, isolated):
    served = tmp_path / "served"
    serve_tiny_mnist(served, monkeypatch)
    with serve(served) as url:
        train, _ = data.load_mnist(mirrors=[url])
    assert train.n == 6 and sorted(os.listdir(str(isolated))) == sorted(NAMES)


def test_download_hash_mismatch_leaves_nothing(tmp_path, monkeypatch, isolated):
    served = tmp_path / "served"
    serve_tiny_mnist(served, monkeypatch)
    write(served / "train-images-idx3-ubyte.gz", b"tampered")   # served, but wrong bytes
    target = tmp_path / "target"
    with serve(served) as url:
        with pytest.raises(DataError) as e:
            data.load_mnist(str(target), mirrors=[url])
    msg = message(e)
    first = msg.splitlines()[0]
    assert "train-images-idx3-ubyte.gz" in first and "sha256 mismatch" in first
    assert "offline" not in first
    assert str(target) in first
    assert not os.path.exists(str(target))    # the folder it created is gone again


def test_download_offline(tmp_path, isolated):
    target = tmp_path / "target"
    dead = "http://127.0.0.1:%d/mnist/" % unused_port()
    with pytest.raises(DataError) as e:
        data.load_mnist(str(target), mirrors=[dead, dead])
    msg = message(e)
    first = msg.splitlines()[0]
    assert first.startswith("MNIST: could not download train-images-idx3-ubyte.gz into "
                            + str(target))
    assert "refused" in first.lower() and "(offline?)" in first
    for name in NAMES:
        assert name in msg
    assert "in %s:" % target in msg and "PURENET_DATA" in msg
    assert not os.path.exists(str(target))


def test_download_disabled(tmp_path, isolated):
    target = tmp_path / "target"
    with pytest.raises(DataError) as e:
        data.load_mnist(str(target), download=False)
    msg = message(e)
    assert msg.splitlines()[0].startswith("MNIST files not found in " + str(target))
    for name in NAMES:
        assert name in msg
    assert not os.path.exists(str(target))


@needs_mnist
def test_known_hashes_match_the_real_files():
    """The official SHA-256 of three files, checked against a copy of MNIST (the shared
    train-images file is a rebuild with other bytes, so it is not compared)."""
    d = mnist_dir()
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        with open(os.path.join(d, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == data.MNIST_SHA256[name], name
    assert sorted(data.MNIST_SHA256) == sorted(NAMES)
    assert all(m.startswith("https://") for m in data.MIRRORS)


# --------------------------------------------------------------------------- real MNIST

@needs_mnist
def test_real_mnist():
    d = mnist_dir()
    # Read as they are: the shared train-images file is a rebuild whose sha256 differs
    # from the official one, so a checksum here would reject it.
    train, test = data.load_mnist(d, download=False)
    assert (train.n, test.n, train.n_in, train.n_out) == (60000, 10000, 784, 10)
    assert len(train.pixels) == 60000 * 784 and type(train.pixels) is bytes
    train_hist = [train.labels.count(k) for k in range(10)]
    test_hist = [test.labels.count(k) for k in range(10)]
    assert sum(train_hist) == 60000 and sum(test_hist) == 10000
    assert train_hist == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert test_hist == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.labels[0] == 5 and test.labels[0] == 7
    assert b"\xff" in train.pixels and b"\x00" in train.pixels and train.divisor == 255.0


# --------------------------------------------------------------------------- scikit-learn

def _have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


HAVE_SKLEARN = _have("sklearn")
HAVE_NUMPY = _have("numpy")


def test_missing_sklearn_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError) as e:
        data.load_openml()
    assert one_line(e) == ('--source openml needs scikit-learn: pip install '
                           '"purenet[sklearn]" (or leave it out for MNIST from the IDX files)')
    with pytest.raises(DataError) as e:
        data.load_digits()
    assert one_line(e).startswith(
        '--dataset digits needs scikit-learn: pip install "purenet[sklearn]"')
    with pytest.raises(DataError) as e:
        data.load_dataset("mnist", "openml")
    assert "needs scikit-learn" in one_line(e)


def test_module_does_not_import_sklearn():
    import subprocess
    code = ("import sys, purenet.data; "
            "print(any(m.split('.')[0] in ('sklearn', 'numpy') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def fake_sklearn(monkeypatch, fetch_openml=None, load_digits=None):
    pkg = types.ModuleType("sklearn")
    mod = types.ModuleType("sklearn.datasets")
    if fetch_openml:
        mod.fetch_openml = fetch_openml
    if load_digits:
        mod.load_digits = load_digits
    pkg.datasets = mod
    monkeypatch.setitem(sys.modules, "sklearn", pkg)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", mod)


@pytest.mark.skipif(not HAVE_NUMPY, reason="numpy absent: the openml conversion needs it")
def test_openml_split_with_fake_fetch(monkeypatch):
    import numpy as np
    calls = []

    def fetch_openml(name, version=None, as_frame=True, return_X_y=False, parser="liac-arff",
                     data_home=None):
        calls.append((name, version, as_frame, return_X_y, parser))
        X = np.resize(np.arange(256, dtype=np.uint8), (70000, 784))
        y = np.resize(np.array(list("0123456789"), dtype=object), 70000)
        return X, y

    fake_sklearn(monkeypatch, fetch_openml=fetch_openml)
    train, test = data.load_dataset("mnist", source="openml")
    assert calls == [("mnist_784", 1, False, True, "auto")]
    assert (train.n, test.n, train.n_in, train.name, test.name) == (
        60000, 10000, 784, "mnist-train", "mnist-test")
    assert train.pixels[:3] == b"\x00\x01\x02" and train.divisor == 255.0
    assert test.pixels[:1] == bytes([(60000 * 784) % 256])
    assert train.labels[:3] == b"\x00\x01\x02" and test.labels[0] == 0
    assert train.origin == test.origin == "OpenML mnist_784 via scikit-learn"


@pytest.mark.skipif(not HAVE_NUMPY, reason="numpy absent: the digits conversion needs it")
def test_digits_split_with_fake_sklearn(monkeypatch):
    import numpy as np

    def load_digits():
        n = 1797
        return types.SimpleNamespace(
            data=(np.arange(n * 64) % 17).astype(np.float64).reshape(n, 64),
            target=np.arange(n) % 10)

    fake_sklearn(monkeypatch, load_digits=load_digits)
    train, test = data.load_dataset("digits")
    assert (train.n, test.n, train.n_in, train.n_out) == (1500, 297, 64, 10)
    assert train.divisor == 16.0 and max(train.pixels) == 16
    assert test.labels[0] == 1500 % 10 and train.name == "digits-train"
    assert train.origin == test.origin == "scikit-learn's bundled digits"


@pytest.mark.skipif(not HAVE_SKLEARN, reason="scikit-learn not installed: "
                    "pip install 'purenet[sklearn]' to test its bundled digits")
def test_real_digits():
    train, test = data.load_digits()
    assert (train.n, test.n, train.n_in, train.n_out) == (1500, 297, 64, 10)
    assert (train.name, test.name) == ("digits-train", "digits-test")
    assert train.divisor == 16.0 and max(train.pixels) == 16 and min(train.pixels) == 0
    assert train.labels[:10] == bytes(range(10))   # the bundled set starts 0, 1, ..., 9


# --------------------------------------------------------------------------- dispatch

def test_load_dataset_dispatch_and_errors(tmp_path, isolated):
    d = write_mnist(tmp_path / "m")
    train, test = data.load_dataset("mnist", "files", data_dir=d, download=False)
    assert (train.n, test.n) == (6, 4)
    with pytest.raises(DataError) as e:
        data.load_dataset("cifar10")
    assert one_line(e) == "unknown dataset 'cifar10': choose one of mnist, digits"
    with pytest.raises(DataError) as e:
        data.load_dataset("mnist", "ftp")
    assert one_line(e) == "unknown source 'ftp': choose one of files, openml"
    with pytest.raises(DataError) as e:
        data.load_dataset("digits", "openml")
    assert "only for mnist" in one_line(e)


class _CutShort(http.server.BaseHTTPRequestHandler):
    """Promises 100000 bytes, sends 10, hangs up: a connection lost mid-download."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + bytes(8))
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_download_cut_short_leaves_nothing(tmp_path, isolated):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutShort)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    target = tmp_path / "target"
    try:
        with pytest.raises(DataError) as e:
            data.download_mnist(str(target), ["t10k-labels-idx1-ubyte.gz"],
                                mirrors=["http://127.0.0.1:%d/" % server.server_address[1]])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert "t10k-labels-idx1-ubyte.gz" in message(e).splitlines()[0]
    assert not os.path.exists(str(target))


def test_failed_download_removes_only_the_folders_it_created(tmp_path, monkeypatch, isolated):
    served = tmp_path / "served"
    serve_tiny_mnist(served, monkeypatch)
    os.remove(str(served / "t10k-labels-idx1-ubyte.gz"))      # the last file: 404
    mistyped = tmp_path / "there" / "new" / "deeper"
    with serve(served) as url:
        with pytest.raises(DataError) as e:
            data.load_mnist(str(mistyped), mirrors=[url])
    assert "could not download t10k-labels-idx1-ubyte.gz into " + str(mistyped) in message(e)
    assert not os.path.exists(str(tmp_path / "there"))     # three files fetched, all undone
    # A folder that was there stays, with the user's files and the verified downloads.
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    with serve(served) as url:
        with pytest.raises(DataError):
            data.load_mnist(str(tmp_path / "kept"), mirrors=[url])
    assert sorted(os.listdir(str(tmp_path / "kept"))) == sorted(
        NAMES[:3] + ["notes.txt"])
    # A created folder in which someone put a file meanwhile is not removed.
    (tmp_path / "busy").mkdir()
    real_fetch = data._fetch

    def fetch_and_meddle(url, directory, name, sha256, progress):
        with open(os.path.join(directory, "theirs.txt"), "w") as f:
            f.write("not the downloader's")
        return real_fetch(url, directory, name, sha256, progress)

    monkeypatch.setattr(data, "_fetch", fetch_and_meddle)
    with serve(served) as url:
        with pytest.raises(DataError):
            data.load_mnist(str(tmp_path / "busy" / "new"), mirrors=[url])
    assert os.listdir(str(tmp_path / "busy" / "new")) == ["theirs.txt"]


def test_interrupted_download_removes_the_folder_it_created(tmp_path, monkeypatch, isolated):
    def interrupted(url, directory, name, sha256, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_fetch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.download_mnist(str(tmp_path / "new"), mirrors=["http://127.0.0.1:9/"])
    assert os.listdir(str(tmp_path)) == []


# --------------------------------------------------------------------------- the command line

def cli(*args, env=None, code=None):
    """python -m purenet.train args (or python -c code), without $PURENET_DATA unless given."""
    e = dict(os.environ)
    e.pop("PURENET_DATA", None)
    e.update(env or {})
    cmd = ["-c", code] if code else ["-m", "purenet.train"] + list(args)
    return subprocess.run([sys.executable] + cmd, cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=e)


def error_line(out):
    """The one stderr line of a failed run."""
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr
    return out.stderr.strip()


def test_cli_header_says_which_folder_the_data_came_from(tmp_path):
    d = write_mnist(tmp_path / "m")
    env = write_mnist(tmp_path / "env", shift=1)
    out = cli("--data-dir", d, "--sizes", "6,3,10", "--epochs", "0", env={"PURENET_DATA": env})
    assert out.returncode == 0, out.stderr
    assert "(data from %s, loaded in " % d in out.stdout.splitlines()[0]
    out = cli("--sizes", "6,3,10", "--epochs", "0", env={"PURENET_DATA": env})
    assert "(data from %s, loaded in " % env in out.stdout.splitlines()[0]


def test_cli_explicit_data_dir_lacking_a_file_does_not_fall_back(tmp_path):
    env = write_mnist(tmp_path / "env")
    mine = write_mnist(tmp_path / "mine")
    os.remove(os.path.join(mine, "t10k-images-idx3-ubyte.gz"))
    out = cli("--data-dir", mine, "--no-download", "--sizes", "6,3,10", "--epochs", "0",
              env={"PURENET_DATA": env})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("purenet-train: error: MNIST files not found in %s (download "
                                 "disabled)\n" % mine)
    assert marked_missing(out.stderr) == ["t10k-images-idx3-ubyte.gz"]
    assert env not in out.stderr
    assert out.stdout == ""


def test_cli_empty_training_set_says_so_without_blaming_limit(tmp_path):
    d = write_mnist(tmp_path / "m", n_train=0)
    out = cli("--data-dir", d, "--no-download", "--sizes", "6,3,10", "--epochs", "1")
    assert out.returncode == 1
    assert error_line(out) == ("purenet-train: error: %s: 0 images: a training set needs at "
                               "least one" % os.path.join(d, "train-images-idx3-ubyte.gz"))
    out = cli("--data-dir", write_mnist(tmp_path / "full"), "--limit", "0", "--sizes", "6,3,10")
    assert out.returncode == 2
    assert error_line(out) == "purenet-train: error: --limit 0 leaves no training samples"


def test_load_mnist_files_refuses_an_empty_training_set_only(tmp_path):
    d = write_mnist(tmp_path / "m", n_train=0)
    with pytest.raises(DataError) as e:
        data.load_mnist_files(d)
    assert one_line(e).endswith("train-images-idx3-ubyte.gz: 0 images: a training set needs "
                                "at least one")
    train, test = data.load_mnist_files(write_mnist(tmp_path / "t", n_test=0))
    assert (train.n, test.n) == (6, 0)


@pytest.mark.parametrize("args,option", [(["--dataset", "digits"], "--dataset digits"),
                                         (["--source", "openml"], "--source openml")])
def test_cli_missing_sklearn_names_the_option_given(args, option):
    code = ("import sys; sys.modules['sklearn'] = None; from purenet.train import main; "
            "sys.exit(main(%r))" % (args + ["--no-download"]))
    out = cli(code=code)
    assert out.returncode == 1
    assert error_line(out) == ('purenet-train: error: %s needs scikit-learn: pip install '
                               '"purenet[sklearn]" (or leave it out for MNIST from the IDX '
                               'files)' % option)


# --------------------------------------------------------------------------- Dataset inputs

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_dataset_refuses_non_finite_inputs_and_targets(bad):
    xs = [0.0, 1.0, 0.5, 0.25, 0.0, 1.0]
    ys = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert Dataset(2, 2, xs=xs, ys=ys).n == 3
    with pytest.raises(DataError) as e:
        Dataset(2, 2, xs=xs[:3] + [bad] + xs[4:], ys=ys, name="training data")
    assert one_line(e) == ("training data: input 1 of sample 1 is %r; inputs must be finite "
                           "numbers" % bad)
    with pytest.raises(DataError) as e:
        Dataset(2, 2, xs=xs, ys=ys[:4] + [bad] + ys[5:], name="test data")
    assert one_line(e) == ("test data: target 0 of sample 2 is %r; targets must be finite "
                           "numbers" % bad)
    with pytest.raises(DataError) as e:
        as_dataset([([0.5, 0.5], 1), ([0.5, bad], 0)], n_out=2, name="training data")
    assert one_line(e) == ("training data: input 1 of sample 1 is %r; inputs must be finite "
                           "numbers" % bad)
    with pytest.raises(DataError) as e:
        as_dataset([([0.5], [0.0, 1.0]), ([0.5], [bad, 0.0])], n_out=2)
    assert one_line(e).startswith("data: target 0 of sample 1 is %r" % bad)


def test_dataset_values_that_are_not_numbers():
    with pytest.raises(DataError) as e:
        Dataset(1, 1, xs=["0.5"], ys=[1.0], name="mine")
    assert one_line(e).startswith("mine: inputs must be real numbers: ")
    with pytest.raises(DataError) as e:
        Dataset(1, 2, xs=[0.5], labels=[300], name="mine")
    assert one_line(e).startswith("mine: labels must be bytes, whole numbers in 0..255")


@pytest.mark.parametrize("pairs,expected", [
    (5, "training data: expected a Dataset or a sequence of (x, y) pairs, got 5"),
    ([([0.0], 1), 7], "training data: sample 1 is not an (x, y) pair: 7"),
    ([([0.0], 1), ([0.0],)], "training data: sample 1 is not an (x, y) pair: ([0.0],)"),
    ([([0.0], 1, 2)], "training data: sample 0 is not an (x, y) pair: ([0.0], 1, 2)"),
    ([(0.5, 1)], "training data: the inputs of sample 0 must be a sequence of numbers, "
                 "got 0.5"),
    ([("0.5", 1)], "training data: the inputs of sample 0 must be a sequence of numbers, "
                   "got '0.5'"),
    ([([0.0], 1), (["0.5"], 1)], "training data: the inputs of sample 1: value 0 is '0.5', "
                                 "not a number"),
    ([([0.0, True], 1)], "training data: the inputs of sample 0: value 1 is True, not a number"),
    ([([None], 1)], "training data: the inputs of sample 0: value 0 is None, not a number"),
    ([([10 ** 400], 1)], "training data: the inputs of sample 0: value 0 is too large for a "
                         "float"),
    ([([0.0], "1")], "training data: the target of sample 0 must be a class label (int) or a "
                     "sequence of numbers, got '1'"),
    ([([0.0], True)], "training data: the target of sample 0 must be a class label (int) or a "
                      "sequence of numbers, got True"),
    ([([0.0], 2.0)], "training data: the target of sample 0 must be a class label (int) or a "
                     "sequence of numbers, got 2.0"),
    ([([0.0], [1.0, "0"])], "training data: the target of sample 0: value 1 is '0', not a "
                            "number"),
    ([([0.0], 1), ([0.0], [0.0, 1.0])], "training data: the target of sample 1 is [0.0, 1.0], "
                                        "not a class label in 0..1 (sample 0 has one)"),
    ([([0.0], 1), ([0.0], True)], "training data: the target of sample 1 is True, not a class "
                                  "label in 0..1 (sample 0 has one)"),
    ([([0.0], 1), ([0.0], 2)], "training data: the target of sample 1 is 2, not a class label "
                               "in 0..1 (sample 0 has one)"),
    ([([0.0], 1), ([0.0, 1.0], 1)], "training data: sample 1 has 2 inputs, sample 0 has 1"),
    ([([0.0], -1)], "training data: the target of sample 0 is -1, not a class label in 0..1"),
])
def test_as_dataset_refuses_malformed_pairs_with_a_data_error(pairs, expected):
    with pytest.raises(DataError) as e:
        as_dataset(pairs, n_out=2, name="training data")
    assert one_line(e) == expected


def test_as_dataset_takes_numbers_of_any_real_type():
    from fractions import Fraction
    d = as_dataset([((0, 0.5, Fraction(1, 4)), 1), ([1, 2, 3], 0)], n_out=2)
    assert (d.n, d.x(0), d.labels) == (2, [0.0, 0.5, 0.25], b"\x01\x00")
    d = as_dataset([((0.5,), (1, 0.0))], n_out=None)
    assert (d.n_out, d.y(0)) == (2, [1.0, 0.0])
    assert as_dataset(d, n_out=2) is d


# --------------------------------------------------------------------------- Dataset.part

def test_a_part_has_the_samples_and_shares_their_bytes():
    d = Dataset(3, 4, pixels=bytes(range(15)), labels=bytes([0, 1, 2, 3, 1]))
    v = d.part(1, 4, "validation data")
    assert (v.n, v.name) == (3, "validation data")
    assert [v.x(i) for i in range(3)] == [d.x(i) for i in range(1, 4)]
    assert [v.label(i) for i in range(3)] == [1, 2, 3]
    assert v.pixels.obj is d.pixels and v.labels.obj is d.labels     # not copies
    w = v.part(1, 3)
    assert [w.x(i) for i in range(2)] == [d.x(2), d.x(3)] and w.pixels.obj is d.pixels


def test_splitting_off_a_validation_set_takes_no_memory():
    import tracemalloc
    d = Dataset(784, 10, pixels=bytes(784 * 5000), labels=bytes(5000))
    tracemalloc.start()
    try:
        train, validation = d.part(0, 4000), d.part(4000, 5000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (train.n, validation.n) == (4000, 1000)
    assert peak < 100_000, peak           # the pixels alone would be 3.9 MB


def test_a_view_of_mutable_bytes_is_copied():
    buf = bytearray(range(6))
    d = Dataset(3, 2, pixels=memoryview(buf), labels=memoryview(bytearray([0, 1])))
    buf[0] = 200
    assert d.x(0)[0] == 0.0 and isinstance(d.pixels, bytes)
