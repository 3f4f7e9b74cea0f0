"""The operator's CLI without a stack: arguments, the unreachable broker, local defaults, links
signed for the public endpoint, and how records are attributed to a fax."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from faxrelay import cli
from faxrelay.localstack import ACCESS_KEY, SECRET_KEY, LocalStack
from faxrelay.ops import (
    REPLAY_HEADER,
    Record,
    _replay_of,
    fax_id_of,
    partition_of,
    reason_of,
    stage_of,
)
from shared.clients import fax_store
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    USER_TOPIC_TEMPLATE,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
    DownloadFailed,
    DownloadFailure,
    FaxStored,
    RejectReason,
    WebhookRejected,
)
from shared.settings import StorageSettings
from tests.builders import delivery, notification, notified, stored

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


def test_without_an_environment_the_cli_finds_the_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    ports = {"kafka": 19092, "s3": 19000, "sandbox": 18081}
    app = {"app_id": str(uuid.uuid4()), "api_key": "k", "hmac_secret": "s", "user_ids": []}
    (tmp_path / "config.json").write_text(json.dumps({"ports": ports, "app": app}))
    defaults = cli.local_defaults(tmp_path)
    assert defaults["kafka_bootstrap_servers"] == "127.0.0.1:19092"
    assert defaults["s3_endpoint"] == "127.0.0.1:19000"
    monkeypatch.setenv("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    assert cli.local_defaults(tmp_path) == {}, "a deployment's settings win whole"


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


def record(topic: str, value: bytes, key: bytes | None = None) -> Record:
    return Record(topic, 0, 0, 0, key, value, ())


def test_find_tells_a_replayed_record_from_the_original() -> None:
    value = notified().model_dump_json().encode()
    original = record(FAX_NOTIFIED, value)
    replayed = Record(FAX_NOTIFIED, 0, 1, 0, None, value, ((REPLAY_HEADER, b"failed"),))
    assert reason_of(original) == "source webhook"
    assert reason_of(replayed) == "source webhook, replayed (failed)"


def test_every_pipeline_record_is_attributed_to_its_fax() -> None:
    fax = notified()
    body = json.dumps(notification(fax_id=str(fax.fax_id))).encode()
    received = delivery(body)
    rejected = WebhookRejected(reason=RejectReason.BAD_SIGNATURE, detail="d", delivery=received)
    failed = DownloadFailed(fax=fax, reason=DownloadFailure.GONE, detail="d", attempts=1)
    for topic, message in [
        (WEBHOOK_RECEIVED, received),
        (WEBHOOK_REJECTED, rejected),
        (FAX_NOTIFIED, fax),
        (FAX_STORED, FaxStored(fax=fax, stored=stored().stored)),
        (DOWNLOAD_FAILED, failed),
    ]:
        assert fax_id_of(record(topic, message.model_dump_json().encode())) == str(fax.fax_id)
    assert fax_id_of(record(FAX_NOTIFIED, b"not json")) is None


def test_replays_carry_the_original_notification_and_delivery_byte_for_byte() -> None:
    fax = notified()
    failed = DownloadFailed(fax=fax, reason=DownloadFailure.GONE, detail="d", attempts=3)
    replay = _replay_of(record(DOWNLOAD_FAILED, failed.model_dump_json().encode()), "failed")
    assert replay is not None
    assert (replay.topic, replay.key) == (FAX_NOTIFIED, str(fax.fax_id).encode())
    assert replay.at == failed.failed_at
    assert replay.value == fax.model_dump_json().encode()
    body = json.dumps(notification(fax_id=str(fax.fax_id))).encode()
    rejected = WebhookRejected(reason="bad_signature", detail="d", delivery=delivery(body))
    replay = _replay_of(record(WEBHOOK_REJECTED, rejected.model_dump_json().encode()), "x")
    assert replay is not None
    assert replay.topic == WEBHOOK_RECEIVED
    assert replay.at == rejected.rejected_at
    sent = json.loads(replay.value)
    assert base64.urlsafe_b64decode(sent["body"]) == body
    assert sent["signature"] == rejected.delivery.signature


def test_user_topics_are_the_routed_stage() -> None:
    assert (
        stage_of(USER_TOPIC_TEMPLATE.format(user_id=uuid.uuid4()), USER_TOPIC_TEMPLATE) == "routed"
    )
    assert stage_of(WEBHOOK_REJECTED, USER_TOPIC_TEMPLATE) == "rejected"


def test_up_tells_a_newcomer_the_users_the_broker_and_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAXRELAY_APPS", raising=False)
    users = [str(uuid.uuid4()) for _ in range(3)]
    stack = LocalStack(tmp_path, ports={"kafka": 19092, "s3": 19000})
    text = "\n".join(cli.first_run_lines({"app": {"user_ids": users}}, stack))
    assert "kafka bootstrap: 127.0.0.1:19092" in text
    assert f"http://127.0.0.1:19000  access key {ACCESS_KEY}  secret key {SECRET_KEY}" in text
    assert all(user in text for user in users)


def test_find_reads_the_partition_the_services_producers_chose_for_a_fax_id() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for count in (1, 3, 6):
        partitions = list(range(count))
        for _ in range(30):
            key = str(uuid.uuid4()).encode()
            assert partition_of(key, count) == DefaultPartitioner()(key, partitions, partitions)
