"""Fetch and store whatever eFax, the network and the store do: every fax stored once with the
bytes the sandbox served, failures on `fax.download.failed` with their reason, no secret in logs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2

from faxrelay.localstack import ACCESS_KEY, SECRET_KEY
from sandbox import Faults
from shared.contracts import DOWNLOAD_FAILED
from shared.efax import EfaxClient
from shared.settings import EfaxApp, StorageSettings
from shared.storage import FaxStore
from shared.token_store import open_token, token_sharing
from tests.e2e.conftest import BOTH_BROKERS, System, read_topic, running_system, wait_until
from tests.e2e.test_walking_skeleton import decode_events, stored_objects

pytestmark = pytest.mark.e2e


def create(system: System, users: list[str], per_user: int, **options: object) -> list:
    faxes = []
    for user in users:
        faxes += system.sandbox.create_faxes(
            app_id=system.account.app_id, user_id=user, count=per_user, **options
        )
    return faxes


def assert_each_stored_once_with_the_served_bytes(
    system: System, faxes: list, timeout: float = 120
) -> None:
    users = sorted({f.user_id for f in faxes})
    wanted = {f.fax_id for f in faxes}

    def stored_ids() -> set[str]:
        found: set[str] = set()
        for user in users:
            found |= {k.rsplit("/", 1)[1].split(".")[0] for k in stored_objects(system, user)}
        return found

    wait_until(
        lambda: wanted <= stored_ids(),
        timeout,
        f"{len(wanted)} faxes stored",
        progress=lambda: len(wanted & stored_ids()),
    )
    for user in users:
        for key, data in stored_objects(system, user).items():
            fax_id = key.rsplit("/", 1)[1].split(".")[0]
            if fax_id in wanted:
                assert (
                    hashlib.sha256(data).digest()
                    == hashlib.sha256(system.sandbox.document(fax_id, "PDF")).digest()
                )
        mine = {f.fax_id for f in faxes if f.user_id == user}
        records = read_topic(
            system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=len(mine), timeout=90
        )
        ids = Counter(e.get_id() for e in decode_events(records))
        assert set(ids) == mine, "each user's topic holds exactly that user's faxes"


def events_per_fax(system: System, user: str, expected: int) -> Counter[str]:
    records = read_topic(
        system.stack.bootstrap_servers, f"faxes.user.{user}", at_least=expected, timeout=90
    )
    return Counter(e.get_id() for e in decode_events(records))


def failures_for(system: System, fax_ids: set[str]) -> dict[str, dict]:
    records = read_topic(system.stack.bootstrap_servers, DOWNLOAD_FAILED, at_least=1, timeout=5)
    found = {}
    for record in records:
        failure = json.loads(record.value)
        if failure["fax"]["fax_id"] in fax_ids:
            found[failure["fax"]["fax_id"]] = failure
    return found


@BOTH_BROKERS
def test_a_storm_of_5xx_and_429_on_20_percent_of_calls_still_stores_every_fax_once(
    system: System,
) -> None:
    users = system.take_users(2)
    system.sandbox.set_faults(
        # 20 %: six attempts all failing is then 6e-5 per fax (at 30 % it was 7e-4, and one of
        # the 20 faxes ran out of retries in about one run in 70: failed and kept, not lost)
        Faults(fax_error_rate=0.1, fax_rate_limit_rate=0.1, token_error_rate=0.2, retry_after_s=1)
    )
    try:
        faxes = create(system, users, 10)
        assert_each_stored_once_with_the_served_bytes(system, faxes)
    finally:
        system.sandbox.clear_faults()
    for user in users:
        counts = events_per_fax(system, user, 10)
        assert all(n == 1 for n in counts.values()), counts
    assert failures_for(system, {f.fax_id for f in faxes}) == {}


def test_tokens_ended_mid_run_are_replaced_and_no_fax_is_lost(system: System) -> None:
    users = system.take_users(2)
    faxes = create(system, users, 10)
    for _ in range(5):
        system.sandbox.expire_tokens()
        time.sleep(0.3)
    assert_each_stored_once_with_the_served_bytes(system, faxes)
    assert failures_for(system, {f.fax_id for f in faxes}) == {}


def test_a_fax_deleted_upstream_is_reported_gone_and_nothing_is_stored(system: System) -> None:
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, disappear=True
    )
    wait_until(lambda: fax.fax_id in failures_for(system, {fax.fax_id}), 60, "a failure")
    failure = failures_for(system, {fax.fax_id})[fax.fax_id]
    assert failure["reason"] == "gone"
    assert failure["fax"]["user_id"] == user, "the original notification, ready to replay"
    assert stored_objects(system, user) == {}


def test_garbled_base64_is_reported_undecodable_and_left_for_polling(system: System) -> None:
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, deliver=False
    )
    system.sandbox.set_faults(Faults(garbled_base64_fax_ids=[fax.fax_id]))
    try:
        system.sandbox.redeliver([fax.fax_id])
        wait_until(lambda: fax.fax_id in failures_for(system, {fax.fax_id}), 60, "a failure")
    finally:
        system.sandbox.clear_faults()
    assert failures_for(system, {fax.fax_id})[fax.fax_id]["reason"] in {
        "undecodable_image",
        "wrong_image_type",
    }
    assert stored_objects(system, user) == {}
    assert system.sandbox.fax(fax.fax_id).image_downloaded is False, "polling will find it again"


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    lines = (line.partition(":") for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(value.split()[0]) for name, _, value in lines if name in {"VmRSS", "VmHWM"}}


def test_a_20_mb_fax_is_stored_whole_adding_at_most_40_mb_to_the_downloaders_peak(
    system: System,
) -> None:
    (user,) = system.take_users(1)
    pid = system.stack.processes["downloader"].pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
    before = memory_kb(pid)["VmRSS"]
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, size_mb=20
    )
    assert len(system.sandbox.document(fax.fax_id, "PDF")) > 15 * 1024 * 1024
    assert_each_stored_once_with_the_served_bytes(system, [fax], timeout=180)
    risen_mb = (memory_kb(pid)["VmHWM"] - before) / 1024
    assert risen_mb <= 40, f"the downloader's peak RSS rose by {risen_mb:.0f} MB"


def test_the_downloader_killed_mid_stream_loses_nothing_and_repeats_only_same_ids(
    system: System,
) -> None:
    users = system.take_users(2)
    faxes = create(system, users, 15)
    time.sleep(1.0)
    system.restart_service("downloader", sig=signal.SIGKILL)
    assert_each_stored_once_with_the_served_bytes(system, faxes, timeout=180)
    for user in users:
        counts = events_per_fax(system, user, 15)
        assert set(counts) == {f.fax_id for f in faxes if f.user_id == user}


def test_the_object_store_down_for_20_seconds_delays_but_loses_nothing(system: System) -> None:
    users = system.take_users(2)
    system.stack.stop_process("seaweedfs")
    try:
        faxes = create(system, users, 5)
        time.sleep(20)
    finally:
        system.stack.start_store()
    assert_each_stored_once_with_the_served_bytes(system, faxes, timeout=180)
    for user in users:
        counts = events_per_fax(system, user, 5)
        assert all(n == 1 for n in counts.values()), counts
    assert failures_for(system, {f.fax_id for f in faxes}) == {}


def test_no_secret_appears_in_any_service_log(system: System) -> None:
    secrets = [system.account.api_key, system.account.hmac_secret, "faxrelay-local-secret"]
    for name in ("gateway", "verifier", "downloader", "router", "poller"):
        text = system.stack.log_file(name).read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a secret in the {name} log"


def test_backfill_announces_the_undownloaded_faxes_of_one_user_since_a_time(
    system: System,
) -> None:
    (user,) = system.take_users(1)  # not polled: only the backfill can find these
    faxes = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=3, deliver=False
    )
    apps = json.loads(system.env["FAXRELAY_APPS"])
    apps[0]["user_ids"] = [user]
    completed = subprocess.run(
        [sys.executable, "-m", "faxrelay.cli", "backfill", "--since", "2020-01-01", "--user", user],
        env={
            **os.environ,
            **system.stack.service_env(),
            **system.env,
            "FAXRELAY_APPS": json.dumps(apps),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "announced 3 " in completed.stdout
    assert_each_stored_once_with_the_served_bytes(system, faxes)


async def test_an_encrypting_store_asks_the_object_store_for_sse(system: System) -> None:
    store = FaxStore(system.stack.minio(), system.bucket, encrypt=True)
    key = f"sse-check/{uuid.uuid4()}.pdf"
    await store.put(key, b"%PDF-1.4 secret fax", "application/pdf", {"sha256": "x"})
    stat = system.stack.minio().stat_object(system.bucket, key)
    assert stat.metadata["x-amz-server-side-encryption"] == "AES256"
    assert store.read(key) == b"%PDF-1.4 secret fax"


async def test_processes_share_one_token_outside_the_fax_bucket(system: System) -> None:
    settings = StorageSettings(  # as the services' settings: the default internal bucket
        s3_endpoint=system.stack.s3_endpoint,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
        s3_bucket=system.bucket,
    )
    app = EfaxApp(app_id=uuid.UUID(system.account.app_id), api_key=system.account.api_key)
    (user,) = system.take_users(1)
    (fax,) = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=user, count=1, deliver=False
    )
    first, second = (
        EfaxClient(
            system.sandbox.base_url,
            [app],
            shared_tokens=token_sharing(settings, share=True, apps=[app]),
        )
        for _ in range(2)
    )
    try:
        await first.token(app.app_id)  # the services may have shared one already
        for efax in (first, second, first):
            await efax.get_image(app.app_id, uuid.UUID(user), uuid.UUID(fax.fax_id), "PDF", 10**8)
    finally:
        await first.aclose()
        await second.aclose()
    assert first.tokens_issued <= 1
    assert second.tokens_issued == 0, "the second process used the token the first shared"
    internal = FaxStore(system.stack.minio(), settings.s3_internal_bucket)
    stored = internal.read(f"_tokens/{app.app_id}.json")
    assert app.api_key is not None
    saved = json.loads(open_token(app.api_key, app.app_id, stored))
    assert saved["token"].encode() not in stored, "kept encrypted"
    in_fax_bucket = system.stack.minio().list_objects(
        system.bucket, prefix="_tokens/", recursive=True
    )
    assert [o.object_name for o in in_fax_bucket] == [], "no service keeps a token with the faxes"
    for name in ("gateway", "verifier", "downloader", "router", "poller"):
        assert saved["token"] not in system.stack.log_file(name).read_text(errors="replace")


def test_the_downloader_and_the_poller_do_not_end_each_others_tokens(system: System) -> None:
    polled = system.polled_users[0]
    (webhook_user,) = system.take_users(1)
    before = system.sandbox.stats().get("tokens_issued", 0)
    faxes = system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=webhook_user, count=5
    ) + system.sandbox.create_faxes(
        app_id=system.account.app_id, user_id=polled, count=5, deliver=False
    )
    assert_each_stored_once_with_the_served_bytes(system, faxes)
    issued = system.sandbox.stats().get("tokens_issued", 0) - before
    assert issued <= 1, f"{issued} tokens issued while both polled and downloaded"


def partition_of(fax_id: str, partitions: int = 3) -> int:
    """The partition of `fax.notified` a fax's notification lands on (keyed by fax id, the
    producers' default partitioner; the test stack's topics have 3 partitions)."""
    return (murmur2(fax_id.encode()) & 0x7FFFFFFF) % partitions


@BOTH_BROKERS
def test_a_fax_told_to_wait_30_s_waits_alone_while_the_faxes_behind_it_are_stored(
    broker_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {  # Retry-After is obeyed up to 60 s; no polling (it would take the injected 429)
        "FAXRELAY_DOWNLOADER_BACKOFF_MAX_S": "60",
        "FAXRELAY_POLLER_INTERVAL_S": "3600",
    }
    data_dir = tmp_path_factory.mktemp(f"wait-alone-{broker_kind}")
    with running_system(data_dir, broker_kind, extra_env=env) as system:  # type: ignore[arg-type]
        (user,) = system.take_users(1)
        warm_up = create(system, [user], 3)  # the fresh stack's groups joined, its topics made
        assert_each_stored_once_with_the_served_bytes(system, warm_up, timeout=90)
        throttled, *others = create(system, [user], 40, deliver=False)
        home = partition_of(throttled.fax_id)
        behind = [f.fax_id for f in others if partition_of(f.fax_id) == home][:6]
        assert behind, "40 faxes over 3 partitions: some share the throttled one's"

        def stored() -> set[str]:
            return {k.rsplit("/", 1)[1].split(".")[0] for k in stored_objects(system, user)}

        def throttled_calls() -> int:
            return int(system.sandbox.stats().get("injected_rate_limit", 0))

        system.sandbox.set_faults(Faults(fax_rate_limits_next=1, retry_after_s=30))
        system.sandbox.redeliver([throttled.fax_id])
        wait_until(lambda: throttled_calls() == 1, 60, "the throttled fax told to wait 30 s")
        system.sandbox.redeliver(behind)
        wait_until(
            lambda: set(behind) <= stored(),
            25,
            f"the {len(behind)} faxes behind it stored while it waits",
            progress=lambda: len(set(behind) & stored()),
        )
        assert throttled.fax_id not in stored(), "it waits the 30 s it was told to"
        wait_until(lambda: throttled.fax_id in stored(), 90, "the throttled fax stored after")
        counts = events_per_fax(system, user, len(behind) + 1)
        assert set(counts) == {throttled.fax_id, *behind, *(f.fax_id for f in warm_up)}
        assert all(n == 1 for n in counts.values()), counts
