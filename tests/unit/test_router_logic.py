"""The CloudEvent a user gets for a fax, and the links in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloudevents.core.bindings import kafka as ce_kafka

from services.router.logic import fax_received_event
from shared.contracts import FAX_RECEIVED_EVENT_TYPE
from tests.builders import stored

TEMPLATE = "faxes.user.{user_id}"


def test_the_event_is_a_cloudevent_with_the_fax_id_as_its_id() -> None:
    fax = stored()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    message = fax_received_event(
        fax,
        "/faxrelay/router",
        lambda key, expiry: f"https://s3.example/{key}?sig",
        timedelta(hours=1),
        now,
    )
    event = ce_kafka.from_binary_event(message)
    assert event.get_id() == str(fax.fax.fax_id)
    assert event.get_type() == FAX_RECEIVED_EVENT_TYPE
    assert event.get_subject() == str(fax.fax.fax_id)
    assert message.key == str(fax.fax.user_id)
    data = event.get_data()
    assert data["document"]["sha256"] == fax.stored.sha256
    assert data["download_url"].startswith("https://s3.example/")
    assert data["download_url_expires_at"].startswith("2026-01-01T01:00:00")
    assert event.get_extension("correlationid") is None  # the trace is in record headers
    assert event.get_extension("traceparent") is None


def test_the_same_fax_makes_the_same_event_id_and_time_every_time() -> None:
    fax = stored()
    events = [
        ce_kafka.from_binary_event(
            fax_received_event(fax, "/s", None, timedelta(0), datetime.now(UTC))
        )
        for _ in range(2)
    ]
    assert events[0].get_id() == events[1].get_id()
    assert events[0].get_time() == events[1].get_time()
    assert events[0].get_data()["download_url"] is None


def test_a_link_is_signed_only_for_the_key_the_fax_itself_is_stored_under() -> None:
    victim, forged = stored(), stored()
    forged = forged.model_copy(update={"stored": victim.stored})
    signed: list[str] = []

    def presign(key: str, expiry: timedelta) -> str:
        signed.append(key)
        return f"https://s3.example/{key}"

    now = datetime.now(UTC)
    event = ce_kafka.from_binary_event(
        fax_received_event(forged, "/s", presign, timedelta(hours=1), now)
    )
    assert event.get_data()["download_url"] is None
    assert signed == []
