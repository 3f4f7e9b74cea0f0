"""Where a user's last complete scan got to, kept in the bucket so restarts neither rescan
everything nor skip anything."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.polling import ScanResult


class StoredState(BaseModel):
    """Poller state kept as a small JSON object in the bucket."""

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Self:
        """Lenient: unreadable state starts over (a cursor from the beginning, a log count
        from the overlap), never skipping a fax."""
        if not data:
            return cls()
        try:
            return cls.model_validate_json(data)
        except ValidationError:
            return cls()


class Cursor(StoredState):
    """Per (App ID, user): every undownloaded fax completed before `since` has been announced at
    least once; `full_scan_at` is when the last scan from the beginning finished. `since` is
    always a `completed_timestamp` eFax wrote, never a time of the poller's clock."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    since: datetime | None = Field(default=None, alias="cursor")
    full_scan_at: datetime | None = None


def full_scan_due(cursor: Cursor, every_s: float, now: datetime) -> bool:
    """No cursor yet, or the periodic full scan (which finds failed downloads that were set back
    to undownloaded behind the cursor) is due. Kept in the cursor, so restarts do not reset it."""
    if cursor.since is None:
        return True
    if every_s <= 0:
        return False
    return cursor.full_scan_at is None or (now - cursor.full_scan_at).total_seconds() >= every_s


def scan_start(cursor: Cursor, overlap: timedelta, full_scan: bool) -> datetime | None:
    """The newest completion time seen, minus the overlap (eFax lists some faxes late)."""
    if cursor.since is None or full_scan:
        return None
    return cursor.since - overlap


def next_cursor(cursor: Cursor, result: ScanResult, full_scan: bool, now: datetime) -> Cursor:
    """Advance only on a complete snapshot, only forward, and only to a completion time eFax
    listed: an empty listing leaves the cursor where it was (a fax completed before "now" may
    still show up later). A full scan records when it ran (`now` serves only that)."""
    since = cursor.since
    if result.complete_snapshot:
        latest = max((f.completed_at for f in result.faxes), default=None)
        if latest is not None:
            since = latest if since is None else max(since, latest)
    full_scan_at = now if full_scan and result.complete_snapshot else cursor.full_scan_at
    return Cursor(since=since, full_scan_at=full_scan_at)
