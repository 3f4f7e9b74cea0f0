"""HTTP/1.1 keep-alive load generator, run as its own process:

    python -m bench.load URL BODIES_FILE --rate R --seconds S --connections C [--once]

BODIES_FILE is a JSON list of [body, signature]. With `--rate R > 0`, request i is due at
t0 + i/R and its latency is measured from that due time, so a server that makes requests wait
is charged for the wait (no coordinated omission). `--rate 0` is open loop: every connection
sends its next request as soon as the previous answer arrived. `--once` sends each body exactly
once (pipeline injection). Requests still unsent `--drain` seconds after the last one was due
are given up and counted as `unsent`. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop


def build_requests(url: str, bodies: list[list[str]]) -> tuple[str, int, list[bytes]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = []
    for body_text, signature in bodies:
        body = body_text.encode()
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nX-HMAC-Signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return host, port, requests


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at >= 0:
        length = int(lower[at + 15 : lower.index(b"\r\n", at)])
        await reader.readexactly(length)
    return status


async def run(args: argparse.Namespace, bodies: list[list[str]]) -> dict[str, Any]:
    host, port, requests = build_requests(args.url, bodies)
    rate: float = args.rate
    if args.once:
        total = len(requests)
    elif rate > 0:
        total = int(rate * args.seconds)
    else:
        total = 1 << 62
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    counter = itertools.count()
    t0 = time.perf_counter() + 0.2  # every connection is open by then
    t0_unix = time.time() + 0.2
    stop_sending = t0 + args.seconds if rate <= 0 and not args.once else float("inf")
    give_up = (t0 + total / rate + args.drain) if rate > 0 else float("inf")
    last_done = t0

    async def worker() -> None:
        nonlocal errors, last_done
        reader, writer = await asyncio.open_connection(host, port)
        await asyncio.sleep(max(0.0, t0 - time.perf_counter()))
        try:
            while True:
                i = next(counter)
                now = time.perf_counter()
                if i >= total or now >= stop_sending or now >= give_up:
                    return
                due = t0 + i / rate if rate > 0 else now
                if due > now:
                    await asyncio.sleep(due - now)
                try:
                    writer.write(requests[i % len(requests)])
                    status = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                done = time.perf_counter()
                last_done = max(last_done, done)
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(done - due)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(args.connections)))
    latencies.sort()
    n = len(latencies)
    sent = n + errors
    elapsed = max(last_done - t0, 1e-9)
    return {
        "offered": rate,
        "t0_unix": t0_unix,
        "sent": sent,
        "ok": statuses.get(200, 0),
        "non200": n - statuses.get(200, 0),
        "errors": errors,
        "unsent": (total - sent) if total < (1 << 62) else 0,
        "elapsed_s": elapsed,
        "per_s": statuses.get(200, 0) / elapsed,
        "p50_ms": 1000 * latencies[n // 2] if n else None,
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else None,
        "max_ms": 1000 * latencies[-1] if n else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("url")
    parser.add_argument("bodies")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0 = open loop")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--once", action="store_true", help="send each body exactly once")
    args = parser.parse_args()
    bodies = json.loads(Path(args.bodies).read_text())
    print(json.dumps(uvloop.run(run(args, bodies))), flush=True)


if __name__ == "__main__":
    main()
