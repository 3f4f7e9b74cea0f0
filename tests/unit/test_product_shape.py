"""The shape of the product's code (services, shared, the operator's CLI, the sandbox): no module
over 400 lines, and no module that imports itself back through others. The benchmarks and the
tests are not product code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("services", "shared", "faxrelay", "sandbox")
MAX_LINES = 400


def product_files() -> list[Path]:
    return sorted(p for package in PRODUCT for p in (ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_imports(path: Path, modules: set[str]) -> set[str]:
    """The product modules a file imports, anywhere in it (in functions and TYPE_CHECKING
    blocks too: a cycle hidden in either is still a cycle of the design)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= {m for m in named if m in modules} or {node.module}
    return found & modules


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        for target in sorted(edges.get(module, ())):
            if target == path[0]:
                found.append([*path, target])
            elif target not in path and target > path[0]:  # each cycle once, from its least
                walk(target, [*path, target])

    for start in sorted(edges):
        walk(start, [start])
    return found


def test_every_product_module_has_at_most_400_lines() -> None:
    files = product_files()
    assert len(files) > 50  # the packages were found
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in files}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_no_product_module_imports_itself_back() -> None:
    files = product_files()
    modules = {module_name(p) for p in files}
    edges = {module_name(p): product_imports(p, modules) - {module_name(p)} for p in files}
    assert cycles(edges) == []


def test_a_cycle_is_found_when_there_is_one() -> None:
    """The search itself: a three-module cycle is reported once, a tree is not."""
    looped = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(looped) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}}) == []


def late_bound_slots(path: Path) -> list[str]:
    """`nonlocal` rebinding, and names bound to an empty list to be filled later (`ready: list =
    []` then `ready[0]`), in a composition root."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Nonlocal):
            found += [f"nonlocal {name}" for name in node.names]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            empty = isinstance(node.value, ast.List) and not node.value.elts
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [ast.unparse(t) for t in targets if empty]
    return found


def test_composition_roots_hand_their_clients_over_without_late_bound_slots() -> None:
    roots = sorted((ROOT / "services").glob("*/app.py"))
    assert len(roots) >= 6
    assert {str(p.relative_to(ROOT)): s for p in roots if (s := late_bound_slots(p))} == {}


def test_a_late_bound_slot_is_found(tmp_path: Path) -> None:
    root = tmp_path / "app.py"
    root.write_text("def f(a):\n    ready: list[int] = []\n    def g():\n        nonlocal a\n")
    assert late_bound_slots(root) == ["ready", "nonlocal a"]
