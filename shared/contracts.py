"""Every message that crosses a topic: one pydantic model per topic, next to the topic's name.

Flow: gateway -> WEBHOOK_RECEIVED -> verifier -> FAX_NOTIFIED -> downloader -> FAX_STORED -> router
-> faxes.user.<user_id>. Rejections, pings, outbound notices and failed downloads have topics of
their own. Everything is keyed by fax_id until the router, which keys by user_id.

Contracts grow only by adding optional fields; a breaking change is a new topic.

`TOPICS` (and `USER_TOPIC`) is the one registry of topics: name, model, key, description,
retention and compaction. The launcher, the compose init, the AsyncAPI document, the live line,
the benchmarks and the router's default template all read it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
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
    RootModel,
)

WEBHOOK_RECEIVED = "fax.webhook.received"
WEBHOOK_REJECTED = "fax.webhook.rejected"
PING_RECEIVED = "fax.ping.received"
OUTBOUND_NOTIFIED = "fax.outbound.notified"
FAX_NOTIFIED = "fax.notified"
FAX_STORED = "fax.stored"
DOWNLOAD_FAILED = "fax.download.failed"
FAX_READ = "fax.read"
READ_FAILED = "fax.read.failed"

CORRELATION_HEADER = "correlation_id"
TRACEPARENT_HEADER = "traceparent"  # W3C trace context of the fax (shared/tracing.py)

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
    if value != "unavailable" and not _FAX_NUMBER.fullmatch(value):  # `$` allows a final LF
        raise ValueError("a fax number is digits with an optional leading +, or 'unavailable'")
    return value


FaxNumber = Annotated[str, Field(max_length=21), AfterValidator(_fax_number)]
_TSID = re.compile(r"^[\x20-\x7e]{0,64}$")
Tsid = Annotated[str, Field(max_length=64, pattern=_TSID.pattern)]
UNAVAILABLE = "unavailable"


def listed_number(value: str) -> str:
    """A number from eFax's listing, held to the webhook's rule: one that is not a fax number
    (a CR, LF or non-ASCII character would break every store write of the fax) is kept as
    'unavailable', so the fax itself still flows. An absent one stays empty."""
    try:
        return _fax_number(value) if value else value
    except ValueError:
        return UNAVAILABLE


def listed_tsid(value: str) -> str:
    """A TSID from the listing, printable ASCII as the webhook's must be, else 'unavailable'."""
    return value if _TSID.fullmatch(value) else UNAVAILABLE


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
    STALE = "stale"


class DownloadFailure(StrEnum):
    GONE = "gone"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_APP = "unknown_app"
    UNDECODABLE_IMAGE = "undecodable_image"
    WRONG_IMAGE_TYPE = "wrong_image_type"
    TOO_LARGE = "too_large"
    RETRIES_EXHAUSTED = "retries_exhausted"
    UNSTORABLE = "unstorable"


class ReadFailureReason(StrEnum):
    """Why a stored fax could not be read (the reader's reasons, plus the stage's own)."""

    CORRUPT = "corrupt"
    UNSUPPORTED_FORMAT = "unsupported_format"
    ENCRYPTED = "encrypted"
    ACTIVE_CONTENT = "active_content"
    PAGE_TOO_LARGE = "page_too_large"
    TOO_MANY_PAGES = "too_many_pages"
    NO_PAGES = "no_pages"
    PAGE_TIMEOUT = "page_timeout"
    FAX_TIMEOUT = "fax_timeout"  # the whole fax ran past its time; its reading process killed
    READER_CRASHED = "reader_crashed"  # the reading process died (memory, a fault) twice
    OBJECT_MISSING = "object_missing"  # no object under the stored key, or not this fax's


# --- what eFax sends -------------------------------------------------------------------------


class _VendorModel(BaseModel):
    """What eFax sends: tolerant of the fields eFax may add (the API grows without notice)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class InboundNotification(_VendorModel):
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


class PingNotification(_VendorModel):
    """The body eFax posts after `POST /notifications/ping`."""

    app_id: str = Field(max_length=64)
    notification_id: str = Field(max_length=64)
    direction: Literal["INBOUND", "OUTBOUND"] = "INBOUND"
    event_type: Literal["PING"]
    notification_config_id: str = Field(default="", max_length=64)


# --- topic messages ---------------------------------------------------------------------------


class _TopicModel(BaseModel):
    """Our own messages. Extra fields are ignored, not forbidden, on purpose: contracts grow by
    adding optional fields, so during a rolling upgrade an older reader meets fields from a newer
    writer and must keep reading (a tolerant reader; forbidding them would turn every additive
    change into a breaking one)."""

    model_config = ConfigDict(extra="ignore")


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


class ReadFailed(_TopicModel):
    """`fax.read.failed`: a stored fax that could not be read. Its image was delivered anyway.
    Replay by re-publishing the fax.stored record."""

    fax: FaxNotified = Field(description="The notification that led here.")
    stored: StoredObject = Field(description="The image that could not be read.")
    reason: ReadFailureReason = Field(description="Why.", examples=["corrupt"])
    detail: str = Field(description="Counts and sizes only, never content.")
    failed_at: datetime = Field(default_factory=now_utc, description="When (UTC).")


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
        )


class UserEventData(RootModel[FaxReceivedData | FaxReadData]):
    """The `data` of an event on a user's topic: by ce_type, com.faxrelay.fax.received.v1
    (FaxReceivedData) or com.faxrelay.fax.read.v1 (FaxReadData)."""


# --- the topic registry -----------------------------------------------------------------------

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    """One topic, once: what it carries, how it is keyed and how long the broker keeps it."""

    name: str
    model: type[BaseModel]
    key: str
    description: str
    retention_days: int
    compacted: bool = False
    stage: str | None = None  # its column in `faxrelay live`
    retention_bytes: int | None = None  # per partition: what anyone on the internet can fill

    @property
    def title(self) -> str:
        """The name without its parameters (`faxes.user` of `faxes.user.{user_id}`)."""
        return self.name.split(".{", 1)[0]

    def configs(self) -> dict[str, str]:
        """Topic configs at creation (min.insync.replicas is the installation's choice)."""
        policy = "compact,delete" if self.compacted else "delete"
        configs = {"cleanup.policy": policy, "retention.ms": str(self.retention_days * DAY_MS)}
        if self.retention_bytes is not None:
            configs["retention.bytes"] = str(self.retention_bytes)
        return configs


# Why these numbers: work topics keep a week, so a service that was down over a long weekend,
# or a fixed bug, can be replayed from Kafka; audit and failure topics keep a month for people to
# look at. fax.stored is keyed by fax_id and also compacted: the latest record of every stored
# fax survives for re-routing (e.g. after a rule change) while duplicates collapse.
# The two ingest topics take whatever anyone on the internet posts, before any check: they keep
# little (2 days of deliveries, a week of rejections) and at most INGEST_BYTES a partition, so a
# flood cannot fill the brokers' disks. A delivery lost to them is still found by the poller.
INGEST_BYTES = 256 * 1024 * 1024
TOPICS: tuple[Topic, ...] = (
    Topic(
        WEBHOOK_RECEIVED, WebhookReceived, "fax_id of the body when it names one, else none",
        "Every webhook delivery as the gateway took it.", 2, stage="received",
        retention_bytes=INGEST_BYTES,
    ),
    Topic(
        WEBHOOK_REJECTED, WebhookRejected, "delivery_id",
        "Deliveries refused by the verifier, for audit (bodies cut to a prefix).", 7,
        stage="rejected", retention_bytes=INGEST_BYTES,
    ),
    Topic(PING_RECEIVED, PingReceived, "notification_id", "Verified webhook tests from eFax.", 1),
    Topic(
        OUTBOUND_NOTIFIED, InboundNotification, "fax_id", "Verified OUTBOUND notifications.", 7
    ),
    Topic(
        FAX_NOTIFIED, FaxNotified, "fax_id",
        "Verified faxes to download, from webhooks and polling.", 7, stage="verified",
    ),
    Topic(
        FAX_STORED, FaxStored, "fax_id", "Faxes stored in the object store.", 30,
        compacted=True, stage="stored",
    ),
    Topic(
        DOWNLOAD_FAILED, DownloadFailed, "fax_id",
        "Faxes that could not be stored, ready to replay.", 30, stage="failed",
    ),
    Topic(
        FAX_READ, FaxRead, "fax_id",
        "The text of stored faxes, page by page (a prefix past a bound; the whole in the "
        "store).", 30, compacted=True, stage="read",
    ),
    Topic(
        READ_FAILED, ReadFailed, "fax_id",
        "Stored faxes that could not be read, with a reason (the fax was delivered).", 30,
        stage="unread",
    ),
)  # fmt: skip

USER_TOPIC = Topic(
    "faxes.user.{user_id}",
    UserEventData,
    "user_id",
    "One CloudEvent per fax for its owner, Kafka protocol binding, binary mode: attributes in "
    "ce_* headers (ce_specversion 1.0, ce_id = fax id, ce_source, "
    f"ce_type {FAX_RECEIVED_EVENT_TYPE}, ce_time = completion time, ce_subject = fax id, "
    "ce_partitionkey = user id), content-type application/json, the fax's W3C trace context "
    "in traceparent, key = user id, value = this data. Drop duplicates by ce_id. Once the fax "
    f"is read, a second event follows: ce_type {FAX_READ_EVENT_TYPE}, ce_id = fax id + "
    "'.read', data FaxReadData (the text per page); it never delays the first.",
    7,
    stage="routed",
)
"""The per-user topics, made by the router on demand from its template (this is the default)."""

USER_TOPIC_TEMPLATE = USER_TOPIC.name
PIPELINE_TOPICS = tuple(topic.name for topic in TOPICS)
TOPICS_BY_NAME = {topic.name: topic for topic in TOPICS}
