"""Markers every lane relies on.

`tools` marks tests that run an outside program (node, the Compose binary, kubectl, hadolint,
promtool), so `make test-fast` runs without them and `make test` with them. Each such test or
module says so itself (`@pytest.mark.tools`, `pytestmark`); `--strict-markers` refuses a marker
that pyproject.toml does not register.

Which broker each end-to-end test runs on:

A test (or module) marked `@pytest.mark.brokers("tansu", "kafka")` runs once on each broker; the
Apache Kafka run carries the marker `kafka`. Unmarked tests that use the stack run on Tansu.
Where Java, Maven or openssl is missing, the `kafka` tests are not run and the summary says so;
with FAXRELAY_REQUIRE_KAFKA=1 (as in CI) a missing Kafka fails the run instead. What is not run
is said once right after collection, with the command that installs what is missing, and again
in the summary.

The compose lane (`compose`, tests/compose) runs only when asked for by name (`make test-compose`,
`-m compose`): it starts the whole docker-compose.yml on podman, minutes of work. Where podman
(or root) is missing it is not run, said the same way; FAXRELAY_REQUIRE_COMPOSE=1 (CI) fails.
"""

from __future__ import annotations

import os

import pytest

from faxrelay.kafka_broker import install_command, missing_tools

NOT_RUN: list[str] = []


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
    deselect_compose_lane(config, items)
    on_kafka = [item for item in items if item.get_closest_marker("kafka")]
    missing = missing_tools()
    if not on_kafka or not missing:
        return
    how = (
        f"{len(on_kafka)} tests on Apache Kafka need Java 17+, Maven and openssl "
        f"({', '.join(missing)} not found): {install_command(missing)}, "
        "then run `make test` again (or `pytest -m kafka` for those alone)"
    )
    if os.environ.get("FAXRELAY_REQUIRE_KAFKA") == "1":
        raise pytest.UsageError(f"FAXRELAY_REQUIRE_KAFKA=1 and {how}")
    NOT_RUN.append(how)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # said before the first test runs, not only at the end
        reporter.write_line("NOT RUN: " + how, red=True, bold=True)
    config.hook.pytest_deselected(items=on_kafka)
    items[:] = [item for item in items if item not in on_kafka]


def deselect_compose_lane(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_compose = [item for item in items if item.get_closest_marker("compose")]
    if not on_compose:
        return
    asked = config.option.markexpr or ""
    if "compose" in asked and "not compose" not in asked:
        from tests.compose.lane import install_command as compose_install
        from tests.compose.lane import missing_tools as compose_missing

        missing = compose_missing()
        if not missing:
            return
        how = (
            f"{len(on_compose)} tests of the compose lane need podman as root "
            f"({', '.join(missing)} not found): {compose_install(missing)}"
        )
        if os.environ.get("FAXRELAY_REQUIRE_COMPOSE") == "1":
            raise pytest.UsageError(f"FAXRELAY_REQUIRE_COMPOSE=1 and {how}")
        NOT_RUN.append(how)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("NOT RUN: " + how, red=True, bold=True)
    config.hook.pytest_deselected(items=on_compose)
    items[:] = [item for item in items if item not in on_compose]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in NOT_RUN:
        terminalreporter.write_sep("!", "NOT RUN: " + line, red=True, bold=True)
