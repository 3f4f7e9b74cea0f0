"""What only Apache Kafka shows correctly: consumer lag from true end offsets (Tansu's read low),
and a user's topic read by kcat, a Kafka client that is not ours (kcat cannot talk to Tansu)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from shared.contracts import FAX_NOTIFIED, FAX_RECEIVED_EVENT_TYPE
from shared.kafka import KafkaAdmin
from tests.e2e.conftest import System, read_topic, wait_for_progress

pytestmark = [pytest.mark.e2e, pytest.mark.brokers("kafka")]


def test_kcat_reads_a_users_events_with_their_cloudevents_headers(system: System) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is missing: apt-get install kcat (.ci/run installs it)"
    (user,) = system.take_users(1)
    faxes = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=3)
    topic = f"faxes.user.{user}"
    read_topic(system.stack.bootstrap_servers, topic, at_least=3, timeout=120)
    done = subprocess.run(
        [kcat, "-b", system.stack.bootstrap_servers, "-C", "-t", topic, "-o", "beginning",
         "-e", "-q", "-J"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(messages) == 3
    for message in messages:
        flat = message["headers"]
        headers = dict(zip(flat[::2], flat[1::2], strict=True))
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_type"] == FAX_RECEIVED_EVENT_TYPE
        assert headers["ce_source"]
        assert message["key"] == user
        data = json.loads(message["payload"])
        assert data["fax_id"] == headers["ce_id"]
    assert sorted(m["payload"] and json.loads(m["payload"])["fax_id"] for m in messages) == sorted(
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
