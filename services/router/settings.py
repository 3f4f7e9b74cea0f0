from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings, StorageSettings


class RouterSettings(ServiceSettings, StorageSettings):
    router_group_id: str = "faxrelay-router"
    router_user_topic_template: str = "faxes.user.{user_id}"
    router_rules_file: Path | None = Field(default=None, description="YAML routing rules.")
    router_user_topic_partitions: int = Field(default=1, ge=1)
    router_presign_expiry_s: int = Field(
        default=24 * 3600, ge=0, le=7 * 24 * 3600, description="0 turns download links off."
    )
    router_event_source: str = "/faxrelay/router"
    router_batch_size: int = Field(default=200, ge=1)
