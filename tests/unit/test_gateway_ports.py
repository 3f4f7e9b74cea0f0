"""The gateway as `python -m services.gateway` serves it: webhooks on its public port, health
and metrics on its internal port (FAXRELAY_METRICS_PORT), each path on one port only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import uvicorn

from services.gateway.__main__ import listening_sockets, uvicorn_config
from services.gateway.asgi import Gateway
from services.gateway.settings import GatewaySettings
from tests.unit.test_gateway_logic import RecordingBroker


async def test_health_and_metrics_answer_only_on_the_internal_port(
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    public_port, internal_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    settings = GatewaySettings(
        gateway_port=public_port, metrics_host="127.0.0.1", metrics_port=internal_port
    )
    broker = RecordingBroker()
    config = uvicorn_config(settings, Gateway(settings, broker))  # type: ignore[arg-type]
    config.lifespan = "off"  # the recording broker needs no start
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=listening_sockets(settings)))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:
            public = f"http://127.0.0.1:{public_port}"
            internal = f"http://127.0.0.1:{internal_port}"
            for path in ("/metrics", "/readyz", "/healthz"):
                assert (await http.get(public + path)).status_code == 404, path
            assert (await http.get(internal + "/healthz")).status_code == 200
            assert (await http.get(internal + "/readyz")).status_code == 200
            metrics = await http.get(internal + "/metrics")
            assert "faxrelay_webhooks_accepted_total" in metrics.text
            json_type = {"content-type": "application/json"}
            webhook = await http.post(public + "/webhooks/efax", content=b"{}", headers=json_type)
            assert webhook.status_code == 200
            wrong = await http.post(internal + "/webhooks/efax", content=b"{}", headers=json_type)
            assert wrong.status_code == 404
        assert len(broker.published) == 1
    finally:
        server.should_exit = True
        await serving


def test_without_an_internal_port_the_gateway_listens_on_its_public_port_alone(
    unused_tcp_port: int,
) -> None:
    settings = GatewaySettings(gateway_port=unused_tcp_port, metrics_port=0)
    sockets = listening_sockets(settings)
    try:
        assert [s.getsockname()[1] for s in sockets] == [unused_tcp_port]
    finally:
        for sock in sockets:
            sock.close()
