"""The docs keep their promises.

* Every relative link in README.md, CHANGELOG.md and docs/*.md names a file that exists,
  and a heading of it where the link has a #anchor.
* Every ```python block of the README runs as written (a subprocess in a temp dir).
* Every purenet command line in a ```sh block (and every ``$ `` line of an output block)
  parses with that command's real option parser.
* The README's test command is the one .ci/run runs, the README fits on one page, and
  the files its commands write are ignored by git.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from purenet.cli import explain, gradcheck, predict, train

PARSERS = {"train": train.build_parser, "predict": predict.build_parser,
           "explain": explain.build_parser, "gradcheck": gradcheck.build_parser}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
PAGES = sorted([README, os.path.join(ROOT, "CHANGELOG.md")]
               + glob.glob(os.path.join(ROOT, "docs", "*.md")))
TEST_COMMAND = "python -m pytest -q"      # what .ci/run runs as "the README's test command"
README_MAX_LINES = 150
BLOCK_TIMEOUT = 180                        # seconds; the README's blocks take a few


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --- Markdown -----------------------------------------------------------------

FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")


def blocks(text):
    """(language, code, first line number) of every fenced block."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start, body = m.group(1), m.group(2).lower(), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        out.append((lang, "\n".join(body) + "\n", start + 1))
        i += 1
    return out


def prose(text, keep_code=False):
    """The lines outside fenced blocks, as (number, line); without inline code spans
    unless keep_code."""
    out, fence = [], None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is not None:
            if line.startswith(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        out.append((n, line if keep_code else re.sub(r"(`+).*?\1", "", line)))
    return out


def slug(heading):
    """GitHub's anchor for a heading: the text without markup, lower case, punctuation
    dropped (letters, digits, '_', '-' and spaces kept), spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)    # a link's text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "_- ")
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of path's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    seen, out = {}, set()
    for _, line in prose(read(path), keep_code=True):
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if m:
            base = slug(m.group(1))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else "%s-%d" % (base, k))
    return out


LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(path):
    """(line number, target) of every link and image in the prose of path (not in code)."""
    out = []
    for n, line in prose(read(path)):
        for m in LINK.finditer(line):
            out.append((n, m.group(1)))
    return out


# --- links --------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_relative_links_resolve(page):
    assert os.path.exists(page), "%s is missing" % rel(page)
    bad = []
    for n, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):        # http:, mailto:, ...
            continue
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(dest):
            bad.append("line %d: %s: no such file %s" % (n, target, rel(dest)))
            continue
        if not dest.startswith(ROOT + os.sep):
            bad.append("line %d: %s: points outside the repository" % (n, target))
            continue
        if anchor and dest.endswith(".md") and anchor not in anchors(dest):
            bad.append("line %d: %s: %s has no heading #%s" % (n, target, rel(dest), anchor))
    assert not bad, "%s has broken links:\n  %s" % (rel(page), "\n  ".join(bad))


def test_links_are_found():
    """The link scanner sees the README's links (so an empty scan cannot pass)."""
    targets = [t for _, t in links(README)]
    assert "docs/cli.md" in targets and "CHANGELOG.md" in targets


# --- the README's Python ------------------------------------------------------

def python_blocks():
    return [(code, line) for lang, code, line in blocks(read(README)) if lang == "python"]


def _c_engine_missing():
    try:
        import purenet
        purenet.Network([1, 1], seed=0, backend="c")
    except ImportError as e:
        return str(e)
    return None


@pytest.mark.parametrize("code,line", python_blocks(),
                         ids=["README.md line %d" % line for _, line in python_blocks()])
def test_readme_python_runs(code, line, tmp_path):
    if "load_mnist" in code and not os.environ.get("PURENET_DATA"):
        pytest.skip("this README block needs MNIST: set PURENET_DATA to a folder with the "
                    "four MNIST IDX files to run it")
    if 'backend="c"' in code:
        missing = _c_engine_missing()
        if missing and os.environ.get("PURENET_REQUIRE_C", "") in ("", "0"):
            pytest.skip("this README block needs the C engine: %s" % missing)
    script = tmp_path / "readme_block.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    r = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    assert r.returncode == 0, "the Python block at README.md line %d fails:\n%s\n%s" % (
        line, r.stdout[-2000:], r.stderr[-4000:])


def test_readme_has_python():
    assert python_blocks(), "the README has no ```python block"


# --- command lines --------------------------------------------------------------

def commands(path):
    """(line number, tool, argv, text) of each purenet command line in path's sh/bash
    blocks and of each "$ " line in its other blocks."""
    out = []
    for lang, code, start in blocks(read(path)):
        for i, line in enumerate(code.split("\n")):
            if lang in ("sh", "bash", "shell", "console"):
                text = line[2:] if line.startswith("$ ") else line
            elif line.startswith("$ "):
                text = line[2:]
            else:
                continue
            try:
                words = shlex.split(text, comments=True)
            except ValueError as e:
                out.append((start + i, None, str(e), line))
                continue
            for part in _segments(words):
                found = _purenet_command(part)
                if found is not None:
                    out.append((start + i, found[0], found[1], line))
    return out


def _segments(words):
    part = []
    for w in words:
        if w in ("&&", "||", ";", "|"):
            yield part
            part = []
        else:
            part.append(w)
    yield part


def _purenet_command(words):
    for i, w in enumerate(words):
        m = re.match(r"^purenet-(\w+)$", os.path.basename(w))
        if m:
            return m.group(1), words[i + 1:]
        if w == "-m" and i + 1 < len(words):
            m = re.match(r"^purenet(?:\.cli)?(?:\.(\w+))?$", words[i + 1])
            if m:
                return m.group(1) or "train", words[i + 2:]
    return None


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_command_lines_parse(page, capsys):
    bad = []
    for n, tool, argv, line in commands(page):
        if tool is None:
            bad.append("line %d: cannot split %r: %s" % (n, line, argv))
            continue
        if tool not in PARSERS:
            bad.append("line %d: no command purenet-%s: %s" % (n, tool, line))
            continue
        try:
            PARSERS[tool]().parse_args(argv)
        except SystemExit as e:
            if e.code not in (0, None):
                err = capsys.readouterr().err.strip()
                bad.append("line %d: %s\n    %s" % (n, line.strip(), err))
    assert not bad, "%s has command lines the parser refuses:\n  %s" % (
        rel(page), "\n  ".join(bad))


def test_readme_commands_found():
    tools = {tool for _, tool, _, _ in commands(README)}
    assert {"train", "predict"} <= tools


# --- the README as a page -------------------------------------------------------

def test_readme_test_command():
    """.ci/run runs "the README's test command": keep it in the README, exactly."""
    sh = [code for lang, code, _ in blocks(read(README)) if lang in ("sh", "bash")]
    assert any(re.search(r"^%s(\s|$)" % re.escape(TEST_COMMAND), code, re.M) for code in sh)
    assert TEST_COMMAND in read(os.path.join(ROOT, ".ci", "run"))


def test_readme_fits_one_page():
    n = len(read(README).rstrip("\n").split("\n"))
    assert n <= README_MAX_LINES, "README.md has %d lines (at most %d)" % (n, README_MAX_LINES)


def written_files():
    """The files the README's commands and Python write into the current folder."""
    text = read(README)
    names = set(re.findall(r"--(?:save|checkpoint)[ =](\S+)", text))
    names |= set(re.findall(r"""\.save\(\s*["']([^"']+)["']""", text))
    names |= set(re.findall(r"""checkpoint\s*=\s*["']([^"']+)["']""", text))
    return sorted(n for n in names if not os.path.isabs(n) and not n.startswith("~"))


def test_readme_outputs_are_ignored():
    git = shutil.which("git")
    if git is None or subprocess.run([git, "rev-parse"], cwd=ROOT,
                                     capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    names = written_files()
    assert "model.json" in names
    r = subprocess.run([git, "check-ignore", "--no-index"] + names, cwd=ROOT,
                       capture_output=True, text=True)
    ignored = set(r.stdout.split())
    assert ignored == set(names), "not in .gitignore: %s" % ", ".join(sorted(set(names) - ignored))
