"""Settings shared by the services: Kafka, the object store and the eFax accounts.

Each service has one settings class (services/<name>/settings.py) built from these parts; all read
the environment with the prefix FAXRELAY_ and nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class EfaxApp(BaseModel):
    """One eFax App ID this installation serves."""

    app_id: UUID
    api_key: SecretStr | None = Field(default=None, description="Needed by downloader and poller.")
    hmac_secrets: list[SecretStr] = Field(
        default_factory=list, description="Current webhook secrets; several during a rotation."
    )
    user_ids: list[UUID] = Field(default_factory=list, description="Users the poller watches.")


class ServiceSettings(BaseSettings):
    """What every service needs: the broker."""

    model_config = SettingsConfigDict(env_prefix="FAXRELAY_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_idempotent_producer: bool = Field(
        default=False, description="On for Apache Kafka; Tansu lacks InitProducerId."
    )
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_partitions: int = Field(default=6, ge=1, description="Partitions of pipeline topics.")
    kafka_replication_factor: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    heartbeat_file: Path | None = Field(
        default=None, description="Touched every heartbeat_interval_s while the service runs."
    )
    shutdown_timeout_s: float = Field(
        default=30.0, gt=0, description="A stop that takes longer ends the process outright."
    )
    heartbeat_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between heartbeats; stale after six."
    )


class EfaxSettings(BaseModel):
    """Fields of services that talk to eFax (mixed into their settings classes)."""

    efax_api_base_url: AnyHttpUrl = AnyHttpUrl("https://api.securedocex.com")
    apps: list[EfaxApp] = Field(default_factory=list)
    efax_timeout_s: float = Field(default=30.0, gt=0)
    efax_share_tokens: bool = Field(
        default=True,
        description="Share tokens between processes through the bucket (a new one ends the old).",
    )


class StorageSettings(BaseModel):
    """Fields of services that talk to the object store."""

    s3_endpoint: str = Field(default="127.0.0.1:9000", description="host:port, no scheme.")
    s3_secure: bool = False
    s3_access_key: SecretStr = SecretStr("minioadmin")
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_region: str = "us-east-1"
    s3_bucket: str = "faxes"
