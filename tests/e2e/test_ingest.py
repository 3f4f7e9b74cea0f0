"""Gateway and verifier on the real stack: bad input answered clearly, forgeries kept for audit,
nothing unverified fetched or routed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contracts import FAX_NOTIFIED, PING_RECEIVED, WEBHOOK_REJECTED
from tests.e2e.conftest import BOTH_BROKERS, System, read_topic, wait_until

pytestmark = pytest.mark.e2e


def signed_post(system: System, body: bytes, secret: str | None = None) -> httpx.Response:
    key = (secret or system.account.hmac_secret).encode()
    signature = hmac.new(key, body, hashlib.sha256).hexdigest()
    return httpx.post(
        f"{system.gateway_url}/webhooks/efax",
        content=body,
        headers={"content-type": "application/json", "x-hmac-signature": signature},
        timeout=10,
    )


def notification(system: System, user: str, **changes: object) -> dict:
    fax_id = str(changes.pop("fax_id", uuid.uuid4()))
    body = {
        "app_id": system.account.app_id,
        "user_id": user,
        "notification_id": str(uuid.uuid4()),
        "direction": "INBOUND",
        "completed_timestamp": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",  # within the age bound
        "duration": 30,
        "pages": 1,
        "fax_id": fax_id,
        "sending_fax_number": "13235555555",
        "receiving_fax_number": "18885555555",
        "resource_url": f"{system.sandbox.base_url}/faxes/{fax_id}/image",
        "originating_fax_tsid": "TEST",
    }
    body.update(changes)
    return body


def body_of(rejection: bytes) -> bytes:
    return base64.urlsafe_b64decode(json.loads(rejection)["delivery"]["body"])


def rejections_with(system: System, marker: bytes, at_least: int) -> list[dict]:
    records = read_topic(
        system.stack.bootstrap_servers, WEBHOOK_REJECTED, at_least=at_least, timeout=10
    )
    found = []
    for record in records:
        rejection = json.loads(record.value)
        if marker in base64.urlsafe_b64decode(rejection["delivery"]["body"]):
            found.append(rejection)
    return found


@pytest.mark.parametrize(
    ("method", "headers", "body", "status"),
    [
        ("GET", {}, b"", 405),
        ("POST", {"content-type": "text/plain"}, b"{}", 415),
        ("POST", {"content-type": "application/json"}, b"", 400),
        ("POST", {"content-type": "application/json"}, b"{" * 200_000, 413),
    ],
)
def test_bad_requests_get_a_clear_error_and_the_gateway_keeps_serving(
    system: System, method: str, headers: dict, body: bytes, status: int
) -> None:
    answer = httpx.request(
        method, f"{system.gateway_url}/webhooks/efax", headers=headers, content=body, timeout=10
    )
    assert answer.status_code == status
    assert answer.json()["error"]
    assert httpx.get(f"{system.gateway_internal_url}/healthz", timeout=5).status_code == 200


HOSTILE = {
    "wrong_secret": "bad_signature",
    "modified_body": "bad_signature",
    "foreign_resource_url": "foreign_resource_url",
    "malformed_json": "malformed_json",
}


@BOTH_BROKERS
def test_each_hostile_delivery_from_the_sandbox_is_rejected_with_its_reason(
    system: System,
) -> None:
    (user,) = system.take_users(1)
    faxes = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=len(HOSTILE), deliver=False
    )
    for kind, fax in zip(HOSTILE, faxes, strict=True):
        system.sandbox.send_hostile(kind, fax.fax_id)
    for kind, fax in zip(HOSTILE, faxes, strict=True):
        marker = fax.fax_id.encode()
        wait_until(lambda m=marker: bool(rejections_with(system, m, 1)), 60, f"{kind} rejected")
        assert [r["reason"] for r in rejections_with(system, marker, 1)] == [HOSTILE[kind]]
        assert system.sandbox.fax(fax.fax_id).image_downloaded is False, "never fetched"
    assert (
        read_topic(system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=1, timeout=2)
        == []
    )


def test_forged_and_malformed_deliveries_posted_directly_are_rejected_with_reasons(
    system: System,
) -> None:
    (user,) = system.take_users(1)
    cases: dict[str, tuple[bytes, str | None, str]] = {}

    def case(name: str, body: bytes, secret: str | None, reason: str) -> None:
        cases[name] = (body, secret, reason)

    def signed(**changes: object) -> bytes:
        return json.dumps(notification(system, user, marker=marker_of(name), **changes)).encode()

    def marker_of(n: str) -> str:
        return f"case-{n}-{uuid.uuid4().hex}"

    name = "other_secret"
    case(name, signed(), "another-secret", "bad_signature")
    name = "unknown_app"
    case(name, signed(app_id=str(uuid.uuid4())), None, "unknown_app")
    name = "dot_dot_fax_id"
    case(name, signed(fax_id="../../tokens"), None, "invalid_payload")
    name = "lookalike_host"
    fid = str(uuid.uuid4())
    host_url = f"https://api.securedocex.com.evil.example/faxes/{fid}/image"
    case(name, signed(fax_id=fid, resource_url=host_url), None, "foreign_resource_url")
    name = "userinfo_host"
    fid = str(uuid.uuid4())
    case(
        name,
        signed(
            fax_id=fid, resource_url=f"https://api.securedocex.com@evil.example/faxes/{fid}/image"
        ),
        None,
        "foreign_resource_url",
    )
    name = "other_fax"
    fid = str(uuid.uuid4())
    other = f"{system.sandbox.base_url}/faxes/{uuid.uuid4()}/image"
    case(name, signed(fax_id=fid, resource_url=other), None, "foreign_resource_url")
    name = "deeply_nested"
    nested: object = {}
    for _ in range(40):
        nested = {"n": nested}
    case(name, signed(extra=nested), None, "invalid_payload")
    name = "non_utf8"
    case(name, b'{"marker": "' + marker_of(name).encode() + b'\xff\xfe"}', None, "malformed_json")

    markers = {}
    for n, (body, secret, _) in cases.items():
        answer = signed_post(system, body, secret)
        assert answer.status_code == 200, f"{n}: the gateway keeps every delivery for audit"
        markers[n] = body.split(b'"marker": "', 1)[1].split(b'"', 1)[0]
    for n, (_, _, reason) in cases.items():
        marker = markers[n]
        wait_until(lambda m=marker: bool(rejections_with(system, m, 1)), 60, f"{n} rejected")
        assert [r["reason"] for r in rejections_with(system, marker, 1)] == [reason], n
    assert (
        read_topic(system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=1, timeout=2)
        == []
    )


def test_a_ping_is_recorded_and_not_routed(system: System) -> None:
    notification_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "app_id": system.account.app_id,
            "notification_id": notification_id,
            "direction": "INBOUND",
            "event_type": "PING",
            "notification_config_id": "cfg-1",
        }
    ).encode()
    assert signed_post(system, body).status_code == 200

    def ping_recorded() -> bool:
        records = read_topic(system.stack.bootstrap_servers, PING_RECEIVED, at_least=1, timeout=5)
        return any(json.loads(r.value)["notification_id"] == notification_id for r in records)

    wait_until(ping_recorded, 60, "the ping on fax.ping.received")


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=50),
            lambda children: (
                st.lists(children, max_size=5)
                | st.dictionaries(st.text(max_size=10), children, max_size=5)
            ),
            max_leaves=30,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/html"]
    ),
    method=st.sampled_from(["POST", "POST", "POST", "PUT", "GET", "DELETE"]),
    signature=st.one_of(
        st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
    ),
)
def test_thousands_of_hostile_requests_get_no_5xx_and_the_pipeline_keeps_serving(
    system: System, body: bytes, content_type: str, method: str, signature: str | None
) -> None:
    headers = {"content-type": content_type}
    if signature is not None:
        headers["x-hmac-signature"] = signature
    answer = _fuzz_client().request(
        method, f"{system.gateway_url}/webhooks/efax", headers=headers, content=body
    )
    assert answer.status_code < 500, answer.text
    assert answer.status_code in {200, 400, 405, 413, 415}, answer.text
    assert answer.headers["content-type"] == "application/json", (answer.status_code, answer.text)


_CLIENT: list[httpx.Client] = []


def _fuzz_client() -> httpx.Client:
    if not _CLIENT:
        _CLIENT.append(httpx.Client(timeout=10))
    return _CLIENT[0]


def test_after_the_fuzzing_a_real_fax_still_flows_to_its_user(system: System) -> None:
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=1)
    records = read_topic(
        system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=1, timeout=90
    )
    assert [r.key for r in records] == [user.encode()]
    notified = read_topic(system.stack.bootstrap_servers, FAX_NOTIFIED, at_least=1, timeout=5)
    assert any(json.loads(r.value)["fax_id"] == fax.fax_id for r in notified)


def test_every_consumer_keeps_touching_its_heartbeat(system: System) -> None:
    for name in ("verifier", "downloader", "router", "poller"):
        path = system.stack.heartbeat_file(name)
        wait_until(path.exists, 30, f"{name} heartbeat written")
        first = path.stat().st_mtime
        wait_until(lambda p=path, t=first: p.stat().st_mtime > t, 10, f"{name} heartbeat again")


def test_a_flood_of_unsigned_bodies_stays_small_on_the_rejected_topic_while_a_fax_flows(
    system: System,
) -> None:
    """Anyone on the internet can post: 200 unsigned bodies just under the body limit reach the
    rejected topic as a digest and a prefix (bounded per record), and a real fax posted in the
    middle of the flood still reaches its user."""
    (user,) = system.take_users(1)
    marker = f"flood-{uuid.uuid4().hex}"
    junk = {"marker": marker, "app_id": system.account.app_id, "junk": "x" * 15_000}
    body = json.dumps(junk).encode()
    posts = 200
    url = f"{system.gateway_url}/webhooks/efax"
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=10) as http:
        statuses = [http.post(url, content=body, headers=headers).status_code for _ in range(100)]
        (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user)
        statuses += [http.post(url, content=body, headers=headers).status_code for _ in range(100)]
    assert statuses == [200] * posts

    def flooded() -> list:
        records = read_topic(
            system.stack.bootstrap_servers, WEBHOOK_REJECTED, at_least=posts, timeout=10
        )
        return [r for r in records if marker.encode() in body_of(r.value)]

    wait_until(lambda: len(flooded()) >= posts, 90, "the flood rejected")
    sizes = [len(r.value) for r in flooded()]
    assert len(sizes) == posts
    assert max(sizes) < 4096, "each rejection a digest and a prefix, not the 15 KiB body"
    assert sum(sizes) < posts * len(body) / 4
    rejection = json.loads(flooded()[0].value)
    assert rejection["body_size"] == len(body)
    assert rejection["body_sha256"] == hashlib.sha256(body).hexdigest()
    events = read_topic(
        system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=1, timeout=90
    )
    assert fax.fax_id.encode() in b"".join(e.value for e in events)
