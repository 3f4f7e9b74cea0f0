"""Router: `fax.stored` -> one CloudEvent per destination (the user's topic and rule topics);
`fax.read` (and `fax.read.failed`) -> what was read, in a consumer group of its own (logic.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from typing import Annotated

from faststream import Context, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.router import logic, reads
from services.router.logic import Routing, TopicAdmin, UserTopics, checked
from services.router.settings import RouterSettings
from shared import contracts as c
from shared import health
from shared.clients import fax_store
from shared.kafka import KafkaAdmin, Sink, batch_subscriber, declare, make_broker, parsed
from shared.storage import FaxStore

# what the handlers take from the app's context, made at startup (connect)
RoutingOf = Annotated[Routing, Context("routing")]
TopicsOf = Annotated[UserTopics, Context("topics")]


def create_app(
    settings: RouterSettings,
    *,
    broker: KafkaBroker | None = None,
    store: FaxStore | None = None,
    admin: TopicAdmin | None = None,
) -> FastStream:
    s = settings
    template, rules = checked(s)
    broker = broker or make_broker(s)
    app = FastStream(broker)
    health.bound_the_stop(app, s.shutdown_timeout_s)  # first: it watches every closer
    health.instrument(broker, s)
    health.refuse_bad_kafka_settings_at_start(app, s)
    health.beat_while_running(app, s)
    health.serve_metrics(app, s)
    health.watch_lag(app, s)
    declare(broker, replace(c.USER_TOPIC, name=template), c.RULE_TOPIC)

    @app.on_startup
    async def connect() -> None:
        the_admin = admin
        if the_admin is None:
            built = the_admin = await asyncio.to_thread(KafkaAdmin, s)  # one for the process
            app.after_shutdown(built.close)  # in a thread, after the sinks close
        app.context.set_global("routing", Routing.of(s, rules, template, store or fax_store(s)))
        app.context.set_global("topics", UserTopics.of(the_admin, s))

    # a group per topic: two consumers of one group in one process rebalance each other
    sink, read_sink = Sink(broker, s, s.router_group_id), Sink(broker, s, s.router_read_group_id)
    unread_sink = Sink(broker, s, s.router_unread_group_id)

    @batch_subscriber(broker, c.FAX_STORED, s, s.router_group_id, s.router_batch_size)
    async def on_fax_stored(message: KafkaMessage, routing: RoutingOf, topics: TopicsOf) -> None:
        decide = partial(logic.route_and_make_topics, routing, topics, now=c.now_utc())
        await sink.write(parsed(message, c.FaxStored), lambda item: item.record, decide)

    @batch_subscriber(broker, c.FAX_READ, s, s.router_read_group_id, s.router_batch_size)
    async def on_fax_read(message: KafkaMessage, routing: RoutingOf, topics: TopicsOf) -> None:
        decide = partial(reads.route_reads_and_make_topics, routing, topics, now=c.now_utc())
        await read_sink.write(parsed(message, c.FaxRead), lambda item: item.record, decide)

    @batch_subscriber(broker, c.READ_FAILED, s, s.router_unread_group_id, s.router_batch_size)
    async def on_read_failed(message: KafkaMessage, routing: RoutingOf, topics: TopicsOf) -> None:
        decide = partial(reads.route_unread_and_make_topics, routing, topics, now=c.now_utc())
        await unread_sink.write(parsed(message, c.ReadFailed), lambda item: item.record, decide)

    @app.after_shutdown
    async def close_sinks() -> None:
        await asyncio.gather(sink.close(), read_sink.close(), unread_sink.close())

    return app
