"""Webhook sender: signed JSON posts with the vendor's retry schedule, plus misbehaviour.

A notification is tried once and then ``webhook_retries`` more times,
``webhook_retry_interval_s * time_scale`` apart; an attempt fails on any status but 200, a
timeout or a connection error.  Every attempt lands in the delivery log.  During an outage
(wall-clock seconds) attempts fail without any request being sent.  One shared
``httpx.AsyncClient`` and a semaphore bound the posts in flight.

Hostile posts (``send_hostile``) are one-shot spoofs that eFax would never send; they are
kept in ``state.hostile``, not in the delivery log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from sandbox.settings import AppConfig, SandboxSettings
from sandbox.state import Delivery, Fax, State, notification_config_id, utc_now


class HostileKind(StrEnum):
    """What a spoofed webhook gets wrong."""

    WRONG_SECRET = "wrong_secret"  # noqa: S105 (a kind, not a secret)
    FOREIGN_RESOURCE_URL = "foreign_resource_url"
    MALFORMED_JSON = "malformed_json"
    MODIFIED_BODY = "modified_body"


FOREIGN_BASE = "https://api.securedocex.com.attacker.example"


@dataclass(frozen=True)
class Notification:
    notification_id: str
    app_id: str
    user_id: str | None
    fax_id: str | None
    event_type: str
    url: str
    secret: str
    body: bytes


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, settings: SandboxSettings, state: State, base_url: str) -> None:
        self.settings = settings
        self.state = state
        self.base_url = base_url
        self.outage_until = 0.0
        self._client: httpx.AsyncClient | None = None
        self._semaphore = asyncio.Semaphore(max(1, settings.webhook_concurrency))
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        size = max(1, self.settings.webhook_concurrency)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._client = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_s, limits=limits, trust_env=False
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def wait_idle(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(list(self._tasks), timeout=remaining)
        return True

    def start_outage(self, seconds: float) -> None:
        self.outage_until = time.monotonic() + seconds

    def end_outage(self) -> None:
        self.outage_until = 0.0

    def _dumps(self, payload: dict[str, Any]) -> bytes:
        if self.settings.webhook_body_style == "compact":
            return json.dumps(payload, separators=(",", ":")).encode()
        return json.dumps(payload, indent=3).encode()

    def fax_payload(self, fax: Fax, base_url: str | None = None) -> dict[str, Any]:
        return {
            "app_id": fax.app_id,
            "user_id": fax.user_id,
            "notification_id": fax.notification_id,
            "direction": "INBOUND",
            "completed_timestamp": fax.completed_timestamp,
            "duration": fax.duration,
            "pages": fax.pages,
            "fax_id": fax.fax_id,
            "sending_fax_number": fax.sending_fax_number,
            "receiving_fax_number": fax.receiving_fax_number,
            "resource_url": f"{base_url or self.base_url}/faxes/{fax.fax_id}/image",
            "originating_fax_tsid": fax.originating_fax_tsid,
        }

    def fax_notification(self, fax: Fax) -> Notification | None:
        app = self.state.apps[fax.app_id]
        if app.webhook_url is None:
            return None
        body = self._dumps(self.fax_payload(fax))
        secret = app.hmac_secret.get_secret_value()
        return Notification(
            fax.notification_id, fax.app_id, fax.user_id, fax.fax_id, "FAX", app.webhook_url,
            secret, body,
        )  # fmt: skip

    def ping_notification(self, app: AppConfig, direction: str) -> Notification | None:
        if app.webhook_url is None:
            return None
        notification_id = str(uuid.uuid4())
        payload = {
            "app_id": app.app_id,
            "notification_id": notification_id,
            "direction": direction,
            "event_type": "PING",
            "notification_config_id": notification_config_id(app.app_id),
        }
        secret = app.hmac_secret.get_secret_value()
        body = self._dumps(payload)
        return Notification(
            notification_id, app.app_id, None, None, "PING", app.webhook_url, secret, body
        )

    def enqueue(self, notification: Notification) -> None:
        """Deliver with retries in the background."""
        self._track(self.deliver(notification))

    def enqueue_in_order(self, notifications: list[Notification]) -> None:
        """Send first attempts strictly one after another, in the given order."""

        async def run() -> None:
            for notification in notifications:
                if not await self.attempt(notification, 1):
                    self._track(self.deliver(notification, first_attempt=2))

        self._track(run())

    def _track(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, notification: Notification, first_attempt: int = 1) -> None:
        interval = self.settings.webhook_retry_interval_s * self.settings.time_scale
        last = 1 + self.settings.webhook_retries
        for attempt in range(first_attempt, last + 1):
            if attempt > 1:
                await asyncio.sleep(interval)
            if await self.attempt(notification, attempt):
                return
        self.state.stats["webhooks_exhausted"] += 1

    async def attempt(self, notification: Notification, attempt: int) -> bool:
        status: int | None = None
        error: str | None = None
        if time.monotonic() < self.outage_until:
            error = "outage"
        else:
            status, error = await self.post(
                notification.url, notification.body, sign(notification.secret, notification.body)
            )
        ok = status == 200
        self.state.stats["webhooks_sent" if ok else "webhooks_failed"] += 1
        self.state.deliveries.append(
            Delivery(
                notification_id=notification.notification_id,
                app_id=notification.app_id,
                user_id=notification.user_id,
                fax_id=notification.fax_id,
                direction="INBOUND",
                event_type=notification.event_type,
                status="SUCCESS" if ok else "FAILED",
                attempt=attempt,
                time=utc_now(),
                http_status=status,
                error=error,
            )
        )
        return ok

    async def post(self, url: str, body: bytes, signature: str) -> tuple[int | None, str | None]:
        assert self._client is not None, "sender not started"
        headers = {"Content-Type": "application/json", "X-HMAC-Signature": signature}
        async with self._semaphore:
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.TimeoutException:
                return None, "timeout"
            except httpx.HTTPError as exc:
                return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

    async def send_hostile(self, kind: HostileKind, fax: Fax) -> dict[str, Any]:
        app = self.state.apps[fax.app_id]
        if app.webhook_url is None:
            raise ValueError(f"app {app.app_id} has no webhook_url")
        secret = app.hmac_secret.get_secret_value()
        body = self._dumps(self.fax_payload(fax))
        signature = sign(secret, body)
        match kind:
            case HostileKind.WRONG_SECRET:
                signature = sign(secret + "-wrong", body)
            case HostileKind.FOREIGN_RESOURCE_URL:
                body = self._dumps(self.fax_payload(fax, FOREIGN_BASE))
                signature = sign(secret, body)
            case HostileKind.MALFORMED_JSON:
                body = drop_comma_before(body, b'"originating_fax_tsid"')
                signature = sign(secret, body)
            case HostileKind.MODIFIED_BODY:
                body = modify_one_byte(body)
        status, error = await self.post(app.webhook_url, body, signature)
        record = {
            "kind": kind.value,
            "fax_id": fax.fax_id,
            "http_status": status,
            "error": error,
            "body": body.decode(),
            "signature": signature,
        }
        self.state.hostile.append(record)
        self.state.stats["hostile_sent"] += 1
        return record


def drop_comma_before(body: bytes, key: bytes) -> bytes:
    """The seed's mistake: no comma before ``"originating_fax_tsid"``."""
    return re.sub(rb",(\s*)" + re.escape(key), rb"\1" + key, body, count=1)


def modify_one_byte(body: bytes) -> bytes:
    """Change one digit of ``duration``; the JSON stays valid, the signature no longer fits."""
    found = re.search(rb'"duration":\s*(\d)', body)
    assert found is not None
    at = found.start(1)
    digit = b"2" if body[at : at + 1] == b"1" else b"1"
    return body[:at] + digit + body[at + 1 :]
