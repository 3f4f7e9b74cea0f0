"""Verifier: `fax.webhook.received` -> `fax.notified`, or a reasoned rejection kept for audit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from aiokafka import ConsumerRecord
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.verifier.logic import DuplicateWindow, Verification, decide_batch
from services.verifier.settings import VerifierSettings
from shared import health
from shared.contracts import (
    FAX_NOTIFIED,
    OUTBOUND_NOTIFIED,
    PING_RECEIVED,
    TOPICS_BY_NAME,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
)
from shared.kafka import Decision, Sink, batch_subscriber, declare, make_broker, records

OUTPUTS = (FAX_NOTIFIED, WEBHOOK_REJECTED, PING_RECEIVED, OUTBOUND_NOTIFIED)


def create_app(settings: VerifierSettings, *, broker: KafkaBroker | None = None) -> FastStream:
    broker = broker or make_broker(settings)
    app = FastStream(broker)
    health.bound_the_stop(app, settings.shutdown_timeout_s)  # first: it watches every closer
    health.instrument(broker, settings)
    health.refuse_bad_kafka_settings_at_start(app, settings)
    health.beat_while_running(app, settings)
    health.serve_metrics(app, settings)
    health.watch_lag(app, settings)
    secrets = {
        str(a.app_id): [s.get_secret_value().encode() for s in a.hmac_secrets]
        for a in settings.apps
    }
    window = DuplicateWindow(
        settings.verifier_duplicate_window_s, settings.verifier_duplicate_window_size
    )
    max_age = timedelta(seconds=settings.verifier_max_webhook_age_s)
    verification = Verification(secrets, str(settings.efax_api_base_url), window, max_age)
    declare(broker, *(TOPICS_BY_NAME[topic] for topic in OUTPUTS))
    sink = Sink(broker, settings, settings.verifier_group_id)
    app.after_shutdown(sink.close)

    async def decide(batch: Sequence[ConsumerRecord[bytes, bytes]]) -> Decision:
        return decide_batch(batch, verification)  # remembered and counted once written

    @batch_subscriber(
        broker, WEBHOOK_RECEIVED, settings, settings.verifier_group_id, settings.verifier_batch_size
    )
    async def on_webhook_received(message: KafkaMessage) -> None:
        # Unreadable records are not skipped here: each becomes a rejection, kept for audit.
        await sink.write(records(message), lambda record: record, decide)

    return app
