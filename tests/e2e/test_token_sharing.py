"""Shared eFax tokens live in the internal bucket, against real SeaweedFS (the store alone)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from faxrelay.localstack import ACCESS_KEY, SECRET_KEY, LocalStack, free_ports
from sandbox import AppConfig, SandboxSettings, run_in_thread
from shared.efax import EfaxClient
from shared.settings import EfaxApp, StorageSettings
from shared.storage import FaxStore, make_minio
from shared.token_store import open_token, token_sharing

pytestmark = pytest.mark.e2e

APP = uuid.uuid4()
USER = uuid.uuid4()
KEY = "api-key-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("store"), persistent=False)
    names = ["s3", "master", "volume", "filer", "admin"]
    stack.ports = dict(zip(names, free_ports(len(names)), strict=True))
    stack.start_store()
    try:
        yield stack
    finally:
        stack.stop()


def storage_settings(stack: LocalStack) -> StorageSettings:
    name = "faxes-" + uuid.uuid4().hex[:8]
    return StorageSettings(
        s3_endpoint=stack.s3_endpoint,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
        s3_bucket=name,
        s3_internal_bucket=f"{name}-internal",
    )


async def test_tokens_shared_by_two_clients_stay_out_of_the_fax_bucket(store: LocalStack) -> None:
    settings = storage_settings(store)
    faxes = FaxStore(make_minio(settings), settings.s3_bucket)
    faxes.ensure_bucket()  # as the downloader does at start; the internal bucket is not made yet
    sandbox = SandboxSettings(
        apps=[AppConfig(app_id=str(APP), api_key=KEY, hmac_secret="s", user_ids=[str(USER)])],
        page_kb=10,
    )
    with run_in_thread(sandbox) as sb:
        created = sb.create_faxes(count=3, deliver=False)
        apps = [EfaxApp(app_id=APP, api_key=KEY)]
        clients = [  # two processes: each its own client and its own view of the store
            EfaxClient(
                sb.base_url, apps, shared_tokens=token_sharing(settings, share=True, apps=apps)
            )
            for _ in range(2)
        ]
        for fax in created:
            for efax in clients:
                image = await efax.get_image(APP, USER, uuid.UUID(fax.fax_id), "PDF", 10**8)
                await faxes.put(f"{USER}/{fax.fax_id}.pdf", image.data, "application/pdf", {})
        token = await clients[0].token(APP)
        unauthorized = sb.stats()["requests_by_status"].get("401", 0)
        for efax in clients:
            await efax.aclose()

    assert sum(c.tokens_issued for c in clients) == 1, "the two clients shared one token"
    assert unauthorized == 0, "neither ended the other's token"
    client = make_minio(settings)
    in_fax_bucket = [o.object_name for o in client.list_objects(settings.s3_bucket, recursive=True)]
    assert len(in_fax_bucket) == 3, "the three faxes and nothing else"
    for name in in_fax_bucket:
        assert name is not None
        assert token.encode() not in faxes.read(name), name
        assert "_tokens" not in name
    internal = FaxStore(client, settings.s3_internal_bucket)
    stored = internal.read(f"_tokens/{APP}.json")
    assert token.encode() not in stored, "kept encrypted"
    assert json.loads(open_token(SecretStr(KEY), APP, stored))["token"] == token
