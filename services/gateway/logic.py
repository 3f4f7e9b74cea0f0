"""What the gateway decides about a request, as plain functions."""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from shared.contracts import WebhookReceived

JSON_TYPES = ("application/json", "text/json")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    def body(self) -> bytes:
        return json.dumps({"status": "ERROR", "error": self.code, "message": self.message}).encode()


NOT_FOUND = Refusal(404, "not_found", "no such endpoint")
WRONG_METHOD = Refusal(405, "method_not_allowed", "webhooks are delivered with POST")
WRONG_TYPE = Refusal(415, "unsupported_media_type", "the body must be application/json")
TOO_LARGE = Refusal(413, "payload_too_large", "the body is over the size limit")
EMPTY = Refusal(400, "empty_body", "the body is empty")
UNAVAILABLE = Refusal(503, "unavailable", "the delivery could not be recorded; retry later")
TOO_SLOW = Refusal(408, "request_timeout", "the body did not arrive in time")
TOO_MANY = Refusal(429, "too_many_requests", "too many webhooks from this address; retry later")
ACCEPTED = json.dumps({"status": "SUCCESS"}).encode()


class BodyTooLarge(Exception):
    pass


class RateLimit:
    """A token bucket per source address: `rate` a second, `burst` at once. The buckets of at
    most `sources` addresses are kept (the least recently seen forgotten first), so a flood from
    many addresses cannot grow memory. A rate of 0 lets everything through."""

    def __init__(self, rate: float, burst: int, sources: int = 10_000) -> None:
        self.rate, self.burst, self.sources = rate, burst, sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, source: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        tokens, at = self._buckets.pop(source, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        allowed = tokens >= 1
        self._buckets[source] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.sources:
            self._buckets.popitem(last=False)
        return allowed


def refuse_request(
    method: str, content_type: str, content_length: str | None, max_body_bytes: int
) -> Refusal | None:
    """The refusal a webhook request gets before its body is read, if any."""
    if method != "POST":
        return WRONG_METHOD
    if content_type.split(";", 1)[0].strip().lower() not in JSON_TYPES:
        return WRONG_TYPE
    if content_length is not None:
        try:
            length = int(content_length)
        except ValueError:
            return Refusal(400, "bad_content_length", "Content-Length is not a number")
        if length > max_body_bytes:
            return TOO_LARGE
    return None


async def read_body(receive: Callable[[], Awaitable[dict[str, object]]], limit: int) -> bytes:
    """Read an ASGI request body, stopping as soon as it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        chunk = message.get("body", b"")
        assert isinstance(chunk, bytes)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


_FAX_ID = re.compile(rb'"fax_id"\s*:\s*"([^"\\]{1,64})"')


def partition_key(body: bytes) -> bytes | None:
    """The fax id when the body names one, so every event of a fax shares a partition.

    Best effort on unverified input, found without parsing the body (the verifier parses it
    and keys by the fax id again): anything odd gets no key (a random partition).
    """
    found = _FAX_ID.search(body)
    return found.group(1) if found else None


def new_delivery(
    body: bytes,
    path: str,
    client_addr: str,
    content_type: str,
    signature: str | None,
    received_at: datetime,
) -> WebhookReceived:
    return WebhookReceived(
        delivery_id=uuid.uuid4().hex,
        received_at=received_at,
        path=path,
        client_addr=client_addr[:100],
        content_type=content_type[:200],
        signature=signature[:200] if signature is not None else None,
        body=body,
    )
