"""The per-service Kafka principals on a secured Apache Kafka that authorizes every request
(StandardAuthorizer), with the ACLs of deploy/kafka_acls.py: each service's credentials may use
its own topics and nothing else, so the internet-facing gateway cannot forge a `fax.stored`
record, and KEDA's user can only look."""

from __future__ import annotations

import asyncio
import gc
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from aiokafka.errors import ClusterAuthorizationFailedError, TopicAuthorizationFailedError
from kafka.admin import KafkaAdminClient, NewTopic
from pydantic import SecretStr

from deploy.kafka_acls import BY_SERVICE, PRINCIPALS, bindings
from faxrelay import kafka_broker
from faxrelay.localstack import free_ports, wait_for_port
from shared.contracts import FAX_STORED, PIPELINE_TOPICS, WEBHOOK_RECEIVED
from shared.kafka import client_options
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@dataclass(frozen=True)
class Broker:
    port: int  # SASL_SSL, SCRAM-SHA-512
    internal_port: int  # PLAINTEXT on loopback: the admin
    ca_file: Path
    passwords: dict[str, str]  # SCRAM user -> password


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    directory = tmp_path_factory.mktemp("kafka-acls")
    port, controller, internal = free_ports(3)
    tls = kafka_broker.make_tls(directory / "tls")
    passwords = {p.user: secrets.token_urlsafe(24) for p in PRINCIPALS}
    # As the secured variants run it (deploy/compose/kafka-sasl-ssl.yml): StandardAuthorizer,
    # and as super user only ANONYMOUS, the loopback PLAINTEXT listeners.
    argv = kafka_broker.prepare(
        directory,
        port,
        controller,
        scram_users=passwords,
        tls=tls,
        internal_port=internal,
        super_users=(),
    )
    log = (directory / "kafka.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 120, process)
        wait_for_port(internal, 30, process)
        admin = KafkaAdminClient(
            bootstrap_servers=f"127.0.0.1:{internal}",
            api_version_auto_timeout_ms=60_000,
            request_timeout_ms=60_000,
        )
        admin.create_topics([NewTopic(t, 1, 1) for t in PIPELINE_TOPICS])
        result = admin.create_acls(bindings())
        assert not result["failed"], result["failed"]
        admin.close()
        yield Broker(port, internal, tls.ca_file, passwords)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def settings(broker: Broker, user: str) -> ServiceSettings:
    """A service's Kafka settings with this user, as a deployment sets them."""
    return ServiceSettings(
        kafka_bootstrap_servers=f"127.0.0.1:{broker.port}",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=kafka_broker.SCRAM_MECHANISM,
        kafka_sasl_username=user,
        kafka_sasl_password=SecretStr(broker.passwords[user]),
        kafka_ssl_cafile=broker.ca_file,
    )


async def produce_async(broker: Broker, user: str, topic: str) -> None:
    """Write one record the way the services do: aiokafka, idempotent, acks=all."""
    producer = AIOKafkaProducer(
        **client_options(settings(broker, user)),
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=60_000,
    )
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}"), 90)
    finally:
        await producer.stop()


def produce(broker: Broker, user: str, topic: str) -> None:
    asyncio.run(produce_async(broker, user, topic))


@pytest.fixture(autouse=True)
def collect_leftovers() -> Iterator[None]:
    """Finalize the clients' leftovers (refused connections, closed loops) after each test:
    finalized later, inside an import, they crash CPython 3.11.7's parser ("AST constructor
    recursion depth mismatch") at the end of the session."""
    yield
    gc.collect()


def test_the_gateway_writes_webhooks_but_cannot_forge_a_stored_fax(broker: Broker) -> None:
    gateway = BY_SERVICE["gateway"].user
    produce(broker, gateway, WEBHOOK_RECEIVED)
    with pytest.raises(TopicAuthorizationFailedError):
        produce(broker, gateway, FAX_STORED)


def test_only_the_downloader_writes_stored_faxes(broker: Broker) -> None:
    produce(broker, BY_SERVICE["downloader"].user, FAX_STORED)
    for service in ("verifier", "router", "poller"):
        with pytest.raises(TopicAuthorizationFailedError):
            produce(broker, BY_SERVICE[service].user, FAX_STORED)
    # KEDA's user may write no topic at all, so the broker refuses it a producer id already.
    with pytest.raises(ClusterAuthorizationFailedError):
        produce(broker, BY_SERVICE["keda"].user, FAX_STORED)


async def read_one(broker: Broker, user: str, group: str | None) -> str:
    """The topic of the first record of fax.webhook.received this user reads (in `group`, or by
    assignment without a group)."""
    options = client_options(settings(broker, user))
    if group is None:
        consumer = AIOKafkaConsumer(**options, group_id=None, request_timeout_ms=60_000)
    else:
        consumer = AIOKafkaConsumer(
            WEBHOOK_RECEIVED,
            **options,
            group_id=group,
            auto_offset_reset="earliest",
            request_timeout_ms=60_000,
        )
    await consumer.start()
    try:
        if group is None:
            partition = AioTopicPartition(WEBHOOK_RECEIVED, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), 90)
        return str(record.topic)
    finally:
        await consumer.stop()


def test_the_verifier_reads_webhooks_in_its_group_and_the_gateway_cannot(broker: Broker) -> None:
    produce(broker, BY_SERVICE["gateway"].user, WEBHOOK_RECEIVED)
    verifier = BY_SERVICE["verifier"]
    group = next(a.name for a in verifier.acls if a.resource == "group")
    assert asyncio.run(read_one(broker, verifier.user, group)) == WEBHOOK_RECEIVED
    # The gateway may not read what it wrote (no group, assigned by hand: only the topic's ACL).
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(read_one(broker, BY_SERVICE["gateway"].user, None))
