"""The exactly-once sink's bookkeeping, in memory: one transaction per input partition with the
offset after its last record, and records a nack rewound past a committed transaction skipped.
(That the transactions themselves hold through kills is tests/e2e/test_exactly_once.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from faststream.kafka import KafkaBroker

from shared.kafka import Decision, Outgoing, Sink
from shared.settings import ServiceSettings


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes = b""


class FakeTransactions:
    def __init__(self, fail_on: int | None = None) -> None:
        self.commits: list[tuple[str, int, int, list[bytes]]] = []
        self.committed: dict[tuple[str, int], int] = {}
        self.fail_on = fail_on

    async def commit(self, topic: str, partition: int, next_offset: int, outgoing: list) -> None:
        if partition == self.fail_on:
            raise RuntimeError("broker gone")
        self.commits.append((topic, partition, next_offset, [o.value for o in outgoing]))
        self.committed[(topic, partition)] = next_offset


def sink_with(transactions: FakeTransactions) -> Sink:
    settings = ServiceSettings(kafka_exactly_once=True)
    sink = Sink(KafkaBroker(), settings, "g")
    sink.transactions = transactions  # type: ignore[assignment]
    return sink


async def echo(batch: Sequence[Record]) -> Decision:
    return [Outgoing("out", None, b"%d" % r.offset) for r in batch], None


async def test_one_transaction_per_input_partition_with_the_offset_after_its_last_record() -> None:
    transactions = FakeTransactions()
    batch = [Record("in", 0, 5), Record("in", 1, 7), Record("in", 0, 6)]
    await sink_with(transactions).write(batch, lambda r: r, echo)  # type: ignore[arg-type]
    assert sorted(transactions.commits) == [("in", 0, 7, [b"5", b"6"]), ("in", 1, 8, [b"7"])]


async def test_records_rewound_past_a_committed_transaction_are_not_written_again() -> None:
    transactions = FakeTransactions(fail_on=1)
    sink = sink_with(transactions)
    batch = [Record("in", 0, 5), Record("in", 1, 7)]
    with pytest.raises(RuntimeError):  # partition 1 fails: the handler nacks the whole batch
        await sink.write(batch, lambda r: r, echo)  # type: ignore[arg-type]
    assert transactions.commits == [("in", 0, 6, [b"5"])]
    transactions.fail_on = None
    await sink.write(batch, lambda r: r, echo)  # the rewound batch comes back whole
    assert transactions.commits == [("in", 0, 6, [b"5"]), ("in", 1, 8, [b"7"])]


async def test_what_to_do_after_writing_runs_only_once_written() -> None:
    done: list[str] = []

    async def decide(batch: Sequence[Record]) -> Decision:
        return [Outgoing("out", None, b"x")], lambda: done.append("remembered")

    failing = FakeTransactions(fail_on=0)
    with pytest.raises(RuntimeError):
        await sink_with(failing).write([Record("in", 0, 1)], lambda r: r, decide)  # type: ignore[arg-type]
    assert done == []
    await sink_with(FakeTransactions()).write([Record("in", 0, 1)], lambda r: r, decide)  # type: ignore[arg-type]
    assert done == ["remembered"]
