"""cffi builder of the C engine: ``purenet._ckernels`` from csrc/purenet.c.

* ``python build_ext.py`` builds the module in place (purenet/_ckernels*.so) for
  development; ``pip install .`` builds it through setup.py (``cffi_modules``).
* The cdef is the part of csrc/purenet.h between PN_CDEF_BEGIN and PN_CDEF_END,
  so the header is the one description of the API.
* Flags: ``-O3 -ffp-contract=off`` (no fused multiply-add: the reference rounds
  after every multiply and every add) and never -ffast-math/-Ofast/-march=native.
  ``PURENET_CFLAGS`` replaces the optimisation flags (``-ffp-contract=off`` is
  always kept) and ``PURENET_LDFLAGS`` adds link flags: .ci/sanitize uses them
  for an AddressSanitizer + UBSan build.
"""

import os
import re
import shlex
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "csrc", "purenet.h")

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


ffibuilder = FFI()
ffibuilder.cdef(read_cdef())
ffibuilder.set_source(
    "purenet._ckernels",
    '#include "purenet.h"\n',
    sources=["csrc/purenet.c"],        # relative: setuptools and compile() run from the repo root
    include_dirs=["csrc"],
    depends=["csrc/purenet.h"],
    libraries=["m"] if POSIX else [],
    extra_compile_args=compile_args() + (["-pthread"] if POSIX else []),
    extra_link_args=link_args() + (["-pthread"] if POSIX else []),
)


if __name__ == "__main__":
    out = ffibuilder.compile(tmpdir=HERE, verbose="-q" not in sys.argv)
    print("built", os.path.relpath(out, HERE))
