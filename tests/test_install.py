"""What an install promises: the reference runs on the standard library alone, and the C
engine's state is said plainly (``--backend c``, ``--version``, pytest's summary)."""

import os
import platform
import shutil
import subprocess
import sys

import pytest

import purenet
from conftest import C_MISSING, ROOT, needs_c


def python(*args, cwd=ROOT, env=None, timeout=120):
    e = {k: v for k, v in os.environ.items() if k not in ("PURENET_DATA", "PURENET_REQUIRE_C")}
    e.update(env or {})
    return subprocess.run([sys.executable] + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=e)


# --- the standard-library promise -------------------------------------------------------

STDLIB_ONLY = r"""
import sys
before = set(sys.modules)          # the interpreter's own start-up (site, .pth files)
import purenet
from purenet import Network
from purenet.cli import train
net = Network([3, 4, 2], seed=1, backend="python")
net.fit([([0.1, 0.0, 0.9], [1.0, 0.0]), ([0.8, 0.2, 0.0], [0.0, 1.0])], 1, 2, 1.0)
net.save(sys.argv[1])
assert purenet.load(sys.argv[1]).weights == net.weights
code = train.main(["--data-dir", sys.argv[2], "--sizes", "784,5,10", "--epochs", "1",
                   "--backend", "python", "--quiet", "--save", sys.argv[1]])
foreign = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] not in sys.stdlib_module_names | {"purenet"})
print(code, foreign)
"""


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names needs Python 3.10")
def test_the_reference_loads_only_the_standard_library(tiny_mnist, tmp_path):
    """An allow-list: after building, training and saving a network (by the API and by the
    command line), every module loaded is the standard library's or purenet's own."""
    out = python("-c", STDLIB_ONLY, str(tmp_path / "m.json"), tiny_mnist)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "0 []", out.stdout


# --- without the C engine --------------------------------------------------------------

PROBE = '''
import pytest
from conftest import needs_c

@needs_c
def test_c_one():
    pass

@needs_c
def test_c_two():
    pass

def test_skipped_for_another_reason():
    pytest.skip("no MNIST here")

def test_runs():
    pass
'''


WITHOUT_C = ("import sys; sys.modules['purenet._ckernels'] = None; "     # as if never built
             "from %s import main; sys.exit(main(sys.argv[1:]))")


def without_c(module, *args, **kwargs):
    """Run module's main(args) with the C engine unavailable.  Leaving the compiled module
    out of a copy is not enough: an editable install's import hook would still find the
    checkout's build."""
    return python("-c", WITHOUT_C % module, *args, **kwargs)


@pytest.fixture(scope="module")
def no_c_checkout(tmp_path_factory):
    """A copy of purenet's Python files (no data/ folder, no compiled C engine) and of the
    tests' conftest and helpers, with a probe test file."""
    root = tmp_path_factory.mktemp("no-c")
    shutil.copytree(os.path.join(ROOT, "purenet"), str(root / "purenet"),
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    os.mkdir(str(root / "tests"))
    for name in ("conftest.py", "helpers.py"):
        shutil.copy(os.path.join(ROOT, "tests", name), str(root / "tests"))
    (root / "tests" / "test_probe.py").write_text(PROBE)
    return str(root)


def test_pytest_summary_counts_the_skipped_c_tests(no_c_checkout):
    out = without_c("pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=no_c_checkout)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1].startswith("1 passed, 3 skipped"), out.stdout
    assert lines[-2].startswith("purenet: 2 C-engine tests skipped: the C engine is not built: "
                                "run `pip install .`"), out.stdout
    assert "python build_ext.py" in lines[-2]


def test_backend_c_without_the_engine_says_why(no_c_checkout, tiny_mnist):
    out = without_c("purenet.train", "--backend", "c", "--data-dir", tiny_mnist,
                    cwd=no_c_checkout)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("purenet-train: error: the C engine is not built: run "
                                 "`pip install .`"), out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr


@needs_c
def test_backend_c_without_cffi_says_to_install_it(tiny_mnist):
    code = ("import sys; sys.modules['_cffi_backend'] = None; from purenet.train import main; "
            "sys.exit(main(sys.argv[1:]))")
    out = python("-c", code, "--backend", "c", "--data-dir", tiny_mnist)
    assert out.returncode == 2, out.stderr
    assert "the C engine is built but cffi is not installed: `pip install cffi`" in out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr


# --- --version -------------------------------------------------------------------------

def test_version_says_what_a_bug_report_needs(tiny_mnist):
    out = python("-m", "purenet", "--version", env={"PURENET_DATA": tiny_mnist})
    assert out.returncode == 0 and out.stderr == "", out.stderr
    lines = out.stdout.splitlines()
    interpreter = "%s %s" % (platform.python_implementation(), platform.python_version())
    if platform.python_implementation() == "PyPy":
        v = sys.pypy_version_info
        interpreter = "PyPy %d.%d.%d (Python %s)" % (v.major, v.minor, v.micro,
                                                    platform.python_version())
    assert lines[0] == "purenet-train %s (%s, %s)" % (
        purenet.__version__, interpreter, os.path.join(ROOT, "purenet"))
    assert lines[0].split(" (")[1].startswith(("CPython 3.", "PyPy 7."))
    if C_MISSING is None:
        from purenet import cengine
        assert lines[1] == "C engine: built (%s)" % cengine.simd_name()
    else:
        assert lines[1] == "C engine: unavailable: " + C_MISSING
    assert lines[2].startswith("MNIST is looked for in: %s, " % tiny_mnist)
    assert lines[3:] == ["MNIST found in: " + tiny_mnist]
    given = python("-m", "purenet.train", "--version", "--data-dir", tiny_mnist)
    assert given.returncode == 0
    assert given.stdout.splitlines()[2].startswith("MNIST is looked for in: " + tiny_mnist)
    assert given.stdout.splitlines()[3:] == ["MNIST found in: " + tiny_mnist]


def test_version_without_the_engine_or_the_data(no_c_checkout, tmp_path):
    cache = str(tmp_path / "cache")
    out = without_c("purenet.train", "--version", cwd=no_c_checkout,
                    env={"XDG_CACHE_HOME": cache})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith(os.path.join(no_c_checkout, "purenet") + ")")
    assert lines[1].startswith("C engine: unavailable: the C engine is not built")
    mnist = os.path.join(cache, "purenet", "mnist")
    assert lines[2:] == ["MNIST is looked for in: " + mnist,
                         "MNIST not found yet: it would be downloaded into " + mnist]


def test_version_into_a_closed_pipe_stays_quiet():
    """``purenet-train --version | head -1``: no traceback when the reader has gone."""
    proc = subprocess.Popen([sys.executable, "-m", "purenet", "--version"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                     # before the process can have written anything
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0 and err == b"", err
