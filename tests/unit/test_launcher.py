"""`faxrelay up` without starting anything: what it tells a newcomer, and the stack it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from faxrelay.launcher import first_run_lines, metrics_env, metrics_lines, saved_stack
from faxrelay.localstack import ACCESS_KEY, SECRET_KEY, DemoApp, LocalStack


def test_up_tells_a_newcomer_the_users_the_broker_and_the_store(tmp_path: Path) -> None:
    app = DemoApp()
    stack = LocalStack(tmp_path, ports={"kafka": 19092, "s3": 19000}, app=app)
    text = "\n".join(first_run_lines(stack))
    assert "kafka bootstrap: 127.0.0.1:19092" in text
    assert f"http://127.0.0.1:19000  access key {ACCESS_KEY}  secret key {SECRET_KEY}" in text
    assert all(user in text for user in app.user_ids)


def test_a_restart_finds_the_same_ports_and_app_and_gives_the_services_one_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAXRELAY_APPS", raising=False)
    first = saved_stack(tmp_path, "tansu", 8080)
    again = saved_stack(tmp_path, "tansu", 8080)
    assert (again.ports, again.app) == (first.ports, first.app)
    assert first.app is not None
    env = first.service_env()
    assert env["FAXRELAY_EFAX_API_BASE_URL"] == f"http://127.0.0.1:{first.ports['sandbox']}"
    assert first.app.api_key in env["FAXRELAY_APPS"]
    assert env["FAXRELAY_GATEWAY_PORT"] == "8080"


def test_with_real_efax_apps_up_starts_no_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAXRELAY_APPS", "[]")
    stack = saved_stack(tmp_path, "tansu", 8080)
    assert stack.app is None
    assert "FAXRELAY_APPS" not in stack.service_env()


def test_up_gives_the_gateway_an_internal_port_for_health_and_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAXRELAY_APPS", raising=False)
    stack = saved_stack(tmp_path, "tansu", 8080)
    internal = stack.ports["metrics_gateway"]
    assert internal != 8080
    assert metrics_env(stack.ports)["gateway"] == {"FAXRELAY_METRICS_PORT": str(internal)}
    lines = "\n".join(metrics_lines(stack.ports))
    assert f"gateway 127.0.0.1:{internal}" in lines
    assert f"http://127.0.0.1:{internal}/healthz" in lines
