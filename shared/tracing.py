"""Traces: one OpenTelemetry trace per fax, from the webhook POST (or the poller's finding) to
the user's CloudEvent, carried between services in the W3C `traceparent` record header.

Spans are recorded and sent over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads the other standard `OTEL_*`
variables itself (headers, timeouts, `OTEL_RESOURCE_ATTRIBUTES`); each service is named
`faxrelay-<service>`. Unset, nothing is recorded or exported, but the trace context still flows,
so each log line of a fax carries the same `trace_id` in every service.

`configure_tracing` is called once, in each service's `__main__`, beside `configure_logging`.
Logic opens `traced(...)` around the work of one fax and sends the headers it yields on.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind

__all__ = [
    "OTEL_VARIABLES",
    "PROPAGATED",
    "SpanKind",
    "annotate",
    "configure_tracing",
    "context_of",
    "exporting",
    "instrument_httpx",
    "store_span",
    "telemetry_middleware",
    "traced",
    "within",
]

PROPAGATED = ("traceparent", "tracestate")  # the W3C trace context headers
ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# The standard variables an installation may set; OpenTelemetry's SDK reads them itself.
OTEL_VARIABLES = frozenset(
    {
        *ENDPOINTS,
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_BSP_SCHEDULE_DELAY",
    }
)

tracer = trace.get_tracer("faxrelay")

_recording_nothing = False
"""Set by `configure_tracing` when no endpoint is configured: then `traced` hands the trace on
by itself, without OpenTelemetry's span machinery (a span that records nothing cost ~170 us of
CPU per fax and hop; docs/benchmarks.md section 12), and `store_span` and `within` do nothing
(the telemetry middleware and the httpx instrumentation, their only readers, are off too)."""

# W3C trace context, as OpenTelemetry's propagator parses it: a version other than ff; for
# version 00 nothing after the flags; trace and span ids not all zeros
_TRACEPARENT = re.compile(
    r"^\s*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\s*$"
)


def exporting() -> bool:
    """Whether spans are recorded and exported (an OTLP endpoint is configured)."""
    return any(os.environ.get(name) for name in ENDPOINTS)


def configure_tracing(service: str) -> None:
    """The process's tracer provider: exporting over OTLP/HTTP when an endpoint is set, else
    one that samples nothing (ids are still made and carried on, no span is recorded)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    global _recording_nothing
    resource = Resource.create({SERVICE_NAME: f"faxrelay-{service}"})
    if not exporting():
        trace.set_tracer_provider(TracerProvider(sampler=ALWAYS_OFF, resource=resource))
        _recording_nothing = True
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource)  # the sampler follows OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)  # flushed at exit (shutdown_on_exit)


def context_of(headers: Mapping[str, str]) -> Context:
    """The trace context a record carries; an empty one (a new trace) when it carries none."""
    return propagate.extract({k: v for k, v in headers.items() if k in PROPAGATED}, Context())


@contextmanager
def traced(
    name: str,
    headers: Mapping[str, str] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    link_current: bool = False,
    **attributes: Any,
) -> Iterator[dict[str, str]]:
    """A span of the work on one fax, continuing the trace of `headers` (a new trace without
    them), made current while it runs. Yields `headers` with this span's trace context, for
    the records this work produces. `link_current` links a new trace to the span that was
    current (the poller's scan that found the fax)."""
    carried = dict(headers or {})
    if _recording_nothing:
        yield _handed_on(carried)
        return
    links = None
    if link_current:
        current = trace.get_current_span().get_span_context()
        links = [Link(current)] if current.is_valid else None
    attrs = {f"faxrelay.{k}": str(getattr(v, "value", v)) for k, v in attributes.items() if v}
    with tracer.start_as_current_span(
        name, context=context_of(carried), kind=kind, attributes=attrs, links=links
    ):
        fresh: dict[str, str] = {}
        propagate.inject(fresh)
        if fresh:  # (no tracer provider configured, as in unit tests: the context passes as is)
            yield {**{k: v for k, v in carried.items() if k not in PROPAGATED}, **fresh}
        else:
            yield carried


def _handed_on(carried: dict[str, str]) -> dict[str, str]:
    """`carried` with the traceparent a span that records nothing would hand on: the same trace
    (a new one without a valid traceparent), a span id of its own, not sampled. The tracestate
    passes as is."""
    found = _TRACEPARENT.match(carried.get("traceparent", ""))
    valid = (
        found is not None
        and found.group(1) != "ff"
        and not (found.group(1) == "00" and found.group(5))
        and found.group(2) != "0" * 32
        and found.group(3) != "0" * 16
    )
    if found is not None and valid:
        trace_id = found.group(2)
    else:
        trace_id = f"{random.getrandbits(128) or 1:032x}"
        carried.pop("tracestate", None)
    span_id = f"{random.getrandbits(64) or 1:016x}"
    return {**carried, "traceparent": f"00-{trace_id}-{span_id}-00"}


def annotate(**attributes: Any) -> None:
    """Attributes of the current span (what its work found: the fax id, the outcome)."""
    span = trace.get_current_span()
    if span.is_recording():
        for key, value in attributes.items():
            if value is not None:
                span.set_attribute(f"faxrelay.{key}", str(getattr(value, "value", value)))


@contextmanager
def store_span(operation: str) -> Iterator[None]:
    """A client span around one object store request, in the current fax's trace."""
    if _recording_nothing:
        yield
        return
    with tracer.start_as_current_span(
        f"s3 {operation}", kind=SpanKind.CLIENT, attributes={"rpc.system": "s3"}
    ):
        yield


@contextmanager
def within(headers: Mapping[str, str]) -> Iterator[None]:
    """Runs the block in the trace context `headers` carry (publishing a fax's record: the
    telemetry middleware's publish span joins the fax's trace, not the batch's)."""
    if _recording_nothing:
        yield
        return
    token = otel_context.attach(context_of(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


def telemetry_middleware() -> list[Any]:
    """FastStream's Kafka telemetry middleware (publish and batch-process spans), when spans
    are exported; none otherwise."""
    if not exporting():
        return []
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

    return [KafkaTelemetryMiddleware()]


def instrument_httpx(client: Any) -> None:
    """Client spans for every eFax call, when spans are exported."""
    if exporting():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client)
