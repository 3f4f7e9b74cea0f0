"""Gateway: every eFax webhook onto `fax.webhook.received`, acknowledged by the broker, then 200."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.gateway.asgi import Gateway
from services.gateway.protocol import GatewayHttp
from services.gateway.settings import GatewaySettings
from shared.contracts import TOPICS_BY_NAME, WEBHOOK_RECEIVED
from shared.kafka import declare, make_broker
from shared.logs import configure_logging
from shared.metrics import kafka_middleware
from shared.settings import load_settings
from shared.tracing import configure_tracing, telemetry_middleware


def create_app(settings: GatewaySettings, *, broker: KafkaBroker | None = None) -> Gateway:
    """The ASGI app; it starts and stops its broker in the ASGI lifespan."""
    broker = broker or make_broker(settings)
    broker.add_middleware(kafka_middleware("gateway"))
    for middleware in telemetry_middleware():
        broker.add_middleware(middleware)
    declare(broker, TOPICS_BY_NAME[WEBHOOK_RECEIVED])
    return Gateway(settings, broker)


def default_app() -> Gateway:
    """The app each uvicorn worker process builds for itself."""
    settings = load_settings(GatewaySettings, "gateway")
    configure_logging(settings, "gateway")  # in each worker process
    GatewayHttp.header_timeout_s = settings.gateway_read_timeout_s
    configure_tracing("gateway")
    return create_app(settings)
