"""Shared test helpers, in one module (conftest.py holds only pytest's fixtures and hooks,
and re-exports these names for the test files that import them from there):

- where the real MNIST files are (the package's own lookup) and the skip when they are absent;
- whether the C engine is built (PURENET_REQUIRE_C=1 turns its absence into failures);
- the SIMD levels the tests run the C engine at, and what the run says about them;
- exact (bitwise) comparison of nested lists of floats;
- random parameters and epochs, and a tiny fake MNIST written as IDX files.
"""

import gzip
import math
import os
import random
import struct
from array import array

import pytest

from purenet import cengine, data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_FILES = tuple(name for _, name in data.MNIST_FILES)


# --- real MNIST --------------------------------------------------------------------------

def mnist_dir():
    """The folder holding the four real MNIST files, found as purenet finds them
    ($PURENET_DATA, then the default cache: purenet.data.find_mnist), or None."""
    return data.find_mnist()


def mnist_missing_reason():
    """Why the tests that need real MNIST are skipped here (None when it is present)."""
    if mnist_dir() is not None:
        return None
    env = os.environ.get("PURENET_DATA")
    where = ("PURENET_DATA=%s does not hold all of them" % env if env
             else "PURENET_DATA is not set and the default cache %s has none"
             % data.default_cache_dir())
    return ("real MNIST not found (%s): set PURENET_DATA to a folder with the four files %s"
            % (where, ", ".join(MNIST_FILES)))


needs_mnist = pytest.mark.skipif(mnist_dir() is None, reason=mnist_missing_reason() or "")


# --- the C engine ------------------------------------------------------------------------

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


# --- SIMD levels -------------------------------------------------------------------------
#
# pn_simd_level(): 2 = AVX-512 (and AVX2), 1 = AVX2, 0 = baseline.  On an AVX-512 CPU the
# tests run the C engine at 2 and at 1 (pn_limit_simd(1)); elsewhere at the one level the
# CPU has (level 0 is the -DPN_NO_CLONES build, which .ci/fallbacks tests).

LEVEL_NAMES = {0: "baseline", 1: "AVX2", 2: "AVX-512"}
AVX512_ONLY = "pix_rows, dense_sums_narrow, the rz_* kernels, compact_pixels_z"
EXPECT_NAMES = {"avx512": 2, "avx-512": 2, "avx2": 1}


def c_top_level():
    """The highest SIMD level the C engine can run at here (None without it)."""
    if C_MISSING is not None:
        return None
    lib = cengine.lib_and_ffi()[0]
    lib.pn_limit_simd(2)
    return lib.pn_simd_level()


def simd_levels(top, setting=None):
    """The levels the simd_level fixture runs each test at: [2, 1] where the top level is
    2, else [top] ([None] without the C engine).  setting ($PURENET_SIMD_LEVELS) narrows
    them: "top" keeps only the highest (.ci/sanitize and .ci/fallbacks, which test other
    builds, not the levels); a list such as "1" or "2,1" keeps those of them the CPU has
    ("1" on an AVX-512 machine runs as one without it).  ValueError for anything else, or
    for a list of which this CPU has none."""
    if top is None:
        return [None]
    runnable = [2, 1] if top == 2 else [top]
    setting = (setting or "").strip().lower()
    if not setting:
        return runnable
    if setting == "top":
        return [top]
    try:
        wanted = [int(part) for part in setting.split(",")]
    except ValueError:
        raise ValueError("PURENET_SIMD_LEVELS=%r: use top, or levels such as 2,1 (2 = AVX-512, "
                         "1 = AVX2, 0 = baseline)" % setting) from None
    levels = [level for level in runnable if level in wanted]
    if not levels:
        raise ValueError("PURENET_SIMD_LEVELS=%r: this CPU runs the C engine at level %s only"
                         % (setting, "/".join(map(str, runnable))))
    return levels


def expected_simd_level(setting):
    """$PURENET_EXPECT_SIMD as a level: None when unset, 2 for avx512, 1 for avx2."""
    setting = (setting or "").strip().lower()
    if not setting:
        return None
    if setting not in EXPECT_NAMES:
        raise ValueError("PURENET_EXPECT_SIMD=%r: use avx512 or avx2" % setting)
    return EXPECT_NAMES[setting]


def simd_summary(exercised, levels, top, expect, selected):
    """What the run says about the SIMD levels, and whether that fails it.

    exercised: the levels the simd_level fixture set for a test in this run;
    levels: the levels it was to run at (simd_levels); top: the CPU's highest (None
    without the C engine); expect: expected_simd_level(...); selected: whether any test
    of the run takes the simd_level fixture.  Returns (lines, failed): failed when a
    level is expected and no test ran at it."""
    lines = []
    if not selected and expect is None:
        return lines, False
    ran = sorted((lv for lv in exercised if lv is not None), reverse=True)
    lines.append("purenet: SIMD levels exercised: %s" % (
        ", ".join("%s (%d)" % (LEVEL_NAMES[lv], lv) for lv in ran) if ran
        else "none (no C-engine test at a SIMD level ran)"))
    if 2 not in exercised:
        if top is None:
            why = "the C engine is unavailable"
        elif top < 2:
            why = "this CPU (or this build) has no AVX-512: its top level is %s" % LEVEL_NAMES[top]
        elif 2 not in levels:
            why = "PURENET_SIMD_LEVELS left level 2 out"
        else:
            why = "no test at level 2 ran"
        lines.append("purenet: the AVX-512-only paths (%s) were NOT run: %s" % (AVX512_ONLY, why))
    failed = expect is not None and expect not in exercised
    if failed:
        lines.append("purenet: FAILED: PURENET_EXPECT_SIMD asks for the %s level (%d), and no "
                     "test ran at it" % (LEVEL_NAMES[expect], expect))
    return lines, failed


# --- exact comparison --------------------------------------------------------------------

def flat(values):
    """Nested lists of floats, flattened in order."""
    out = []

    def walk(v):
        if isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        else:
            out.append(float(v))
    walk(values)
    return out


def max_rel_diff(got, want):
    worst = 0.0
    for g, w in zip(got, want):
        if struct.pack("<d", g) != struct.pack("<d", w):
            if math.isnan(g) or math.isnan(w) or math.isinf(g) or math.isinf(w):
                return float("inf")
            scale = max(abs(g), abs(w))
            worst = max(worst, abs(g - w) / scale if scale else 0.0)
    return worst


def assert_same(what, got, want):
    """Exact (bitwise) equality of two nested float structures, with a useful message."""
    g, w = flat(got), flat(want)
    assert len(g) == len(w), "%s: %d values from C, %d from the reference" % (what, len(g), len(w))
    gb, wb = array("d", g).tobytes(), array("d", w).tobytes()
    if gb != wb:
        differ = sum(1 for a, b in zip(g, w) if struct.pack("<d", a) != struct.pack("<d", b))
        first = next(i for i, (a, b) in enumerate(zip(g, w))
                     if struct.pack("<d", a) != struct.pack("<d", b))
        pytest.fail("%s: C and the reference differ in %d of %d values (max relative difference "
                    "%.3g; first at %d: C %r vs reference %r)"
                    % (what, differ, len(g), max_rel_diff(g, w), first, g[first], w[first]))


# --- random parameters and epochs ----------------------------------------------------------

def random_params(sizes, rnd, scale=1.0, zeros=0.0):
    weights = [[[0.0 if rnd.random() < zeros else rnd.gauss(0.0, scale) for _ in range(n_in)]
                for _ in range(n_out)] for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [[rnd.gauss(0.0, 1.0) for _ in range(n)] for n in sizes[1:]]
    return weights, biases


def epoch_batches(rnd, n, batch_size):
    order = list(range(n))
    rnd.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


# --- a tiny fake MNIST -----------------------------------------------------------------------

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
