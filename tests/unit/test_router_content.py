"""The router routes by content once a fax is read: rule topics get both events, FHIR where
asked, and with the users' topics waiting for reading a junk fax never reaches its user while
an unreadable one still does."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.router.app import create_app
from services.router.settings import RouterSettings
from shared.contracts import (
    FAX_DOCUMENT_FHIR_EVENT_TYPE,
    FAX_READ,
    FAX_READ_EVENT_TYPE,
    FAX_RECEIVED_EVENT_TYPE,
    FAX_STORED,
    READ_FAILED,
    DocumentType,
    FaxStored,
    ReadFailed,
    ReadFailureReason,
)
from tests.fakes import Collector, FakeAdmin, FakeStore, running
from tests.reads import IMAGE, document, holding, read_of, stored_image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy/router/rules.example.yaml"


def user_topic(fax: FaxStored) -> str:
    return f"faxes.user.{fax.fax.user_id}"


def app(store: FakeStore, **changes: Any) -> tuple[FastStream, KafkaBroker]:
    broker = KafkaBroker()
    settings = RouterSettings(router_rules_file=EXAMPLE, **changes)
    return create_app(settings, broker=broker, store=store, admin=FakeAdmin()), broker  # type: ignore[arg-type]


def types(sent: list[Any]) -> list[str]:
    return [s.headers["ce_type"] for s in sent]


async def test_by_default_the_user_gets_the_received_event_before_reading_as_today() -> None:
    fax = stored_image()
    service, broker = app(holding(fax))
    out = Collector(broker, user_topic(fax), "faxes.type.referral")
    async with running(service, broker) as br:
        await br.publish(fax.model_dump_json().encode(), FAX_STORED)
    assert types(out.on(user_topic(fax))) == [FAX_RECEIVED_EVENT_TYPE]
    assert out.on("faxes.type.referral") == []  # a rule on content waits for the read fax


async def test_a_referral_reaches_the_referral_topic_with_both_events_and_its_fhir() -> None:
    fax = stored_image()
    read = read_of(fax, document(DocumentType.COVER_SHEET), document(DocumentType.REFERRAL))
    service, broker = app(holding(fax))
    out = Collector(broker, user_topic(fax), "faxes.type.referral")
    async with running(service, broker) as br:
        await br.publish(fax.model_dump_json().encode(), FAX_STORED)
        await br.publish(read.model_dump_json().encode(), FAX_READ)
    assert types(out.on(user_topic(fax))) == [FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE]
    team = out.on("faxes.type.referral")
    assert types(team) == [
        FAX_RECEIVED_EVENT_TYPE,
        FAX_READ_EVENT_TYPE,
        FAX_DOCUMENT_FHIR_EVENT_TYPE,
        FAX_DOCUMENT_FHIR_EVENT_TYPE,
    ]
    fhir = team[2:]
    assert [s.headers["ce_id"] for s in fhir] == [
        f"{fax.fax.fax_id}.document.1",
        f"{fax.fax.fax_id}.document.2",
    ]
    assert all(s.headers["content-type"] == "application/fhir+json" for s in fhir)
    assert all(s.key == str(fax.fax.user_id).encode() for s in team)
    resource = json.loads(fhir[1].value)
    assert resource["resourceType"] == "DocumentReference"
    assert resource["type"]["coding"][0]["code"] == "57133-1"
    attachment = resource["content"][0]["attachment"]
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(IMAGE).digest()).decode()  # noqa: S324
    assert attachment["size"] == len(IMAGE)
    assert fax.stored.key in attachment["url"]


async def test_an_image_that_is_not_what_was_recorded_gets_no_hash() -> None:
    fax = stored_image()
    store = holding(fax)
    store.objects[fax.stored.key] = b"other bytes"
    service, broker = app(store)
    out = Collector(broker, "faxes.type.referral")
    async with running(service, broker) as br:
        await br.publish(read_of(fax, document()).model_dump_json().encode(), FAX_READ)
    fhir = [s for s in out.sent if s.headers["ce_type"] == FAX_DOCUMENT_FHIR_EVENT_TYPE]
    assert fhir
    assert "hash" not in json.loads(fhir[0].value)["content"][0]["attachment"]


async def test_junk_goes_to_its_topic_and_by_default_only_its_first_event_to_the_user() -> None:
    fax = stored_image()
    junk = read_of(fax, document(DocumentType.JUNK, 0.97))
    service, broker = app(holding(fax))
    out = Collector(broker, user_topic(fax), "faxes.junk")
    async with running(service, broker) as br:
        await br.publish(fax.model_dump_json().encode(), FAX_STORED)
        await br.publish(junk.model_dump_json().encode(), FAX_READ)
    assert types(out.on(user_topic(fax))) == [FAX_RECEIVED_EVENT_TYPE]
    assert types(out.on("faxes.junk")) == [FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE]


async def test_with_users_waiting_for_reading_junk_never_reaches_the_users_topic() -> None:
    fax = stored_image()
    junk = read_of(fax, document(DocumentType.JUNK, 0.97))
    service, broker = app(holding(fax), router_user_topic_after_reading=True)
    out = Collector(broker, user_topic(fax), "faxes.junk")
    async with running(service, broker) as br:
        await br.publish(fax.model_dump_json().encode(), FAX_STORED)
        await br.publish(junk.model_dump_json().encode(), FAX_READ)
    assert out.on(user_topic(fax)) == []
    assert types(out.on("faxes.junk")) == [FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE]


async def test_with_users_waiting_for_reading_a_read_fax_brings_both_events_in_order() -> None:
    fax = stored_image()
    service, broker = app(holding(fax), router_user_topic_after_reading=True)
    out = Collector(broker, user_topic(fax))
    async with running(service, broker) as br:
        await br.publish(fax.model_dump_json().encode(), FAX_STORED)
        assert out.sent == []  # the stored fax alone brings nothing yet
        await br.publish(read_of(fax, document()).model_dump_json().encode(), FAX_READ)
    received, _ = out.sent
    assert types(out.sent) == [FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE]
    assert received.headers["ce_id"] == str(fax.fax.fax_id)  # the same event as ever
    assert b"https://s3.example/faxes/" in received.value


async def test_with_users_waiting_for_reading_an_unreadable_fax_still_reaches_its_user() -> None:
    fax = stored_image()
    failed = ReadFailed(
        fax=fax.fax, stored=fax.stored, reason=ReadFailureReason.CORRUPT, detail="0 pages"
    )
    for after_reading, expected in ((True, [FAX_RECEIVED_EVENT_TYPE]), (False, [])):
        service, broker = app(holding(fax), router_user_topic_after_reading=after_reading)
        out = Collector(broker, user_topic(fax))
        async with running(service, broker) as br:
            await br.publish(failed.model_dump_json().encode(), READ_FAILED)
        assert types(out.sent) == expected


async def test_a_read_failure_naming_another_users_image_is_not_announced() -> None:
    fax, other = stored_image(), stored_image()
    store = holding(fax)
    store.metadata[fax.stored.key] = {**store.metadata[fax.stored.key], "user-id": "someone"}
    failed = ReadFailed(
        fax=fax.fax, stored=fax.stored, reason=ReadFailureReason.CORRUPT, detail="0 pages"
    )
    service, broker = app(store, router_user_topic_after_reading=True)
    out = Collector(broker, user_topic(fax), user_topic(other))
    async with running(service, broker) as br:
        await br.publish(failed.model_dump_json().encode(), READ_FAILED)
    assert out.sent == []


async def test_the_topics_of_rules_on_content_are_made_before_they_are_written() -> None:
    fax = stored_image()
    admin = FakeAdmin()
    broker = KafkaBroker()
    settings = RouterSettings(router_rules_file=EXAMPLE)
    service = create_app(settings, broker=broker, store=holding(fax), admin=admin)  # type: ignore[arg-type]
    read = read_of(fax, document(DocumentType.JUNK, 0.97))
    async with running(service, broker) as br:
        await br.publish(read.model_dump_json().encode(), FAX_READ)
    assert "faxes.junk" in admin.existing
