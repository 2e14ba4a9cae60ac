"""The project's packages stack in layers: each imports only from its own layer and those below it,
and no two modules import each other, directly or around a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first. A command module directly in search/ sits above every subpackage.
LAYERS = (
    "space",
    "model",
    "search.data",
    "search.training",
    "search.study",
    "search.findings",
    "search.options",
    "search.trials",
    "search",
    "bench",
)
PACKAGES = ("space", "model", "search", "bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of a project module: the longest matching prefix in LAYERS."""
    matches = [i for i, name in enumerate(LAYERS) if module == name or module.startswith(name + ".")]
    return max(matches, key=lambda i: len(LAYERS[i]))


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports (``from a.b import c`` counts as a.b.c when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in MODULES else node.module for n in names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES}
    return found


FILES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
MODULES = {module_name(p): p for p in FILES}
GRAPH = {name: {m for m in project_imports(path) if m in MODULES} for name, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_imports_upward(module: str) -> None:
    upward = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not upward, f"{module} (layer {LAYERS[layer(module)]}) imports {upward} from above it"


def test_no_module_is_part_of_an_import_circle() -> None:
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            circle = [*path[path.index(module) :], module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if module in done:
            return
        path.append(module)
        for imported in sorted(GRAPH[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)


def test_space_is_torch_free() -> None:
    for path in (ROOT / "space").rglob("*.py"):
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        assert "torch" not in imported and "model" not in imported and "search" not in imported, path
