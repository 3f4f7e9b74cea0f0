from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8443, ge=0, le=65535)
    gateway_webhook_paths: list[str] = Field(default_factory=lambda: ["/webhooks/efax"])
    gateway_max_body_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="Larger webhook bodies are answered 413 (a real eFax webhook is under 1 KiB; "
        "16 KiB leaves room for fields eFax may add).",
    )
    gateway_read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A request's headers, and then its body, must arrive within this long; "
        "a slow client is cut off (408 for a late body) so it holds no memory or slot.",
    )
    gateway_limit_concurrency: int = Field(
        default=1000,
        ge=1,
        description="Connections and requests at once (each worker); past it, 503 (eFax retries).",
    )
    gateway_rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Webhooks a second from one source address (each worker), past which it is "
        "answered 429 (eFax retries); 0: no limit.",
    )
    gateway_rate_limit_burst: int = Field(
        default=500, ge=1, description="Webhooks one source may send at once above the rate."
    )
    gateway_publish_timeout_s: float = Field(default=5.0, gt=0)
    gateway_workers: int = Field(
        default=1, ge=1, description="Gateway processes sharing the port (one core each)."
    )
    gateway_tls_certfile: Path | None = None
    gateway_tls_keyfile: Path | None = None
    gateway_trust_forwarded_for: bool = Field(
        default=False, description="Take the client address from X-Forwarded-For (behind a proxy)."
    )

    @model_validator(mode="after")
    def _internal_port_is_not_the_public_one(self) -> GatewaySettings:
        if self.metrics_port != 0 and self.metrics_port == self.gateway_port:
            raise ValueError(
                "FAXRELAY_METRICS_PORT must differ from FAXRELAY_GATEWAY_PORT: health and "
                "metrics have an internal port of their own, never the public one"
            )
        return self
