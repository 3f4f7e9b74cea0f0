"""The operator's CLI without a stack: arguments, the unreachable broker, a reader that stops
reading, and links signed for the public endpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from faxrelay import cli
from shared.clients import fax_store
from shared.settings import StorageSettings

VERBS = ("status", "find", "replay", "link", "tail", "backfill", "up")


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_answers_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([verb, "--help"])
    assert exited.value.code == 0
    assert "usage: faxrelay " + verb in capsys.readouterr().out


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("faxrelay ")


@pytest.mark.parametrize(
    "argv",
    [["replay"], ["replay", "everything"], ["find"], ["link"], ["status", "--yaml"]],
)
def test_wrong_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2


def test_since_takes_a_time_a_date_or_an_age() -> None:
    now = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert cli.since_arg("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert cli.since_arg("2026-11-01T08:00:00Z") == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert cli.since_arg("2026-11-01T08:00:00+0100") == datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert cli.since_arg("30m", now) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert cli.since_arg("12h", now) == datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
    assert cli.since_arg("7d", now) == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("verb", [["replay", "failed"], ["backfill"]])
@pytest.mark.parametrize("since", ["1mo", "yesterday", "2026-13-01", "12"])
def test_a_since_that_is_no_time_is_one_line_naming_the_forms_and_exit_2(
    verb: list[str], since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*verb, "--since", since])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --since: {since!r} is not a time" in err, err
    assert "12h" in err, err
    assert "Traceback" not in err, err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["find", "x"],
        ["replay", "failed", "--dry-run"],
        ["link", "x"],
    ],
)
def test_an_unreachable_broker_is_one_line_and_a_nonzero_exit(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS", address)
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert f"cannot reach Kafka at {address}" in line
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("public", "origin"),
    [
        ("faxes.example.com:8443", "http://faxes.example.com:8443"),
        ("https://faxes.example.com", "https://faxes.example.com"),
        (None, "http://minio:9000"),
    ],
)
def test_links_are_signed_for_the_public_endpoint_without_a_request(
    public: str | None, origin: str
) -> None:
    settings = StorageSettings(s3_endpoint="minio:9000", s3_public_endpoint=public)
    url = fax_store(settings).presigned_url("u/2026/12/01/f.pdf", timedelta(hours=1))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == origin
    assert parts.path == "/faxes/u/2026/12/01/f.pdf"
    assert "X-Amz-Expires=3600" in url


FIND_WITHOUT_A_BROKER = """
import sys
from faxrelay import cli, verbs

def find(fax_id: str) -> int:  # what find prints, without a broker to read it from
    for n in range(10_000):
        print(f"  2026-12-07 20:00:00.000  received  delivery {n}")
    return 0

verbs.run_find = find
sys.exit(cli.main(["find", "x"]))
"""


def test_a_reader_that_stops_reading_ends_the_command_quietly() -> None:
    """`faxrelay find X | head`: the reader goes away while the command still writes."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-c", FIND_WITHOUT_A_BROKER],
            stdout=write,
            stderr=subprocess.PIPE,
            check=False,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.stderr.decode() == "", "no BrokenPipeError, no 'Exception ignored'"
    assert done.returncode == 141, "as a process SIGPIPE ended"
