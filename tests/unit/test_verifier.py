"""Signature, schema, origin and novelty, without a broker."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.verifier.logic import (
    DuplicateWindow,
    Outbound,
    VerificationError,
    decide,
    resource_url_problem,
    signature_matches,
    verify,
)
from services.verifier.settings import VerifierSettings
from shared.contracts import (
    FAX_NOTIFIED,
    OUTBOUND_NOTIFIED,
    PING_RECEIVED,
    WEBHOOK_REJECTED,
    FaxNotified,
    PingReceived,
    RejectReason,
    WebhookRejected,
)
from tests.builders import API_BASE, APP_ID, SECRET, delivery, notification, sign

SECRETS = {APP_ID: [SECRET]}


def reason_of(d) -> RejectReason:
    with pytest.raises(VerificationError) as caught:
        verify(d, SECRETS, API_BASE)
    return caught.value.reason


def test_a_signed_notification_becomes_fax_notified() -> None:
    body = notification(completed_timestamp="2024-05-10T17:54:11Z")
    verified = verify(delivery(body), SECRETS, API_BASE)
    assert isinstance(verified, FaxNotified)
    assert str(verified.fax_id) == body["fax_id"]
    assert verified.completed_timestamp == "2024-05-10T17:54:11Z"


@given(st.binary(max_size=2048), st.binary(min_size=1, max_size=64))
def test_sign_then_verify_round_trips_for_any_body_and_secret(body: bytes, secret: bytes) -> None:
    assert signature_matches(body, sign(body, secret), [secret])
    assert signature_matches(body, sign(body, secret).upper(), [secret])
    assert not signature_matches(body + b"x", sign(body, secret), [secret])


def test_a_signature_made_with_another_secret_is_rejected() -> None:
    raw = json.dumps(notification()).encode()
    assert reason_of(delivery(raw, signature=sign(raw, b"other"))) == RejectReason.BAD_SIGNATURE


def test_a_body_changed_by_one_byte_after_signing_is_rejected() -> None:
    raw = json.dumps(notification()).encode()
    tampered = raw.replace(b'"pages": 2', b'"pages": 3')
    assert tampered != raw
    assert reason_of(delivery(tampered, signature=sign(raw))) == RejectReason.BAD_SIGNATURE


def test_a_missing_signature_is_rejected() -> None:
    assert reason_of(delivery(signature="")) in {
        RejectReason.BAD_SIGNATURE,
        RejectReason.MISSING_SIGNATURE,
    }


def test_either_secret_passes_during_a_rotation() -> None:
    raw = json.dumps(notification()).encode()
    rotating = {APP_ID: [b"old-secret", b"new-secret"]}
    for secret in (b"old-secret", b"new-secret"):
        assert isinstance(verify(delivery(raw, sign(raw, secret)), rotating, API_BASE), FaxNotified)
    with pytest.raises(VerificationError):
        verify(delivery(raw, sign(raw, b"retired-secret")), rotating, API_BASE)


def test_an_unknown_app_is_rejected() -> None:
    body = notification(app_id=str(uuid.uuid4()))
    assert reason_of(delivery(body)) == RejectReason.UNKNOWN_APP


@pytest.mark.parametrize(
    "raw",
    [
        b'{"app_id": "x" "fax_id": "y"}',  # the seed's missing comma
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b"",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_json_is_rejected(raw: bytes) -> None:
    assert reason_of(delivery(raw)) == RejectReason.MALFORMED_JSON


def test_deeply_nested_json_is_rejected_as_invalid() -> None:
    nested: dict = {}
    for _ in range(50):
        nested = {"n": nested}
    body = notification(extra=nested)
    assert reason_of(delivery(body)) == RejectReason.INVALID_PAYLOAD


@pytest.mark.parametrize(
    "change",
    [
        {"fax_id": "../../tokens"},
        {"fax_id": "7e029808-237b-413e-a051-53bf445e8b49/../x"},
        {"user_id": "not-a-uuid"},
        {"direction": "SIDEWAYS"},
        {"pages": -1},
        {"completed_timestamp": "yesterday"},
        {"sending_fax_number": "1; DROP TABLE"},
    ],
)
def test_schema_violations_are_rejected(change: dict) -> None:
    assert reason_of(delivery(notification(**change))) == RejectReason.INVALID_PAYLOAD


@pytest.mark.parametrize(
    "url",
    [
        "https://api.securedocex.com.evil.example/faxes/{fax_id}/image",
        "https://api.securedocex.com@evil.example/faxes/{fax_id}/image",
        "https://user@api.securedocex.com/faxes/{fax_id}/image",
        "http://api.securedocex.com/faxes/{fax_id}/image",
        "https://api.securedocex.com:8443/faxes/{fax_id}/image",
        "https://api.securedocex.com/faxes/11111111-1111-1111-1111-111111111111/image",
        "https://api.securedocex.com/faxes/{fax_id}/image?redirect=https://evil.example",
        "https://api.securedocex.com/faxes/{fax_id}/../../tokens",
        "https://evil.example/faxes/{fax_id}/image",
        "https://[::1/faxes/{fax_id}/image",
    ],
)
def test_a_resource_url_off_the_api_host_or_fax_is_rejected(url: str) -> None:
    fax_id = str(uuid.uuid4())
    body = notification(fax_id=fax_id, resource_url=url.format(fax_id=fax_id))
    assert reason_of(delivery(body)) == RejectReason.FOREIGN_RESOURCE_URL


def test_the_api_hosts_own_url_with_its_default_port_is_accepted() -> None:
    fax_id = uuid.uuid4()
    url = f"https://API.securedocex.com:443/faxes/{fax_id}/image"
    assert resource_url_problem(url, API_BASE, fax_id) is None


@pytest.mark.parametrize(
    "stamp", ["2024-05-10T17:54:11Z", "2024-05-10T17:54:11+00:00", "2024-05-10T17:54:11.000+0000"]
)
def test_every_documented_timestamp_form_means_the_same_instant(stamp: str) -> None:
    verified = verify(delivery(notification(completed_timestamp=stamp)), SECRETS, API_BASE)
    assert isinstance(verified, FaxNotified)
    assert verified.completed_at.isoformat() == "2024-05-10T17:54:11+00:00"
    assert verified.completed_timestamp == stamp


def test_unavailable_sender_and_plus_numbers_are_accepted() -> None:
    body = notification(
        sending_fax_number="unavailable",
        receiving_fax_number="+18885555555",
        originating_fax_tsid="unavailable",
    )
    assert isinstance(verify(delivery(body), SECRETS, API_BASE), FaxNotified)


def test_a_ping_is_recognised_and_not_a_fax() -> None:
    body = {
        "app_id": APP_ID,
        "notification_id": "7b692d22-c7cf-11eb-9e0a-83dcedf47a3d",
        "direction": "INBOUND",
        "event_type": "PING",
        "notification_config_id": "cfg",
    }
    outcome = decide(delivery(body).model_dump_json().encode(), SECRETS, API_BASE, window(), set())
    assert outcome.topic == PING_RECEIVED
    assert isinstance(outcome.message, PingReceived)


def test_an_outbound_notification_goes_to_its_own_topic() -> None:
    verified = verify(delivery(notification(direction="OUTBOUND")), SECRETS, API_BASE)
    assert isinstance(verified, Outbound)
    raw = delivery(notification(direction="OUTBOUND")).model_dump_json().encode()
    assert decide(raw, SECRETS, API_BASE, window(), set()).topic == OUTBOUND_NOTIFIED


def window() -> DuplicateWindow:
    return DuplicateWindow(seconds=3600, size=1000)


def test_the_same_fax_again_is_a_duplicate_once_the_first_was_forwarded() -> None:
    w = window()
    body = notification()
    first = decide(delivery(body).model_dump_json().encode(), SECRETS, API_BASE, w, set())
    assert first.topic == FAX_NOTIFIED
    w.remember(*first.remember)
    again = decide(delivery(body).model_dump_json().encode(), SECRETS, API_BASE, w, set())
    assert again.topic == WEBHOOK_REJECTED
    assert isinstance(again.message, WebhookRejected)
    assert again.message.reason == RejectReason.DUPLICATE


def test_a_duplicate_within_one_batch_is_caught_before_anything_is_remembered() -> None:
    w, in_batch = window(), set()
    body = notification()
    outcomes = [
        decide(delivery(body).model_dump_json().encode(), SECRETS, API_BASE, w, in_batch)
        for _ in range(2)
    ]
    assert [o.topic for o in outcomes] == [FAX_NOTIFIED, WEBHOOK_REJECTED]


def test_a_fax_not_forwarded_is_not_remembered_so_its_redelivery_passes() -> None:
    w = window()
    body = notification()
    decide(delivery(body).model_dump_json().encode(), SECRETS, API_BASE, w, set())
    # the publish failed: nothing remembered, so the redelivered record is forwarded again
    again = decide(delivery(body).model_dump_json().encode(), SECRETS, API_BASE, w, set())
    assert again.topic == FAX_NOTIFIED


def test_the_window_forgets_after_its_time() -> None:
    w = DuplicateWindow(seconds=10, size=100)
    w.remember("fax:1", now=0)
    assert w.seen("fax:1", now=5)
    assert not w.seen("fax:1", now=11)


def test_a_record_that_is_not_a_delivery_is_rejected_not_raised() -> None:
    outcome = decide(b"\x00garbage", SECRETS, API_BASE, window(), set())
    assert outcome.topic == WEBHOOK_REJECTED


def test_a_webhook_number_ending_in_a_line_feed_is_invalid() -> None:
    from pydantic import ValidationError

    from shared.contracts import InboundNotification

    with pytest.raises(ValidationError):
        InboundNotification.model_validate(notification(sending_fax_number="13235555555\n"))


def test_a_signed_webhook_older_than_the_bound_is_refused_as_stale() -> None:
    """A replay of an old signed webhook (eFax signs no timestamp) is refused with its reason;
    one within the bound still passes."""
    old = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = delivery(notification(completed_timestamp=old)).model_dump_json().encode()
    outcome = decide(raw, SECRETS, API_BASE, window(), set(), timedelta(days=1))
    assert outcome.topic == WEBHOOK_REJECTED
    assert isinstance(outcome.message, WebhookRejected)
    assert outcome.message.reason == RejectReason.STALE
    fresh = delivery(notification()).model_dump_json().encode()
    assert (
        decide(fresh, SECRETS, API_BASE, window(), set(), timedelta(days=1)).topic == FAX_NOTIFIED
    )


def test_the_verifier_bounds_webhook_age_to_a_day_by_default() -> None:
    assert VerifierSettings(apps=[]).verifier_max_webhook_age_s == 86_400


def test_an_unsigned_flood_body_is_kept_as_a_digest_and_a_prefix() -> None:
    """Anyone can post: what the rejected topic keeps of an unauthenticated body is bounded."""
    big = json.dumps({"app_id": APP_ID, "junk": "x" * 16_000}).encode()
    raw = delivery(big, signature="00").model_dump_json().encode()
    outcome = decide(raw, SECRETS, API_BASE, window(), set())
    rejection = outcome.message
    assert isinstance(rejection, WebhookRejected)
    assert rejection.reason == RejectReason.BAD_SIGNATURE
    assert rejection.body_truncated
    assert rejection.body_size == len(big)
    assert rejection.body_sha256 == hashlib.sha256(big).hexdigest()
    assert rejection.delivery.body == big[:2048]
    assert len(rejection.model_dump_json()) < 4096


def test_a_rejected_webhook_of_real_size_is_kept_whole_for_a_replay() -> None:
    body = json.dumps(notification()).encode()
    raw = delivery(body, signature="00").model_dump_json().encode()
    rejection = decide(raw, SECRETS, API_BASE, window(), set()).message
    assert isinstance(rejection, WebhookRejected)
    assert rejection.delivery.body == body
    assert not rejection.body_truncated


def test_a_rejection_written_before_the_digest_fields_still_reads() -> None:
    old = {
        "reason": "bad_signature",
        "detail": "x",
        "delivery": json.loads(delivery(b"{}").model_dump_json()),
    }
    rejection = WebhookRejected.model_validate(old)
    assert rejection.body_sha256 is None
    assert not rejection.body_truncated
