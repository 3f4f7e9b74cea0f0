"""The batch subscribers poll again at once after an empty poll (FastStream 0.7 sleeps first:
a record arriving during that sleep waits it out, on every hop)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

from services.downloader.app import create_app as downloader_app
from services.downloader.settings import DownloaderSettings
from services.router.app import create_app as router_app
from services.router.settings import RouterSettings
from services.verifier.app import create_app as verifier_app
from services.verifier.settings import VerifierSettings
from shared.kafka import batch_subscriber
from shared.settings import ServiceSettings

LONG_MS = 60_000  # a poll's wait: far longer than any test waits


class Consumer:
    """Answers `getmany` at once, as a consumer does when records are already buffered, or
    when its wait for them is over."""

    def __init__(self, *answers: dict[str, list[str]]) -> None:
        self.answers = list(answers)
        self.polls: list[tuple[int, int | None]] = []

    async def getmany(self, timeout_ms: int, max_records: int | None) -> dict[str, list[str]]:
        self.polls.append((timeout_ms, max_records))
        return self.answers.pop(0) if self.answers else {}


async def test_faststream_alone_sleeps_after_an_empty_poll() -> None:
    """Why `batch_subscriber` replaces the poll; when this fails, FastStream stopped sleeping."""
    subscriber = KafkaBroker().subscriber("t", batch=True, batch_timeout_ms=LONG_MS)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(subscriber.get_msg(Consumer()), timeout=2)  # type: ignore[arg-type]


async def test_an_empty_poll_is_answered_at_once_and_the_next_one_follows() -> None:
    settings = ServiceSettings(kafka_batch_timeout_ms=LONG_MS)
    subscriber = batch_subscriber(KafkaBroker(), "t", settings, "group", max_records=7)
    consumer = Consumer({}, {"p0": ["a", "b"], "p1": ["c"]})
    poll = subscriber.get_msg
    assert await asyncio.wait_for(poll(consumer), timeout=5) == ()  # type: ignore[arg-type]
    assert await asyncio.wait_for(poll(consumer), timeout=5) == ("a", "b", "c")  # type: ignore[arg-type]
    assert consumer.polls == [(LONG_MS, 7), (LONG_MS, 7)]  # the subscriber's own limits


@pytest.mark.parametrize(
    ("create_app", "settings"),
    [
        (verifier_app, VerifierSettings),
        (downloader_app, DownloaderSettings),
        (router_app, RouterSettings),
    ],
)
async def test_every_pipeline_stage_polls_at_once(create_app: Any, settings: Any) -> None:
    broker = KafkaBroker()
    create_app(settings(), broker=broker)
    batches = [s for s in broker.subscribers if isinstance(s, BatchSubscriber)]
    assert batches
    for subscriber in batches:
        assert await asyncio.wait_for(subscriber.get_msg(Consumer()), timeout=5) == ()
