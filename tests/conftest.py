"""Markers every lane relies on: `tools` for tests that run an outside program (node, the Compose
binary, kubectl, hadolint), so `make test-fast` runs without them and `make test` with them."""

from __future__ import annotations

import pytest

TOOL_FIXTURES = {"compose_model", "kustomize_builds", "node_receiver"}
TOOL_HELPERS = {"node_verify", "compose", "need"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        code = getattr(function, "__code__", None)
        names = set(code.co_names) if code is not None else set()
        if TOOL_FIXTURES & set(getattr(item, "fixturenames", ())) or TOOL_HELPERS & names:
            item.add_marker(pytest.mark.tools)
