"""Find the faxes eFax still holds undownloaded: scans, cursors, ownership, the delivery log.

Plain functions and small value types; the service in `app.py` wires them to eFax, the store
and Kafka.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker

from shared.contracts import FAX_NOTIFIED, FaxNotified, Source, parse_efax_timestamp
from shared.efax import PAGE_LIMIT, ReceivedFax, ReceivedPage
from shared.kafka import run_all

# --- announcing ---------------------------------------------------------------------------


def to_notified(app_id: UUID, user_id: UUID, fax: ReceivedFax) -> FaxNotified:
    return FaxNotified(
        fax_id=fax.fax_id,
        app_id=app_id,
        user_id=user_id,
        source=Source.POLLING,
        completed_at=fax.completed_at,
        completed_timestamp=fax.completed_timestamp[:64],
        pages=fax.pages,
        duration=fax.duration,
        sending_fax_number=fax.originating_fax_number[:32],
        receiving_fax_number=fax.destination_fax_number[:32],
        originating_fax_tsid=fax.originating_fax_tsid[:64],
    )


async def publish_notified(
    broker: KafkaBroker, app_id: UUID, user_id: UUID, faxes: list[ReceivedFax]
) -> None:
    """Announce faxes found by polling on `fax.notified`, keyed by fax id, acknowledged."""
    await run_all(
        broker.publish(
            to_notified(app_id, user_id, fax).model_dump_json().encode(),
            FAX_NOTIFIED,
            key=str(fax.fax_id).encode(),
        )
        for fax in faxes
    )


# --- scanning -----------------------------------------------------------------------------

ListPage = Callable[[int], Awaitable[ReceivedPage]]
Announce = Callable[[list[ReceivedFax]], Awaitable[None]]


@dataclass(frozen=True)
class ScanResult:
    faxes: list[ReceivedFax]
    pages: int

    @property
    def complete_snapshot(self) -> bool:
        """One short page is one answer holding every match at that instant. Over several pages
        the list moves (downloads remove faxes, so later offsets skip some), so a multi-page scan
        proves nothing about what it did not see."""
        return self.pages == 1


async def scan(list_page: ListPage, announce: Announce | None = None) -> ScanResult:
    """Page with offsets until a short page; each page is announced as soon as it is read."""
    found: dict[UUID, ReceivedFax] = {}
    offset = 0
    pages = 0
    while True:
        page = await list_page(offset)
        pages += 1
        new = [f for f in page.faxes if f.fax_id not in found]
        found.update((f.fax_id, f) for f in new)
        if announce is not None and new:
            await announce(new)
        received = len(page.faxes) + page.skipped
        if received < PAGE_LIMIT:
            return ScanResult(list(found.values()), pages)
        offset += received


@dataclass(frozen=True)
class Cursor:
    """Per (App ID, user): every undownloaded fax completed before `since` has been announced at
    least once; `full_scan_at` is when the last scan from the beginning finished."""

    since: datetime | None = None
    full_scan_at: datetime | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "cursor": self.since.isoformat() if self.since else None,
                "full_scan_at": self.full_scan_at.isoformat() if self.full_scan_at else None,
            }
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Cursor:
        """Lenient: an unreadable cursor means scanning from the beginning, never skipping."""
        if not data:
            return cls()
        try:
            body = json.loads(data)
            since, full = body.get("cursor"), body.get("full_scan_at")
            return cls(
                datetime.fromisoformat(since) if since else None,
                datetime.fromisoformat(full) if full else None,
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


def full_scan_due(cursor: Cursor, every_s: float, now: datetime) -> bool:
    """No cursor yet, or the periodic full scan (which finds failed downloads that were set back
    to undownloaded behind the cursor) is due. Kept in the cursor, so restarts do not reset it."""
    if cursor.since is None:
        return True
    if every_s <= 0:
        return False
    return cursor.full_scan_at is None or (now - cursor.full_scan_at).total_seconds() >= every_s


def scan_start(cursor: Cursor, overlap: timedelta, full_scan: bool) -> datetime | None:
    if cursor.since is None or full_scan:
        return None
    return cursor.since - overlap


def next_cursor(cursor: Cursor, result: ScanResult, full_scan: bool, now: datetime) -> Cursor:
    """Advance only on a complete snapshot, and only forward; a full scan records its time."""
    since = cursor.since
    if result.complete_snapshot:
        latest = max((f.completed_at for f in result.faxes), default=None)
        if latest is not None:
            since = latest if since is None else max(since, latest)
        elif since is None:
            since = now  # nothing undownloaded at all: start from here
    full_scan_at = now if full_scan and result.complete_snapshot else cursor.full_scan_at
    return Cursor(since, full_scan_at)


@dataclass
class RecentlyAnnounced:
    """Faxes announced lately, process-wide: eFax lists them until the downloader fetched them."""

    seconds: float
    _at: dict[UUID, float] = field(default_factory=dict)

    def fresh(self, faxes: list[ReceivedFax], now: float | None = None) -> list[ReceivedFax]:
        now = time.monotonic() if now is None else now
        self._at = {k: t for k, t in self._at.items() if now - t < self.seconds}
        return [f for f in faxes if f.fax_id not in self._at]

    def remember(self, fax_ids: Iterable[UUID], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._at.update(dict.fromkeys(fax_ids, now))


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


# --- ownership among poller copies ----------------------------------------------------------


def shard_of(app_id: UUID, user_id: UUID | None, shards: int) -> int:
    """Stable over processes and restarts (unlike `hash()`): sha256 of the ids, mod `shards`.
    `user_id=None` is the App ID's own work (its delivery log)."""
    text = f"{app_id}/{user_id or ''}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % shards


@dataclass(frozen=True, order=True)
class Work:
    """One thing a poller copy does while it owns its shard: scan one user, or read one App ID's
    delivery log (`user_id` None)."""

    app_id: UUID
    user_id: UUID | None


def owned_work(
    pairs: Iterable[tuple[UUID, UUID]], partitions: set[int], shards: int, delivery_log: bool
) -> set[Work]:
    """The work of the shards (partitions of the shard topic) this copy holds."""
    work = {Work(a, u) for a, u in pairs if shard_of(a, u, shards) in partitions}
    if delivery_log:
        apps = {a for a, _ in pairs}
        work |= {Work(a, None) for a in apps if shard_of(a, None, shards) in partitions}
    return work


# --- the delivery log -------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One webhook attempt from `GET /notifications`, parsed leniently."""

    fax_id: UUID | None
    user_id: UUID | None
    status: str
    event_type: str
    direction: str
    at: datetime | None
    attempt: int = 1

    @classmethod
    def parse(cls, entry: Any) -> Delivery | None:
        if not isinstance(entry, dict):
            return None

        def uuid_or_none(value: Any) -> UUID | None:
            try:
                return UUID(str(value)) if value else None
            except ValueError:
                return None

        at: datetime | None
        try:
            parsed = parse_efax_timestamp(str(entry.get("time") or entry.get("timestamp") or ""))
            at = parsed if isinstance(parsed, datetime) else None
        except ValueError:
            at = None
        return cls(
            fax_id=uuid_or_none(entry.get("fax_id")),
            user_id=uuid_or_none(entry.get("user_id")),
            status=str(entry.get("status") or "").upper(),
            event_type=str(entry.get("event_type") or "FAX").upper(),
            direction=str(entry.get("direction") or "INBOUND").upper(),
            at=at.astimezone(UTC) if at else None,
            attempt=int(entry["attempt"]) if str(entry.get("attempt", "")).isdigit() else 1,
        )


@dataclass(frozen=True)
class LogState:
    """Per App ID: failed attempts counted up to `counted_until`, and the totals so far:
    failed attempts, and faxes whose first attempt failed (each fax counted once)."""

    counted_until: datetime | None = None
    failed_deliveries: int = 0
    failed_faxes: int = 0

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "counted_until": self.counted_until.isoformat() if self.counted_until else None,
                "failed_deliveries": self.failed_deliveries,
                "failed_faxes": self.failed_faxes,
            }
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> LogState:
        if not data:
            return cls()
        try:
            body = json.loads(data)
            until = body.get("counted_until")
            return cls(
                datetime.fromisoformat(until) if until else None,
                int(body.get("failed_deliveries", 0)),
                int(body.get("failed_faxes", 0)),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class LogReview:
    state: LogState
    new_failed: int
    missed: dict[UUID, set[UUID]]  # user -> faxes with newly counted failures and no success
    missed_without_user: int


def review_log(
    entries: Iterable[Any], state: LogState, now: datetime, settle: timedelta = timedelta(seconds=2)
) -> LogReview:
    """Count the failed inbound fax deliveries not counted before, and name their faxes unless a
    delivery of theirs succeeded in the window: each failure leads to one check, not one per read.

    Attempts are counted once: only those after `counted_until`, which moves to the newest attempt
    seen; while that second is younger than `settle` (log times have whole seconds, so it may still
    grow), only to the second before it."""
    deliveries = [
        d
        for d in (Delivery.parse(e) for e in entries)
        if d is not None and d.event_type == "FAX" and d.direction == "INBOUND"
    ]
    succeeded = {d.fax_id for d in deliveries if d.status == "SUCCESS"}
    failed = [d for d in deliveries if d.status == "FAILED"]
    newest = max((d.at for d in deliveries if d.at is not None), default=None)
    until = state.counted_until
    settled = newest
    if newest is not None and newest > now - settle:
        settled = newest - timedelta(seconds=1)
    new_until = max(until, settled) if until and settled else (settled or until)
    counted = [
        d
        for d in failed
        if d.at is not None
        and (until is None or d.at > until)
        and (new_until is None or d.at <= new_until)
    ]
    missed: dict[UUID, set[UUID]] = {}
    without_user = set()
    for d in counted:
        if d.fax_id is None or d.fax_id in succeeded:
            continue
        if d.user_id is None:
            without_user.add(d.fax_id)
        else:
            missed.setdefault(d.user_id, set()).add(d.fax_id)
    first_failures = {d.fax_id for d in counted if d.attempt == 1}
    return LogReview(
        state=LogState(
            new_until,
            state.failed_deliveries + len(counted),
            state.failed_faxes + len(first_failures),
        ),
        new_failed=len(counted),
        missed=missed,
        missed_without_user=len(without_user),
    )


def log_window_start(state: LogState, overlap: timedelta, now: datetime) -> datetime:
    """Where to read the log from: the counted point minus the overlap (first run: the overlap)."""
    return (state.counted_until or now) - overlap
