"""Kafka principals and their ACLs: one SCRAM user per service, allowed only its own topics,
consumer group and transactional ids, and a Describe-only user for KEDA. One table, written out
for each way of installing it:

    python -m deploy.kafka_acls script > deploy/kafka/acls.sh  # kafka-acls.sh, kafka-configs.sh
    python -m deploy.kafka_acls strimzi > deploy/k8s/kafka-users/users.yaml  # Strimzi

The topics come from the registry in shared/contracts/; tests/deploy/test_kafka_topics.py
checks the table against what each service's app really reads and writes, so a new topic or a
new consumer cannot be forgotten, and checks that the two files above are current.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)

from services.downloader.settings import DownloaderSettings
from services.poller.settings import PollerSettings
from services.reader.settings import ReaderSettings
from services.router.settings import RouterSettings
from services.verifier.settings import VerifierSettings
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_READ,
    FAX_STORED,
    OUTBOUND_NOTIFIED,
    PING_RECEIVED,
    PIPELINE_TOPICS,
    READ_FAILED,
    USER_TOPIC,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
)
from shared.settings import ServiceSettings

SHARDS_TOPIC = "fax.poller.shards"  # services/poller/shards.py (kept apart: no service import)
USER_TOPIC_PREFIX = USER_TOPIC.title + "."  # faxes.user.<user_id>
TYPE_TOPIC_PREFIX = "faxes.type."  # faxes.type.<document type>, of the shipped content rules
CONTENT_RULE_TOPICS = ("faxes.junk", "faxes.review")  # the shipped content rules' others
# The gateway's producer byte-rate quota (per broker): a real webhook is under 1 KiB, so this is
# about a thousand webhooks a second, and a flood of large bodies cannot fill the disks faster.
GATEWAY_PRODUCER_BYTE_RATE = 1024 * 1024
STRIMZI_CLUSTER = "faxrelay"  # the Kafka cluster of deploy/k8s/overlays/production


@dataclass(frozen=True)
class Acl:
    """Allow `operations` on a resource: a topic, a consumer group or transactional ids."""

    resource: str  # "topic", "group" or "transactional-id"
    name: str
    operations: tuple[str, ...]
    prefixed: bool = False


@dataclass(frozen=True)
class Principal:
    service: str  # the service (or "init", "keda") using it
    user: str  # the SCRAM user name, User:<user> to the authorizer
    acls: tuple[Acl, ...]
    producer_byte_rate: int | None = None


DESCRIBE = ("Describe",)


def reads(topic: str) -> Acl:
    return Acl("topic", topic, ("Read", "Describe"))


def writes(topic: str) -> Acl:
    return Acl("topic", topic, ("Write", "Describe"))


def consumer(group_id: str) -> tuple[Acl, ...]:
    """A consumer group, and the transactional ids its exactly-once producers take
    (`<prefix>-<group>-<topic>-<partition>`, shared/kafka.py `Transactions`)."""
    prefix = ServiceSettings.model_fields["kafka_transactional_id_prefix"].default
    return (
        Acl("group", group_id, ("Read", "Describe")),
        Acl("transactional-id", f"{prefix}-{group_id}-", ("Write", "Describe"), prefixed=True),
    )


def group_of(settings: type[ServiceSettings], field: str) -> str:
    return str(settings.model_fields[field].default)


VERIFIER_GROUP = group_of(VerifierSettings, "verifier_group_id")
DOWNLOADER_GROUP = group_of(DownloaderSettings, "downloader_group_id")
ROUTER_GROUP = group_of(RouterSettings, "router_group_id")
ROUTER_READ_GROUP = group_of(RouterSettings, "router_read_group_id")
ROUTER_UNREAD_GROUP = group_of(RouterSettings, "router_unread_group_id")
READER_GROUP = group_of(ReaderSettings, "reader_group_id")
POLLER_GROUP = group_of(PollerSettings, "poller_group_id")


def service(
    name: str,
    *,
    reading: tuple[str, ...] = (),
    writing: tuple[str, ...] = (),
    group: str | None = None,
    extra: tuple[Acl, ...] = (),
    producer_byte_rate: int | None = None,
) -> Principal:
    """A service's principal, `faxrelay-<name>`: Read on the topics it consumes in its `group`
    (with that group's transactional ids, for exactly-once), Write on the topics it produces,
    and `extra` grants. A new service is one call of this in SERVICE_PRINCIPALS."""
    acls = (
        *map(reads, reading),
        *map(writes, writing),
        *extra,
        *(consumer(group) if group else ()),
    )
    return Principal(name, f"faxrelay-{name}", acls, producer_byte_rate)


SERVICE_PRINCIPALS: tuple[Principal, ...] = (
    # Internet-facing: writes what it was sent to one topic, and nothing else.
    service("gateway", writing=(WEBHOOK_RECEIVED,), producer_byte_rate=GATEWAY_PRODUCER_BYTE_RATE),
    service(
        "verifier",
        reading=(WEBHOOK_RECEIVED,),
        writing=(FAX_NOTIFIED, WEBHOOK_REJECTED, PING_RECEIVED, OUTBOUND_NOTIFIED),
        group=VERIFIER_GROUP,
    ),
    service(
        "downloader",
        reading=(FAX_NOTIFIED,),
        writing=(FAX_STORED, DOWNLOAD_FAILED),
        group=DOWNLOADER_GROUP,
    ),
    # The only writer of the users' topics; it creates them on demand, and the topics of the
    # shipped content rules (deploy/router/rules.example.yaml): faxes.type.*, junk, review.
    # The read faxes and (for users waiting for reading) the unread ones, each in a group of
    # its own, so reading never delays delivery.
    service(
        "router",
        reading=(FAX_STORED, FAX_READ, READ_FAILED),
        extra=(
            Acl("topic", USER_TOPIC_PREFIX, ("Write", "Describe", "Create"), prefixed=True),
            Acl("topic", TYPE_TOPIC_PREFIX, ("Write", "Describe", "Create"), prefixed=True),
            *(Acl("topic", t, ("Write", "Describe", "Create")) for t in CONTENT_RULE_TOPICS),
            *consumer(ROUTER_READ_GROUP),
            *consumer(ROUTER_UNREAD_GROUP),
        ),
        group=ROUTER_GROUP,
    ),
    # Reads the stored faxes from the store (it holds no eFax key).
    service("reader", reading=(FAX_STORED,), writing=(FAX_READ, READ_FAILED), group=READER_GROUP),
    # Reads no record: its copies share the users through the group's assignment of the shard
    # topic, which it creates.
    service(
        "poller",
        writing=(FAX_NOTIFIED,),
        extra=(
            Acl("topic", SHARDS_TOPIC, ("Read", "Describe", "Create")),
            Acl("group", POLLER_GROUP, ("Read", "Describe")),
        ),
    ),
)
# KEDA scales the consumers on lag: all but the poller, whose shard topic carries no record.
SCALED = tuple(p for p in SERVICE_PRINCIPALS if p.service != "poller")
# What the operator's commands replay into (`faxrelay replay`, `backfill`): records the next
# stage checks again (the verifier the HMAC, the downloader fetches from eFax by id, the router
# and the reader the stored object's own metadata: a `fax.stored` record announces or reads a
# fax only for the owner the downloader wrote on its object).
REPLAY_TOPICS = (FAX_NOTIFIED, WEBHOOK_RECEIVED, FAX_STORED)


def read_by(principals: tuple[Principal, ...], resource: str) -> tuple[str, ...]:
    """The topics (or groups) the principals read, in order, each once."""
    names = (
        a.name
        for p in principals
        for a in p.acls
        if a.resource == resource and "Read" in a.operations
    )
    return tuple(dict.fromkeys(names))


PRINCIPALS: tuple[Principal, ...] = (
    *SERVICE_PRINCIPALS,
    # Makes the pipeline topics (and leaves existing ones alone); reads and writes no record.
    Principal(
        "init",
        "faxrelay-init",
        tuple(Acl("topic", t, ("Create", "Describe")) for t in PIPELINE_TOPICS),
    ),
    # KEDA reads the consumer groups' lag: the topics' end offsets and the groups' offsets.
    Principal(
        "keda",
        "faxrelay-keda",
        (
            *(Acl("topic", t, DESCRIBE) for t in read_by(SCALED, "topic")),
            *(Acl("group", g, DESCRIBE) for g in read_by(SCALED, "group")),
        ),
    ),
    # The operator's CLI (`faxrelay status`, `find`, `tail`, `replay`, `backfill`): reads every
    # pipeline topic and the users' topics without a group, sees the groups' offsets (lag), and
    # writes only where a replay goes (`replay unread`: `fax.stored`). Never a user's topic.
    Principal(
        "operator",
        "faxrelay-operator",
        (
            *(Acl("topic", t, ("Read", "Describe")) for t in PIPELINE_TOPICS),
            Acl("topic", USER_TOPIC_PREFIX, ("Read", "Describe"), prefixed=True),
            *(Acl("topic", t, ("Write",)) for t in REPLAY_TOPICS),
            *(Acl("group", g, DESCRIBE) for g in read_by(SERVICE_PRINCIPALS, "group")),
        ),
    ),
)
BY_SERVICE = {p.service: p for p in PRINCIPALS}


def bindings(principals: tuple[Principal, ...] = PRINCIPALS) -> list[ACL]:
    """The table as kafka-python-ng's ACL bindings (`KafkaAdminClient.create_acls`), one per
    operation: how the secured local stack installs it (faxrelay/localstack.py)."""
    resources = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "transactional-id": ResourceType.TRANSACTIONAL_ID,
    }
    return [
        ACL(
            principal=f"User:{principal.user}",
            host="*",
            operation=ACLOperation[operation.upper()],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                resources[acl.resource],
                acl.name,
                ACLResourcePatternType.PREFIXED if acl.prefixed else ACLResourcePatternType.LITERAL,
            ),
        )
        for principal in principals
        for acl in principal.acls
        for operation in acl.operations
    ]


def acl_lines(principal: Principal) -> list[str]:
    """kafka-acls.sh arguments, one ACL binding a line (after `acl`, a function of the script)."""
    lines = []
    for acl in principal.acls:
        ops = " ".join(f"--operation {op}" for op in acl.operations)
        pattern = "prefixed" if acl.prefixed else "literal"
        lines.append(
            f"acl User:{principal.user} --{acl.resource} {acl.name} "
            f"--resource-pattern-type {pattern} {ops}"
        )
    return lines


SCRIPT_HEAD = """\
#!/usr/bin/env bash
# Written by `python -m deploy.kafka_acls script` from deploy/kafka_acls.py: do not edit.
# The ACLs of faxrelay's Kafka principals (one per service, and KEDA's Describe-only one) and
# the gateway's producer quota (KAFKA_GATEWAY_PRODUCER_BYTE_RATE overrides it). Run it as a Kafka
# admin; it is idempotent. The SCRAM users themselves (their passwords) are made apart:
# docs/platform.md, "Security".
#   acls.sh --bootstrap-server HOST:PORT [--command-config admin.properties]
set -euo pipefail
BIN="${KAFKA_BIN:-/opt/kafka/bin}"
CONNECT=("$@")
acl() {
  local principal="$1"; shift
  "$BIN/kafka-acls.sh" "${CONNECT[@]}" --add --allow-principal "$principal" --allow-host '*' "$@" \\
    >/dev/null
}
"""


def quota_variable(principal: Principal) -> str:
    """The variable that overrides a principal's producer quota in acls.sh (the secured compose
    variant sets it from .env: KAFKA_GATEWAY_PRODUCER_BYTE_RATE)."""
    return f"KAFKA_{principal.service.upper()}_PRODUCER_BYTE_RATE"


def script() -> str:
    lines = [SCRIPT_HEAD.rstrip("\n")]
    for principal in PRINCIPALS:
        lines.append(f"# {principal.service}")
        lines += acl_lines(principal)
        if principal.producer_byte_rate:
            rate = f"${{{quota_variable(principal)}:-{principal.producer_byte_rate}}}"
            lines.append(
                '"$BIN/kafka-configs.sh" "${CONNECT[@]}" --alter --entity-type users '
                f"--entity-name {principal.user} "
                f'--add-config "producer_byte_rate={rate}" >/dev/null'
            )
    lines.append('echo "faxrelay ACLs and quotas set"')
    return "\n".join(lines) + "\n"


def kafka_user(principal: Principal) -> dict[str, object]:
    """A Strimzi KafkaUser: SCRAM-SHA-512, simple authorization, and the quota."""
    acls = [
        {
            "resource": {
                "type": {"transactional-id": "transactionalId"}.get(acl.resource, acl.resource),
                "name": acl.name,
                "patternType": "prefix" if acl.prefixed else "literal",
            },
            "operations": list(acl.operations),
            "host": "*",
        }
        for acl in principal.acls
    ]
    spec: dict[str, object] = {
        "authentication": {"type": "scram-sha-512"},
        "authorization": {"type": "simple", "acls": acls},
    }
    if principal.producer_byte_rate:
        spec["quotas"] = {"producerByteRate": principal.producer_byte_rate}
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {
            "name": principal.user,
            "labels": {"strimzi.io/cluster": STRIMZI_CLUSTER},
        },
        "spec": spec,
    }


def strimzi() -> str:
    import yaml

    head = (
        "# Written by `python -m deploy.kafka_acls strimzi` from deploy/kafka_acls.py: do not "
        "edit.\n# faxrelay's Kafka principals as Strimzi KafkaUsers (docs/platform.md, "
        '"Security").\n'
    )
    docs = [yaml.safe_dump(kafka_user(p), sort_keys=False) for p in PRINCIPALS]
    return head + "---\n".join(docs)


if __name__ == "__main__":
    outputs = {"script": script, "strimzi": strimzi}
    if len(sys.argv) != 2 or sys.argv[1] not in outputs:
        sys.exit("usage: python -m deploy.kafka_acls script|strimzi")
    print(outputs[sys.argv[1]](), end="")
