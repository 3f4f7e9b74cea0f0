"""The one registry of topics: name, model, key, description, retention and compaction."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import (
    BaseModel,
)

from shared.contracts.events import (
    FAX_READ_EVENT_TYPE,
    FAX_RECEIVED_EVENT_TYPE,
    UserEventData,
)
from shared.contracts.names import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_READ,
    FAX_STORED,
    OUTBOUND_NOTIFIED,
    PING_RECEIVED,
    READ_FAILED,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
)
from shared.contracts.records import (
    DownloadFailed,
    FaxNotified,
    FaxRead,
    FaxStored,
    PingReceived,
    ReadFailed,
    WebhookReceived,
    WebhookRejected,
)
from shared.contracts.vendor import InboundNotification

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

FAX_DOCUMENT_FHIR_EVENT_TYPE = "com.faxrelay.fax.document.fhir.v1"
RULE_TOPIC = Topic(
    "faxes.{rule_topic}",
    UserEventData,
    "user_id",
    "The topics routing rules name (the router's rules file, e.g. faxes.type.referral, "
    "faxes.junk, faxes.review), made by the router on demand like the users' topics. A rule's "
    "`format` says what they get. cloudevent (the default): the same CloudEvents as a user's "
    f"topic ({FAX_RECEIVED_EVENT_TYPE}, then {FAX_READ_EVENT_TYPE}); a rule on content (type, "
    "confidence, needs_review, fields, text) matches only once the fax is read, and its topics "
    "then get both events together. fhir: once the fax is read, one CloudEvent per document "
    f"found, ce_type {FAX_DOCUMENT_FHIR_EVENT_TYPE}, ce_id = fax id + '.document.<n>', "
    "content-type application/fhir+json, value = a FHIR R4 DocumentReference (LOINC type where "
    "one exists, patient hints as subject.display and an MRN identifier, never a resolved "
    "reference; the image link, size and base64 SHA-1 in content.attachment; the fax id as "
    "masterIdentifier). both: all of these.",
    7,
)
"""Topics named by routing rules; not made by the init, never a pipeline topic."""
