"""The heartbeat that health checks of port-less services read."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from shared.health import beat
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
