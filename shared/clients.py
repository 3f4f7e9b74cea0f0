"""The clients services build at startup from their settings (never at import)."""

from __future__ import annotations

from shared.efax import EfaxClient
from shared.settings import EfaxSettings, StorageSettings
from shared.storage import FaxStore, make_minio, make_signer, token_sharing

__all__ = ["efax_client", "fax_store"]


def fax_store(settings: StorageSettings, *, encrypt: bool = False) -> FaxStore:
    """The fax bucket; its links are signed for `s3_public_endpoint` when set."""
    signer = make_signer(settings)
    return FaxStore(make_minio(settings), settings.s3_bucket, encrypt=encrypt, signer=signer)


def efax_client(settings: EfaxSettings) -> EfaxClient:
    """The eFax client, sharing its tokens with the installation's other processes if told to
    (and if the service has storage settings)."""
    shared = None
    if isinstance(settings, StorageSettings):
        shared = token_sharing(settings, share=settings.efax_share_tokens)
    return EfaxClient(
        str(settings.efax_api_base_url),
        settings.apps,
        timeout_s=settings.efax_timeout_s,
        shared_tokens=shared,
    )
