"""The eFax Enterprise API on the vendor's paths (no version prefix, as on
https://api.securedocex.com):

  POST /tokens                      Basic App ID:API key, grant_type=client_credentials
  GET  /faxes/received              query min_completed_timestamp, image_downloaded,
                                    search_text; headers pagination-offset/-limit
  GET  /faxes/{id}/image            ?desired_format=PDF|TIFF -> {fax_id, file_name, image}
  GET  /faxes/{id}/image/pages      ?start_page=0&num_pages=N (0-based page_number)
  GET|PATCH /faxes/{id}/metadata    POST /faxes/metadata (bulk)   DELETE /faxes/{id}
  POST /notifications/ping          GET /notifications            GET /health
Fax calls need ``Authorization: Bearer`` and a ``user-id`` of the token's App ID
(``/notifications`` needs only the token).  Errors use the vendor envelope.

Endpoints are module-level functions; the ``Sandbox`` they serve is ``request.app.state.sandbox``.
``efax_endpoint`` is the prologue every eFax call shares: injected faults, the bearer token, the
``user-id`` header and the fax of the path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.core import Sandbox
from sandbox.faults import damage_base64
from sandbox.settings import AppConfig, SandboxSettings
from sandbox.state import Fax, Token, notification_config_id
from sandbox.web import (
    ApiError,
    envelope,
    extension,
    grant_type_of,
    json_body,
    parse_bool,
    parse_format,
    parse_int,
    parse_timestamp,
    sandbox_of,
)


async def injected_failure(sandbox: Sandbox, kind: str) -> Response | None:
    """The fault set for calls of ``kind`` (``fax`` or ``token``): a delay, then maybe an answer."""
    delay = sandbox.faults.delay(kind)
    if delay > 0:
        await asyncio.sleep(delay)
    failure = sandbox.faults.pick_failure(kind)
    if failure is None:
        return None
    sandbox.state.stats[f"injected_{failure}"] += 1
    if failure == "error":
        status = sandbox.faults.faults.error_status
        return JSONResponse(envelope("SERVER_ERROR", "Injected server error"), status)
    retry_after = sandbox.faults.faults.retry_after_s
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    if sandbox.settings.rate_limit_plain_text:
        return PlainTextResponse("Too Many Requests", 429, headers=headers)
    return JSONResponse(envelope("RATE_LIMITED", "Too many requests"), 429, headers=headers)


def authenticate(sandbox: Sandbox, request: Request) -> tuple[Token, AppConfig]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = sandbox.state.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if token is None or token.revoked or token.expires_at <= time.time():
        raise ApiError(401, "UNAUTHORIZED", "Missing, unknown or expired access token")
    return token, sandbox.state.apps[token.app_id]


def user_of(request: Request, app: AppConfig) -> str:
    user_id = request.headers.get("user-id", "").strip()
    if not user_id:
        raise ApiError(400, "MISSING_HEADER", "The user-id header is required", "user-id")
    if user_id not in app.user_ids:
        raise ApiError(403, "FORBIDDEN", "User does not belong to this App ID", "user-id")
    return user_id


def fax_of(sandbox: Sandbox, user_id: str, fax_id: str) -> Fax:
    fax = sandbox.state.faxes.get(fax_id)
    if fax is None or fax.deleted or fax.user_id != user_id:
        raise ApiError(404, "FAX_NOT_FOUND", f"Fax {fax_id} not found", "fax_id")
    return fax


@dataclass(frozen=True)
class Call:
    """An eFax call past its prologue: the App of its token, its user and the fax of its path
    (``user_id`` and ``fax`` only for the endpoints that take them)."""

    request: Request
    sandbox: Sandbox
    app: AppConfig
    user_id: str = ""
    path_fax: Fax | None = None

    @property
    def fax(self) -> Fax:
        assert self.path_fax is not None, "declare the endpoint with fax=True"
        return self.path_fax

    @property
    def settings(self) -> SandboxSettings:
        return self.sandbox.settings


Endpoint = Callable[[Request], Awaitable[Response]]


def efax_endpoint(
    *, user: bool = True, fax: bool = False
) -> Callable[[Callable[[Call], Awaitable[Response]]], Endpoint]:
    """Injected faults first, then the bearer token; with ``user`` the ``user-id`` header of one
    of the token's App's users; with ``fax`` the path's ``{fax_id}``, owned by that user."""

    def decorate(handler: Callable[[Call], Awaitable[Response]]) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            sandbox = sandbox_of(request)
            injected = await injected_failure(sandbox, "fax")
            if injected is not None:
                return injected
            _, app = authenticate(sandbox, request)
            user_id = user_of(request, app) if user else ""
            path_fax = fax_of(sandbox, user_id, request.path_params["fax_id"]) if fax else None
            return await handler(Call(request, sandbox, app, user_id, path_fax))

        return endpoint

    return decorate


async def encoded(sandbox: Sandbox, fax: Fax, data: bytes) -> str:
    limit = sandbox.settings.max_image_bytes
    if limit is not None and len(data) > limit:
        raise ApiError(
            413, "IMAGE_TOO_LARGE", f"Image of {len(data)} bytes exceeds the limit", "fax_id"
        )
    text = base64.b64encode(data).decode()
    damage = sandbox.faults.base64_damage(fax.fax_id)
    if damage is not None:
        sandbox.state.stats[f"injected_{damage}_base64"] += 1
        text = damage_base64(text, damage)
    return text


async def tokens(request: Request) -> Response:
    sandbox = sandbox_of(request)
    injected = await injected_failure(sandbox, "token")
    if injected is not None:
        return injected
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    app: AppConfig | None = None
    if scheme.lower() == "basic":
        try:
            app_id, _, key = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            app_id, key = "", ""
        app = sandbox.state.apps.get(app_id)
        if app is not None and app.api_key.get_secret_value() != key:
            app = None
    if app is None:
        raise ApiError(401, "INVALID_CLIENT", "Invalid App ID or API key")
    if grant_type_of(await request.body(), request.query_params.get("grant_type")) != (
        "client_credentials"
    ):
        raise ApiError(401, "INVALID_GRANT", "grant_type must be client_credentials", "grant_type")
    token = sandbox.state.new_token(app.app_id, time.time())
    return JSONResponse(
        {
            "access_token": token.value,
            "token_type": "Bearer",
            "expires_in": sandbox.settings.token_lifetime_s,
        }
    )


@efax_endpoint()
async def received(call: Call) -> Response:
    request, user_id = call.request, call.user_id
    query = request.query_params
    since = None
    if query.get("min_completed_timestamp"):
        try:
            since = parse_timestamp(query["min_completed_timestamp"])
        except ValueError:
            raise ApiError(
                400, "INVALID_PARAMETER", "min_completed_timestamp is not ISO-8601",
                "min_completed_timestamp",
            ) from None  # fmt: skip
    downloaded = None
    if query.get("image_downloaded"):
        downloaded = parse_bool(query["image_downloaded"], "image_downloaded")
    search = query.get("search_text", "").strip().lower()
    offset = parse_int(request.headers.get("pagination-offset"), 0, "pagination-offset")
    limit = parse_int(request.headers.get("pagination-limit"), 100, "pagination-limit", 1)
    limit = min(limit, call.settings.pagination_max_limit)
    inclusive = call.sandbox.listing.min_completed_inclusive
    now = time.time()

    def wanted(fax: Fax) -> bool:
        if fax.deleted or fax.user_id != user_id or fax.direction != "INBOUND":
            return False
        if fax.listed_from > now:
            return False
        if since is not None and (
            fax.completed_at < since or (fax.completed_at == since and not inclusive)
        ):
            return False
        if downloaded is not None and fax.image_downloaded != downloaded:
            return False
        return not search or any(search in v.lower() for v in fax.search_values())

    chosen = sorted(
        (f for f in call.sandbox.state.faxes.values() if wanted(f)),
        key=lambda f: (f.completed_at, f.fax_id),
    )[offset : offset + limit]
    return JSONResponse(
        {
            "first_record": offset + 1 if chosen else 0,
            "last_record": offset + len(chosen),
            "faxes": [f.summary() for f in chosen],
        }
    )


@efax_endpoint(fax=True)
async def image(call: Call) -> Response:
    fax, sandbox = call.fax, call.sandbox
    fmt = parse_format(call.request, call.settings.default_image_format)
    data = await asyncio.to_thread(sandbox.documents.document, fax, fmt)
    text = await encoded(sandbox, fax, data)
    fax.image_downloaded = True
    sandbox.state.stats["image_downloads"] += 1
    return JSONResponse(
        {"fax_id": fax.fax_id, "file_name": f"{fax.fax_id}.{extension(fmt)}", "image": text}
    )


@efax_endpoint(fax=True)
async def image_pages(call: Call) -> Response:
    fax, sandbox, query = call.fax, call.sandbox, call.request.query_params
    fmt = parse_format(call.request, call.settings.default_image_format)
    start = parse_int(query.get("start_page"), 0, "start_page")
    count = parse_int(query.get("num_pages"), fax.pages, "num_pages", 1)
    if start >= fax.pages:
        raise ApiError(
            400, "INVALID_PARAMETER", f"start_page beyond {fax.pages} pages", "start_page"
        )
    pages = []
    for index in range(start, min(fax.pages, start + count)):
        data = await asyncio.to_thread(sandbox.documents.page, fax, fmt, index)
        pages.append(
            {
                "page_number": index,
                "file_name": f"{fax.fax_id}_{index}.{extension(fmt)}",
                "image": await encoded(sandbox, fax, data),
            }
        )
    sandbox.state.stats["page_downloads"] += len(pages)
    return JSONResponse({"fax_id": fax.fax_id, "pages": pages})


@efax_endpoint(fax=True)
async def metadata(call: Call) -> Response:
    fax = call.fax
    if call.request.method == "PATCH":
        body = await json_body(call.request)
        if not isinstance(body, dict) or not isinstance(body.get("image_downloaded"), bool):
            raise ApiError(
                400, "INVALID_BODY", "image_downloaded (bool) is required", "image_downloaded"
            )
        fax.image_downloaded = body["image_downloaded"]
    return JSONResponse(fax.metadata())


@efax_endpoint()
async def bulk_metadata(call: Call) -> Response:
    body = await json_body(call.request)
    items = body.get("faxes") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ApiError(400, "INVALID_BODY", "Expected a list of {fax_id, image_downloaded}")
    results = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("image_downloaded"), bool):
            raise ApiError(400, "INVALID_BODY", "Each item needs fax_id and image_downloaded")
        fax = call.sandbox.state.faxes.get(str(item.get("fax_id")))
        if fax is None or fax.deleted or fax.user_id != call.user_id:
            results.append({"fax_id": item.get("fax_id"), "status": "NOT_FOUND"})
            continue
        fax.image_downloaded = item["image_downloaded"]
        results.append({"fax_id": fax.fax_id, "status": "SUCCESS"})
    return JSONResponse({"faxes": results})


@efax_endpoint(fax=True)
async def delete(call: Call) -> Response:
    call.sandbox.delete_fax(call.fax.fax_id)
    return Response(status_code=204)


@efax_endpoint(user=False)
async def ping(call: Call) -> Response:
    request, app, sender = call.request, call.app, call.sandbox.sender
    body = await json_body(request) if await request.body() else {}
    direction = str(body.get("fax_direction", "INBOUND")).upper() if isinstance(body, dict) else ""
    if direction not in ("INBOUND", "OUTBOUND"):
        raise ApiError(
            400, "INVALID_PARAMETER", "fax_direction must be INBOUND or OUTBOUND", "fax_direction"
        )
    notification = sender.ping_notification(app, direction)
    if notification is None:
        raise ApiError(404, "NOTIFY_CONFIG_NOT_FOUND", "No webhook configured for this App ID")
    sender.enqueue(notification)
    return JSONResponse(
        [
            {
                "app_id": app.app_id,
                "notify_id": notification.notification_id,
                "notify_config_id": notification_config_id(app.app_id),
                "fax_direction": direction,
                "notify_type": "WEBHOOK",
                "event_type": "PING",
            }
        ]
    )


@efax_endpoint(user=False)
async def notifications(call: Call) -> Response:
    query = call.request.query_params
    direction = query.get("direction", "").upper()
    status = query.get("status", "").upper()
    bounds: list[datetime | None] = []
    for name in ("min_timestamp", "max_timestamp"):
        try:
            bounds.append(parse_timestamp(query[name]) if query.get(name) else None)
        except ValueError:
            raise ApiError(400, "INVALID_PARAMETER", f"{name} is not ISO-8601", name) from None
    low, high = bounds
    chosen = [
        d.as_json()
        for d in call.sandbox.state.deliveries
        if d.app_id == call.app.app_id
        and (not direction or d.direction == direction)
        and (not status or d.status == status)
        and (low is None or d.time >= low)
        and (high is None or d.time <= high)
    ]
    return JSONResponse({"notifications": chosen})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "UP"})


EFAX_ROUTES = [
    Route("/tokens", tokens, methods=["POST"]),
    Route("/faxes/received", received, methods=["GET"]),
    Route("/faxes/metadata", bulk_metadata, methods=["POST"]),
    Route("/faxes/{fax_id}/image", image, methods=["GET"]),
    Route("/faxes/{fax_id}/image/pages", image_pages, methods=["GET"]),
    Route("/faxes/{fax_id}/metadata", metadata, methods=["GET", "PATCH"]),
    Route("/faxes/{fax_id}", delete, methods=["DELETE"]),
    Route("/notifications/ping", ping, methods=["POST"]),
    Route("/notifications", notifications, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
]
