"""Polling one user: scan from its cursor, announce what is new, move the cursor."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from services.poller.cursor import Cursor, full_scan_due, next_cursor, scan_start
from services.poller.settings import PollerSettings
from shared.contracts import now_utc
from shared.efax import EfaxClient, EfaxError, ReceivedFax, ReceivedPage
from shared.kafka import Publish
from shared.logs import fax_fields
from shared.metrics import (
    FAXES_NOTIFIED,
    POLLER_CURSOR_AGE_SECONDS,
    POLLER_INTERVAL_SECONDS,
    POLLER_SCANS,
)
from shared.polling import ScanResult, notified, scan
from shared.recent import Recent
from shared.storage import FaxStore
from shared.tracing import traced

log = logging.getLogger("faxrelay.poller")


RecentlyAnnounced = Recent[UUID]
"""Faxes announced lately, process-wide: eFax lists them until the downloader fetched them.
`RecentlyAnnounced(seconds)`."""


def not_announced_lately(
    recent: Recent[UUID], faxes: list[ReceivedFax], now: float | None = None
) -> list[ReceivedFax]:
    """The faxes not announced lately."""
    return [f for f in faxes if not recent.seen(f.fax_id, now=now)]


@dataclass
class Freshness:
    """When each user this copy polls last had a complete scan (or was taken on), for
    faxrelay_poller_cursor_age_seconds: the age of the stalest of them."""

    _at: dict[tuple[UUID, UUID], float] = field(default_factory=dict)

    def scanned(self, app_id: UUID, user_id: UUID, now: float | None = None) -> None:
        self._at[(app_id, user_id)] = time.monotonic() if now is None else now

    def dropped(self, app_id: UUID, user_id: UUID) -> None:
        self._at.pop((app_id, user_id), None)

    def age_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max((now - at for at in self._at.values()), default=0.0)


@dataclass
class Polling:
    """The collaborators of every scan of this copy."""

    efax: EfaxClient
    store: FaxStore
    publish: Publish
    recent: RecentlyAnnounced
    overlap: timedelta
    full_scan_every_s: float
    cursor_prefix: str
    now: Callable[[], datetime] = now_utc
    freshness: Freshness = field(default_factory=Freshness)

    @classmethod
    def of(
        cls, settings: PollerSettings, efax: EfaxClient, store: FaxStore, publish: Publish
    ) -> Polling:
        recent = RecentlyAnnounced(settings.poller_recently_announced_s)
        overlap = timedelta(seconds=settings.poller_overlap_s)
        every, prefix = settings.poller_full_scan_every_s, settings.poller_cursor_prefix
        polling = cls(efax, store, publish, recent, overlap, every, prefix)
        POLLER_CURSOR_AGE_SECONDS.set_function(polling.freshness.age_s)
        POLLER_INTERVAL_SECONDS.set(settings.poller_interval_s)
        return polling

    def cursor_key(self, app_id: UUID, user_id: UUID) -> str:
        return f"{self.cursor_prefix}/{app_id}/{user_id}.json"


async def announce(p: Polling, app_id: UUID, user_id: UUID, faxes: list[ReceivedFax]) -> None:
    fresh = not_announced_lately(p.recent, faxes)
    await p.publish(notified(app_id, user_id, fresh))
    p.recent.remember(*(f.fax_id for f in fresh))  # only once acknowledged
    FAXES_NOTIFIED.labels(source="poller").inc(len(fresh))
    for fax in fresh:
        log.debug("fax notified by polling", extra=fax_fields(fax.fax_id, None, None))
    if fresh:
        log.info("user %s: %d undownloaded faxes announced", user_id, len(fresh))


async def scan_user(p: Polling, app_id: UUID, user_id: UUID, since: datetime | None) -> ScanResult:
    async def list_page(offset: int) -> ReceivedPage:
        return await p.efax.list_received(app_id, user_id, since=since, offset=offset)

    with traced("scan undownloaded faxes", user_id=user_id):
        return await scan(list_page, partial(announce, p, app_id, user_id))


async def poll_once(p: Polling, app_id: UUID, user_id: UUID) -> None:
    """One scan of one user, from its cursor (or from the beginning when a full scan is due)."""
    key = p.cursor_key(app_id, user_id)
    cursor = Cursor.from_bytes(await p.store.read_or_none(key))
    started = p.now()
    full = full_scan_due(cursor, p.full_scan_every_s, started)
    try:
        result = await scan_user(p, app_id, user_id, scan_start(cursor, p.overlap, full))
    except Exception:
        POLLER_SCANS.labels(outcome="failed").inc()
        raise
    new_cursor = next_cursor(cursor, result, full, started)
    if new_cursor != cursor:
        await p.store.put(key, new_cursor.to_bytes(), "application/json", {})
    POLLER_SCANS.labels(outcome="complete" if result.complete_snapshot else "partial").inc()
    if result.complete_snapshot:
        p.freshness.scanned(app_id, user_id)


def next_delay(
    interval_s: float,
    previous_s: float,
    failed: bool,
    retry_after_s: float | None,
    cap_s: float = 600.0,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds until the next scan of one user: the interval after success; after a failure,
    Retry-After when eFax gives one, else doubling up to `cap_s`, with up to 20 % jitter."""
    if not failed:
        return interval_s
    if retry_after_s is not None:
        return max(retry_after_s, interval_s)
    doubled = min(max(previous_s, interval_s) * 2, cap_s)
    return doubled * (1 + 0.2 * jitter())


async def repeat(name: str, every_s: float, once: Callable[[], Awaitable[None]]) -> None:
    """Run `once()` forever; failures back off (Retry-After first) without touching other work."""
    delay = every_s
    while True:
        retry_after: float | None = None
        failed = True
        try:
            await once()
            failed = False
        except EfaxError as error:
            retry_after = error.retry_after
            log.warning("%s failed: %s", name, error)
        except Exception:
            log.exception("%s failed", name)
        delay = next_delay(every_s, delay, failed, retry_after)
        if failed:
            log.info("%s: next try in %.1f s", name, delay)
        await asyncio.sleep(delay)
