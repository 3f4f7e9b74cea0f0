"""Downloader: `fax.notified` -> image from eFax -> object store -> `fax.stored` (or failed)."""

import asyncio
import logging
from collections import defaultdict

from faststream import FastStream
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from services.downloader.logic import (
    AlreadyAnnounced,
    PageBudget,
    Policy,
    delete_upstream,
    fetch_and_store,
    mark_announced,
)
from services.downloader.settings import DownloaderSettings
from shared.contracts import (
    CORRELATION_HEADER,
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    FaxNotified,
    FaxStored,
)
from shared.efax import EfaxClient
from shared.health import supervised
from shared.kafka import batch_options, make_broker, propagated, records, run_all
from shared.storage import FaxStore, make_minio, token_sharing

log = logging.getLogger("faxrelay.downloader")

settings = DownloaderSettings()
broker = make_broker(settings)
app = supervised(FastStream(broker), settings)

store = FaxStore(make_minio(settings), settings.s3_bucket, encrypt=settings.downloader_encrypt)
efax = EfaxClient(
    str(settings.efax_api_base_url),
    settings.apps,
    timeout_s=settings.efax_timeout_s,
    shared_tokens=token_sharing(settings, share=settings.efax_share_tokens),
)
policy = Policy(
    image_format=settings.downloader_image_format,
    max_image_bytes=settings.downloader_max_image_bytes,
    attempts=settings.downloader_attempts,
    backoff_max_s=settings.downloader_backoff_max_s,
    store_attempts=settings.downloader_store_attempts,
)
downloads = asyncio.Semaphore(settings.downloader_concurrency)
pages_in_flight = PageBudget(settings.downloader_max_pages_in_flight)
deletions: set[asyncio.Task[bool]] = set()


@app.on_startup
async def ensure_bucket() -> None:
    await asyncio.to_thread(store.ensure_bucket)


@app.after_shutdown
async def close_clients() -> None:
    await efax.aclose()


async def handle(fax: FaxNotified, trace: dict[str, str]) -> None:
    async with downloads, pages_in_flight.taken(fax):
        outcome = await fetch_and_store(fax, efax, store, policy)
    if isinstance(outcome, AlreadyAnnounced):
        return
    topic = FAX_STORED if isinstance(outcome, FaxStored) else DOWNLOAD_FAILED
    await broker.publish(
        outcome.model_dump_json().encode(),
        topic,
        key=str(fax.fax_id).encode(),
        correlation_id=trace.get(CORRELATION_HEADER),
        headers=trace,
    )
    if isinstance(outcome, FaxStored):
        await mark_announced(store, outcome.stored.key, policy)
        if settings.downloader_delete_after_store:  # in the background: never blocks the pipeline
            deletion = asyncio.create_task(delete_upstream(efax, fax, policy))
            deletions.add(deletion)
            deletion.add_done_callback(deletions.discard)


async def handle_in_order(items: list[tuple[FaxNotified, dict[str, str]]]) -> None:
    for fax, trace in items:
        await handle(fax, trace)


@broker.subscriber(
    FAX_NOTIFIED,
    **batch_options(settings, settings.downloader_group_id, settings.downloader_batch_size),
)
async def on_fax_notified(bodies: list[bytes], message: KafkaMessage) -> None:
    by_fax: dict[str, list[tuple[FaxNotified, dict[str, str]]]] = defaultdict(list)
    for record in records(message):
        try:
            fax = FaxNotified.model_validate_json(record.value or b"")
        except ValidationError:
            log.error("skipping an unreadable record at offset %s", record.offset)
            continue
        by_fax[str(fax.fax_id)].append((fax, propagated(record)))
    # Faxes in parallel; the notifications of one fax one after the other.
    await run_all(handle_in_order(items) for items in by_fax.values())


def main() -> None:
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
