"""Builders of valid inputs; tests change one thing at a time."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts import FaxNotified, FaxStored, Source, StoredObject, WebhookReceived

API_BASE = "https://api.securedocex.com"
APP_ID = "d580162d-d162-4353-bd55-c2044ab20711"
SECRET = b"shared-webhook-secret"


def notification(**changes: Any) -> dict[str, Any]:
    fax_id = changes.pop("fax_id", str(uuid.uuid4()))
    body = {
        "app_id": APP_ID,
        "user_id": "ca4cd102-c3e7-4379-9a7e-38c61e1f7a55",
        "notification_id": str(uuid.uuid4()),
        "direction": "INBOUND",
        "completed_timestamp": f"{datetime.now(UTC) - timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}",
        "duration": 48,
        "pages": 2,
        "fax_id": fax_id,
        "sending_fax_number": "13235555555",
        "receiving_fax_number": "18885555555",
        "resource_url": f"{API_BASE}/faxes/{fax_id}/image",
        "originating_fax_tsid": "18664226438",
    }
    body.update(changes)
    return body


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def delivery(
    body: bytes | dict[str, Any] | None = None, signature: str | None = None, **changes: Any
) -> WebhookReceived:
    raw = body if isinstance(body, bytes) else json.dumps(body or notification()).encode()
    return WebhookReceived(
        delivery_id=uuid.uuid4().hex,
        received_at=datetime.now(UTC),
        path="/webhooks/efax",
        content_type="application/json",
        signature=sign(raw) if signature is None else signature,
        body=raw,
        **changes,
    )


def notified(**changes: Any) -> FaxNotified:
    values: dict[str, Any] = {
        "fax_id": uuid.uuid4(),
        "app_id": uuid.UUID(APP_ID),
        "user_id": uuid.uuid4(),
        "source": Source.WEBHOOK,
        "completed_at": datetime(2024, 5, 10, 17, 54, 11, tzinfo=UTC),
        "pages": 2,
        "sending_fax_number": "13235555555",
        "receiving_fax_number": "18885555555",
        "originating_fax_tsid": "ACME",
    }
    values.update(changes)
    return FaxNotified(**values)


def stored(**changes: Any) -> FaxStored:
    fax = notified(**changes)
    return FaxStored(
        fax=fax,
        stored=StoredObject(
            bucket="faxes",
            key=f"{fax.user_id}/2024/05/10/{fax.fax_id}.pdf",
            size=3,
            sha256=hashlib.sha256(b"pdf").hexdigest(),
            content_type="application/pdf",
        ),
    )
