"""Fetch a fax image from eFax and store it exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from services.downloader.settings import DownloaderSettings
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_STORED,
    DownloadFailed,
    DownloadFailure,
    FaxNotified,
    FaxStored,
    StoredObject,
)
from shared.efax import EfaxClient, EfaxError, ImageError
from shared.kafka import Outgoing, Parsed, Publish, run_all
from shared.logs import fax_fields
from shared.metrics import DOWNLOADS_FAILED, FAXES_STORED
from shared.storage import CONTENT_TYPES, FaxStore, object_key

log = logging.getLogger("faxrelay.downloader")

PERMANENT = {
    401: DownloadFailure.UNAUTHORIZED,
    403: DownloadFailure.FORBIDDEN,
    404: DownloadFailure.GONE,
    410: DownloadFailure.GONE,
}


@dataclass(frozen=True)
class Policy:
    image_format: str = "PDF"
    max_image_bytes: int = 50 * 1024 * 1024
    attempts: int = 6
    backoff_max_s: float = 30.0
    store_attempts: int = 12

    @classmethod
    def of(cls, settings: DownloaderSettings) -> Policy:
        return cls(
            image_format=settings.downloader_image_format,
            max_image_bytes=settings.downloader_max_image_bytes,
            attempts=settings.downloader_attempts,
            backoff_max_s=settings.downloader_backoff_max_s,
            store_attempts=settings.downloader_store_attempts,
        )


class PageBudget:
    """Bounds the pages downloading at once: memory follows pages, not the number of faxes.

    A fax of more pages than the whole budget waits until it can run alone.
    """

    def __init__(self, pages: int) -> None:
        self.total = pages
        self.free = pages
        self._changed = asyncio.Condition()

    def weight(self, fax: FaxNotified) -> int:
        return min(self.total, max(1, fax.pages or 1))

    @contextlib.asynccontextmanager
    async def taken(self, fax: FaxNotified) -> AsyncIterator[None]:
        weight = self.weight(fax)
        async with self._changed:
            await self._changed.wait_for(lambda: self.free >= weight)
            self.free -= weight
        try:
            yield
        finally:
            async with self._changed:
                self.free += weight
                self._changed.notify_all()


@dataclass(frozen=True)
class AlreadyAnnounced:
    key: str


Outcome = FaxStored | DownloadFailed | AlreadyAnnounced


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, EfaxError) and error.retryable


class _WaitRetryAfter:
    """Retry-After when eFax names one, else exponential backoff with jitter."""

    def __init__(self, backoff_max_s: float) -> None:
        self.fallback = wait_exponential_jitter(multiplier=0.2, max=backoff_max_s)
        self.cap = backoff_max_s

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, EfaxError) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return float(self.fallback(state))


def _efax_retries(policy: Policy) -> AsyncRetrying:
    """Retryable eFax failures (network, 401, 408, 429, 5xx), bounded, honouring Retry-After."""
    return AsyncRetrying(
        retry=retry_if_exception(_is_retryable),
        stop=stop_after_attempt(policy.attempts),
        wait=_WaitRetryAfter(policy.backoff_max_s),
        reraise=True,
    )


def stored_metadata(fax: FaxNotified, sha256: str) -> dict[str, str]:
    return {
        "fax-id": str(fax.fax_id),
        "user-id": str(fax.user_id),
        "app-id": str(fax.app_id),
        "sending-fax-number": fax.sending_fax_number,
        "receiving-fax-number": fax.receiving_fax_number,
        "pages": "" if fax.pages is None else str(fax.pages),
        "completed-at": fax.completed_at.isoformat(),
        "sha256": sha256,
    }


async def fetch_and_store(
    fax: FaxNotified, efax: EfaxClient, store: FaxStore, policy: Policy
) -> Outcome:
    """Store the fax's image once; the caller publishes the outcome, then marks it announced."""
    key = object_key(fax, policy.image_format)
    existing = await _with_store_retries(policy, store.find, key)
    if existing is not None:
        if existing.announced:
            return AlreadyAnnounced(key)
        return FaxStored(fax=fax, stored=existing.stored)
    if not efax.knows(fax.app_id):
        return _failed(fax, DownloadFailure.UNKNOWN_APP, "no API key for this app", 1)
    attempts = 0
    try:
        async for attempt in _efax_retries(policy):
            with attempt:
                attempts += 1
                image = await efax.get_image(
                    fax.app_id,
                    fax.user_id,
                    fax.fax_id,
                    policy.image_format,
                    policy.max_image_bytes,
                )
    except EfaxError as error:
        reason = PERMANENT.get(error.status or 0, DownloadFailure.RETRIES_EXHAUSTED)
        return _failed(fax, reason, str(error), attempts)
    except ImageError as error:
        await _let_polling_find_it_again(efax, fax)
        return _failed(fax, DownloadFailure(error.reason), str(error), attempts)
    data = image.data
    sha256 = hashlib.sha256(data).hexdigest()
    content_type = CONTENT_TYPES[policy.image_format]
    await _with_store_retries(
        policy,
        store.put,
        key,
        data,
        content_type,
        stored_metadata(fax, sha256),
    )
    stored = StoredObject(
        bucket=store.bucket, key=key, size=len(data), sha256=sha256, content_type=content_type
    )
    return FaxStored(fax=fax, stored=stored)


async def mark_announced(store: FaxStore, key: str, policy: Policy) -> None:
    """After `fax.stored` is acknowledged: a redelivery of this fax then announces nothing."""
    await _with_store_retries(policy, store.mark_announced, key)


async def delete_upstream(efax: EfaxClient, fax: FaxNotified, policy: Policy) -> bool:
    """Retention: DELETE the stored fax on eFax, retried; False when it could not be done."""
    try:
        async for attempt in _efax_retries(policy):
            with attempt:
                await efax.delete_fax(fax.app_id, fax.user_id, fax.fax_id)
    except EfaxError as error:
        if error.status == 404:
            return True  # already gone
        log.warning("fax %s stored but not deleted on eFax: %s", fax.fax_id, error)
        return False
    return True


async def _let_polling_find_it_again(efax: EfaxClient, fax: FaxNotified) -> None:
    """The download set image_downloaded; set it back so the poller finds this fax again."""
    try:
        await efax.set_image_downloaded(fax.app_id, fax.user_id, fax.fax_id, False)
    except EfaxError as error:
        log.warning("could not reset image_downloaded of fax %s: %s", fax.fax_id, error)


async def _with_store_retries(policy: Policy, call: Any, *args: Any, **kwargs: Any) -> Any:
    """The store being down is never the fax's fault: retry, then give up to redelivery."""
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(policy.store_attempts),
        wait=wait_exponential_jitter(multiplier=0.2, max=policy.backoff_max_s),
        reraise=True,
    ):
        with attempt:
            return await call(*args, **kwargs)
    raise AssertionError("unreachable")


def _failed(
    fax: FaxNotified, reason: DownloadFailure, detail: str, attempts: int
) -> DownloadFailed:
    return DownloadFailed(fax=fax, reason=reason, detail=detail[:500], attempts=max(1, attempts))


# --- handling a batch of `fax.notified` -------------------------------------------------------


@dataclass
class Downloads:
    """The collaborators and limits of every download of this process."""

    efax: EfaxClient
    store: FaxStore
    policy: Policy
    publish: Publish
    slots: asyncio.Semaphore  # downloads at once
    pages: PageBudget  # pages in flight at once
    delete_after_store: bool = False
    deletions: set[asyncio.Task[bool]] = field(default_factory=set)

    @classmethod
    def of(
        cls, settings: DownloaderSettings, efax: EfaxClient, store: FaxStore, publish: Publish
    ) -> Downloads:
        slots = asyncio.Semaphore(settings.downloader_concurrency)
        pages = PageBudget(settings.downloader_max_pages_in_flight)
        delete = settings.downloader_delete_after_store
        return cls(efax, store, Policy.of(settings), publish, slots, pages, delete)


async def handle(d: Downloads, fax: FaxNotified, trace: dict[str, str]) -> None:
    """Store one fax, announce the outcome, then mark it announced (never before)."""
    async with d.slots, d.pages.taken(fax):
        outcome = await fetch_and_store(fax, d.efax, d.store, d.policy)
    if isinstance(outcome, AlreadyAnnounced):
        return
    topic = FAX_STORED if isinstance(outcome, FaxStored) else DOWNLOAD_FAILED
    await d.publish([Outgoing.of(topic, outcome, str(fax.fax_id), trace)])
    tell(outcome, trace)
    if isinstance(outcome, FaxStored):
        await mark_announced(d.store, outcome.stored.key, d.policy)
        if d.delete_after_store:  # in the background: never blocks the pipeline
            deletion = asyncio.create_task(delete_upstream(d.efax, fax, d.policy))
            d.deletions.add(deletion)
            deletion.add_done_callback(d.deletions.discard)


def tell(outcome: FaxStored | DownloadFailed, trace: Mapping[str, str]) -> None:
    """Count and log one announced outcome."""
    if isinstance(outcome, FaxStored):
        FAXES_STORED.inc()
        fields = fax_fields(outcome.fax.fax_id, outcome.fax.delivery_id, trace)
        log.info("fax stored: %s (%d bytes)", outcome.stored.key, outcome.stored.size, extra=fields)
        return
    reason = outcome.reason.value
    DOWNLOADS_FAILED.labels(reason=reason).inc()
    fields = fax_fields(outcome.fax.fax_id, outcome.fax.delivery_id, trace, reason=reason)
    log.info("download failed: %s: %s", reason, outcome.detail, extra=fields)


async def handle_batch(d: Downloads, batch: Sequence[Parsed[FaxNotified]]) -> None:
    """Faxes in parallel; the notifications of one fax one after the other. Returns when every
    fax is done; raises (after all are done) if any failed, so the batch is redelivered."""
    by_fax: dict[str, list[Parsed[FaxNotified]]] = defaultdict(list)
    for item in batch:
        by_fax[str(item.model.fax_id)].append(item)

    async def in_order(items: list[Parsed[FaxNotified]]) -> None:
        for item in items:
            await handle(d, item.model, item.trace)

    await run_all(in_order(items) for items in by_fax.values())
