"""How every consumer service starts (`shared.runner.run`, which their `__main__` calls): bad
settings end it with one line and status 2 before anything runs; good ones get logging in the
service's name, then the app runs to its end. In a subprocess: logging and tracing are global."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import logging
    from shared.runner import run
    from shared.settings import ServiceSettings

    class App:
        async def run(self) -> None:
            logging.getLogger("faxrelay.test").warning("the app ran")

    def create_app(settings: ServiceSettings) -> App:
        print("created with", type(settings).__name__, flush=True)
        return App()

    run("example", ServiceSettings, create_app)
    """
)


def started(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FAXRELAY_", "OTEL_"))}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_settings_end_the_start_with_one_line_naming_the_setting() -> None:
    result = started(FAXRELAY_KAFKA_SECURITY_PROTOCOL="CARRIER_PIGEON")
    assert result.returncode == 2
    assert result.stdout == ""  # the app was never created
    (line,) = result.stderr.splitlines()
    assert line.startswith("faxrelay example: bad settings:")
    assert "kafka_security_protocol" in line.lower()


def test_good_settings_configure_logging_then_run_the_app_to_its_end() -> None:
    result = started(FAXRELAY_LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "created with ServiceSettings\n"
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    ran = [line for line in lines if line["message"] == "the app ran"]
    assert ran, result.stderr  # written by the service's own JSON handler, not Python's default
    assert ran[0]["service"] == "example"
