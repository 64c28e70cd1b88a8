"""Imports run one way: config → api → musicbud and graph, graph reads only the domain's models
and errors, and no production module imports tooling/, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fixtures.processes import ROOT

# package -> the modules it must not import (a module and everything below it)
FORBIDDEN = {
    "musicbud": ("api", "config"),
    "api": ("config",),
    "graph": ("api", "config", "musicbud"),
    # A leaf: the framework specialisations import only frameworks.
    "fastpath": ("api", "config", "graph", "musicbud", "tooling"),
}
# What graph/ may read of the domain; the kind registry is declarations over the models only.
GRAPH_MAY_IMPORT = ("musicbud.models", "musicbud.errors", "musicbud.kinds")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_above_it(package: str) -> None:
    against = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for line, module in _imports(path)
        if any(_within(module, banned) for banned in FORBIDDEN[package])
        and not (package == "graph" and any(_within(module, ok) for ok in GRAPH_MAY_IMPORT))
    ]

    assert against == []


PRODUCTION = ("api", "config", "fastpath", "graph", "musicbud")


def _dynamic_imports(path: Path) -> list[tuple[int, str]]:
    """``import_module("x")`` and ``__import__("x")`` with a literal name."""
    return [
        (node.lineno, node.args[0].value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id in {"import_module", "__import__"})
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
        )
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def test_production_packages_never_import_tooling() -> None:
    # Anywhere: module level, inside a function, migrations. Tooling is a development-only app
    # (config/settings.py leaves it out in production, whose image does not ship it).
    against = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in PRODUCTION
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in [*_imports(path), *_dynamic_imports(path)]
        if _within(module, "tooling")
    ]

    assert against == []


def test_routers_never_import_asgiref() -> None:
    # The services and selectors they call are async and own their sync_to_async hop.
    against = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "api").rglob("router.py"))
        for line, module in _imports(path)
        if _within(module, "asgiref")
    ]

    assert against == []
