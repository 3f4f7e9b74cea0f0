"""eFax's delivery log, per App ID: count failed webhook deliveries and scan the users whose
webhooks never got through."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import ConfigDict

from services.poller.cursor import StoredState
from services.poller.scan import Polling, scan_user
from shared.contracts import parse_efax_timestamp

log = logging.getLogger("faxrelay.poller")


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


class LogState(StoredState):
    """Per App ID: failed attempts counted up to `counted_until`, and the totals so far:
    failed attempts, and faxes whose first attempt failed (each fax counted once)."""

    model_config = ConfigDict(frozen=True)

    counted_until: datetime | None = None
    failed_deliveries: int = 0
    failed_faxes: int = 0


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
            counted_until=new_until,
            failed_deliveries=state.failed_deliveries + len(counted),
            failed_faxes=state.failed_faxes + len(first_failures),
        ),
        new_failed=len(counted),
        missed=missed,
        missed_without_user=len(without_user),
    )


def log_window_start(state: LogState, overlap: timedelta, now: datetime) -> datetime:
    """Where to read the log from: the counted point minus the overlap (first run: the overlap)."""
    return (state.counted_until or now) - overlap


def log_state_key(p: Polling, app_id: UUID) -> str:
    return f"{p.cursor_prefix}/{app_id}/delivery-log.json"


async def review_delivery_log(p: Polling, app_id: UUID, users: set[UUID]) -> None:
    """Read the log since the counted point; scan from the beginning each of `users` (this copy's
    users of the App ID) whose fax's webhook failed; name the unlisted ones for the operator."""
    key = log_state_key(p, app_id)
    state = LogState.from_bytes(await p.store.read_or_none(key))
    now = p.now()
    entries = await p.efax.list_failed_deliveries(app_id, log_window_start(state, p.overlap, now))
    review = review_log(entries, state, now)
    for user_id in sorted(review.missed):
        if user_id in users:
            # The user's fax may already lie behind its cursor: scan from the beginning.
            await scan_user(p, app_id, user_id, None)
        else:
            log.warning(
                "app %s: webhooks of %d faxes of unlisted user %s failed; "
                "add the user to user_ids or run `faxrelay backfill --user %s`",
                app_id, len(review.missed[user_id]), user_id, user_id,
            )  # fmt: skip
    if review.new_failed:
        log.warning(
            "app %s: %d failed webhook deliveries (%d in total, %d faxes)",
            app_id, review.new_failed, review.state.failed_deliveries, review.state.failed_faxes,
        )  # fmt: skip
    if review.state != state:
        await p.store.put(key, review.state.to_bytes(), "application/json", {})
