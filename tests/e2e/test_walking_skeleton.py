"""One signed webhook becomes one stored fax and one event on its user's topic."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from cloudevents.core.bindings import kafka as ce_kafka

from shared.contracts import FAX_RECEIVED_EVENT_TYPE, WEBHOOK_REJECTED
from tests.e2e.conftest import BOTH_BROKERS, System, read_topic, wait_until

pytestmark = [pytest.mark.e2e, BOTH_BROKERS]


def user_topic(user_id: str) -> str:
    return f"faxes.user.{user_id}"


def stored_objects(system: System, user_id: str) -> dict[str, bytes]:
    client = system.stack.minio()
    if not client.bucket_exists(system.bucket):
        return {}
    objects = client.list_objects(system.bucket, prefix=f"{user_id}/", recursive=True)
    found = {}
    for obj in objects:
        response = client.get_object(system.bucket, obj.object_name)
        try:
            found[obj.object_name] = response.read()
        finally:
            response.close()
            response.release_conn()
    return found


def decode_events(records: list) -> list:
    return [
        ce_kafka.from_binary_event(
            ce_kafka.KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value)
        )
        for r in records
    ]


def test_twenty_signed_webhooks_for_three_users_are_stored_and_routed_to_their_owners(
    system: System,
) -> None:
    users = system.take_users(3)
    faxes = []
    for i in range(20):
        faxes += system.sandbox.create_faxes(
            app_id=system.account.app_id, user_id=users[i % 3], count=1, pages=2
        )
    by_user = {u: {f.fax_id for f in faxes if f.user_id == u} for u in users}

    def all_stored() -> bool:
        return sum(len(stored_objects(system, u)) for u in users) >= 20

    wait_until(
        all_stored,
        90,
        "20 faxes in the bucket",
        progress=lambda: sum(len(stored_objects(system, u)) for u in users),
    )
    for user in users:
        objects = stored_objects(system, user)
        assert {key.rsplit("/", 1)[1].split(".")[0] for key in objects} == by_user[user]
        for key, data in objects.items():
            fax_id = key.rsplit("/", 1)[1].split(".")[0]
            assert data == system.sandbox.document(fax_id, "PDF")

    for user in users:
        records = read_topic(
            system.stack.bootstrap_servers,
            user_topic(user),
            at_least=len(by_user[user]),
            timeout=60,
        )
        events = decode_events(records)
        ids = Counter(e.get_id() for e in events)
        assert set(ids) == by_user[user], "the user's topic holds exactly the user's faxes"
        assert all(n == 1 for n in ids.values()), f"each fax once: {ids}"
        for event, record in zip(events, records, strict=True):
            assert event.get_type() == FAX_RECEIVED_EVENT_TYPE
            assert record.key == user.encode()
            data = event.get_data()
            expected = hashlib.sha256(system.sandbox.document(event.get_id(), "PDF")).hexdigest()
            assert data["document"]["sha256"] == expected
            assert data["user_id"] == user


def test_a_webhook_with_a_wrong_signature_is_rejected_and_nothing_is_stored_or_routed(
    system: System,
) -> None:
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, deliver=False
    )
    system.sandbox.send_hostile("wrong_secret", fax.fax_id)

    def rejected_reasons() -> list[str]:
        records = read_topic(
            system.stack.bootstrap_servers, WEBHOOK_REJECTED, at_least=1, timeout=5
        )
        reasons = []
        for record in records:
            rejection = json.loads(record.value)
            if fax.fax_id.encode() in _body(rejection):
                reasons.append(rejection["reason"])
        return reasons

    wait_until(lambda: bool(rejected_reasons()), 60, "the forged delivery on the audit topic")
    assert rejected_reasons() == ["bad_signature"]
    assert stored_objects(system, user) == {}
    assert read_topic(system.stack.bootstrap_servers, user_topic(user), at_least=1, timeout=3) == []
    assert system.sandbox.fax(fax.fax_id).image_downloaded is False


def _body(rejection: dict) -> bytes:
    import base64

    return base64.urlsafe_b64decode(rejection["delivery"]["body"])
