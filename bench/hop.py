"""One Kafka hop, producer send -> a consumer's handler, at a steady rate: raw aiokafka (the
floor), FastStream's own batch subscriber (the baseline) and `shared.kafka.batch_subscriber`
(what the pipeline stages use), side by side on one broker in one run.

Each record carries its send time; the handler subtracts it from its own clock (one process,
one clock). The consumers use the stages' options (`batch_options`: fetch wait, batch timeout,
manual commits after each batch)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from faxrelay.localstack import Broker, LocalStack
from shared.kafka import KafkaAdmin, batch_options, batch_subscriber, producer_options
from shared.settings import ServiceSettings

CONSUMERS = ("aiokafka", "faststream", "faxrelay")
Seen = Callable[[Sequence[Any]], None]


async def raw_consumer(bootstrap: str, topic: str, settings: ServiceSettings, seen: Seen) -> Any:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"hop-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    await consumer.start()

    async def loop() -> None:
        while True:
            batches = await consumer.getmany(
                timeout_ms=settings.kafka_batch_timeout_ms, max_records=64
            )
            for records in batches.values():
                seen(records)
            if batches:
                await consumer.commit()

    task = asyncio.create_task(loop())

    async def stop() -> None:
        task.cancel()
        await consumer.stop()

    return stop


async def faststream_consumer(
    bootstrap: str, topic: str, settings: ServiceSettings, seen: Seen, ours: bool
) -> Any:
    broker = KafkaBroker(bootstrap, log_level=logging.DEBUG)  # as make_broker: no line a record
    group = f"hop-{uuid.uuid4().hex}"
    if ours:
        subscriber = batch_subscriber(broker, topic, settings, group, 64)
    else:
        subscriber = broker.subscriber(topic, **batch_options(settings, group, 64))

    @subscriber
    async def handle(message: KafkaMessage) -> None:
        seen(message.raw_message)

    await broker.start()
    return broker.stop


async def measure(bootstrap: str, consumer: str, rate: float, records: int) -> list[float]:
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap)
    topic = f"hop-{consumer}-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdmin(settings)
    try:
        admin.ensure_topics([topic], 6, 1)
    finally:
        admin.close()
    latencies: list[float] = []
    warmed, all_seen = asyncio.Event(), asyncio.Event()

    def seen(batch: Sequence[Any]) -> None:
        now = time.time() * 1000
        for record in batch:
            if record.value == b"warm":
                warmed.set()
            else:
                latencies.append(now - float(record.value))
        if len(latencies) >= records:
            all_seen.set()

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, **producer_options(enable_idempotence=False)
    )
    await producer.start()
    if consumer == "aiokafka":
        stop = await raw_consumer(bootstrap, topic, settings, seen)
    else:
        stop = await faststream_consumer(bootstrap, topic, settings, seen, consumer == "faxrelay")
    try:
        while not warmed.is_set():  # the group formed and reads
            await producer.send_and_wait(topic, b"warm")
            try:
                await asyncio.wait_for(warmed.wait(), 5)
            except TimeoutError:
                continue
        for _ in range(records):
            await producer.send(topic, str(time.time() * 1000).encode())
            await asyncio.sleep(1 / rate)
        with contextlib.suppress(TimeoutError):  # a lost record shows in the `seen` column
            await asyncio.wait_for(all_seen.wait(), 10)
    finally:
        await stop()
        await producer.stop()
    return sorted(latencies)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main(broker: Broker, rate: float, records: int) -> None:
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="faxrelay-bench-") as tmp:
        stack = LocalStack(Path(tmp), persistent=False, broker=broker)
        try:
            stack.start()
            for consumer in CONSUMERS:
                results[consumer] = asyncio.run(
                    measure(stack.bootstrap_servers, consumer, rate, records)
                )
        finally:
            stack.stop()
    print(f"\none hop on {broker}, {records} records at {rate:g}/s (ms, send -> handler)")
    print(f"{'consumer':<12} {'seen':>5} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}")
    for consumer, values in results.items():
        mean = statistics.mean(values) if values else float("nan")
        print(
            f"{consumer:<12} {len(values):>5} {quantile(values, 0.5):>7.1f} "
            f"{quantile(values, 0.9):>7.1f} {quantile(values, 0.99):>7.1f} {mean:>7.1f}"
        )
    fields = " ".join(
        f"{consumer}_p50_ms={quantile(v, 0.5):.1f} {consumer}_p99_ms={quantile(v, 0.99):.1f}"
        for consumer, v in results.items()
    )
    print(f"hop summary: broker={broker} {fields}")
