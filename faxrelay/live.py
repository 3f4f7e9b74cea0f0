"""Counts of what flowed through the pipeline, read from the topics themselves."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from shared.contracts import TOPICS, USER_TOPIC
from shared.kafka import records

STAGES = {topic.name: topic.stage for topic in TOPICS if topic.stage}
ROUTED = USER_TOPIC.stage or "routed"
USER_TOPICS = re.escape(USER_TOPIC.name).replace(re.escape("{user_id}"), ".*")
"""A pattern of every per-user topic the default template makes."""


def count_line(counts: Counter[str]) -> str:
    order = ("received", "verified", "stored", ROUTED, "rejected", "failed")
    return " | ".join(f"{name} {counts[name]}" for name in order)


async def watch(bootstrap_servers: str, counts: Counter[str], user_topic_pattern: str) -> None:
    """Count every record of the pipeline topics (no group: nothing is committed)."""
    # a short metadata age so that new users' topics join the pattern within seconds
    broker = KafkaBroker(bootstrap_servers, logger=None, metadata_max_age_ms=3000)

    @broker.subscriber(*STAGES, auto_offset_reset="earliest", decoder=_raw)
    async def on_pipeline_record(body: bytes, message: KafkaMessage) -> None:
        (record,) = records(message)
        counts[STAGES[record.topic]] += 1

    @broker.subscriber(
        pattern=user_topic_pattern,
        group_id=f"faxrelay-live-{uuid.uuid4().hex}",  # pattern subscriptions need a group
        auto_offset_reset="earliest",
        decoder=_raw,
    )
    async def on_routed(body: bytes) -> None:
        counts[ROUTED] += 1

    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.stop()


async def _raw(message: StreamMessage[Any]) -> Any:
    return message.body
