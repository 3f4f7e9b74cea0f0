import asyncio
import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from services.gateway.settings import GatewaySettings
from shared.health import refuse_to_start_on_bad_kafka_settings
from shared.logs import configure_logging
from shared.metrics import MULTIPROC_ENV
from shared.settings import load_settings

APP = "services.gateway.app:default_app"  # each worker process builds its own


def main() -> None:
    settings = load_settings(GatewaySettings, "gateway")
    configure_logging(settings, "gateway")
    asyncio.run(refuse_to_start_on_bad_kafka_settings(settings))
    with shared_metrics(settings.gateway_workers):
        serve(settings)


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, each writes its metrics to a fresh directory that /metrics of any
    of them reads whole (prometheus_client's multiprocess mode)."""
    if workers == 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="faxrelay-gateway-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory  # read by the workers' prometheus_client
        yield


def serve(settings: GatewaySettings) -> None:
    """uvicorn on two sockets: the public one (webhooks only) and the internal one (health and
    metrics, FAXRELAY_METRICS_PORT); `Gateway` tells them apart by the port a request came in on."""
    config = uvicorn_config(settings, APP)
    sockets = listening_sockets(settings)
    if settings.gateway_workers > 1:
        Multiprocess(config, sockets=sockets).run()
    else:
        server = uvicorn.Server(config)
        server.run(sockets=sockets)
        if not server.started:
            raise SystemExit(3)  # as uvicorn.run: the app did not start


def listening_sockets(settings: GatewaySettings) -> list[socket.socket]:
    """The public port, then the internal one unless it is off (FAXRELAY_METRICS_PORT=0)."""
    where = [(settings.gateway_host, settings.gateway_port)]
    if settings.metrics_port:
        where.append((settings.metrics_host, settings.metrics_port))
    return [listen(host, port) for host, port in where]


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SystemExit(
            f"faxrelay gateway: cannot listen on {host}:{port}: {error.strerror}"
        ) from None
    sock.set_inheritable(True)  # the workers serve it
    return sock


def uvicorn_config(settings: GatewaySettings, app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=settings.gateway_workers,
        proxy_headers=False,  # the gateway reads X-Forwarded-For itself, when told to
        ssl_certfile=settings.gateway_tls_certfile,
        ssl_keyfile=settings.gateway_tls_keyfile,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),  # a hung stop still ends
        # bounds against slow or many clients: headers (GatewayHttp) and body (the app) within
        # the read timeout, idle keep-alive connections closed after it, connections capped
        http="services.gateway.protocol:GatewayHttp",
        timeout_keep_alive=max(1, int(min(settings.gateway_read_timeout_s, 5))),
        limit_concurrency=settings.gateway_limit_concurrency,
    )


if __name__ == "__main__":
    main()
