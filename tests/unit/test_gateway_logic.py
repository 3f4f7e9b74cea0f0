"""The gateway's checks, and the ASGI app answering without a broker behind it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from services.gateway import logic
from services.gateway.asgi import Gateway
from services.gateway.settings import GatewaySettings
from tests.builders import notification


@pytest.mark.parametrize(
    ("method", "content_type", "length", "status"),
    [
        ("GET", "application/json", None, 405),
        ("PUT", "application/json", None, 405),
        ("POST", "text/plain", None, 415),
        ("POST", "", None, 415),
        ("POST", "application/json; charset=utf-8", "10", None),
        ("POST", "application/json", str(10**9), 413),
        ("POST", "application/json", "ten", 400),
    ],
)
def test_requests_are_refused_before_reading_the_body(
    method: str, content_type: str, length: str | None, status: int | None
) -> None:
    refusal = logic.refuse_request(method, content_type, length, 65536)
    assert (refusal.status if refusal else None) == status


def test_the_partition_key_is_the_fax_id_when_the_body_names_one() -> None:
    assert logic.partition_key(b'{"fax_id": "abc"}') == b"abc"
    assert logic.partition_key(b'{"fax_id": 12}') is None
    assert logic.partition_key(b"[1]") is None
    assert logic.partition_key(b"not json") is None
    assert logic.partition_key(b'{"fax_id": "' + b"x" * 100 + b'"}') is None


class RecordingBroker:
    """Stands in for the broker in fast tests: records publishes, or fails like a dead broker."""

    def __init__(self, fail: bool = False, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.published: list[tuple[bytes, str, bytes | None]] = []

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, **_: Any) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("broker down")
        self.published.append((body, topic, key))

    async def ping(self, timeout: float) -> bool:
        return not self.fail


def client(broker: RecordingBroker, internal: bool = False, **settings: Any) -> httpx.AsyncClient:
    """The gateway as its public port (webhooks) or its internal port (health, metrics) sees it."""
    gateway = Gateway(GatewaySettings(**settings), broker)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=gateway)
    port = gateway.settings.metrics_port if internal else gateway.settings.gateway_port
    return httpx.AsyncClient(transport=transport, base_url=f"http://gateway:{port}")


async def test_a_delivery_is_answered_success_after_it_is_published() -> None:
    broker = RecordingBroker()
    async with client(broker) as http:
        answer = await http.post(
            "/webhooks/efax",
            content=b'{"fax_id": "f1"}',
            headers={"content-type": "application/json", "x-hmac-signature": "ab"},
        )
    assert answer.status_code == 200
    assert answer.json() == {"status": "SUCCESS"}
    ((body, topic, key),) = broker.published
    assert topic == "fax.webhook.received"
    assert key == b"f1"
    envelope = json.loads(body)
    assert envelope["signature"] == "ab"


async def test_a_delivery_the_broker_cannot_take_is_answered_503() -> None:
    async with client(RecordingBroker(fail=True)) as http:
        answer = await http.post(
            "/webhooks/efax", content=b"{}", headers={"content-type": "application/json"}
        )
    assert answer.status_code == 503


async def test_a_broker_slower_than_the_deadline_gets_503() -> None:
    async with client(RecordingBroker(delay=1.0), gateway_publish_timeout_s=0.05) as http:
        answer = await http.post(
            "/webhooks/efax", content=b"{}", headers={"content-type": "application/json"}
        )
    assert answer.status_code == 503


async def test_a_body_over_the_limit_without_content_length_is_refused_413() -> None:
    broker = RecordingBroker()

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 1024

    async with client(broker, gateway_max_body_bytes=4096) as http:
        answer = await http.post(
            "/webhooks/efax", content=chunks(), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413
    assert broker.published == []


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("/webhooks/efax", "POST", b"  ", 400),
        ("/webhooks/efax", "GET", b"", 405),
        ("/elsewhere", "POST", b"{}", 404),
    ],
)
async def test_bad_requests_get_a_json_error_and_publish_nothing(
    path: str, method: str, body: bytes, status: int
) -> None:
    broker = RecordingBroker()
    async with client(broker) as http:
        answer = await http.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == status
    assert "error" in answer.json()
    assert broker.published == []


async def test_several_webhook_paths_can_be_served() -> None:
    broker = RecordingBroker()
    async with client(broker, gateway_webhook_paths=["/a", "/b"]) as http:
        for path in ("/a", "/b"):
            answer = await http.post(
                path, content=b"{}", headers={"content-type": "application/json"}
            )
            assert answer.status_code == 200
    assert len(broker.published) == 2


async def test_readiness_follows_the_broker() -> None:
    async with client(RecordingBroker(fail=True), internal=True) as http:
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200


async def test_the_public_port_serves_only_webhooks_and_the_internal_port_no_webhooks() -> None:
    broker = RecordingBroker()
    json_type = {"content-type": "application/json"}
    async with client(broker) as public, client(broker, internal=True) as internal:
        for path in ("/metrics", "/readyz", "/healthz"):
            answer = await public.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"] == "not_found"
            assert (await internal.get(path)).status_code == 200, path
        assert (
            await internal.post("/webhooks/efax", content=b"{}", headers=json_type)
        ).status_code == 404
        assert (
            await public.post("/webhooks/efax", content=b"{}", headers=json_type)
        ).status_code == 200
    assert len(broker.published) == 1


def test_the_internal_port_cannot_be_the_public_one() -> None:
    with pytest.raises(ValueError, match="FAXRELAY_METRICS_PORT must differ"):
        GatewaySettings(gateway_port=9100, metrics_port=9100)
    assert GatewaySettings(gateway_port=0, metrics_port=0).metrics_port == 0  # both may be off


async def test_a_source_past_its_rate_is_answered_429_while_another_source_is_served() -> None:
    broker = RecordingBroker()
    settings = {
        "gateway_rate_limit_per_s": 0.001,
        "gateway_rate_limit_burst": 3,
        "gateway_trust_forwarded_for": True,
    }
    headers = {"content-type": "application/json", "x-forwarded-for": "203.0.113.7"}
    async with client(broker, **settings) as http:
        flood = [
            (await http.post("/webhooks/efax", content=b"{}", headers=headers)) for _ in range(5)
        ]
        other = await http.post(
            "/webhooks/efax", content=b"{}", headers={**headers, "x-forwarded-for": "192.0.2.1"}
        )
    assert [a.status_code for a in flood] == [200, 200, 200, 429, 429]
    assert flood[-1].headers["retry-after"] == "1"
    assert other.status_code == 200
    assert len(broker.published) == 4


def test_the_rate_limit_refills_with_time_and_remembers_a_bounded_number_of_sources() -> None:
    limit = logic.RateLimit(rate=2.0, burst=2, sources=3)
    assert [limit.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert limit.allow("a", 0.5)  # one token back after half a second
    for n in range(10):
        limit.allow(f"flood-{n}", 1.0)
    assert len(limit._buckets) == 3
    assert logic.RateLimit(rate=0, burst=1).allow("a", 0.0)


def test_the_default_body_limit_fits_a_real_webhook_with_room_but_not_a_flood() -> None:
    limit = GatewaySettings().gateway_max_body_bytes
    assert limit == 16 * 1024
    assert limit >= 16 * len(json.dumps(notification()).encode())
