"""The poller's plain logic: scans, cursors, backoff, ownership and the delivery log."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.poller.cursor import Cursor, full_scan_due, next_cursor, scan_start
from services.poller.delivery_log import LogState, review_log
from services.poller.scan import RecentlyAnnounced, next_delay, not_announced_lately
from services.poller.shards import Work, owned_work, shard_of
from shared.efax import ReceivedFax, ReceivedPage
from shared.polling import ScanResult, scan

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
APP = uuid.UUID("d580162d-d162-4353-bd55-c2044ab20711")


def cursor_at(since: datetime | None, full_scan_at: datetime | None = None) -> Cursor:
    return Cursor(since=since, full_scan_at=full_scan_at)


def fax(seconds: int, style: str = "Z") -> ReceivedFax:
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + style
    return ReceivedFax(fax_id=uuid.uuid4(), completed_timestamp=stamp)


def pages_of(faxes: list[ReceivedFax], limit: int = 100) -> Any:
    calls: list[int] = []

    async def list_page(offset: int) -> ReceivedPage:
        calls.append(offset)
        return ReceivedPage(faxes=faxes[offset : offset + limit], skipped=0)

    return list_page, calls


def test_a_scan_pages_until_a_short_page_and_announces_each_page_once() -> None:
    styles = ["Z", "+00:00", ".000+0000"] * 84
    faxes = [fax(i, styles[i]) for i in range(250)]
    list_page, calls = pages_of(faxes)
    announced: list[list[ReceivedFax]] = []

    async def announce(batch: list[ReceivedFax]) -> None:
        announced.append(batch)

    result = asyncio.run(scan(list_page, announce))
    assert calls == [0, 100, 200]
    assert [len(b) for b in announced] == [100, 100, 50]
    assert {f.fax_id for f in result.faxes} == {f.fax_id for f in faxes}
    assert result.pages == 3
    assert not result.complete_snapshot


def test_a_full_page_then_an_empty_one_ends_the_scan_and_unparsable_entries_count_as_read() -> None:
    async def list_page(offset: int) -> ReceivedPage:
        if offset == 0:
            return ReceivedPage(faxes=[fax(i) for i in range(97)], skipped=3)
        assert offset == 100
        return ReceivedPage(faxes=[], skipped=0)

    result = asyncio.run(scan(list_page))
    assert len(result.faxes) == 97
    assert result.pages == 2


def test_a_scan_that_fails_midway_raises_so_the_cursor_is_not_moved() -> None:
    async def list_page(offset: int) -> ReceivedPage:
        if offset:
            raise RuntimeError("429")
        return ReceivedPage(faxes=[fax(i) for i in range(100)], skipped=0)

    with pytest.raises(RuntimeError):
        asyncio.run(scan(list_page))


def test_the_cursor_advances_only_on_a_single_page_snapshot_and_never_backwards() -> None:
    now = T0 + timedelta(hours=1)
    one_page = ScanResult([fax(10), fax(30)], pages=1)
    assert next_cursor(Cursor(), one_page, True, now) == cursor_at(T0 + timedelta(seconds=30), now)
    behind = cursor_at(T0 + timedelta(seconds=60), now)
    assert next_cursor(behind, one_page, False, now) == behind
    many = ScanResult([fax(i) for i in range(250)], pages=3)
    assert next_cursor(cursor_at(T0), many, False, now) == cursor_at(T0)
    assert next_cursor(Cursor(), many, True, now) == Cursor(), "no full scan recorded either"
    assert next_cursor(Cursor(), ScanResult([], 1), True, now) == cursor_at(None, now)


def test_an_empty_listing_never_moves_the_cursor_to_the_pollers_clock() -> None:
    """Defect 2: "now" on the poller's machine is not a time eFax has listed up to. A fax
    completed before it may appear in the listing later (processing delay, clock skew)."""
    now = T0 + timedelta(hours=5)
    empty = ScanResult([], 1)
    assert next_cursor(Cursor(), empty, False, now).since is None
    assert next_cursor(cursor_at(T0), empty, False, now).since == T0
    late = fax(-60)  # completed before the cursor's fax, listed only now
    start = scan_start(next_cursor(cursor_at(T0), empty, False, now), timedelta(minutes=5), False)
    assert start is not None
    assert start <= late.completed_at


def test_scans_start_at_the_cursor_minus_the_overlap_unless_a_full_scan_is_due() -> None:
    overlap = timedelta(minutes=5)
    cursor = cursor_at(T0, T0)
    assert scan_start(cursor, overlap, False) == T0 - overlap
    assert scan_start(cursor, overlap, True) is None
    assert scan_start(Cursor(), overlap, False) is None
    assert full_scan_due(Cursor(), 3600, T0)
    assert not full_scan_due(cursor, 3600, T0 + timedelta(minutes=59))
    assert full_scan_due(cursor, 3600, T0 + timedelta(minutes=60))
    assert not full_scan_due(cursor, 0, T0 + timedelta(days=1))


def test_the_cursor_survives_its_bytes_and_garbage_means_start_over() -> None:
    cursor = cursor_at(T0, T0 + timedelta(seconds=5))
    assert Cursor.from_bytes(cursor.to_bytes()) == cursor
    assert Cursor.from_bytes(b'{"cursor": "2026-11-01T08:00:00+00:00"}') == cursor_at(T0)
    for garbage in (None, b"", b"not json", b"[]", b'{"cursor": "yesterday"}'):
        assert Cursor.from_bytes(garbage) == Cursor()


def test_recently_announced_faxes_are_skipped_until_the_window_passes() -> None:
    recent = RecentlyAnnounced(10)
    a, b = fax(1), fax(2)
    recent.remember(a.fax_id, now=100)
    assert not_announced_lately(recent, [a, b], now=105) == [b]
    assert not_announced_lately(recent, [a, b], now=111) == [a, b]


def test_the_delay_is_the_interval_after_success_retry_after_on_429_else_doubling() -> None:
    assert next_delay(30, 600, failed=False, retry_after_s=None) == 30
    assert next_delay(30, 30, failed=True, retry_after_s=120) == 120
    assert next_delay(30, 30, failed=True, retry_after_s=1) == 30, "never faster than the interval"
    assert next_delay(30, 30, failed=True, retry_after_s=None, jitter=lambda: 0) == 60
    assert next_delay(30, 60, failed=True, retry_after_s=None, jitter=lambda: 1) == 120 * 1.2
    assert next_delay(30, 500, failed=True, retry_after_s=None, jitter=lambda: 0) == 600


def test_each_user_has_one_stable_shard_and_the_shards_split_the_work() -> None:
    users = [uuid.uuid4() for _ in range(200)]
    pairs = [(APP, u) for u in users]
    assert shard_of(APP, users[0], 12) == shard_of(APP, users[0], 12)
    assert (
        shard_of(APP, users[0], 12)
        == int(__import__("hashlib").sha256(f"{APP}/{users[0]}".encode()).hexdigest()[:16], 16) % 12
    )
    first = owned_work(pairs, set(range(6)), 12, delivery_log=True)
    second = owned_work(pairs, set(range(6, 12)), 12, delivery_log=True)
    assert not first & second
    assert {w.user_id for w in first | second} == {*users, None}
    assert (Work(APP, None) in first) != (Work(APP, None) in second), "one delivery-log reader"
    assert 60 < sum(1 for w in first if w.user_id) < 140, "roughly even"
    assert owned_work(pairs, set(), 12, delivery_log=True) == set()
    assert Work(APP, None) not in owned_work(pairs, set(range(12)), 12, delivery_log=False)


def delivery(fax_id: uuid.UUID, user: uuid.UUID | None, status: str, at: int, attempt: int = 1):  # type: ignore[no-untyped-def]
    return {
        "notification_id": str(uuid.uuid4()),
        "app_id": str(APP),
        "user_id": str(user) if user else None,
        "fax_id": str(fax_id),
        "direction": "INBOUND",
        "event_type": "FAX",
        "status": status,
        "attempt": attempt,
        "time": (T0 + timedelta(seconds=at)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "http_status": None,
        "error": "outage",
    }


def test_the_delivery_log_counts_failed_attempts_once_and_names_the_missed_faxes() -> None:
    user = uuid.uuid4()
    missed, recovered, no_user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    entries: list[Any] = [
        *(delivery(missed, user, "FAILED", i, attempt=i + 1) for i in range(3)),
        delivery(recovered, user, "FAILED", 0),
        delivery(recovered, user, "SUCCESS", 1, attempt=2),
        delivery(no_user, None, "FAILED", 2),
        {**delivery(uuid.uuid4(), user, "FAILED", 2), "event_type": "PING"},
        "garbage",
    ]
    just_now = T0 + timedelta(seconds=2.5)
    review = review_log(entries, LogState(), just_now)
    assert review.missed == {user: {missed}}
    assert review.missed_without_user == 0, "its failure lies in the unsettled second"
    # the newest second (2) may still grow: counted next time
    assert review.new_failed == 3
    assert review.state == LogState(
        counted_until=T0 + timedelta(seconds=1), failed_deliveries=3, failed_faxes=2
    )
    later = [*entries, delivery(missed, user, "FAILED", 5, attempt=4)]
    again = review_log(later, review.state, T0 + timedelta(seconds=5.5))
    assert again.new_failed == 2, "the two attempts at second 2; none counted twice"
    assert again.missed == {user: {missed}}
    assert again.missed_without_user == 1
    assert again.state.failed_deliveries == 5
    assert again.state.failed_faxes == 3
    assert review_log([], again.state, T0 + timedelta(seconds=9)).state == again.state
    settled = review_log(later, again.state, T0 + timedelta(seconds=9))
    assert settled.new_failed == 1, "the newest second counts once it is old enough"
    assert settled.state.counted_until == T0 + timedelta(seconds=5)
    quiet = review_log(later, settled.state, T0 + timedelta(seconds=20))
    assert quiet.new_failed == 0
    assert quiet.missed == {}, "failures already reviewed send nobody scanning again"


def test_the_log_state_survives_its_bytes() -> None:
    state = LogState(counted_until=T0, failed_deliveries=7, failed_faxes=2)
    assert LogState.from_bytes(state.to_bytes()) == state
    assert LogState.from_bytes(b"{") == LogState()
