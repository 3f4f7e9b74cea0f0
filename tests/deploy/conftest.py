"""Shared fixtures of the deployment checks: the compose model, the built Kustomize output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.tooling import ToolMissing, tool
from deploy.validate_k8s import KUSTOMIZATIONS, build

ROOT = Path(__file__).resolve().parents[2]
# The example secret files stand in for secrets/ (which is per installation, not in Git).
SECRETS_EXAMPLE = "deploy/compose/secrets.example"


def need(name: str) -> str:
    """A tool's path; a missing tool fails the test (CI installs them), never skips it."""
    try:
        return tool(name)
    except ToolMissing as exc:
        pytest.fail(str(exc))


def compose(*args: str, files: tuple[str, ...] = ("docker-compose.yml",)) -> str:
    """Run Compose on this checkout with .env.example as the .env."""
    argv = [need("compose"), "--env-file", ".env.example"]
    for file in files:
        argv += ["-f", file]
    env = {**os.environ, "ENV_FILE": ".env.example", "SECRETS_DIR": SECRETS_EXAMPLE}
    done = subprocess.run(
        [*argv, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def compose_model() -> dict[str, Any]:
    """The resolved compose project, every profile on (what `docker compose up` would run)."""
    model: dict[str, Any] = json.loads(compose("--profile", "*", "config", "--format", "json"))
    return model


SECURED_KAFKA = ("docker-compose.yml", "deploy/compose/kafka-sasl-ssl.yml")


@pytest.fixture(scope="session")
def secured_compose_model() -> dict[str, Any]:
    """The project with the SASL_SSL override, every profile on."""
    out = compose("--profile", "*", "config", "--format", "json", files=SECURED_KAFKA)
    model: dict[str, Any] = json.loads(out)
    return model


@pytest.fixture(scope="session")
def kustomize_builds() -> dict[str, list[dict[str, Any]]]:
    need("kubectl")
    return {str(k.relative_to(ROOT)): build(k) for k in KUSTOMIZATIONS}
