"""The batch subscriber of a pipeline stage: one commit per batch, and a poll again at once
after an empty poll."""

from __future__ import annotations

from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.kafka.broker import consumer_options
from shared.kafka.parsing import raw_bodies
from shared.settings import ServiceSettings


def batch_options(settings: ServiceSettings, group_id: str, max_records: int) -> dict[str, Any]:
    """Options of a batch subscriber: one commit per batch, after every output is acknowledged."""
    return {
        **consumer_options(settings, group_id),
        "batch": True,
        "max_records": max_records,
        "batch_timeout_ms": settings.kafka_batch_timeout_ms,
        "decoder": raw_bodies,
        # The AsyncAPI document lists what faxrelay writes (the declared publishers); a batch
        # handler's own signature (the raw message) would describe nothing there.
        "include_in_schema": False,
    }


def batch_subscriber(
    broker: KafkaBroker, topic: str, settings: ServiceSettings, group_id: str, max_records: int
) -> BatchSubscriber:
    """The subscriber of a pipeline stage (`batch_options`) that polls again at once after an
    empty poll. FastStream 0.7's sleeps `batch_timeout_ms` after one, although the poll itself
    already waited that long for records: a record that arrives during the sleep waits it out,
    on every hop (`docs/benchmarks.md` section 9 measures it)."""
    subscriber = broker.subscriber(topic, **batch_options(settings, group_id, max_records))
    assert isinstance(subscriber, BatchSubscriber)

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[bytes, bytes], ...]:
        batches = await consumer.getmany(
            timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records
        )
        return tuple(chain.from_iterable(batches.values()))

    subscriber.get_msg = get_msg  # type: ignore[method-assign]  # this instance only
    return subscriber
