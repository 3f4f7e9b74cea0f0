"""The gateway's app with FastStream's in-memory broker: a webhook in, one record out."""

from __future__ import annotations

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.contracts import CORRELATION_HEADER, WEBHOOK_RECEIVED, WebhookReceived
from tests.fakes import Collector


async def post_webhook(headers: dict[str, str]) -> tuple[int, list]:
    """POST one small body to a gateway on the in-memory broker: the answer, the records sent."""
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
            headers={"content-type": "application/json", **headers},
        )
    return answer.status_code, out.sent


async def test_a_webhook_is_recorded_once_with_its_delivery_id_as_correlation_id() -> None:
    status, sent_records = await post_webhook({"x-hmac-signature": "ab"})
    assert status == 200
    (sent,) = sent_records
    delivery = WebhookReceived.model_validate_json(sent.value)
    assert sent.key == b"f1"
    assert sent.headers[CORRELATION_HEADER] == delivery.delivery_id
    assert sent.headers["traceparent"].startswith("00-")


async def test_a_traceparent_sent_by_the_caller_is_not_continued() -> None:
    """Anyone on the internet can post a webhook: its trace context is not ours to join."""
    foreign = "0af7651916cd43dd8448eb211c80319c"
    status, sent_records = await post_webhook({"traceparent": f"00-{foreign}-b7ad6b7169203331-01"})
    assert status == 200
    (sent,) = sent_records
    assert sent.headers["traceparent"].startswith("00-")
    assert foreign not in sent.headers["traceparent"]
