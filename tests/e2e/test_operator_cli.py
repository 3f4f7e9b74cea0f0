"""The operator's verbs on the real stack: status, find, replay and link, run as `faxrelay ...`
with the services' own settings."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from kafka import KafkaProducer

from faxrelay.cli import main
from sandbox import Faults
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    WEBHOOK_RECEIVED,
    FaxStored,
)
from shared.kafka import KafkaAdmin
from shared.settings import ServiceSettings
from tests.e2e.conftest import System, read_topic, wait_until
from tests.e2e.test_ingest import notification
from tests.e2e.test_walking_skeleton import decode_events, stored_objects, user_topic

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(system: System, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`faxrelay ARGS` in this process, with the environment the services run with."""
    for name, value in {**system.stack.service_env(), **system.env}.items():
        monkeypatch.setenv(name, value)

    def run(*args: str, code: int = 0) -> str:
        capsys.readouterr()
        assert main(list(args)) == code
        return capsys.readouterr().out

    return run


def events_of(system: System, user: str, at_least: int) -> list:
    return decode_events(
        read_topic(system.stack.bootstrap_servers, user_topic(user), at_least=at_least, timeout=10)
    )


def routed(system: System, user: str, n: int) -> None:
    def count() -> int:
        return len(events_of(system, user, n))

    wait_until(lambda: count() >= n, 60, f"{n} events for {user}", progress=count)


def lag(system: System, group: str, topic: str) -> int:
    admin = KafkaAdmin(ServiceSettings(kafka_bootstrap_servers=system.stack.bootstrap_servers))
    try:
        return sum(admin.lag(group, topic).values())
    finally:
        admin.close()


def settled(system: System, group: str, topic: str) -> None:
    wait_until(
        lambda: lag(system, group, topic) == 0,
        60,
        f"{group} caught up on {topic}",
        progress=lambda: lag(system, group, topic),
    )


def stages_in(find_output: str) -> list[str]:
    return [line.split()[2] for line in find_output.splitlines() if line.startswith("  20")]


def failed_download(system: System, user: str) -> str:
    """A fax whose download failed (garbled image), with the fault cleared afterwards."""
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, deliver=False
    )
    system.sandbox.set_faults(Faults(garbled_base64_fax_ids=[fax.fax_id]))
    try:
        system.sandbox.redeliver([fax.fax_id])

        def failures() -> int:
            records = read_topic(
                system.stack.bootstrap_servers, DOWNLOAD_FAILED, at_least=1, timeout=5
            )
            return sum(str(fax.fax_id) in (r.value or b"").decode() for r in records)

        wait_until(lambda: failures() > 0, 60, "the download failed", progress=failures)
    finally:
        system.sandbox.clear_faults()
    return str(fax.fax_id)


def test_status_json_counts_every_stage_with_lag_and_reasons(system: System, cli) -> None:
    (user,) = system.take_users(1)
    system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=3)
    routed(system, user, 3)
    stages = json.loads(cli("status", "--json"))["stages"]
    assert set(stages) == {
        *("received", "verified", "stored", "routed", "rejected", "failed"),
        *("to read", "read", "unread"),  # the reader's stage, off the delivery path
    }
    for name in ("received", "verified", "stored", "routed"):
        assert stages[name]["records"] >= 3, name
        assert "lag" in stages[name]
    assert stages["verified"]["lag"] is not None
    assert stages["routed"]["lag"] is None
    assert isinstance(stages["rejected"]["reasons"], dict)
    assert isinstance(stages["unread"]["reasons"], dict)
    text = cli("status")
    print(text)
    assert text.splitlines()[0].split()[:4] == ["stage", "records", "lag", "oldest"]


def test_find_tells_a_faxs_whole_story_in_order(system: System, cli) -> None:
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=1)
    routed(system, user, 1)
    (stored,) = stored_objects(system, user).values()
    out = cli("find", str(fax.fax_id))
    stages = stages_in(out)
    assert stages[:3] == ["received", "verified", "stored"], out
    assert f"sha256 {hashlib.sha256(stored).hexdigest()}" in out
    assert f"{len(stored)} bytes" in out
    assert "user events: 1" in out
    assert "eFax: not listed as undownloaded" in out
    print(out)


def test_replay_failed_stores_the_fax_once_and_a_second_replay_delivers_nothing_more(
    system: System, cli
) -> None:
    (user,) = system.take_users(1)
    fax_id = failed_download(system, user)
    out = cli("find", fax_id)
    assert " failed " in out, out
    assert "eFax: still lists it as NOT downloaded" in out, out
    dry = cli("replay", "failed", "--fax", fax_id, "--dry-run")
    assert dry.startswith("would replay 1 failed onto fax.notified"), dry
    assert stored_objects(system, user) == {}, "a dry run publishes nothing"
    print(dry)
    assert "replayed 1 failed" in cli("replay", "failed", "--fax", fax_id)
    routed(system, user, 1)
    again = cli("replay", "failed", "--fax", fax_id, "--dry-run")
    assert again.startswith("left out 1 stored since"), again
    assert "would replay 0 failed" in again, again
    # Forced anyway: the downloader must collapse it, not deliver it twice.
    assert "replayed 1 failed" in cli("replay", "failed", "--fax", fax_id, "--include-stored")
    settled(system, "faxrelay-downloader", FAX_NOTIFIED)
    settled(system, "faxrelay-router", "fax.stored")
    assert [e.get_id() for e in events_of(system, user, 2)] == [fax_id]


def signed(system: System, body: bytes, secret: str) -> None:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = httpx.post(
        f"{system.gateway_url}/webhooks/efax",
        content=body,
        headers={"content-type": "application/json", "x-hmac-signature": signature},
        timeout=10,
    )
    assert response.status_code < 300


def test_replay_rejected_after_a_secret_is_added_routes_the_genuine_fax_once_and_not_the_forged(
    system: System, cli
) -> None:
    genuine_user, forged_user = system.take_users(2)
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    new_secret = "rotated-" + uuid.uuid4().hex
    (genuine,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=genuine_user, count=1, deliver=False
    )
    body = json.dumps(notification(system, genuine_user, fax_id=str(genuine.fax_id))).encode()
    signed(system, body, new_secret)  # eFax signs with a secret we do not know yet
    forged_id = str(uuid.uuid4())
    signed(system, json.dumps(notification(system, forged_user, fax_id=forged_id)).encode(), "x")

    def listed() -> str:
        return cli("replay", "rejected", "--since", since, "--dry-run")

    wait_until(lambda: forged_id in listed() and str(genuine.fax_id) in listed(), 60, "2 rejected")
    apps = json.loads(system.env["FAXRELAY_APPS"])
    apps[0]["hmac_secrets"].append(new_secret)
    system.env["FAXRELAY_APPS"] = json.dumps(apps)
    system.restart_service("verifier")

    for _ in range(2):  # twice (forced): the second run must deliver nothing more
        cli(
            "replay", "rejected", "--since", since, "--fax", str(genuine.fax_id), "--include-stored"
        )
        cli("replay", "rejected", "--since", since, "--fax", forged_id)
        routed(system, genuine_user, 1)
        settled(system, "faxrelay-verifier", WEBHOOK_RECEIVED)
        settled(system, "faxrelay-downloader", FAX_NOTIFIED)
        settled(system, "faxrelay-router", "fax.stored")
    assert [e.get_id() for e in events_of(system, genuine_user, 2)] == [str(genuine.fax_id)]
    assert events_of(system, forged_user, 1) == [], "nothing unverified passes"
    out = cli("find", forged_id)
    assert out.count("rejected  bad_signature") == 3, out  # the delivery and both replays
    assert stages_in(out) == ["received", "rejected"] * 3, out


@pytest.fixture
def forwarder(system: System) -> Iterator[int]:
    """Another address in front of the object store: a TCP forwarder on a port of its own."""
    target = ("127.0.0.1", system.stack.ports["s3"])
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    opened: list[socket.socket] = []

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(target)
            opened.extend((client, upstream))
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()
    for sock in opened:
        sock.close()


def test_a_link_signed_for_the_public_endpoint_opens_through_it(
    system: System, cli, forwarder: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=1)
    routed(system, user, 1)
    (stored,) = stored_objects(system, user).values()
    monkeypatch.setenv("FAXRELAY_S3_PUBLIC_ENDPOINT", f"http://127.0.0.1:{forwarder}")
    link = cli("link", str(fax.fax_id), "--expires-s", "600").strip()
    assert link.startswith(f"http://127.0.0.1:{forwarder}/"), link
    response = httpx.get(link, timeout=10)
    assert response.status_code == 200, response.text
    assert response.content == stored
    started = time.monotonic()
    assert cli("link", str(uuid.uuid4()), code=1) == ""
    assert time.monotonic() - started < 60


def test_the_router_signs_links_for_the_public_endpoint_and_they_open_through_it(
    system: System, forwarder: int
) -> None:
    system.env["FAXRELAY_S3_PUBLIC_ENDPOINT"] = f"127.0.0.1:{forwarder}"
    system.restart_service("router")
    try:
        (user,) = system.take_users(1)
        system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=1)
        routed(system, user, 1)
        (stored,) = stored_objects(system, user).values()
        (event,) = events_of(system, user, 1)
        data = event.get_data()
        assert data["download_url"].startswith(f"http://127.0.0.1:{forwarder}/")
        response = httpx.get(data["download_url"], timeout=10)
        assert response.status_code == 200, response.text
        assert response.content == stored
    finally:
        del system.env["FAXRELAY_S3_PUBLIC_ENDPOINT"]
        system.restart_service("router")


def test_a_forged_stored_record_naming_another_users_object_gets_no_link(
    system: System, cli, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: one forged `fax.stored` (a new fax id, user B as owner, user A's object key)."""
    user_a, user_b = system.take_users(2)
    (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user_a, count=1)
    routed(system, user_a, 1)
    (key,) = stored_objects(system, user_a)
    genuine = FaxStored.model_validate_json(
        next(
            r.value
            for r in read_topic(system.stack.bootstrap_servers, FAX_STORED, at_least=1, timeout=10)
            if str(fax.fax_id).encode() in r.value
        )
    )
    forged_fax = genuine.fax.model_copy(
        update={"fax_id": uuid.uuid4(), "user_id": uuid.UUID(user_b)}
    )
    forged = FaxStored(fax=forged_fax, stored=genuine.stored)
    producer = KafkaProducer(bootstrap_servers=system.stack.bootstrap_servers)
    try:
        producer.send(
            FAX_STORED, forged.model_dump_json().encode(), key=str(forged_fax.fax_id).encode()
        ).get(timeout=30)
    finally:
        producer.close()
    capsys.readouterr()
    assert main(["link", str(forged_fax.fax_id)]) == 1  # `cli` set the services' environment
    out, err = capsys.readouterr()
    assert out == "", "no link printed"
    assert "no link signed" in err, err
    assert genuine.stored.key == key
    assert cli("link", str(fax.fax_id)).startswith("http"), "the genuine fax still gets one"


def test_find_into_a_reader_that_stops_reading_ends_quietly(system: System) -> None:
    """`faxrelay find X | head -0`, as a process with the services' environment."""
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, count=1)
    routed(system, user, 1)
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "faxrelay.cli", "find", str(fax.fax_id)],
            stdout=write,
            stderr=subprocess.PIPE,
            env={**os.environ, **system.env},
            check=False,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.stderr.decode() == "", done.stderr.decode()
    assert done.returncode == 141
