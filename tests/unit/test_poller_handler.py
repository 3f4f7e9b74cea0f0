"""The poller in memory: shards assigned, users scanned, faxes announced, cursors kept."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from services.poller.app import create_app
from services.poller.cursor import Cursor
from services.poller.scan import Polling, RecentlyAnnounced, poll_once
from services.poller.settings import PollerSettings
from services.poller.shards import SHARDS_TOPIC, Ownership, Work
from shared.contracts import FAX_NOTIFIED, FaxNotified, Source
from shared.efax import ReceivedFax
from shared.kafka import Outgoing
from tests.builders import APP_ID
from tests.fakes import Collector, FakeEfax, FakeStore, running

APP = uuid.UUID(APP_ID)
USER = uuid.UUID("ca4cd102-c3e7-4379-9a7e-38c61e1f7a55")
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def listed(seconds: int) -> ReceivedFax:
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ReceivedFax(fax_id=uuid.uuid4(), completed_timestamp=stamp)


def polling(efax: FakeEfax, store: FakeStore, sent: list[Outgoing]) -> Polling:
    async def publish(records: Any) -> None:
        sent.extend(records)

    recent = RecentlyAnnounced(600)
    return Polling(efax, store, publish, recent, timedelta(minutes=5), 3600, "_poller")  # type: ignore[arg-type]


async def test_a_poll_announces_each_listed_fax_once_and_keeps_the_newest_completion() -> None:
    faxes = [listed(10), listed(30)]
    efax, store, sent = FakeEfax({APP}, listings={USER: faxes}), FakeStore(), []
    p = polling(efax, store, sent)
    await poll_once(p, APP, USER)
    await poll_once(p, APP, USER)
    assert [o.key for o in sent] == [str(f.fax_id).encode() for f in faxes]
    assert {FaxNotified.model_validate_json(o.value).source for o in sent} == {Source.POLLING}
    cursor = Cursor.from_bytes(store.objects[p.cursor_key(APP, USER)])
    assert cursor.since == T0 + timedelta(seconds=30)
    assert efax.listed[1][1] == T0 + timedelta(seconds=30) - timedelta(minutes=5)


async def test_ownership_runs_exactly_the_work_of_the_assigned_shards() -> None:
    started: list[Work] = []

    def start(work: Work) -> asyncio.Task[None]:
        started.append(work)
        return asyncio.create_task(asyncio.sleep(3600))

    ownership = Ownership([(APP, USER)], 1, True)
    ownership.begin(start)
    await ownership.own({0})
    assert set(ownership.tasks) == {Work(APP, USER), Work(APP, None)}
    await ownership.own(set())
    assert ownership.tasks == {}
    assert len(started) == 2


async def test_an_assigned_shard_gets_its_users_polled_through_the_app() -> None:
    fax = listed(5)
    efax, store = FakeEfax({APP}, listings={USER: [fax]}), FakeStore()
    settings = PollerSettings(
        apps=[{"app_id": APP_ID, "api_key": "k", "user_ids": [str(USER)]}],
        poller_shards=1,
        poller_delivery_log_every_s=0,
    )
    broker = KafkaBroker()
    service = create_app(settings, broker=broker, efax=efax, store=store)  # type: ignore[arg-type]
    out = Collector(broker, FAX_NOTIFIED)
    (shards,) = [s for s in broker.subscribers if any(t.name == SHARDS_TOPIC for t in s.topics)]
    with patch("services.poller.shards.ensure_shard_topic"):  # no admin in the fast lane
        async with running(service, broker):
            await shards._listener.on_partitions_assigned([TopicPartition(SHARDS_TOPIC, 0)])
            for _ in range(100):
                if out.sent:
                    break
                await asyncio.sleep(0.01)
    (sent,) = out.sent
    assert sent.key == str(fax.fax_id).encode()
