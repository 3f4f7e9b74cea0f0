"""Markers every lane relies on.

`tools` marks tests that run an outside program (node, the Compose binary, kubectl, hadolint), so
`make test-fast` runs without them and `make test` with them.

Which broker each end-to-end test runs on:

A test (or module) marked `@pytest.mark.brokers("tansu", "kafka")` runs once on each broker; the
Apache Kafka run carries the marker `kafka`. Unmarked tests that use the stack run on Tansu.
Where Java or Maven is missing, the `kafka` tests are not run and the summary says so loudly;
with FAXRELAY_REQUIRE_KAFKA=1 (as in CI) a missing Kafka fails the run instead.
"""

from __future__ import annotations

import os

import pytest

from faxrelay.kafka_broker import missing_tools

NOT_RUN: list[str] = []

TOOL_FIXTURES = {"compose_model", "kustomize_builds", "node_receiver"}
TOOL_HELPERS = {"node_verify", "compose", "need"}


def mark_tool_tests(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        code = getattr(function, "__code__", None)
        names = set(code.co_names) if code is not None else set()
        if TOOL_FIXTURES & set(getattr(item, "fixturenames", ())) or TOOL_HELPERS & names:
            item.add_marker(pytest.mark.tools)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "broker_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("brokers")
    kinds = marker.args if marker else ("tansu",)
    params = [
        pytest.param(kind, id=kind, marks=[pytest.mark.kafka] if kind == "kafka" else [])
        for kind in kinds
    ]
    metafunc.parametrize("broker_kind", params, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_tool_tests(items)
    on_kafka = [item for item in items if item.get_closest_marker("kafka")]
    missing = missing_tools()
    if not on_kafka or not missing:
        return
    how = (
        f"{len(on_kafka)} tests on Apache Kafka need Java 17+ and Maven "
        f"({', '.join(missing)} not found): apt-get install openjdk-17-jre-headless maven, "
        "then run `make test` again (or `pytest -m kafka` for those alone)"
    )
    if os.environ.get("FAXRELAY_REQUIRE_KAFKA") == "1":
        raise pytest.UsageError(f"FAXRELAY_REQUIRE_KAFKA=1 and {how}")
    NOT_RUN.append(how)
    config.hook.pytest_deselected(items=on_kafka)
    items[:] = [item for item in items if item not in on_kafka]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in NOT_RUN:
        terminalreporter.write_sep("!", "NOT RUN: " + line, red=True, bold=True)
