"""Ownership among poller copies: each (App ID, user) belongs to one partition of the shard topic
by a stable hash, and a copy runs the work of the partitions it is assigned. Kafka revokes
partitions from every member before it assigns them anew, so a user has at most one poller."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from aiokafka import ConsumerRebalanceListener, TopicPartition

from services.poller.delivery_log import review_delivery_log
from services.poller.scan import Polling, poll_once, repeat
from shared.kafka import KafkaAdmin
from shared.settings import ServiceSettings

log = logging.getLogger("faxrelay.poller")

SHARDS_TOPIC = "fax.poller.shards"  # no record is ever written to it: it exists to be assigned


def shard_of(app_id: UUID, user_id: UUID | None, shards: int) -> int:
    """Stable over processes and restarts (unlike `hash()`): sha256 of the ids, mod `shards`.
    `user_id=None` is the App ID's own work (its delivery log)."""
    text = f"{app_id}/{user_id or ''}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % shards


@dataclass(frozen=True, order=True)
class Work:
    """One thing a poller copy does while it owns its shard: scan one user, or read one App ID's
    delivery log (`user_id` None)."""

    app_id: UUID
    user_id: UUID | None


def owned_work(
    pairs: Iterable[tuple[UUID, UUID]], partitions: set[int], shards: int, delivery_log: bool
) -> set[Work]:
    """The work of the shards (partitions of the shard topic) this copy holds."""
    work = {Work(a, u) for a, u in pairs if shard_of(a, u, shards) in partitions}
    if delivery_log:
        apps = {a for a, _ in pairs}
        work |= {Work(a, None) for a in apps if shard_of(a, None, shards) in partitions}
    return work


class Ownership:
    """The running work of this copy: exactly that of the partitions it holds."""

    def __init__(
        self,
        pairs: list[tuple[UUID, UUID]],
        shards: int,
        delivery_log: bool,
    ) -> None:
        self.pairs, self.shards, self.delivery_log = pairs, shards, delivery_log
        self.start: Callable[[Work], asyncio.Task[None]] | None = None
        self.tasks: dict[Work, asyncio.Task[None]] = {}

    def begin(self, start: Callable[[Work], asyncio.Task[None]]) -> None:
        """Hand over how to start a piece of work, once its clients exist (at startup, before
        the group assigns any shard)."""
        self.start = start

    async def own(self, partitions: set[int]) -> None:
        """Stop the work of other partitions (and wait for it), start what is new."""
        wanted = owned_work(self.pairs, partitions, self.shards, self.delivery_log)
        gone = [self.tasks.pop(w) for w in list(self.tasks) if w not in wanted]
        for task in gone:
            task.cancel()
        await asyncio.gather(*gone, return_exceptions=True)
        for work in sorted(wanted - set(self.tasks), key=str):
            if self.start is None:
                raise RuntimeError("a shard was assigned before the poller's work was handed over")
            self.tasks[work] = self.start(work)
        users = sorted(str(w.user_id) for w in self.tasks if w.user_id is not None)
        log.info("owning %d shards, polling %d users: %s", len(partitions), len(users), users)


class Shards(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership
        self.partitions: set[int] = set()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.partitions -= {tp.partition for tp in revoked}
        await self.ownership.own(self.partitions)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.partitions |= {tp.partition for tp in assigned}
        await self.ownership.own(self.partitions)


def ensure_shard_topic(settings: ServiceSettings, shards: int) -> None:
    admin = KafkaAdmin(settings)
    try:
        admin.ensure_topics([SHARDS_TOPIC], shards, settings.kafka_replication_factor)
    finally:
        admin.close()


def start_work(
    p: Polling, pairs: list[tuple[UUID, UUID]], poll_every_s: float, log_every_s: float, work: Work
) -> asyncio.Task[None]:
    """Run one piece of work until it is cancelled (its shard moved, or the copy stops)."""
    if work.user_id is None:
        users = {u for a, u in pairs if a == work.app_id}
        name = f"delivery log of app {work.app_id}"
        log_once = partial(review_delivery_log, p, work.app_id, users)
        return asyncio.create_task(repeat(name, log_every_s, log_once), name=name)
    name, user = f"polling user {work.user_id}", work.user_id
    p.freshness.scanned(work.app_id, user)  # its age counts from when this copy took it on
    once = partial(poll_once, p, work.app_id, user)
    task = asyncio.create_task(repeat(name, poll_every_s, once), name=name)
    task.add_done_callback(lambda _: p.freshness.dropped(work.app_id, user))
    return task
