"""Publishing: the records a stage decided, each sent and acknowledged before offsets move."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from shared.contracts import CORRELATION_HEADER
from shared.tracing import within


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


async def run_all(work: Iterable[Awaitable[Any]]) -> None:
    """Await everything, then raise the first failure: no task is left running behind a nack."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
