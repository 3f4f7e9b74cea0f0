"""Where shared tokens go, decided by the settings alone (no store needed), and how they are
kept there: encrypted with their App's API key."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import SecretStr, ValidationError

from services.downloader.settings import DownloaderSettings
from services.poller.settings import PollerSettings
from shared.settings import EfaxApp, StorageSettings
from shared.token_store import StoredTokens, token_sharing
from tests.fakes import FakeStore

APP = uuid.uuid4()
API_KEY = SecretStr("the-apps-api-key")
TOKEN = "eyJhbGciOiJIUzI1NiJ9.live-bearer-token"


def test_tokens_go_to_the_internal_bucket_not_the_fax_bucket() -> None:
    settings = StorageSettings(s3_bucket="faxes", s3_internal_bucket="faxrelay-internal")
    tokens = token_sharing(settings, share=True)
    assert tokens is not None
    assert tokens.store.bucket == "faxrelay-internal"


def test_no_sharing_means_no_store() -> None:
    assert token_sharing(StorageSettings(), share=False) is None


def test_the_internal_bucket_cannot_be_the_fax_bucket() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        StorageSettings(s3_bucket="faxes", s3_internal_bucket="faxes")


def test_internal_keys_come_as_a_pair_and_are_never_shown() -> None:
    with pytest.raises(ValidationError, match="both"):
        StorageSettings(s3_internal_access_key="only-one")
    settings = StorageSettings(
        s3_internal_access_key="internal-id", s3_internal_secret_key="internal-secret-value"
    )
    assert "internal-secret-value" not in repr(settings)


async def test_a_shared_token_is_stored_encrypted_and_read_back_with_the_api_key() -> None:
    store = FakeStore(bucket="faxrelay-internal")
    await StoredTokens(store, {APP: API_KEY}).save(APP, TOKEN, 1234.5)  # type: ignore[arg-type]
    (stored,) = store.objects.values()
    assert TOKEN.encode() not in stored
    assert b"live-bearer-token" not in stored
    assert set(json.loads(stored)) == {"v", "nonce", "sealed"}
    again = StoredTokens(store, {APP: API_KEY})  # type: ignore[arg-type]  # another process
    assert await again.load(APP) == (TOKEN, 1234.5)


async def test_a_token_sealed_for_another_key_app_or_tampered_with_is_not_used() -> None:
    store = FakeStore(bucket="faxrelay-internal")
    await StoredTokens(store, {APP: API_KEY}).save(APP, TOKEN, 1234.5)  # type: ignore[arg-type]
    (key,) = store.objects
    other_key = StoredTokens(store, {APP: SecretStr("another-api-key")})  # type: ignore[arg-type]
    assert await other_key.load(APP) is None
    other_app = uuid.uuid4()  # the same bytes under another App's name
    store.objects[key.replace(str(APP), str(other_app))] = store.objects[key]
    assert await StoredTokens(store, {other_app: API_KEY}).load(other_app) is None  # type: ignore[arg-type]
    sealed = json.loads(store.objects[key])
    flipped = bytearray(sealed["sealed"].encode())
    flipped[5] ^= 1
    store.objects[key] = json.dumps({**sealed, "sealed": flipped.decode()}).encode()
    assert await StoredTokens(store, {APP: API_KEY}).load(APP) is None  # type: ignore[arg-type]


async def test_a_token_left_in_clear_by_an_older_release_is_not_used() -> None:
    store = FakeStore(bucket="faxrelay-internal")
    store.objects[f"_tokens/{APP}.json"] = json.dumps({"token": TOKEN, "expires_at": 9e9}).encode()
    assert await StoredTokens(store, {APP: API_KEY}).load(APP) is None  # type: ignore[arg-type]


async def test_tokens_of_an_app_without_an_api_key_are_neither_shared_nor_read() -> None:
    store = FakeStore(bucket="faxrelay-internal")
    tokens = StoredTokens(store, {})  # type: ignore[arg-type]
    await tokens.save(APP, TOKEN, 1.0)
    assert store.objects == {}
    assert await tokens.load(APP) is None


def test_token_sharing_takes_the_api_keys_of_the_apps() -> None:
    apps = [EfaxApp(app_id=APP, api_key=API_KEY), EfaxApp(app_id=uuid.uuid4())]
    tokens = token_sharing(StorageSettings(), share=True, apps=apps)
    assert tokens is not None
    assert tokens.api_keys == {APP: API_KEY}


SAFE = {
    "apps": [{"app_id": str(APP), "api_key": "k", "hmac_secrets": []}],
    "s3_access_key": "faxrelay-prod",
    "s3_secret_key": "a-real-secret-key",
    "s3_secure": True,
}
OWN_KEYS = {"s3_internal_access_key": "faxrelay-tokens", "s3_internal_secret_key": "tokens-secret"}


@pytest.mark.parametrize("settings_class", [DownloaderSettings, PollerSettings])
def test_outside_the_local_stack_the_tokens_need_keys_of_their_own(
    settings_class: type[DownloaderSettings] | type[PollerSettings],
) -> None:
    with pytest.raises(ValidationError, match="FAXRELAY_S3_INTERNAL_ACCESS_KEY is not set"):
        settings_class(local_stack=False, **SAFE)
    same = {"s3_internal_access_key": "faxrelay-prod", "s3_internal_secret_key": "x"}
    with pytest.raises(ValidationError, match="FAXRELAY_S3_INTERNAL_ACCESS_KEY is the main"):
        settings_class(local_stack=False, **SAFE, **same)
    assert settings_class(local_stack=False, **SAFE, **OWN_KEYS)
    assert settings_class(local_stack=False, **SAFE, efax_share_tokens=False)  # nothing kept
    assert settings_class(local_stack=True, **SAFE)  # `faxrelay up`: one key pair
