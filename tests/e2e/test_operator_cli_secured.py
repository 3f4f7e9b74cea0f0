"""The operator's verbs against Apache Kafka over SASL_SSL (SCRAM-SHA-512, a throwaway CA) that
enforces the ACLs of deploy/kafka_acls.py, as the operator's own user (faxrelay-operator), with
nothing but FAXRELAY_* settings."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from faxrelay.cli import main
from tests.e2e.conftest import System, read_topic, running_system, wait_until
from tests.e2e.test_ingest import notification
from tests.e2e.test_operator_cli import signed

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("ops-sasl"), "kafka", secured=True) as system:
        yield system


def test_status_and_find_connect_over_sasl_ssl_with_the_services_settings(
    secured: System,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    (user,) = secured.take_users(1)
    (fax,) = secured.sandbox.create_faxes(app_id=secured.account.app_id, user_id=user, count=1)
    assert read_topic(
        secured.stack.client_settings(), f"faxes.user.{user}", at_least=1, timeout=120
    )
    for name, value in {**secured.stack.service_env(), **secured.env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no local stack config to fall back on
    assert main(["status", "--json"]) == 0
    stages = json.loads(capsys.readouterr().out)["stages"]
    assert stages["routed"]["records"] >= 1
    assert stages["received"]["lag"] == 0
    assert main(["find", str(fax.fax_id)]) == 0
    assert "user events: 1" in capsys.readouterr().out
    monkeypatch.setenv("FAXRELAY_KAFKA_SASL_PASSWORD", "wrong")
    assert main(["status"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("faxrelay status: ")
    assert "FAXRELAY_KAFKA_SASL_PASSWORD" in line, "the setting to check is named"


def test_replay_writes_as_the_operator_and_the_forgery_is_rejected_again(
    secured: System,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The operator's user may write where a replay goes (fax.webhook.received), under the
    broker's ACLs; what it wrote is checked again by the verifier."""
    (user,) = secured.take_users(1)
    forged_id = str(uuid.uuid4())
    signed(secured, json.dumps(notification(secured, user, fax_id=forged_id)).encode(), "x")
    for name, value in {**secured.stack.service_env(), **secured.env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    def find() -> str:
        capsys.readouterr()
        assert main(["find", forged_id]) == 0
        return capsys.readouterr().out

    wait_until(lambda: find().count("rejected  bad_signature") == 1, 60, "the forgery rejected")
    capsys.readouterr()
    assert main(["replay", "rejected", "--fax", forged_id]) == 0
    assert "replayed 1 rejected" in capsys.readouterr().out
    wait_until(lambda: find().count("rejected  bad_signature") == 2, 60, "rejected again")
