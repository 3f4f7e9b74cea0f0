"""Read faxes with what the reader understood (documents, types, fields), as the contract says,
for the router's tests; and a store holding a fax's image and text object as the services write
them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from services.downloader.logic import stored_metadata
from shared.contracts import (
    DocumentFound,
    DocumentType,
    FaxRead,
    FaxStored,
    FieldName,
    FoundField,
    PageRead,
    TextObject,
)
from shared.storage import text_key
from tests.builders import stored
from tests.fakes import FakeStore

IMAGE = b"%PDF-1.4 a fax image"


def stored_image(**changes: Any) -> FaxStored:
    """A stored fax whose recorded size and SHA-256 are IMAGE's."""
    fax = stored(**changes)
    return fax.model_copy(
        update={
            "stored": fax.stored.model_copy(
                update={"size": len(IMAGE), "sha256": hashlib.sha256(IMAGE).hexdigest()}
            )
        }
    )


def document(
    kind: DocumentType = DocumentType.REFERRAL,
    confidence: float = 0.95,
    pages: tuple[int, int] = (1, 1),
    needs_review: bool = False,
    **fields: str,
) -> DocumentFound:
    return DocumentFound(
        first_page=pages[0],
        last_page=pages[1],
        type=kind,
        confidence=confidence,
        needs_review=needs_review,
        fields=[
            FoundField(name=FieldName(name), value=value, page=pages[0], confidence=0.9)
            for name, value in fields.items()
        ],
    )


def read_of(
    fax: FaxStored,
    *documents: DocumentFound,
    text: str = "REFERRAL",
    needs_review: bool | None = None,
) -> FaxRead:
    main = next((d.type for d in documents if d.type is not DocumentType.COVER_SHEET), None)
    return FaxRead(
        fax=fax.fax,
        stored=fax.stored,
        text_object=TextObject(bucket="faxes", key=text_key(fax.fax), size=100),
        pages=[PageRead(number=1, text=text, confidence=91.0, orientation=0, blank=False)],
        page_count=max([d.last_page for d in documents] or [1]),
        reported_pages=fax.fax.pages,
        confidence=91.0,
        read_at=datetime(2026, 1, 1, tzinfo=UTC),
        documents=list(documents),
        document_type=main or (documents[0].type if documents else None),
        needs_review=any(d.needs_review for d in documents)
        if needs_review is None
        else needs_review,
        understood_by="rules",
    )


def holding(*faxes: FaxStored) -> FakeStore:
    """Each fax's image (IMAGE) and text object, with the metadata the downloader and the
    reader write."""
    store = FakeStore()
    for fax in faxes:
        store.objects[fax.stored.key] = IMAGE
        store.metadata[fax.stored.key] = stored_metadata(fax.fax, fax.stored.sha256)
        store.objects[text_key(fax.fax)] = b"{}"
        store.metadata[text_key(fax.fax)] = {
            "fax-id": str(fax.fax.fax_id),
            "user-id": str(fax.fax.user_id),
        }
    return store
