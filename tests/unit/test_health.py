"""The heartbeat that health checks of port-less services read, and the bound on a stop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from faststream import FastStream, TestApp
from faststream.kafka import KafkaBroker, TestKafkaBroker

from shared.health import beat, bound_the_stop
from shared.heartbeat import is_fresh


async def test_a_running_loop_keeps_the_heartbeat_fresh(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    assert not is_fresh(path, 1.0)
    task = asyncio.create_task(beat(path, 0.05))
    await asyncio.sleep(0.2)
    task.cancel()
    assert is_fresh(path, 1.0)


def test_a_heartbeat_older_than_six_beats_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    path.touch()
    old = path.stat().st_mtime - 70
    os.utime(path, (old, old))
    assert not is_fresh(path, 10.0)
    assert is_fresh(path, 20.0)


async def stopped(app: FastStream, broker: KafkaBroker) -> None:
    async with TestKafkaBroker(broker), TestApp(app):
        pass


async def test_a_stop_that_ends_in_time_disarms_the_watchdog() -> None:
    exits: list[float] = []
    broker = KafkaBroker()
    app = FastStream(broker)
    bound_the_stop(app, 0.2, exits.append)
    await stopped(app, broker)
    await asyncio.sleep(0.4)
    assert exits == []


async def test_a_stop_hung_in_any_closer_exits_once_its_limit_is_over() -> None:
    exits: list[float] = []
    broker = KafkaBroker()
    app = FastStream(broker)
    bound_the_stop(app, 0.2, exits.append)

    @app.after_shutdown
    async def hung_closer() -> None:  # registered after the watchdog, still watched by it
        await asyncio.sleep(0.6)

    started = time.monotonic()
    await stopped(app, broker)
    assert exits == [0.2]
    assert time.monotonic() - started >= 0.6  # the exit came while the closer hung
