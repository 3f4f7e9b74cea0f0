"""What makes a delivery trustworthy: signature, schema, origin and novelty."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared.contracts import (
    FAX_NOTIFIED,
    OUTBOUND_NOTIFIED,
    PING_RECEIVED,
    WEBHOOK_REJECTED,
    FaxNotified,
    InboundNotification,
    PingNotification,
    PingReceived,
    RejectReason,
    WebhookReceived,
    WebhookRejected,
    now_utc,
)
from shared.kafka import Decision, Outgoing, propagated
from shared.logs import fax_fields
from shared.metrics import DELIVERIES_DUPLICATE, DELIVERIES_REJECTED, FAXES_NOTIFIED
from shared.recent import Recent
from shared.tracing import annotate, traced

log = logging.getLogger("faxrelay.verifier")

MAX_JSON_DEPTH = 8
DEFAULT_PORTS = {"https": 443, "http": 80}


class VerificationError(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Outbound:
    """An OUTBOUND notification: valid, but not a fax to download."""

    notification: InboundNotification


Verified = FaxNotified | PingReceived | Outbound


def signature_matches(body: bytes, signature: str | None, secrets: Sequence[bytes]) -> bool:
    """Hex HMAC-SHA256 of the raw body, case-insensitive, constant time, any current secret."""
    if not signature:
        return False
    given = signature.strip().lower().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, given)
    return matched


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise VerificationError(RejectReason.MALFORMED_JSON, f"body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise VerificationError(RejectReason.MALFORMED_JSON, "body is not a JSON object")
    if _depth(value) > MAX_JSON_DEPTH:
        raise VerificationError(RejectReason.INVALID_PAYLOAD, "body is nested too deeply")
    return value


def resource_url_problem(url: str, api_base: str, fax_id: UUID) -> str | None:
    """Why `url` is not `https://<api host>/faxes/<fax_id>/image`, or None if it is."""
    try:
        given, base = urlsplit(url), urlsplit(api_base)
        given_port = given.port or DEFAULT_PORTS.get(given.scheme)
        base_port = base.port or DEFAULT_PORTS.get(base.scheme)
    except ValueError:
        return "resource_url cannot be parsed"
    if given.scheme != base.scheme:
        return f"resource_url scheme is {given.scheme!r}, expected {base.scheme!r}"
    if given.username is not None or given.password is not None or "@" in given.netloc:
        return "resource_url carries user info"
    if (given.hostname or "").lower() != (base.hostname or "").lower():
        return "resource_url is not on the API host"
    if given_port != base_port:
        return "resource_url names another port"
    expected_path = f"{base.path.rstrip('/')}/faxes/{fax_id}/image"
    if given.path != expected_path or given.query or given.fragment:
        return "resource_url does not point at this fax's image"
    return None


def _errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5]
    )


def verify(
    delivery: WebhookReceived,
    secrets_by_app: Mapping[str, Sequence[bytes]],
    api_base: str,
    max_age: timedelta | None = None,
) -> Verified:
    """The verified event a delivery stands for, or VerificationError with the reason. eFax signs
    no timestamp, so a signed webhook could be replayed at any time: with `max_age`, one whose
    fax completed longer than that before the gateway took it is refused as stale."""
    payload = parse_json_object(delivery.body)
    app_id = payload.get("app_id")
    if not isinstance(app_id, str) or app_id.lower() not in secrets_by_app:
        raise VerificationError(RejectReason.UNKNOWN_APP, "app_id is not one this relay serves")
    if delivery.signature is None:
        raise VerificationError(RejectReason.MISSING_SIGNATURE, "no X-HMAC-Signature header")
    if not signature_matches(delivery.body, delivery.signature, secrets_by_app[app_id.lower()]):
        raise VerificationError(RejectReason.BAD_SIGNATURE, "X-HMAC-Signature does not match")
    try:
        if payload.get("event_type") == "PING":
            return PingReceived.from_ping(PingNotification.model_validate(payload), delivery)
        notification = InboundNotification.model_validate(payload)
    except ValidationError as error:
        raise VerificationError(RejectReason.INVALID_PAYLOAD, _errors(error)) from None
    problem = resource_url_problem(notification.resource_url, api_base, notification.fax_id)
    if problem:
        raise VerificationError(RejectReason.FOREIGN_RESOURCE_URL, problem)
    age = delivery.received_at - notification.completed_timestamp
    if max_age is not None and age > max_age:
        hours = age.total_seconds() / 3600
        raise VerificationError(
            RejectReason.STALE, f"completed {hours:.1f} h before it was received (replay?)"
        )
    if notification.direction == "OUTBOUND":
        return Outbound(notification)
    written = str(payload.get("completed_timestamp", ""))
    return FaxNotified.from_inbound(notification, delivery.delivery_id, written)


DuplicateWindow = Recent[str]
"""Delivery keys seen within the last `seconds`, at most `size` of them (oldest forgotten
first): `DuplicateWindow(seconds, size)`."""


def duplicate_keys(verified: Verified) -> tuple[str, ...]:
    if isinstance(verified, FaxNotified):
        keys = [f"fax:{verified.fax_id}"]
        if verified.notification_id:
            keys.append(f"notification:{verified.notification_id}")
        return tuple(keys)
    if isinstance(verified, PingReceived):
        return (f"notification:{verified.notification_id}",)
    return (f"outbound:{verified.notification.notification_id}",)


@dataclass(frozen=True)
class Outcome:
    """Where one delivery goes, and which keys to remember once it is there."""

    topic: str
    message: BaseModel
    key: str | None
    remember: tuple[str, ...] = ()


def decide(
    raw: bytes,
    secrets_by_app: Mapping[str, Sequence[bytes]],
    api_base: str,
    window: DuplicateWindow,
    in_batch: set[str],
    max_age: timedelta | None = None,
) -> Outcome:
    """The outcome of one record of `fax.webhook.received`; never raises on bad input."""
    try:
        delivery = WebhookReceived.model_validate_json(raw)
    except ValidationError as error:
        delivery = WebhookReceived(
            delivery_id="unreadable", received_at=now_utc(), path="", body=raw[:65536]
        )
        return _rejected(
            delivery, RejectReason.INVALID_PAYLOAD, f"not a delivery: {_errors(error)}"
        )
    try:
        verified = verify(delivery, secrets_by_app, api_base, max_age)
    except VerificationError as error:
        return _rejected(delivery, error.reason, error.detail)
    keys = duplicate_keys(verified)
    if window.seen(*keys) or in_batch.intersection(keys):
        return _rejected(delivery, RejectReason.DUPLICATE, f"already seen: {keys[0]}")
    in_batch.update(keys)
    if isinstance(verified, FaxNotified):
        return Outcome(FAX_NOTIFIED, verified, str(verified.fax_id), keys)
    if isinstance(verified, PingReceived):
        return Outcome(PING_RECEIVED, verified, verified.notification_id, keys)
    notice = verified.notification
    return Outcome(OUTBOUND_NOTIFIED, notice, str(notice.fax_id), keys)


def _rejected(delivery: WebhookReceived, reason: RejectReason, detail: str) -> Outcome:
    rejection = WebhookRejected.of(delivery, reason, detail)
    return Outcome(WEBHOOK_REJECTED, rejection, delivery.delivery_id)


@dataclass(frozen=True)
class Verification:
    """What a service needs to verify: the secrets of every App ID, the API base, the window,
    and the oldest fax a webhook may still announce."""

    secrets_by_app: Mapping[str, Sequence[bytes]]
    api_base: str
    window: DuplicateWindow
    max_age: timedelta | None = None


def decide_batch(batch: Sequence[ConsumerRecord[bytes, bytes]], v: Verification) -> Decision:
    """The records to write for a batch, one per input record, and what to do once they are all
    acknowledged: remember their keys in the duplicate window (not before: a failed publish is
    redelivered and must not then look like a duplicate), count and log each outcome."""
    in_batch: set[str] = set()
    outgoing: list[Outgoing] = []
    remember: list[str] = []
    outcomes: list[tuple[Outcome, dict[str, str]]] = []
    for record in batch:
        with traced("verify delivery", propagated(record)) as trace:
            raw = record.value or b""
            outcome = decide(raw, v.secrets_by_app, v.api_base, v.window, in_batch, v.max_age)
            annotate(outcome=outcome.topic, reason=getattr(outcome.message, "reason", None))
        outgoing.append(Outgoing.of(outcome.topic, outcome.message, outcome.key, trace))
        remember.extend(outcome.remember)
        outcomes.append((outcome, trace))

    def written() -> None:
        v.window.remember(*remember)
        for outcome, trace in outcomes:
            tell(outcome, trace)

    return outgoing, written


def tell(outcome: Outcome, trace: Mapping[str, str]) -> None:
    """Count and log one written outcome (the metrics and the INFO line of a rejection)."""
    if isinstance(outcome.message, FaxNotified):
        FAXES_NOTIFIED.labels(source="webhook").inc()
        log.debug("fax notified", extra=fax_fields(outcome.message.fax_id, None, trace))
        return
    if not isinstance(outcome.message, WebhookRejected):
        return
    rejection = outcome.message
    fields = fax_fields(None, rejection.delivery.delivery_id, trace, reason=rejection.reason.value)
    if rejection.reason == RejectReason.DUPLICATE:
        DELIVERIES_DUPLICATE.inc()
        log.info("duplicate delivery dropped: %s", rejection.detail, extra=fields)
        return
    DELIVERIES_REJECTED.labels(reason=rejection.reason.value).inc()
    log.info("delivery rejected: %s: %s", rejection.reason, rejection.detail, extra=fields)
