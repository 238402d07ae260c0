"""cffi builder of the C engine: ``purenet._ckernels`` from the C files in csrc/.

* ``python build_ext.py`` builds the module in place (purenet/_ckernels*.so) for
  development; ``pip install .`` builds it through setup.py (``cffi_modules``).
* The cdef is the part of csrc/purenet.h between PN_CDEF_BEGIN and PN_CDEF_END,
  so the header is the one description of the API.
* Flags: ``-O3 -ffp-contract=off`` (no fused multiply-add: the reference rounds
  after every multiply and every add) and never -ffast-math/-Ofast/-march=native.
  ``PURENET_CFLAGS`` replaces the optimisation flags (``-ffp-contract=off`` is
  always kept) and ``PURENET_LDFLAGS`` adds link flags: .ci/sanitize uses them
  for an AddressSanitizer + UBSan build, .ci/fallbacks for builds with the
  -DPN_NO_CLONES / -DPN_NO_VECTOR / -DPN_NO_THREADS switches (csrc/internal.h).
"""

import glob
import importlib.machinery
import os
import re
import shlex
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "csrc", "purenet.h")



def _csrc(pattern):
    """csrc/ files matching pattern, as paths relative to this directory."""
    paths = glob.glob(os.path.join(HERE, "csrc", pattern))
    return sorted("csrc/" + os.path.basename(p) for p in paths)


# The engine is every csrc/*.c (csrc/internal.h says what each file holds), and
# they include csrc/*.h; MANIFEST.in ships the same two globs in the sdist.
SOURCES = _csrc("*.c")
HEADERS = _csrc("*.h")

DEFAULT_CFLAGS = ["-O3", "-fno-fast-math"]
ALWAYS_CFLAGS = ["-ffp-contract=off"]
FORBIDDEN = ("-ffast-math", "-Ofast", "-ffp-contract=fast", "-funsafe-math-optimizations",
             "-fassociative-math", "-freciprocal-math")


def read_cdef(path=HEADER):
    """The cffi declarations: the header's PN_CDEF block, comments and all."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"/\*\s*PN_CDEF_BEGIN\s*\*/(.*?)/\*\s*PN_CDEF_END\s*\*/", text, re.S)
    if not m:
        raise RuntimeError("%s: no PN_CDEF_BEGIN ... PN_CDEF_END block" % path)
    return m.group(1)


def compile_args():
    env = os.environ.get("PURENET_CFLAGS")
    flags = shlex.split(env) if env else list(DEFAULT_CFLAGS)
    bad = [f for f in flags if f in FORBIDDEN or f.startswith("-march=native")]
    if bad:
        raise RuntimeError("PURENET_CFLAGS has %s, which would break bit-identity with the "
                           "reference" % " ".join(bad))
    flags += [f for f in ALWAYS_CFLAGS if f not in flags]
    return flags


def link_args():
    return shlex.split(os.environ.get("PURENET_LDFLAGS", ""))


POSIX = sys.platform != "win32"


def make_builder(root=None):
    """The cffi builder; root=None: paths relative to the repository root (setup.py
    builds run there), else absolute paths under root."""
    base = (lambda p: p) if root is None else (lambda p: os.path.join(root, p))
    if not SOURCES:
        raise RuntimeError("no C sources in %s" % os.path.join(HERE, "csrc"))
    builder = FFI()
    builder.cdef(read_cdef())
    builder.set_source(
        "purenet._ckernels",
        '#include "purenet.h"\n',
        sources=[base(p) for p in SOURCES],
        include_dirs=[base("csrc")],
        depends=[base(p) for p in HEADERS],
        libraries=["m"] if POSIX else [],
        extra_compile_args=compile_args() + (["-pthread"] if POSIX else []),
        extra_link_args=link_args() + (["-pthread"] if POSIX else []),
    )
    return builder


ffibuilder = make_builder()     # what setup.py's cffi_modules uses


def build_in_place(verbose=False):
    """Compile in a temporary directory (so that neither the repository's
    pyproject.toml nor stray object files get involved) and copy the module into
    purenet/."""
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="purenet-build-")
    try:
        built = make_builder(HERE).compile(tmpdir=tmp, verbose=verbose)
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:   # this Python's only: a
            old = os.path.join(HERE, "purenet", "_ckernels" + suffix)  # PyPy build stays
            if os.path.exists(old):
                os.remove(old)
        dest = os.path.join(HERE, "purenet", os.path.basename(built))
        shutil.copy2(built, dest)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    out = build_in_place(verbose="-q" not in sys.argv)
    print("built", os.path.relpath(out, HERE))
