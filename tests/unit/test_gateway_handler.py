"""The gateway's app with FastStream's in-memory broker: a webhook in, one record out."""

from __future__ import annotations

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.contracts import CORRELATION_HEADER, WEBHOOK_RECEIVED, WebhookReceived
from tests.fakes import Collector


async def test_a_webhook_is_recorded_once_with_its_delivery_id_as_correlation_id() -> None:
    broker = KafkaBroker()
    gateway = create_app(GatewaySettings(), broker=broker)
    out = Collector(broker, WEBHOOK_RECEIVED)
    transport = httpx.ASGITransport(app=gateway)
    async with (
        TestKafkaBroker(broker),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as http,
    ):
        answer = await http.post(
            "/webhooks/efax",
            content=b'{"fax_id": "f1"}',
            headers={"content-type": "application/json", "x-hmac-signature": "ab"},
        )
    assert answer.status_code == 200
    (sent,) = out.sent
    delivery = WebhookReceived.model_validate_json(sent.value)
    assert sent.key == b"f1"
    assert sent.headers[CORRELATION_HEADER] == delivery.delivery_id
    assert sent.headers["traceparent"].startswith("00-")


async def test_a_traceparent_sent_by_the_caller_is_not_continued() -> None:
    """Anyone on the internet can post a webhook: its trace context is not ours to join."""
    broker = KafkaBroker()
    gateway = create_app(GatewaySettings(), broker=broker)
    out = Collector(broker, WEBHOOK_RECEIVED)
    foreign = "0af7651916cd43dd8448eb211c80319c"
    transport = httpx.ASGITransport(app=gateway)
    async with (
        TestKafkaBroker(broker),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as http,
    ):
        answer = await http.post(
            "/webhooks/efax",
            content=b'{"fax_id": "f1"}',
            headers={
                "content-type": "application/json",
                "traceparent": f"00-{foreign}-b7ad6b7169203331-01",
            },
        )
    assert answer.status_code == 200
    (sent,) = out.sent
    assert sent.headers["traceparent"].startswith("00-")
    assert foreign not in sent.headers["traceparent"]
