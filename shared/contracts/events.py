"""The `data` of the CloudEvents on the users' topics."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import (
    Field,
    NonNegativeInt,
    RootModel,
)

from shared.contracts.base import _TopicModel
from shared.contracts.documents import DocumentFound, DocumentType
from shared.contracts.names import APP_ID_EXAMPLE, FAX_ID_EXAMPLE, USER_ID_EXAMPLE
from shared.contracts.records import (
    FaxRead,
    FaxStored,
    PageRead,
    StoredObject,
    TextObject,
)


class FaxReceivedData(_TopicModel):
    """The `data` of the CloudEvent each user receives on their topic."""

    fax_id: UUID = Field(description="eFax fax id.", examples=[FAX_ID_EXAMPLE])
    user_id: UUID = Field(description="Owner of the fax.", examples=[USER_ID_EXAMPLE])
    app_id: UUID = Field(description="eFax App ID.", examples=[APP_ID_EXAMPLE])
    sending_fax_number: str = Field(description="Caller's number or 'unavailable'.")
    receiving_fax_number: str = Field(description="Receiving number.")
    originating_fax_tsid: str = Field(description="Sender's TSID.")
    pages: NonNegativeInt | None = Field(description="Page count.")
    completed_at: datetime = Field(description="When the fax finished arriving (UTC).")
    document: StoredObject = Field(description="The stored image.")
    download_url: str | None = Field(
        default=None, description="Presigned GET link to the image; expires (see expires_at)."
    )
    download_url_expires_at: datetime | None = Field(default=None, description="Link expiry.")

    @classmethod
    def from_stored(cls, stored: FaxStored) -> FaxReceivedData:
        f = stored.fax
        return cls(
            fax_id=f.fax_id,
            user_id=f.user_id,
            app_id=f.app_id,
            sending_fax_number=f.sending_fax_number,
            receiving_fax_number=f.receiving_fax_number,
            originating_fax_tsid=f.originating_fax_tsid,
            pages=f.pages,
            completed_at=f.completed_at,
            document=stored.stored,
        )


FAX_RECEIVED_EVENT_TYPE = "com.faxrelay.fax.received.v1"
FAX_READ_EVENT_TYPE = "com.faxrelay.fax.read.v1"


def read_event_id(fax_id: UUID | str) -> str:
    """The read event's CloudEvent id: not the received event's (the fax id), because
    subscribers drop duplicates by id."""
    return f"{fax_id}.read"


class FaxReadData(_TopicModel):
    """The `data` of the second CloudEvent a user receives for a fax, once it was read."""

    fax_id: UUID = Field(description="eFax fax id.", examples=[FAX_ID_EXAMPLE])
    user_id: UUID = Field(description="Owner of the fax.", examples=[USER_ID_EXAMPLE])
    app_id: UUID = Field(description="eFax App ID.", examples=[APP_ID_EXAMPLE])
    document: StoredObject = Field(description="The stored image that was read.")
    text_object: TextObject = Field(description="The full text, stored next to the image.")
    pages: list[PageRead] = Field(description="Every page found, in order.")
    page_count: NonNegativeInt = Field(description="Pages found in the image.", examples=[2])
    reported_pages: NonNegativeInt | None = Field(
        default=None, description="Pages eFax reported.", examples=[2]
    )
    confidence: float = Field(ge=0, le=100, description="Mean confidence of non-blank pages.")
    read_at: datetime = Field(description="When the fax was first read (UTC).")
    documents: list[DocumentFound] = Field(
        default_factory=list,
        description="The documents found in the fax, in page order: pages, type with its "
        "confidence, and key fields. Every field is a hint read by a machine, for matching "
        "(a patient's name, date of birth, MRN), never a resolved identity.",
    )
    document_type: DocumentType | None = Field(
        default=None, description="The fax's main type (see FaxRead).", examples=["referral"]
    )
    needs_review: bool = Field(
        default=False, description="Some document's type is below the confidence threshold."
    )
    text_url: str | None = Field(
        default=None, description="Presigned GET link to the full text object; expires."
    )
    text_url_expires_at: datetime | None = Field(default=None, description="Link expiry.")

    @classmethod
    def from_read(cls, read: FaxRead) -> FaxReadData:
        return cls(
            fax_id=read.fax.fax_id,
            user_id=read.fax.user_id,
            app_id=read.fax.app_id,
            document=read.stored,
            text_object=read.text_object,
            pages=read.pages,
            page_count=read.page_count,
            reported_pages=read.reported_pages,
            confidence=read.confidence,
            read_at=read.read_at,
            documents=read.documents,
            document_type=read.document_type,
            needs_review=read.needs_review,
        )


class UserEventData(RootModel[FaxReceivedData | FaxReadData]):
    """The `data` of an event on a user's topic: by ce_type, com.faxrelay.fax.received.v1
    (FaxReceivedData) or com.faxrelay.fax.read.v1 (FaxReadData)."""
