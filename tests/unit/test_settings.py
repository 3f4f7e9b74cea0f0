"""Settings that stop a service at start, each with a message naming what to set."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.downloader.settings import DownloaderSettings
from services.gateway.settings import GatewaySettings
from services.router.settings import RouterSettings
from services.verifier.settings import VerifierSettings
from shared.settings import EXAMPLE_SECRETS, ServiceSettings, setting_errors

APPS = [{"app_id": str(uuid.uuid4()), "api_key": "k", "hmac_secrets": ["s" * 32]}]
ROOT = Path(__file__).parents[2]
KEYS = {
    "s3_access_key": "faxrelay-prod",
    "s3_secret_key": "a-real-secret-key",
    "s3_secure": True,
    "s3_internal_access_key": "faxrelay-tokens",  # the shared eFax tokens' own keys
    "s3_internal_secret_key": "a-real-tokens-key",
}


def test_minios_default_keys_are_refused_outside_the_local_stack() -> None:
    with pytest.raises(ValidationError, match="FAXRELAY_S3_ACCESS_KEY is an example value"):
        RouterSettings(local_stack=False)
    with pytest.raises(ValidationError, match="FAXRELAY_S3_SECRET_KEY is an example value"):
        RouterSettings(local_stack=False, s3_access_key="faxrelay-prod", s3_secure=True)
    assert RouterSettings(local_stack=False, **KEYS).s3_bucket
    assert RouterSettings(local_stack=True).s3_access_key.get_secret_value() == "minioadmin"


def test_an_empty_apps_list_is_refused_by_the_services_that_need_eFax() -> None:
    with pytest.raises(ValidationError, match="FAXRELAY_APPS is empty"):
        VerifierSettings(local_stack=False)
    with pytest.raises(ValidationError, match="FAXRELAY_APPS is empty"):
        DownloaderSettings(local_stack=False, **KEYS)
    assert VerifierSettings(local_stack=False, apps=APPS).apps
    assert GatewaySettings(local_stack=False).gateway_port  # the gateway needs neither


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"efax_api_base_url": "http://api.securedocex.com"}, "FAXRELAY_EFAX_API_BASE_URL"),
        ({"s3_secure": False}, "FAXRELAY_S3_SECURE"),
        ({"s3_secret_key": "change-me-minio-secret"}, "FAXRELAY_S3_SECRET_KEY"),
        ({"kafka_sasl_password": "change-me-kafka-password"}, "FAXRELAY_KAFKA_SASL_PASSWORD"),
        ({"apps": [{**APPS[0], "api_key": "sandbox-demo-api-key"}]}, "api_key of"),
        ({"apps": [{**APPS[0], "hmac_secrets": ["sandbox-demo-hmac-secret"]}]}, "hmac_secrets"),
        ({"apps": [{**APPS[0], "hmac_secrets": ["x" * 31]}]}, "shorter than 32 bytes"),
    ],
)
def test_unsafe_settings_are_refused_outside_the_local_stack_naming_the_setting(
    changes: dict[str, object], named: str
) -> None:
    values = {"apps": APPS, **KEYS, **changes}
    with pytest.raises(ValidationError, match=named):
        DownloaderSettings(local_stack=False, **values)
    assert DownloaderSettings(local_stack=True, **values)
    assert DownloaderSettings(local_stack=False, apps=APPS, **KEYS)


def test_every_secret_shipped_as_an_example_is_refused() -> None:
    """A new example secret in secrets.example or .env.example cannot slip past the check."""
    files = [ROOT / ".env.example", *(ROOT / "deploy/compose/secrets.example").glob("*.env")]
    text = "\n".join(path.read_text() for path in files)
    shipped = set(re.findall(r"(?:PASSWORD|SECRET_KEY|ACCESS_KEY)=([^\s#]+)", text))
    shipped |= set(re.findall(r'"(?:api_key|hmac_secret)":\s*"([^"]+)"', text))
    shipped |= set(re.findall(r'"hmac_secrets":\s*\["([^"]+)"', text))
    shipped -= {"faxrelay"}  # an access key, a user name: not a secret
    assert shipped
    assert shipped <= EXAMPLE_SECRETS, sorted(shipped - EXAMPLE_SECRETS)


def test_sasl_needs_its_user_and_password_and_files_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FAXRELAY_KAFKA_SASL_USERNAME"):
        ServiceSettings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="no such file"):
        ServiceSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "missing.pem")
    with pytest.raises(ValidationError, match="both FAXRELAY_KAFKA_SSL_CERTFILE"):
        ServiceSettings(kafka_security_protocol="SSL", kafka_ssl_certfile=tmp_path)


def test_a_sasl_password_never_shows_in_the_settings_repr() -> None:
    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="svc",
        kafka_sasl_password="hunter2-very-secret",
    )
    assert "hunter2-very-secret" not in repr(settings)
    assert "hunter2-very-secret" not in str(settings.model_dump())


@pytest.mark.parametrize("service", ["gateway", "verifier", "downloader", "router", "poller"])
def test_a_bad_setting_stops_a_service_with_one_line_naming_it_and_no_secret(
    service: str, tmp_path: Path
) -> None:
    """SASL_SSL without a user name: the process says which setting is wrong in one line, with
    no traceback, and the SASL password, the API keys and HMAC secrets never reach its output."""
    apps = [{"app_id": str(uuid.uuid4()), "api_key": "apikey-9c1e", "hmac_secrets": ["hmac-5e7a"]}]
    env = {
        "PATH": os.environ["PATH"],
        "FAXRELAY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "FAXRELAY_KAFKA_SASL_PASSWORD": "sasl-password-3f2b",
        "FAXRELAY_APPS": json.dumps(apps),
        **{f"FAXRELAY_{k.upper()}": str(v) for k, v in KEYS.items()},
    }
    run = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 2
    assert "Traceback" not in output
    assert output.strip().count("\n") == 0, output
    assert "FAXRELAY_KAFKA_SECURITY_PROTOCOL" in output
    assert "FAXRELAY_KAFKA_SASL_USERNAME" in output
    for secret in ("sasl-password-3f2b", "apikey-9c1e", "hmac-5e7a", KEYS["s3_secret_key"]):
        assert secret not in output


def test_a_settings_error_never_echoes_the_input_value() -> None:
    with pytest.raises(ValidationError) as caught:
        VerifierSettings(apps=[{"app_id": "not-a-uuid", "hmac_secrets": ["hmac-5e7a"]}])
    assert "hmac-5e7a" not in str(caught.value)
    assert "FAXRELAY_APPS (0.app_id)" in setting_errors(caught.value)


@pytest.mark.parametrize(
    "cls", [GatewaySettings, VerifierSettings, DownloaderSettings, RouterSettings]
)
def test_every_service_settings_class_hides_input_in_errors(cls: type[ServiceSettings]) -> None:
    assert cls.model_config.get("hide_input_in_errors") is True
