"""Kafka, both dialects: FastStream brokers for producing and consuming, and one small
administration adapter on kafka-python-ng (topics, committed offsets)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.contracts import CORRELATION_HEADER, TRACEPARENT_HEADER
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# Offsets are committed only after the handler returned, i.e. after its output was acknowledged;
# an exception rewinds the partition so the record is delivered again.
AT_LEAST_ONCE = AckPolicy.NACK_ON_ERROR


def make_broker(settings: ServiceSettings, **kwargs: Any) -> KafkaBroker:
    """A broker whose every publish waits for acks from all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=1,
        max_request_size=8 * 1024 * 1024,
        log_level=logging.DEBUG,  # one line per message only when debugging
        **kwargs,
    )


def consumer_options(settings: ServiceSettings, group_id: str) -> dict[str, Any]:
    """Subscriber options every pipeline consumer uses."""
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": AT_LEAST_ONCE,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": max(300, settings.kafka_session_timeout_ms // 5),
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
    }


class KafkaAdmin:
    """Topics and consumer offsets, through kafka-python-ng."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._client = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers, client_id="faxrelay-admin"
        )

    def close(self) -> None:
        self._client.close()

    def topics(self) -> set[str]:
        return set(self._client.list_topics())

    def ensure_topics(
        self,
        names: Iterable[str],
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Create the topics that do not exist yet; return the ones created."""
        missing = sorted(set(names) - self.topics())
        if not missing:
            return []
        new = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(configs or {}))
            for name in missing
        ]
        try:
            self._client.create_topics(new)
        except TopicAlreadyExistsError:
            log.debug("topics created concurrently: %s", missing)
        return missing

    def committed_offsets(self, group_id: str, topic: str, partitions: int) -> dict[int, int]:
        """Committed offset per partition (Tansu needs the partitions named)."""
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        answer = self._client.list_consumer_group_offsets(group_id, partitions=wanted)
        return {tp.partition: meta.offset for tp, meta in answer.items() if meta.offset >= 0}


def batch_options(settings: ServiceSettings, group_id: str, max_records: int) -> dict[str, Any]:
    """Options of a batch subscriber: one commit per batch, after every output is acknowledged."""
    return {
        **consumer_options(settings, group_id),
        "batch": True,
        "max_records": max_records,
        "batch_timeout_ms": 100,
        "decoder": raw_bodies,
    }


async def raw_bodies(message: StreamMessage[Any]) -> Any:
    """Hand handlers the record values untouched: they parse them with the contracts."""
    return message.body


def records(message: KafkaMessage) -> tuple[ConsumerRecord[bytes, bytes], ...]:
    """The raw records of a batch message (headers and keys included)."""
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def propagated(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    """The headers every service carries from its input to its output: correlation and trace."""
    found = {name: header(record, name) for name in (CORRELATION_HEADER, TRACEPARENT_HEADER)}
    return {name: value for name, value in found.items() if value}


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            text: str = value.decode("utf-8", "replace")
            return text
    return None


async def run_all(work: Iterable[Awaitable[Any]]) -> None:
    """Await everything, then raise the first failure: no task is left running behind a nack."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
