"""The eFax tokens copies of a service share through the object store: each sealed with a key
derived from its App's API key (AES-256-GCM), in a bucket with keys of its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Mapping
from uuid import UUID

from Crypto.Cipher import AES
from minio import Minio
from minio.error import S3Error
from pydantic import SecretStr

from shared.settings import EfaxApp, StorageSettings
from shared.storage import FaxStore

log = logging.getLogger(__name__)


class StoredTokens:
    """eFax tokens shared by the processes of one installation, as small objects in a bucket of
    their own (`s3_internal_bucket`), never the fax bucket: whoever can read a token can act as
    the App. Each is encrypted (AES-256-GCM) with a key derived from its App's API key, so a
    copy of the bucket tells nothing to whoever lacks the API key, and whoever has it could ask
    eFax for a token anyway. The bucket is made on the first save. Store trouble never stops a
    download: without the shared copy a process simply asks eFax for its own token."""

    def __init__(
        self, store: FaxStore, api_keys: Mapping[UUID, SecretStr], prefix: str = "_tokens"
    ) -> None:
        self.store = store
        self.api_keys = api_keys
        self.prefix = prefix
        self._bucket_ready = False

    def ensure_bucket(self) -> None:
        self.store.ensure_bucket()
        self._bucket_ready = True

    async def load(self, app_id: UUID) -> tuple[str, float] | None:
        key = self.api_keys.get(app_id)
        if key is None:
            return None
        try:
            data = await self.store.read_or_none(f"{self.prefix}/{app_id}.json")
            if data is None:
                return None
            saved = json.loads(open_token(key, app_id, data))
            return str(saved["token"]), float(saved["expires_at"])
        except S3Error as error:
            if error.code != "NoSuchBucket":  # before the first save anywhere: nothing shared
                log.warning("shared token unreadable (%s); asking eFax", _reason(error))
            return None
        except Exception as error:  # another API key, tampered with, or the old clear form
            log.warning("shared token unreadable (%s); asking eFax", _reason(error))
            return None

    async def save(self, app_id: UUID, token: str, expires_at: float) -> None:
        key = self.api_keys.get(app_id)
        if key is None:
            return
        body = seal_token(key, app_id, json.dumps({"token": token, "expires_at": expires_at}))
        try:
            if not self._bucket_ready:
                await asyncio.to_thread(self.ensure_bucket)
            await self.store.put(f"{self.prefix}/{app_id}.json", body, "application/json", {})
        except Exception as error:
            log.warning("could not share the token (%s)", _reason(error))


_TOKEN_KEY_LABEL = b"faxrelay shared eFax token v1"


def _token_key(api_key: SecretStr, app_id: UUID) -> bytes:
    """The App's token key: HMAC-SHA256 of a label and the App ID, keyed by its API key."""
    secret = api_key.get_secret_value().encode()
    return hmac.new(secret, _TOKEN_KEY_LABEL + app_id.bytes, hashlib.sha256).digest()


def seal_token(api_key: SecretStr, app_id: UUID, plain: str) -> bytes:
    """`plain` encrypted and authenticated (AES-256-GCM, the App ID as associated data), as
    JSON {v, nonce, sealed} in base64."""
    nonce = os.urandom(12)
    cipher = AES.new(_token_key(api_key, app_id), AES.MODE_GCM, nonce=nonce)
    cipher.update(app_id.bytes)
    sealed, tag = cipher.encrypt_and_digest(plain.encode())
    return json.dumps({"v": 1, "nonce": _b64(nonce), "sealed": _b64(sealed + tag)}).encode()


def open_token(api_key: SecretStr, app_id: UUID, data: bytes) -> str:
    """What `seal_token` sealed; ValueError when the key, the App ID or a byte differs."""
    saved = json.loads(data)
    if saved.get("v") != 1:
        raise ValueError("not a sealed token")
    nonce, sealed = base64.b64decode(saved["nonce"]), base64.b64decode(saved["sealed"])
    cipher = AES.new(_token_key(api_key, app_id), AES.MODE_GCM, nonce=nonce)
    cipher.update(app_id.bytes)
    plain: bytes = cipher.decrypt_and_verify(sealed[:-16], sealed[-16:])
    return plain.decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _reason(error: Exception) -> str:
    code = getattr(error, "code", None)
    return f"{type(error).__name__} {code}" if code else type(error).__name__


def make_internal_minio(settings: StorageSettings) -> Minio:
    """A client of the internal bucket: its own keys when set, else the main ones."""
    access = settings.s3_internal_access_key or settings.s3_access_key
    secret = settings.s3_internal_secret_key or settings.s3_secret_key
    return Minio(
        settings.s3_endpoint,
        access_key=access.get_secret_value(),
        secret_key=secret.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


def token_sharing(
    settings: StorageSettings, *, share: bool, apps: Iterable[EfaxApp] = ()
) -> StoredTokens | None:
    """Where this installation's processes share their eFax tokens, or None when they don't:
    the internal bucket, made on the first save (or by `StoredTokens.ensure_bucket`). Tokens of
    `apps` with an API key are shared (encrypted with it). Services call it as
    `token_sharing(settings, share=settings.efax_share_tokens, apps=settings.apps)`."""
    if not share:
        return None
    keys = {app.app_id: app.api_key for app in apps if app.api_key is not None}
    store = FaxStore(make_internal_minio(settings), settings.s3_internal_bucket)
    return StoredTokens(store, keys)
