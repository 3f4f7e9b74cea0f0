"""The broker stopped while eFax is posting: every delivery answered 200 is on the topic, the rest
were answered 503, and the gateway recovers without a restart."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from faxrelay.localstack import Broker, LocalStack, free_ports, wait_for_port
from shared.contracts import WEBHOOK_RECEIVED
from tests.e2e.conftest import BOTH_BROKERS, read_topic

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, broker_kind: Broker
) -> Iterator[tuple[LocalStack, str]]:
    data_dir: Path = tmp_path_factory.mktemp(f"durable-{broker_kind}")
    # the broker's log survives its restart
    stack = LocalStack(data_dir, persistent=True, broker=broker_kind)
    stack.assign_ports()  # first, so that the gateway's port is none of the stack's
    (port,) = free_ports(1, avoid=stack.ports.values())
    try:
        stack.start()
        stack.ensure_topics(partitions=3)
        stack.start_service(
            "gateway",
            {
                "FAXRELAY_GATEWAY_PORT": str(port),
                "FAXRELAY_GATEWAY_PUBLISH_TIMEOUT_S": "1",
                # one client posting as fast as it can, on purpose: the answers asserted here are
                # the broker's (200 or 503), not the per-source limit's 429
                "FAXRELAY_GATEWAY_RATE_LIMIT_PER_S": "0",
            },
        )
        wait_for_port(port, 30, stack.processes["gateway"])
        yield stack, f"http://127.0.0.1:{port}/webhooks/efax"
    finally:
        stack.stop()


@BOTH_BROKERS
def test_every_delivery_answered_200_survives_a_broker_outage(
    gateway: tuple[LocalStack, str],
) -> None:
    stack, url = gateway
    answers: dict[str, int] = {}
    answered_at: dict[str, float] = {}
    stop = threading.Event()

    def post_forever() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                marker = uuid.uuid4().hex
                body = json.dumps({"fax_id": str(uuid.uuid4()), "marker": marker}).encode()
                try:
                    answer = client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
                    answers[marker] = answer.status_code
                except httpx.HTTPError:
                    answers[marker] = 0
                answered_at[marker] = time.monotonic()

    poster = threading.Thread(target=post_forever)
    poster.start()
    try:
        time.sleep(2)
        stack.stop_broker()
        stopped_at = time.monotonic()
        time.sleep(4)
        stack.start_broker()
        restarted_at = time.monotonic()
        time.sleep(6)
    finally:
        stop.set()
        poster.join()

    accepted = {m for m, status in answers.items() if status == 200}
    assert set(answers.values()) <= {200, 503}, "only success or 'retry later'"
    assert any(s == 503 for s in answers.values()), "the outage was seen"
    assert any(answered_at[m] > restarted_at + 1 for m in accepted), "recovered without restart"
    assert any(answered_at[m] < stopped_at for m in accepted)

    records = read_topic(
        stack.bootstrap_servers, WEBHOOK_RECEIVED, at_least=len(accepted), timeout=60
    )
    on_topic = set()
    for record in records:
        delivery = json.loads(record.value)
        on_topic.add(json.loads(base64.urlsafe_b64decode(delivery["body"]))["marker"])
    print(f"accepted {len(accepted)}, refused 503: {sum(s == 503 for s in answers.values())}")
    missing = accepted - on_topic
    assert not missing, f"{len(missing)} of {len(accepted)} accepted deliveries were lost"


def test_the_gateway_serves_https_when_given_a_certificate(
    gateway: tuple[LocalStack, str], tmp_path: Path
) -> None:
    stack, _ = gateway
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (port,) = free_ports(1)
    stack.spawn(
        "gateway-tls",
        [sys.executable, "-m", "services.gateway"],
        {
            **stack.service_env(),
            "FAXRELAY_GATEWAY_PORT": str(port),
            "FAXRELAY_GATEWAY_TLS_CERTFILE": str(cert),
            "FAXRELAY_GATEWAY_TLS_KEYFILE": str(key),
        },
    )
    try:
        wait_for_port(port, 30, stack.processes["gateway-tls"])
        answer = httpx.post(
            f"https://127.0.0.1:{port}/webhooks/efax",
            content=b'{"fax_id": "tls"}',
            headers={"content-type": "application/json"},
            verify=ssl.create_default_context(cafile=str(cert)),
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.json() == {"status": "SUCCESS"}
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{port}/webhooks/efax", content=b"{}", timeout=5)
    finally:
        stack.stop_process("gateway-tls")


def test_a_consumer_told_to_stop_while_the_broker_is_gone_still_exits(
    gateway: tuple[LocalStack, str],
) -> None:
    stack, _ = gateway
    process = stack.start_service(
        "poller", {"FAXRELAY_SHUTDOWN_TIMEOUT_S": "3", "FAXRELAY_HEARTBEAT_INTERVAL_S": "0.5"}
    )
    heartbeat = stack.heartbeat_file("poller")
    deadline = time.monotonic() + 30
    while not heartbeat.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert heartbeat.exists(), "the poller started"
    stack.stop_broker()
    try:
        process.terminate()
        process.wait(timeout=20)  # a hung graceful stop is cut short after 3 s
    finally:
        stack.start_broker()
    assert process.returncode is not None


def test_a_gateway_told_to_stop_with_a_delivery_pending_on_a_gone_broker_still_exits(
    gateway: tuple[LocalStack, str],
) -> None:
    stack, _ = gateway
    (port,) = free_ports(1)
    process = stack.spawn(
        "gateway-stop",
        [sys.executable, "-m", "services.gateway"],
        {
            **stack.service_env(),
            "FAXRELAY_GATEWAY_PORT": str(port),
            "FAXRELAY_GATEWAY_PUBLISH_TIMEOUT_S": "1",
            "FAXRELAY_SHUTDOWN_TIMEOUT_S": "3",
        },
    )
    wait_for_port(port, 30, process)
    stack.stop_broker()
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/efax",
            content=b'{"fax_id": "pending"}',
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 503  # not acknowledged: its record waits in the producer
        process.terminate()
        process.wait(timeout=20)  # the producer's flush would wait out its request timeout
    finally:
        stack.start_broker()
    assert process.returncode is not None
