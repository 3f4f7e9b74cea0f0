"""The fast lane builds services with demo settings (no eFax App, MinIO's default keys), which
services refuse outside the local stack: these tests run as the local stack does. The refusal
itself is tested in test_settings.py with `local_stack=False`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture(autouse=True)
def as_on_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAXRELAY_LOCAL_STACK", "true")


# One recording tracer provider for the whole fast lane (a process may set it only once): spans
# go to memory, where `spans` shows a test the ones it made.
_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
trace.set_tracer_provider(_PROVIDER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    return _EXPORTER
