"""The suite's own machinery (helpers.py and conftest.py).  The SIMD levels: which levels
the simd_level fixture runs at, what a run prints about them, and PURENET_EXPECT_SIMD
failing a run that did not reach the AVX-512 paths (first the decision functions with
faked levels, then a real pytest run in a subprocess).  And the skip without MNIST."""

import os
import shutil
import subprocess
import sys

import pytest

import purenet
from purenet import data

import helpers
from helpers import AVX512_ONLY, expected_simd_level, simd_levels, simd_summary

HERE = os.path.dirname(os.path.abspath(__file__))
AVX512_PATHS = ("pix_rows", "dense_sums_narrow", "rz_*", "compact_pixels_z")


def test_levels_the_fixture_runs_at():
    assert simd_levels(2) == [2, 1] and simd_levels(2, "") == [2, 1]
    assert simd_levels(1) == [1] and simd_levels(0) == [0]
    assert simd_levels(None) == [None] and simd_levels(None, "1") == [None]   # no C engine
    assert simd_levels(2, "top") == [2] and simd_levels(1, "top") == [1]
    assert simd_levels(2, "1") == [1] and simd_levels(2, "1,2") == [2, 1]
    assert simd_levels(1, "2,1") == [1]
    for bad in ("2", "0"):                      # levels this AVX2 CPU cannot run at
        with pytest.raises(ValueError, match="level 1 only"):
            simd_levels(1, bad)
    with pytest.raises(ValueError, match="use top"):
        simd_levels(2, "avx512")


def test_expected_level():
    assert expected_simd_level(None) is None and expected_simd_level("") is None
    assert expected_simd_level("avx512") == 2 and expected_simd_level(" AVX512 ") == 2
    assert expected_simd_level("avx2") == 1
    with pytest.raises(ValueError, match="avx512"):
        expected_simd_level("yes")


def not_run_lines(lines):
    return [line for line in lines if "NOT run" in line]


def test_summary_on_a_cpu_with_avx512():
    lines, failed = simd_summary({2, 1}, [2, 1], 2, 2, True)
    assert not failed
    assert lines == ["purenet: SIMD levels exercised: AVX-512 (2), AVX2 (1)"]
    lines, failed = simd_summary({2, 1}, [2, 1], 2, None, True)
    assert not failed and not not_run_lines(lines)


def test_summary_on_a_cpu_without_avx512():
    """A faked AVX2-only CPU: a clear line names the paths not run; with
    PURENET_EXPECT_SIMD=avx512 the run fails."""
    lines, failed = simd_summary({1}, [1], 1, None, True)
    assert not failed
    assert lines[0] == "purenet: SIMD levels exercised: AVX2 (1)"
    (line,) = not_run_lines(lines)
    assert all(path in line for path in AVX512_PATHS) and AVX512_ONLY in line
    assert "no AVX-512" in line
    lines, failed = simd_summary({1}, [1], 1, 2, True)
    assert failed and "FAILED: PURENET_EXPECT_SIMD" in lines[-1] and not_run_lines(lines)
    lines, failed = simd_summary({0}, [0], 0, 2, True)          # the baseline build
    assert failed and "top level is baseline" in not_run_lines(lines)[0]


def test_summary_when_level_2_was_left_out_or_not_reached():
    lines, failed = simd_summary({1}, [1], 2, 2, True)          # PURENET_SIMD_LEVELS=1
    assert failed and "PURENET_SIMD_LEVELS left level 2 out" in not_run_lines(lines)[0]
    lines, failed = simd_summary(set(), [2, 1], 2, 2, True)      # every such test skipped
    assert failed and "none" in lines[0] and "no test at level 2 ran" in lines[1]
    lines, failed = simd_summary(set(), [None], None, 2, True)   # no C engine
    assert failed and "C engine is unavailable" in not_run_lines(lines)[0]
    lines, failed = simd_summary(set(), [None], None, None, True)
    assert not failed and not_run_lines(lines)                   # said, not failed


def test_summary_of_a_run_without_simd_tests():
    assert simd_summary(set(), [2, 1], 2, None, False) == ([], False)
    lines, failed = simd_summary(set(), [2, 1], 2, 2, False)     # expected, none selected
    assert failed and not_run_lines(lines)


TINY_TEST = '''
from purenet import cengine


def test_runs_at_its_level(simd_level):
    if simd_level is not None:
        assert cengine.lib_and_ffi()[0].pn_simd_level() == simd_level
'''


def run_pytest(tmp_path, **env):
    """pytest on one test taking simd_level, with this suite's conftest.py and helpers.py:
    (exit status, output)."""
    for name in ("conftest.py", "helpers.py"):
        shutil.copy(os.path.join(HERE, name), str(tmp_path / name))
    (tmp_path / "test_tiny.py").write_text(TINY_TEST)
    full = dict(os.environ, **env)
    for name in ("PURENET_SIMD_LEVELS", "PURENET_EXPECT_SIMD"):
        if name not in env:
            full.pop(name, None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(purenet.__file__)))
    full["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_tiny.py"], cwd=str(tmp_path), env=full,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=120)
    return out.returncode, out.stdout


def test_a_run_says_which_levels_it_exercised_and_fails_when_expected(tmp_path):
    """A real run: it prints the levels exercised; where level 2 is not run (a CPU
    without AVX-512, faked here with PURENET_SIMD_LEVELS=1 where the CPU has it) it says
    so, and with PURENET_EXPECT_SIMD=avx512 it fails although every test passed."""
    top = helpers.c_top_level()
    no_avx512 = {"PURENET_SIMD_LEVELS": "1"} if top == 2 else {}
    code, out = run_pytest(tmp_path, **no_avx512)
    assert code == 0, out
    assert "purenet: SIMD levels exercised: " in out and "were NOT run" in out, out
    assert all(path in out for path in AVX512_PATHS), out
    code, out = run_pytest(tmp_path, PURENET_EXPECT_SIMD="avx512", **no_avx512)
    assert code == 1, out
    assert "passed" in out and "failed" not in out.replace("FAILED: PURENET", ""), out
    assert "purenet: FAILED: PURENET_EXPECT_SIMD asks for the AVX-512 level (2)" in out, out
    if top == 2:                     # this CPU has AVX-512: the expected run passes
        code, out = run_pytest(tmp_path, PURENET_EXPECT_SIMD="avx512")
        assert code == 0, out
        assert "purenet: SIMD levels exercised: AVX-512 (2), AVX2 (1)" in out, out
        assert "2 passed" in out and "NOT run" not in out, out


def test_without_mnist_the_skip_says_to_set_purenet_data(tmp_path, monkeypatch):
    """Where the four files are absent, the reason names PURENET_DATA and the files, and
    no path that only this project's CI has."""
    monkeypatch.setattr(data, "default_cache_dir", lambda: str(tmp_path / "cache"))
    monkeypatch.delenv("PURENET_DATA", raising=False)
    assert helpers.mnist_dir() is None
    reason = helpers.mnist_missing_reason()
    assert "set PURENET_DATA to a folder with the four files" in reason
    assert all(name in reason for name in helpers.MNIST_FILES)
    assert "shared" not in reason
    monkeypatch.setenv("PURENET_DATA", str(tmp_path / "empty"))
    assert "PURENET_DATA=%s does not hold all of them" % (tmp_path / "empty") in (
        helpers.mnist_missing_reason())
    folder = helpers.make_tiny_mnist(str(tmp_path / "tiny"))      # all four present: no skip
    monkeypatch.setenv("PURENET_DATA", folder)
    assert helpers.mnist_dir() == folder and helpers.mnist_missing_reason() is None
