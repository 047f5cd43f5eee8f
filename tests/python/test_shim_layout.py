"""The shim's own layout (ARCHITECTURE.md, "The Python shim"): its modules import each other
without a cycle, and none is over 600 lines."""

from __future__ import annotations

import ast

import pytest

import ghsupport as support

greenhub_only = pytest.mark.greenhub_only

PACKAGE = support.BINDINGS_DIR / "greenhub"
MAX_LINES = 600


def _imports(path):
    """The package's modules a module imports (``from . import x``, ``from .x import y``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


@greenhub_only(reason="the layout of greenhub's package")
def test_no_import_cycle_between_the_shims_modules():
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert {"_hub", "_lib", "_waiter"} <= set(modules), sorted(modules)
    graph = {name: _imports(path) & set(modules) for name, path in modules.items()}
    done, stack = set(), []

    def visit(name):
        if name in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(name):] + [name]))
        if name in done:
            return
        stack.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        stack.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


@greenhub_only(reason="the layout of greenhub's package")
def test_no_module_of_the_shim_is_over_600_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert sizes, PACKAGE
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not over, over
