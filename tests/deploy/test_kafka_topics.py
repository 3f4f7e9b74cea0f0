"""The Kafka topics and who may use them: each pipeline topic is defined once with its configs, and
each service's Kafka principal (deploy/kafka_acls.py) may do exactly what the service's app
reads and writes, so a new topic, publisher or consumer cannot be forgotten in the ACLs."""

from __future__ import annotations

import importlib
import os
import subprocess
import typing
from dataclasses import dataclass
from pathlib import Path

from faststream.kafka import KafkaBroker

from deploy.image.init_stack import topic_configs
from deploy.kafka_acls import (
    BY_SERVICE,
    CONTENT_RULE_TOPICS,
    GATEWAY_PRODUCER_BYTE_RATE,
    PRINCIPALS,
    REPLAY_TOPICS,
    SERVICE_PRINCIPALS,
    TYPE_TOPIC_PREFIX,
    USER_TOPIC_PREFIX,
    Acl,
    script,
    strimzi,
)
from faxrelay.localstack import SERVICES
from services.router.rules import load_rules
from shared.contracts import PIPELINE_TOPICS, RULE_TOPIC, TOPICS, USER_TOPIC
from tests.deploy.conftest import ROOT


def test_every_pipeline_topic_is_defined_once_with_its_configs() -> None:
    assert len({t.name for t in TOPICS}) == len(TOPICS)
    for topic in TOPICS:
        config = topic_configs(topic, 3)
        assert config["cleanup.policy"] in ("delete", "compact,delete")
        assert int(config["retention.ms"]) > 0
        assert config["min.insync.replicas"] == "2"
        assert topic.description


@dataclass(frozen=True)
class Uses:
    """What a service's app reads and writes, from its own publishers and subscribers."""

    writes: frozenset[str]
    reads: frozenset[str]
    groups: frozenset[str]


def uses(service: str) -> Uses:
    """Build the service's app on a broker of its own (nothing connects) and read it back."""
    broker = KafkaBroker("kafka:9092")
    create_app = importlib.import_module(f"services.{service}.app").create_app
    settings_class = typing.get_type_hints(create_app)["settings"]
    create_app(settings_class.model_construct(), broker=broker)
    writes = {p.topic for p in broker.publishers}
    # the per-user topics are one prefix: faxes.user.<user_id>
    writes = {USER_TOPIC_PREFIX if w == USER_TOPIC.name else w for w in writes}
    writes.discard(RULE_TOPIC.name)  # the rules' topics: granted by name (the router's test)
    reads = {t.name for s in broker.subscribers for t in s.topics}
    groups = {s.group_id for s in broker.subscribers}
    return Uses(frozenset(writes), frozenset(reads), frozenset(groups))


def allowed(acls: tuple[Acl, ...], resource: str, operation: str) -> set[str]:
    return {a.name for a in acls if a.resource == resource and operation in a.operations}


def test_each_service_principal_may_do_exactly_what_its_app_does() -> None:
    assert set(SERVICES) <= set(BY_SERVICE)
    for service in SERVICES:
        acls, used = BY_SERVICE[service].acls, uses(service)
        rule_topics = {TYPE_TOPIC_PREFIX, *CONTENT_RULE_TOPICS} if service == "router" else set()
        assert allowed(acls, "topic", "Write") == used.writes | rule_topics, service
        assert allowed(acls, "topic", "Read") == used.reads, service
        assert allowed(acls, "group", "Read") == used.groups, service
        # Nothing for the cluster, and no wildcard: every name is a topic of its own or a prefix
        # that is one of ours.
        assert {a.resource for a in acls} <= {"topic", "group", "transactional-id"}, service
        assert all(a.name not in ("*", "") for a in acls), service
        prefixed = {a.name for a in acls if a.prefixed and a.resource == "topic"}
        assert prefixed <= {USER_TOPIC_PREFIX, TYPE_TOPIC_PREFIX}, service


def test_the_router_may_write_and_create_every_topic_of_the_shipped_content_rules() -> None:
    router = BY_SERVICE["router"].acls
    example = load_rules(ROOT / "deploy/router/rules.example.yaml")
    topics = {t for rule in example.rules for t in rule.topics}
    assert topics
    for topic in topics:
        for operation in ("Write", "Create"):
            granted = [
                a
                for a in router
                if a.resource == "topic"
                and operation in a.operations
                and (topic.startswith(a.name) if a.prefixed else topic == a.name)
            ]
            assert granted, f"{topic}: the router may not {operation} it"


def test_every_registry_topic_is_made_by_the_init_and_written_by_its_services_only() -> None:
    writers: dict[str, set[str]] = {}
    for service in SERVICES:
        for topic in uses(service).writes:
            writers.setdefault(topic, set()).add(service)
    init = BY_SERVICE["init"].acls
    assert allowed(init, "topic", "Create") == set(PIPELINE_TOPICS)
    assert not allowed(init, "topic", "Write") | allowed(init, "topic", "Read")
    for topic in PIPELINE_TOPICS:
        granted = {p.service for p in PRINCIPALS if topic in allowed(p.acls, "topic", "Write")}
        granted.discard("operator")  # its replays: test_the_operator_...
        assert granted, f"{topic}: no principal may write it"
        assert granted == writers.get(topic, set()), topic
    # The users' topics: the router alone writes and creates them.
    for p in PRINCIPALS:
        creates_users = USER_TOPIC_PREFIX in allowed(p.acls, "topic", "Create")
        assert creates_users == (p.service == "router"), p.service


def test_the_gateway_writes_only_webhook_received_under_a_byte_rate_quota() -> None:
    gateway = BY_SERVICE["gateway"]
    assert [(a.resource, a.name, set(a.operations)) for a in gateway.acls] == [
        ("topic", "fax.webhook.received", {"Write", "Describe"})
    ]
    assert gateway.producer_byte_rate == GATEWAY_PRODUCER_BYTE_RATE
    assert all(p.producer_byte_rate is None for p in PRINCIPALS if p is not gateway)


def test_keda_may_only_describe_the_consumed_topics_and_groups() -> None:
    keda = BY_SERVICE["keda"].acls
    assert {op for a in keda for op in a.operations} == {"Describe"}
    # Every consumer KEDA scales on lag: all but the poller, whose shard topic carries no record.
    consumers = [uses(s) for s in SERVICES if s != "poller"]
    assert allowed(keda, "topic", "Describe") == {t for u in consumers for t in u.reads}
    assert allowed(keda, "group", "Describe") == {g for u in consumers for g in u.groups}


def test_the_shipped_acl_files_are_current() -> None:
    shipped = (ROOT / "deploy/kafka/acls.sh").read_text()
    assert shipped == script(), "regenerate: python -m deploy.kafka_acls script"
    users = (ROOT / "deploy/k8s/kafka-users/users.yaml").read_text()
    assert users == strimzi(), "regenerate: python -m deploy.kafka_acls strimzi"


def test_each_service_is_one_entry_of_the_table_with_its_own_user() -> None:
    assert {p.service for p in SERVICE_PRINCIPALS} == set(SERVICES)
    users = [p.user for p in PRINCIPALS]
    assert len(set(users)) == len(users)
    assert all(p.user == f"faxrelay-{p.service}" for p in PRINCIPALS)


def test_the_operator_reads_everything_but_writes_only_where_replays_go() -> None:
    """`faxrelay status`, `find`, `tail` read every pipeline topic and the users' topics with
    no group of their own, see the groups' offsets, and `replay`/`backfill` write records the
    next stage checks again (`fax.stored` for `replay unread`: the router and the reader check
    the stored object's own metadata), never a user's topic, nor a group's offsets."""
    operator = BY_SERVICE["operator"].acls
    assert allowed(operator, "topic", "Read") == {*PIPELINE_TOPICS, USER_TOPIC_PREFIX}
    assert allowed(operator, "topic", "Write") == set(REPLAY_TOPICS)
    assert not any(t.startswith(USER_TOPIC_PREFIX) for t in REPLAY_TOPICS)
    assert not allowed(operator, "topic", "Create")
    assert not allowed(operator, "group", "Read")
    groups = {g for s in SERVICES for g in uses(s).groups}
    assert allowed(operator, "group", "Describe") == groups
    assert {a.resource for a in operator} == {"topic", "group"}


def test_acls_sh_sets_the_gateways_quota_from_its_variable(tmp_path: Path) -> None:
    """Run with stand-ins for Kafka's tools: the quota is the table's unless the secured compose
    variant's KAFKA_GATEWAY_PRODUCER_BYTE_RATE says otherwise."""
    calls = tmp_path / "calls"
    for tool in ("kafka-acls.sh", "kafka-configs.sh"):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/bash\necho "{tool} $*" >> {calls}\n')
        stub.chmod(0o755)

    def quota(env: dict[str, str]) -> list[str]:
        calls.unlink(missing_ok=True)
        subprocess.run(
            ["bash", str(ROOT / "deploy/kafka/acls.sh"), "--bootstrap-server", "kafka:9092"],
            env={"PATH": os.environ["PATH"], "KAFKA_BIN": str(tmp_path), **env},
            check=True,
            capture_output=True,
        )
        lines = calls.read_text().splitlines()
        assert all("--bootstrap-server kafka:9092" in line for line in lines)
        return [line for line in lines if line.startswith("kafka-configs.sh")]

    gateway = "--entity-name faxrelay-gateway --add-config producer_byte_rate="
    (default,) = quota({})
    assert default.endswith(f"{gateway}{GATEWAY_PRODUCER_BYTE_RATE}")
    (lowered,) = quota({"KAFKA_GATEWAY_PRODUCER_BYTE_RATE": "262144"})
    assert lowered.endswith(f"{gateway}262144")
