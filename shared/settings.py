"""Settings shared by the services: Kafka, the object store and the eFax accounts.

Each service has one settings class (services/<name>/settings.py) built from these parts; all read
the environment with the prefix FAXRELAY_ and nothing else reads the environment.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypeVar
from uuid import UUID

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError


class EfaxApp(BaseModel):
    """One eFax App ID this installation serves."""

    model_config = ConfigDict(hide_input_in_errors=True)

    app_id: UUID
    api_key: SecretStr | None = Field(default=None, description="Needed by downloader and poller.")
    hmac_secrets: list[SecretStr] = Field(
        default_factory=list, description="Current webhook secrets; several during a rotation."
    )
    user_ids: list[UUID] = Field(default_factory=list, description="Users the poller watches.")


class ServiceSettings(BaseSettings):
    """What every service needs: the broker."""

    # errors never echo a value: the input of a bad setting may be (or sit next to) a secret
    model_config = SettingsConfigDict(
        env_prefix="FAXRELAY_", extra="ignore", hide_input_in_errors=True
    )

    local_stack: bool = Field(
        default=False,
        description="Set by the local stack launcher: allows the demo keys and the sandbox App.",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every Kafka client connects."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates (SSL, SASL_SSL)."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate for mutual TLS (with kafka_ssl_keyfile)."
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="Client key for mutual TLS.")
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check that the broker's certificate names its host."
    )
    kafka_idempotent_producer: bool = Field(
        default=True, description="Idempotent producers; the local stack turns it off for Tansu."
    )
    kafka_exactly_once: bool = Field(
        default=False,
        description="Consume, produce and commit in one Kafka transaction (verifier, router). "
        "Needs a broker with transactions (Apache Kafka); readers use read_committed.",
    )
    kafka_transactional_id_prefix: str = Field(
        default="faxrelay",
        description="Prefix of the stable transactional ids (one per stage and input partition).",
    )
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_fetch_max_wait_ms: int = Field(
        default=25,
        ge=0,
        description="Longest a consumer's fetch waits at the broker for new records "
        "(a broker that holds fetches for the whole wait adds it to every hop).",
    )
    kafka_batch_timeout_ms: int = Field(
        default=10,
        ge=0,
        description="Longest a batch consumer waits for records before looking again.",
    )
    kafka_partitions: int = Field(default=6, ge=1, description="Partitions of pipeline topics.")
    kafka_replication_factor: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="JSON lines (one object a line) or readable text."
    )
    metrics_host: str = Field(
        default="0.0.0.0",
        description="Address of /metrics (the gateway's internal port: also /healthz, /readyz).",
    )
    metrics_port: int = Field(
        default=9100,
        ge=0,
        le=65535,
        description="Port of /metrics (0: off); on the gateway, its internal port, which also "
        "serves /healthz and /readyz (its public port serves only the webhook paths).",
    )
    metrics_lag_interval_s: float = Field(
        default=15.0, gt=0, description="Seconds between readings of the consumer lag."
    )
    heartbeat_file: Path | None = Field(
        default=None, description="Touched every heartbeat_interval_s while the service runs."
    )
    shutdown_timeout_s: float = Field(
        default=30.0, gt=0, description="A stop that takes longer ends the process outright."
    )
    heartbeat_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between heartbeats; stale after six."
    )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> ServiceSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"FAXRELAY_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "FAXRELAY_KAFKA_SASL_USERNAME and FAXRELAY_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError(
                "mutual TLS needs both FAXRELAY_KAFKA_SSL_CERTFILE and FAXRELAY_KAFKA_SSL_KEYFILE"
            )
        for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"FAXRELAY_{name.upper()}: no such file: {path}")
        return self

    @model_validator(mode="after")
    def _no_demo_defaults_outside_the_local_stack(self) -> ServiceSettings:
        """Outside the local stack (`faxrelay up`) a service refuses to start with what is
        only safe there: the example secrets, short webhook secrets, plain HTTP to eFax or the
        object store, or no eFax App. The message names the setting."""
        if self.local_stack:
            return self
        problem = unsafe_setting(self)
        if problem:
            raise ValueError(f"{problem} (allowed only on the local stack of `faxrelay up`)")
        return self


# The secrets shipped as examples (.env.example, deploy/compose/secrets.example): public, so
# never accepted outside the local stack. tests/unit/test_settings.py keeps this list complete.
EXAMPLE_SECRETS = frozenset(
    {
        "minioadmin",
        "change-me-kafka-password",
        *(
            f"change-me-kafka-{who}-password"  # the per-service Kafka users of the secured variant
            for who in (
                *("gateway", "verifier", "downloader", "router", "poller", "reader"),
                *("init", "operator"),
            )
        ),
        "change-me-minio-secret",
        "sandbox-demo-api-key",
        "sandbox-demo-hmac-secret",
    }
)
MIN_HMAC_SECRET_BYTES = 32


def _secret_settings(settings: ServiceSettings) -> Iterator[tuple[str, SecretStr]]:
    """(setting name, value) of every secret a service holds."""
    if settings.kafka_sasl_password is not None:
        yield "FAXRELAY_KAFKA_SASL_PASSWORD", settings.kafka_sasl_password
    if isinstance(settings, StorageSettings):
        yield "FAXRELAY_S3_ACCESS_KEY", settings.s3_access_key
        yield "FAXRELAY_S3_SECRET_KEY", settings.s3_secret_key
        if settings.s3_internal_secret_key is not None:
            yield "FAXRELAY_S3_INTERNAL_SECRET_KEY", settings.s3_internal_secret_key
    if isinstance(settings, EfaxSettings):
        for app in settings.apps:
            if app.api_key is not None:
                yield f"FAXRELAY_APPS (api_key of {app.app_id})", app.api_key
            for secret in app.hmac_secrets:
                yield f"FAXRELAY_APPS (hmac_secrets of {app.app_id})", secret


def unsafe_setting(settings: ServiceSettings) -> str | None:
    """What makes these settings unsafe outside the local stack, naming the setting, or None."""
    for name, value in _secret_settings(settings):
        if value.get_secret_value() in EXAMPLE_SECRETS:
            return f"{name} is an example value published with faxrelay: set your own"
    if isinstance(settings, StorageSettings) and not settings.s3_secure:
        return (
            "FAXRELAY_S3_SECURE is false: the object store keys and every fax would travel "
            "in clear; use HTTPS to the store"
        )
    if isinstance(settings, EfaxSettings):
        if settings.efax_api_base_url.scheme != "https":
            return (
                "FAXRELAY_EFAX_API_BASE_URL is not https://: the API key and bearer tokens would "
                "travel in clear"
            )
        if not settings.apps:
            return (
                "FAXRELAY_APPS is empty: set the eFax App IDs this installation serves, as JSON "
                '[{"app_id": "...", "api_key": "...", "hmac_secrets": ["..."], "user_ids": []}]'
            )
        for app in settings.apps:
            for secret in app.hmac_secrets:
                if len(secret.get_secret_value().encode()) < MIN_HMAC_SECRET_BYTES:
                    return (
                        f"FAXRELAY_APPS (hmac_secrets of {app.app_id}): a webhook secret is "
                        f"shorter than {MIN_HMAC_SECRET_BYTES} bytes"
                    )
    return _tokens_share_the_main_keys(settings)


def _tokens_share_the_main_keys(settings: ServiceSettings) -> str | None:
    """Shared eFax tokens act as the App for every user's faxes: the internal bucket needs keys
    of its own, not the main ones that every workload with S3 access holds."""
    if not (isinstance(settings, EfaxSettings) and isinstance(settings, StorageSettings)):
        return None
    if not settings.efax_share_tokens:
        return None
    internal = settings.s3_internal_access_key
    if internal is None:
        return (
            "FAXRELAY_S3_INTERNAL_ACCESS_KEY is not set: the shared eFax tokens would be kept "
            "with the main S3 keys; give the internal bucket keys of its own "
            "(FAXRELAY_S3_INTERNAL_ACCESS_KEY, FAXRELAY_S3_INTERNAL_SECRET_KEY), or set "
            "FAXRELAY_EFAX_SHARE_TOKENS=false"
        )
    if internal.get_secret_value() == settings.s3_access_key.get_secret_value():
        return (
            "FAXRELAY_S3_INTERNAL_ACCESS_KEY is the main S3 access key: the internal bucket "
            "of the shared eFax tokens needs keys of its own"
        )
    return None


class EfaxSettings(BaseModel):
    """Fields of services that talk to eFax (mixed into their settings classes, which hide the
    input of errors as ServiceSettings does)."""

    efax_api_base_url: AnyHttpUrl = AnyHttpUrl("https://api.securedocex.com")
    apps: list[EfaxApp] = Field(default_factory=list)
    efax_timeout_s: float = Field(default=30.0, gt=0)
    efax_share_tokens: bool = Field(
        default=True,
        description="Share tokens between processes through the internal bucket "
        "(a new one ends the old).",
    )


class StorageSettings(BaseModel):
    """Fields of services that talk to the object store (mixed in, as EfaxSettings)."""

    s3_endpoint: str = Field(default="127.0.0.1:9000", description="host:port, no scheme.")
    s3_secure: bool = False
    s3_public_endpoint: str | None = Field(
        default=None,
        description="host:port or URL that download links are signed for, as subscribers reach "
        "the store (default: s3_endpoint). Signing needs no connection to it.",
    )
    s3_access_key: SecretStr = SecretStr("minioadmin")
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_region: str = "us-east-1"
    s3_bucket: str = "faxes"
    s3_internal_bucket: str = Field(
        default="faxrelay-internal",
        description="Bucket of the shared eFax tokens; grant subscribers no access to it.",
    )
    s3_internal_access_key: SecretStr | None = Field(
        default=None,
        description="Access key of the internal bucket, not s3_access_key: required outside "
        "the local stack where tokens are shared (downloader, poller); on it, s3_access_key.",
    )
    s3_internal_secret_key: SecretStr | None = Field(
        default=None,
        description="Secret key of the internal bucket (on the local stack: s3_secret_key).",
    )

    @model_validator(mode="after")
    def _tokens_stay_out_of_the_fax_bucket(self) -> StorageSettings:
        if self.s3_internal_bucket == self.s3_bucket:
            raise ValueError(
                "FAXRELAY_S3_INTERNAL_BUCKET must differ from FAXRELAY_S3_BUCKET: "
                "whoever reads faxes must not read the eFax tokens"
            )
        if (self.s3_internal_access_key is None) != (self.s3_internal_secret_key is None):
            raise ValueError(
                "set both FAXRELAY_S3_INTERNAL_ACCESS_KEY and FAXRELAY_S3_INTERNAL_SECRET_KEY, "
                "or neither"
            )
        return self


S = TypeVar("S", bound=ServiceSettings)


def setting_errors(error: ValidationError | SettingsError) -> str:
    """One line naming each bad setting and what is wrong with it, never its value."""
    if isinstance(error, SettingsError):  # a value that is not the JSON its field needs
        return str(error).replace('from source "EnvSettingsSource"', "").strip()
    lines = []
    for e in error.errors(include_input=False, include_url=False, include_context=False):
        field = str(e["loc"][0]) if e["loc"] else ""
        where = f"FAXRELAY_{field.upper()}" if field else ""
        inner = ".".join(str(part) for part in e["loc"][1:])
        where += f" ({inner})" if inner else ""
        message = str(e["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def load_settings(cls: type[S], service: str) -> S:
    """The service's settings from the environment, or one line on stderr naming the bad
    setting (no traceback, no value) and exit status 2. Settings are read before logging
    exists, so nothing may echo a secret here."""
    try:
        return cls()
    except (ValidationError, SettingsError) as error:
        print(f"faxrelay {service}: bad settings: {setting_errors(error)}", file=sys.stderr)
        raise SystemExit(2) from None
