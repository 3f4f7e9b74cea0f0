"""The gateway's HTTP side: a plain ASGI app with nothing between the socket and the broker but
the checks in `logic`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from faststream.kafka import KafkaBroker

from services.gateway import logic
from services.gateway.settings import GatewaySettings
from shared.contracts import CORRELATION_HEADER, WEBHOOK_RECEIVED, now_utc
from shared.health import exit_if_not_stopped_within
from shared.kafka import Outgoing, publish_all
from shared.logs import fax_fields
from shared.metrics import WEBHOOKS_ACCEPTED, WEBHOOKS_REFUSED, exposition, multiprocess_dir
from shared.tracing import SpanKind, traced

log = logging.getLogger("faxrelay.gateway")
Scope = dict[str, Any]


class Gateway:
    """A plain ASGI app: nothing between the socket and the broker but the checks in `logic`."""

    def __init__(self, settings: GatewaySettings, broker: KafkaBroker) -> None:
        self.settings = settings
        self.broker = broker
        self.paths = frozenset(settings.gateway_webhook_paths)
        self.metrics_dir = multiprocess_dir()  # set by __main__ with several workers
        self.rate_limit = logic.RateLimit(
            settings.gateway_rate_limit_per_s, settings.gateway_rate_limit_burst
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.broker.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                exit_if_not_stopped_within(self.settings.shutdown_timeout_s)
                await self.broker.stop()  # flushes what is pending: forever if the broker is gone
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope["path"]
        content_type = b"application/json"
        if is_internal(scope, self.settings):  # health and metrics only, never webhooks
            if path == "/healthz":
                status, body = 200, b'{"status":"UP"}'
            elif path == "/readyz":
                ready = await self.broker.ping(timeout=2.0)
                status, body = (
                    (200, b'{"status":"READY"}') if ready else (503, b'{"status":"DOWN"}')
                )
            elif path == "/metrics":
                status, (body, content_type) = 200, exposition(self.metrics_dir)
            else:
                status, body = logic.NOT_FOUND.status, logic.NOT_FOUND.body()
        elif path in self.paths:  # the public port: the webhook paths and nothing else
            status, body = await self.take_delivery(scope, receive)
        else:
            status, body = logic.NOT_FOUND.status, logic.NOT_FOUND.body()
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        if status == logic.TOO_MANY.status:
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def take_delivery(self, scope: Scope, receive: Any) -> tuple[int, bytes]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = headers.get("content-type", "")
        client = scope.get("client") or ("", 0)
        client_addr = str(client[0])
        if self.settings.gateway_trust_forwarded_for and "x-forwarded-for" in headers:
            # the last entry is the one our own proxy appended; earlier ones the client wrote
            client_addr = headers["x-forwarded-for"].rsplit(",", 1)[-1].strip()
        refusal = logic.refuse_request(
            scope["method"],
            content_type,
            headers.get("content-length"),
            self.settings.gateway_max_body_bytes,
        )
        if refusal is None and not self.rate_limit.allow(client_addr, time.monotonic()):
            refusal = logic.TOO_MANY
        if refusal is None:
            try:
                async with asyncio.timeout(self.settings.gateway_read_timeout_s):
                    body = await logic.read_body(receive, self.settings.gateway_max_body_bytes)
            except logic.BodyTooLarge:
                refusal = logic.TOO_LARGE
            except TimeoutError:  # a slow client holds neither memory nor a slot for long
                refusal = logic.TOO_SLOW
            else:
                refusal = logic.EMPTY if not body.strip() else None
        if refusal is not None:
            WEBHOOKS_REFUSED.labels(reason=refusal.code).inc()
            log.info("webhook refused: %s", refusal.code, extra={"reason": refusal.code})
            return refusal.status, refusal.body()
        delivery = logic.new_delivery(
            body,
            scope["path"],
            client_addr,
            content_type,
            headers.get("x-hmac-signature"),
            now_utc(),
        )
        # A new trace for each delivery: a traceparent from the internet is not trusted.
        correlation = {CORRELATION_HEADER: delivery.delivery_id}
        with traced(
            "webhook received", correlation, kind=SpanKind.SERVER, delivery_id=delivery.delivery_id
        ) as trace:
            value = delivery.model_dump_json().encode()
            record = Outgoing(WEBHOOK_RECEIVED, logic.partition_key(body), value, trace)
            try:
                async with asyncio.timeout(self.settings.gateway_publish_timeout_s):
                    await publish_all(self.broker, [record])
            except Exception as error:  # the broker did not acknowledge: eFax must retry
                WEBHOOKS_REFUSED.labels(reason=logic.UNAVAILABLE.code).inc()
                fields = fax_fields(None, delivery.delivery_id, trace, reason="unavailable")
                log.warning("delivery not recorded: %s", type(error).__name__, extra=fields)
                return logic.UNAVAILABLE.status, logic.UNAVAILABLE.body()
        WEBHOOKS_ACCEPTED.inc()
        log.debug("delivery accepted", extra=fax_fields(None, delivery.delivery_id, trace))
        return 200, logic.ACCEPTED


def is_internal(scope: Scope, settings: GatewaySettings) -> bool:
    """Whether the request came in on the internal port (FAXRELAY_METRICS_PORT), which serves
    /healthz, /readyz and /metrics; the public port serves only the webhook paths."""
    server = scope.get("server") or ("", None)
    return settings.metrics_port != 0 and server[1] == settings.metrics_port
