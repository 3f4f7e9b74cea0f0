"""Kafka, both dialects: FastStream brokers for producing and consuming, and one small
administration adapter on kafka-python-ng (topics, committed offsets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka import TopicPartition as AioTopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from pydantic import BaseModel, ValidationError

from shared.contracts import CORRELATION_HEADER, Topic
from shared.settings import ServiceSettings
from shared.tracing import PROPAGATED, within

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


class KafkaSettingsError(RuntimeError):
    """The broker refused the configured connection settings; the message names the setting."""


async def check_connection(settings: ServiceSettings, timeout_s: float = 10.0) -> None:
    """Connect to the bootstrap servers once with the configured security, so that a wrong
    password or CA stops a service at start with a message naming the setting (the clients
    themselves only say "Unable to bootstrap"). A broker that is merely down is left to the
    clients' own retries."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

    options = client_options(settings)
    options.pop("bootstrap_servers")
    for address in settings.kafka_bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                connection = await create_conn(host, int(port), **options)
        except SaslAuthenticationFailed:
            raise KafkaSettingsError(
                f"Kafka at {address} refused the SASL credentials: check "
                f"FAXRELAY_KAFKA_SASL_USERNAME ({settings.kafka_sasl_username!r}) and "
                f"FAXRELAY_KAFKA_SASL_PASSWORD (mechanism {settings.kafka_sasl_mechanism})"
            ) from None
        except UnsupportedSaslMechanismError:
            raise KafkaSettingsError(
                f"Kafka at {address} does not offer FAXRELAY_KAFKA_SASL_MECHANISM="
                f"{settings.kafka_sasl_mechanism}"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise KafkaSettingsError(
                f"Kafka at {address}: its certificate is not trusted ({error.verify_message}); "
                "check FAXRELAY_KAFKA_SSL_CAFILE"
            ) from None
        except (OSError, TimeoutError, ssl.SSLError) as error:
            log.warning("Kafka at %s not reachable yet: %s", address, type(error).__name__)
            continue
        connection.close()
        return


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
    """Subscriber options every pipeline consumer uses. With exactly-once on, records of
    aborted transactions are never read."""
    return {
        "group_id": group_id,
        "isolation_level": "read_committed" if settings.kafka_exactly_once else "read_uncommitted",
        "auto_offset_reset": "earliest",
        "ack_policy": AT_LEAST_ONCE,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": max(300, settings.kafka_session_timeout_ms // 5),
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }


class KafkaAdmin:
    """Topics and consumer offsets, through kafka-python-ng."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._client = KafkaAdminClient(**client_options(settings), client_id="faxrelay-admin")

    def close(self) -> None:
        self._client.close()

    def topics(self) -> set[str]:
        return set(self._client.list_topics())

    def partitions(self, topic: str) -> list[int]:
        """The partitions of `topic`, none when it does not exist (never creates it)."""
        if topic not in self.topics():
            return []
        (described,) = self._client.describe_topics([topic])
        return sorted(int(p["partition"]) for p in described["partitions"])

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

    def end_offsets(self, topic: str) -> dict[int, int]:
        """The offset after the last record, per partition (Tansu's read low: its gap)."""
        consumer = KafkaConsumer(**client_options(self._settings), enable_auto_commit=False)
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            consumer.close()

    def lag(self, group_id: str, topic: str) -> dict[int, int]:
        """Records on `topic` the group has not yet committed past, per partition."""
        ends = self.end_offsets(topic)
        committed = self.committed_offsets(group_id, topic, len(ends))
        return {p: max(0, end - committed.get(p, 0)) for p, end in sorted(ends.items())}


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
    await run_all(_publish(broker, o) for o in outgoing)


async def _publish(broker: KafkaBroker, o: Outgoing) -> None:
    with within(o.headers):  # the record's own trace (a batch holds many faxes)
        await broker.publish(
            o.value,
            o.topic,
            key=o.key,
            headers={k: v for k, v in o.headers.items() if k != CORRELATION_HEADER},
            correlation_id=o.headers.get(CORRELATION_HEADER),
        )


def propagated(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    """The headers every service carries from its input to its output: the delivery's
    correlation id and the fax's trace context."""
    found = {name: header(record, name) for name in (CORRELATION_HEADER, *PROPAGATED)}
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
                    transactional_id=self.transactional_id(topic, partition),
                    enable_idempotence=True,
                    acks="all",
                    linger_ms=1,
                    max_request_size=8 * 1024 * 1024,
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
