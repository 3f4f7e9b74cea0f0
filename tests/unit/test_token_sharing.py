"""Where shared tokens go, decided by the settings alone (no store needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import StorageSettings
from shared.storage import token_sharing


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
