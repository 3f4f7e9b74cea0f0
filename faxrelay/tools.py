"""Operator tools: watch a user's topic, backfill from eFax."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from functools import partial
from typing import Literal
from uuid import UUID

from cloudevents.core.bindings import kafka as ce_kafka
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from faxrelay.config import BackfillSettings
from shared.clients import efax_client
from shared.contracts import FAX_READ_EVENT_TYPE
from shared.efax import ReceivedFax, ReceivedPage
from shared.kafka import make_broker, raw_bodies, records, security
from shared.polling import publish_notified, scan
from shared.settings import ServiceSettings

__all__ = ["BackfillSettings", "backfill", "event_line", "tail"]


def event_line(headers: dict[str, bytes], key: bytes | None, value: bytes) -> str:
    """One line per fax, read with the CloudEvents SDK as any subscriber would."""
    event = ce_kafka.from_binary_event(ce_kafka.KafkaMessage(headers=headers, key=key, value=value))
    data = event.get_data()
    assert isinstance(data, dict)
    document = data["document"]
    if event.get_type() == FAX_READ_EVENT_TYPE:  # the fax's text, once read: counts only
        return (
            f"{event.get_time():%Y-%m-%d %H:%M:%S} fax {event.get_subject()} read: "
            f"{data['page_count']} pages ({data['reported_pages']} reported), "
            f"confidence {data['confidence']:.0f}"
        )
    return (
        f"{event.get_time():%Y-%m-%d %H:%M:%S} fax {event.get_id()} "
        f"from {data['sending_fax_number'] or '?'} to {data['receiving_fax_number']} "
        f"{data['pages']} pages {document['size']} bytes s3://{document['bucket']}/{document['key']}"
    )


async def tail(
    settings: ServiceSettings, topics: list[str], from_beginning: bool, pattern: str | None = None
) -> None:
    """Print every event of `topics` (or of the topics matching `pattern`), with the services'
    connection settings."""
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=security(settings),
        logger=None,
        metadata_max_age_ms=3000,
    )
    offsets: Literal["earliest", "latest"] = "earliest" if from_beginning else "latest"
    if pattern is not None:  # pattern subscriptions need a group
        subscriber = broker.subscriber(
            pattern=pattern,
            group_id=f"faxrelay-tail-{uuid.uuid4().hex}",
            auto_offset_reset=offsets,
            decoder=raw_bodies,
        )
    else:
        subscriber = broker.subscriber(*topics, auto_offset_reset=offsets, decoder=raw_bodies)

    @subscriber
    async def on_event(body: bytes, message: KafkaMessage) -> None:
        for record in records(message):
            print(event_line(dict(record.headers), record.key, record.value or b""), flush=True)

    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.stop()


async def backfill(
    since: datetime, user: str | None, settings: BackfillSettings | None = None
) -> int:
    """Announce every undownloaded fax completed since `since`, for one or all users. The
    downloader skips faxes already stored and announced, so a backfill never doubles an event."""
    settings = settings or BackfillSettings()
    efax = efax_client(settings)
    broker = make_broker(settings)
    await broker.start()
    announced = 0

    async def announce(app_id: UUID, user_id: UUID, faxes: list[ReceivedFax]) -> None:
        nonlocal announced
        await publish_notified(broker, app_id, user_id, faxes)
        announced += len(faxes)

    async def list_page(app_id: UUID, user_id: UUID, offset: int) -> ReceivedPage:
        return await efax.list_received(app_id, user_id, since=since, offset=offset)

    try:
        for app in settings.apps:
            for user_id in app.user_ids:
                if user and str(user_id) != user:
                    continue
                await scan(
                    partial(list_page, app.app_id, user_id),
                    partial(announce, app.app_id, user_id),
                )
    finally:
        await broker.stop()
        await efax.aclose()
    return announced
