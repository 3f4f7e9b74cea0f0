"""Reading a batch: its raw records, their headers, and each record as its contract model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaMessage
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from shared.contracts import CORRELATION_HEADER
from shared.tracing import PROPAGATED

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


async def raw_bodies(message: StreamMessage[Any]) -> Any:
    """Hand handlers the record values untouched: they parse them with the contracts."""
    return message.body


def records(message: KafkaMessage) -> tuple[ConsumerRecord[bytes, bytes], ...]:
    """The raw records of a batch message (headers and keys included)."""
    raw = message.raw_message
    return tuple(raw) if isinstance(raw, tuple | list) else (raw,)


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
