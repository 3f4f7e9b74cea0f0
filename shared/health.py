"""Liveness of services without an HTTP port: a file touched from the event loop.

A health check that finds the file older than a few intervals knows the loop is stuck, which a
check of the process alone cannot see.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from faststream import FastStream

STALE_AFTER_BEATS = 6


async def beat(path: Path, every_s: float) -> None:
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(every_s)


def is_fresh(path: Path, every_s: float, now: float | None = None) -> bool:
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_BEATS * every_s


def with_heartbeat(app: FastStream, path: Path | None, every_s: float) -> FastStream:
    """Touch `path` every `every_s` seconds while `app` runs (no-op when `path` is None)."""
    if path is None:
        return app
    tasks: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start_beating() -> None:
        tasks.append(asyncio.create_task(beat(path, every_s)))

    @app.on_shutdown
    async def stop_beating() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return app
