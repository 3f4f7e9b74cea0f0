"""The shape of `shared/`: the contracts stand alone (no adapter, client or metrics behind
them), and no module of `shared` imports itself back through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.unit.test_product_shape import cycles

SHARED = Path(__file__).resolve().parents[2] / "shared"


def module_name(path: Path) -> str:
    parts = path.relative_to(SHARED.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def shared_imports(path: Path) -> set[str]:
    """The `shared.*` modules a file imports, anywhere in it (functions and TYPE_CHECKING
    blocks too: a cycle hidden in either is still a cycle of the design)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = {f"{node.module}.{a.name}" for a in node.names}
            found |= {m for m in modules if m in GRAPH_NAMES} or {node.module}
    return {m for m in found if m == "shared" or m.startswith("shared.")}


GRAPH_NAMES = {module_name(p) for p in SHARED.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    return {module_name(p): shared_imports(p) - {module_name(p)} for p in SHARED.rglob("*.py")}


def test_the_contracts_import_no_other_shared_module() -> None:
    contracts = {m for m in GRAPH_NAMES if m.startswith("shared.contracts")}
    for module in contracts:
        assert graph()[module] <= contracts, module
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, shared.contracts; "
            "print(*sorted(m for m in sys.modules if m.startswith('shared')))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=SHARED.parent,
    ).stdout
    assert set(loaded.split()) == {"shared", *contracts}


def test_importing_metrics_starts_nothing() -> None:
    """No series is born, no server or thread started, by importing the metrics."""
    script = (
        "import threading; before = threading.active_count(); "
        "import shared.metrics as m; "
        "assert threading.active_count() == before, 'a thread started'; "
        "assert not list(m.DOWNLOADS_FAILED.collect()[0].samples), 'series made at import'; "
        "m.start_at_zero(); assert list(m.DOWNLOADS_FAILED.collect()[0].samples)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=SHARED.parent)


def test_no_module_of_shared_imports_itself_back() -> None:
    assert cycles(graph()) == []
