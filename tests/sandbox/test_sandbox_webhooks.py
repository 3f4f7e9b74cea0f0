"""Webhook deliveries: shape, HMAC (checked by the vendor's Node sample), retries, outages,
duplicates, order, hostile posts and throughput."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from conftest import (
    APP_A,
    SECRET_A,
    USER_A1,
    USER_A2,
    Efax,
    Receiver,
    SandboxFactory,
    apps_for,
    node_verify,
)

from sandbox import Sandbox

SEED_KEYS = [
    "app_id",
    "user_id",
    "notification_id",
    "direction",
    "completed_timestamp",
    "duration",
    "pages",
    "fax_id",
    "sending_fax_number",
    "receiving_fax_number",
    "resource_url",
    "originating_fax_tsid",
]


@pytest.mark.tools
def test_webhook_has_the_seed_shape_and_a_signature_nodes_sample_accepts(
    sb: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    faxes = sb.create_faxes(app_id=APP_A, count=6, pages=3)
    posts = receiver.wait_for(6)
    by_fax = {json.loads(p.body)["fax_id"]: p for p in posts}
    assert set(by_fax) == {f.fax_id for f in faxes}
    for fax in faxes:
        post = by_fax[fax.fax_id]
        assert post.headers["Content-Type"] == "application/json"
        payload = json.loads(post.body)
        assert list(payload) == SEED_KEYS
        assert payload["resource_url"] == f"{sb.base_url}/faxes/{fax.fax_id}/image"
        assert (payload["app_id"], payload["direction"], payload["pages"]) == (APP_A, "INBOUND", 3)
        assert payload["user_id"] in (USER_A1, USER_A2)
        assert payload["notification_id"] == fax.notification_id
        assert post.path == "/InboundFaxService/Receive"
    signatures = [p.headers["X-HMAC-Signature"] for p in posts]
    assert all(s == s.lower() and len(s) == 64 for s in signatures)
    assert (
        node_verify(tmp_path, [(p.body, p.headers["X-HMAC-Signature"], SECRET_A) for p in posts])
        == [True] * 6
    )
    assert node_verify(tmp_path, [(posts[0].body, signatures[0], "other")]) == [False]


@pytest.mark.tools
def test_body_is_indented_like_the_seed_so_reserializing_breaks_the_signature(
    sb: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    sb.create_faxes(app_id=APP_A)
    (post,) = receiver.wait_for(1)
    assert post.body.startswith(b'{\n   "app_id": ')
    reserialized = json.dumps(json.loads(post.body)).encode()
    assert node_verify(tmp_path, [(reserialized, post.headers["X-HMAC-Signature"], SECRET_A)]) == [
        False
    ]


def test_field_variants_are_the_same_in_webhook_listing_and_metadata(
    make_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    sb = make_sandbox(plus_number_rate=0.5, unavailable_rate=0.3, seed=3)
    faxes = sb.create_faxes(user_id=USER_A1, count=40)
    bodies = {b["fax_id"]: b for b in (json.loads(p.body) for p in receiver.wait_for(40))}
    listing = {f["fax_id"]: f for f in Efax(sb.base_url).received().json()["faxes"]}
    endings = set()
    for fax in faxes:
        hook, row = bodies[fax.fax_id], listing[fax.fax_id]
        assert hook["completed_timestamp"] == row["completed_timestamp"]
        assert hook["sending_fax_number"] == row["originating_fax_number"]
        assert hook["receiving_fax_number"] == row["destination_fax_number"]
        assert hook["originating_fax_tsid"] == row["originating_fax_tsid"]
        endings.add(hook["completed_timestamp"][19:])
    assert endings == {"Z", "+00:00", ".000+0000"}
    numbers = [b["sending_fax_number"] for b in bodies.values()]
    assert "unavailable" in numbers
    assert any(n.startswith("+") for n in numbers)
    assert any(n[0].isdigit() for n in numbers)
    assert any(b["originating_fax_tsid"] == "unavailable" for b in bodies.values())


def test_receiver_failing_the_first_two_posts_sees_three_attempts(
    make_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    sb = make_sandbox(time_scale=0.001)
    started = time.monotonic()
    sb.create_faxes(app_id=APP_A)
    assert sb.wait_for_deliveries()
    elapsed = time.monotonic() - started
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1
    log = [(d.attempt, d.status, d.http_status) for d in sb.deliveries()]
    assert log == [(1, "FAILED", 500), (2, "FAILED", 500), (3, "SUCCESS", 200)]
    assert 0.6 <= elapsed < 5, "two retries at 300 s * 0.001"


def test_notification_is_gone_after_five_retries_and_every_attempt_is_logged(
    sb: Sandbox, receiver: Receiver, efax: Efax
) -> None:
    receiver.status = 503
    (fax,) = sb.create_faxes(app_id=APP_A)
    assert sb.wait_for_deliveries()
    assert len(receiver.requests) == 6
    log = efax.request("GET", "/notifications").json()["notifications"]
    assert [(d["attempt"], d["status"], d["http_status"]) for d in log] == [
        (n, "FAILED", 503) for n in range(1, 7)
    ]
    assert {d["fax_id"] for d in log} == {fax.fax_id}
    assert sb.stats()["webhooks_exhausted"] == 1
    time.sleep(0.1)
    assert len(receiver.requests) == 6
    pending = efax.received(image_downloaded="false").json()["faxes"]
    assert [f["fax_id"] for f in pending] == [fax.fax_id]


def test_outage_fails_attempts_without_sending_until_it_ends(
    sb: Sandbox, receiver: Receiver
) -> None:
    sb.start_outage(30)
    sb.create_faxes(app_id=APP_A, count=2)
    assert sb.wait_for_deliveries()
    assert receiver.requests == []
    log = sb.deliveries()
    assert len(log) == 12
    assert {(d.status, d.error, d.http_status) for d in log} == {("FAILED", "outage", None)}
    sb.end_outage()
    sb.create_faxes(app_id=APP_A)
    receiver.wait_for(1)


def test_duplicates_carry_the_same_notification_and_signature(
    sb: Sandbox, receiver: Receiver
) -> None:
    (fax,) = sb.create_faxes(app_id=APP_A, deliver=False)
    assert sb.duplicate(fax.fax_id, times=3) == 3
    posts = receiver.wait_for(3)
    assert len({p.body for p in posts}) == 1
    assert len({p.headers["X-HMAC-Signature"] for p in posts}) == 1
    assert json.loads(posts[0].body)["notification_id"] == fax.notification_id


def test_reversed_batch_arrives_newest_first(sb: Sandbox, receiver: Receiver) -> None:
    faxes = sb.create_faxes(user_id=USER_A1, count=5, order="reversed")
    arrived = [b["fax_id"] for b in (json.loads(p.body) for p in receiver.wait_for(5))]
    assert arrived == [f.fax_id for f in reversed(faxes)]
    shuffled = sb.create_faxes(user_id=USER_A1, count=8, order="shuffled")
    later = [json.loads(p.body)["fax_id"] for p in receiver.wait_for(13)[5:]]
    assert sorted(later) == sorted(f.fax_id for f in shuffled)
    assert later != [f.fax_id for f in shuffled]


@pytest.mark.tools
def test_hostile_deliveries_are_caught_by_the_checks_the_vendor_asks_for(
    sb: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    kinds = ["wrong_secret", "modified_body", "malformed_json", "foreign_resource_url"]
    records = [sb.send_hostile(kind, fax.fax_id) for kind in kinds]
    assert [r["http_status"] for r in records] == [200] * 4
    posts = receiver.wait_for(4)
    verified = node_verify(
        tmp_path, [(p.body, p.headers["X-HMAC-Signature"], SECRET_A) for p in posts]
    )
    assert verified == [False, False, True, True]
    modified = json.loads(posts[1].body)
    assert modified["fax_id"] == fax.fax_id
    assert modified["duration"] != fax.duration
    assert b'"\n   "originating_fax_tsid"' in posts[2].body
    try:
        json.loads(posts[2].body)
        raise AssertionError("malformed body parsed")
    except json.JSONDecodeError:
        pass
    foreign = json.loads(posts[3].body)["resource_url"]
    assert not foreign.startswith(sb.base_url)
    assert foreign.endswith(f"/faxes/{fax.fax_id}/image")
    assert len(sb.hostile_log()) == 4
    assert sb.deliveries() == []


def test_a_fax_that_disappears_after_its_notification_is_404(
    sb: Sandbox, receiver: Receiver, efax: Efax
) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, disappear=True)
    (post,) = receiver.wait_for(1)
    assert json.loads(post.body)["fax_id"] == fax.fax_id
    assert efax.request("GET", f"/faxes/{fax.fax_id}/image").status_code == 404


@pytest.mark.tools
def test_a_thousand_concurrent_webhooks_all_arrive_signed(
    make_sandbox: SandboxFactory, node_receiver: str
) -> None:
    # Throughput is measured by `make bench`, not asserted here.
    sb = make_sandbox(apps=apps_for(node_receiver), unique_documents=False, webhook_concurrency=8)
    faxes = sb.create_faxes(app_id=APP_A, count=1000)
    assert sb.wait_for_deliveries(timeout=120)
    summary = httpx.get(node_receiver).json()
    assert summary["posts"] == summary["verified"] == 1000
    assert set(summary["fax_ids"]) == {f.fax_id for f in faxes}
    assert sb.stats()["webhooks_sent"] == 1000


def test_ping_webhook_is_posted_and_logged(sb: Sandbox, receiver: Receiver) -> None:
    client = Efax(sb.base_url)
    client.request("POST", "/notifications/ping", json={"fax_direction": "OUTBOUND"})
    (post,) = receiver.wait_for(1)
    assert json.loads(post.body)["direction"] == "OUTBOUND"
    assert sb.wait_for_deliveries()
    (entry,) = httpx.get(f"{sb.base_url}/sandbox/deliveries").json()["deliveries"]
    assert (entry["event_type"], entry["status"], entry["fax_id"]) == ("PING", "SUCCESS", None)
