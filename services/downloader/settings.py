from typing import Literal

from pydantic import Field

from shared.settings import EfaxSettings, ServiceSettings, StorageSettings


class DownloaderSettings(ServiceSettings, EfaxSettings, StorageSettings):
    downloader_group_id: str = "faxrelay-downloader"
    downloader_image_format: Literal["PDF", "TIFF"] = "PDF"
    downloader_max_image_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    downloader_concurrency: int = Field(default=16, ge=1, description="Downloads at once.")
    downloader_batch_size: int = Field(default=64, ge=1)
    downloader_attempts: int = Field(default=6, ge=1, description="Tries per download.")
    downloader_backoff_max_s: float = Field(default=30.0, gt=0)
    downloader_store_attempts: int = Field(default=12, ge=1, description="Tries per store write.")
    downloader_delete_after_store: bool = Field(
        default=False, description="DELETE the fax on eFax once stored (retention)."
    )
