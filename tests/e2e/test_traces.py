"""One trace per fax across the processes: the services export their spans over OTLP to a
receiver in the test (an in-memory exporter the processes can reach), which must hold one
connected trace from the webhook POST, or the poller's finding, to the user's CloudEvent."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import System, read_topic, wait_until
from tests.e2e.test_walking_skeleton import decode_events
from tests.otlp import ReceivedSpan, Receiver

pytestmark = pytest.mark.e2e


def event_trace(system: System, user: str, fax_id: str) -> str:
    """The trace id the user's event for `fax_id` carries in its `traceparent` header."""
    found: list[str] = []

    def routed() -> bool:
        records = read_topic(
            system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=1, timeout=60
        )
        for record, event in zip(records, decode_events(records), strict=True):
            if event.get_id() == fax_id:
                headers = {k: v.decode() for k, v in record.headers}
                assert "ce_traceparent" not in headers, "the trace context is carried once"
                found.append(headers["traceparent"].split("-")[1])
                return True
        return False

    wait_until(routed, 120, f"the event of fax {fax_id}")
    return found[0]


def trace_with(traces: Receiver, trace_id: str, wanted: set[tuple[str, str]]) -> list[ReceivedSpan]:
    """The spans of one trace, once every (service, span name) of `wanted` has arrived."""

    def arrived() -> bool:
        seen = {(s.service, s.name) for s in traces.of_trace(trace_id)}
        return wanted <= seen

    wait_until(
        arrived, 60, f"spans {sorted(wanted)} of trace {trace_id}", lambda: len(traces.snapshot())
    )
    return traces.of_trace(trace_id)


def assert_one_tree(spans: list[ReceivedSpan], root_service: str, root_name: str) -> None:
    """Every span hangs from another span of the same trace, up to one root."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_id]
    assert [(r.service, r.name) for r in roots] == [(root_service, root_name)]
    orphans = [(s.service, s.name) for s in spans if s.parent_id and s.parent_id not in ids]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"


def test_a_webhook_fax_is_one_trace_from_the_post_to_the_users_event(system: System) -> None:
    assert system.traces is not None
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=1)
    trace_id = event_trace(system, user, fax.fax_id)
    spans = trace_with(
        system.traces,
        trace_id,
        {
            ("faxrelay-gateway", "webhook received"),
            ("faxrelay-verifier", "verify delivery"),
            ("faxrelay-downloader", "download fax"),
            ("faxrelay-downloader", "s3 put"),
            ("faxrelay-router", "route fax"),
        },
    )
    assert_one_tree(spans, "faxrelay-gateway", "webhook received")
    names = {(s.service, s.name) for s in spans}
    assert ("faxrelay-downloader", "GET") in names, "the eFax image request has its span"
    assert any(name.endswith(" publish") for _, name in names), "FastStream's publish spans"
    download = next(s for s in spans if s.name == "download fax")
    assert download.attributes["faxrelay.fax_id"] == fax.fax_id
    assert download.attributes["faxrelay.outcome"] == "fax.stored"


def test_a_fax_found_by_the_poller_gets_a_trace_of_its_own(system: System) -> None:
    assert system.traces is not None
    user = system.polled_users[1]
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, pages=1, deliver=False
    )
    trace_id = event_trace(system, user, fax.fax_id)
    spans = trace_with(
        system.traces,
        trace_id,
        {
            ("faxrelay-poller", "fax found by polling"),
            ("faxrelay-downloader", "download fax"),
            ("faxrelay-router", "route fax"),
        },
    )
    assert_one_tree(spans, "faxrelay-poller", "fax found by polling")
    (found,) = [s for s in spans if s.name == "fax found by polling"]
    assert found.attributes["faxrelay.fax_id"] == fax.fax_id
    (scan_trace,) = found.links
    scans = [s for s in system.traces.of_trace(scan_trace) if s.name == "scan undownloaded faxes"]
    assert scans, "linked to the scan that found it"
