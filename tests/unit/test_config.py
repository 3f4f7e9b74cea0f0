"""The operator's settings: the services' own fields, over the local stack's environment where
the deployment's is silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from faxrelay.config import OpsSettings, OpsStoreSettings, cli_settings, demo_users
from faxrelay.launcher import write_local_env
from faxrelay.localstack import ACCESS_KEY, DemoApp, LocalStack
from services.router.settings import RouterSettings
from services.verifier.settings import VerifierSettings


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """A stack `faxrelay up` wrote the environment of, and no deployment settings."""
    for name in ("LOCAL_STACK", "KAFKA_BOOTSTRAP_SERVERS", "APPS", "S3_ENDPOINT", "S3_ACCESS_KEY"):
        monkeypatch.delenv(f"FAXRELAY_{name}", raising=False)
    stack = LocalStack(
        tmp_path,
        ports={"kafka": 19092, "s3": 19000},
        app=DemoApp(),
        efax_url="http://127.0.0.1:18081",
    )
    write_local_env(stack)
    return stack


def test_without_an_environment_the_verbs_find_the_local_stack(stack: LocalStack) -> None:
    settings = cli_settings(OpsStoreSettings, stack.data_dir)
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert settings.s3_endpoint == "127.0.0.1:19000"
    assert settings.s3_access_key.get_secret_value() == ACCESS_KEY
    assert stack.app is not None
    assert demo_users(stack.data_dir) == stack.app.user_ids


def test_the_environment_wins_where_it_speaks(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAXRELAY_ROUTER_GROUP_ID", "other-router")
    settings = cli_settings(OpsSettings, stack.data_dir)
    assert settings.router_group_id == "other-router"
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19092"


def test_a_deployments_broker_wins_whole(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    settings = cli_settings(OpsSettings, stack.data_dir)
    assert settings.kafka_bootstrap_servers == "kafka.example:9093"
    assert not settings.local_stack, "nothing of the local stack leaks into a deployment"
    assert demo_users(stack.data_dir) == []


def test_a_deployment_with_links_off_can_still_sign_a_link(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router accepts FAXRELAY_ROUTER_PRESIGN_EXPIRY_S=0 (links off); so does the CLI."""
    monkeypatch.setenv("FAXRELAY_ROUTER_PRESIGN_EXPIRY_S", "0")
    assert RouterSettings(local_stack=True).router_presign_expiry_s == 0
    assert cli_settings(OpsStoreSettings, stack.data_dir).router_presign_expiry_s == 0


def test_the_operators_fields_are_the_services_own() -> None:
    for name in ("verifier_group_id",):
        assert OpsSettings.model_fields[name].default == VerifierSettings.model_fields[name].default
    for name in ("router_group_id", "router_user_topic_template", "router_presign_expiry_s"):
        ours, theirs = OpsStoreSettings.model_fields[name], RouterSettings.model_fields[name]
        assert (ours.default, ours.metadata) == (theirs.default, theirs.metadata)
