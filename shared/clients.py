"""The clients services build at startup from their settings (never at import)."""

from __future__ import annotations

from shared.efax import EfaxClient
from shared.settings import EfaxSettings, StorageSettings
from shared.storage import FaxStore, make_minio, make_signer
from shared.token_store import token_sharing

__all__ = ["efax_client", "fax_store"]


def fax_store(
    settings: StorageSettings, *, encrypt: bool = False, threads: int | None = None
) -> FaxStore:
    """The fax bucket. `threads`: requests at once, each with a thread and a pooled connection
    of its own; links are signed for `s3_public_endpoint` when set."""
    client = make_minio(settings, connections=max(10, threads or 0))
    signer = make_signer(settings)
    return FaxStore(client, settings.s3_bucket, encrypt=encrypt, threads=threads, signer=signer)


def efax_client(settings: EfaxSettings, *, connections: int = 100) -> EfaxClient:
    """The eFax client, sharing its tokens with the installation's other processes if told to
    (and if the service has storage settings)."""
    shared = None
    if isinstance(settings, StorageSettings):
        shared = token_sharing(settings, share=settings.efax_share_tokens, apps=settings.apps)
    return EfaxClient(
        str(settings.efax_api_base_url),
        settings.apps,
        timeout_s=settings.efax_timeout_s,
        shared_tokens=shared,
        connections=connections,
    )
