"""Health check of a faxrelay container, whichever service it runs (one image, many commands).

    python /app/healthcheck.py          # exit 0 healthy, 1 not

- gateway: GET /healthz on its internal port, FAXRELAY_METRICS_PORT (TLS when the gateway has
  it; the public port serves only webhooks). The process answering HTTP is the only liveness
  signal it has; readiness (/readyz: the broker is reachable) is for Kubernetes probes, not for
  restarts. With the internal port off (0) only the live process is checked.
- verifier, downloader, router, poller: they have no port; their process must exist, not be a
  zombie, and keep the heartbeat file (FAXRELAY_HEARTBEAT_FILE, set in the image) fresh: a stuck
  event loop stops touching it. The sandbox only needs a live process.
"""

from __future__ import annotations

import ssl
import sys
import urllib.request
from pathlib import Path

LOOPBACK_HOSTS = {"", "0.0.0.0", "::", "127.0.0.1", "localhost"}


def running_modules() -> dict[str, str]:
    """`python -m MODULE` processes of this container: module -> process state letter."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # the process ended while we looked
            continue
        if b"-m" in argv[:-1]:
            found[argv[argv.index(b"-m") + 1].decode()] = state
    return found


def gateway_answers() -> bool:
    from services.gateway.settings import GatewaySettings  # reads the same env as the service

    settings = GatewaySettings()
    if settings.metrics_port == 0:
        return True  # no internal port: the live process is all we can check
    host = settings.metrics_host
    host = "127.0.0.1" if host in LOOPBACK_HOSTS else host
    scheme = "https" if settings.gateway_tls_certfile else "http"
    # Our own process on this host: its certificate names the public host, not this address.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"{scheme}://{host}:{settings.metrics_port}/healthz"
    with urllib.request.urlopen(url, timeout=3, context=context) as answer:  # noqa: S310
        return bool(answer.status == 200)


def main() -> int:
    modules = running_modules()
    services = {m: s for m, s in modules.items() if m.startswith("services.") or m == "sandbox"}
    if not services:
        print(f"no faxrelay service running (saw {sorted(modules)})", file=sys.stderr)
        return 1
    for module, state in services.items():
        if state in "ZXx":
            print(f"{module} is a zombie or dead (state {state})", file=sys.stderr)
            return 1
    if "services.gateway" in services:
        try:
            return 0 if gateway_answers() else 1
        except OSError as exc:
            print(f"gateway does not answer /healthz: {exc}", file=sys.stderr)
            return 1
    if any(m.startswith("services.") for m in services) and not heartbeat_is_fresh():
        print("the service's heartbeat file is stale or missing", file=sys.stderr)
        return 1
    return 0


def heartbeat_is_fresh() -> bool:
    from shared.heartbeat import is_fresh  # not shared.health: it imports all of Kafka
    from shared.settings import ServiceSettings  # reads the same env as the service

    settings = ServiceSettings()
    if settings.heartbeat_file is None:
        return True  # not configured: the live process is all we can check
    return is_fresh(settings.heartbeat_file, settings.heartbeat_interval_s)


if __name__ == "__main__":
    sys.exit(main())
