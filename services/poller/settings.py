from pydantic import Field

from shared.settings import EfaxSettings, ServiceSettings, StorageSettings


class PollerSettings(ServiceSettings, EfaxSettings, StorageSettings):
    poller_interval_s: float = Field(default=30.0, ge=1.0, description="Per user; >= 1 s.")
    poller_overlap_s: float = Field(default=300.0, ge=0, description="Rescanned behind the cursor.")
    poller_full_scan_every_s: float = Field(
        default=3600.0, ge=0, description="Also scan from the beginning this often (0: never)."
    )
    poller_recently_announced_s: float = Field(
        default=600.0, ge=0, description="Do not announce the same fax again within this time."
    )
    poller_cursor_prefix: str = "_poller/cursors"
    poller_group_id: str = Field(
        default="faxrelay-poller", description="Poller copies share the users through this group."
    )
    poller_shards: int = Field(
        default=12, ge=1, description="Partitions of fax.poller.shards: the most useful copies."
    )
    poller_delivery_log_every_s: float = Field(
        default=60.0, ge=0, description="Read eFax's delivery log for failed webhooks (0: never)."
    )
