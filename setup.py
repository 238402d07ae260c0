"""Build hook for the C engine (the project's metadata is in pyproject.toml).

``cffi_modules`` makes setuptools build ``purenet._ckernels`` from build_ext.py.
If that build fails (no C compiler, no cffi), the package still installs and
the pure-Python reference works; ``Network(..., backend="c")`` then says the C
engine is not built.  With ``PURENET_REQUIRE_C=1`` (CI sets it) a failed build
fails the install instead.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

REQUIRE_C = os.environ.get("PURENET_REQUIRE_C", "") not in ("", "0")


def _warn(msg):
    bar = "*" * 78
    sys.stderr.write("\n%s\n%s\n%s\n\n" % (bar, msg, bar))


class optional_build_ext(build_ext):
    """build_ext that lets the C engine fail to build (unless PURENET_REQUIRE_C=1)."""

    def run(self):
        try:
            super().run()
        except Exception as e:                   # compiler missing, cffi missing, ...
            self._failed(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:                   # CompileError, LinkError, ...
            self._failed(e, ext.name)

    def _failed(self, error, name="purenet._ckernels"):
        if REQUIRE_C:
            raise error
        _warn("purenet: could not build the C engine (%s): %s\n"
              "purenet is installed with the pure-Python reference only; backend='c' will\n"
              "say how to build it.  Set PURENET_REQUIRE_C=1 to make this an error."
              % (name, error))


kwargs = {"cmdclass": {"build_ext": optional_build_ext}}
try:
    import cffi  # noqa: F401  (the cffi_modules keyword comes from cffi's setuptools plugin)
    kwargs["cffi_modules"] = ["build_ext.py:ffibuilder"]
except ImportError:
    if REQUIRE_C:
        raise SystemExit("purenet: PURENET_REQUIRE_C=1 but cffi is not installed, so the C "
                         "engine cannot be built: pip install cffi") from None
    _warn("purenet: cffi is not installed, so the C engine is not built (pure-Python only)")

setup(**kwargs)
