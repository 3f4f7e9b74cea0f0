"""Counts of what flowed through the pipeline, read from the topics themselves."""

from __future__ import annotations

import asyncio
from collections import Counter

from faststream.kafka import KafkaBroker

from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
)

STAGES = {
    WEBHOOK_RECEIVED: "received",
    FAX_NOTIFIED: "verified",
    FAX_STORED: "stored",
    WEBHOOK_REJECTED: "rejected",
    DOWNLOAD_FAILED: "failed",
}


def count_line(counts: Counter[str]) -> str:
    order = ("received", "verified", "stored", "routed", "rejected", "failed")
    return " | ".join(f"{name} {counts[name]}" for name in order)


async def watch(bootstrap_servers: str, counts: Counter[str], user_topic_pattern: str) -> None:
    """Count every record of the pipeline topics (no group: nothing is committed)."""
    broker = KafkaBroker(bootstrap_servers, log_level=30)

    for topic, stage in STAGES.items():

        def counter(stage: str = stage) -> object:
            async def on_record(body: bytes) -> None:
                counts[stage] += 1

            return on_record

        broker.subscriber(topic, auto_offset_reset="earliest")(counter())

    @broker.subscriber(pattern=user_topic_pattern, auto_offset_reset="earliest")
    async def on_routed(body: bytes) -> None:
        counts["routed"] += 1

    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.stop()
