"""Routing by what a fax says, on the real stack: the reader types each document, and a router
with the shipped example rules (deploy/router/rules.example.yaml) and users' topics fed once a fax
is read sends a referral to `faxes.type.referral` (CloudEvents and FHIR DocumentReferences) and
to its user, and a junk mailing to `faxes.junk` and never to its user."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.contracts import (
    FAX_DOCUMENT_FHIR_EVENT_TYPE,
    FAX_READ_EVENT_TYPE,
    FAX_RECEIVED_EVENT_TYPE,
)
from tests.e2e.conftest import BOTH_BROKERS, System, read_topic, wait_for_progress
from tests.e2e.test_walking_skeleton import decode_events

pytestmark = pytest.mark.e2e
EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "deploy" / "router" / "rules.example.yaml"


@pytest.fixture(scope="module")
def reading(system: System) -> Iterator[System]:
    """The session's system with the reader running (it runs without: see conftest)."""
    system.stack.start_service("reader", system.env)
    yield system
    system.stack.stop_process("reader")


def main_type(truth: dict[str, object]) -> str:
    types = [d["type"] for d in truth["documents"]]  # type: ignore[attr-defined]
    return next((t for t in types if t != "cover_sheet"), types[0])


def undelivered_fax_of_type(system: System, user: str, wanted: str) -> str:
    """A new sandbox fax of `user` whose first document that is not a cover sheet is `wanted`
    (its webhook not sent yet: the user is not polled, so nothing takes it before we say)."""
    for _ in range(200):
        (fax,) = system.sandbox.create_faxes(
            app_id=system.account.app_id, user_id=user, count=1, pages=2,
            content="documents", deliver=False,
        )  # fmt: skip
        truth = system.sandbox.truth(fax.fax_id)
        assert truth is not None
        if main_type(truth) == wanted:
            return fax.fax_id
    raise AssertionError(f"no {wanted} among 200 sandbox faxes")


def events_by_fax(system: System, topic: str, fax_ids: set[str], count: int) -> dict[str, list]:
    """The events of `topic` about `fax_ids`, once there are `count`, waiting while the reader
    makes progress (its log grows as it reads)."""
    found: dict[str, list] = {}
    log = system.stack.log_file("reader")

    def enough() -> bool:
        records = read_topic(system.stack.bootstrap_servers, topic, at_least=1, timeout=3)
        found.clear()
        for event in decode_events(records):
            fax_id = event.get_id().split(".")[0]
            if fax_id in fax_ids:
                found.setdefault(fax_id, []).append(event)
        return sum(len(v) for v in found.values()) >= count

    def progress() -> tuple[int, int]:
        return sum(len(v) for v in found.values()), log.stat().st_size if log.exists() else 0

    wait_for_progress(enough, progress=progress, stall_s=240, message=f"{count} on {topic}")
    return found


@BOTH_BROKERS
def test_a_referral_and_a_junk_mailing_are_routed_by_what_they_say(reading: System) -> None:
    system = reading
    (user,) = system.take_users(1)
    referral = undelivered_fax_of_type(system, user, "referral")
    junk = undelivered_fax_of_type(system, user, "junk")
    template = f"content-{uuid.uuid4().hex[:8]}.user.{{user_id}}"
    system.stack.spawn(
        "router-content",
        [sys.executable, "-m", "services.router"],
        {
            **system.stack.service_env(),
            **system.env,
            "FAXRELAY_ROUTER_GROUP_ID": f"router-content-{uuid.uuid4().hex}",
            "FAXRELAY_ROUTER_READ_GROUP_ID": f"router-content-read-{uuid.uuid4().hex}",
            "FAXRELAY_ROUTER_RULES_FILE": str(EXAMPLE_RULES),
            "FAXRELAY_ROUTER_USER_TOPIC_AFTER_READING": "true",
            "FAXRELAY_ROUTER_USER_TOPIC_TEMPLATE": template,
        },
    )
    try:
        system.sandbox.redeliver([referral, junk])
        both = {referral, junk}
        # the referral team: received, read, and one DocumentReference per document
        team = events_by_fax(system, "faxes.type.referral", both, 3)
        assert set(team) == {referral}
        types = [e.get_type() for e in team[referral]]
        assert types[:2] == [FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE]
        fhir = [e for e in team[referral] if e.get_type() == FAX_DOCUMENT_FHIR_EVENT_TYPE]
        assert fhir
        data = fhir[0].get_data()  # type: ignore[attr-defined]
        resource = data if isinstance(data, dict) else json.loads(data)
        assert resource["resourceType"] == "DocumentReference"
        assert resource["masterIdentifier"]["value"] == f"urn:uuid:{referral}"
        # the junk mailing: on the junk topic, typed junk
        bin_events = events_by_fax(system, "faxes.junk", both, 2)
        assert set(bin_events) == {junk}
        read = next(e for e in bin_events[junk] if e.get_type() == FAX_READ_EVENT_TYPE)
        assert read.get_data()["document_type"] == "junk"  # type: ignore[attr-defined]
        # the user: both events of the referral, and nothing of the junk mailing
        mine = events_by_fax(system, template.format(user_id=user), both, 2)
        assert set(mine) == {referral}
        assert sorted(e.get_type() for e in mine[referral]) == sorted(
            [FAX_RECEIVED_EVENT_TYPE, FAX_READ_EVENT_TYPE]
        )
    finally:
        system.stack.stop_process("router-content")
