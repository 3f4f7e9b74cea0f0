"""The stage runner: each partition committed up to its finished prefix, whatever order records
finish in; a record that waits holds no other; a revoked partition's unfinished work dropped."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka import TopicPartition as TP
from faststream.kafka import KafkaBroker

from shared.kafka import Decision, Outgoing
from shared.settings import ServiceSettings
from shared.stage import Progress, StageRunner

A, B = TP("in", 0), TP("in", 1)


def test_the_prefix_ends_at_the_first_unfinished_record_whatever_order_they_finish_in() -> None:
    p = Progress()
    for offset in (10, 11, 12, 13):
        assert p.take(A, offset)
    assert p.prefix(A) is None, "nothing finished"
    p.finish(A, 12)
    p.finish(A, 11)
    assert p.prefix(A) is None, "10 still runs: nothing is committable"
    p.finish(A, 10)
    assert p.prefix(A) == (13, [((), None)] * 3)
    p.committed(A, 13)
    assert p.prefix(A) is None
    assert p.uncommitted == 1
    p.finish(A, 13)
    assert p.prefix(A) == (14, [((), None)])


def test_offsets_need_not_be_consecutive_and_partitions_are_apart() -> None:
    p = Progress()
    for offset in (5, 7, 9):  # transaction markers take the offsets between
        p.take(A, offset)
    p.take(B, 0)
    for offset in (5, 7, 9):
        p.finish(A, offset)
    assert p.prefix(A) == (10, [((), None)] * 3)
    assert p.prefix(B) is None
    assert p.unfinished == 1


def test_held_outputs_are_returned_with_the_prefix_that_covers_them_only() -> None:
    p = Progress()
    out = [Outgoing("out", None, b"x")]
    for offset in (0, 1):
        p.take(A, offset)
    p.finish(A, 1, (out, None))
    assert p.prefix(A) is None, "the output of 1 waits for 0"
    p.finish(A, 0)
    assert p.prefix(A) == (2, [((), None), (out, None)])


def test_a_dropped_partition_forgets_its_work_and_a_late_finish_is_ignored() -> None:
    p = Progress()
    p.take(A, 0)
    p.take(A, 1)
    p.finish(A, 1)
    p.drop(A)
    assert not p.finish(A, 0)
    assert p.prefix(A) is None
    assert p.uncommitted == 0
    assert p.take(A, 0), "taken again from the group's offset by the next assignment"


def test_a_record_taken_twice_is_worked_on_once() -> None:
    p = Progress()
    assert p.take(A, 3)
    assert not p.take(A, 3)
    p.finish(A, 3)
    p.committed(A, 4)
    assert not p.take(A, 3), "already committed"


class FakeConsumer:
    """What the runner asks of aiokafka's consumer: assignment, pausing and commits."""

    def __init__(self, *assigned: TP) -> None:
        self.assigned = set(assigned)
        self.paused_: set[TP] = set()
        self.commits: list[dict[TP, int]] = []

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def pause(self, *tps: TP) -> None:
        self.paused_ |= set(tps)

    def resume(self, *tps: TP) -> None:
        self.paused_ -= set(tps)

    def paused(self) -> set[TP]:
        return set(self.paused_)

    async def commit(self, offsets: dict[TP, int]) -> None:
        self.commits.append(dict(offsets))

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        return {}

    def committed(self, tp: TP) -> int | None:
        merged: dict[TP, int] = {}
        for c in self.commits:
            merged |= c
        return merged.get(tp)


def rec(tp: TP, offset: int, key: bytes | None = None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, key, b"", None, 0, 0, ())


def runner(work: Any, consumer: FakeConsumer, **limits: int) -> StageRunner:
    settings = ServiceSettings()
    r = StageRunner(
        KafkaBroker(),
        settings,
        "g",
        max_in_flight=limits.get("max_in_flight", 10),
        max_uncommitted=limits.get("max_uncommitted", 100),
    )
    r.begin(work)
    r.consumer = consumer  # type: ignore[assignment]
    return r


async def until(condition: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_record_that_waits_holds_no_other_and_its_partition_commits_up_to_it() -> None:
    release = asyncio.Event()
    done: list[int] = []

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        if r.offset == 1:
            await release.wait()  # a Retry-After
        done.append(r.offset)
        return (), None

    consumer = FakeConsumer(A)
    r = runner(work, consumer)
    await r.poll(consumer, 10, 10)  # starts the committer
    r.take([rec(A, o) for o in range(5)])
    await until(lambda: done == [0, 2, 3, 4])
    await until(lambda: consumer.committed(A) == 1)
    release.set()
    await until(lambda: consumer.committed(A) == 5)
    await r.stop()


async def test_records_taken_before_the_work_is_handed_over_wait_for_it() -> None:
    done: list[int] = []

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        done.append(r.offset)
        return (), None

    consumer = FakeConsumer(A)
    r = StageRunner(KafkaBroker(), ServiceSettings(), "g", max_in_flight=10, max_uncommitted=100)
    await r.poll(consumer, 10, 10)
    r.take([rec(A, 0), rec(A, 1)])
    for _ in range(20):  # the record tasks run as far as they can
        await asyncio.sleep(0)
    assert done == []
    assert r.progress.unfinished == 2
    r.begin(work)
    await until(lambda: consumer.committed(A) == 2)
    assert done == [0, 1]
    await r.stop()


async def test_records_of_one_key_run_one_after_the_other() -> None:
    running: list[int] = []
    overlap: list[int] = []

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        if running:
            overlap.append(r.offset)
        running.append(r.offset)
        await asyncio.sleep(0.01)
        running.remove(r.offset)
        return (), None

    consumer = FakeConsumer(A)
    r = runner(work, consumer)
    await r.poll(consumer, 10, 10)
    r.take([rec(A, 0, b"fax"), rec(A, 1, b"fax"), rec(A, 2, b"fax")])
    await until(lambda: consumer.committed(A) == 3)
    assert overlap == []
    await r.stop()


async def test_a_failing_record_is_tried_again_until_it_succeeds_and_only_then_committed() -> None:
    tries: list[int] = []

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        tries.append(r.offset)
        if len(tries) < 3:
            raise ConnectionError("the store is down")
        return (), None

    consumer = FakeConsumer(A)
    r = runner(work, consumer)
    await r.poll(consumer, 10, 10)
    r.take([rec(A, 0)])
    await until(lambda: consumer.committed(A) == 1, timeout=5)
    assert tries == [0, 0, 0]
    await r.stop()


async def test_revoking_commits_the_finished_prefix_and_cancels_the_rest() -> None:
    release = asyncio.Event()
    cancelled: list[int] = []

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        if r.offset >= 1:
            try:
                await release.wait()
            except asyncio.CancelledError:
                cancelled.append(r.offset)
                raise
        return (), None

    consumer = FakeConsumer(A, B)
    r = runner(work, consumer)
    r.take([rec(A, 0), rec(A, 1), rec(A, 2), rec(B, 0)])
    await until(lambda: r.progress.unfinished == 2)
    await r.revoked([A])
    assert consumer.committed(A) == 1, "the finished prefix, before letting go"
    await until(lambda: sorted(cancelled) == [1, 2])
    assert r.progress.unfinished == 0
    assert r.progress.prefix(B) == (1, [((), None)])
    consumer.assigned = {B}
    r.take([rec(A, 3)])
    assert r.progress.unfinished == 0, "a record of a partition no longer held is not taken"
    await r.stop()


async def test_a_full_bound_pauses_the_partitions_until_there_is_room() -> None:
    release = asyncio.Event()

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        await release.wait()
        return (), None

    consumer = FakeConsumer(A)
    r = runner(work, consumer, max_in_flight=2)
    r.take([rec(A, 0), rec(A, 1)])
    assert await r.poll(consumer, 10, 10) == ()
    assert consumer.paused() == {A}
    release.set()
    await until(lambda: r.progress.unfinished == 0)
    await r.poll(consumer, 10, 10)
    assert consumer.paused() == set()
    await r.stop()


class FakeTransactions:
    """Records what each transaction would write with which offset."""

    def __init__(self) -> None:
        self.written: list[tuple[TP, int, list[bytes]]] = []

    async def commit(self, topic: str, partition: int, end: int, outgoing: Any) -> None:
        self.written.append((TP(topic, partition), end, [o.value for o in outgoing]))

    async def close(self) -> None:
        pass


async def test_exactly_once_writes_each_output_with_the_offsets_that_cover_it_and_not_before() -> (
    None
):
    release = asyncio.Event()
    told: list[int] = []

    async def work(r: ConsumerRecord[bytes, bytes]) -> Decision:
        if r.offset == 0:
            await release.wait()
        out = [Outgoing("out", None, f"outcome {r.offset}".encode())]
        return out, lambda: told.append(r.offset)

    consumer = FakeConsumer(A)
    r = runner(work, consumer)
    transactions = FakeTransactions()
    r.transactions = transactions  # type: ignore[assignment]
    await r.poll(consumer, 10, 10)
    r.take([rec(A, 0), rec(A, 1)])
    await until(lambda: r.progress.unfinished == 1)
    await asyncio.sleep(0.05)
    assert transactions.written == [], "1 is done, but its output waits for 0"
    assert told == []
    release.set()
    await until(lambda: len(told) == 2)
    assert transactions.written == [(A, 2, [b"outcome 0", b"outcome 1"])]
    assert consumer.commits == [], "the offsets went in the transaction"
    await r.stop()
