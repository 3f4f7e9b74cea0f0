"""The broker factory: the one set of producer options, the consumer options of every pipeline
stage, and the declared publishers of the AsyncAPI document."""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from shared.contracts import Topic
from shared.kafka.security import security
from shared.settings import ServiceSettings

# Offsets are committed only after the handler returned, i.e. after its output was acknowledged;
# an exception rewinds the partition so the record is delivered again.
AT_LEAST_ONCE = AckPolicy.NACK_ON_ERROR

MAX_RECORD_BYTES = 8 * 1024 * 1024


def producer_options(*, enable_idempotence: bool, linger_ms: int = 1) -> dict[str, Any]:
    """What every faxrelay producer sets (FastStream's broker, the transactional producers, the
    benchmarks): each publish waits for all in-sync replicas; a record holds a whole fax."""
    return {
        "acks": "all",
        "enable_idempotence": enable_idempotence,
        "linger_ms": linger_ms,
        "max_request_size": MAX_RECORD_BYTES,
    }


def make_broker(settings: ServiceSettings, **kwargs: Any) -> KafkaBroker:
    """A broker whose every publish waits for acks from all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=security(settings),
        **producer_options(enable_idempotence=settings.kafka_idempotent_producer),
        log_level=logging.DEBUG,  # one line per message only when debugging
        **kwargs,
    )


def isolation_level(settings: ServiceSettings) -> str:
    """With exactly-once on, records of aborted transactions are never read."""
    return "read_committed" if settings.kafka_exactly_once else "read_uncommitted"


def consumer_options(settings: ServiceSettings, group_id: str) -> dict[str, Any]:
    """Subscriber options every pipeline consumer uses. With exactly-once on, records of
    aborted transactions are never read."""
    return {
        "group_id": group_id,
        "isolation_level": isolation_level(settings),
        "auto_offset_reset": "earliest",
        "ack_policy": AT_LEAST_ONCE,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": max(300, settings.kafka_session_timeout_ms // 5),
        "max_partition_fetch_bytes": MAX_RECORD_BYTES,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }


def declare(broker: KafkaBroker, *topics: Topic) -> None:
    """Publishers of registry topics, with their models and descriptions: the apps' AsyncAPI
    document is made of them (`python -m faxrelay.asyncapi`). Records still go out through
    `publish_all`."""
    for topic in topics:
        broker.publisher(
            topic.name, schema=topic.model, description=topic.description, title=topic.title
        )
