"""Poller: list undownloaded faxes of every configured user on eFax -> `fax.notified`.

Copies share the work through the consumer group `poller_group_id` on the topic
`fax.poller.shards` (no record is ever written to it): each (App ID, user) belongs to one
partition by a stable hash, and a copy polls the users of the partitions it is assigned. Kafka
revokes partitions from every member before it assigns them anew, so a user has at most one
poller at a time, and a copy that dies hands its users over after the session timeout.

Per user, a cursor object in the bucket keeps where the last complete scan got to and when the
last full scan ran, so a restart neither rescans everything nor skips anything. Per App ID, the
owner of its shard also reads eFax's delivery log: it counts failed deliveries and scans the
users whose webhooks never got through.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import FastStream

from services.poller.logic import (
    Cursor,
    LogState,
    RecentlyAnnounced,
    ScanResult,
    Work,
    full_scan_due,
    log_window_start,
    next_cursor,
    next_delay,
    owned_work,
    publish_notified,
    review_log,
    scan,
    scan_start,
)
from services.poller.settings import PollerSettings
from shared.efax import EfaxClient, EfaxError, ReceivedFax, ReceivedPage
from shared.health import supervised
from shared.kafka import KafkaAdmin, make_broker
from shared.storage import FaxStore, make_minio, token_sharing

log = logging.getLogger("faxrelay.poller")

SHARDS_TOPIC = "fax.poller.shards"

settings = PollerSettings()
broker = make_broker(settings)
app = supervised(FastStream(broker), settings)
store = FaxStore(make_minio(settings), settings.s3_bucket)
efax = EfaxClient(
    str(settings.efax_api_base_url),
    settings.apps,
    timeout_s=settings.efax_timeout_s,
    shared_tokens=token_sharing(settings, share=settings.efax_share_tokens),
)
recent = RecentlyAnnounced(settings.poller_recently_announced_s)
overlap = timedelta(seconds=settings.poller_overlap_s)
pairs = [(a.app_id, u) for a in settings.apps if a.api_key is not None for u in a.user_ids]
apps_with_key = {a.app_id for a in settings.apps if a.api_key is not None}
tasks: dict[Work, asyncio.Task[None]] = {}


def now_utc() -> datetime:
    return datetime.now(UTC)


def cursor_key(app_id: UUID, user_id: UUID) -> str:
    return f"{settings.poller_cursor_prefix}/{app_id}/{user_id}.json"


def log_state_key(app_id: UUID) -> str:
    return f"{settings.poller_cursor_prefix}/{app_id}/delivery-log.json"


async def announce(app_id: UUID, user_id: UUID, faxes: list[ReceivedFax]) -> None:
    fresh = recent.fresh(faxes)
    await publish_notified(broker, app_id, user_id, fresh)
    recent.remember(f.fax_id for f in fresh)
    if fresh:
        log.info("user %s: %d undownloaded faxes announced", user_id, len(fresh))


async def scan_user(app_id: UUID, user_id: UUID, since: datetime | None) -> ScanResult:
    async def list_page(offset: int) -> ReceivedPage:
        return await efax.list_received(app_id, user_id, since=since, offset=offset)

    return await scan(list_page, partial(announce, app_id, user_id))


async def poll_once(app_id: UUID, user_id: UUID) -> None:
    """One scan of one user, from its cursor (or from the beginning when a full scan is due)."""
    key = cursor_key(app_id, user_id)
    cursor = Cursor.from_bytes(await store.read_or_none(key))
    started = now_utc()
    full = full_scan_due(cursor, settings.poller_full_scan_every_s, started)
    result = await scan_user(app_id, user_id, scan_start(cursor, overlap, full))
    new_cursor = next_cursor(cursor, result, full, started)
    if new_cursor != cursor:
        await store.put(key, new_cursor.to_bytes(), "application/json", {})


async def repeat(name: str, every_s: float, once: Any) -> None:
    """Run `once()` forever; failures back off (Retry-After first) without touching other work."""
    delay = every_s
    while True:
        retry_after: float | None = None
        failed = True
        try:
            await once()
            failed = False
        except EfaxError as error:
            retry_after = error.retry_after
            log.warning("%s failed: %s", name, error)
        except Exception:
            log.exception("%s failed", name)
        delay = next_delay(every_s, delay, failed, retry_after)
        if failed:
            log.info("%s: next try in %.1f s", name, delay)
        await asyncio.sleep(delay)


# --- the delivery log -------------------------------------------------------------------------


async def review_delivery_log(app_id: UUID) -> None:
    key = log_state_key(app_id)
    state = LogState.from_bytes(await store.read_or_none(key))
    now = now_utc()
    entries = await efax.list_failed_deliveries(app_id, log_window_start(state, overlap, now))
    review = review_log(entries, state, now)
    ours = {u for a, u in pairs if a == app_id}
    for user_id in sorted(review.missed):
        if user_id in ours:
            # The user's fax may already lie behind its cursor: scan from the beginning.
            await scan_user(app_id, user_id, None)
        else:
            log.warning(
                "app %s: webhooks of %d faxes of unlisted user %s failed; "
                "add the user to user_ids or run `faxrelay backfill --user %s`",
                app_id, len(review.missed[user_id]), user_id, user_id,
            )  # fmt: skip
    if review.new_failed:
        log.warning(
            "app %s: %d failed webhook deliveries (%d in total, %d faxes)",
            app_id, review.new_failed, review.state.failed_deliveries, review.state.failed_faxes,
        )  # fmt: skip
    if review.state != state:
        await store.put(key, review.state.to_bytes(), "application/json", {})


# --- ownership ----------------------------------------------------------------------------------


def start_work(work: Work) -> asyncio.Task[None]:
    if work.user_id is None:
        name = f"delivery log of app {work.app_id}"
        every, once = (
            settings.poller_delivery_log_every_s,
            partial(review_delivery_log, work.app_id),
        )
    else:
        name = f"polling user {work.user_id}"
        every, once = settings.poller_interval_s, partial(poll_once, work.app_id, work.user_id)
    return asyncio.create_task(repeat(name, every, once), name=name)


async def own(partitions: set[int]) -> None:
    """Run exactly the work of `partitions`: stop the rest (and wait for it), start what is new."""
    wanted = owned_work(
        pairs, partitions, settings.poller_shards, settings.poller_delivery_log_every_s > 0
    )
    wanted = {w for w in wanted if w.app_id in apps_with_key}
    gone = [tasks.pop(w) for w in list(tasks) if w not in wanted]
    for task in gone:
        task.cancel()
    await asyncio.gather(*gone, return_exceptions=True)
    for work in sorted(wanted - set(tasks), key=str):
        tasks[work] = start_work(work)
    users = sorted(str(w.user_id) for w in tasks if w.user_id is not None)
    log.info("owning %d shards, polling %d users: %s", len(partitions), len(users), users)


class Shards(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.partitions: set[int] = set()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.partitions -= {tp.partition for tp in revoked}
        await own(self.partitions)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.partitions |= {tp.partition for tp in assigned}
        await own(self.partitions)


@broker.subscriber(
    SHARDS_TOPIC,
    group_id=settings.poller_group_id,
    listener=Shards(),
    auto_offset_reset="earliest",
    session_timeout_ms=settings.kafka_session_timeout_ms,
    heartbeat_interval_ms=max(300, settings.kafka_session_timeout_ms // 5),
)
async def on_shard_record(body: bytes) -> None:
    """Nothing is published to the shard topic; the subscription exists for the assignment."""


@app.on_startup
async def prepare() -> None:
    await asyncio.to_thread(store.ensure_bucket)
    await asyncio.to_thread(ensure_shard_topic)


def ensure_shard_topic() -> None:
    admin = KafkaAdmin(settings)
    try:
        admin.ensure_topics(
            [SHARDS_TOPIC], settings.poller_shards, settings.kafka_replication_factor
        )
    finally:
        admin.close()


@app.on_shutdown
async def stop_polling() -> None:
    await own(set())


@app.after_shutdown
async def close_clients() -> None:
    await efax.aclose()


def main() -> None:
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
