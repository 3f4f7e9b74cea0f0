"""The downloader's handling of one record, with a fake eFax and an in-memory store: what it
decides to announce, and that it announces a stored fax once, whoever redelivers it."""

from __future__ import annotations

import uuid
from typing import Any
from unittest.mock import patch

import pytest
from aiokafka import ConsumerRecord

from services.downloader.logic import Downloads, handle_record
from services.downloader.settings import DownloaderSettings
from shared.contracts import (
    CORRELATION_HEADER,
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    DownloadFailed,
    FaxNotified,
    FaxStored,
)
from shared.kafka import Outgoing
from tests.builders import APP_ID, notified
from tests.fakes import PDF, FakeEfax, FakeStore


def downloads(store: FakeStore | None = None) -> tuple[Downloads, FakeStore, FakeEfax]:
    efax, store = FakeEfax({uuid.UUID(APP_ID)}), store or FakeStore()
    settings = DownloaderSettings(downloader_attempts=1, downloader_store_attempts=1)
    return Downloads.of(settings, efax, store), store, efax  # type: ignore[arg-type]


def record(
    value: bytes | FaxNotified, offset: int = 0, partition: int = 0, headers: tuple = ()
) -> ConsumerRecord[bytes, bytes]:
    body = value.model_dump_json().encode() if isinstance(value, FaxNotified) else value
    return ConsumerRecord(FAX_NOTIFIED, partition, offset, 0, 0, None, body, None, 0, 0, headers)


async def announce(d: Downloads, r: ConsumerRecord[bytes, bytes]) -> list[Outgoing]:
    """Handle a record and write its outcome, as the stage does."""
    outgoing, written = await handle_record(d, r)
    if written is not None:
        written()
    return list(outgoing)


async def test_a_notified_fax_is_stored_then_announced_keyed_by_fax_id() -> None:
    d, store, _ = downloads()
    fax = notified()
    (sent,) = await announce(d, record(fax, headers=((CORRELATION_HEADER, b"c-3"),)))
    event = FaxStored.model_validate_json(sent.value)
    assert (sent.topic, sent.key) == (FAX_STORED, str(fax.fax_id).encode())
    assert sent.headers[CORRELATION_HEADER] == "c-3"
    assert store.objects[event.stored.key] == PDF
    assert store.metadata[event.stored.key]["stored-by"] == f"{FAX_NOTIFIED}/0/0"


async def test_two_notifications_of_one_fax_give_one_download_and_one_event() -> None:
    d, _, efax = downloads()
    fax = notified()
    first = await announce(d, record(fax, offset=0))
    second = await announce(d, record(fax, offset=1))
    assert len(efax.fetched) == 1
    assert [o.topic for o in first + second] == [FAX_STORED]


async def test_a_fax_of_an_unknown_app_is_reported_failed_and_an_unreadable_one_skipped() -> None:
    d, _, _ = downloads()
    assert await announce(d, record(b"\xff")) == []
    (sent,) = await announce(d, record(notified(app_id=uuid.uuid4()), offset=1))
    assert sent.topic == DOWNLOAD_FAILED
    assert DownloadFailed.model_validate_json(sent.value).reason == "unknown_app"


async def test_an_outcome_not_written_is_decided_again_for_the_redelivery() -> None:
    d, store, _ = downloads()
    fax = notified()
    outgoing, _ = await handle_record(d, record(fax))  # stored; the write never happened
    assert store.objects
    assert [o.topic for o in outgoing] == [FAX_STORED]
    assert [o.topic for o in await announce(d, record(fax))] == [FAX_STORED]


async def test_a_stored_fax_notified_again_by_another_record_is_not_announced_again() -> None:
    store = FakeStore()
    fax = notified()
    first, _, _ = downloads(store)
    await announce(first, record(fax, partition=0))
    later, _, _ = downloads(store)  # another process, e.g. after a restart
    assert await announce(later, record(fax, partition=1)) == []  # the poller's announcement


async def test_the_record_that_stored_a_fax_announces_it_again_when_redelivered_elsewhere() -> None:
    store = FakeStore()
    fax = notified()
    crashed, _, _ = downloads(store)
    await handle_record(crashed, record(fax))  # stored, then the process died unannounced
    successor, _, _ = downloads(store)
    assert [o.topic for o in await announce(successor, record(fax))] == [FAX_STORED]


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


@pytest.mark.parametrize("number", ["1323\r\n5555555", "13235555555\n", "1323555555\u00e9"])
async def test_a_fax_whose_number_could_break_a_store_write_is_stored_with_it_unavailable(
    number: str,
) -> None:
    store = HeaderCheckingStore()
    d, _, _ = downloads(store)
    (sent,) = await announce(d, record(notified(sending_fax_number=number)))
    assert sent.topic == FAX_STORED
    (metadata,) = store.metadata.values()
    assert metadata["sending-fax-number"] == "unavailable"


async def test_a_fax_the_store_refuses_for_good_goes_to_failed_not_blocking_its_partition() -> None:
    store = HeaderCheckingStore()
    d, _, _ = downloads(store)
    with patch.object(
        HeaderCheckingStore, "put", side_effect=ValueError("Invalid header value")
    ) as put:
        (sent,) = await announce(d, record(notified()))
    assert put.call_count == 1, "a request refused for good is not sent again"
    assert sent.topic == DOWNLOAD_FAILED
    assert DownloadFailed.model_validate_json(sent.value).reason == "unstorable"
