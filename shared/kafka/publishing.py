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

SUBJECT_HEADER = "ce_subject"  # a CloudEvent's subject (binary mode): the fax id


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
    once per record, from its headers. Records of one subject to one topic (a fax's events to
    one destination: its received event, then its read event) go out one after the other, in
    order; all others at once."""
    runs: dict[tuple[str, bytes | None, str | None], list[Outgoing]] = {}
    for o in outgoing:
        runs.setdefault((o.topic, o.key, o.headers.get(SUBJECT_HEADER)), []).append(o)
    await run_all(_publish_in_order(broker, run) for run in runs.values())


async def _publish_in_order(broker: KafkaBroker, run: Sequence[Outgoing]) -> None:
    for o in run:
        await _publish(broker, o)


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
