"""The package's layers point one way: the command-line tools -> Network -> engines and
file formats -> checks and errors.

    python tests/test_layers.py        prints every module, its layer and what it imports

Read from the source (every import counted, module level and inside functions):
* every import inside purenet goes to a lower layer, or within one subpackage of the
  same layer; there is no cycle;
* no module takes a ``_private`` name from another;
* a function-local import is only for an optional dependency or the compiled module.
"""

import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "purenet")

# Lowest first.  A module's layer is the first whose prefixes name it.
LAYERS = [
    ("errors", ["purenet.errors"]),
    ("checks", ["purenet.checks"]),
    ("the textbook and its data", ["purenet.reference", "purenet.convolution", "purenet.dataset",
                                   "purenet.schedule"]),
    ("the textbook's layered network", ["purenet.deep"]),
    ("engines and file formats", ["purenet.cengine", "purenet.formats"]),
    ("data sources", ["purenet.data"]),
    ("Network", ["purenet.network"]),
    ("the public face", ["purenet"]),
    ("command-line tools", ["purenet.cli"]),
    ("entry points", ["purenet.train", "purenet.predict", "purenet.explain",
                      "purenet.gradcheck", "purenet.serve", "purenet.__main__"]),
]
# What a function may import where it is used: optional extras and the compiled module.
COMPILED = {"purenet._ckernels"}          # built by build_ext.py: no .py file
LOCAL_IMPORTS = {"purenet._ckernels", "sklearn.datasets", "numpy", "purenet.cli.plots", "PIL"}


def modules():
    """{dotted name: path} of every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer(name):
    """The index in LAYERS of a module of purenet (the longest matching prefix wins)."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if name == p or name.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (index, len(p))
    assert best is not None, "%s is in no layer of tests/test_layers.py" % name
    return best[0]


def imports(name, path):
    """[(imported module, names taken, local?)] of one module, relative imports resolved."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    base = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
    local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], id(node) in local) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                target = ".".join(base[:len(base) - node.level + 1] + ([target] if target else []))
            names, mods = [a.name for a in node.names], set(modules()) | COMPILED
            submodules = [n for n in names if target + "." + n in mods]
            found += [(target + "." + n, [], id(node) in local) for n in submodules]
            names = [n for n in names if n not in submodules]   # "from . import x": module x
            if names:
                found.append((target, names, id(node) in local))
    return found


def graph():
    """{module: set of purenet modules it imports}."""
    mods = modules()
    return {m: {t for t, _, _ in imports(m, p) if t in mods and t != m} for m, p in mods.items()}


def test_imports_point_down_the_layers():
    wrong = []
    for m, targets in graph().items():
        for t in targets:
            same_package = t.rsplit(".", 1)[0] == m.rsplit(".", 1)[0] and "." in m[8:]
            if layer(t) > layer(m) or (layer(t) == layer(m) and not same_package):
                wrong.append("%s (%s) imports %s (%s)" % (m, LAYERS[layer(m)][0], t,
                                                          LAYERS[layer(t)][0]))
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    edges, state, cycles = graph(), {}, []

    def visit(m, stack):
        state[m] = "open"
        for t in sorted(edges[m]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = "done"
    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_no_private_name_crosses_a_module():
    mods = modules()
    taken = ["%s takes %s from %s" % (m, n, t) for m, p in mods.items()
             for t, names, _ in imports(m, p) if t in mods for n in names
             if n.startswith("_") and not n.endswith("__")]
    assert not taken, "\n".join(taken)


def test_function_local_imports_are_optional_or_compiled():
    found = ["%s imports %s inside a function" % (m, t) for m, p in modules().items()
             for t, _, local in imports(m, p) if local and t not in LOCAL_IMPORTS]
    assert not found, "\n".join(found)


def test_the_checker_sees_a_cycle_and_a_wrong_way_import(tmp_path, monkeypatch):
    """The tests above can fail: a package where checks imports network (and a private name
    of it) breaks each."""
    pkg = tmp_path / "purenet"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "checks.py").write_text("from .network import Network, _hidden\n")
    (pkg / "network.py").write_text("from .checks import check_sizes\n\ndef f():\n"
                                    "    import json\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", str(pkg))
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    for test in (test_imports_point_down_the_layers, test_no_import_cycle,
                 test_no_private_name_crosses_a_module,
                 test_function_local_imports_are_optional_or_compiled):
        try:
            test()
        except AssertionError:
            continue
        raise AssertionError("%s passed on a broken package" % test.__name__)


if __name__ == "__main__":
    edges = graph()
    for m in sorted(edges, key=lambda m: (layer(m), m)):
        print("%-24s %-26s -> %s" % (m, LAYERS[layer(m)][0],
                                     ", ".join(sorted(edges[m])) or "(nothing in purenet)"))
    for test in (test_imports_point_down_the_layers, test_no_import_cycle,
                 test_no_private_name_crosses_a_module,
                 test_function_local_imports_are_optional_or_compiled):
        test()
    print("no cycle, every import points down, no private name taken, local imports only "
          "for optional dependencies and the compiled module")
