"""Every Prometheus metric of faxrelay, in one place, and the small servers that expose them.

Logic increments these where an outcome is decided; labels are low-cardinality (reasons, kinds,
endpoints), never a fax, user or App id. Consumers serve `/metrics` on FAXRELAY_METRICS_PORT
from a thread (`serve`); the gateway serves them on its own port (`exposition`), across its
worker processes through prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from shared.contracts import DocumentType, DownloadFailure, ReadFailureReason, RejectReason

__all__ = [
    "CONSUMER_LAG",
    "DELIVERIES_DUPLICATE",
    "DELIVERIES_REJECTED",
    "DOCUMENTS_FOUND",
    "DOWNLOADS_FAILED",
    "EFAX_REQUEST_SECONDS",
    "EFAX_UNAUTHORIZED_AFTER_REFRESH",
    "EVENTS_ROUTED",
    "FAXES_NOTIFIED",
    "FAXES_READ",
    "FAXES_ROUTED",
    "FAXES_STORED",
    "FAX_AGE_AT_ROUTING_SECONDS",
    "OBJECT_STORE_REQUEST_SECONDS",
    "PAGES_READ",
    "PAGE_CONFIDENCE",
    "PAGE_READ_SECONDS",
    "POLLER_CURSOR_AGE_SECONDS",
    "POLLER_INTERVAL_SECONDS",
    "POLLER_SCANS",
    "READS_FAILED",
    "READ_EVENTS_ROUTED",
    "STORED_REFUSED",
    "TOKEN_REFRESHES",
    "WEBHOOKS_ACCEPTED",
    "WEBHOOKS_REFUSED",
    "LagWatch",
    "exposition",
    "kafka_middleware",
    "multiprocess_dir",
    "observe_efax",
    "serve",
    "start_at_zero",
    "timed_store_call",
]

log = logging.getLogger("faxrelay.metrics")

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_AGE = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 6 * 3600, 24 * 3600)

# gateway
WEBHOOKS_ACCEPTED = Counter(
    "faxrelay_webhooks_accepted_total", "Webhook deliveries written to fax.webhook.received."
)
WEBHOOKS_REFUSED = Counter(
    "faxrelay_webhooks_refused_total",
    "Webhook requests refused by the gateway (unavailable: the broker did not acknowledge).",
    ["reason"],
)
# verifier
DELIVERIES_REJECTED = Counter(
    "faxrelay_deliveries_rejected_total",
    "Deliveries the verifier rejected as untrustworthy or unreadable (duplicates apart).",
    ["reason"],
)
DELIVERIES_DUPLICATE = Counter(
    "faxrelay_deliveries_duplicate_total", "Deliveries the verifier dropped as duplicates."
)
FAXES_NOTIFIED = Counter(
    "faxrelay_faxes_notified_total",
    "Faxes announced on fax.notified, by source (webhook or poller).",
    ["source"],
)
# downloader
FAXES_STORED = Counter("faxrelay_faxes_stored_total", "Faxes stored and announced on fax.stored.")
DOWNLOADS_FAILED = Counter(
    "faxrelay_downloads_failed_total", "Downloads given up, by reason.", ["reason"]
)
EFAX_REQUEST_SECONDS = Histogram(
    "faxrelay_efax_request_duration_seconds",
    "eFax API calls, by endpoint and HTTP status (error: no answer).",
    ["endpoint", "status"],
    buckets=_LATENCY,
)
TOKEN_REFRESHES = Counter(
    "faxrelay_efax_token_refreshes_total",
    "Bearer tokens asked of eFax, by outcome (ok or the HTTP status or error).",
    ["outcome"],
)
EFAX_UNAUTHORIZED_AFTER_REFRESH = Counter(
    "faxrelay_efax_unauthorized_after_refresh_total",
    "eFax calls answered 401 again with a freshly refreshed token.",
)
OBJECT_STORE_REQUEST_SECONDS = Histogram(
    "faxrelay_object_store_request_duration_seconds",
    "Object store calls, by operation and outcome (ok or error).",
    ["operation", "outcome"],
    buckets=_LATENCY,
)
# router
FAXES_ROUTED = Counter("faxrelay_faxes_routed_total", "Stored faxes routed to their destinations.")
STORED_REFUSED = Counter(
    "faxrelay_stored_refused_total",
    "fax.stored records not announced: their key or the object under it is not their fax's.",
)
EVENTS_ROUTED = Counter(
    "faxrelay_events_routed_total",
    "CloudEvents written, by destination kind (user: the user's topic; rule: a rule's topic).",
    ["destination"],
)
FAX_AGE_AT_ROUTING_SECONDS = Histogram(
    "faxrelay_fax_age_at_routing_seconds",
    "From the fax's completion on eFax to its CloudEvent being written.",
    buckets=_AGE,
)
READ_EVENTS_ROUTED = Counter(
    "faxrelay_read_events_routed_total",
    "fax.read CloudEvents written, by outcome (routed, or refused: the text object is not the "
    "fax's).",
    ["outcome"],
)
# reader
FAXES_READ = Counter("faxrelay_faxes_read_total", "Faxes read and announced on fax.read.")
PAGES_READ = Counter("faxrelay_pages_read_total", "Pages read, by kind (text or blank).", ["kind"])
DOCUMENTS_FOUND = Counter(
    "faxrelay_documents_found_total",
    "Documents found in the faxes read, by type and whether the type needs review.",
    ["type", "needs_review"],
)
PAGE_READ_SECONDS = Histogram(
    "faxrelay_page_read_duration_seconds",
    "OCR time of one page (rendering and recognition), in the reading process.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30),
)
PAGE_CONFIDENCE = Histogram(
    "faxrelay_page_confidence",
    "Mean word confidence (0..100) of each page read that is not blank.",
    buckets=(10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100),
)
READS_FAILED = Counter(
    "faxrelay_reads_failed_total", "Faxes announced on fax.read.failed, by reason.", ["reason"]
)
# poller
POLLER_SCANS = Counter(
    "faxrelay_poller_scans_total", "Scans of one user's faxes on eFax, by outcome.", ["outcome"]
)
POLLER_CURSOR_AGE_SECONDS = Gauge(
    "faxrelay_poller_cursor_age_seconds",
    "Seconds since the least recently completed scan among the users this copy polls.",
    multiprocess_mode="max",
)
POLLER_INTERVAL_SECONDS = Gauge(
    "faxrelay_poller_interval_seconds",
    "The configured seconds between scans of one user (for alerting on the cursor age).",
    multiprocess_mode="max",
)
# every consumer
CONSUMER_LAG = Gauge(
    "faxrelay_consumer_lag_records",
    "Records not yet committed by a consumer group, per topic partition (reads low on Tansu).",
    ["group", "topic", "partition"],
    multiprocess_mode="max",
)


def start_at_zero() -> None:
    """Known label values exist from the start at 0, so the first increase is seen as one
    (a series born at 1 has no increase for Prometheus). Called when metrics are first served
    (`serve`, `exposition`), never at import; calling it again changes nothing."""
    for failure in DownloadFailure:
        DOWNLOADS_FAILED.labels(reason=failure.value)
    for reason in RejectReason:
        if reason is not RejectReason.DUPLICATE:
            DELIVERIES_REJECTED.labels(reason=reason.value)
    for source in ("webhook", "poller"):
        FAXES_NOTIFIED.labels(source=source)
    for destination in ("user", "rule"):
        EVENTS_ROUTED.labels(destination=destination)
    for failure_reason in ReadFailureReason:
        READS_FAILED.labels(reason=failure_reason.value)
    for kind in ("text", "blank"):
        PAGES_READ.labels(kind=kind)
    for doc_type in DocumentType:
        for review in ("true", "false"):
            DOCUMENTS_FOUND.labels(type=doc_type.value, needs_review=review)
    for outcome in ("routed", "refused"):
        READ_EVENTS_ROUTED.labels(outcome=outcome)


def observe_efax(endpoint: str, status: int | str, seconds: float) -> None:
    EFAX_REQUEST_SECONDS.labels(endpoint=endpoint, status=str(status)).observe(seconds)


async def timed_store_call(
    operation: str,
    call: Callable[[], Any],
    run: Callable[[Callable[[], Any]], Awaitable[Any]] | None = None,
) -> Any:
    """Run a blocking object store call in a thread (asyncio's, or `run`'s), timing it by
    operation and outcome."""
    started = time.perf_counter()
    outcome = "error"
    try:
        result = await (run(call) if run is not None else asyncio.to_thread(call))
        outcome = "ok"
        return result
    finally:
        OBJECT_STORE_REQUEST_SECONDS.labels(operation=operation, outcome=outcome).observe(
            time.perf_counter() - started
        )


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def topic_label(topic: str) -> str:
    """A topic as a metric label: a per-user topic by its pattern (`faxes.user.*`), so no user id
    reaches Prometheus and the series do not grow with the users."""
    return _UUID.sub("*", topic)


class _TopicPatterns:
    """FastStream's Kafka metrics settings, with each topic named by its pattern."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.messaging_system = inner.messaging_system

    def get_consume_attrs_from_message(self, msg: Any) -> Any:
        attrs = dict(self.inner.get_consume_attrs_from_message(msg))
        attrs["destination_name"] = topic_label(attrs["destination_name"])
        return attrs

    def get_publish_destination_name_from_cmd(self, cmd: Any) -> str:
        return topic_label(self.inner.get_publish_destination_name_from_cmd(cmd))


def kafka_middleware(app_name: str, registry: CollectorRegistry = REGISTRY) -> Any:
    """FastStream's consume and publish metrics (faststream_received_messages_total, ...), their
    topic labels collapsed to patterns (`topic_label`)."""
    from faststream.kafka.prometheus.provider import settings_provider_factory
    from faststream.prometheus.middleware import PrometheusMiddleware

    return PrometheusMiddleware(
        settings_provider_factory=lambda msg: _TopicPatterns(settings_provider_factory(msg)),
        registry=registry,
        app_name=app_name,
    )


def serve(host: str, port: int) -> Callable[[], None] | None:
    """Serve /metrics from a daemon thread; the returned callable stops it. A port already taken
    is logged, not fatal: the pipeline matters more than its numbers (the scrape target is then
    down, which Prometheus reports)."""
    start_at_zero()
    if port == 0:
        return None
    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as error:
        log.error("metrics not served on %s:%d: %s", host, port, error)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own, read at its import


def multiprocess_dir() -> str | None:
    """The directory the gateway's workers share their metrics through, when there are several
    (set by services.gateway.__main__ before they start)."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(multiprocess_dir: str | None) -> tuple[bytes, bytes]:
    """The gateway's /metrics body and content type; with several workers, all of theirs."""
    start_at_zero()
    if multiprocess_dir is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST.encode()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST.encode()


@dataclass
class LagWatch:
    """Consumer lag of the groups this process belongs to, read off the event loop every
    `every_s` seconds and exported as faxrelay_consumer_lag_records. On Tansu it reads low."""

    admin_factory: Callable[[], Any]
    groups: Mapping[str, Iterable[str]]  # group id -> topics it consumes
    every_s: float = 15.0

    def read_once(self, admin: Any) -> None:
        for group, topics in self.groups.items():
            for topic in topics:
                for partition, lag in admin.lag(group, topic).items():
                    CONSUMER_LAG.labels(group=group, topic=topic, partition=str(partition)).set(lag)

    async def run(self) -> None:
        # One thread for every reading and the close: a close never races a reading in flight.
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faxrelay-lag")
        loop = asyncio.get_running_loop()
        admin = None
        try:
            while True:
                try:
                    if admin is None:
                        admin = await loop.run_in_executor(thread, self.admin_factory)
                    await loop.run_in_executor(thread, self.read_once, admin)
                except Exception as error:  # lag is advisory: never take the service down
                    log.warning("consumer lag not read: %s", type(error).__name__)
                await asyncio.sleep(self.every_s)
        finally:
            if admin is not None:
                thread.submit(admin.close)
            thread.shutdown(wait=False)
