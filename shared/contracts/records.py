"""The records of the pipeline's own topics, one model per topic (see `topics`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
)

from shared.contracts.base import _TopicModel
from shared.contracts.documents import DocumentFound, DocumentType
from shared.contracts.names import APP_ID_EXAMPLE, FAX_ID_EXAMPLE, USER_ID_EXAMPLE, now_utc
from shared.contracts.reasons import DownloadFailure, ReadFailureReason, RejectReason, Source
from shared.contracts.vendor import InboundNotification, PingNotification

# --- topic messages ---------------------------------------------------------------------------


class WebhookReceived(_TopicModel):
    """`fax.webhook.received`: one HTTP delivery exactly as the gateway took it, unverified."""

    model_config = ConfigDict(extra="ignore", ser_json_bytes="base64", val_json_bytes="base64")

    delivery_id: str = Field(description="Id the gateway gave this delivery.", examples=["d-1"])
    received_at: datetime = Field(description="When the gateway took the delivery (UTC).")
    path: str = Field(description="Request path the delivery was posted to.")
    client_addr: str = Field(default="", description="Peer address as seen by the gateway.")
    content_type: str = Field(default="", description="Content-Type header as sent.")
    signature: str | None = Field(default=None, description="X-HMAC-Signature header as sent.")
    body: bytes = Field(description="Raw body bytes; URL-safe base64 in JSON.")


REJECTED_BODY_PREFIX_BYTES = 2048  # a real eFax webhook is under 1 KiB


class WebhookRejected(_TopicModel):
    """`fax.webhook.rejected`: a delivery that will never be fetched or routed, kept for audit."""

    reason: RejectReason = Field(description="Why it was rejected.", examples=["bad_signature"])
    detail: str = Field(description="Human-readable detail; never contains secrets.")
    rejected_at: datetime = Field(default_factory=now_utc, description="When (UTC).")
    delivery: WebhookReceived = Field(
        description="The original delivery; its body is cut to its first "
        f"{REJECTED_BODY_PREFIX_BYTES} bytes when longer (body_truncated), which keeps every "
        "real eFax webhook whole while a flood of large bodies stays small."
    )
    body_size: NonNegativeInt | None = Field(
        default=None, description="Bytes of the body as received (absent: written whole)."
    )
    body_sha256: str | None = Field(
        default=None, description="Hex SHA-256 of the body as received (absent: written whole)."
    )
    body_truncated: bool = Field(
        default=False, description="True when delivery.body holds only the body's first bytes."
    )

    @classmethod
    def of(cls, delivery: WebhookReceived, reason: RejectReason, detail: str) -> WebhookRejected:
        """A rejection whose size is bounded whatever the body's: a digest and a prefix."""
        body = delivery.body
        truncated = len(body) > REJECTED_BODY_PREFIX_BYTES
        kept = delivery.model_copy(update={"body": body[:REJECTED_BODY_PREFIX_BYTES]})
        return cls(
            reason=reason,
            detail=detail[:500],
            delivery=kept,
            body_size=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(),
            body_truncated=truncated,
        )


class PingReceived(_TopicModel):
    """`fax.ping.received`: a verified webhook test from eFax. Recorded, never routed."""

    app_id: str = Field(description="App ID that asked for the ping.")
    notification_id: str = Field(description="eFax's id of the ping.")
    notification_config_id: str = Field(default="", description="Webhook configuration id.")
    delivery_id: str = Field(description="Gateway delivery id.")
    received_at: datetime = Field(description="When the gateway took it (UTC).")

    @classmethod
    def from_ping(cls, ping: PingNotification, delivery: WebhookReceived) -> PingReceived:
        return cls(
            app_id=ping.app_id,
            notification_id=ping.notification_id,
            notification_config_id=ping.notification_config_id,
            delivery_id=delivery.delivery_id,
            received_at=delivery.received_at,
        )


class FaxNotified(_TopicModel):
    """`fax.notified`: a fax known to exist on eFax and not yet stored. Keyed by fax_id."""

    fax_id: UUID = Field(description="eFax fax id.", examples=[FAX_ID_EXAMPLE])
    app_id: UUID = Field(description="eFax App ID.", examples=[APP_ID_EXAMPLE])
    user_id: UUID = Field(description="Owner of the fax.", examples=[USER_ID_EXAMPLE])
    source: Source = Field(description="Webhook or polling found it.")
    notification_id: UUID | None = Field(default=None, description="eFax notification id.")
    completed_at: datetime = Field(description="When the fax finished arriving (UTC).")
    completed_timestamp: str = Field(default="", description="The timestamp as eFax wrote it.")
    pages: NonNegativeInt | None = Field(default=None, description="Page count.")
    duration: NonNegativeInt | None = Field(default=None, description="Seconds on the line.")
    sending_fax_number: str = Field(default="", description="Caller's number or 'unavailable'.")
    receiving_fax_number: str = Field(default="", description="Receiving number.")
    originating_fax_tsid: str = Field(default="", description="Sender's TSID.")
    delivery_id: str | None = Field(default=None, description="Gateway delivery id, if webhook.")
    notified_at: datetime = Field(default_factory=now_utc, description="When it was verified.")

    @classmethod
    def from_inbound(
        cls, notification: InboundNotification, delivery_id: str, completed_timestamp: str
    ) -> FaxNotified:
        """A verified webhook; `completed_timestamp` is the value as eFax wrote it."""
        return cls(
            fax_id=notification.fax_id,
            app_id=notification.app_id,
            user_id=notification.user_id,
            source=Source.WEBHOOK,
            notification_id=notification.notification_id,
            completed_at=notification.completed_timestamp,
            completed_timestamp=completed_timestamp[:64],
            pages=notification.pages,
            duration=notification.duration,
            sending_fax_number=notification.sending_fax_number,
            receiving_fax_number=notification.receiving_fax_number,
            originating_fax_tsid=notification.originating_fax_tsid,
            delivery_id=delivery_id,
        )


class StoredObject(_TopicModel):
    """Where a fax image lives in the object store."""

    bucket: str = Field(description="Bucket name.", examples=["faxes"])
    key: str = Field(description="Object key.", examples=[f"u/2024/05/10/{FAX_ID_EXAMPLE}.pdf"])
    size: NonNegativeInt = Field(description="Bytes.")
    sha256: str = Field(description="Hex SHA-256 of the bytes.")
    content_type: str = Field(description="MIME type.", examples=["application/pdf"])


class FaxStored(_TopicModel):
    """`fax.stored`: the image is durably in the object store. Keyed by fax_id."""

    fax: FaxNotified = Field(description="The notification that led here.")
    stored: StoredObject = Field(description="The stored image.")
    stored_at: datetime = Field(default_factory=now_utc, description="When (UTC).")


class DownloadFailed(_TopicModel):
    """`fax.download.failed`: a fax that could not be stored. Replay by re-publishing `fax`."""

    fax: FaxNotified = Field(description="The original notification, ready to replay.")
    reason: DownloadFailure = Field(description="Why.", examples=["gone"])
    detail: str = Field(description="Human-readable detail; never contains secrets.")
    attempts: int = Field(ge=1, description="Download attempts made.")
    failed_at: datetime = Field(default_factory=now_utc, description="When (UTC).")


READ_TEXT_LIMIT_CHARS = 32_000
"""Text of all pages carried in a read record or event; past it each page carries a prefix
(text_truncated) and the whole text is in the text object."""
TEXT_EXAMPLE = "REFERRAL\nPatient: Jane Example\nDate of birth: 01/02/1960"


class PageRead(_TopicModel):
    """One page as read."""

    number: int = Field(ge=1, description="Page number, from 1.", examples=[1])
    text: str = Field(
        description="The page's text, or its first part when text_truncated.",
        examples=[TEXT_EXAMPLE],
    )
    text_truncated: bool = Field(
        default=False, description="True when text is a prefix: the whole is in the text object."
    )
    confidence: float = Field(
        ge=0,
        le=100,
        description="Mean word confidence, 0..100 (0 for a blank page).",
        examples=[91.5],
    )
    orientation: Literal[0, 90, 180, 270] = Field(
        description="Clockwise degrees the page was turned from upright (it was read upright).",
        examples=[0],
    )
    blank: bool = Field(description="A blank page (or speckle only): marked, not read.")


class TextObject(_TopicModel):
    """Where the full text of a fax lives: JSON next to the image, one entry per page."""

    bucket: str = Field(description="Bucket name.", examples=["faxes"])
    key: str = Field(
        description="Object key: the image's key with .text.json for its extension.",
        examples=[f"{USER_ID_EXAMPLE}/2024/05/10/{FAX_ID_EXAMPLE}.text.json"],
    )
    size: NonNegativeInt = Field(description="Bytes.")


class FaxRead(_TopicModel):
    """`fax.read`: the text of a stored fax, page by page. Keyed by fax_id. Reading the same
    fax again yields the same record (it is built from the stored text object)."""

    fax: FaxNotified = Field(description="The notification that led here (identity, owner).")
    stored: StoredObject = Field(description="The image that was read.")
    text_object: TextObject = Field(description="The full text (with word boxes), stored.")
    pages: list[PageRead] = Field(description="Every page found, in order.")
    page_count: NonNegativeInt = Field(description="Pages found in the image.", examples=[2])
    reported_pages: NonNegativeInt | None = Field(
        default=None,
        description="Pages eFax reported (absent when it did not say).",
        examples=[2],
    )
    confidence: float = Field(
        ge=0,
        le=100,
        description="Mean confidence of the pages that are not blank.",
        examples=[91.5],
    )
    read_at: datetime = Field(description="When the fax was first read (UTC).")
    documents: list[DocumentFound] = Field(
        default_factory=list,
        description="The documents found in the fax, in page order, each with its type and "
        "key fields (hints, not truth). Empty when nothing was understood.",
    )
    document_type: DocumentType | None = Field(
        default=None,
        description="The fax's main type: its first document that is not a cover sheet (a "
        "cover sheet alone is cover_sheet). Absent when no document was found.",
        examples=["referral"],
    )
    needs_review: bool = Field(
        default=False, description="Some document's type is below the confidence threshold."
    )
    understood_by: str = Field(
        default="",
        description="What typed the documents: 'rules' (the rules file) or 'model:<sha256 "
        "prefix>' (a trained model).",
        examples=["rules"],
    )


class ReadFailed(_TopicModel):
    """`fax.read.failed`: a stored fax that could not be read. Its image was delivered anyway.
    Replay by re-publishing the fax.stored record."""

    fax: FaxNotified = Field(description="The notification that led here.")
    stored: StoredObject = Field(description="The image that could not be read.")
    reason: ReadFailureReason = Field(description="Why.", examples=["corrupt"])
    detail: str = Field(description="Counts and sizes only, never content.")
    failed_at: datetime = Field(default_factory=now_utc, description="When (UTC).")
