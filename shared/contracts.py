"""Every message that crosses a topic: one pydantic model per topic, next to the topic's name.

Flow: gateway -> WEBHOOK_RECEIVED -> verifier -> FAX_NOTIFIED -> downloader -> FAX_STORED -> router
-> faxes.user.<user_id>. Rejections, pings, outbound notices and failed downloads have topics of
their own. Everything is keyed by fax_id until the router, which keys by user_id.

Contracts grow only by adding optional fields; a breaking change is a new topic.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
)

WEBHOOK_RECEIVED = "fax.webhook.received"
WEBHOOK_REJECTED = "fax.webhook.rejected"
PING_RECEIVED = "fax.ping.received"
OUTBOUND_NOTIFIED = "fax.outbound.notified"
FAX_NOTIFIED = "fax.notified"
FAX_STORED = "fax.stored"
DOWNLOAD_FAILED = "fax.download.failed"

PIPELINE_TOPICS = (
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
    PING_RECEIVED,
    OUTBOUND_NOTIFIED,
    FAX_NOTIFIED,
    FAX_STORED,
    DOWNLOAD_FAILED,
)

CORRELATION_HEADER = "correlation_id"
TRACEPARENT_HEADER = "traceparent"  # W3C trace context, started by the gateway

FAX_ID_EXAMPLE = "7e029808-237b-413e-a051-53bf445e8b49"
USER_ID_EXAMPLE = "ca4cd102-c3e7-4379-9a7e-38c61e1f7a55"
APP_ID_EXAMPLE = "d580162d-d162-4353-bd55-c2044ab20711"


def now_utc() -> datetime:
    return datetime.now(UTC)


_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_efax_timestamp(value: object) -> object:
    """eFax writes `...Z`, `...+00:00` and `....000+0000`; all mean the same instant."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", text)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


EfaxTimestamp = Annotated[datetime, BeforeValidator(parse_efax_timestamp), AfterValidator(_as_utc)]

_FAX_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def _fax_number(value: str) -> str:
    if value != "unavailable" and not _FAX_NUMBER.match(value):
        raise ValueError("a fax number is digits with an optional leading +, or 'unavailable'")
    return value


FaxNumber = Annotated[str, Field(max_length=21), AfterValidator(_fax_number)]
Tsid = Annotated[str, Field(max_length=64, pattern=r"^[\x20-\x7e]*$")]


class Source(StrEnum):
    WEBHOOK = "webhook"
    POLLING = "polling"


class RejectReason(StrEnum):
    BAD_SIGNATURE = "bad_signature"
    MISSING_SIGNATURE = "missing_signature"
    UNKNOWN_APP = "unknown_app"
    MALFORMED_JSON = "malformed_json"
    INVALID_PAYLOAD = "invalid_payload"
    FOREIGN_RESOURCE_URL = "foreign_resource_url"
    DUPLICATE = "duplicate"


class DownloadFailure(StrEnum):
    GONE = "gone"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_APP = "unknown_app"
    UNDECODABLE_IMAGE = "undecodable_image"
    WRONG_IMAGE_TYPE = "wrong_image_type"
    TOO_LARGE = "too_large"
    RETRIES_EXHAUSTED = "retries_exhausted"


# --- what eFax sends -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InboundNotification(_Strict):
    """The body eFax posts for a fax (the vendor page's example). Unknown fields are ignored."""

    app_id: UUID = Field(description="eFax App ID (group) the fax belongs to.")
    user_id: UUID = Field(description="eFax user who owns the receiving number.")
    notification_id: UUID = Field(description="Id of this notification (the same on retries).")
    direction: Literal["INBOUND", "OUTBOUND"] = Field(description="Fax direction.")
    completed_timestamp: EfaxTimestamp = Field(description="When the fax finished arriving.")
    duration: NonNegativeInt = Field(le=86_400, description="Transmission time in seconds.")
    pages: NonNegativeInt = Field(le=10_000, description="Page count.")
    fax_id: UUID = Field(description="eFax fax id.")
    sending_fax_number: FaxNumber = Field(description="Caller's number, or 'unavailable'.")
    receiving_fax_number: FaxNumber = Field(description="Number that received the fax.")
    resource_url: str = Field(max_length=2048, description="Where eFax says the image is.")
    originating_fax_tsid: Tsid = Field(default="", description="Sender's TSID, or 'unavailable'.")


class PingNotification(_Strict):
    """The body eFax posts after `POST /notifications/ping`."""

    app_id: str = Field(max_length=64)
    notification_id: str = Field(max_length=64)
    direction: Literal["INBOUND", "OUTBOUND"] = "INBOUND"
    event_type: Literal["PING"]
    notification_config_id: str = Field(default="", max_length=64)


# --- topic messages ---------------------------------------------------------------------------


class WebhookReceived(BaseModel):
    """`fax.webhook.received`: one HTTP delivery exactly as the gateway took it, unverified."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    delivery_id: str = Field(description="Id the gateway gave this delivery.", examples=["d-1"])
    received_at: datetime = Field(description="When the gateway took the delivery (UTC).")
    path: str = Field(description="Request path the delivery was posted to.")
    client_addr: str = Field(default="", description="Peer address as seen by the gateway.")
    content_type: str = Field(default="", description="Content-Type header as sent.")
    signature: str | None = Field(default=None, description="X-HMAC-Signature header as sent.")
    body: bytes = Field(description="Raw body bytes; URL-safe base64 in JSON.")


class WebhookRejected(BaseModel):
    """`fax.webhook.rejected`: a delivery that will never be fetched or routed, kept for audit."""

    reason: RejectReason = Field(description="Why it was rejected.", examples=["bad_signature"])
    detail: str = Field(description="Human-readable detail; never contains secrets.")
    rejected_at: datetime = Field(default_factory=now_utc, description="When (UTC).")
    delivery: WebhookReceived = Field(description="The original delivery, byte for byte.")


class PingReceived(BaseModel):
    """`fax.ping.received`: a verified webhook test from eFax. Recorded, never routed."""

    app_id: str = Field(description="App ID that asked for the ping.")
    notification_id: str = Field(description="eFax's id of the ping.")
    notification_config_id: str = Field(default="", description="Webhook configuration id.")
    delivery_id: str = Field(description="Gateway delivery id.")
    received_at: datetime = Field(description="When the gateway took it (UTC).")


class FaxNotified(BaseModel):
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


class StoredObject(BaseModel):
    """Where a fax image lives in the object store."""

    bucket: str = Field(description="Bucket name.", examples=["faxes"])
    key: str = Field(description="Object key.", examples=[f"u/2024/05/10/{FAX_ID_EXAMPLE}.pdf"])
    size: NonNegativeInt = Field(description="Bytes.")
    sha256: str = Field(description="Hex SHA-256 of the bytes.")
    content_type: str = Field(description="MIME type.", examples=["application/pdf"])


class FaxStored(BaseModel):
    """`fax.stored`: the image is durably in the object store. Keyed by fax_id."""

    fax: FaxNotified = Field(description="The notification that led here.")
    stored: StoredObject = Field(description="The stored image.")
    stored_at: datetime = Field(default_factory=now_utc, description="When (UTC).")


class DownloadFailed(BaseModel):
    """`fax.download.failed`: a fax that could not be stored. Replay by re-publishing `fax`."""

    fax: FaxNotified = Field(description="The original notification, ready to replay.")
    reason: DownloadFailure = Field(description="Why.", examples=["gone"])
    detail: str = Field(description="Human-readable detail; never contains secrets.")
    attempts: int = Field(ge=1, description="Download attempts made.")
    failed_at: datetime = Field(default_factory=now_utc, description="When (UTC).")


class FaxReceivedData(BaseModel):
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


FAX_RECEIVED_EVENT_TYPE = "com.faxrelay.fax.received.v1"
