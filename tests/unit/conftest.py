"""The fast lane builds services with demo settings (no eFax App, MinIO's default keys), which
services refuse outside the local stack: these tests run as the local stack does. The refusal
itself is tested in test_settings.py with `local_stack=False`."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def as_on_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAXRELAY_LOCAL_STACK", "true")
