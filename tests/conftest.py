"""pytest's fixtures and hooks for the suite: the SIMD-level fixture (with a summary of
the levels a run exercised, and PURENET_EXPECT_SIMD), the report header, the count of
C tests skipped, and a tiny fake MNIST.  The plain helpers live in helpers.py; the names
below are re-exported from there for the test files that import them from conftest."""

import os

import pytest

import purenet
from purenet import cengine

import helpers
from helpers import (C_MISSING, MNIST_FILES, REQUIRE_C, ROOT, make_tiny_mnist,  # noqa: F401
                     mnist_dir, needs_c, needs_mnist, write_idx)

SIMD_TOP = helpers.c_top_level()
SIMD_LEVELS = helpers.simd_levels(SIMD_TOP, os.environ.get("PURENET_SIMD_LEVELS"))
EXPECT_SIMD = helpers.expected_simd_level(os.environ.get("PURENET_EXPECT_SIMD"))
simd_exercised = set()      # the levels the simd_level fixture set in this run


@pytest.fixture(params=SIMD_LEVELS, ids=lambda level: "simd%s" % level)
def simd_level(request):
    """Runs the test at each SIMD level of this CPU (pn_limit_simd), then restores the top one."""
    if request.param is None:
        yield None
        return
    lib = cengine.lib_and_ffi()[0]
    assert lib.pn_limit_simd(request.param) == request.param
    simd_exercised.add(request.param)
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


def pytest_sessionfinish(session, exitstatus):
    """Which SIMD levels the run exercised; with PURENET_EXPECT_SIMD=avx512, a run that
    did not reach the AVX-512 paths fails (exit status 1) even when every test passed."""
    if session.config.option.collectonly:
        return
    selected = any("simd_level" in getattr(item, "fixturenames", ())
                   for item in getattr(session, "items", ()))
    lines, failed = helpers.simd_summary(simd_exercised, SIMD_LEVELS, SIMD_TOP, EXPECT_SIMD,
                                         selected)
    session.config._purenet_simd_summary = lines, failed
    if failed and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    """Say how many C tests were skipped and why, next to pytest's counts: a run without
    the C engine must not look like a full green run.  Then the SIMD levels exercised,
    and a line for the AVX-512 paths where they were not run (red where that fails)."""
    lines, failed = getattr(config, "_purenet_simd_summary", ([], False))
    for line in lines:
        terminalreporter.write_line(line, red=failed, yellow=not failed and "NOT run" in line)
    skipped = [r for r in terminalreporter.stats.get("skipped", ())
               if "C engine" in _skip_reason(r)]
    if skipped:
        terminalreporter.write_line("purenet: %d C-engine test%s skipped: %s" % (
            len(skipped), "s" if len(skipped) > 1 else "",
            C_MISSING or "see their reasons with pytest -rs"), yellow=True)


@pytest.fixture
def tiny_mnist(tmp_path):
    return make_tiny_mnist(str(tmp_path / "mnist"))
