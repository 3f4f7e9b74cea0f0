from typing import Literal

from pydantic import Field

from shared.settings import EfaxSettings, ServiceSettings, StorageSettings


class DownloaderSettings(ServiceSettings, EfaxSettings, StorageSettings):
    downloader_group_id: str = "faxrelay-downloader"
    downloader_image_format: Literal["PDF", "TIFF"] = "PDF"
    downloader_max_image_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    downloader_concurrency: int = Field(default=16, ge=1, description="Downloads at once.")
    downloader_max_pages_in_flight: int = Field(
        default=500,
        ge=1,
        description="Pages downloading at once: bounds memory (<= 0.5 MB a page).",
    )
    downloader_encrypt: bool = Field(
        default=False, description="Ask the object store to encrypt each fax (SSE-S3)."
    )
    downloader_batch_size: int = Field(default=64, ge=1, description="Records taken per poll.")
    downloader_max_in_flight: int = Field(
        default=256,
        ge=1,
        description="Faxes taken and not yet finished: beyond it the stage takes no more.",
    )
    downloader_max_uncommitted: int = Field(
        default=2000,
        ge=1,
        description="Faxes taken and not yet committed (finished behind one that waits): "
        "beyond it the stage takes no more; a crash redoes at most these.",
    )
    downloader_attempts: int = Field(default=6, ge=1, description="Tries per download.")
    downloader_backoff_max_s: float = Field(default=30.0, gt=0)
    downloader_store_attempts: int = Field(default=12, ge=1, description="Tries per store write.")
    downloader_conditional_put: bool = Field(
        default=True,
        description="Store each fax with one PUT If-None-Match: * (AWS S3, MinIO, SeaweedFS); "
        "false for a store without it: one HEAD before each download.",
    )
    downloader_delete_after_store: bool = Field(
        default=False, description="DELETE the fax on eFax once stored (retention)."
    )
