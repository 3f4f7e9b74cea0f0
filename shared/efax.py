"""Client of the eFax Enterprise API: tokens, the received list, images, metadata.

One bearer token per App ID, shared by every call of the process and refreshed by a single caller
(asking for a new token may end the previous one). A 401 refreshes once and repeats the call once.
Errors never carry the API key or the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import httpx
from pydantic import BaseModel, NonNegativeInt, ValidationError, field_validator

from shared.contracts import (
    FaxNotified,
    Source,
    listed_number,
    listed_tsid,
    parse_efax_timestamp,
)
from shared.images import FaxImage as FaxImage
from shared.images import ImageError as ImageError
from shared.images import read_image
from shared.metrics import EFAX_UNAUTHORIZED_AFTER_REFRESH, TOKEN_REFRESHES, observe_efax
from shared.settings import EfaxApp
from shared.tracing import instrument_httpx

# 401 too: another process may have ended our token by asking for its own.
RETRYABLE_STATUSES = frozenset({401, 408, 425, 429, 500, 502, 503, 504})
PAGE_LIMIT = 100
_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class EfaxError(Exception):
    """A failed eFax call. `status` is None for network failures."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE_STATUSES


class ReceivedFax(BaseModel):
    """One entry of `GET /faxes/received`, parsed leniently; original strings are kept."""

    fax_id: UUID
    pages: NonNegativeInt | None = None
    duration: NonNegativeInt | None = None
    size: NonNegativeInt | None = None
    image_downloaded: bool = False
    completed_timestamp: str
    originating_fax_number: str = ""
    destination_fax_number: str = ""
    originating_fax_tsid: str = ""

    @field_validator("completed_timestamp")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_efax_timestamp(value)
        return value

    @field_validator("originating_fax_number", "destination_fax_number")
    @classmethod
    def _a_fax_number(cls, value: str) -> str:
        return listed_number(value)

    @field_validator("originating_fax_tsid")
    @classmethod
    def _a_tsid(cls, value: str) -> str:
        return listed_tsid(value)

    @property
    def completed_at(self) -> datetime:
        parsed = parse_efax_timestamp(self.completed_timestamp)
        assert isinstance(parsed, datetime)
        return parsed.astimezone(UTC)


def from_listing(app_id: UUID, user_id: UUID, fax: ReceivedFax) -> FaxNotified:
    """The `fax.notified` message of a fax found by listing a user's received faxes (polling,
    backfill)."""
    return FaxNotified(
        fax_id=fax.fax_id,
        app_id=app_id,
        user_id=user_id,
        source=Source.POLLING,
        completed_at=fax.completed_at,
        completed_timestamp=fax.completed_timestamp[:64],
        pages=fax.pages,
        duration=fax.duration,
        sending_fax_number=fax.originating_fax_number[:32],
        receiving_fax_number=fax.destination_fax_number[:32],
        originating_fax_tsid=fax.originating_fax_tsid[:64],
    )


@dataclass(frozen=True)
class ReceivedPage:
    faxes: list[ReceivedFax]
    skipped: int  # entries that could not be parsed


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict):
            return str(first.get("developer_message") or first.get("error_code"))[:200]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:200]
    return str(body)[:200]


class _Token:
    """A bearer token and when to stop using it (wall clock, so processes can share it)."""

    def __init__(self, value: str, expires_at: float) -> None:
        self.value = value
        self.expires_at = expires_at

    def usable(self, replacing: str | None) -> bool:
        return self.expires_at > time.time() and self.value != replacing


class SharedTokens(Protocol):
    """Where the processes of one installation share their tokens: asking eFax for a new token
    may end the previous one, so a downloader and a poller must not each keep their own."""

    async def load(self, app_id: UUID) -> tuple[str, float] | None: ...

    async def save(self, app_id: UUID, token: str, expires_at: float) -> None: ...


class _BearerAuth(httpx.Auth):
    """The App's bearer on every request; a 401 refreshes it once (single-flight, through
    `EfaxClient.token`) and sends the same request again."""

    def __init__(self, client: EfaxClient, app_id: UUID) -> None:
        self._client = client
        self._app_id = app_id

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._client.token(self._app_id)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()  # frees the connection before the token call needs one
            token = await self._client.token(self._app_id, replacing=token)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code == 401:
                EFAX_UNAUTHORIZED_AFTER_REFRESH.inc()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("the eFax client is asynchronous")


class EfaxClient:
    """Talks to one eFax API base for several App IDs."""

    def __init__(
        self,
        base_url: str,
        apps: list[EfaxApp],
        *,
        timeout_s: float = 30.0,
        refresh_margin_s: float = 60.0,
        http: httpx.AsyncClient | None = None,
        shared_tokens: SharedTokens | None = None,
        connections: int = 100,
    ) -> None:
        # httpcore checks every pooled connection on each request: a pool the size of the
        # calls at once (`connections`) keeps that short
        self._apps = {app.app_id: app for app in apps}
        self._http = http or httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            limits=httpx.Limits(
                max_connections=connections, max_keepalive_connections=min(50, connections)
            ),
        )
        instrument_httpx(self._http)  # a client span per eFax call, when traces are exported
        self._refresh_margin_s = refresh_margin_s
        self._shared = shared_tokens
        self._tokens: dict[UUID, _Token] = {}
        self._locks: dict[UUID, asyncio.Lock] = {}
        self._auth: dict[UUID, _BearerAuth] = {}
        self.tokens_issued = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    def knows(self, app_id: UUID) -> bool:
        app = self._apps.get(app_id)
        return app is not None and app.api_key is not None

    async def token(self, app_id: UUID, *, replacing: str | None = None) -> str:
        """The current token, fetched by one caller at a time per App ID; with shared tokens,
        one another process already fetched is used before asking eFax for a new one."""
        lock = self._locks.setdefault(app_id, asyncio.Lock())
        async with lock:
            current = self._tokens.get(app_id)
            if current is not None and current.usable(replacing):
                return current.value
            if self._shared is not None:
                loaded = await self._shared.load(app_id)
                if loaded is not None and _Token(*loaded).usable(replacing):
                    self._tokens[app_id] = _Token(*loaded)
                    return loaded[0]
            token = await self._fetch_token(app_id)
            self._tokens[app_id] = token
            if self._shared is not None:
                await self._shared.save(app_id, token.value, token.expires_at)
            return token.value

    async def _fetch_token(self, app_id: UUID) -> _Token:
        app = self._apps.get(app_id)
        if app is None or app.api_key is None:
            raise EfaxError(f"no API key configured for app {app_id}", status=401)
        started = time.perf_counter()
        try:
            response = await self._http.post(
                "/tokens",
                auth=(str(app_id), app.api_key.get_secret_value()),
                data={"grant_type": "client_credentials"},
            )
        except httpx.HTTPError as error:
            observe_efax("POST /tokens", "error", time.perf_counter() - started)
            TOKEN_REFRESHES.labels(outcome="error").inc()
            raise EfaxError(f"token request failed: {type(error).__name__}") from None
        observe_efax("POST /tokens", response.status_code, time.perf_counter() - started)
        ok = response.status_code == 200
        TOKEN_REFRESHES.labels(outcome="ok" if ok else str(response.status_code)).inc()
        if not ok:
            raise EfaxError(
                f"token request answered {response.status_code}: {_error_message(response)}",
                status=response.status_code,
                retry_after=_retry_after(response),
            )
        body = response.json()
        lifetime = float(body.get("expires_in", 3600))
        self.tokens_issued += 1
        margin = min(self._refresh_margin_s, lifetime / 2)
        return _Token(str(body["access_token"]), time.time() + lifetime - margin)

    async def _call(
        self, method: str, path: str, app_id: UUID, user_id: UUID | None, **kwargs: Any
    ) -> httpx.Response:
        async with self._streamed(method, path, app_id, user_id, **kwargs) as response:
            await response.aread()
            return response

    @contextlib.asynccontextmanager
    async def _streamed(
        self, method: str, path: str, app_id: UUID, user_id: UUID | None, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """One call whose successful answer is read by the caller as it arrives (an error
        answer is read whole: it is small). Timed until the caller is done with the body."""
        # Every attempt is this one request: the bearer flow only swaps its Authorization header,
        # so pagination and other headers survive a refresh.
        headers = dict(kwargs.pop("headers", None) or {})
        if user_id is not None:  # fax calls act for a user; App-level calls do not
            headers["user-id"] = str(user_id)
        auth = self._auth.get(app_id) or self._auth.setdefault(app_id, _BearerAuth(self, app_id))
        endpoint, started = f"{method} {_ID.sub('{id}', path)}", time.perf_counter()
        status: int | str = "error"
        try:
            request = self._http.build_request(method, path, headers=headers, **kwargs)
            response = await self._http.send(request, auth=auth, stream=True)
            try:
                status = response.status_code
                if status >= 400:
                    await response.aread()
                    raise EfaxError(
                        f"{method} {path} answered {status}: {_error_message(response)}",
                        status=status,
                        retry_after=_retry_after(response),
                    )
                yield response
            finally:
                await response.aclose()
        except httpx.HTTPError as error:
            status = "error"  # also when the body broke off
            raise EfaxError(f"{method} {path} failed: {type(error).__name__}") from None
        finally:
            observe_efax(endpoint, status, time.perf_counter() - started)

    async def list_received(
        self,
        app_id: UUID,
        user_id: UUID,
        *,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = PAGE_LIMIT,
    ) -> ReceivedPage:
        params = {"image_downloaded": "false"}
        if since is not None:
            params["min_completed_timestamp"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        response = await self._call(
            "GET",
            "/faxes/received",
            app_id,
            user_id,
            params=params,
            headers={"pagination-offset": str(offset), "pagination-limit": str(limit)},
        )
        entries = response.json().get("faxes") or []
        faxes: list[ReceivedFax] = []
        for entry in entries:
            try:
                faxes.append(ReceivedFax.model_validate(entry))
            except ValidationError:
                continue
        return ReceivedPage(faxes=faxes, skipped=len(entries) - len(faxes))

    async def get_image(
        self, app_id: UUID, user_id: UUID, fax_id: UUID, image_format: str, max_bytes: int
    ) -> FaxImage:
        """The image, read as it arrives into a spooled file (`shared.images`): checked,
        capped (reading stops once it is too large) and hashed on the way."""
        path, params = f"/faxes/{fax_id}/image", {"desired_format": image_format}
        async with self._streamed("GET", path, app_id, user_id, params=params) as response:
            return await read_image(response.aiter_bytes(), image_format, max_bytes)

    async def set_image_downloaded(
        self, app_id: UUID, user_id: UUID, fax_id: UUID, value: bool
    ) -> None:
        await self._call(
            "PATCH",
            f"/faxes/{fax_id}/metadata",
            app_id,
            user_id,
            json={"image_downloaded": value},
        )

    async def delete_fax(self, app_id: UUID, user_id: UUID, fax_id: UUID) -> None:
        await self._call("DELETE", f"/faxes/{fax_id}", app_id, user_id)

    async def list_failed_deliveries(self, app_id: UUID, since: datetime) -> list[Any]:
        """eFax's delivery log: INBOUND webhook attempts marked FAILED since `since`."""
        params = {
            "status": "FAILED",
            "direction": "INBOUND",
            "min_timestamp": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        response = await self._call("GET", "/notifications", app_id, None, params=params)
        body = response.json()
        entries = body.get("notifications") if isinstance(body, dict) else body
        return entries if isinstance(entries, list) else []
