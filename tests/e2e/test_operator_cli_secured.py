"""The operator's verbs against Apache Kafka over SASL_SSL (SCRAM-SHA-512, a throwaway CA), with
nothing but the services' FAXRELAY_* settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from faxrelay.cli import main
from tests.e2e.conftest import System, read_topic, running_system

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
