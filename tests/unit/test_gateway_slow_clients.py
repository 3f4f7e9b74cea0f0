"""The gateway behind real uvicorn, as `python -m services.gateway` runs it, against slow clients:
they are cut off within the read timeout, and real webhooks are served all along."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from services.gateway.asgi import Gateway
from services.gateway.protocol import GatewayHttp
from services.gateway.settings import GatewaySettings
from tests.unit.test_gateway_logic import RecordingBroker

TIMEOUT_S = 1.0


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[int, RecordingBroker]]:
    broker = RecordingBroker()
    settings = GatewaySettings(gateway_read_timeout_s=TIMEOUT_S, gateway_limit_concurrency=1000)
    monkeypatch.setattr(GatewayHttp, "header_timeout_s", TIMEOUT_S)
    config = uvicorn.Config(
        Gateway(settings, broker),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
        http=GatewayHttp,
        lifespan="off",
        timeout_keep_alive=1,
        limit_concurrency=settings.gateway_limit_concurrency,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield port, broker
    server.should_exit = True
    await serving


async def slow_client(
    port: int, request: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)  # ...and never the rest
    await writer.drain()
    return reader, writer


async def test_slow_clients_are_cut_off_while_real_webhooks_are_served(
    gateway: tuple[int, RecordingBroker],
) -> None:
    port, broker = gateway
    half_headers = b"POST /webhooks/efax HTTP/1.1\r\nHost: gateway\r\nContent-Ty"
    half_body = (
        b"POST /webhooks/efax HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 16000\r\n\r\n" + b"{" * 8000
    )
    slow = [await slow_client(port, half_headers) for _ in range(100)]
    slow += [await slow_client(port, half_body) for _ in range(100)]
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answers = [
            await http.post(
                "/webhooks/efax",
                content=b'{"fax_id": "real"}',
                headers={"content-type": "application/json"},
            )
            for _ in range(20)
        ]
    assert [a.status_code for a in answers] == [200] * 20
    assert len(broker.published) == 20

    async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
        answer = b""
        while chunk := await reader.read(4096):
            answer += chunk
        return answer

    ends = await asyncio.wait_for(
        asyncio.gather(*(closed_by_server(r) for r, _ in slow)), timeout=TIMEOUT_S * 5
    )
    assert time.monotonic() - started < TIMEOUT_S * 5
    assert all(end == b"" for end in ends[:100]), "late headers: the connection is just closed"
    assert all(b" 408 " in end for end in ends[100:]), "a late body is answered 408"
    for _, writer in slow:
        writer.close()
