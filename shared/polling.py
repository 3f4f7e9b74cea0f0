"""Listing a user's undownloaded faxes on eFax and announcing them on `fax.notified`: what the
poller and the `faxrelay backfill` tool both do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from faststream.kafka import KafkaBroker

from shared.contracts import FAX_NOTIFIED
from shared.efax import PAGE_LIMIT, ReceivedFax, ReceivedPage, from_listing
from shared.kafka import Outgoing, publish_all
from shared.tracing import traced

__all__ = ["Announce", "ListPage", "ScanResult", "notified", "publish_notified", "scan"]

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


def notified(app_id: UUID, user_id: UUID, faxes: list[ReceivedFax]) -> list[Outgoing]:
    """The `fax.notified` records of faxes found by listing, keyed by fax id. Each fax starts a
    trace of its own, linked to the scan that found it."""
    records: list[Outgoing] = []
    for f in faxes:
        with traced("fax found by polling", link_current=True, fax_id=f.fax_id) as trace:
            fax = from_listing(app_id, user_id, f)
            records.append(Outgoing.of(FAX_NOTIFIED, fax, str(f.fax_id), trace))
    return records


async def publish_notified(
    broker: KafkaBroker, app_id: UUID, user_id: UUID, faxes: list[ReceivedFax]
) -> None:
    """Announce faxes found by listing on `fax.notified`, acknowledged."""
    await publish_all(broker, notified(app_id, user_id, faxes))
