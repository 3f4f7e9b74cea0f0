"""Free loopback ports for the local stack, waiting for one to open, and children that die with
their parent."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable


def free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """Ports free right now whose +10000 gRPC twins, which SeaweedFS also takes, are free too.
    None is another's twin or one of `avoid` (ports already given) or its twin: SeaweedFS
    refuses to start when one of its ports is another's twin."""
    given = set(avoid)
    ports: list[int] = []
    holders: list[socket.socket] = []
    while len(ports) < count:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if usable_port(port, given) and _is_free(port + 10000):
            ports.append(port)
            given.add(port)
            holders.append(s)
        else:
            s.close()
    for s in holders:
        s.close()
    return ports


def usable_port(port: int, given: set[int]) -> bool:
    """Neither `port` nor its gRPC twin is given or the twin of one given."""
    return port + 10000 < 65536 and not {port, port + 10000, port - 10000} & given


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before port {port} opened"
            )
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered on port {port} within {timeout} s")


def dying_with_us(argv: list[str]) -> list[str]:
    """If this process is killed outright, Linux sends its children SIGTERM (util-linux setpriv),
    so not even a SIGKILL of the launcher or of pytest leaves a stack running."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else argv
