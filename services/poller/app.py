"""Poller: list undownloaded faxes of every configured user on eFax -> `fax.notified`.

Copies share the users through the shard topic (`shards.py`); per user a cursor in the bucket
(`cursor.py`) keeps where the last complete scan got to (`scan.py`); the owner of an App ID's
shard also reads eFax's delivery log (`delivery_log.py`).
"""

from __future__ import annotations

import asyncio
from functools import partial

from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.poller import shards
from services.poller.scan import Polling
from services.poller.settings import PollerSettings
from shared import health
from shared.clients import efax_client, fax_store
from shared.contracts import FAX_NOTIFIED, TOPICS_BY_NAME
from shared.efax import EfaxClient
from shared.kafka import consumer_options, declare, make_broker, publish_all
from shared.storage import FaxStore


def create_app(
    settings: PollerSettings,
    *,
    broker: KafkaBroker | None = None,
    efax: EfaxClient | None = None,
    store: FaxStore | None = None,
) -> FastStream:
    broker = broker or make_broker(settings)
    app = FastStream(broker)
    health.bound_the_stop(app, settings.shutdown_timeout_s)  # first: it watches every closer
    health.instrument(broker, settings)
    health.refuse_bad_kafka_settings_at_start(app, settings)
    health.beat_while_running(app, settings)
    health.serve_metrics(app, settings)
    health.watch_lag(app, settings)
    declare(broker, TOPICS_BY_NAME[FAX_NOTIFIED])
    s = settings
    pairs = [(a.app_id, u) for a in s.apps if a.api_key is not None for u in a.user_ids]
    every, log_every = s.poller_interval_s, s.poller_delivery_log_every_s
    ownership = shards.Ownership(pairs, s.poller_shards, log_every > 0)
    options = consumer_options(s, s.poller_group_id) | {"include_in_schema": False}
    del options["ack_policy"], options["max_partition_fetch_bytes"]  # nothing is ever consumed

    @broker.subscriber(shards.SHARDS_TOPIC, listener=shards.Shards(ownership), **options)
    async def on_shard_record(body: bytes) -> None:
        """Nothing is published to the shard topic; the subscription exists for the assignment."""

    @app.on_startup
    async def prepare() -> None:
        """The clients, made once and handed to the work of the shards (none is assigned yet)."""
        the_store, the_efax = store or fax_store(s), efax or efax_client(s)
        app.after_shutdown(the_efax.aclose)  # within the bounded stop
        await asyncio.to_thread(the_store.ensure_bucket)
        await asyncio.to_thread(shards.ensure_shard_topic, s, s.poller_shards)
        polling = Polling.of(s, the_efax, the_store, partial(publish_all, broker))
        ownership.begin(partial(shards.start_work, polling, pairs, every, log_every))

    @app.on_shutdown
    async def stop_polling() -> None:
        await ownership.own(set())

    return app
