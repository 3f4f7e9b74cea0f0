"""The real local stack for end-to-end tests: a broker (Tansu, or Apache Kafka for tests marked
`brokers("tansu", "kafka")`) + SeaweedFS as processes, the eFax sandbox over real HTTP, and the
five services as separate processes, once per test session and broker.

Tests isolate themselves by user: each takes fresh users from `users`, so each user's topic holds
only that test's faxes. Only the users in `polled_users` are polled; the others see webhooks only.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from faxrelay.localstack import (
    SERVICES,
    Broker,
    DemoApp,
    LocalStack,
    free_ports,
    start_services,
)
from sandbox import AppConfig, RunningSandbox, SandboxSettings, run_in_thread
from shared.kafka import client_options
from shared.settings import ServiceSettings
from tests.otlp import Receiver, otlp_receiver

# The reader adds a second event (the text) per fax to the users' topics: the session's system
# runs without it, so the tests that count a user's events count received faxes; the reader's
# own tests start it on the system (tests/e2e/test_reader.py).
SYSTEM_SERVICES = tuple(name for name in SERVICES if name != "reader")
BOTH_BROKERS = pytest.mark.brokers("tansu", "kafka")  # the core flows, on Tansu and Apache Kafka
USERS = 80  # every test takes its own; raise when a test says it ran out
POLLED = 4
BUCKET = "faxes-e2e"


def new_account() -> DemoApp:
    """The session's eFax App: many users (each test takes its own), the first POLLED polled."""
    return DemoApp(user_ids=[str(uuid.uuid4()) for _ in range(USERS)], polled=POLLED)


@dataclass
class System:
    stack: LocalStack
    sandbox: RunningSandbox
    account: DemoApp
    gateway_url: str  # its public port: the webhook paths only
    env: dict[str, str]
    gateway_internal_url: str = ""  # /healthz, /readyz, /metrics (FAXRELAY_METRICS_PORT)
    bucket: str = BUCKET
    traces: Receiver | None = None  # the spans the services exported, when they export
    _next_user: int = POLLED

    def take_users(self, n: int) -> list[str]:
        """Fresh webhook-only users, never used by another test."""
        users = self.account.user_ids[self._next_user : self._next_user + n]
        assert len(users) == n, "the session ran out of users: raise USERS"
        self._next_user += n
        return users

    @property
    def polled_users(self) -> list[str]:
        return self.account.user_ids[:POLLED]

    def restart_service(self, name: str, sig: int = 15) -> None:
        self.stack.stop_process(name, sig=sig)
        self.stack.start_service(name, self.env)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    message: str,
    progress: Callable[[], object] | None = None,
) -> None:
    """Wait for `check()`. Without `progress`, fail after `timeout` s; with it, fail only when
    `progress()` has not changed for `timeout` s, so a loaded machine is slow, not failed."""
    if progress is not None:
        wait_for_progress(check, progress=progress, stall_s=timeout, message=message)
        return
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        time.sleep(0.2)


def wait_for_progress(
    done: Callable[[], bool], *, progress: Callable[[], object], stall_s: float, message: str
) -> None:
    """Wait until `done()`; fail only when `progress()` stayed the same for `stall_s` s."""
    last, changed_at = progress(), time.monotonic()
    while not done():
        time.sleep(0.2)
        now = progress()
        if now != last:
            last, changed_at = now, time.monotonic()
        elif time.monotonic() - changed_at > stall_s:
            raise AssertionError(f"no progress for {stall_s} s (at {last!r}): {message}")


def read_topic(
    bootstrap: str | ServiceSettings, topic: str, *, at_least: int, timeout: float
) -> list[object]:
    """Every record of `topic` from the beginning, waiting until there are `at_least`, then a
    little longer so that extra (duplicate) records would be seen too. `bootstrap` is an address
    or, for a secured broker, the settings to connect with."""
    if isinstance(bootstrap, ServiceSettings):
        options = client_options(bootstrap)
    else:
        options = {"bootstrap_servers": bootstrap}
    consumer = KafkaConsumer(**options, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout  # pushed back whenever records arrive
        partitions: set[int] | None = None
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            if time.monotonic() > deadline:
                return []
            if not partitions:
                time.sleep(0.3)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        found: list[object] = []
        settle_until: float | None = None
        reached_at = 0.0
        while True:
            before = len(found)
            for batch in consumer.poll(timeout_ms=300).values():
                found.extend(batch)
            now = time.monotonic()
            if len(found) > before:
                deadline = max(deadline, now + timeout)
            if len(found) >= at_least and settle_until is None:
                reached_at = now
            if len(found) >= at_least and (settle_until is None or len(found) > before):
                # until no record came for 2 s, but not forever on a topic still being written
                settle_until = min(now + 2.0, reached_at + 10.0)
            if (settle_until is not None and now > settle_until) or now > deadline:
                return found
    finally:
        consumer.close()


TUNING = {  # faster beats than an installation's, for tests that wait on them
    "FAXRELAY_S3_BUCKET": BUCKET,
    "FAXRELAY_KAFKA_SESSION_TIMEOUT_MS": "3000",
    "FAXRELAY_POLLER_INTERVAL_S": "2",
    "FAXRELAY_POLLER_RECENTLY_ANNOUNCED_S": "20",
    "FAXRELAY_DOWNLOADER_BACKOFF_MAX_S": "2",
    "FAXRELAY_LOG_LEVEL": "INFO",
    "FAXRELAY_HEARTBEAT_INTERVAL_S": "1",
}


@pytest.fixture(scope="session")
def broker_kind(request: pytest.FixtureRequest) -> Broker:
    """Which broker the stack runs: parametrised by `pytest_generate_tests` (tests/conftest.py)."""
    kind: Broker = getattr(request, "param", "tansu")
    return kind


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory, broker_kind: Broker) -> Iterator[System]:
    """The session's system exports its traces (to a receiver in this process), so every test
    on it runs the services as an installation with OTLP export does; the systems tests start
    for themselves run without, as the default installation does."""
    data_dir = tmp_path_factory.mktemp(f"stack-{broker_kind}")
    with otlp_receiver() as traces:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        with running_system(data_dir, broker_kind, extra_env=env) as system:
            system.traces = traces
            yield system


@contextlib.contextmanager
def running_system(
    data_dir: Path,
    broker: Broker,
    *,
    secured: bool = False,
    extra_env: dict[str, str] | None = None,
    per_service_env: dict[str, dict[str, str]] | None = None,
) -> Iterator[System]:
    """The whole system on a fresh stack; every log's tail is printed when it stops.
    `per_service_env` adds to one service's environment (a metrics port each, say)."""
    account = new_account()
    stack = LocalStack(data_dir, persistent=False, broker=broker, secured=secured, app=account)
    promised = [  # ports the caller chose for the services: the stack's must differ
        int(value)
        for env in [extra_env or {}, *(per_service_env or {}).values()]
        for name, value in env.items()
        if name.endswith("_PORT")
    ]
    stack.assign_ports(avoid=promised)  # first, so that the gateway's port is none of them
    (stack.gateway_port, internal) = free_ports(2, avoid=[*stack.ports.values(), *promised])
    gateway_url = f"http://127.0.0.1:{stack.gateway_port}"
    # the gateway's health and metrics on an internal port of their own, unless the caller chose
    per_service_env = {name: dict(env) for name, env in (per_service_env or {}).items()}
    gateway_env = per_service_env.setdefault("gateway", {})
    gateway_env.setdefault("FAXRELAY_METRICS_PORT", str(internal))
    internal_url = f"http://127.0.0.1:{gateway_env['FAXRELAY_METRICS_PORT']}"
    settings = SandboxSettings(
        port=0,
        apps=[AppConfig(**account.sandbox_app(f"{gateway_url}/webhooks/efax"))],
        time_scale=0.002,
        page_kb=20,
    )
    try:
        stack.start()
        stack.ensure_topics(partitions=3)
        with run_in_thread(settings) as sandbox:
            stack.efax_url = sandbox.base_url
            env = stack.service_env() | TUNING | (extra_env or {})  # what the services get
            start_services(stack, env, per_service_env, SYSTEM_SERVICES)
            try:
                yield System(stack, sandbox, account, gateway_url, env, internal_url)
            finally:
                stack.stop()  # the services first, while the sandbox still answers
    finally:
        stack.stop()
        for name in sorted(p.stem for p in (data_dir / "logs").glob("*.log")):
            lines = stack.log_file(name).read_text(errors="replace").splitlines()
            print(f"----- {name} log (tail) -----")
            print("\n".join(lines[-40:]))
