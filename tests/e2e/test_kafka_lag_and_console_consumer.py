"""What only Apache Kafka shows correctly: consumer lag from true end offsets (Tansu's read low),
and a user's topic read by Apache Kafka's own console consumer, a Kafka client that is not ours,
run from the jars the broker runs on."""

from __future__ import annotations

import json
import subprocess

import pytest

from faxrelay.kafka_broker import classpath
from shared.contracts import FAX_NOTIFIED, FAX_RECEIVED_EVENT_TYPE
from shared.kafka import KafkaAdmin
from tests.e2e.conftest import System, read_topic, wait_for_progress

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("kafka")]

CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"  # kafka-console-consumer.sh
FIELD, HEADER, RECORD = "\x1f", "\x1e", "\x1d"  # separators no JSON text contains


def console_consumer(bootstrap: str, topic: str) -> list[tuple[dict[str, str], str, str]]:
    """Every record of `topic` from the beginning as (headers, key, value), read by
    kafka-console-consumer until no record came for 10 s."""
    argv = [
        "java", "-cp", classpath(), CONSOLE_CONSUMER, "--bootstrap-server", bootstrap,
        "--topic", topic, "--from-beginning", "--timeout-ms", "10000",
        "--property", "print.headers=true", "--property", "print.key=true",
        "--property", f"key.separator={FIELD}", "--property", f"headers.separator={HEADER}",
        "--property", f"line.separator={RECORD}",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    records = []
    for line in done.stdout.split(RECORD)[:-1]:
        headers, key, value = line.split(FIELD)
        pairs = (header.split(":", 1) for header in headers.split(HEADER))
        records.append(({name: text for name, text in pairs}, key, value))
    return records


def test_kafkas_console_consumer_reads_a_users_events_with_their_cloudevents_headers(
    system: System,
) -> None:
    (user,) = system.take_users(1)
    faxes = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=3)
    topic = f"faxes.user.{user}"
    read_topic(system.stack.bootstrap_servers, topic, at_least=3, timeout=120)
    records = console_consumer(system.stack.bootstrap_servers, topic)
    assert len(records) == 3
    for headers, key, value in records:
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_type"] == FAX_RECEIVED_EVENT_TYPE
        assert headers["ce_source"]
        assert key == user
        assert json.loads(value)["fax_id"] == headers["ce_id"]
    assert sorted(json.loads(value)["fax_id"] for _, _, value in records) == sorted(
        f.fax_id for f in faxes
    )


def test_downloader_lag_rises_while_it_is_stopped_and_falls_back_to_zero(system: System) -> None:
    group = "faxrelay-downloader"

    def lag() -> int:
        admin = KafkaAdmin(system.stack.client_settings())
        try:
            return sum(admin.lag(group, FAX_NOTIFIED).values())
        finally:
            admin.close()

    wait_for_progress(lambda: lag() == 0, progress=lag, stall_s=60, message="no lag at first")
    system.stack.stop_process("downloader")
    try:
        users = system.take_users(2)
        for user in users:
            system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=10)
        wait_for_progress(
            lambda: lag() >= 20, progress=lag, stall_s=60, message="lag of 20 notifications"
        )
    finally:
        system.stack.start_service("downloader", system.env)
    wait_for_progress(lambda: lag() == 0, progress=lag, stall_s=60, message="lag back to 0")
