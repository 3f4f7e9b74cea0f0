"""Liveness of the consumers: a heartbeat file touched from the event loop (a health check that
finds it stale knows the loop is stuck, which a check of the process cannot see), and a stop that
always ends, even when a graceful one hangs on a broker that is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

from faststream import FastStream

from shared import metrics
from shared.kafka import KafkaAdmin, KafkaSettingsError, check_connection
from shared.settings import ServiceSettings
from shared.tracing import telemetry_middleware

log = logging.getLogger(__name__)


async def beat(path: Path, every_s: float) -> None:
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(every_s)


def supervised(app: FastStream, settings: ServiceSettings) -> FastStream:
    """`app` with its Kafka settings checked before it connects, a heartbeat while it runs,
    /metrics served (FastStream's consume and publish metrics, the domain metrics and the lag of
    its consumer groups), and a hard exit if its graceful stop overruns."""
    tasks: list[asyncio.Task[None]] = []
    stops: list[Callable[[], None]] = []
    path, every_s = settings.heartbeat_file, settings.heartbeat_interval_s
    if app.broker is not None:
        app.broker.add_middleware(metrics.kafka_middleware(service_name(settings)))
        for middleware in telemetry_middleware():
            app.broker.add_middleware(middleware)

    @app.on_startup
    async def refuse_bad_kafka_settings() -> None:
        await refuse_to_start_on_bad_kafka_settings(settings)

    @app.after_startup
    async def start_beating_and_serving_metrics() -> None:
        if path is not None:
            tasks.append(asyncio.create_task(beat(path, every_s)))
        stop = metrics.serve(settings.metrics_host, settings.metrics_port)
        if stop is not None:
            stops.append(stop)
            groups = consumed(app)
            if groups:
                watch = metrics.LagWatch(
                    partial(KafkaAdmin, settings), groups, settings.metrics_lag_interval_s
                )
                tasks.append(asyncio.create_task(watch.run()))

    @app.on_shutdown
    async def stop_beating_and_bound_the_stop() -> None:
        exit_if_not_stopped_within(settings.shutdown_timeout_s)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for stop in stops:
            await asyncio.to_thread(stop)

    return app


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


def exit_if_not_stopped_within(limit: float) -> None:
    """Call as a graceful stop begins: if the process still runs `limit` seconds later (a stop
    hung on a broker that is gone flushes forever), it exits outright."""
    watchdog = threading.Timer(limit, _exit_now, args=(limit,))
    watchdog.daemon = True  # a stop that finishes in time exits as usual
    watchdog.start()


def _exit_now(limit: float) -> None:
    log.error(
        "graceful stop took over %.0f s; exiting now (uncommitted work is redelivered)", limit
    )
    os._exit(1)
