"""Downloader: `fax.notified` -> image from eFax -> object store -> `fax.stored` (or failed)."""

from __future__ import annotations

import asyncio
from functools import partial

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.downloader.logic import Downloads, handle_batch
from services.downloader.settings import DownloaderSettings
from shared.clients import efax_client, fax_store
from shared.contracts import DOWNLOAD_FAILED, FAX_NOTIFIED, FAX_STORED, TOPICS_BY_NAME, FaxNotified
from shared.efax import EfaxClient
from shared.health import supervised
from shared.kafka import batch_subscriber, declare, make_broker, parsed, publish_all
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
    app = supervised(FastStream(broker), s)
    declare(broker, TOPICS_BY_NAME[FAX_STORED], TOPICS_BY_NAME[DOWNLOAD_FAILED])
    ready: list[Downloads] = []  # made at startup

    @app.on_startup
    async def connect() -> None:
        nonlocal efax, store
        store = store or fax_store(
            s, encrypt=s.downloader_encrypt, threads=s.downloader_concurrency
        )
        efax = efax or efax_client(s, connections=s.downloader_concurrency + 4)
        await asyncio.to_thread(store.ensure_bucket)
        ready.append(Downloads.of(s, efax, store, partial(publish_all, broker)))

    @batch_subscriber(broker, FAX_NOTIFIED, s, s.downloader_group_id, s.downloader_batch_size)
    async def on_fax_notified(message: KafkaMessage) -> None:
        await handle_batch(ready[0], parsed(message, FaxNotified))

    @app.after_shutdown
    async def close_clients() -> None:
        if efax is not None:
            await efax.aclose()

    return app
