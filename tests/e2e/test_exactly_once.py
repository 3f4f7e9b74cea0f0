"""Exactly-once on Apache Kafka: 1,000 faxes while the verifier, the downloader and the router
are SIGKILLed and restarted at random moments, the poller running beside them. With
FAXRELAY_KAFKA_EXACTLY_ONCE=true a `read_committed` reader of the user topics sees every fax
exactly once; with it off, every fax at least once, and a fax seen twice carries the same event
id both times (at-least-once)."""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import client_options
from shared.settings import ServiceSettings
from tests.e2e.conftest import System, running_system, wait_for_progress

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

FAXES = 1000
USERS = 10


@pytest.fixture(scope="module", params=["on", "off"], ids=["exactly_once_on", "exactly_once_off"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    on = request.param == "on"
    env = {"FAXRELAY_KAFKA_EXACTLY_ONCE": str(on).lower()}
    with running_system(
        tmp_path_factory.mktemp(f"eos-{request.param}"), "kafka", extra_env=env
    ) as s:
        yield s, on


def read_committed(settings: ServiceSettings, topics: list[str]) -> list[tuple[str, bytes]]:
    """Every committed record of `topics`: (topic, CloudEvent id header)."""

    async def read() -> list[tuple[str, bytes]]:
        consumer = AIOKafkaConsumer(
            **client_options(settings), isolation_level="read_committed", enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = []
            for topic in topics:
                for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic):
                    partitions.append(TopicPartition(topic, p))
            if not partitions:
                return []
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            found: list[tuple[str, bytes]] = []

            async def behind() -> bool:
                return any([await consumer.position(tp) < ends[tp] for tp in partitions])

            while await behind():
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for r in records:
                        found.append((tp.topic, dict(r.headers).get("ce_id", b"")))
            return found
        finally:
            await consumer.stop()

    return asyncio.run(read())


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    try:
        await consumer._client.force_metadata_update()
    except Exception:
        return set()
    return consumer.partitions_for_topic(topic) or set()


STAGES = ("verifier", "downloader", "router")
KILLS = 3 * len(STAGES)


def kill_at_random(system: System, stop: threading.Event, kills: list[str]) -> None:
    """SIGKILL and restart every stage three times, in a random order, 2-6 s apart. The thread
    then lives until the test ends: the services it restarted die with the thread that started
    them (the local stack's children get SIGTERM when their parent thread ends,
    PR_SET_PDEATHSIG)."""
    rng = random.Random()
    order = list(STAGES) * (KILLS // len(STAGES))
    rng.shuffle(order)
    while len(kills) < KILLS and not stop.wait(rng.uniform(2.0, 6.0)):
        name = order[len(kills)]
        system.restart_service(name, sig=signal.SIGKILL)
        kills.append(name)
    stop.wait()


def test_exactly_once_1000_faxes_through_kills_of_every_stage(stack: tuple) -> None:
    system, on = stack
    users = system.take_users(USERS)
    topics = [f"faxes.user.{u}" for u in users]
    settings = system.stack.client_settings()
    stop, kills = threading.Event(), []
    killer = threading.Thread(target=kill_at_random, args=(system, stop, kills))
    killer.start()
    sent: list = []
    try:
        for i in range(FAXES // 50):
            sent += system.sandbox.create_faxes(
                app_id=system.account.app_id, user_id=users[i % USERS], count=50, pages=1
            )
        expected = {f.fax_id.encode() for f in sent}

        def seen() -> int:
            return len({event_id for _, event_id in read_committed(settings, topics)} & expected)

        wait_for_progress(
            lambda: len(kills) >= KILLS and seen() == FAXES,
            progress=seen,
            stall_s=120,
            message=f"all {FAXES} faxes on the user topics",
        )
        time.sleep(5)  # the restarted services finish what they redo
        events = read_committed(settings, topics)
    finally:
        stop.set()
        killer.join()
    counts = Counter(event_id for _, event_id in events)
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"exactly-once {'on' if on else 'off'}: {len(sent)} faxes, kills {Counter(kills)}, "
        f"{len(events)} events, {len(counts)} distinct, {duplicates} duplicates"
    )
    assert Counter(kills) == dict.fromkeys(STAGES, KILLS // len(STAGES))
    assert "poller" in system.stack.processes, "the poller announces beside the webhooks"
    assert set(counts) == expected, "every fax, and nothing else, reached its user"
    if on:
        assert duplicates == 0, f"{duplicates} duplicates with exactly-once on"
    # off: duplicates are allowed, and they carry the same id (counted per id above)
