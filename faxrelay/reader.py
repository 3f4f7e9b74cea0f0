"""Reading the pipeline's topics as the operator: whole topics or single records, without a
group (nothing is committed), each record parsed by its topic's model from the registry.

The reader is an aiokafka consumer so that, under exactly-once, it reads `read_committed`:
records of aborted transactions are never counted, found or replayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from pydantic import BaseModel, ValidationError

from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_READ,
    FAX_STORED,
    READ_FAILED,
    TOPICS_BY_NAME,
    WEBHOOK_RECEIVED,
    DownloadFailed,
    FaxNotified,
    FaxRead,
    FaxStored,
    ReadFailed,
    WebhookReceived,
    WebhookRejected,
)
from shared.kafka import KafkaAdmin, client_options, header
from shared.settings import ServiceSettings

Record: TypeAlias = ConsumerRecord[bytes, bytes]
REPLAY_HEADER = "faxrelay_replayed"


def isolation(settings: ServiceSettings) -> Literal["read_committed", "read_uncommitted"]:
    """As the services' consumers read: committed records only under exactly-once."""
    return "read_committed" if settings.kafka_exactly_once else "read_uncommitted"


def reader_options(settings: ServiceSettings) -> dict[str, Any]:
    return {
        **client_options(settings),
        "enable_auto_commit": False,
        "fetch_max_wait_ms": 100,
        "isolation_level": isolation(settings),
    }


def time_of(record: Record) -> datetime:
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


def parsed(record: Record) -> BaseModel | None:
    """The record as its topic's model, or None for a record that is not one."""
    topic = TOPICS_BY_NAME.get(record.topic)
    if topic is None or record.value is None:
        return None
    try:
        return topic.model.model_validate_json(record.value)
    except ValidationError:
        return None


def claimed_fax_id(delivery: WebhookReceived) -> str | None:
    """The fax id an unverified body names, as the gateway keys it (any JSON `fax_id`)."""
    try:
        data = json.loads(delivery.body)
    except ValueError:
        return None
    value = data.get("fax_id") if isinstance(data, dict) else None
    return str(value) if value else None


def verified_fax(record: Record) -> FaxNotified | None:
    """The verified notification a record carries: never from an unverified delivery."""
    model = parsed(record)
    if isinstance(model, FaxNotified):
        return model
    if isinstance(model, FaxStored | DownloadFailed | FaxRead | ReadFailed):
        return model.fax
    return None


def fax_id_of(record: Record) -> str | None:
    """The fax a pipeline record is about, whatever its topic."""
    model = parsed(record)
    if isinstance(model, WebhookReceived):
        return claimed_fax_id(model)
    if isinstance(model, WebhookRejected):
        return claimed_fax_id(model.delivery)
    fax = verified_fax(record)
    return str(fax.fax_id) if fax is not None else None


def reason_of(record: Record) -> str:
    """What `faxrelay find` says of a record; a record `faxrelay replay` wrote says so."""
    said = _reason_of(parsed(record))
    replayed = header(record, REPLAY_HEADER)
    return f"{said}, replayed ({replayed})" if replayed else said


def _reason_of(model: BaseModel | None) -> str:
    if isinstance(model, WebhookRejected):
        return f"{model.reason}: {model.detail}"
    if isinstance(model, DownloadFailed):
        return f"{model.reason}: {model.detail} ({model.attempts} attempts)"
    if isinstance(model, FaxStored):
        return f"stored {model.stored.key}"
    if isinstance(model, FaxRead):  # counts only: the text is PHI
        return f"read {model.page_count} of {model.reported_pages} pages"
    if isinstance(model, ReadFailed):
        return f"{model.reason}: {model.detail}"
    if isinstance(model, FaxNotified):
        return f"source {model.source}"
    if isinstance(model, WebhookReceived):
        return f"delivery {model.delivery_id}"
    return ""


def reason_code(record: Record) -> str:
    """The reason of a rejection or a failure, for `status`."""
    model = parsed(record)
    if isinstance(model, WebhookRejected | DownloadFailed | ReadFailed):
        return str(model.reason)
    return "None"


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the producers' default partitioner (Kafka's murmur2) gives `key`."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


KEYED_BY_FAX = frozenset(
    {WEBHOOK_RECEIVED, FAX_NOTIFIED, FAX_STORED, DOWNLOAD_FAILED, FAX_READ, READ_FAILED}
)
"""Topics whose records of a fax are on the partition of its id (see the registry's keys)."""

Bounds = dict[int, tuple[int, int]]
STALL_S = 60  # a read that gets nothing for this long, not even its end, fails


class Topics:
    """Reads whole topics, or single records, up to the end seen at the call.

    Partitions come from the admin adapter; each read has a consumer of its own (aiokafka
    narrows a running consumer's metadata to the topics assigned). End offsets are not
    trusted as the last word: Tansu answers the base offset of a partition's last batch, so
    the tail is always read until the broker has nothing more."""

    def __init__(self, settings: ServiceSettings, admin: KafkaAdmin) -> None:
        self.settings = settings
        self.admin = admin
        self._consumer: AIOKafkaConsumer | None = None

    async def _fresh(self) -> AIOKafkaConsumer:
        await self.close()
        consumer = AIOKafkaConsumer(**reader_options(self.settings))
        self._consumer = consumer
        await consumer.start()
        return consumer

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            # aiokafka's stop() of a consumer lets the CancelledError of its own internal
            # task escape; only a cancellation of ours goes on
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise

    async def bounds(self, consumer: AIOKafkaConsumer, topic: str) -> Bounds:
        """(first, end) offset per partition as the broker answers them (the last stable
        offset under read_committed)."""
        parts = [TopicPartition(topic, p) for p in self.admin.partitions(topic)]
        if not parts:
            return {}
        consumer.assign(parts)  # the consumer's metadata then follows these partitions
        first = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        return {tp.partition: (first[tp], end[tp]) for tp in parts}

    async def tails(self, topic: str) -> dict[int, tuple[int, int, Record | None]]:
        """(first, true end, last record) per partition, reading only from the answered end."""
        consumer = await self._fresh()
        bounds = await self.bounds(consumer, topic)
        start = {p: max(first, end - 1) for p, (first, end) in bounds.items()}
        last: dict[int, Record] = {}
        async for record in _read(consumer, topic, start, bounds):
            last[record.partition] = record
        return {
            p: (first, max(end, last[p].offset + 1) if p in last else end, last.get(p))
            for p, (first, end) in bounds.items()
        }

    async def read(self, topic: str, key: bytes | None = None) -> list[Record]:
        """Every record to the end; with `key`, only its partition's."""
        consumer = await self._fresh()
        bounds = await self.bounds(consumer, topic)
        if key is not None and bounds:
            chosen = sorted(bounds)[partition_of(key, len(bounds))]
            bounds = {chosen: bounds[chosen]}
        begin = {p: first for p, (first, _) in bounds.items()}
        return [r async for r in _read(consumer, topic, begin, bounds)]

    async def read_since(self, topic: str, since: datetime) -> list[Record]:
        """Every record written at `since` or later, to the end. Where the broker cannot look
        a time up, from the beginning: more to read, nothing missed."""
        consumer = await self._fresh()
        bounds = await self.bounds(consumer, topic)
        at = int(since.timestamp() * 1000)
        try:
            found = await consumer.offsets_for_times({TopicPartition(topic, p): at for p in bounds})
        except KafkaError:
            found = {}
        begin = {}
        for p, (first, end) in bounds.items():
            tp = TopicPartition(topic, p)
            hit = found.get(tp)
            if tp not in found:  # the broker could not look the time up
                begin[p] = first
            elif hit is None:  # nothing written since then
                begin[p] = end
            else:
                begin[p] = max(first, hit.offset)
        return [r async for r in _read(consumer, topic, begin, bounds)]

    async def at(self, topic: str, partition: int, offset: int) -> Record | None:
        consumer = await self._fresh()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for _ in range(5):
            batch = (await consumer.getmany(tp, timeout_ms=300, max_records=1)).get(tp)
            if batch:
                return batch[0]
        return None


async def _read(
    consumer: AIOKafkaConsumer, topic: str, begin: dict[int, int], bounds: Bounds
) -> AsyncIterator[Record]:
    if not begin:
        return
    parts = [TopicPartition(topic, p) for p in begin]
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, begin[tp.partition])
    stalled_at = time.monotonic() + STALL_S
    while True:
        batches = await consumer.getmany(*parts, timeout_ms=150)
        for batch in batches.values():
            stalled_at = time.monotonic() + STALL_S
            for record in batch:
                yield record
        if not batches and await _at_end(consumer, parts, bounds):
            return
        if time.monotonic() > stalled_at:
            raise TimeoutError(f"{topic}: no answer from the broker for {STALL_S} s")


async def _at_end(consumer: AIOKafkaConsumer, parts: list[TopicPartition], bounds: Bounds) -> bool:
    """Past the answered end, and a fetch has answered at the position: an empty poll before
    the first fetch came back is no end."""
    for tp in parts:
        if consumer.highwater(tp) is None:
            return False
        if await consumer.position(tp) < bounds[tp.partition][1]:
            return False
    return True


@contextlib.asynccontextmanager
async def reading(settings: ServiceSettings) -> AsyncIterator[Topics]:
    admin = KafkaAdmin(settings)
    topics = Topics(settings, admin)
    try:
        yield topics
    finally:
        await topics.close()
        admin.close()
