"""Downloader: `fax.notified` -> image from eFax -> object store -> `fax.stored` (or failed).

Each fax is a task of its own (`shared.stage`): one that waits on eFax (`Retry-After`, a
backoff, a slow answer) waits alone, and each partition is committed up to its finished prefix;
with exactly-once on, the outcomes are written in one transaction with the offsets they cover."""

from __future__ import annotations

import asyncio
from functools import partial

from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.downloader.logic import Downloads, handle_record
from services.downloader.settings import DownloaderSettings
from shared import health
from shared.clients import efax_client, fax_store
from shared.contracts import DOWNLOAD_FAILED, FAX_NOTIFIED, FAX_STORED, TOPICS_BY_NAME
from shared.efax import EfaxClient
from shared.kafka import declare, make_broker
from shared.stage import StageRunner
from shared.storage import FaxStore


def create_app(
    settings: DownloaderSettings,
    *,
    broker: KafkaBroker | None = None,
    efax: EfaxClient | None = None,
    store: FaxStore | None = None,
) -> FastStream:
    s = settings
    broker = broker or make_broker(s)
    app = FastStream(broker)
    health.bound_the_stop(app, s.shutdown_timeout_s)  # first: it watches every closer
    health.instrument(broker, s)
    health.refuse_bad_kafka_settings_at_start(app, s)
    health.beat_while_running(app, s)
    health.serve_metrics(app, s)
    health.watch_lag(app, s)
    declare(broker, TOPICS_BY_NAME[FAX_STORED], TOPICS_BY_NAME[DOWNLOAD_FAILED])
    runner = StageRunner(
        broker,
        s,
        s.downloader_group_id,
        max_in_flight=s.downloader_max_in_flight,
        max_uncommitted=s.downloader_max_uncommitted,
        retry_max_s=s.downloader_backoff_max_s,
    )
    runner.subscribe(FAX_NOTIFIED, s, s.downloader_batch_size)
    app.on_shutdown(runner.stop)

    @app.on_startup
    async def connect() -> None:
        """The clients, made once and handed to the runner's work."""
        the_store = store or fax_store(
            s, encrypt=s.downloader_encrypt, threads=s.downloader_concurrency
        )
        the_efax = efax or efax_client(s, connections=s.downloader_concurrency + 4)
        app.after_shutdown(the_efax.aclose)  # within the bounded stop
        await asyncio.to_thread(the_store.ensure_bucket)
        runner.begin(partial(handle_record, Downloads.of(s, the_efax, the_store)))

    return app
