import asyncio
import logging

import uvicorn

from services.gateway.settings import GatewaySettings
from shared.health import refuse_to_start_on_bad_kafka_settings


def main() -> None:
    settings = GatewaySettings()
    logging.basicConfig(level=settings.log_level)
    asyncio.run(refuse_to_start_on_bad_kafka_settings(settings))
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
    )


if __name__ == "__main__":
    main()
