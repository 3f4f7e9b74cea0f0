"""Exactly-once for a Kafka-to-Kafka stage: transactional producers per input partition, and
the sink that writes a batch either straight (at-least-once) or in those transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from aiokafka import TopicPartition as AioTopicPartition
from faststream.kafka import KafkaBroker

from shared.kafka.broker import producer_options
from shared.kafka.publishing import Outgoing, publish_all, run_all
from shared.kafka.security import client_options
from shared.settings import ServiceSettings


class Transactions:
    """Exactly-once for a Kafka-to-Kafka stage: the records a batch produced and the batch's
    input offsets are committed in one transaction, per input partition.

    Each input partition has its own transactional producer whose id is stable
    (`<prefix>-<group>-<topic>-<partition>`): a copy that takes the partition over starts a
    producer with the same id, which fences the old copy (a zombie's commit fails), so no
    record is written twice even when two copies briefly believe they own a partition.
    FastStream 0.7 has no transaction API, hence aiokafka's producer directly.
    """

    def __init__(self, settings: ServiceSettings, group_id: str) -> None:
        self._settings = settings
        self._group_id = group_id
        self._producers: dict[tuple[str, int], Any] = {}
        self._starting = asyncio.Lock()
        # next offset per input partition, as this process committed it: records before it
        # come back only when a nack rewinds a whole batch, and were already written
        self.committed: dict[tuple[str, int], int] = {}

    def transactional_id(self, topic: str, partition: int) -> str:
        prefix = self._settings.kafka_transactional_id_prefix
        return f"{prefix}-{self._group_id}-{topic}-{partition}"

    async def _producer(self, topic: str, partition: int) -> Any:
        from aiokafka import AIOKafkaProducer

        async with self._starting:
            producer = self._producers.get((topic, partition))
            if producer is None:
                producer = AIOKafkaProducer(
                    **client_options(self._settings),
                    **producer_options(enable_idempotence=True),
                    transactional_id=self.transactional_id(topic, partition),
                )
                await producer.start()  # InitProducerId: fences an older copy with this id
                self._producers[(topic, partition)] = producer
            return producer

    async def commit(
        self, topic: str, partition: int, next_offset: int, outgoing: Iterable[Outgoing]
    ) -> None:
        """Publish `outgoing` and move the group past `next_offset - 1` on the input partition,
        all or nothing. On failure the transaction is aborted and the error raised, so the
        handler nacks and the batch is read again; a fenced producer is replaced."""
        producer = await self._producer(topic, partition)
        try:
            async with producer.transaction():
                sends = [
                    await producer.send(
                        o.topic,
                        o.value,
                        key=o.key,
                        headers=[(k, v.encode()) for k, v in o.headers.items()],
                    )
                    for o in outgoing
                ]
                await asyncio.gather(*sends)
                offsets = {AioTopicPartition(topic, partition): next_offset}
                await producer.send_offsets_to_transaction(offsets, self._group_id)
            self.committed[(topic, partition)] = next_offset
        except Exception:
            self._producers.pop((topic, partition), None)
            with contextlib.suppress(Exception):
                await producer.stop()
            raise

    async def close(self) -> None:
        producers, self._producers = list(self._producers.values()), {}
        await asyncio.gather(*(p.stop() for p in producers), return_exceptions=True)


T = TypeVar("T")
Decision = tuple[Sequence[Outgoing], Callable[[], None] | None]
"""What a stage decided for (part of) a batch, and what to do once it is written."""


class Sink:
    """Where a Kafka-to-Kafka stage writes a batch: straight to the broker, acknowledged, before
    the offsets are committed (at-least-once); or, with FAXRELAY_KAFKA_EXACTLY_ONCE, in one
    transaction per input partition together with that partition's offsets."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, group_id: str) -> None:
        self._broker = broker
        exactly_once = settings.kafka_exactly_once
        self.transactions = Transactions(settings, group_id) if exactly_once else None

    async def write(
        self,
        batch: Sequence[T],
        record_of: Callable[[T], ConsumerRecord[bytes, bytes]],
        decide: Callable[[Sequence[T]], Awaitable[Decision]],
    ) -> None:
        if self.transactions is None:
            outgoing, written = await decide(batch)
            await publish_all(self._broker, outgoing)
            if written is not None:
                written()
            return
        parts: dict[tuple[str, int], list[T]] = {}
        for item in batch:
            record = record_of(item)
            key = (record.topic, record.partition)
            if record.offset >= self.transactions.committed.get(key, -1):
                parts.setdefault(key, []).append(item)
        await run_all(self._commit(key, part, record_of, decide) for key, part in parts.items())

    async def _commit(
        self,
        key: tuple[str, int],
        part: Sequence[T],
        record_of: Callable[[T], ConsumerRecord[bytes, bytes]],
        decide: Callable[[Sequence[T]], Awaitable[Decision]],
    ) -> None:
        assert self.transactions is not None
        outgoing, written = await decide(part)
        next_offset = max(record_of(item).offset for item in part) + 1
        await self.transactions.commit(key[0], key[1], next_offset, outgoing)
        if written is not None:
            written()

    async def close(self) -> None:
        if self.transactions is not None:
            await self.transactions.close()
