"""One configuration of the local stack: its ports, its broker (Tansu, or Apache Kafka,
optionally secured with a user per service), the eFax App the sandbox plays, and the environment
that everything running on it gets (`service_env`). No process here: `faxrelay.localstack`
starts and stops them, with this configuration.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from faxrelay import kafka_broker
from faxrelay.ports import free_ports
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from deploy.kafka_acls import Principal

ACCESS_KEY = "local-stack-access"  # not a word that shows in log lines (they redact keys)
SECRET_KEY = "faxrelay-local-secret"  # noqa: S105 - the embedded store's own key, loopback only
BROKERS = ("tansu", "kafka")
Broker = Literal["tansu", "kafka"]
SASL_USER = "faxrelay"  # the secured broker's local admin, a super user (not the services')
OPERATOR = "operator"  # whose Kafka user the stack's environment gives the operator's CLI
INIT = "init"  # whose Kafka user creates the pipeline topics
PORT_NAMES = (
    "s3",
    "master",
    "volume",
    "filer",
    "admin",
    "kafka",
    "kafka_controller",
    "kafka_internal",
)
__all__ = [
    "ACCESS_KEY",
    "BROKERS",
    "INIT",
    "OPERATOR",
    "PORT_NAMES",
    "SASL_USER",
    "SECRET_KEY",
    "Broker",
    "DemoApp",
    "StackConfig",
    "principals",
]


@dataclass(frozen=True)
class DemoApp:
    """The eFax App the sandbox plays: the services get its key and secret, the sandbox the same
    and the gateway's address. The poller watches the first `polled` users (all by default)."""

    app_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    hmac_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user_ids: list[str] = field(default_factory=lambda: [str(uuid.uuid4()) for _ in range(3)])
    polled: int | None = None

    def services_apps(self) -> str:
        """FAXRELAY_APPS of the services."""
        app = {
            "app_id": self.app_id,
            "api_key": self.api_key,
            "hmac_secrets": [self.hmac_secret],
            "user_ids": self.user_ids[: self.polled],
        }
        return json.dumps([app])

    def sandbox_app(self, webhook_url: str) -> dict[str, Any]:
        """The sandbox's configuration of the same App."""
        return {
            "app_id": self.app_id,
            "api_key": self.api_key,
            "hmac_secret": self.hmac_secret,
            "webhook_url": webhook_url,
            "user_ids": self.user_ids,
        }


@dataclass
class StackConfig:
    """Where the stack's parts listen and how its clients reach them. `persistent` keeps the
    broker's log across restarts (Tansu stores it in SeaweedFS, Apache Kafka in
    `data_dir/kafka`)."""

    data_dir: Path
    persistent: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    broker: Broker = "tansu"
    # Apache Kafka only: clients connect with SASL_SSL (SCRAM-SHA-512), and the broker enforces
    # the ACLs of deploy/kafka_acls.py: each service as its own user, the CLI as the operator's.
    secured: bool = False
    sasl_password: str = field(default_factory=lambda: "local-" + os.urandom(12).hex())  # admin
    # user -> password of every principal of deploy/kafka_acls.py (filled when secured)
    passwords: dict[str, str] = field(default_factory=dict)
    app: DemoApp | None = None  # None: the eFax accounts come from the environment (FAXRELAY_APPS)
    efax_url: str | None = None  # the sandbox's address, with `app`
    gateway_port: int | None = None

    @property
    def s3_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['s3']}"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    @property
    def tls(self) -> kafka_broker.Tls | None:
        return kafka_broker.make_tls(self.data_dir / "tls") if self.secured else None

    def assign_ports(self, avoid: Iterable[int] = ()) -> None:
        """Free ports for whatever has none yet (a saved configuration keeps its own), none of
        them one of `avoid` (ports already promised to others)."""
        missing = [name for name in PORT_NAMES if name not in self.ports]
        taken = set(self.ports.values()) | set(avoid)
        fresh = free_ports(len(missing), avoid=taken)
        self.ports.update(zip(missing, fresh, strict=False))

    def make_passwords(self) -> None:
        """A password for each principal of deploy/kafka_acls.py, once (secured only)."""
        if self.secured and not self.passwords:
            self.passwords = {
                p.user: "local-" + os.urandom(12).hex() for p in principals().values()
            }

    def client_settings(self, principal: str = OPERATOR) -> ServiceSettings:
        """How a client of ours reaches this stack's broker; secured, as `principal`'s user (a
        service, "init", "keda" or the operator: deploy/kafka_acls.py)."""
        env = {**self.service_env(), **self.credentials(principal)}
        return ServiceSettings.model_validate(
            {
                k.removeprefix("FAXRELAY_").lower(): v
                for k, v in env.items()
                if k.startswith("FAXRELAY_KAFKA_")
            }
        )

    def admin_settings(self) -> ServiceSettings:
        """The local admin's: a super user on the secured broker."""
        settings = self.client_settings()
        if not self.secured:
            return settings
        return settings.model_copy(
            update={
                "kafka_sasl_username": SASL_USER,
                "kafka_sasl_password": SecretStr(self.sasl_password),
            }
        )

    def credentials(self, principal: str) -> dict[str, str]:
        """The Kafka user and password of `principal` on the secured broker (none otherwise,
        or for a principal deploy/kafka_acls.py does not know)."""
        if not self.secured:
            return {}
        found = principals().get(principal)
        if found is None:
            return {}
        return {
            "FAXRELAY_KAFKA_SASL_USERNAME": found.user,
            "FAXRELAY_KAFKA_SASL_PASSWORD": self.passwords[found.user],
        }

    def service_env(self) -> dict[str, str]:
        """The one environment of everything that runs on this stack: the services, and the
        operator's CLI (`faxrelay up` writes it to `local.env`)."""
        env = {
            "FAXRELAY_LOCAL_STACK": "true",
            "FAXRELAY_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            # Tansu has no InitProducerId: no idempotent producer, no transactions
            "FAXRELAY_KAFKA_IDEMPOTENT_PRODUCER": str(self.broker == "kafka").lower(),
            "FAXRELAY_S3_ENDPOINT": self.s3_endpoint,
            "FAXRELAY_S3_ACCESS_KEY": ACCESS_KEY,
            "FAXRELAY_S3_SECRET_KEY": SECRET_KEY,
            "FAXRELAY_LOG_FORMAT": "text",
            "FAXRELAY_METRICS_PORT": "0",  # five services on one host: ports given per service
        }
        if self.gateway_port is not None:
            env["FAXRELAY_GATEWAY_PORT"] = str(self.gateway_port)
        if self.app is not None and self.efax_url is not None:
            env["FAXRELAY_APPS"] = self.app.services_apps()
            env["FAXRELAY_EFAX_API_BASE_URL"] = self.efax_url
        tls = self.tls
        if tls is not None:  # as the operator; each service gets its own user over it
            env |= {
                "FAXRELAY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "FAXRELAY_KAFKA_SASL_MECHANISM": kafka_broker.SCRAM_MECHANISM,
                "FAXRELAY_KAFKA_SSL_CAFILE": str(tls.ca_file),
                **self.credentials(OPERATOR),
            }
        return env


def principals() -> dict[str, Principal]:
    """deploy/kafka_acls.py's principals by service. Imported here, not at the top: `deploy`
    is in the repository, not in the image, and only the secured stack (tests) needs it."""
    from deploy.kafka_acls import BY_SERVICE

    return BY_SERVICE
