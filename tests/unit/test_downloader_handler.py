"""The downloader's handler in memory, with a fake eFax and an in-memory store."""

from __future__ import annotations

import uuid
from typing import Any
from unittest.mock import patch

import pytest
from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.downloader.app import create_app
from services.downloader.settings import DownloaderSettings
from shared.contracts import (
    CORRELATION_HEADER,
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    DownloadFailed,
    FaxStored,
)
from tests.builders import APP_ID, notified
from tests.fakes import (
    PDF,
    Collector,
    FakeEfax,
    FakeStore,
    failing_outputs,
    running,
    settlements,
)


def app(
    store: FakeStore | None = None,
) -> tuple[FastStream, KafkaBroker, FakeStore, FakeEfax, Collector]:
    broker, efax = KafkaBroker(), FakeEfax({uuid.UUID(APP_ID)})
    store = store or FakeStore()
    settings = DownloaderSettings(downloader_attempts=1, downloader_store_attempts=1)
    service = create_app(settings, broker=broker, efax=efax, store=store)  # type: ignore[arg-type]
    return service, broker, store, efax, Collector(broker, FAX_STORED, DOWNLOAD_FAILED)


async def test_a_notified_fax_is_stored_then_announced_keyed_by_fax_id() -> None:
    service, broker, store, _, out = app()
    fax = notified()
    async with running(service, broker) as br:
        await br.publish(
            fax.model_dump_json().encode(), FAX_NOTIFIED, headers={CORRELATION_HEADER: "c-3"}
        )
    (sent,) = out.sent
    event = FaxStored.model_validate_json(sent.value)
    assert (sent.topic, sent.key) == (FAX_STORED, str(fax.fax_id).encode())
    assert sent.headers[CORRELATION_HEADER] == "c-3"
    assert store.objects[event.stored.key] == PDF
    assert store.metadata[event.stored.key]["stored-by"] == f"{FAX_NOTIFIED}/0/0"


async def test_two_notifications_of_one_fax_in_a_batch_give_one_download_and_one_event() -> None:
    service, broker, _, efax, out = app()
    body = notified().model_dump_json().encode()
    async with running(service, broker) as br:
        await br.publish_batch(body, body, topic=FAX_NOTIFIED)
    assert len(efax.fetched) == 1
    assert [s.topic for s in out.sent] == [FAX_STORED]


async def test_a_fax_of_an_unknown_app_is_reported_failed_and_an_unreadable_one_skipped() -> None:
    service, broker, _, _, out = app()
    stranger = notified(app_id=uuid.uuid4())
    async with running(service, broker) as br:
        with settlements() as (ack, nack):
            await br.publish_batch(b"\xff", stranger.model_dump_json().encode(), topic=FAX_NOTIFIED)
    (sent,) = out.sent
    assert sent.topic == DOWNLOAD_FAILED
    assert DownloadFailed.model_validate_json(sent.value).reason == "unknown_app"
    assert (ack.call_count, nack.call_count) == (1, 0)


async def test_a_failed_publish_nacks_and_leaves_the_fax_unannounced_for_the_redelivery() -> None:
    service, broker, store, _, out = app()
    body = notified().model_dump_json().encode()
    async with running(service, broker) as br:
        with (
            settlements() as (ack, nack),
            failing_outputs(br, FAX_NOTIFIED),
            pytest.raises(ConnectionError),
        ):
            await br.publish(body, FAX_NOTIFIED)
        assert (ack.call_count, nack.call_count) == (0, 1)
        assert store.objects
        await br.publish(body, FAX_NOTIFIED)  # the redelivery announces the stored fax
    assert [s.topic for s in out.sent] == [FAX_STORED]


async def test_a_stored_fax_notified_again_by_another_record_is_not_announced_again() -> None:
    store = FakeStore()
    body = notified().model_dump_json().encode()
    first, broker, _, _, _ = app(store)
    async with running(first, broker) as br:
        await br.publish(body, FAX_NOTIFIED, partition=0)
    later, broker, _, _, out = app(store)  # another process, e.g. after a restart
    async with running(later, broker) as br:
        await br.publish(body, FAX_NOTIFIED, partition=1)  # the poller's announcement
    assert out.sent == []


async def test_the_record_that_stored_a_fax_announces_it_again_when_redelivered_elsewhere() -> None:
    store = FakeStore()
    body = notified().model_dump_json().encode()
    crashed, broker, _, _, _ = app(store)
    async with running(crashed, broker) as br:
        with failing_outputs(br, FAX_NOTIFIED), pytest.raises(ConnectionError):
            await br.publish(body, FAX_NOTIFIED)  # stored, then the process died unannounced
    successor, broker, _, _, out = app(store)
    async with running(successor, broker) as br:
        await br.publish(body, FAX_NOTIFIED)  # the same record, redelivered to a new copy
    assert [s.topic for s in out.sent] == [FAX_STORED]


class HeaderCheckingStore(FakeStore):
    """Refuses metadata as an HTTP client does: a value with a line break or a character
    outside printable ASCII can never be sent (http.client, S3's signature)."""

    puts: int = 0

    async def put(
        self, key: str, data: Any, content_type: str, metadata: dict[str, str], **kw: Any
    ) -> bool:
        self.puts += 1
        for value in metadata.values():
            if not value.isascii() or not value.isprintable():
                raise ValueError("Invalid header value")
        return await super().put(key, data, content_type, metadata, **kw)


@pytest.mark.parametrize("number", ["1323\r\n5555555", "13235555555\n", "1323555555é"])
async def test_a_fax_whose_number_could_break_a_store_write_is_stored_with_it_unavailable(
    number: str,
) -> None:
    store = HeaderCheckingStore()
    service, broker, _, _, out = app(store)
    fax = notified(sending_fax_number=number)
    async with running(service, broker) as br:
        with settlements() as (ack, nack):
            await br.publish(fax.model_dump_json().encode(), FAX_NOTIFIED)
    assert (ack.call_count, nack.call_count) == (1, 0)
    (sent,) = out.sent
    assert sent.topic == FAX_STORED
    (metadata,) = store.metadata.values()
    assert metadata["sending-fax-number"] == "unavailable"


async def test_a_fax_the_store_refuses_for_good_goes_to_failed_not_blocking_its_partition() -> None:
    store = HeaderCheckingStore()
    service, broker, _, _, out = app(store)
    fax = notified()
    async with running(service, broker) as br:
        with (
            settlements() as (ack, nack),
            patch.object(
                HeaderCheckingStore, "put", side_effect=ValueError("Invalid header value")
            ) as put,
        ):
            await br.publish(fax.model_dump_json().encode(), FAX_NOTIFIED)
    assert (ack.call_count, nack.call_count) == (1, 0)
    assert put.call_count == 1, "a request refused for good is not sent again"
    (sent,) = out.sent
    assert sent.topic == DOWNLOAD_FAILED
    assert DownloadFailed.model_validate_json(sent.value).reason == "unstorable"
