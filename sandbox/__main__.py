"""``python -m sandbox [--host H] [--port P] [--rate 5/s]``: serve the sandbox standalone.

Settings come from ``SANDBOX_*`` environment variables; flags override host and port.
With no ``SANDBOX_APPS`` a demo app (one user, no webhook) is made up and printed.
``--rate`` keeps receiving faxes for all configured apps and users, round-robin.
The first line on stdout is ``eFax sandbox listening on <base url>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import time
import uuid

from sandbox.core import Sandbox
from sandbox.server import Server
from sandbox.settings import AppConfig, Content, SandboxSettings


def parse_rate(text: str) -> float:
    """``5/s``, ``300/min``, ``2`` (per second) -> faxes per second."""
    found = re.fullmatch(r"\s*([\d.]+)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"rate like 5/s or 300/min, not {text!r}")
    per = {"m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}.get(found[2] or "s", 1)
    return float(found[1]) / per


async def demo_traffic(
    sandbox: Sandbox, rate: float, stop: asyncio.Event, content: Content = "documents"
) -> None:
    """``rate`` faxes per second of 1 to 3 pages, healthcare documents with known text."""
    owed = 0.0
    last = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.1)
        now = time.monotonic()
        owed += (now - last) * rate
        last = now
        if owed >= 1:
            sandbox.create_faxes(count=int(owed), pages=1 + int(now) % 3, content=content)
            owed -= int(owed)


async def main(settings: SandboxSettings, rate: float | None) -> None:
    sandbox = Sandbox(settings)
    server = Server(sandbox)
    await server.start()
    print(f"eFax sandbox listening on {sandbox.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if rate:
            await demo_traffic(sandbox, rate, stop)
        else:
            await stop.wait()
    finally:
        await server.stop()


def run() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--rate", type=parse_rate, help="demo faxes, e.g. 5/s or 300/min")
    args = parser.parse_args()
    settings = SandboxSettings()
    if args.host is not None:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    if not settings.apps:
        app = AppConfig(
            app_id=str(uuid.uuid4()),
            api_key=uuid.uuid4().hex,
            hmac_secret=uuid.uuid4().hex,
            user_ids=[str(uuid.uuid4())],
        )
        settings.apps = [app]
        print(
            f"demo app_id={app.app_id} api_key={app.api_key.get_secret_value()} "
            f"hmac_secret={app.hmac_secret.get_secret_value()} user_id={app.user_ids[0]}",
            flush=True,
        )
    asyncio.run(main(settings, args.rate))


if __name__ == "__main__":
    run()
