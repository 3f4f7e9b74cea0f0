"""The settings model the drift checks hold compose and the manifests to: which settings class a
container runs, which variables it reads and must be given, and loading it from an environment."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from deploy.image.init_stack import InitSettings
from deploy.settings_doc import MUST_SET, NEVER_SET, SERVICES, env_name, fields
from sandbox.settings import SandboxSettings
from shared.settings import ServiceSettings
from shared.tracing import OTEL_VARIABLES

ALL_FIELDS = {env_name(name) for name in fields()}
SANDBOX_FIELDS = {"SANDBOX_" + name.upper() for name in SandboxSettings.model_fields}
# OpenTelemetry's own variables (traces), read by its SDK in every service.
OTEL_FIELDS = set(OTEL_VARIABLES)
# Only the local stack launcher sets these: a deployment never does.
LAUNCHER_ONLY = {env_name(name) for name in NEVER_SET}


def settings_class(command: list[str]) -> type[BaseSettings] | None:
    """The settings class of the app container running `command` (None: not ours)."""
    text = " ".join(command)
    if "init_stack.py" in text:
        return InitSettings
    if "-m sandbox" in text:
        return SandboxSettings
    found = re.search(r"-m services\.(\w+)", text)
    return SERVICES[found[1]] if found else None


def env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {prefix + name.upper() for name in cls.model_fields}


def must_set(cls: type[BaseSettings]) -> set[str]:
    return {
        env_name(n) for n, f in cls.model_fields.items() if n in MUST_SET or f.is_required()
    } & env_names(cls)


def load(cls: type[BaseSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build the settings the way the service does: from exactly this environment. The shipped
    files hold demo values (example secrets, plain HTTP to the sandbox and MinIO) that only the
    local stack accepts: these checks are of the wiring, tests/unit/test_settings.py of safety."""
    for key in list(os.environ):
        if key.startswith(("FAXRELAY_", "SANDBOX_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if issubclass(cls, ServiceSettings):
        monkeypatch.setenv("FAXRELAY_LOCAL_STACK", "true")
    return cls()
