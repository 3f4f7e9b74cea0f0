"""Settings that stop a service at start, each with a message naming what to set."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.downloader.settings import DownloaderSettings
from services.gateway.settings import GatewaySettings
from services.router.settings import RouterSettings
from services.verifier.settings import VerifierSettings
from shared.settings import ServiceSettings

APPS = [{"app_id": str(uuid.uuid4()), "api_key": "k", "hmac_secrets": ["s"]}]
KEYS = {"s3_access_key": "faxrelay-prod", "s3_secret_key": "a-real-secret-key"}


def test_minios_default_keys_are_refused_outside_the_local_stack() -> None:
    with pytest.raises(ValidationError, match="FAXRELAY_S3_ACCESS_KEY is MinIO's"):
        RouterSettings(local_stack=False)
    with pytest.raises(ValidationError, match="FAXRELAY_S3_SECRET_KEY is MinIO's"):
        RouterSettings(local_stack=False, s3_access_key="faxrelay-prod")
    assert RouterSettings(local_stack=False, **KEYS).s3_bucket
    assert RouterSettings(local_stack=True).s3_access_key.get_secret_value() == "minioadmin"


def test_an_empty_apps_list_is_refused_by_the_services_that_need_eFax() -> None:
    with pytest.raises(ValidationError, match="FAXRELAY_APPS is empty"):
        VerifierSettings(local_stack=False)
    with pytest.raises(ValidationError, match="FAXRELAY_APPS is empty"):
        DownloaderSettings(local_stack=False, **KEYS)
    assert VerifierSettings(local_stack=False, apps=APPS).apps
    assert GatewaySettings(local_stack=False).gateway_port  # the gateway needs neither


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
