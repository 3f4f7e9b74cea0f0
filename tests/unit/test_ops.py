"""The operator's pipeline logic without a broker: how records are attributed to a fax and its
owner, which key a link may be signed for, and what a replay sends."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest

from faxrelay.config import OpsSettings
from faxrelay.ops import (
    REASONED,
    REPLAY_TARGET,
    RefusedKey,
    Replay,
    history_of,
    link_expiry,
    link_key,
    publish_replays,
    replay_of,
    stage_of,
    stage_plan,
)
from faxrelay.reader import REPLAY_HEADER, Record, fax_id_of, reason_code, reason_of
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_READ,
    FAX_STORED,
    READ_FAILED,
    USER_TOPIC_TEMPLATE,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
    DownloadFailed,
    DownloadFailure,
    FaxNotified,
    FaxStored,
    ReadFailed,
    RejectReason,
    WebhookRejected,
)
from tests.builders import delivery, notification, notified, stored


def record(
    topic: str, value: bytes, headers: tuple[tuple[str, bytes], ...] = (), offset: int = 0
) -> Record:
    return Record(topic, 0, offset, 0, 0, None, value, None, 0, len(value), headers)


def test_find_tells_a_replayed_record_from_the_original() -> None:
    value = notified().model_dump_json().encode()
    original = record(FAX_NOTIFIED, value)
    replayed = record(FAX_NOTIFIED, value, ((REPLAY_HEADER, b"failed"),), offset=1)
    assert reason_of(original) == "source webhook"
    assert reason_of(replayed) == "source webhook, replayed (failed)"


def test_every_pipeline_record_is_attributed_to_its_fax() -> None:
    fax = notified()
    body = json.dumps(notification(fax_id=str(fax.fax_id))).encode()
    received = delivery(body)
    rejected = WebhookRejected(reason=RejectReason.BAD_SIGNATURE, detail="d", delivery=received)
    failed = DownloadFailed(fax=fax, reason=DownloadFailure.GONE, detail="d", attempts=1)
    for topic, message in [
        (WEBHOOK_RECEIVED, received),
        (WEBHOOK_REJECTED, rejected),
        (FAX_NOTIFIED, fax),
        (FAX_STORED, FaxStored(fax=fax, stored=stored().stored)),
        (DOWNLOAD_FAILED, failed),
    ]:
        assert fax_id_of(record(topic, message.model_dump_json().encode())) == str(fax.fax_id)
    assert fax_id_of(record(FAX_NOTIFIED, b"not json")) is None
    assert fax_id_of(record(FAX_STORED, b'{"fax": {"fax_id": "x"}}')) is None, "not the model"


def test_find_takes_the_owner_from_verified_records_only() -> None:
    """An unsigned delivery may name any user: it never makes `find` say whose fax it is."""
    fax = notified()
    forged = notification(fax_id=str(fax.fax_id), user_id=str(uuid.uuid4()))
    received = record(
        WEBHOOK_RECEIVED, delivery(json.dumps(forged).encode()).model_dump_json().encode()
    )
    rejected = WebhookRejected(
        reason=RejectReason.BAD_SIGNATURE,
        detail="d",
        delivery=delivery(json.dumps(forged).encode()),
    )
    unverified = [received, record(WEBHOOK_REJECTED, rejected.model_dump_json().encode())]
    assert history_of(str(fax.fax_id), unverified) == (None, None)
    verified = record(FAX_NOTIFIED, fax.model_dump_json().encode())
    user_id, _ = history_of(str(fax.fax_id), [*unverified, verified])
    assert user_id == str(fax.user_id)


def test_a_link_is_signed_only_for_the_key_computed_from_the_fax() -> None:
    genuine = stored()
    assert link_key(genuine) == genuine.stored.key
    # a forged fax.stored: a new fax id, user B as owner, user A's object key
    forged = FaxStored(fax=notified(), stored=genuine.stored)
    with pytest.raises(RefusedKey, match="no link signed"):
        link_key(forged)
    outside = stored()
    outside.stored.key = f"{uuid.uuid4()}/2024/05/10/{outside.fax.fax_id}.pdf"
    with pytest.raises(RefusedKey):
        link_key(outside)


def test_a_link_lives_as_asked_else_as_the_routers_else_an_hour_where_links_are_off() -> None:
    assert link_expiry(600, 60) == timedelta(seconds=60)
    assert link_expiry(600, None) == timedelta(seconds=600)
    assert link_expiry(0, None) == timedelta(hours=1)


def test_replays_carry_the_original_notification_and_delivery_byte_for_byte() -> None:
    fax = notified()
    failed = DownloadFailed(fax=fax, reason=DownloadFailure.GONE, detail="d", attempts=3)
    replay = replay_of(record(DOWNLOAD_FAILED, failed.model_dump_json().encode()))
    assert replay is not None
    assert (replay.topic, replay.key) == (FAX_NOTIFIED, str(fax.fax_id).encode())
    assert replay.at == failed.failed_at
    assert replay.value == fax.model_dump_json().encode()
    body = json.dumps(notification(fax_id=str(fax.fax_id))).encode()
    rejected = WebhookRejected(reason="bad_signature", detail="d", delivery=delivery(body))
    replay = replay_of(record(WEBHOOK_REJECTED, rejected.model_dump_json().encode()))
    assert replay is not None
    assert replay.topic == WEBHOOK_RECEIVED
    assert replay.at == rejected.rejected_at
    sent = json.loads(replay.value)
    assert sent["signature"] == rejected.delivery.signature
    assert rejected.delivery.model_validate_json(replay.value).body == body


def test_replay_failed_sends_only_what_the_topics_contract_accepts() -> None:
    good = notified()
    bad = FaxNotified.model_construct(**{**good.model_dump(), "pages": -1})
    at = good.completed_at
    chosen = [
        Replay(str(good.fax_id), "gone", FAX_NOTIFIED, None, good, at),
        Replay(str(good.fax_id), "gone", FAX_NOTIFIED, None, bad, at),
    ]
    sent: list[bytes] = []

    async def publish(value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        sent.append(value)

    invalid = asyncio.run(publish_replays(publish, chosen, "failed", lambda done: None))
    assert sent == [good.model_dump_json().encode()]
    assert [replay.message for replay, _ in invalid] == [bad]


def test_user_topics_are_the_routed_stage() -> None:
    assert (
        stage_of(USER_TOPIC_TEMPLATE.format(user_id=uuid.uuid4()), USER_TOPIC_TEMPLATE) == "routed"
    )
    assert stage_of(WEBHOOK_REJECTED, USER_TOPIC_TEMPLATE) == "rejected"


def test_a_read_failure_is_replayed_as_its_stored_record_for_the_reader_to_read_again() -> None:
    fax = stored()
    failed = ReadFailed(fax=fax.fax, stored=fax.stored, reason="corrupt", detail="0 pages")
    replay = replay_of(record(READ_FAILED, failed.model_dump_json().encode()))
    assert replay is not None
    assert (replay.topic, replay.key) == (FAX_STORED, str(fax.fax.fax_id).encode())
    assert (replay.reason, replay.at) == ("corrupt", failed.failed_at)
    again = FaxStored.model_validate_json(replay.value)
    assert (again.fax, again.stored) == (fax.fax, fax.stored)
    assert REPLAY_TARGET["unread"] == FAX_STORED


def test_status_shows_the_read_stage_its_backlog_and_its_failures() -> None:
    settings = OpsSettings(local_stack=True)
    plan = stage_plan(settings, {FAX_READ, READ_FAILED})
    assert plan["to read"] == ([FAX_STORED], settings.reader_group_id)
    assert plan["read"] == ([FAX_READ], settings.router_read_group_id)
    assert plan["unread"] == ([READ_FAILED], None)
    assert READ_FAILED in REASONED
    fax = stored()
    failed = ReadFailed(fax=fax.fax, stored=fax.stored, reason="encrypted", detail="d")
    unread = record(READ_FAILED, failed.model_dump_json().encode())
    assert (fax_id_of(unread), reason_code(unread)) == (str(fax.fax.fax_id), "encrypted")
    assert reason_of(unread) == "encrypted: d"
