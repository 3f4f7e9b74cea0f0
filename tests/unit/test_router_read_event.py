"""The router's second event: `fax.read` in, `com.faxrelay.fax.read.v1` on the user's topic
out, with an id of its own, after the text object's trust check."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from services.downloader.logic import stored_metadata
from services.router.app import create_app
from services.router.settings import RouterSettings
from shared.contracts import (
    FAX_READ,
    FAX_READ_EVENT_TYPE,
    FAX_STORED,
    FaxRead,
    FaxReadData,
    FaxStored,
    PageRead,
    TextObject,
)
from shared.storage import text_key
from tests.builders import stored
from tests.fakes import Collector, FakeAdmin, FakeStore, running


def read_of(fax: FaxStored, **changes: object) -> FaxRead:
    values: dict[str, object] = {
        "fax": fax.fax,
        "stored": fax.stored,
        "text_object": TextObject(bucket="faxes", key=text_key(fax.fax), size=100),
        "pages": [PageRead(number=1, text="REFERRAL", confidence=91.0, orientation=0, blank=False)],
        "page_count": 1,
        "reported_pages": fax.fax.pages,
        "confidence": 91.0,
        "read_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(changes)
    return FaxRead.model_validate(values)


def holding(fax: FaxStored, text_owner: FaxStored | None = None) -> FakeStore:
    """The fax's image, and its text object with the metadata the reader writes (or, with
    `text_owner`, another fax's)."""
    store = FakeStore()
    store.objects[fax.stored.key] = b"pdf"
    store.metadata[fax.stored.key] = stored_metadata(fax.fax, fax.stored.sha256)
    owner = text_owner or fax
    store.objects[text_key(fax.fax)] = b"{}"
    store.metadata[text_key(fax.fax)] = {
        "fax-id": str(owner.fax.fax_id),
        "user-id": str(owner.fax.user_id),
    }
    return store


async def test_a_read_fax_is_a_second_event_on_the_users_topic_with_its_own_id() -> None:
    fax = stored()
    broker = KafkaBroker()
    service = create_app(RouterSettings(), broker=broker, store=holding(fax), admin=FakeAdmin())  # type: ignore[arg-type]
    out = Collector(broker, f"faxes.user.{fax.fax.user_id}")
    async with running(service, broker) as br:
        await br.publish(fax.model_dump_json().encode(), FAX_STORED)
        await br.publish(read_of(fax).model_dump_json().encode(), FAX_READ)
    received, read = out.sent
    assert received.headers["ce_id"] == str(fax.fax.fax_id)
    assert read.headers["ce_id"] == f"{fax.fax.fax_id}.read"
    assert read.headers["ce_type"] == FAX_READ_EVENT_TYPE
    assert read.headers["ce_subject"] == str(fax.fax.fax_id)
    assert read.key == str(fax.fax.user_id).encode()
    data = FaxReadData.model_validate_json(read.value)
    assert data.pages[0].text == "REFERRAL"
    assert data.text_object.key == text_key(fax.fax)
    assert data.text_url is not None
    assert text_key(fax.fax) in data.text_url


async def test_a_read_record_naming_another_faxs_text_is_not_announced() -> None:
    fax, other = stored(), stored()
    forged_key = read_of(
        fax, text_object=TextObject(bucket="faxes", key=text_key(other.fax), size=1)
    )
    for store, record in (
        (holding(fax, text_owner=other), read_of(fax)),
        (holding(fax), forged_key),
    ):
        broker = KafkaBroker()
        service = create_app(RouterSettings(), broker=broker, store=store, admin=FakeAdmin())  # type: ignore[arg-type]
        out = Collector(broker, f"faxes.user.{fax.fax.user_id}")
        async with running(service, broker) as br:
            await br.publish(record.model_dump_json().encode(), FAX_READ)
        assert out.sent == []
