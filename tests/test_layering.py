"""Imports run one way: config → api → musicbud and graph, graph reads only the domain's models
and errors, and no production module needs tooling/ to import."""

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


def test_production_modules_import_tooling_only_when_a_command_runs() -> None:
    # Module level only: a management command may import tooling inside its methods.
    against = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in PRODUCTION
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            _within(module, "tooling")
            for module in (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
        )
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
