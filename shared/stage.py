"""A pipeline stage that never waits on its slowest record: it keeps taking records while some
wait (a `Retry-After`, a backoff, a 50-page fax), and commits each partition up to the prefix of
records it has finished.

- Each record is worked on by a task of its own; records with the same key one after the other
  (two notifications of one fax). A record whose work raises is tried again, with a backoff,
  until it succeeds or its partition is taken away: nothing is skipped.
- Offsets are committed per partition up to the first unfinished record (`Progress`), so a crash
  redoes only what was not yet committed, and the stages' work is idempotent.
- At-least-once: a record's output is written as soon as its work is done; the offsets follow.
  Exactly-once (`Transactions`): a record's output is held until the prefix covers it, then
  written in one transaction with the offsets that cover it.
- In flight is bounded: records unfinished (`max_in_flight`) and records not yet committed
  (`max_uncommitted`). While either bound is full the partitions are paused (the consumer still
  polls, so the group keeps it).
- A revoked partition's finished prefix is committed, its unfinished records are cancelled and
  forgotten: the new owner redoes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka import TopicPartition as TP
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.kafka import Decision, Outgoing, Transactions, batch_options, publish_all, records
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Work = Callable[[Record], Awaitable[Decision]]
"""What a stage does with one record: the records to write, and what to do once written."""


@dataclass
class _Partition:
    committed: int  # the next offset as last committed (or where this process started)
    top: int  # the offset after the highest record taken
    pending: set[int] = field(default_factory=set)
    done: dict[int, Decision] = field(default_factory=dict)  # finished, not yet committed


class Progress:
    """Which records of each partition are taken, finished and committed: plain bookkeeping.

    The finished prefix of a partition ends at its first unfinished record (or after the last
    record taken). Offsets need not be consecutive (transaction markers take offsets)."""

    def __init__(self) -> None:
        self._partitions: dict[TP, _Partition] = {}

    def take(self, tp: TP, offset: int) -> bool:
        """Note a record as in flight; False if it was already taken (and not committed)."""
        part = self._partitions.get(tp)
        if part is None:
            part = self._partitions[tp] = _Partition(committed=offset, top=offset)
        if offset < part.committed or offset in part.pending or offset in part.done:
            return False
        part.pending.add(offset)
        part.top = max(part.top, offset + 1)
        return True

    def finish(self, tp: TP, offset: int, decision: Decision = ((), None)) -> bool:
        """Note a record finished (with what to write under exactly-once); False if its
        partition was dropped meanwhile."""
        part = self._partitions.get(tp)
        if part is None or offset not in part.pending:
            return False
        part.pending.discard(offset)
        part.done[offset] = decision
        return True

    def prefix(self, tp: TP) -> tuple[int, list[Decision]] | None:
        """The next offset to commit and the decisions it covers, if it moved."""
        part = self._partitions.get(tp)
        if part is None:
            return None
        end = min(part.pending) if part.pending else part.top
        if end <= part.committed:
            return None
        return end, [part.done[o] for o in sorted(part.done) if o < end]

    def committed(self, tp: TP, next_offset: int) -> None:
        part = self._partitions.get(tp)
        if part is None:
            return
        part.committed = max(part.committed, next_offset)
        for offset in [o for o in part.done if o < part.committed]:
            del part.done[offset]

    def drop(self, tp: TP) -> None:
        """Forget a partition (revoked): its unfinished and uncommitted records are redone by
        whoever owns it next."""
        self._partitions.pop(tp, None)

    def partitions(self) -> list[TP]:
        return list(self._partitions)

    @property
    def unfinished(self) -> int:
        return sum(len(p.pending) for p in self._partitions.values())

    @property
    def uncommitted(self) -> int:
        return sum(len(p.pending) + len(p.done) for p in self._partitions.values())


class StageRunner:
    """Runs a work function on every record of a topic (see the module's description). The
    subscriber is made with the app (`subscribe`); the work, which needs the app's clients, is
    handed over once they exist (`begin`, at startup)."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        group_id: str,
        *,
        max_in_flight: int,
        max_uncommitted: int,
        retry_max_s: float = 30.0,
    ) -> None:
        self.work: Work | None = None
        self._begun = asyncio.Event()  # the work was handed over
        self.broker = broker
        self.group_id = group_id
        self.max_in_flight = max_in_flight
        self.max_uncommitted = max(max_uncommitted, max_in_flight)
        self.retry_max_s = retry_max_s
        self.transactions = (
            Transactions(settings, group_id) if settings.kafka_exactly_once else None
        )
        self.progress = Progress()
        self.consumer: AIOKafkaConsumer | None = None
        self._tasks: dict[TP, set[asyncio.Task[None]]] = {}
        self._last_of_key: dict[bytes, asyncio.Task[None]] = {}
        self._finished = asyncio.Event()  # a record finished: the committer has work
        self._room = asyncio.Event()  # a record finished or was committed: maybe room again
        self._committing = asyncio.Lock()
        self._committer: asyncio.Task[None] | None = None
        self._stopping = False
        self._paused = False

    def begin(self, work: Work) -> None:
        """Hand over what to do with each record; a record taken before waits for it."""
        self.work = work
        self._begun.set()

    # --- taking records -----------------------------------------------------------------------

    def room(self) -> int:
        return min(
            self.max_in_flight - self.progress.unfinished,
            self.max_uncommitted - self.progress.uncommitted,
        )

    async def poll(
        self, consumer: AIOKafkaConsumer, timeout_ms: int, max_records: int
    ) -> tuple[Record, ...]:
        """One poll of the consume loop: paused while the bounds are full, or stopping."""
        self.consumer = consumer
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_loop())
        room = 0 if self._stopping else self.room()
        if room <= 0:
            consumer.pause(*consumer.assignment())
            self._paused = True
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_ms / 1000):
                    await self._room.wait()
            # polls on, so the group keeps this member (a partition assigned meanwhile is not
            # paused yet: what it returns is taken, never dropped)
            batches = await consumer.getmany(timeout_ms=0)
            return tuple(r for part in batches.values() for r in part)
        if self._paused:
            consumer.resume(*consumer.paused())
            self._paused = False
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=min(max_records, room))
        return tuple(r for part in batches.values() for r in part)

    def take(self, batch: Iterable[Record]) -> None:
        assigned = self.consumer.assignment() if self.consumer is not None else set()
        for record in batch:
            tp = TP(record.topic, record.partition)
            if self._stopping or tp not in assigned or not self.progress.take(tp, record.offset):
                continue  # revoked meanwhile, or already in flight here
            before = self._last_of_key.get(record.key) if record.key is not None else None
            task = asyncio.create_task(self._run(record, before))
            self._tasks.setdefault(tp, set()).add(task)
            task.add_done_callback(self._tasks[tp].discard)
            if record.key is not None:
                self._last_of_key[record.key] = task
                task.add_done_callback(partial(self._forget_key, record.key))

    def _forget_key(self, key: bytes, task: asyncio.Task[None]) -> None:
        if self._last_of_key.get(key) is task:
            del self._last_of_key[key]

    async def _run(self, record: Record, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.wait([before])  # the same key in order (a cancelled one counts as done)
        await self._begun.wait()
        assert self.work is not None
        wait = 0.2
        while True:
            try:
                outgoing, written = await self.work(record)
                if self.transactions is None:
                    await publish_all(self.broker, outgoing)
                    if written is not None:
                        written()
                    outgoing, written = (), None
                break
            except Exception as error:
                log.warning(
                    "record %s/%s at offset %s failed (%s); trying again in %.1f s",
                    record.topic,
                    record.partition,
                    record.offset,
                    type(error).__name__,
                    wait,
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.retry_max_s)
        tp = TP(record.topic, record.partition)
        if self.progress.finish(tp, record.offset, (outgoing, written)):
            self._finished.set()
            self._room.set()

    # --- committing ---------------------------------------------------------------------------

    async def _commit_loop(self) -> None:
        while True:
            await self._finished.wait()
            self._finished.clear()
            try:
                await self.commit(self.progress.partitions())
            except Exception as error:  # the broker away, a rebalance: try again shortly
                log.warning("committing offsets failed (%s); trying again", type(error).__name__)
                await asyncio.sleep(1.0)
                self._finished.set()
            self._room.set()

    async def commit(self, tps: Sequence[TP]) -> None:
        """Commit the finished prefix of each of `tps` (with its held output under
        exactly-once)."""
        async with self._committing:
            ready = {tp: p for tp in tps if (p := self.progress.prefix(tp)) is not None}
            if not ready:
                return
            if self.transactions is None:
                assert self.consumer is not None
                assigned = self.consumer.assignment()
                offsets = {tp: end for tp, (end, _) in ready.items() if tp in assigned}
                if offsets:
                    await self.consumer.commit(offsets)
                for tp, end in offsets.items():
                    self.progress.committed(tp, end)
                return
            results = await asyncio.gather(
                *(self._transaction(tp, end, ds) for tp, (end, ds) in ready.items()),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def _transaction(self, tp: TP, end: int, decisions: list[Decision]) -> None:
        assert self.transactions is not None
        outgoing: list[Outgoing] = [o for out, _ in decisions for o in out]
        await self.transactions.commit(tp.topic, tp.partition, end, outgoing)
        self.progress.committed(tp, end)
        for _, written in decisions:
            if written is not None:
                written()

    # --- rebalancing and stopping -------------------------------------------------------------

    async def revoked(self, tps: Iterable[TP]) -> None:
        """Commit what is finished of the revoked partitions, then let the rest go."""
        tps = list(tps)
        with contextlib.suppress(Exception):
            await self.commit(tps)
        for tp in tps:
            self.progress.drop(tp)
            for task in list(self._tasks.pop(tp, ())):
                task.cancel()

    async def stop(self) -> None:
        """Take nothing more, commit what is finished, cancel the rest (redone after restart)."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self.commit(self.progress.partitions())
        tasks = [t for ts in self._tasks.values() for t in ts]
        if self._committer is not None:
            tasks.append(self._committer)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.transactions is not None:
            await self.transactions.close()

    # --- wiring into a FastStream broker ------------------------------------------------------

    def subscribe(self, topic: str, settings: ServiceSettings, max_records: int) -> BatchSubscriber:
        """The broker's subscriber of `topic`, run by this runner: FastStream commits nothing
        (`AckPolicy.MANUAL`), the handler only hands records over."""
        options = batch_options(settings, self.group_id, max_records)
        options["ack_policy"] = AckPolicy.MANUAL
        subscriber = self.broker.subscriber(topic, listener=_Listener(self), **options)
        assert isinstance(subscriber, BatchSubscriber)

        async def get_msg(consumer: AIOKafkaConsumer) -> tuple[Any, ...]:
            return await self.poll(consumer, subscriber.batch_timeout_ms, max_records)

        subscriber.get_msg = get_msg  # type: ignore[method-assign]  # this instance only

        @subscriber
        async def hand_over(message: KafkaMessage) -> None:
            self.take(records(message))

        return subscriber


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: StageRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        await self.runner.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        for tp in assigned:  # start from the group's committed offset, whatever was known
            self.runner.progress.drop(tp)
