"""Router: `fax.stored` -> one CloudEvent per destination (the user's topic and rule topics)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from functools import partial

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.router.logic import (
    Routing,
    Rules,
    TopicAdmin,
    UserTopics,
    check_topic_template,
    load_rules,
    route_and_make_topics,
)
from services.router.settings import RouterSettings
from shared import health
from shared.clients import fax_store
from shared.contracts import FAX_STORED, USER_TOPIC, FaxStored, now_utc
from shared.kafka import KafkaAdmin, Sink, batch_subscriber, declare, make_broker, parsed
from shared.storage import FaxStore


def create_app(
    settings: RouterSettings,
    *,
    broker: KafkaBroker | None = None,
    store: FaxStore | None = None,
    admin: TopicAdmin | None = None,
) -> FastStream:
    s = settings
    template = check_topic_template(s.router_user_topic_template)
    rules = load_rules(s.router_rules_file) if s.router_rules_file else Rules()
    broker = broker or make_broker(s)
    app = FastStream(broker)
    health.bound_the_stop(app, s.shutdown_timeout_s)  # first: it watches every closer
    health.instrument(broker, s)
    health.refuse_bad_kafka_settings_at_start(app, s)
    health.beat_while_running(app, s)
    health.serve_metrics(app, s)
    health.watch_lag(app, s)
    declare(broker, replace(USER_TOPIC, name=template))
    expiry = timedelta(seconds=s.router_presign_expiry_s)
    ready: list[tuple[Routing, UserTopics]] = []  # made at startup
    built: list[KafkaAdmin] = []

    @app.on_startup
    async def connect() -> None:
        the_store = store or fax_store(s)
        if admin is None:
            built.append(await asyncio.to_thread(KafkaAdmin, s))  # one for the process
        presign = the_store.presigned_url if expiry.total_seconds() > 0 else None
        routing = Routing(rules, template, s.router_event_source, presign, expiry, the_store.find)
        ready.append((routing, UserTopics.of(admin or built[0], s)))

    sink = Sink(broker, s, s.router_group_id)

    @batch_subscriber(broker, FAX_STORED, s, s.router_group_id, s.router_batch_size)
    async def on_fax_stored(message: KafkaMessage) -> None:
        decide = partial(route_and_make_topics, *ready[0], now=now_utc())
        await sink.write(parsed(message, FaxStored), lambda item: item.record, decide)

    @app.after_shutdown
    async def close_clients() -> None:
        await sink.close()
        for client in built:
            client.close()

    return app
