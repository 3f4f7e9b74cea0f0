"""The downloader's plain logic: the page budget and the object's metadata."""

from __future__ import annotations

import asyncio

from services.downloader.logic import PageBudget, stored_metadata
from shared.storage import object_key
from tests.builders import notified


async def test_a_big_fax_waits_until_the_pages_in_flight_leave_room() -> None:
    budget = PageBudget(10)
    order: list[str] = []
    small_may_finish = asyncio.Event()

    async def run(name: str, pages: int, hold: asyncio.Event | None = None) -> None:
        async with budget.taken(notified(pages=pages)):
            order.append(f"start {name}")
            if hold is not None:
                await hold.wait()
            order.append(f"end {name}")

    small = asyncio.create_task(run("small", 6, small_may_finish))
    await asyncio.sleep(0)
    big = asyncio.create_task(run("big", 8))
    await asyncio.sleep(0.01)
    assert order == ["start small"], "the big fax must wait: 6 + 8 pages > 10"
    small_may_finish.set()
    await asyncio.gather(small, big)
    assert order == ["start small", "end small", "start big", "end big"]
    assert budget.free == 10


async def test_a_fax_larger_than_the_whole_budget_runs_alone_instead_of_never() -> None:
    budget = PageBudget(10)
    async with budget.taken(notified(pages=500)):
        assert budget.free == 0
    assert budget.free == 10


def test_the_object_key_is_the_same_whoever_announces_the_fax() -> None:
    from shared.contracts import Source

    webhook = notified()
    polled = webhook.model_copy(update={"source": Source.POLLING, "notification_id": None})
    assert object_key(webhook, "PDF") == object_key(polled, "PDF")
    assert object_key(webhook, "PDF").endswith(f"/{webhook.fax_id}.pdf")
    assert object_key(webhook, "PDF").startswith(f"{webhook.user_id}/2024/05/10/")


def test_the_stored_metadata_names_the_fax_and_its_checksum() -> None:
    fax = notified()
    metadata = stored_metadata(fax, "ab" * 32)
    assert metadata["fax-id"] == str(fax.fax_id)
    assert metadata["user-id"] == str(fax.user_id)
    assert metadata["sha256"] == "ab" * 32
