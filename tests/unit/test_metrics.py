"""The metrics count what the logic decided, once it is written; /metrics speaks Prometheus."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.poller.scan import Freshness
from services.router.logic import Routing, tell
from services.router.rules import Rule, Rules
from services.verifier.logic import DuplicateWindow, Verification, decide_batch
from shared import metrics
from shared.kafka import Parsed
from tests.builders import API_BASE, APP_ID, SECRET, delivery, notification, stored
from tests.fakes import FakeStore


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def record(raw: bytes) -> SimpleNamespace:
    return SimpleNamespace(value=raw, headers=[], topic="fax.webhook.received", partition=0)


def verification() -> Verification:
    return Verification({APP_ID: [SECRET]}, API_BASE, DuplicateWindow(60, 1000))


def test_forgeries_and_duplicates_are_counted_apart_and_only_once_written() -> None:
    body = json.dumps(notification()).encode()
    good = delivery(body).model_dump_json().encode()
    forged = delivery(body, signature="00" * 32).model_dump_json().encode()
    before = (
        value("faxrelay_deliveries_rejected_total", reason="bad_signature"),
        value("faxrelay_deliveries_duplicate_total"),
        value("faxrelay_faxes_notified_total", source="webhook"),
    )
    outgoing, written = decide_batch([record(good), record(forged), record(good)], verification())
    assert len(outgoing) == 3
    assert value("faxrelay_deliveries_rejected_total", reason="bad_signature") == before[0]
    assert written is not None
    written()
    after = (
        value("faxrelay_deliveries_rejected_total", reason="bad_signature"),
        value("faxrelay_deliveries_duplicate_total"),
        value("faxrelay_faxes_notified_total", source="webhook"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


def test_routing_counts_events_by_destination_kind_and_the_age_of_the_fax() -> None:
    fax = stored(completed_at=datetime.now(UTC) - timedelta(seconds=90))
    rules = Rules(rules=[Rule(name="all", topics=["faxes.archive"])])
    routing = Routing(
        rules, "faxes.user.{user_id}", "/faxrelay/router", None, timedelta(0), FakeStore().find
    )
    before = (
        value("faxrelay_events_routed_total", destination="user"),
        value("faxrelay_events_routed_total", destination="rule"),
        value("faxrelay_faxes_routed_total"),
        value("faxrelay_fax_age_at_routing_seconds_count"),
        value("faxrelay_fax_age_at_routing_seconds_bucket", le="60.0"),
    )
    tell([Parsed(fax, {}, None)], routing, datetime.now(UTC))  # type: ignore[arg-type]
    after = (
        value("faxrelay_events_routed_total", destination="user"),
        value("faxrelay_events_routed_total", destination="rule"),
        value("faxrelay_faxes_routed_total"),
        value("faxrelay_fax_age_at_routing_seconds_count"),
        value("faxrelay_fax_age_at_routing_seconds_bucket", le="60.0"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1, 0]


async def test_the_gateway_serves_prometheus_text_counting_accepted_and_refused() -> None:
    broker = KafkaBroker()
    gateway = create_app(GatewaySettings(), broker=broker)
    accepted = value("faxrelay_webhooks_accepted_total")
    refused = value("faxrelay_webhooks_refused_total", reason="unsupported_media_type")
    transport = httpx.ASGITransport(app=gateway)
    public, internal = "http://gateway:8443", "http://gateway:9100"  # GatewaySettings' ports
    async with (
        TestKafkaBroker(broker),
        httpx.AsyncClient(transport=transport, base_url=public) as http,
    ):
        json_type = {"content-type": "application/json"}
        await http.post("/webhooks/efax", content=b'{"fax_id": "f1"}', headers=json_type)
        await http.post("/webhooks/efax", content=b"x", headers={"content-type": "text/plain"})
        answer = await http.get(f"{internal}/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert families["faxrelay_webhooks_accepted"].samples[0].value == accepted + 1
    samples = {
        s.labels.get("reason"): s.value
        for s in families["faxrelay_webhooks_refused"].samples
        if s.name.endswith("_total")
    }
    assert samples["unsupported_media_type"] == refused + 1
    assert "faststream_published_messages" in families  # FastStream's middleware is on


def test_a_consumer_serves_metrics_on_its_port_and_stops(unused_tcp_port: int) -> None:
    stop = metrics.serve("127.0.0.1", unused_tcp_port)
    assert stop is not None
    try:
        answer = httpx.get(f"http://127.0.0.1:{unused_tcp_port}/metrics")
        assert "faxrelay_faxes_stored_total" in answer.text
    finally:
        stop()
    assert metrics.serve("127.0.0.1", 0) is None


def test_a_taken_port_leaves_the_service_running_without_metrics(unused_tcp_port: int) -> None:
    stop = metrics.serve("127.0.0.1", unused_tcp_port)
    assert stop is not None
    try:
        assert metrics.serve("127.0.0.1", unused_tcp_port) is None
    finally:
        stop()


def test_lag_is_exported_per_group_topic_and_partition() -> None:
    class Admin:
        def lag(self, group_id: str, topic: str) -> dict[int, int]:
            return {0: 3, 1: 0}

    group = f"g-{uuid.uuid4().hex[:6]}"
    metrics.LagWatch(Admin, {group: ["fax.stored"]}).read_once(Admin())
    labels = {"group": group, "topic": "fax.stored"}
    assert value("faxrelay_consumer_lag_records", **labels, partition="0") == 3
    assert value("faxrelay_consumer_lag_records", **labels, partition="1") == 0


def test_the_cursor_age_is_that_of_the_stalest_user_still_polled() -> None:
    fresh = Freshness()
    a, u1, u2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    fresh.scanned(a, u1, now=100)
    fresh.scanned(a, u2, now=160)
    assert fresh.age_s(now=200) == 100
    fresh.dropped(a, u1)
    assert fresh.age_s(now=200) == 40
    fresh.dropped(a, u2)
    assert fresh.age_s(now=200) == 0


def test_no_metric_is_labelled_by_an_id() -> None:
    forbidden = {"fax_id", "user_id", "app_id", "delivery_id", "id"}
    for name in metrics.__all__:
        metric = getattr(metrics, name)
        labels = set(getattr(metric, "_labelnames", ()))
        assert not labels & forbidden, name


async def test_publish_metrics_name_a_users_topic_by_its_pattern_not_the_user_id() -> None:
    registry = CollectorRegistry()
    broker = KafkaBroker(middlewares=[metrics.kafka_middleware("router", registry)])
    user = uuid.uuid4()
    async with TestKafkaBroker(broker) as br:
        await br.publish(b"{}", f"faxes.user.{user}")
        await br.publish(b"{}", "fax.stored")
    labels = {
        sample.labels.get("destination")
        for family in registry.collect()
        for sample in family.samples
        if family.name.startswith("faststream_published")
    }
    assert "faxes.user.*" in labels
    assert "fax.stored" in labels
    assert not any(str(user) in str(label) for label in labels)


def test_a_topic_label_keeps_names_without_a_uuid() -> None:
    assert metrics.topic_label("fax.webhook.received") == "fax.webhook.received"
    assert metrics.topic_label(f"team.{uuid.uuid4()}.inbox") == "team.*.inbox"
