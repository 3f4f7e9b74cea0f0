"""The verifier's handler in memory: a delivery in, the right record out, offsets only after."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.verifier.app import create_app
from services.verifier.settings import VerifierSettings
from shared.contracts import (
    CORRELATION_HEADER,
    FAX_NOTIFIED,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
    FaxNotified,
    WebhookRejected,
)
from tests.builders import API_BASE, APP_ID, SECRET, delivery, notification
from tests.fakes import Collector, failing_outputs, settlements

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def settings() -> VerifierSettings:
    return VerifierSettings(
        efax_api_base_url=API_BASE,
        apps=[{"app_id": APP_ID, "hmac_secrets": [SECRET.decode()]}],
    )


def app_and_outputs() -> tuple[KafkaBroker, Collector]:
    broker = KafkaBroker()
    create_app(settings(), broker=broker)
    return broker, Collector(broker, FAX_NOTIFIED, WEBHOOK_REJECTED)


async def test_a_signed_delivery_becomes_one_fax_notified_keyed_by_fax_id_with_its_trace() -> None:
    broker, out = app_and_outputs()
    body = notification()
    async with TestKafkaBroker(broker) as br:
        await br.publish(
            delivery(body).model_dump_json().encode(),
            WEBHOOK_RECEIVED,
            headers={CORRELATION_HEADER: "corr-1", "traceparent": INCOMING},
        )
    (sent,) = out.sent
    assert sent.topic == FAX_NOTIFIED
    assert sent.key == body["fax_id"].encode()
    assert str(FaxNotified.model_validate_json(sent.value).fax_id) == body["fax_id"]
    assert sent.headers[CORRELATION_HEADER] == "corr-1"
    # the same trace, continued by the verifier's own span
    assert sent.headers["traceparent"].split("-")[1] == INCOMING.split("-")[1]
    assert sent.headers["traceparent"] != INCOMING


async def test_a_forged_delivery_is_rejected_for_audit_and_never_notified() -> None:
    broker, out = app_and_outputs()
    async with TestKafkaBroker(broker) as br:
        await br.publish(delivery(signature="0" * 64).model_dump_json().encode(), WEBHOOK_RECEIVED)
    (sent,) = out.sent
    assert sent.topic == WEBHOOK_REJECTED
    assert WebhookRejected.model_validate_json(sent.value).reason == "bad_signature"


async def test_an_unreadable_record_is_kept_as_a_rejection_not_dropped() -> None:
    broker, out = app_and_outputs()
    async with TestKafkaBroker(broker) as br:
        await br.publish(b"not a delivery", WEBHOOK_RECEIVED)
    assert [s.topic for s in out.sent] == [WEBHOOK_REJECTED]


async def test_the_same_fax_twice_is_notified_once_and_rejected_as_duplicate_once() -> None:
    broker, out = app_and_outputs()
    body = notification()
    async with TestKafkaBroker(broker) as br:
        for _ in range(2):
            await br.publish(delivery(body).model_dump_json().encode(), WEBHOOK_RECEIVED)
    assert [s.topic for s in out.sent] == [FAX_NOTIFIED, WEBHOOK_REJECTED]
    assert json.loads(out.sent[1].value)["reason"] == "duplicate"


async def test_a_batch_is_committed_only_after_its_output_is_acknowledged() -> None:
    broker, _ = app_and_outputs()
    async with TestKafkaBroker(broker) as br:
        with settlements() as (ack, nack):
            await br.publish(delivery().model_dump_json().encode(), WEBHOOK_RECEIVED)
    assert (ack.call_count, nack.call_count) == (1, 0)


async def test_a_failed_publish_nacks_the_batch_and_the_fax_is_not_yet_a_duplicate() -> None:
    broker, out = app_and_outputs()
    record = delivery(notification()).model_dump_json().encode()
    async with TestKafkaBroker(broker) as br:
        with (
            settlements() as (ack, nack),
            failing_outputs(br, WEBHOOK_RECEIVED),
            pytest.raises(ConnectionError),
        ):
            await br.publish(record, WEBHOOK_RECEIVED)
        assert (ack.call_count, nack.call_count) == (0, 1)
        await br.publish(record, WEBHOOK_RECEIVED)  # the redelivery
    assert [s.topic for s in out.sent] == [FAX_NOTIFIED]
