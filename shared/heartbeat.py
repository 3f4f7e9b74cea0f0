"""Is a heartbeat file fresh? Kept apart from shared.health (which imports FastStream and the Kafka
clients) so that the container health check, a new Python process every few seconds, starts fast."""

from __future__ import annotations

import time
from pathlib import Path

STALE_AFTER_BEATS = 6


def is_fresh(path: Path, every_s: float, now: float | None = None) -> bool:
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_AFTER_BEATS * every_s
