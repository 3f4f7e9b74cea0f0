"""The eFax client against the sandbox over real HTTP (no broker, no store needed)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from sandbox import AppConfig, RunningSandbox, SandboxSettings, run_in_thread
from services.downloader.logic import PERMANENT, Policy, delete_upstream
from shared.contracts import DownloadFailure
from shared.efax import EfaxClient, EfaxError, ImageError, ReceivedFax, ReceivedPage
from shared.polling import scan
from shared.settings import EfaxApp
from tests.builders import notified

APP = str(uuid.uuid4())
USER = str(uuid.uuid4())
KEY = "api-key-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    settings = SandboxSettings(
        apps=[AppConfig(app_id=APP, api_key=KEY, hmac_secret="s", user_ids=[USER])], page_kb=10
    )
    with run_in_thread(settings) as running:
        yield running


def client(sandbox: RunningSandbox, key: str = KEY) -> EfaxClient:
    return EfaxClient(sandbox.base_url, [EfaxApp(app_id=uuid.UUID(APP), api_key=key)], timeout_s=10)


def fax_ids(sandbox: RunningSandbox, count: int = 1) -> list[uuid.UUID]:
    faxes = sandbox.create_faxes(app_id=APP, user_id=USER, count=count, deliver=False)
    return [uuid.UUID(f.fax_id) for f in faxes]


async def test_concurrent_downloads_share_one_token(sandbox: RunningSandbox) -> None:
    ids = fax_ids(sandbox, 8)
    efax = client(sandbox)
    images = await asyncio.gather(
        *(efax.get_image(uuid.UUID(APP), uuid.UUID(USER), i, "PDF", 10**8) for i in ids)
    )
    await efax.aclose()
    assert efax.tokens_issued == 1
    for fax_id, image in zip(ids, images, strict=True):
        assert image.data == sandbox.document(str(fax_id), "PDF")


async def test_an_ended_token_is_refreshed_once_and_the_call_repeated(
    sandbox: RunningSandbox,
) -> None:
    (fax_id,) = fax_ids(sandbox)
    efax = client(sandbox)
    await efax.token(uuid.UUID(APP))
    sandbox.expire_tokens()
    image = await efax.get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "TIFF", 10**8)
    await efax.aclose()
    assert image.data.startswith(b"II*\x00") or image.data.startswith(b"MM\x00*")
    assert efax.tokens_issued == 2


async def test_concurrent_calls_meeting_an_ended_token_refresh_it_once(
    sandbox: RunningSandbox,
) -> None:
    ids = fax_ids(sandbox, 8)
    efax = client(sandbox)
    await efax.token(uuid.UUID(APP))
    sandbox.expire_tokens()
    images = await asyncio.gather(
        *(efax.get_image(uuid.UUID(APP), uuid.UUID(USER), i, "PDF", 10**8) for i in ids)
    )
    await efax.aclose()
    assert efax.tokens_issued == 2, "one refresh for all eight 401s"
    for fax_id, image in zip(ids, images, strict=True):
        assert image.data == sandbox.document(str(fax_id), "PDF")


async def test_wrong_credentials_fail_without_showing_the_key(sandbox: RunningSandbox) -> None:
    efax = client(sandbox, key="wrong-key-that-must-not-leak")
    with pytest.raises(EfaxError) as caught:
        await efax.token(uuid.UUID(APP))
    await efax.aclose()
    assert caught.value.status == 401
    assert "wrong-key-that-must-not-leak" not in str(caught.value)
    assert "wrong-key-that-must-not-leak" not in repr(caught.value.args)


async def test_a_deleted_fax_is_a_permanent_gone(sandbox: RunningSandbox) -> None:
    (fax_id,) = fax_ids(sandbox)
    sandbox.delete_fax(str(fax_id))
    efax = client(sandbox)
    with pytest.raises(EfaxError) as caught:
        await efax.get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "PDF", 10**8)
    await efax.aclose()
    assert not caught.value.retryable
    assert PERMANENT[caught.value.status or 0] == DownloadFailure.GONE


async def test_a_rate_limit_is_retryable_and_names_its_wait(sandbox: RunningSandbox) -> None:
    (fax_id,) = fax_ids(sandbox)
    sandbox.set_faults(fax_rate_limits_next=1, retry_after_s=7)
    efax = client(sandbox)
    try:
        with pytest.raises(EfaxError) as caught:
            await efax.get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "PDF", 10**8)
    finally:
        sandbox.clear_faults()
        await efax.aclose()
    assert caught.value.status == 429
    assert caught.value.retryable
    assert caught.value.retry_after == 7


async def test_garbled_base64_is_an_image_error(sandbox: RunningSandbox) -> None:
    (fax_id,) = fax_ids(sandbox)
    sandbox.set_faults(garbled_base64_fax_ids=[str(fax_id)])
    efax = client(sandbox)
    try:
        with pytest.raises(ImageError) as caught:
            await efax.get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "PDF", 10**8)
    finally:
        sandbox.clear_faults()
        await efax.aclose()
    assert caught.value.reason in {"undecodable_image", "wrong_image_type"}


async def test_scanning_pages_finds_each_of_250_faxes_once(sandbox: RunningSandbox) -> None:
    user = str(uuid.uuid4())
    settings = SandboxSettings(
        apps=[AppConfig(app_id=APP, api_key=KEY, hmac_secret="s", user_ids=[user])]
    )
    with run_in_thread(settings) as own:
        created = {f.fax_id for f in own.create_faxes(count=250, deliver=False)}
        efax = client(own)

        async def list_page(offset: int) -> ReceivedPage:
            return await efax.list_received(uuid.UUID(APP), uuid.UUID(user), offset=offset)

        result = await scan(list_page)
        await efax.aclose()
    assert len(result.faxes) == 250
    assert result.pages == 3
    assert {str(f.fax_id) for f in result.faxes} == created


async def test_a_401_at_page_3_of_a_250_fax_scan_still_finds_every_fax() -> None:
    user = str(uuid.uuid4())
    settings = SandboxSettings(
        apps=[AppConfig(app_id=APP, api_key=KEY, hmac_secret="s", user_ids=[user])]
    )
    with run_in_thread(settings) as own:
        created = {f.fax_id for f in own.create_faxes(count=250, deliver=False)}
        efax = client(own)

        async def list_page(offset: int) -> ReceivedPage:
            if offset == 200:  # another process took a new token: ours now answers 401
                own.expire_tokens()
            return await efax.list_received(uuid.UUID(APP), uuid.UUID(user), offset=offset)

        result = await scan(list_page)
        await efax.aclose()
        unauthorized = own.stats()["requests_by_status"].get("401", 0)
    assert unauthorized == 1, "page 3 met the ended token once"
    assert efax.tokens_issued == 2
    assert {str(f.fax_id) for f in result.faxes} == created
    assert result.pages == 3


async def test_retention_deletes_the_fax_upstream_through_rate_limits(
    sandbox: RunningSandbox,
) -> None:
    (fax_id,) = fax_ids(sandbox)
    sandbox.set_faults(fax_rate_limits_next=2, retry_after_s=0)
    efax = client(sandbox)
    fax = notified(fax_id=fax_id, app_id=uuid.UUID(APP), user_id=uuid.UUID(USER))
    try:
        deleted = await delete_upstream(efax, fax, Policy(attempts=4, backoff_max_s=0.1))
        again = await delete_upstream(efax, fax, Policy(attempts=1))
    finally:
        sandbox.clear_faults()
        await efax.aclose()
    assert deleted
    assert again, "a fax already gone counts as deleted"
    assert sandbox.fax(str(fax_id)).deleted


class MemoryTokens:
    """Shared tokens kept in a dict: stands in for the bucket in this fast test."""

    def __init__(self) -> None:
        self.saved: dict[uuid.UUID, tuple[str, float]] = {}

    async def load(self, app_id: uuid.UUID) -> tuple[str, float] | None:
        return self.saved.get(app_id)

    async def save(self, app_id: uuid.UUID, token: str, expires_at: float) -> None:
        self.saved[app_id] = (token, expires_at)


async def test_two_processes_sharing_tokens_do_not_end_each_others(
    sandbox: RunningSandbox,
) -> None:
    ids = fax_ids(sandbox, 6)
    shared = MemoryTokens()
    clients = [
        EfaxClient(
            sandbox.base_url,
            [EfaxApp(app_id=uuid.UUID(APP), api_key=KEY)],
            shared_tokens=shared,
        )
        for _ in range(2)
    ]
    before = sandbox.stats()["requests_by_status"].get("401", 0)
    for fax_id in ids:  # alternate between the two "processes"
        for efax in clients:
            await efax.get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "PDF", 10**8)
    for efax in clients:
        await efax.aclose()
    assert sum(c.tokens_issued for c in clients) == 1
    assert sandbox.stats()["requests_by_status"].get("401", 0) == before


async def test_without_sharing_each_process_ends_the_others_token(
    sandbox: RunningSandbox,
) -> None:
    (fax_id,) = fax_ids(sandbox)
    clients = [client(sandbox), client(sandbox)]
    for efax in clients:
        await efax.get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "PDF", 10**8)
    before = sandbox.stats()["requests_by_status"].get("401", 0)
    await clients[0].get_image(uuid.UUID(APP), uuid.UUID(USER), fax_id, "PDF", 10**8)
    for efax in clients:
        await efax.aclose()
    assert sandbox.stats()["requests_by_status"].get("401", 0) == before + 1
    assert sum(c.tokens_issued for c in clients) == 3


async def test_the_delivery_log_lists_failed_webhook_attempts() -> None:
    from datetime import UTC, datetime, timedelta

    from faxrelay.localstack import free_ports

    (closed_port,) = free_ports(1)  # nothing listens: every webhook post fails
    user = str(uuid.uuid4())
    settings = SandboxSettings(
        apps=[
            AppConfig(
                app_id=APP,
                api_key=KEY,
                hmac_secret="s",
                webhook_url=f"http://127.0.0.1:{closed_port}/hook",
                user_ids=[user],
            )
        ],
        time_scale=0.0001,
        webhook_retries=1,
    )
    since = datetime.now(UTC) - timedelta(minutes=1)
    with run_in_thread(settings) as own:
        (fax,) = own.create_faxes(count=1)
        assert own.wait_for_deliveries(timeout=20)
        efax = client(own)
        failed = await efax.list_failed_deliveries(uuid.UUID(APP), since)
        await efax.aclose()
    assert len(failed) == 2, "the first attempt and its one retry"
    assert {entry["fax_id"] for entry in failed} == {fax.fax_id}


def test_a_listed_number_that_is_not_a_fax_number_is_kept_as_unavailable_and_the_fax_listed() -> (
    None
):
    entry = {
        "fax_id": str(uuid.uuid4()),
        "completed_timestamp": "2024-05-10T17:54:11Z",
        "originating_fax_number": "1323\r\n5555555",
        "destination_fax_number": "1888555555é",
        "originating_fax_tsid": "ACME\n",
    }
    fax = ReceivedFax.model_validate(entry)
    assert fax.originating_fax_number == "unavailable"
    assert fax.destination_fax_number == "unavailable"
    assert fax.originating_fax_tsid == "unavailable"
    good = ReceivedFax.model_validate(
        {**entry, "originating_fax_number": "+13235555555", "destination_fax_number": ""}
    )
    assert good.originating_fax_number == "+13235555555"
    assert good.destination_fax_number == ""
