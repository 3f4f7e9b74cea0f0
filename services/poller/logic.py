"""Find the faxes eFax still holds undownloaded, page by page."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from shared.contracts import FaxNotified, Source
from shared.efax import PAGE_LIMIT, EfaxClient, ReceivedFax


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


async def scan(
    efax: EfaxClient, app_id: UUID, user_id: UUID, since: datetime | None
) -> list[ReceivedFax]:
    """Every undownloaded fax completed at or after `since`; pages until a short page."""
    found: dict[UUID, ReceivedFax] = {}
    offset = 0
    while True:
        page = await efax.list_received(app_id, user_id, since=since, offset=offset)
        for fax in page.faxes:
            found.setdefault(fax.fax_id, fax)
        received = len(page.faxes) + page.skipped
        if received < PAGE_LIMIT:
            return list(found.values())
        offset += received


def scan_start(cursor: datetime | None, overlap: timedelta, full_scan_due: bool) -> datetime | None:
    if cursor is None or full_scan_due:
        return None
    return cursor - overlap


def next_cursor(cursor: datetime | None, faxes: list[ReceivedFax]) -> datetime | None:
    latest = max((f.completed_at for f in faxes), default=None)
    if cursor is None:
        return latest
    return max(cursor, latest) if latest else cursor


def cursor_to_bytes(cursor: datetime | None) -> bytes:
    return json.dumps({"cursor": cursor.isoformat() if cursor else None}).encode()


def cursor_from_bytes(data: bytes) -> datetime | None:
    value = json.loads(data).get("cursor")
    return datetime.fromisoformat(value) if value else None


@dataclass
class RecentlyAnnounced:
    """Faxes announced lately: eFax lists them until the downloader fetched them."""

    seconds: float
    _at: dict[UUID, float] = field(default_factory=dict)

    def fresh(self, faxes: list[ReceivedFax], now: float | None = None) -> list[ReceivedFax]:
        now = time.monotonic() if now is None else now
        self._at = {k: t for k, t in self._at.items() if now - t < self.seconds}
        return [f for f in faxes if f.fax_id not in self._at]

    def remember(self, fax_ids: list[UUID], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._at.update(dict.fromkeys(fax_ids, now))
