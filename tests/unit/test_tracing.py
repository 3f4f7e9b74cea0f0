"""Trace context: each fax's work continues the trace its record carries, and hands it on."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from uuid import uuid4

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.efax import ReceivedFax
from shared.polling import notified
from shared.tracing import traced
from tests.otlp import otlp_receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", "correlation_id": "d-1"}


def test_work_on_a_fax_continues_the_trace_its_record_carries(
    spans: InMemorySpanExporter,
) -> None:
    with traced("verify delivery", INCOMING, fax_id="f-1") as outgoing:
        pass
    (span,) = spans.get_finished_spans()
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert span.attributes is not None
    assert span.attributes["faxrelay.fax_id"] == "f-1"
    # what is sent on names this span as the parent of the next stage's work
    assert outgoing["traceparent"] == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"
    assert outgoing["correlation_id"] == "d-1"


def test_work_without_a_trace_context_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with traced("webhook received", {"correlation_id": "d-2"}) as first:
        pass
    with traced("webhook received", {"traceparent": "garbage"}) as second:
        pass
    one, two = spans.get_finished_spans()
    assert one.parent is None
    assert two.parent is None
    assert one.context.trace_id != two.context.trace_id
    assert first["traceparent"].split("-")[1] == f"{one.context.trace_id:032x}"
    assert second["traceparent"].split("-")[1] == f"{two.context.trace_id:032x}"


def test_a_fax_found_by_polling_gets_a_trace_of_its_own_linked_to_the_scan(
    spans: InMemorySpanExporter,
) -> None:
    faxes = [ReceivedFax(fax_id=uuid4(), completed_timestamp="2026-01-01T00:00:00Z")] * 2
    with traced("scan undownloaded faxes"):
        records = notified(uuid4(), uuid4(), faxes)
    found = [s for s in spans.get_finished_spans() if s.name == "fax found by polling"]
    (scan,) = [s for s in spans.get_finished_spans() if s.name == "scan undownloaded faxes"]
    assert len(found) == 2
    assert len({s.context.trace_id for s in found}) == 2  # one trace per fax
    assert all(s.parent is None for s in found)
    assert all(s.links[0].context.trace_id == scan.context.trace_id for s in found)
    traces = {r.headers["traceparent"].split("-")[1] for r in records}
    assert traces == {f"{s.context.trace_id:032x}" for s in found}


def test_without_an_otlp_endpoint_nothing_is_exported_but_ids_still_flow() -> None:
    program = textwrap.dedent(
        f"""
        from shared.tracing import configure_tracing, traced
        configure_tracing("verifier")
        with traced("work", {{"traceparent": "00-{TRACE_ID}-00f067aa0ba902b7-01"}}) as out:
            print(out["traceparent"])
        with traced("new", {{"traceparent": "00-{"0" * 32}-00f067aa0ba902b7-01"}}) as out:
            print(out["traceparent"])
        """
    )
    with otlp_receiver() as receiver:
        env = {"PATH": "", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
        done = subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
        )
        time.sleep(0.2)
        assert receiver.requests == 0
    continued, new = done.stdout.split()
    _version, trace_id, span_id, flags = continued.split("-")
    assert trace_id == TRACE_ID
    assert span_id != "00f067aa0ba902b7"
    assert flags == "00"  # not sampled: recorded nowhere
    _version, trace_id, span_id, flags = new.split("-")  # an invalid parent: a new trace
    assert re.fullmatch("[0-9a-f]{32}", trace_id)
    assert trace_id != "0" * 32
    assert re.fullmatch("[0-9a-f]{16}", span_id)
    assert span_id != "0" * 16
    assert flags == "00"


def test_with_an_otlp_endpoint_each_service_exports_its_spans_by_name() -> None:
    program = textwrap.dedent(
        """
        from shared.tracing import configure_tracing, traced
        configure_tracing("router")
        with traced("route fax", fax_id="f-9"):
            pass
        """
    )
    with otlp_receiver() as receiver:
        env = {"PATH": "", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        subprocess.run([sys.executable, "-c", program], env=env, check=True, timeout=60)
        (span,) = receiver.snapshot()  # flushed when the process exits
    assert span.service == "faxrelay-router"
    assert span.name == "route fax"
    assert span.attributes["faxrelay.fax_id"] == "f-9"
