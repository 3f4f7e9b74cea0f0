"""uvicorn's HTTP protocol with a deadline for a request's headers: uvicorn has none, so a client
that opens a connection and sends its headers slowly (or never) would hold it for ever."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GatewayHttp(HttpToolsProtocol):
    """Closes a connection whose first request's headers are not complete within
    `header_timeout_s` (set from the settings by each worker process before it serves)."""

    header_timeout_s: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.loop.call_later(self.header_timeout_s, self._cut_off_if_no_request)

    def _cut_off_if_no_request(self, *_: Any) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()
