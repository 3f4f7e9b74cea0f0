import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator

import uvicorn

from services.gateway.settings import GatewaySettings
from shared.health import refuse_to_start_on_bad_kafka_settings
from shared.logs import configure_logging
from shared.metrics import MULTIPROC_ENV
from shared.settings import load_settings


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
    uvicorn.run(
        "services.gateway.app:default_app",
        factory=True,
        workers=settings.gateway_workers,
        proxy_headers=False,  # the gateway reads X-Forwarded-For itself, when told to
        host=settings.gateway_host,
        port=settings.gateway_port,
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
