"""Settings of the eFax sandbox (environment prefix ``SANDBOX_``).

``SandboxSettings`` is read from the environment by ``python -m sandbox`` and built
directly by tests.  ``apps`` takes JSON in ``SANDBOX_APPS``, for example
``[{"app_id": "...", "api_key": "k", "hmac_secret": "s",
"webhook_url": "http://127.0.0.1:9000/hook", "user_ids": ["..."]}]``.

Settings that exist because public sources disagree (or say nothing):
``new_token_ends_previous``, ``unauthorized_bare_message``, ``default_image_format``,
``min_completed_inclusive``, ``listing_delay_s``, ``rate_limit_plain_text``, the field-variant
rates and ``webhook_body_style``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ImageFormat = Literal["PDF", "TIFF"]
Resolution = Literal["fine", "standard"]
# "noise": word-like noise, cheap; "documents": healthcare documents with known text
Content = Literal["noise", "documents"]


class AppConfig(BaseModel):
    """One eFax group (App ID) with its credentials, webhook and users."""

    app_id: str
    api_key: SecretStr
    hmac_secret: SecretStr
    webhook_url: str | None = None
    user_ids: list[str] = Field(default_factory=list)


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_")

    host: str = "127.0.0.1"
    port: int = 0
    public_base_url: str | None = None
    apps: list[AppConfig] = Field(default_factory=list)

    token_lifetime_s: int = 3600
    new_token_ends_previous: bool = True
    unauthorized_bare_message: bool = False

    time_scale: float = 1.0
    webhook_retries: int = 5
    webhook_retry_interval_s: float = 300.0
    webhook_timeout_s: float = 10.0
    webhook_concurrency: int = 16
    webhook_body_style: Literal["seed", "compact"] = "seed"

    default_image_format: ImageFormat = "PDF"
    max_image_bytes: int | None = None
    page_kb: int = 30
    resolution: Resolution = "fine"
    content: Content = "noise"
    unique_documents: bool = True
    document_cache_mb: int = 512

    pagination_max_limit: int = 100
    min_completed_inclusive: bool = True
    # eFax's processing delay: a fax shows in GET /faxes/received this long (times time_scale)
    # after it was received, so it is older than its completed_timestamp when first listed.
    listing_delay_s: float = Field(0.0, ge=0)
    rate_limit_plain_text: bool = False

    plus_number_rate: float = 0.3
    unavailable_rate: float = 0.1
    timestamp_styles: list[str] = Field(default_factory=lambda: ["Z", "+00:00", ".000+0000"])
    seed: int | None = None
