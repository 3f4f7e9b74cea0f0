"""Liveness of the consumers: a heartbeat file touched from the event loop (a health check that
finds it stale knows the loop is stuck, which a check of the process cannot see), and a stop that
always ends, even when a graceful one hangs on a broker that is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker

from shared import metrics
from shared.kafka import KafkaAdmin, KafkaSettingsError, check_connection
from shared.settings import ServiceSettings
from shared.tracing import telemetry_middleware

log = logging.getLogger(__name__)


async def beat(path: Path, every_s: float) -> None:
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(every_s)


def instrument(broker: KafkaBroker, settings: ServiceSettings) -> None:
    """FastStream's consume and publish metrics, and a span per record, on `broker`."""
    broker.add_middleware(metrics.kafka_middleware(service_name(settings)))
    for middleware in telemetry_middleware():
        broker.add_middleware(middleware)


def refuse_bad_kafka_settings_at_start(app: FastStream, settings: ServiceSettings) -> None:
    """Before `app` connects, a connection the broker refuses ends it with status 2 and one
    line naming the setting."""

    @app.on_startup
    async def refuse_bad_kafka_settings() -> None:
        await refuse_to_start_on_bad_kafka_settings(settings)


def beat_while_running(app: FastStream, settings: ServiceSettings) -> None:
    """Touch FAXRELAY_HEARTBEAT_FILE from the event loop while `app` runs (none when unset)."""
    path = settings.heartbeat_file
    if path is not None:
        background(app, lambda: beat(path, settings.heartbeat_interval_s))


def serve_metrics(app: FastStream, settings: ServiceSettings) -> None:
    """/metrics on FAXRELAY_METRICS_PORT from a thread while `app` runs (none on port 0)."""
    stops: list[Callable[[], None]] = []

    @app.after_startup
    async def start_serving_metrics() -> None:
        stop = metrics.serve(settings.metrics_host, settings.metrics_port)
        if stop is not None:
            stops.append(stop)

    @app.on_shutdown
    async def stop_serving_metrics() -> None:
        for stop in stops:
            await asyncio.to_thread(stop)


def watch_lag(
    app: FastStream,
    settings: ServiceSettings,
    admin_factory: Callable[[], Any] | None = None,
) -> None:
    """faxrelay_consumer_lag_records of `app`'s consumer groups, while metrics are served
    (read through `admin_factory`, by default a `KafkaAdmin`)."""
    if settings.metrics_port == 0:
        return
    factory = admin_factory or partial(KafkaAdmin, settings)

    def run() -> Awaitable[None]:
        groups = consumed(app)  # the subscribers exist by the time the app has started
        watch = metrics.LagWatch(factory, groups, settings.metrics_lag_interval_s)
        return watch.run() if groups else asyncio.sleep(0)

    background(app, run)


def background(app: FastStream, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work()` as a task from after `app` started until it stops."""
    tasks: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start() -> None:
        tasks.append(asyncio.ensure_future(work()))

    @app.on_shutdown
    async def cancel() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def bound_the_stop(
    app: FastStream, limit_s: float, exit_process: Callable[[float], None] | None = None
) -> None:
    """If `app`'s graceful stop (hooks, broker, closers) has not ended `limit_s` seconds after
    it began (a stop hung on a broker that is gone flushes forever), `exit_process(limit_s)`:
    by default `exit_now`. A stop that ends in time disarms it. Call it first in a composition
    root, so that its watch begins before any other stop hook."""

    @app.on_shutdown
    async def arm() -> None:
        watchdog = exit_if_not_stopped_within(limit_s, exit_process or exit_now)

        async def disarm() -> None:
            watchdog.cancel()

        app.after_shutdown(disarm)  # added now: it runs after every other closer


def service_name(settings: ServiceSettings) -> str:
    """`verifier` for VerifierSettings: the name metrics and logs carry."""
    return type(settings).__name__.removesuffix("Settings").lower() or "faxrelay"


def consumed(app: FastStream) -> dict[str, list[str]]:
    """Group id -> topics, of the app's subscribers."""
    groups: dict[str, list[str]] = {}
    for subscriber in getattr(app.broker, "subscribers", ()):
        group = getattr(subscriber, "group_id", None)
        if group:  # (the poller's shard topic is always empty: its lag reads 0)
            groups.setdefault(group, []).extend(subscriber.topic_names)
    return groups


async def refuse_to_start_on_bad_kafka_settings(settings: ServiceSettings) -> None:
    """Exit with status 2 and one line naming the setting when the broker refuses it."""
    try:
        await check_connection(settings)
    except KafkaSettingsError as error:
        log.critical("refusing to start: %s", error)
        raise SystemExit(2) from None


def exit_if_not_stopped_within(
    limit: float, exit_process: Callable[[float], None] | None = None
) -> threading.Timer:
    """Call as a graceful stop begins: if the process still runs `limit` seconds later (a stop
    hung on a broker that is gone flushes forever), it exits outright (`exit_process`, by
    default `exit_now`). Cancel the returned timer once the stop has ended."""
    watchdog = threading.Timer(limit, exit_process or exit_now, args=(limit,))
    watchdog.daemon = True  # a stop that finishes in time exits as usual
    watchdog.start()
    return watchdog


def exit_now(limit: float) -> None:
    log.error(
        "graceful stop took over %.0f s; exiting now (uncommitted work is redelivered)", limit
    )
    os._exit(1)
