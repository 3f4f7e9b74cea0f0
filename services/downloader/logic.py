"""Fetch a fax image from eFax and store it exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError
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
    listed_number,
)
from shared.efax import EfaxClient, EfaxError, ImageError
from shared.kafka import Decision, Outgoing, propagated
from shared.logs import fax_fields
from shared.metrics import DOWNLOADS_FAILED, FAXES_STORED
from shared.recent import Recent
from shared.storage import CONTENT_TYPES, ExistingObject, FaxStore, object_key, refused_for_good
from shared.tracing import annotate, traced

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
    conditional_put: bool = True

    @classmethod
    def of(cls, settings: DownloaderSettings) -> Policy:
        return cls(
            image_format=settings.downloader_image_format,
            max_image_bytes=settings.downloader_max_image_bytes,
            attempts=settings.downloader_attempts,
            backoff_max_s=settings.downloader_backoff_max_s,
            store_attempts=settings.downloader_store_attempts,
            conditional_put=settings.downloader_conditional_put,
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
    """The object's metadata (HTTP headers): a number no fax number could be is 'unavailable',
    so no record's text can make its write fail (a CR, LF or non-ASCII character would)."""
    return {
        "fax-id": str(fax.fax_id),
        "user-id": str(fax.user_id),
        "app-id": str(fax.app_id),
        "sending-fax-number": listed_number(fax.sending_fax_number),
        "receiving-fax-number": listed_number(fax.receiving_fax_number),
        "pages": "" if fax.pages is None else str(fax.pages),
        "completed-at": fax.completed_at.isoformat(),
        "sha256": sha256,
    }


async def fetch_and_store(
    fax: FaxNotified,
    source: str,
    efax: EfaxClient,
    store: FaxStore,
    policy: Policy,
) -> Outcome:
    """Store the fax's image once, in one request to the store for a new fax: a conditional PUT
    that names the record it came from (`source`: topic/partition/offset). A copy stored from
    another record was announced by it; one stored from this very record (a redelivery) was
    perhaps not, so it is announced again."""
    key = object_key(fax, policy.image_format)
    if not policy.conditional_put:  # a store without If-None-Match: look before downloading
        existing = await _with_store_retries(policy, store.find, key)
        if existing is not None:
            return _existing(fax, existing, source)
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
        return await _failed_unless_stored(fax, source, store, policy, key, reason, error, attempts)
    except ImageError as error:
        reason = DownloadFailure(error.reason)
        outcome = await _failed_unless_stored(
            fax, source, store, policy, key, reason, error, attempts
        )
        if isinstance(outcome, DownloadFailed):
            await _let_polling_find_it_again(efax, fax)
        return outcome
    content_type = CONTENT_TYPES[policy.image_format]
    metadata = {**stored_metadata(fax, image.sha256), "stored-by": source}
    put = partial(store.put, if_absent=policy.conditional_put)
    with contextlib.closing(image):  # the spooled file, sent from the start by each attempt
        try:
            written = await _with_store_retries(policy, put, key, image, content_type, metadata)
        except Exception as error:
            if not refused_for_good(error):
                raise  # the store is down: redelivered until it is back
            detail = f"the store refused the object: {type(error).__name__}"
            return _failed(fax, DownloadFailure.UNSTORABLE, detail, attempts)
        if not written:
            existing = await _with_store_retries(policy, store.find, key)
            if existing is not None:
                return _existing(fax, existing, source)
    stored = StoredObject(
        bucket=store.bucket,
        key=key,
        size=image.size,
        sha256=image.sha256,
        content_type=content_type,
    )
    return FaxStored(fax=fax, stored=stored)


def _existing(fax: FaxNotified, existing: ExistingObject, source: str) -> Outcome:
    if existing.source != source:  # stored, and so announced, from another record
        return AlreadyAnnounced(existing.stored.key)
    return FaxStored(fax=fax, stored=existing.stored)


async def _failed_unless_stored(
    fax: FaxNotified,
    source: str,
    store: FaxStore,
    policy: Policy,
    key: str,
    reason: DownloadFailure,
    error: Exception,
    attempts: int,
) -> Outcome:
    """A fax stored earlier may be gone from eFax since (deleted after storing): not a failure."""
    existing = await _with_store_retries(policy, store.find, key)
    if existing is not None:
        return _existing(fax, existing, source)
    return _failed(fax, reason, str(error), attempts)


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
    """The store being down is never the fax's fault: retry, then give up to redelivery. A
    request the store refuses for good is not sent again."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(lambda error: not refused_for_good(error)),
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


ANNOUNCED_SIZE = 100_000


def announced_lately() -> Recent[str]:
    """Keys of the faxes this process announced lately (bounded): a batch redelivered after a
    nack, or a second notification in one batch, announces them again without asking the store."""
    return Recent(size=ANNOUNCED_SIZE)


@dataclass
class Downloads:
    """The collaborators and limits of every download of this process."""

    efax: EfaxClient
    store: FaxStore
    policy: Policy
    slots: asyncio.Semaphore  # downloads at once
    pages: PageBudget  # pages in flight at once
    delete_after_store: bool = False
    deletions: set[asyncio.Task[bool]] = field(default_factory=set)
    announced: Recent[str] = field(default_factory=announced_lately)

    @classmethod
    def of(cls, settings: DownloaderSettings, efax: EfaxClient, store: FaxStore) -> Downloads:
        slots = asyncio.Semaphore(settings.downloader_concurrency)
        pages = PageBudget(settings.downloader_max_pages_in_flight)
        delete = settings.downloader_delete_after_store
        return cls(efax, store, Policy.of(settings), slots, pages, delete)


def source_of(record: ConsumerRecord[bytes, bytes]) -> str:
    """Names the record a fax was stored from, in the object's `stored-by` metadata."""
    return f"{record.topic}/{record.partition}/{record.offset}"


NOTHING: Decision = ((), None)


async def handle_record(d: Downloads, record: ConsumerRecord[bytes, bytes]) -> Decision:
    """One `fax.notified` record: the outcome to announce, and what to do once announced. An
    unreadable record is skipped (its offset is logged, never its body): redelivering it would
    fail the same way forever."""
    try:
        fax = FaxNotified.model_validate_json(record.value or b"")
    except ValidationError:
        log.error("skipping an unreadable record at offset %s", record.offset)
        return NOTHING
    return await handle(d, fax, propagated(record), source_of(record))


async def handle(d: Downloads, fax: FaxNotified, trace: dict[str, str], source: str) -> Decision:
    """Store one fax; return its outcome to announce (the stage writes it only after this
    returned, so never before the fax is stored) and what to do once it is written."""
    if object_key(fax, d.policy.image_format) in d.announced:
        return NOTHING
    with traced("download fax", trace, fax_id=fax.fax_id) as trace:
        async with d.slots, d.pages.taken(fax):
            outcome = await fetch_and_store(fax, source, d.efax, d.store, d.policy)
        if isinstance(outcome, AlreadyAnnounced):
            annotate(outcome="already announced")
            return NOTHING
        topic = FAX_STORED if isinstance(outcome, FaxStored) else DOWNLOAD_FAILED
        annotate(outcome=topic, reason=getattr(outcome, "reason", None))
        outgoing = [Outgoing.of(topic, outcome, str(fax.fax_id), trace)]
    return outgoing, partial(announced, d, outcome, trace)


def announced(d: Downloads, outcome: FaxStored | DownloadFailed, trace: Mapping[str, str]) -> None:
    """Once the outcome is written: count and log it, remember it, delete the fax upstream."""
    tell(outcome, trace)
    if isinstance(outcome, FaxStored):
        d.announced.remember(outcome.stored.key)
        if d.delete_after_store:  # in the background: never blocks the pipeline
            deletion = asyncio.create_task(delete_upstream(d.efax, outcome.fax, d.policy))
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
