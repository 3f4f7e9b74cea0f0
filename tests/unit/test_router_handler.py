"""The router's handler in memory: stored faxes in, one CloudEvent per destination out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from faststream import FastStream
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.downloader.logic import stored_metadata
from services.router.app import create_app
from services.router.settings import RouterSettings
from shared.contracts import CORRELATION_HEADER, FAX_STORED, FaxStored
from shared.storage import object_key
from tests.builders import stored
from tests.fakes import Collector, FakeAdmin, FakeStore, failing_outputs, running, settlements


def user_topic(fax: FaxStored) -> str:
    return f"faxes.user.{fax.fax.user_id}"


def holding(*faxes: FaxStored) -> FakeStore:
    """A store holding each fax's object, with the metadata the downloader writes."""
    store = FakeStore()
    for fax in faxes:
        store.objects[fax.stored.key] = b"pdf"
        store.metadata[fax.stored.key] = stored_metadata(fax.fax, fax.stored.sha256)
    return store


def app(
    admin: FakeAdmin, *faxes: FaxStored, store: FakeStore | None = None, **changes: Any
) -> tuple[FastStream, KafkaBroker]:
    broker = KafkaBroker()
    settings = RouterSettings(**changes)
    store = store or holding(*faxes)
    return create_app(settings, broker=broker, store=store, admin=admin), broker  # type: ignore[arg-type]


async def test_a_stored_fax_becomes_one_cloudevent_on_its_users_topic_keyed_by_user() -> None:
    fax = stored()
    service, broker = app(FakeAdmin(), fax)
    out = Collector(broker, user_topic(fax))
    async with running(service, broker) as br:
        await br.publish(
            fax.model_dump_json().encode(), FAX_STORED, headers={CORRELATION_HEADER: "corr-7"}
        )
    (sent,) = out.sent
    assert sent.key == str(fax.fax.user_id).encode()
    assert sent.headers["ce_id"] == str(fax.fax.fax_id)
    assert sent.headers["ce_partitionkey"] == str(fax.fax.user_id)
    assert sent.headers[CORRELATION_HEADER] == "corr-7"
    assert b"https://s3.example/faxes/" in sent.value  # the presigned link


async def test_the_event_carries_the_faxs_trace_in_one_traceparent_header(
    spans: InMemorySpanExporter,
) -> None:
    fax = stored()
    service, broker = app(FakeAdmin(), fax)
    out = Collector(broker, user_topic(fax))
    incoming = f"00-{'ab' * 16}-{'cd' * 8}-01"
    async with running(service, broker) as br:
        await br.publish(
            fax.model_dump_json().encode(), FAX_STORED, headers={"traceparent": incoming}
        )
    (sent,) = out.sent
    (route,) = [s for s in spans.get_finished_spans() if s.name == "route fax"]
    assert route.parent is not None
    assert f"{route.parent.span_id:016x}" == "cd" * 8
    assert sent.headers["traceparent"] == f"00-{'ab' * 16}-{route.context.span_id:016x}-01"
    assert "ce_traceparent" not in sent.headers  # no second copy of the same context
    assert "ce_correlationid" not in sent.headers


async def test_an_unreadable_record_is_skipped_and_the_rest_of_the_batch_is_routed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fax = stored()
    service, broker = app(FakeAdmin(), fax)
    out = Collector(broker, user_topic(fax))
    async with running(service, broker) as br:
        with settlements() as (ack, nack):
            await br.publish_batch(b"{garbage", fax.model_dump_json().encode(), topic=FAX_STORED)
    assert len(out.sent) == 1
    assert (ack.call_count, nack.call_count) == (1, 0)
    assert "unreadable record at offset" in caplog.text
    assert "garbage" not in caplog.text, "a body may hold anything: never logged"


async def test_a_failed_publish_nacks_the_batch() -> None:
    fax = stored()
    service, broker = app(FakeAdmin(), fax)
    async with running(service, broker) as br:
        with (
            settlements() as (ack, nack),
            failing_outputs(br, FAX_STORED),
            pytest.raises(ConnectionError),
        ):
            await br.publish(fax.model_dump_json().encode(), FAX_STORED)
    assert (ack.call_count, nack.call_count) == (0, 1)


async def test_a_batch_for_new_users_creates_their_topics_in_one_request_with_our_configs() -> None:
    users = [uuid.uuid4() for _ in range(3)]
    faxes = [stored(user_id=users[i % 3]) for i in range(12)]
    admin = FakeAdmin()
    service, broker = app(admin, *faxes, router_user_topic_retention_ms=86_400_000)
    out = Collector(broker, *{user_topic(f) for f in faxes})
    async with running(service, broker) as br:
        await br.publish_batch(*(f.model_dump_json().encode() for f in faxes), topic=FAX_STORED)
        await br.publish_batch(*(f.model_dump_json().encode() for f in faxes), topic=FAX_STORED)
    assert admin.requests == [sorted(f"faxes.user.{u}" for u in users)]
    assert admin.configs == [{"min.insync.replicas": "1", "retention.ms": "86400000"}]
    assert len(out.sent) == 24


async def test_a_forged_record_naming_another_users_object_gets_no_event_and_no_link() -> None:
    """One record on fax.stored, a new fax id, user B as owner and user A's object key: the
    router neither presigns A's object nor announces anything to B."""
    victim = stored()
    forged = stored().model_copy(update={"stored": victim.stored})
    store = holding(victim)
    service, broker = app(FakeAdmin(), store=store)
    out = Collector(broker, user_topic(forged), user_topic(victim))
    async with running(service, broker) as br:
        with settlements() as (ack, _):
            await br.publish(forged.model_dump_json().encode(), FAX_STORED)
    assert out.sent == []
    assert ack.call_count == 1, "refused, not redelivered forever"


async def test_a_record_with_its_own_key_but_someone_elses_object_is_not_announced() -> None:
    """The key is the one the record's fax would have, yet the object there (its metadata, as
    the downloader wrote it) is another user's fax: not announced."""
    victim = stored()
    forged = stored(
        fax_id=victim.fax.fax_id, user_id=uuid.uuid4(), completed_at=victim.fax.completed_at
    )
    store = holding(victim)
    key = object_key(forged.fax, "PDF")
    store.objects[key] = b"pdf"
    store.metadata[key] = store.metadata[victim.stored.key]
    forged = forged.model_copy(update={"stored": forged.stored.model_copy(update={"key": key})})
    service, broker = app(FakeAdmin(), store=store)
    out = Collector(broker, user_topic(forged))
    async with running(service, broker) as br:
        await br.publish(forged.model_dump_json().encode(), FAX_STORED)
    assert out.sent == []
