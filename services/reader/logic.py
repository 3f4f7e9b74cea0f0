"""A stored fax's bytes to its text, page by page: what the reader's stage calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Literal, Protocol
from uuid import UUID

from aiokafka import ConsumerRecord
from pydantic import BaseModel, Field, ValidationError

from services.reader.ocr import PageReader, PageText
from services.reader.pages import Limits, open_fax
from services.reader.understand import Understander, Understanding, understand
from shared.contracts import (
    FAX_READ,
    READ_FAILED,
    READ_TEXT_LIMIT_CHARS,
    FaxRead,
    FaxStored,
    PageRead,
    ReadFailed,
    ReadFailureReason,
    TextObject,
    now_utc,
)
from shared.kafka import Decision, Outgoing, propagated
from shared.logs import fax_fields
from shared.metrics import (
    DOCUMENTS_FOUND,
    FAXES_READ,
    PAGE_CONFIDENCE,
    PAGE_READ_SECONDS,
    PAGES_READ,
    READS_FAILED,
)
from shared.storage import FaxStore, object_keys, text_key
from shared.tracing import annotate, traced

log = logging.getLogger("faxrelay.reader")


@dataclass(frozen=True)
class Failure:
    """Why a fax could not be read, as the reading process tells it."""

    reason: ReadFailureReason
    detail: str


@dataclass(frozen=True)
class FaxText:
    pages: list[PageText]

    @property
    def page_count(self) -> int:
        return len(self.pages)


def read_fax(data: bytes, limits: Limits, reader: PageReader) -> FaxText:
    """Every page's text; raises UnreadableFax with a reason code. One page in memory at once."""
    fax = open_fax(data, limits)
    try:
        return FaxText(
            [
                reader.read(index, fax.page(index).image, limits.dpi)
                for index in range(fax.page_count)
            ]
        )
    finally:
        fax.close()


# --- the stage: one `fax.stored` record -> `fax.read` or `fax.read.failed` -------------------


class StoredWord(BaseModel):
    text: str
    confidence: float
    box: tuple[int, int, int, int] = Field(description="left, top, right, bottom (pixels).")


class StoredPage(BaseModel):
    number: int
    text: str
    confidence: float
    orientation: Literal[0, 90, 180, 270]
    blank: bool
    words: list[StoredWord] = Field(default_factory=list)


class TextDocument(BaseModel):
    """The text object, stored next to the image: every page whole, with its word boxes."""

    fax_id: UUID
    user_id: UUID
    image_key: str
    image_sha256: str
    read_at: datetime
    pages: list[StoredPage]

    @classmethod
    def of(cls, stored: FaxStored, text: FaxText, read_at: datetime) -> TextDocument:
        return cls(
            fax_id=stored.fax.fax_id,
            user_id=stored.fax.user_id,
            image_key=stored.stored.key,
            image_sha256=stored.stored.sha256,
            read_at=read_at,
            pages=[stored_page(page) for page in text.pages],
        )


def stored_page(page: PageText) -> StoredPage:
    words = [
        StoredWord(text=w.text, confidence=round(w.confidence, 2), box=w.box) for w in page.words
    ]
    orientation = page.orientation if page.orientation in (90, 180, 270) else 0
    return StoredPage(
        number=page.index + 1,
        text=page.text,
        confidence=round(page.confidence, 2),
        orientation=orientation,
        blank=page.blank,
        words=words,
    )


def fax_read(
    stored: FaxStored,
    document: TextDocument,
    text: TextObject,
    limit: int,
    understander: Understander | None = None,
) -> FaxRead:
    """The record of a read fax, from its stored text alone (so a reread yields the same):
    each page's text whole until `limit` characters in all, then prefixes of what is left;
    the documents found in the whole text, typed, when an understander is given."""
    pages: list[PageRead] = []
    left = limit
    for page in document.pages:
        kept = page.text[: max(0, left)]
        left -= len(kept)
        pages.append(
            PageRead(
                number=page.number,
                text=kept,
                text_truncated=len(kept) < len(page.text),
                confidence=page.confidence,
                orientation=page.orientation,
                blank=page.blank,
            )
        )
    read = [p.confidence for p in document.pages if not p.blank]
    found = (
        understand([p.text for p in document.pages], understander)
        if understander is not None
        else Understanding([], None, False, "")
    )
    return FaxRead(
        fax=stored.fax,
        stored=stored.stored,
        text_object=text,
        pages=pages,
        page_count=len(pages),
        reported_pages=stored.fax.pages,
        confidence=round(sum(read) / len(read), 2) if read else 0.0,
        read_at=document.read_at,
        documents=found.documents,
        document_type=found.document_type,
        needs_review=found.needs_review,
        understood_by=found.understood_by,
    )


class Reader(Protocol):
    async def read(self, data: bytes, timeout_s: float) -> FaxText | Failure: ...


@dataclass
class Reading:
    """The collaborators and limits of every read of this process."""

    store: FaxStore
    readers: Reader
    seconds_per_fax: float
    text_limit: int = READ_TEXT_LIMIT_CHARS
    understander: Understander | None = None


def failed(stored: FaxStored, reason: ReadFailureReason, detail: str) -> ReadFailed:
    return ReadFailed(fax=stored.fax, stored=stored.stored, reason=reason, detail=detail[:500])


def text_metadata(stored: FaxStored) -> dict[str, str]:
    """Whose text it is, as the router checks it (the same names as the image's metadata)."""
    return {
        "fax-id": str(stored.fax.fax_id),
        "user-id": str(stored.fax.user_id),
        "app-id": str(stored.fax.app_id),
        "image-sha256": stored.stored.sha256,
    }


async def stored_text(store: FaxStore, key: str) -> tuple[TextDocument, int] | None:
    body = await store.read_or_none(key)
    if body is None:
        return None
    try:
        return TextDocument.model_validate_json(body), len(body)
    except ValidationError:  # a partial or foreign object: read the fax again, overwrite it
        log.warning("text object %s unreadable; reading the fax again", key)
        return None


async def read_stored(r: Reading, stored: FaxStored) -> FaxRead | ReadFailed:
    """Read one stored fax once: a text already stored (a reread, a replay) is announced as it
    is; else the image is read in a reading process and its text stored, if absent, first."""
    fax, image = stored.fax, stored.stored
    key = text_key(fax)
    if image.key not in object_keys(fax):
        return failed(
            stored, ReadFailureReason.OBJECT_MISSING, "not the key its fax is stored under"
        )
    found = await stored_text(r.store, key)
    if found is not None:
        return await announce(r, stored, found[0], found[1])
    existing = await r.store.find(image.key)
    if existing is None or (existing.fax_id, existing.user_id) != (
        str(fax.fax_id),
        str(fax.user_id),
    ):
        return failed(
            stored, ReadFailureReason.OBJECT_MISSING, "no object of this fax under its key"
        )
    data = await r.store.read_or_none(image.key)
    if data is None:
        return failed(stored, ReadFailureReason.OBJECT_MISSING, "the object is gone")
    result = await r.readers.read(data, r.seconds_per_fax)
    if isinstance(result, Failure):
        return failed(stored, result.reason, result.detail)
    observe_pages(result)
    document = TextDocument.of(stored, result, now_utc())
    body = document.model_dump_json().encode()
    metadata = text_metadata(stored)
    if not await r.store.put(key, body, "application/json", metadata, if_absent=True):
        found = await stored_text(r.store, key)  # another copy stored it first: announce that
        if found is None:
            await r.store.put(key, body, "application/json", metadata)
        else:
            document, size = found
            return await announce(r, stored, document, size)
    return await announce(r, stored, document, len(body))


async def announce(r: Reading, stored: FaxStored, document: TextDocument, size: int) -> FaxRead:
    """The record of a read fax; understanding its text is CPU work, done off the event loop."""
    text = TextObject(bucket=r.store.bucket, key=text_key(stored.fax), size=size)
    return await asyncio.to_thread(fax_read, stored, document, text, r.text_limit, r.understander)


def observe_pages(text: FaxText) -> None:
    for page in text.pages:
        PAGE_READ_SECONDS.observe(page.seconds)
        if not page.blank:
            PAGE_CONFIDENCE.observe(page.confidence)


NOTHING: Decision = ((), None)


async def handle_record(r: Reading, record: ConsumerRecord[bytes, bytes]) -> Decision:
    """One `fax.stored` record. An unreadable record is skipped (its offset is logged, never
    its body)."""
    try:
        stored = FaxStored.model_validate_json(record.value or b"")
    except ValidationError:
        log.error("skipping an unreadable record at offset %s", record.offset)
        return NOTHING
    with traced("read fax", propagated(record), fax_id=stored.fax.fax_id) as trace:
        outcome = await read_stored(r, stored)
        topic = FAX_READ if isinstance(outcome, FaxRead) else READ_FAILED
        annotate(outcome=topic, reason=getattr(outcome, "reason", None))
        outgoing = [Outgoing.of(topic, outcome, str(stored.fax.fax_id), trace)]
    return outgoing, partial(tell, outcome, trace)


def tell(outcome: FaxRead | ReadFailed, trace: Mapping[str, str]) -> None:
    """Count and log one announced outcome: counts and ids, never text."""
    fax = outcome.fax
    if isinstance(outcome, FaxRead):
        FAXES_READ.inc()
        blank = sum(page.blank for page in outcome.pages)
        PAGES_READ.labels(kind="blank").inc(blank)
        PAGES_READ.labels(kind="text").inc(outcome.page_count - blank)
        for document in outcome.documents:  # types are our enum: no fax text in a label
            review = "true" if document.needs_review else "false"
            DOCUMENTS_FOUND.labels(type=document.type.value, needs_review=review).inc()
        fields = fax_fields(fax.fax_id, fax.delivery_id, trace)
        log.info(
            "fax read: %d pages (%d blank, %s reported), confidence %.1f; %d documents, "
            "type %s%s (%s)",
            outcome.page_count,
            blank,
            outcome.reported_pages,
            outcome.confidence,
            len(outcome.documents),
            outcome.document_type.value if outcome.document_type else "none",
            ", needs review" if outcome.needs_review else "",
            outcome.understood_by or "not typed",
            extra=fields,
        )
        return
    reason = outcome.reason.value
    READS_FAILED.labels(reason=reason).inc()
    fields = fax_fields(fax.fax_id, fax.delivery_id, trace, reason=reason)
    log.info("fax not read: %s: %s", reason, outcome.detail, extra=fields)
