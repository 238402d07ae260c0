"""What the command-line tools share: option types, one-line errors, output.

An option type (``positive_int``, ``layer_sizes``, ...) turns the option's text into
its value, or raises argparse.ArgumentTypeError; :class:`Parser` reports that in one
line with exit code 2.  Errors found later are :class:`purenet.errors.UsageError`
(exit 2) or another PurenetError (exit 1), each printed as one line.
"""

import argparse
import math
import os
import platform
import sys

from ..checks import MAX_THREADS, check_sizes, parse_size
from .. import cengine
from ..errors import CEngineUnavailable, PurenetError, UsageError
from ..formats.atomic import probe_target


def interpreter():
    """"CPython 3.11.7", or "PyPy 7.3.11 (Python 3.9.16)"."""
    name, version = platform.python_implementation(), platform.python_version()
    if name == "PyPy":
        v = sys.pypy_version_info
        return "PyPy %d.%d.%d (Python %s)" % (v.major, v.minor, v.micro, version)
    return "%s %s" % (name, version)


def backend_for(given):
    """The engine for --backend: as given (a C engine that is not built is a UsageError),
    else the C engine where it is built, else the reference: the same bits either way."""
    if given is None:
        return "c" if cengine.available() else "python"
    if given == "c":
        try:
            cengine.lib_and_ffi()
        except CEngineUnavailable as e:
            raise UsageError(str(e)) from None
    return given


def plural(n, word):
    """"1 epoch", "2 epochs"."""
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def one_line(e):
    """One line for an error from purenet.formats.atomic (an OSError without its
    "[Errno n]")."""
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def check_output_file(option, path, example="model.json"):
    """Refuse, before any training, a path that the write at the end would refuse.

    For ``--save`` (and any later option that writes a file, such as a checkpoint): an
    empty path, a directory, a FIFO or device, a missing or unwritable folder is a
    UsageError (exit 2) naming the option, the problem and the fix.
    """
    try:
        probe_target(path, example)
    except (ValueError, OSError) as e:
        raise UsageError("%s: %s" % (option, one_line(e))) from None


class Output:
    """Prints lines to a stream until its reader goes away, then stays quiet.

    ``purenet.train ... --save m.json | head -1``: once ``head`` exits, a write raises
    BrokenPipeError. The run goes on (the model is still trained and saved), printing
    nothing more; for the real stdout the descriptor is pointed at /dev/null so that the
    flush at exit does not complain either.
    """

    def __init__(self, stream):
        self.stream = stream
        self.closed = False

    def __call__(self, text):
        if self.closed:
            return
        try:
            print(text, file=self.stream, flush=True)
        except BrokenPipeError:
            self.closed = True
            if self.stream is sys.stdout or self.stream is sys.__stdout__:
                try:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, self.stream.fileno())
                    os.close(devnull)
                except (OSError, ValueError):
                    pass


def exit_code(prog, call, interrupted=None, detail=str):
    """Run a tool's ``call()`` and return its exit code: what it returns (None is 0); for
    a UsageError one line and 2, for any other error of purenet's (or of the system's)
    one line and 1; for Ctrl-C, ``interrupted()``'s line if given, and 130.  ``detail(e)``
    is the text of an error's line."""
    try:
        return call() or 0
    except UsageError as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        return 2
    except (PurenetError, OSError) as e:
        print("%s: error: %s" % (prog, detail(e)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if interrupted is not None:
            print("%s: %s" % (prog, interrupted()), file=sys.stderr)
        return 130


def whole_number(text, least, rule):
    """The option's text as an int of at least ``least`` (``rule`` says so in words)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text) from None
    if v < least:
        raise argparse.ArgumentTypeError("must be %s, got %d" % (rule, v))
    return v


def positive_int(text):
    return whole_number(text, 1, "at least 1")


def count(text):
    return whole_number(text, 0, "0 or more")


def thread_count(text):
    """1 to the C engine's limit (checks.MAX_THREADS), checked before any data loads."""
    v = positive_int(text)
    if v > MAX_THREADS:
        raise argparse.ArgumentTypeError("must be from 1 to %d (the C engine's limit), got %d"
                                         % (MAX_THREADS, v))
    return v


def real_number(text, above_zero):
    """The option's text as a finite float > 0 (above_zero) or >= 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not (math.isfinite(v) and (v > 0 if above_zero else v >= 0)):
        raise argparse.ArgumentTypeError("must be a finite number %s, got %s"
                                         % ("> 0" if above_zero else ">= 0", text))
    return v


def positive_number(text):
    return real_number(text, above_zero=True)


def penalty(text):
    return real_number(text, above_zero=False)


def momentum_value(text):
    v = penalty(text)
    if v >= 1.0:
        raise argparse.ArgumentTypeError("must be in [0, 1) (e.g. 0.9), got %s" % text)
    return v


def layer_sizes(text):
    """--sizes: neurons per layer, and conv/pool layers: 784,conv20x5,pool2,100,10."""
    sizes = [int(s) if s.strip().isdigit() else s.strip() for s in text.split(",")]
    if not all(map(parse_size, sizes)):
        raise argparse.ArgumentTypeError(
            "%r is not a comma-separated list of whole numbers (neurons) and conv/pool layers "
            "(e.g. 784,100,10 or 784,conv20x5,pool2,100,10)" % text)
    try:
        return check_sizes(sizes)   # the shapes, the C engine's limits, and this machine's memory
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line naming the problem (not the whole usage), exit code 2."""
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))
