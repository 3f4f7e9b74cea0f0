"""Poller: list undownloaded faxes of every configured user on eFax -> `fax.notified`."""

import asyncio
import logging
import time
from datetime import timedelta
from uuid import UUID

from faststream import FastStream

from services.poller.logic import (
    RecentlyAnnounced,
    cursor_from_bytes,
    cursor_to_bytes,
    next_cursor,
    scan,
    scan_start,
    to_notified,
)
from services.poller.settings import PollerSettings
from shared.contracts import FAX_NOTIFIED
from shared.efax import EfaxClient, EfaxError
from shared.kafka import make_broker, run_all
from shared.storage import FaxStore, make_minio

log = logging.getLogger("faxrelay.poller")

settings = PollerSettings()
broker = make_broker(settings)
app = FastStream(broker)
efax = EfaxClient(str(settings.efax_api_base_url), settings.apps, timeout_s=settings.efax_timeout_s)
store = FaxStore(make_minio(settings), settings.s3_bucket)
tasks: list[asyncio.Task[None]] = []


async def poll_once(app_id: UUID, user_id: UUID, full_scan: bool, recent: RecentlyAnnounced) -> int:
    """One scan for one user; returns how many faxes it announced."""
    cursor_key = f"{settings.poller_cursor_prefix}/{app_id}/{user_id}.json"
    saved = await store.read_or_none(cursor_key)
    cursor = cursor_from_bytes(saved) if saved else None
    since = scan_start(cursor, timedelta(seconds=settings.poller_overlap_s), full_scan)
    faxes = await scan(efax, app_id, user_id, since)
    fresh = recent.fresh(faxes)
    await run_all(
        broker.publish(
            to_notified(app_id, user_id, fax).model_dump_json().encode(),
            FAX_NOTIFIED,
            key=str(fax.fax_id).encode(),
        )
        for fax in fresh
    )
    recent.remember([f.fax_id for f in fresh])
    new_cursor = next_cursor(cursor, faxes)
    if new_cursor != cursor:
        await store.put(cursor_key, cursor_to_bytes(new_cursor), "application/json", {})
    return len(fresh)


async def poll_forever(app_id: UUID, user_id: UUID) -> None:
    recent = RecentlyAnnounced(settings.poller_recently_announced_s)
    last_full = 0.0
    delay = settings.poller_interval_s
    while True:
        full_scan = (
            settings.poller_full_scan_every_s > 0
            and time.monotonic() - last_full >= settings.poller_full_scan_every_s
        )
        try:
            found = await poll_once(app_id, user_id, full_scan, recent)
        except EfaxError as error:
            delay = min(delay * 2, 600.0)
            if error.retry_after is not None:
                delay = max(error.retry_after, settings.poller_interval_s)
            log.warning("polling user %s failed (%s); next try in %.0f s", user_id, error, delay)
        except Exception:
            delay = min(delay * 2, 600.0)
            log.exception("polling user %s failed; next try in %.0f s", user_id, delay)
        else:
            if found:
                log.info("user %s: %d undownloaded faxes announced", user_id, found)
            last_full = time.monotonic() if full_scan else last_full
            delay = settings.poller_interval_s
        await asyncio.sleep(delay)


@app.on_startup
async def ensure_bucket() -> None:
    await asyncio.to_thread(store.ensure_bucket)


@app.after_startup
async def start_polling() -> None:
    for efax_app in settings.apps:
        for user_id in efax_app.user_ids:
            tasks.append(asyncio.create_task(poll_forever(efax_app.app_id, user_id)))


@app.on_shutdown
async def stop_polling() -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await efax.aclose()


def main() -> None:
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
