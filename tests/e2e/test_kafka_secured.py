"""Apache Kafka secured as platform teams run it: clients connect over SASL_SSL with SCRAM-SHA-512,
the broker's certificate signed by a throwaway CA made for the test, and the broker authorizes
every request by the ACLs of deploy/kafka_acls.py, each service connecting as its own user. The
services run exactly-once (transactions under their own transactional-id prefixes). A fax flows
end to end, the gateway's credentials cannot forge a stored fax, a wrong password stops a
service at start naming the setting, and no password reaches a log."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError
from cloudevents.core.bindings import kafka as ce_kafka
from kafka.admin import KafkaAdminClient
from kafka.errors import NoBrokersAvailable, UnrecognizedBrokerVersion

from deploy.kafka_acls import BY_SERVICE
from faxrelay.kafka_broker import classpath
from faxrelay.reader import Record, reading
from shared.contracts import FAX_STORED
from shared.kafka import client_options
from shared.settings import ServiceSettings
from tests.e2e.conftest import SYSTEM_SERVICES, System, running_system, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    exactly_once = {"FAXRELAY_KAFKA_EXACTLY_ONCE": "true"}
    with running_system(
        tmp_path_factory.mktemp("sasl"), "kafka", secured=True, extra_env=exactly_once
    ) as system:
        yield system


def committed(system: System, topic: str, *, at_least: int) -> list[Record]:
    """The committed records of `topic`, as the operator reads them (its own user, aiokafka,
    read_committed), once there are `at_least`. Not `read_topic`: kafka-python-ng hands out
    the transactions' commit markers as records."""
    settings = system.stack.client_settings().model_copy(update={"kafka_exactly_once": True})
    found: list[Record] = []

    async def read() -> list[Record]:
        async with reading(settings) as topics:
            return await topics.read(topic)

    def enough() -> bool:
        found[:] = asyncio.run(read())
        return len(found) >= at_least

    wait_until(enough, 120, f"{at_least} records on {topic}", progress=lambda: len(found))
    return found


def passwords(system: System) -> list[str]:
    return [system.stack.sasl_password, *system.stack.passwords.values()]


def test_the_stack_connects_over_sasl_ssl_and_refuses_plaintext(secured: System) -> None:
    env = secured.stack.service_env()
    assert env["FAXRELAY_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    config = (secured.stack.data_dir / "kafka" / "server.properties").read_text()
    client_listener = f"SASL_SSL://127.0.0.1:{secured.stack.ports['kafka']}"
    assert client_listener in config
    # a client without TLS and SASL gets nothing from the client port
    with pytest.raises((NoBrokersAvailable, UnrecognizedBrokerVersion)):
        KafkaAdminClient(
            bootstrap_servers=secured.stack.bootstrap_servers, api_version_auto_timeout_ms=3000
        )


def test_a_fax_flows_end_to_end_over_sasl_ssl_with_scram(secured: System) -> None:
    (user,) = secured.take_users(1)
    faxes = secured.sandbox.create_faxes(
        app_id=secured.account.app_id, user_id=user, count=3, pages=2
    )
    records = committed(secured, f"faxes.user.{user}", at_least=3)
    events = [
        ce_kafka.from_binary_event(
            ce_kafka.KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value)
        )
        for r in records
    ]
    assert sorted(e.get_id() for e in events) == sorted(f.fax_id for f in faxes)
    client = secured.stack.minio()
    stored = list(client.list_objects(secured.bucket, prefix=f"{user}/", recursive=True))
    assert len(stored) == 3


def test_a_wrong_sasl_password_stops_a_service_at_start_naming_the_setting(
    secured: System,
) -> None:
    wrong = "not-the-password-" + "x" * 8
    process = secured.stack.spawn(
        "verifier-wrong-password",
        [sys.executable, "-m", "services.verifier"],
        {
            **secured.env,
            **secured.stack.service_env(),
            "FAXRELAY_KAFKA_SASL_PASSWORD": wrong,
            "FAXRELAY_VERIFIER_GROUP_ID": "faxrelay-verifier-wrong-password",
        },
    )
    try:
        code = process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("a service with a wrong password kept running") from None
    log = secured.stack.log_file("verifier-wrong-password").read_text()
    assert code == 2, log
    assert "refusing to start" in log
    assert "FAXRELAY_KAFKA_SASL_PASSWORD" in log
    assert wrong not in log
    for password in passwords(secured):
        assert password not in log


def test_the_sasl_password_never_appears_in_any_log(secured: System) -> None:
    (user,) = secured.take_users(1)
    secured.sandbox.create_faxes(app_id=secured.account.app_id, user_id=user, count=2)
    committed(secured, f"faxes.user.{user}", at_least=2)
    logs = sorted((secured.stack.data_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= set(SYSTEM_SERVICES)
    for path in logs:
        text = Path(path).read_text(errors="replace")
        for password in passwords(secured):
            assert password not in text, path.name
        assert secured.stack.tls is not None
        assert secured.stack.tls.password not in text, path.name


def test_every_service_stays_up_over_sasl(secured: System) -> None:
    wait_until(
        lambda: all(
            secured.stack.heartbeat_file(n).exists() for n in SYSTEM_SERVICES if n != "gateway"
        ),
        60,
        "every consumer beats",
    )
    dead = {n: p.returncode for n, p in secured.stack.processes.items() if p.poll() is not None}
    dead.pop("verifier-wrong-password", None)
    assert dead == {}


async def produce(settings: ServiceSettings, topic: str) -> None:
    """One record, written as the services write: aiokafka, idempotent, acks=all."""
    producer = AIOKafkaProducer(
        **client_options(settings), enable_idempotence=True, acks="all", request_timeout_ms=60_000
    )
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}"), 90)
    finally:
        await producer.stop()


def test_each_service_runs_as_its_own_user_and_the_gateways_cannot_forge_a_stored_fax(
    secured: System,
) -> None:
    stack = secured.stack
    for name in SYSTEM_SERVICES:  # what each running service was given, from its environment
        environ = Path(f"/proc/{stack.processes[name].pid}/environ").read_bytes().split(b"\0")
        assert f"FAXRELAY_KAFKA_SASL_USERNAME=faxrelay-{name}".encode() in environ, name
    # While the stack runs: the internet-facing gateway's user, and the verifier's, are refused
    # `fax.stored` (the record that makes the router hand out a link). The operator may write it
    # (`replay unread`); the router checks the stored object's own metadata before announcing.
    for principal in ("gateway", "verifier", "poller", "reader"):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(produce(stack.client_settings(principal), FAX_STORED))


def test_the_consumers_write_in_transactions_under_their_own_prefixes(secured: System) -> None:
    """Exactly-once under the ACLs: the broker knows transactional ids of the verifier, the
    downloader and the router, each under its own `<prefix>-<group>-` (listed by Kafka's own
    kafka-transactions tool, as the local admin on the loopback listener)."""
    (user,) = secured.take_users(1)
    secured.sandbox.create_faxes(app_id=secured.account.app_id, user_id=user, count=1)
    committed(secured, f"faxes.user.{user}", at_least=1)
    admin = f"127.0.0.1:{secured.stack.ports['kafka_internal']}"
    argv = ["java", "-cp", classpath(), "org.apache.kafka.tools.TransactionsCommand",
            "--bootstrap-server", admin, "list"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = {line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()}
    for service in ("verifier", "downloader", "router"):
        acls = BY_SERVICE[service].acls
        prefixes = [a.name for a in acls if a.resource == "transactional-id"]  # one per group
        assert any(i.startswith(p) for p in prefixes for i in ids), (service, sorted(ids))
