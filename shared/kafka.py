"""Kafka, both dialects: FastStream brokers for producing and consuming, and one small
administration adapter on kafka-python-ng (topics, committed offsets)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from pydantic import BaseModel, ValidationError

from shared.contracts import CORRELATION_HEADER, TRACEPARENT_HEADER, Topic
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# Offsets are committed only after the handler returned, i.e. after its output was acknowledged;
# an exception rewinds the partition so the record is delivered again.
AT_LEAST_ONCE = AckPolicy.NACK_ON_ERROR


def ssl_context(settings: ServiceSettings) -> ssl.SSLContext | None:
    """The TLS context of every Kafka client, or None for PLAINTEXT and SASL_PLAINTEXT."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile and settings.kafka_ssl_keyfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    return context


def security(settings: ServiceSettings) -> BaseSecurity | None:
    """FastStream's form of the connection settings."""
    protocol, context = settings.kafka_security_protocol, ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    password = settings.kafka_sasl_password
    return sasl[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username or "",
        password=password.get_secret_value() if password else "",
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Connection options for an aiokafka or kafka-python-ng client built directly (both take
    these names). The password is only read here, never logged."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


def make_broker(settings: ServiceSettings, **kwargs: Any) -> KafkaBroker:
    """A broker whose every publish waits for acks from all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=security(settings),
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

    def __init__(self, settings: ServiceSettings) -> None:
        self._client = KafkaAdminClient(**client_options(settings), client_id="faxrelay-admin")

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
        # The AsyncAPI document lists what faxrelay writes (the declared publishers); a batch
        # handler's own signature (the raw message) would describe nothing there.
        "include_in_schema": False,
    }


def declare(broker: KafkaBroker, *topics: Topic) -> None:
    """Publishers of registry topics, with their models and descriptions: the apps' AsyncAPI
    document is made of them (`python -m faxrelay.asyncapi`). Records still go out through
    `publish_all`."""
    for topic in topics:
        broker.publisher(
            topic.name, schema=topic.model, description=topic.description, title=topic.title
        )


async def raw_bodies(message: StreamMessage[Any]) -> Any:
    """Hand handlers the record values untouched: they parse them with the contracts."""
    return message.body


def records(message: KafkaMessage) -> tuple[ConsumerRecord[bytes, bytes], ...]:
    """The raw records of a batch message (headers and keys included)."""
    raw = message.raw_message
    return tuple(raw) if isinstance(raw, tuple | list) else (raw,)


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Parsed(Generic[M]):
    """One readable record of a batch: its model and the headers to carry on."""

    model: M
    trace: dict[str, str]
    record: ConsumerRecord[bytes, bytes]


def parsed(message: KafkaMessage, model: type[M], logger: logging.Logger = log) -> list[Parsed[M]]:
    """The batch as models. An unreadable record is skipped (its offset is logged, never its
    body, which may hold anything): redelivering it would fail the same way forever."""
    readable: list[Parsed[M]] = []
    for record in records(message):
        try:
            value = model.model_validate_json(record.value or b"")
        except ValidationError:
            logger.error("skipping an unreadable record at offset %s", record.offset)
            continue
        readable.append(Parsed(value, propagated(record), record))
    return readable


@dataclass(frozen=True)
class Outgoing:
    """One record to write, decided before anything is sent (so a batch's output can also be
    written in one transaction with its input offsets)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, topic: str, message: BaseModel, key: str | None, headers: Mapping[str, str]
    ) -> Outgoing:
        value = message.model_dump_json().encode()
        return cls(topic, key.encode() if key is not None else None, value, dict(headers))


Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
"""How logic hands its records to the app: `functools.partial(publish_all, broker)`."""


async def publish_all(broker: KafkaBroker, outgoing: Sequence[Outgoing]) -> None:
    """Send every record, acknowledged, then raise the first failure. The correlation id is set
    once per record, from its headers."""
    await run_all(
        broker.publish(
            o.value,
            o.topic,
            key=o.key,
            headers={k: v for k, v in o.headers.items() if k != CORRELATION_HEADER},
            correlation_id=o.headers.get(CORRELATION_HEADER),
        )
        for o in outgoing
    )


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
