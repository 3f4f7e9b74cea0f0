"""The AsyncAPI document of every topic faxrelay writes, generated from the contracts.

`python -m faxrelay.asyncapi > docs/asyncapi.yaml` regenerates it; a test fails when the
committed document drifts from the code.
"""

from __future__ import annotations

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared import contracts as c

TOPICS = {
    c.WEBHOOK_RECEIVED: (c.WebhookReceived, "Every webhook delivery as the gateway took it."),
    c.WEBHOOK_REJECTED: (c.WebhookRejected, "Deliveries refused by the verifier, for audit."),
    c.PING_RECEIVED: (c.PingReceived, "Verified webhook tests from eFax."),
    c.OUTBOUND_NOTIFIED: (c.InboundNotification, "Verified OUTBOUND notifications."),
    c.FAX_NOTIFIED: (c.FaxNotified, "Verified faxes to download, from webhooks and polling."),
    c.FAX_STORED: (c.FaxStored, "Faxes stored in the object store."),
    c.DOWNLOAD_FAILED: (c.DownloadFailed, "Faxes that could not be stored, ready to replay."),
}

USER_TOPIC = "faxes.user.{user_id}"
USER_TOPIC_DESCRIPTION = (
    "One CloudEvent per fax for its owner, Kafka protocol binding, binary mode: attributes in "
    "ce_* headers (ce_specversion 1.0, ce_id = fax id, ce_source, "
    f"ce_type {c.FAX_RECEIVED_EVENT_TYPE}, ce_time = completion time, ce_subject = fax id, "
    "ce_correlationid), content-type application/json, key = user id, value = this data. "
    "Drop duplicates by ce_id."
)


def document() -> str:
    broker = KafkaBroker("kafka:9092", description="faxrelay topics")
    for topic, (model, description) in TOPICS.items():
        broker.publisher(topic, schema=model, description=description, title=topic)
    broker.publisher(
        USER_TOPIC,
        schema=c.FaxReceivedData,
        description=USER_TOPIC_DESCRIPTION,
        title="faxes.user",
    )
    spec = AsyncAPI(
        broker,
        title="faxrelay",
        version="1.0.0",
        description="Inbound faxes from the eFax Enterprise API, verified, stored and routed.",
    )
    # FastStream orders channels by hash; sort so the document is stable across runs
    generated = yaml.safe_load(spec.to_specification().to_yaml())
    return str(yaml.safe_dump(generated, sort_keys=True, allow_unicode=True))


if __name__ == "__main__":
    print(document(), end="")
