"""Topic and header names, the examples the documentation shows, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime

WEBHOOK_RECEIVED = "fax.webhook.received"
WEBHOOK_REJECTED = "fax.webhook.rejected"
PING_RECEIVED = "fax.ping.received"
OUTBOUND_NOTIFIED = "fax.outbound.notified"
FAX_NOTIFIED = "fax.notified"
FAX_STORED = "fax.stored"
DOWNLOAD_FAILED = "fax.download.failed"
FAX_READ = "fax.read"
READ_FAILED = "fax.read.failed"

CORRELATION_HEADER = "correlation_id"
TRACEPARENT_HEADER = "traceparent"  # W3C trace context of the fax (shared/tracing.py)

FAX_ID_EXAMPLE = "7e029808-237b-413e-a051-53bf445e8b49"
USER_ID_EXAMPLE = "ca4cd102-c3e7-4379-9a7e-38c61e1f7a55"
APP_ID_EXAMPLE = "d580162d-d162-4353-bd55-c2044ab20711"


def now_utc() -> datetime:
    return datetime.now(UTC)
