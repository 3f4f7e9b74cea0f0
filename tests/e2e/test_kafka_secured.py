"""Apache Kafka secured as platform teams run it: clients connect over SASL_SSL with SCRAM-SHA-512,
the broker's certificate signed by a throwaway CA made for the test. A fax flows end to end, a
wrong password stops a service at start naming the setting, and no password reaches a log."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from kafka.admin import KafkaAdminClient
from kafka.errors import NoBrokersAvailable, UnrecognizedBrokerVersion

from tests.e2e.conftest import SYSTEM_SERVICES, System, read_topic, running_system, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("sasl"), "kafka", secured=True) as system:
        yield system


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
    records = read_topic(
        secured.stack.client_settings(), f"faxes.user.{user}", at_least=3, timeout=120
    )
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
    assert secured.stack.sasl_password not in log


def test_the_sasl_password_never_appears_in_any_log(secured: System) -> None:
    (user,) = secured.take_users(1)
    secured.sandbox.create_faxes(app_id=secured.account.app_id, user_id=user, count=2)
    read_topic(secured.stack.client_settings(), f"faxes.user.{user}", at_least=2, timeout=120)
    logs = sorted((secured.stack.data_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= set(SYSTEM_SERVICES)
    for path in logs:
        text = Path(path).read_text(errors="replace")
        assert secured.stack.sasl_password not in text, path.name
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
