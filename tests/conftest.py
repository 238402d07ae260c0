"""Shared test helpers: where the real MNIST files are, whether the C engine is built
(with a summary line counting the C tests skipped without it), and a tiny fake MNIST."""

import gzip
import os
import random
import struct

import pytest

import purenet
from purenet import cengine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def mnist_dir():
    """The directory holding real MNIST ($PURENET_DATA, else ../shared/data/mnist), or None."""
    for d in (os.environ.get("PURENET_DATA"), os.path.join(ROOT, "..", "shared", "data", "mnist")):
        if d and all(os.path.exists(os.path.join(d, f)) for f in MNIST_FILES):
            return d
    return None


needs_mnist = pytest.mark.skipif(
    mnist_dir() is None,
    reason="real MNIST not found: set PURENET_DATA to a folder with the four IDX .gz files "
           "(CI uses ../shared/data/mnist)")


def _c_engine_missing():
    """Why the C engine cannot be used here (cengine's own message), or None when it can."""
    try:
        cengine.lib_and_ffi()
    except cengine.CEngineUnavailable as e:
        return str(e)
    return None


C_MISSING = _c_engine_missing()
REQUIRE_C = os.environ.get("PURENET_REQUIRE_C", "") not in ("", "0")
# CI sets PURENET_REQUIRE_C=1: there a missing C engine fails these tests instead.
needs_c = pytest.mark.skipif(C_MISSING is not None and not REQUIRE_C,
                             reason="the C engine is unavailable: %s" % C_MISSING)


def _simd_levels():
    """The SIMD levels the C engine runs at on this CPU: 2 (AVX-512) and 1 (AVX2) where
    it has AVX-512, else just the one it has (None without the C engine).
    PURENET_SIMD_LEVELS=top keeps only the highest (.ci/sanitize and .ci/fallbacks, which
    test other builds, not the levels)."""
    if C_MISSING is not None:
        return [None]
    top = cengine.lib_and_ffi()[0].pn_simd_level()
    return [2, 1] if top == 2 and os.environ.get("PURENET_SIMD_LEVELS") != "top" else [top]


@pytest.fixture(params=_simd_levels(), ids=lambda level: "simd%s" % level)
def simd_level(request):
    """Runs the test at each SIMD level of this CPU (pn_limit_simd), then restores the top one."""
    if request.param is None:
        yield None
        return
    lib = cengine.lib_and_ffi()[0]
    assert lib.pn_limit_simd(request.param) == request.param
    try:
        yield request.param
    finally:
        lib.pn_limit_simd(2)


def pytest_report_header(config):
    """Which purenet is tested, and with or without its C engine."""
    where = os.path.dirname(purenet.__file__)
    if C_MISSING is None:
        return "purenet %s from %s: C engine built (%s)" % (
            purenet.__version__, where, cengine.simd_name())
    return "purenet %s from %s: C engine unavailable: %s" % (purenet.__version__, where,
                                                            C_MISSING)


def _skip_reason(report):
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def pytest_terminal_summary(terminalreporter):
    """Say how many C tests were skipped and why, next to pytest's counts: a run without
    the C engine must not look like a full green run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", ())
               if "C engine" in _skip_reason(r)]
    if skipped:
        terminalreporter.write_line("purenet: %d C-engine test%s skipped: %s" % (
            len(skipped), "s" if len(skipped) > 1 else "",
            C_MISSING or "see their reasons with pytest -rs"), yellow=True)


def write_idx(path, dims, payload, magic_type=0x08):
    header = struct.pack(">BBBB", 0, 0, magic_type, len(dims)) + b"".join(
        struct.pack(">I", d) for d in dims)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + bytes(payload))


def make_tiny_mnist(folder, n_train=60, n_test=20, seed=0):
    """Four IDX files of 28x28 images: digit d is a bright bar in row band d."""
    rnd = random.Random(seed)

    def images(n):
        pix, labels = bytearray(), bytearray()
        for _ in range(n):
            d = rnd.randrange(10)
            img = bytearray(784)
            for r in range(2 * d + 2, 2 * d + 6):
                for c in range(4, 24):
                    img[r * 28 + c] = rnd.randrange(150, 256)
            pix += img
            labels.append(d)
        return pix, labels

    os.makedirs(folder, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pix, labels = images(n)
        write_idx(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"), (n, 28, 28), pix, )
        write_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"), (n,), labels)
    return folder


@pytest.fixture
def tiny_mnist(tmp_path):
    return make_tiny_mnist(str(tmp_path / "mnist"))
