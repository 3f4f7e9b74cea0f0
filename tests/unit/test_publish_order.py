"""publish_all: a fax's events to one destination go out in order (received, then read), while
other faxes' records are not held up behind them."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.kafka.publishing import Outgoing, publish_all


class SlowBroker:
    """Acknowledges each record after a delay that makes later records overtake earlier ones
    unless they wait for them."""

    def __init__(self) -> None:
        self.started: list[bytes] = []
        self.acked: list[bytes] = []

    async def publish(self, value: bytes, topic: str, **_: Any) -> None:
        self.started.append(value)
        await asyncio.sleep(0.05 if value.endswith(b"received") else 0.0)
        self.acked.append(value)


def record(subject: str, kind: str) -> Outgoing:
    return Outgoing("faxes.user.u", b"u", f"{subject} {kind}".encode(), {"ce_subject": subject})


async def test_one_subjects_records_are_acknowledged_in_order_and_others_run_alongside() -> None:
    broker = SlowBroker()
    batch = [record("a", "received"), record("a", "read"), record("b", "received")]
    await publish_all(broker, batch)  # type: ignore[arg-type]
    assert broker.acked.index(b"a received") < broker.acked.index(b"a read")
    # b did not wait for a's pair: it started before a's read event
    assert broker.started.index(b"b received") < broker.started.index(b"a read")
